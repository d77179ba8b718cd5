//! The upgrade suite's settings: which baseline a chart is upgraded from
//! (`baseline`, in `chart-harness.yaml` for the repository and in a chart's
//! `ci/harness.yaml`), what a baseline that cannot be fetched or installed means
//! (`baseline-failure`), and the values the upgrade alone applies (`upgrade-values`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

/// The version a chart is upgraded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaselineSpec {
    /// The chart at the merge-base with the target branch (ct's previous revision).
    Git,
    /// The chart at a git ref: a tag such as chart-releaser's `<chart>-<version>`, a
    /// branch or a commit.
    GitRef(String),
    /// The highest version below the candidate's published in a chart repository: a
    /// name from `chart-repos` (ct's `name=url`) or the repository's URL.
    Repo(String),
    /// The same from an OCI registry: `oci://host/path`, the chart's name appended.
    Oci(String),
}

impl BaselineSpec {
    /// The spec as one path segment (`git_v1`, `oci___host_5000_charts`), for the
    /// directories a trial keeps per baseline.
    pub fn path_segment(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// The registry host (`host[:port]`) of an `oci://` baseline.
    pub fn registry_host(&self) -> Option<&str> {
        match self {
            BaselineSpec::Oci(reference) => reference
                .strip_prefix("oci://")
                .and_then(|rest| rest.split('/').next()),
            _ => None,
        }
    }
}

impl FromStr for BaselineSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "git" {
            return Ok(BaselineSpec::Git);
        }
        if let Some(reference) = text.strip_prefix("git:") {
            if reference.is_empty() || reference.starts_with('-') {
                return Err(format!(
                    "`{text}` names no git ref; write git:<tag, branch or commit>, such as git:mychart-1.2.0"
                ));
            }
            return Ok(BaselineSpec::GitRef(reference.to_string()));
        }
        if let Some(repo) = text.strip_prefix("repo:") {
            if repo.is_empty() {
                return Err(format!(
                    "`{text}` names no repository; write repo:<name from chart-repos> or repo:https://<repository>"
                ));
            }
            return Ok(BaselineSpec::Repo(repo.to_string()));
        }
        if let Some(rest) = text.strip_prefix("oci://") {
            let mut parts = rest.splitn(2, '/');
            let (host, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if host.is_empty() || path.trim_matches('/').is_empty() {
                return Err(format!(
                    "`{text}` names no registry path; write oci://<host>/<path> (the chart's name is appended, as helm push stores it)"
                ));
            }
            return Ok(BaselineSpec::Oci(text.trim_end_matches('/').to_string()));
        }
        Err(format!(
            "`{text}` is not a baseline; write `git` (the merge-base), `git:<ref>`, `repo:<chart repository>` or `oci://<host>/<path>`"
        ))
    }
}

impl fmt::Display for BaselineSpec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            BaselineSpec::Git => f.write_str("git"),
            BaselineSpec::GitRef(reference) => write!(f, "git:{reference}"),
            BaselineSpec::Repo(repo) => write!(f, "repo:{repo}"),
            BaselineSpec::Oci(reference) => f.write_str(reference),
        }
    }
}

/// One baseline or a list of them (each tested as its own path).
pub fn baselines<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<BaselineSpec>>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    parse_baselines(&value)
        .map(Some)
        .map_err(|message| de::Error::custom(format!("`baseline`: {message}")))
}

/// A baseline string or a non-empty list of them.
pub fn parse_baselines(value: &Value) -> Result<Vec<BaselineSpec>, String> {
    let texts: Vec<&str> = match value {
        Value::String(text) => text.split(',').collect(),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().ok_or("every baseline must be a string"))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(
                "give a baseline (`git`, `git:<ref>`, `repo:<repository>`, `oci://<host>/<path>`) or a list of them"
                    .into(),
            );
        }
    };
    let mut specs = Vec::new();
    for text in texts {
        let spec: BaselineSpec = text.parse()?;
        if specs.contains(&spec) {
            return Err(format!("`{spec}` is listed twice"));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// What a baseline that cannot be fetched or does not install means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BaselineFailure {
    /// The trial fails (the default: nothing is passed silently).
    #[default]
    Fail,
    /// ct's leniency: the path is not run, and the summary counts it apart.
    Ignore,
}

impl FromStr for BaselineFailure {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "fail" => Ok(BaselineFailure::Fail),
            "ignore" => Ok(BaselineFailure::Ignore),
            other => Err(format!("`{other}` is neither `fail` nor `ignore`")),
        }
    }
}

/// `upgrade-values:` entries, applied after the case's values on the upgrade only.
#[derive(Clone, Debug, PartialEq)]
pub enum UpgradeValues {
    /// A values file relative to the chart directory.
    File(PathBuf),
    /// Values written inline.
    Inline(serde_json::Map<String, Value>),
}

pub fn upgrade_values<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<UpgradeValues>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(file) => Ok(UpgradeValues::File(PathBuf::from(file))),
            Value::Object(map) => Ok(UpgradeValues::Inline(map)),
            _ => Err(de::Error::custom(
                "`upgrade-values`: each entry is a values file (relative to the chart directory) or a mapping of values",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    #[rstest]
    #[case(json!("git"), vec![BaselineSpec::Git])]
    #[case(json!("git:kvstore-1.0.0"), vec![BaselineSpec::GitRef("kvstore-1.0.0".into())])]
    #[case(json!(["git", "git:v1"]), vec![BaselineSpec::Git, BaselineSpec::GitRef("v1".into())])]
    #[case(json!("repo:stable"), vec![BaselineSpec::Repo("stable".into())])]
    #[case(json!("oci://127.0.0.1:5000/charts/"), vec![BaselineSpec::Oci("oci://127.0.0.1:5000/charts".into())])]
    #[case(json!("repo:https://charts.example.com"), vec![BaselineSpec::Repo("https://charts.example.com".into())])]
    #[case(json!("git,git:v1"), vec![BaselineSpec::Git, BaselineSpec::GitRef("v1".into())])]
    fn baselines_are_read(#[case] value: Value, #[case] expected: Vec<BaselineSpec>) {
        assert_eq!(parse_baselines(&value), Ok(expected));
    }

    #[rstest]
    #[case(json!("svn"), "is not a baseline")]
    #[case(json!("git:"), "names no git ref")]
    #[case(json!("git:--upload-pack=x"), "names no git ref")]
    #[case(json!("repo:"), "names no repository")]
    #[case(json!("oci://registry"), "names no registry path")]
    #[case(json!("oci:///charts"), "names no registry path")]
    #[case(json!(["git", "git"]), "listed twice")]
    #[case(json!([]), "give a baseline")]
    fn bad_baselines_are_explained(#[case] value: Value, #[case] expected: &str) {
        let error = parse_baselines(&value).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn an_oci_baseline_knows_its_registry() {
        let spec: BaselineSpec = "oci://registry.example.com:5000/charts".parse().unwrap();
        assert_eq!(spec.registry_host(), Some("registry.example.com:5000"));
        assert_eq!(
            spec.path_segment(),
            "oci___registry.example.com_5000_charts"
        );
        assert_eq!(BaselineSpec::Git.registry_host(), None);
    }

    #[test]
    fn a_spec_prints_as_written() {
        assert_eq!(BaselineSpec::GitRef("x-1".into()).to_string(), "git:x-1");
        assert_eq!(BaselineSpec::Git.to_string(), "git");
    }
}
