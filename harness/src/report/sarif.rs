//! The policy suite's findings as SARIF 2.1.0 (`policy.sarif`), for GitHub code scanning,
//! and the one warning per run about config suppressions that accepted nothing.
//!
//! No SARIF crate is kept well enough to depend on; the few objects code scanning reads
//! are written here with serde. One run, every rule in the tool's driver, one result
//! per finding: the same finding in several cases of a chart is one result naming them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Event, ReportError, Reporter, RunSummary, write_atomically};
use crate::config::{PolicyConfig, Severity};
use crate::plan::Suite;
use crate::suites::TrialStatus;
use crate::suites::policy::{Finding, rules};

/// Writes `policy.sarif` when policy trials ran, and warns on `out` about suppressions
/// no finding used.
pub struct SarifReporter {
    path: PathBuf,
    policy: PolicyConfig,
    /// Where the config lives, to name it in the warning.
    config_file: Option<PathBuf>,
    out: Box<dyn Write + Send>,
}

impl SarifReporter {
    pub fn new(
        path: impl Into<PathBuf>,
        policy: PolicyConfig,
        config_file: Option<PathBuf>,
        out: Box<dyn Write + Send>,
    ) -> Self {
        SarifReporter {
            path: path.into(),
            policy,
            config_file,
            out,
        }
    }
}

impl Reporter for SarifReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(_) => super::remove_stale_report(&self.path)?,
            Event::RunFinished(summary) => {
                let ran = policy_charts(summary);
                if ran.is_empty() {
                    return Ok(());
                }
                let findings: Vec<&Finding> = summary
                    .outcomes
                    .iter()
                    .flat_map(|outcome| &outcome.findings)
                    .collect();
                let json = serde_json::to_vec_pretty(&sarif(&findings)).map_err(|source| {
                    ReportError::Json {
                        path: self.path.clone(),
                        source,
                    }
                })?;
                write_atomically(&self.path, &json)?;
                // An interrupted run has not seen every finding, so cannot call one unused.
                if summary.interrupted {
                    return Ok(());
                }
                let config = self
                    .config_file
                    .as_deref()
                    .map_or("the config".to_string(), |p| p.display().to_string());
                let output_error = |source| ReportError::Output {
                    what: "policy warnings",
                    source,
                };
                for unused in unused_suppressions(&self.policy, &findings, &ran) {
                    writeln!(
                        self.out,
                        "chart-harness: warning: policy suppression `{unused}` in {config} accepted no finding in this run; remove it if the chart no longer needs it"
                    )
                    .map_err(output_error)?;
                }
                self.out.flush().map_err(output_error)?;
            }
            // Findings arrive with the summary; progress is for people watching.
            Event::TrialStarted { .. }
            | Event::TrialFinished { .. }
            | Event::ClusterStarting { .. }
            | Event::ClusterReady { .. }
            | Event::ClusterFailed { .. }
            | Event::TrialHeartbeat { .. } => {}
        }
        Ok(())
    }
}

/// The charts whose policy trials ran to their end.
fn policy_charts(summary: &RunSummary) -> BTreeSet<&str> {
    summary
        .outcomes
        .iter()
        .filter(|outcome| {
            outcome.id.suite == Suite::Policy
                && matches!(outcome.status, TrialStatus::Passed | TrialStatus::Failed)
        })
        .map(|outcome| outcome.id.chart.as_str())
        .collect()
}

/// Entries that accepted no finding; an entry for a chart the run did not check is not
/// judged.
fn unused_suppressions(
    policy: &PolicyConfig,
    findings: &[&Finding],
    ran: &BTreeSet<&str>,
) -> Vec<String> {
    let used: BTreeSet<&str> = findings
        .iter()
        .filter_map(|finding| finding.suppressed_by.as_deref()?.strip_prefix("config: "))
        .collect();
    policy
        .suppress
        .iter()
        .filter(|entry| {
            entry
                .chart
                .as_deref()
                .is_none_or(|chart| ran.contains(chart))
        })
        .map(|entry| entry.describe())
        .filter(|described| !used.contains(described.as_str()))
        .collect()
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: Text,
    help: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<SarifSuppression<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation<'a> {
    /// Relative to the repository root, with `/`, as code scanning expects.
    uri: String,
    uri_base_id: &'a str,
}

#[derive(Serialize)]
struct SarifSuppression<'a> {
    kind: &'static str,
    justification: &'a str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn uri(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What makes two findings the same result: rule, file, object and message.
type FindingKey<'a> = (&'a str, &'a Path, &'a str, &'a str);

/// The SARIF log of `findings`, one result per distinct finding with the cases it
/// appeared in.
fn sarif<'a>(findings: &[&'a Finding]) -> Log<'a> {
    let mut distinct: BTreeMap<FindingKey<'a>, (&'a Finding, Vec<&'a str>)> = BTreeMap::new();
    for finding in findings {
        distinct
            .entry((
                finding.rule.as_str(),
                finding.file.as_path(),
                finding.object.as_str(),
                finding.message.as_str(),
            ))
            .or_insert((finding, Vec::new()))
            .1
            .push(&finding.case);
    }
    let results = distinct
        .into_values()
        .map(|(finding, cases)| SarifResult {
            rule_id: &finding.rule,
            level: level(finding.severity),
            message: Text {
                text: format!(
                    "{}: {} (chart {}, case{} {})",
                    finding.object,
                    finding.message,
                    finding.chart,
                    if cases.len() == 1 { "" } else { "s" },
                    cases.join(", ")
                ),
            },
            locations: [Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: uri(&finding.file),
                        uri_base_id: "%SRCROOT%",
                    },
                },
            }],
            suppressions: finding
                .suppressed_by
                .as_deref()
                .map(|by| SarifSuppression {
                    kind: if by.starts_with("annotation") {
                        "inSource"
                    } else {
                        "external"
                    },
                    justification: by,
                })
                .into_iter()
                .collect(),
        })
        .collect();
    Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "chart-harness",
                    rules: rules::ALL
                        .iter()
                        .map(|rule| SarifRule {
                            id: rule.id,
                            short_description: Text {
                                text: rule.title.to_string(),
                            },
                            help: Text {
                                text: format!("{}; see {}", rule.fix, rule.doc_anchor()),
                            },
                            default_configuration: Configuration {
                                level: level(rule.severity),
                            },
                        })
                        .collect(),
                },
            },
            results,
        }],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Suppression;

    fn finding(case: &str, suppressed_by: Option<&str>) -> Finding {
        Finding {
            rule: "privileged".to_string(),
            severity: Severity::Error,
            chart: "web".to_string(),
            case: case.to_string(),
            object: "Deployment/web".to_string(),
            file: PathBuf::from("charts/web/templates/deployment.yaml"),
            message: "container `a` sets `privileged: true`".to_string(),
            suppressed_by: suppressed_by.map(str::to_string),
        }
    }

    #[test]
    fn one_result_per_distinct_finding_naming_its_cases() {
        let (a, b) = (finding("default", None), finding("ha", None));
        let log = serde_json::to_value(sarif(&[&a, &b])).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "chart-harness");
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            rules::ALL.len()
        );
        assert_eq!(
            run["results"],
            json!([{
                "ruleId": "privileged",
                "level": "error",
                "message": {"text": "Deployment/web: container `a` sets `privileged: true` (chart web, cases default, ha)"},
                "locations": [{"physicalLocation": {"artifactLocation": {
                    "uri": "charts/web/templates/deployment.yaml", "uriBaseId": "%SRCROOT%"}}}],
            }])
        );
    }

    #[test]
    fn suppressed_findings_carry_their_justification() {
        let a = finding("default", Some("annotation chart-harness.io/policy-skip"));
        let log = serde_json::to_value(sarif(&[&a])).unwrap();
        assert_eq!(
            log["runs"][0]["results"][0]["suppressions"],
            json!([{"kind": "inSource", "justification": "annotation chart-harness.io/policy-skip"}])
        );
    }

    #[test]
    fn unused_suppressions_are_named_unless_their_chart_did_not_run() {
        let entry = |rule: &str, chart: Option<&str>| Suppression {
            rule: Some(rule.to_string()),
            chart: chart.map(str::to_string),
            object: None,
            reason: "r".to_string(),
        };
        let policy = PolicyConfig {
            fail_on: Some(Severity::Error),
            suppress: vec![
                entry("privileged", None),
                entry("host-pid", None),
                entry("host-ipc", Some("api")),
            ],
        };
        let used = finding("default", Some("config: rule: privileged"));
        let ran = BTreeSet::from(["web"]);
        assert_eq!(
            unused_suppressions(&policy, &[&used], &ran),
            ["rule: host-pid"]
        );
    }
}
