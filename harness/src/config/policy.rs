//! The `policy:` key of chart-harness.yaml: the policy suite's gate and the findings a
//! repository accepts, each with the reason it is accepted. Kept outside the charts, so a
//! chart copied elsewhere is judged by that repository's own rules.

use serde::{Deserialize, Serialize};

/// How much a policy finding matters; also the gate (`fail-on`) a finding must reach to
/// fail its trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effective `policy:` settings of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Findings at or above this severity fail their trial; `None` (`fail-on: never`)
    /// reports them without failing.
    pub fail_on: Option<Severity>,
    pub suppress: Vec<Suppression>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            fail_on: Some(Severity::Error),
            suppress: Vec::new(),
        }
    }
}

/// One accepted finding pattern: every field given must match; at least one of `rule`,
/// `chart` is given, and a reason always is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// `Kind/name` or `Kind/namespace/name`, as findings name objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default)]
    pub reason: String,
}

impl Suppression {
    /// Whether this entry accepts a finding of `rule` on `object` of `chart`. An object
    /// given without its namespace matches it in any namespace.
    pub fn matches(&self, rule: &str, chart: &str, object: &str) -> bool {
        let object_matches = |wanted: &str| {
            wanted == object || {
                let mut parts = object.splitn(3, '/');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(kind), Some(_namespace), Some(name)) => {
                        wanted == format!("{kind}/{name}")
                    }
                    _ => false,
                }
            }
        };
        self.rule.as_deref().is_none_or(|r| r == rule)
            && self.chart.as_deref().is_none_or(|c| c == chart)
            && self.object.as_deref().is_none_or(object_matches)
    }

    /// The entry as a person wrote it, for messages: `rule: x, chart: y`.
    pub fn describe(&self) -> String {
        [
            ("rule", &self.rule),
            ("chart", &self.chart),
            ("object", &self.object),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}: {v}")))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// `policy:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PolicyFile {
    fail_on: Option<String>,
    #[serde(default)]
    suppress: Vec<Suppression>,
}

impl PolicyFile {
    /// Checks the entries: a gate this harness knows, and every suppression with a
    /// reason and something to match. The error says which entry and what to write.
    pub(super) fn into_config(self) -> Result<PolicyConfig, String> {
        let fail_on = match self.fail_on.as_deref() {
            None | Some("error") => Some(Severity::Error),
            Some("warning") => Some(Severity::Warning),
            Some("info") => Some(Severity::Info),
            Some("never") => None,
            Some(other) => {
                return Err(format!(
                    "`fail-on: {other}` is not a gate; write one of error (the default), warning, info or never"
                ));
            }
        };
        for (index, entry) in self.suppress.iter().enumerate() {
            if entry.rule.is_none() && entry.chart.is_none() {
                return Err(format!(
                    "suppress entry {} ({}) names neither a `rule` nor a `chart`; say what it accepts",
                    index + 1,
                    describe_or_empty(entry)
                ));
            }
            if entry.reason.trim().is_empty() {
                return Err(format!(
                    "suppress entry {} ({}) has no `reason`; say why the finding is accepted, for whoever reads the config next",
                    index + 1,
                    describe_or_empty(entry)
                ));
            }
        }
        Ok(PolicyConfig {
            fail_on,
            suppress: self.suppress,
        })
    }
}

fn describe_or_empty(entry: &Suppression) -> String {
    let described = entry.describe();
    if described.is_empty() {
        "empty".to_string()
    } else {
        described
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn suppression(rule: Option<&str>, chart: Option<&str>, object: Option<&str>) -> Suppression {
        Suppression {
            rule: rule.map(str::to_string),
            chart: chart.map(str::to_string),
            object: object.map(str::to_string),
            reason: "because".to_string(),
        }
    }

    #[rstest]
    #[case::rule_everywhere(suppression(Some("privileged"), None, None), true)]
    #[case::other_rule(suppression(Some("host-pid"), None, None), false)]
    #[case::chart(suppression(None, Some("web"), None), true)]
    #[case::other_chart(suppression(None, Some("api"), None), false)]
    #[case::object_without_namespace(suppression(None, Some("web"), Some("Deployment/web")), true)]
    #[case::object_with_namespace(suppression(None, None, Some("Deployment/default/web")), true)]
    #[case::other_object(suppression(None, Some("web"), Some("Deployment/api")), false)]
    fn suppressions_match_every_field_given(#[case] entry: Suppression, #[case] expected: bool) {
        assert_eq!(
            entry.matches("privileged", "web", "Deployment/default/web"),
            expected
        );
    }

    #[test]
    fn an_object_without_a_namespace_matches_one_without_a_namespace() {
        let entry = suppression(None, None, Some("ClusterRole/web"));
        assert!(entry.matches("x", "web", "ClusterRole/web"));
    }
}
