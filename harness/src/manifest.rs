//! Rendered manifests (a leaf module: suites and the k8s helpers both read them): split helm's output into documents, check each has what the
//! API server will require, find duplicates, and redact volatile fields for snapshots.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::problem::Problem;

/// One non-empty document of `helm template` output.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The template it came from, relative to the chart directory (`templates/x.yaml`),
    /// from helm's `# Source:` comment.
    pub source: Option<String>,
    pub value: Value,
}

#[cfg(test)]
impl Manifest {
    /// A document no template's `# Source:` names, for rules' unit tests.
    pub fn without_source(value: Value) -> Manifest {
        Manifest {
            source: None,
            value,
        }
    }
}

/// Splits a rendered stream on `---` lines. Each document is parsed on its own, so a
/// broken document is reported with its template instead of failing the whole stream.
/// Empty documents are skipped.
pub fn parse(rendered: &str, chart_rel_dir: &Path) -> (Vec<Manifest>, Vec<Problem>) {
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for chunk in split_documents(rendered) {
        let source = source_of(&chunk);
        let label = source_file(chart_rel_dir, source.as_deref());
        match crate::yaml::parse_str::<Value>(&chunk, &label) {
            Ok(Value::Null) => {}
            Ok(value) => manifests.push(Manifest { source, value }),
            Err(e) => problems.push(
                Problem::in_file(
                    label,
                    format!("rendered document is not valid YAML: {}", e.message),
                )
                .at_line(e.line),
            ),
        }
    }
    (manifests, problems)
}

fn split_documents(rendered: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for line in rendered.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            documents.push(String::new());
        } else {
            let current = documents.last_mut().expect("never empty");
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.retain(|d| !d.trim().is_empty());
    documents
}

/// helm prefixes each document with `# Source: <chart>/<path>`; the chart name part is
/// dropped so paths read like the files in the chart (`charts/sub/templates/x.yaml`
/// for subcharts).
fn source_of(document: &str) -> Option<String> {
    let line = document
        .lines()
        .find_map(|l| l.strip_prefix("# Source: "))?;
    let path = line.trim();
    Some(
        path.split_once('/')
            .map_or(path, |(_, rest)| rest)
            .to_string(),
    )
}

fn source_file(chart_rel_dir: &Path, source: Option<&str>) -> PathBuf {
    match source {
        Some(source) => chart_rel_dir.join(source),
        None => chart_rel_dir.to_path_buf(),
    }
}

/// Every document needs apiVersion, kind and metadata.name, and no two may claim the
/// same (apiVersion, kind, namespace, name): the second would overwrite the first.
pub fn check(manifests: &[Manifest], chart_rel_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<(String, String, String, String), Option<String>> = BTreeMap::new();
    for manifest in manifests {
        let file = source_file(chart_rel_dir, manifest.source.as_deref());
        let field = |pointer: &str| {
            manifest
                .value
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if !manifest.value.is_object() {
            problems.push(Problem::in_file(
                file,
                "rendered document is not a mapping; every document must be a Kubernetes object",
            ));
            continue;
        }
        let (api_version, kind, name) = (
            field("/apiVersion"),
            field("/kind"),
            field("/metadata/name"),
        );
        let missing: Vec<&str> = [
            ("apiVersion", &api_version),
            ("kind", &kind),
            ("metadata.name", &name),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| key)
        .collect();
        if !missing.is_empty() {
            problems.push(Problem::in_file(
                file,
                format!(
                    "rendered {} has no {}; the API server rejects objects without them",
                    kind.as_deref().unwrap_or("object"),
                    missing.join(", ")
                ),
            ));
            continue;
        }
        let (api_version, kind, name) = (
            api_version.unwrap_or_default(),
            kind.unwrap_or_default(),
            name.unwrap_or_default(),
        );
        let namespace = field("/metadata/namespace").unwrap_or_default();
        let key = (
            api_version.clone(),
            kind.clone(),
            namespace.clone(),
            name.clone(),
        );
        if let Some(first) = seen.get(&key) {
            problems.push(Problem::in_file(
                file,
                format!(
                    "{kind} {api_version} `{}` is rendered twice (first by {}); rename one of them",
                    if namespace.is_empty() {
                        name
                    } else {
                        format!("{namespace}/{name}")
                    },
                    first.as_deref().unwrap_or("an unnamed template")
                ),
            ));
        } else {
            seen.insert(key, manifest.source.clone());
        }
    }
    problems
}

const REDACTED: &str = "[redacted]";

/// Replaces values that change between renders without a change to the chart:
/// generated Secret data and `checksum/*` annotations. Snapshots would churn on every
/// run otherwise, and reviewers would learn to accept them blindly.
pub fn redact(manifest: &mut Manifest) {
    let value = &mut manifest.value;
    if value.get("kind").and_then(Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(entries)) = value.get_mut(field) {
                for entry in entries.values_mut() {
                    *entry = Value::String(REDACTED.into());
                }
            }
        }
    }
    for pointer in [
        "/metadata/annotations",
        "/spec/template/metadata/annotations",
    ] {
        if let Some(Value::Object(annotations)) = value.pointer_mut(pointer) {
            for (key, entry) in annotations.iter_mut() {
                if key.starts_with("checksum/") {
                    *entry = Value::String(REDACTED.into());
                }
            }
        }
    }
}

/// The snapshot text: each document as YAML with keys sorted, preceded by its source.
/// Documents are sorted by kind, namespace and name (then source), because helm 3 and
/// helm 4 emit them in different orders and a snapshot must not depend on the major.
pub fn to_snapshot_text(manifests: &[Manifest]) -> String {
    let field = |m: &Manifest, pointer: &str| {
        m.value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut sorted: Vec<&Manifest> = manifests.iter().collect();
    sorted.sort_by_cached_key(|m| {
        (
            field(m, "/kind"),
            field(m, "/metadata/namespace"),
            field(m, "/metadata/name"),
            m.source.clone(),
        )
    });
    let mut out = String::new();
    for manifest in sorted {
        out.push_str("---\n");
        if let Some(source) = &manifest.source {
            out.push_str(&format!("# Source: {source}\n"));
        }
        out.push_str(
            &serde_saphyr::to_string(&manifest.value).expect("JSON values serialize as YAML"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const RENDERED: &str = "---\n# Source: web/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n---\n# Source: web/templates/empty.yaml\n---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n";

    #[test]
    fn snapshot_text_does_not_depend_on_document_order() {
        let (manifests, _) = parse(RENDERED, Path::new("charts/web"));
        let reversed: Vec<Manifest> = manifests.iter().rev().cloned().collect();
        let text = to_snapshot_text(&manifests);
        assert_eq!(text, to_snapshot_text(&reversed));
        // By kind first: the ConfigMap, rendered last, comes first.
        assert!(
            text.find("kind: ConfigMap").unwrap() < text.find("kind: ServiceAccount").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn empty_documents_are_ignored_and_sources_kept() {
        let (manifests, problems) = parse(RENDERED, Path::new("charts/web"));
        assert!(problems.is_empty(), "{problems:?}");
        let sources: Vec<_> = manifests
            .iter()
            .map(|m| m.source.clone().unwrap())
            .collect();
        assert_eq!(sources, ["templates/sa.yaml", "templates/cm.yaml"]);
        assert!(check(&manifests, Path::new("charts/web")).is_empty());
    }

    #[test]
    fn invalid_document_names_its_template() {
        let (_, problems) = parse(
            "---\n# Source: web/templates/bad.yaml\nkind: [\n",
            Path::new("c/web"),
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].file.as_deref(),
            Some(Path::new("c/web/templates/bad.yaml"))
        );
    }

    #[rstest]
    #[case::no_name("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name")]
    #[case::no_kind("apiVersion: v1\nmetadata:\n  name: x\n", "kind")]
    #[case::no_api_version("kind: ConfigMap\nmetadata:\n  name: x\n", "apiVersion")]
    fn missing_required_fields(#[case] document: &str, #[case] missing: &str) {
        let (manifests, _) = parse(document, Path::new("c"));
        let problems = check(&manifests, Path::new("c"));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains(missing),
            "{}",
            problems[0].message
        );
    }

    #[rstest]
    #[case::same_namespace("a", "a", 1)]
    #[case::other_namespace("a", "b", 0)]
    fn duplicates(#[case] first_ns: &str, #[case] second_ns: &str, #[case] expected: usize) {
        let doc = |ns: &str, src: &str| {
            format!(
                "---\n# Source: c/templates/{src}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: {ns}\n"
            )
        };
        let rendered = doc(first_ns, "one.yaml") + &doc(second_ns, "two.yaml");
        let (manifests, _) = parse(&rendered, Path::new("c"));
        let problems = check(&manifests, Path::new("c"));
        assert_eq!(problems.len(), expected, "{problems:?}");
        if expected == 1 {
            assert!(problems[0].message.contains("first by templates/one.yaml"));
        }
    }

    #[test]
    fn redacts_secret_data_and_checksums_only() {
        let (mut manifests, _) = parse(
            "kind: Secret\napiVersion: v1\nmetadata:\n  name: s\n  annotations:\n    checksum/config: abc\n    team: x\ndata:\n  password: c2VjcmV0\n",
            Path::new("c"),
        );
        redact(&mut manifests[0]);
        let value = &manifests[0].value;
        assert_eq!(value["data"]["password"], REDACTED);
        assert_eq!(
            value["metadata"]["annotations"]["checksum/config"],
            REDACTED
        );
        assert_eq!(value["metadata"]["annotations"]["team"], "x");
    }
}
