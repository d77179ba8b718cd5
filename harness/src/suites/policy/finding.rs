//! What a rule reports: one rule broken by one object of one chart × case.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rules::Rule;
use crate::config::Severity;
use crate::manifest::Manifest;

/// The annotation by which a chart opts one object out of rules: a comma-separated list
/// of rule ids. It lives next to the object, so a reviewer sees the exception there.
pub const SKIP_ANNOTATION: &str = "chart-harness.io/policy-skip";

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub chart: String,
    pub case: String,
    /// `Kind/namespace/name`, or `Kind/name` when the rendered object names no namespace;
    /// `Chart/<chart>` for what the chart as a whole lacks.
    pub object: String,
    /// The template the object came from: relative to the chart as rules report it, then
    /// to the repository root once the suite has [`placed`](Finding::place) it.
    pub file: PathBuf,
    pub message: String,
    /// What accepted the finding (a config entry or the object's annotation); a
    /// suppressed finding is reported, never counted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suppressed_by: Option<String>,
}

impl Finding {
    /// `rule` broken by `manifest`, already suppressed when the object's
    /// [`SKIP_ANNOTATION`] names the rule.
    pub fn on(rule: &Rule, manifest: &Manifest, message: impl Into<String>) -> Finding {
        let skipped = annotation(&manifest.value, SKIP_ANNOTATION)
            .is_some_and(|list| list.split(',').any(|id| id.trim() == rule.id));
        Finding {
            rule: rule.id.to_string(),
            severity: rule.severity,
            chart: String::new(),
            case: String::new(),
            object: object_name(&manifest.value),
            file: PathBuf::from(manifest.source.as_deref().unwrap_or("Chart.yaml")),
            message: message.into(),
            suppressed_by: skipped.then(|| format!("annotation {SKIP_ANNOTATION}")),
        }
    }

    /// `rule` broken by the chart as a whole (something it lacks); located at Chart.yaml.
    pub fn on_chart(rule: &Rule, message: impl Into<String>) -> Finding {
        Finding {
            rule: rule.id.to_string(),
            severity: rule.severity,
            chart: String::new(),
            case: String::new(),
            object: "Chart".to_string(),
            file: PathBuf::from("Chart.yaml"),
            message: message.into(),
            suppressed_by: None,
        }
    }

    /// Names the trial the finding belongs to and makes its file relative to the
    /// repository root.
    pub fn place(&mut self, chart: &str, case: &str, chart_rel_dir: &Path) {
        self.chart = chart.to_string();
        self.case = case.to_string();
        if self.object == "Chart" {
            self.object = format!("Chart/{chart}");
        }
        self.file = chart_rel_dir.join(&self.file);
    }
}

/// `Kind/namespace/name`, or `Kind/name` without a namespace.
pub fn object_name(value: &Value) -> String {
    let field = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let kind = field("/kind").unwrap_or("?");
    let name = field("/metadata/name").unwrap_or("?");
    match field("/metadata/namespace") {
        Some(namespace) => format!("{kind}/{namespace}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The value of annotation `key` on the object, when it is a string.
pub fn annotation<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.pointer("/metadata/annotations")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::rules;
    use super::*;

    fn manifest(value: Value) -> Manifest {
        Manifest {
            source: Some("templates/pod.yaml".to_string()),
            value,
        }
    }

    #[test]
    fn a_finding_names_the_object_and_its_template() {
        let mut finding = Finding::on(
            &rules::PRIVILEGED,
            &manifest(json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}})),
            "x",
        );
        finding.place("web", "default", Path::new("charts/web"));
        assert_eq!(finding.object, "Pod/ns/p");
        assert_eq!(finding.file, Path::new("charts/web/templates/pod.yaml"));
        assert_eq!(finding.suppressed_by, None);
    }

    #[test]
    fn the_skip_annotation_suppresses_the_rules_it_lists() {
        let value = json!({"kind": "Pod", "metadata": {"name": "p", "annotations": {
            SKIP_ANNOTATION: "host-pid, privileged"
        }}});
        let skipped = Finding::on(&rules::PRIVILEGED, &manifest(value.clone()), "x");
        assert_eq!(
            skipped.suppressed_by.as_deref(),
            Some("annotation chart-harness.io/policy-skip")
        );
        let kept = Finding::on(&rules::HOST_IPC, &manifest(value), "x");
        assert_eq!(kept.suppressed_by, None);
    }
}
