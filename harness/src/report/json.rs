//! The JSON report: every trial with its status, problems, per-phase timings and policy
//! findings, for tools and dashboards that want more than pass or fail.

use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use super::{
    Event, ReportError, Reporter, RunCounts, RunInfo, RunSummary, sorted_by_id, write_atomically,
};
use crate::plan::TrialId;
use crate::suites::{TrialOutcome, TrialStatus};

/// Bumped whenever a field changes meaning or disappears, so consumers can check it.
/// 2: `summary.total` became `listed`, `skipped` counts trials the plan skipped (no
/// longer those an interrupt stopped, now `not_run`), and `trials` holds every listed
/// trial, skipped and not-run ones with their `reason`.
/// 3: `run_id`, and `complete` (every listed trial has its verdict).
/// 4: a trial's `upgrade` record (baselines, breaks and the layer that found them,
/// pre-upgrade steps, restarts, whether data was checked); `not-run` also marks a
/// trial whose suite found nothing to test (its `reason` says which), and `not_run`
/// lists those too.
/// 5: a trial's `backup_restore` record (the disaster, the backup's files, the measured
/// `rto_seconds`, the RPO its backup schedule keeps, each beside its objective).
/// 6: `commit`, `kube_version`, and `cell` (the matrix cell a `run-cell` run is: plan
/// hash, cell id, attempt); a merged report (`chart-harness report merge`) has the same
/// version, with `merged`, `plan_hash`, `cells`, and each trial's `cell` and
/// `kube_version`.
pub const FORMAT_VERSION: u32 = 6;

/// Writes the JSON report once, when the run finishes.
pub struct JsonReporter {
    path: PathBuf,
    started: Option<Started>,
}

struct Started {
    info: RunInfo,
    /// RFC 3339 in UTC, taken when the run-started event arrives.
    at: String,
}

impl JsonReporter {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonReporter {
            path: path.into(),
            started: None,
        }
    }
}

/// The document layout. Fields absent before `RunStarted` are null, so a consumer
/// always finds every key.
#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    /// The id the run's cluster objects are labelled with, to match a report to them.
    run_id: &'a str,
    /// True when the run was not interrupted, so every listed trial has its verdict.
    /// The report is written once, at the end, and the previous one is removed when a
    /// run starts: a run killed on the way leaves no report rather than a stale one.
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<&'a str>,
    elapsed_ms: f64,
    interrupted: bool,
    cluster: Option<&'a str>,
    helm: Option<&'a str>,
    config_source: Option<&'a str>,
    commit: Option<&'a str>,
    kube_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<&'a super::CellStamp>,
    jobs: Option<usize>,
    warnings: &'a [String],
    summary: RunCounts,
    /// Every listed trial, sorted by trial name, so two runs of the same charts diff
    /// cleanly.
    trials: Vec<&'a TrialOutcome>,
    /// Listed trials with no verdict: the run was interrupted before they started, or
    /// their suite found nothing to test.
    not_run: Vec<&'a TrialId>,
}

impl Reporter for JsonReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(info) => {
                super::remove_stale_report(&self.path)?;
                self.started = Some(Started {
                    info: info.clone(),
                    at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                });
            }
            Event::RunFinished(summary) => self.write(summary)?,
            // The summary carries the cluster; progress is for people watching.
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

impl JsonReporter {
    fn write(&self, summary: &RunSummary) -> Result<(), ReportError> {
        let info = self.started.as_ref().map(|started| &started.info);
        let planned = info.map(|info| info.trials.as_slice()).unwrap_or_default();
        let report = JsonReport {
            version: FORMAT_VERSION,
            run_id: crate::k8s::naming::run_id(),
            complete: !summary.interrupted,
            started_at: self.started.as_ref().map(|started| started.at.as_str()),
            elapsed_ms: (summary.elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
            interrupted: summary.interrupted,
            cluster: summary.cluster.as_deref(),
            helm: info.map(|info| info.helm.as_str()),
            config_source: info.map(|info| info.config_source.as_str()),
            commit: info.and_then(|info| info.commit.as_deref()),
            kube_version: info.map(|info| info.kube_version.as_str()),
            cell: info.and_then(|info| info.cell.as_ref()),
            jobs: info.map(|info| info.jobs),
            warnings: info
                .map(|info| info.warnings.as_slice())
                .unwrap_or_default(),
            summary: RunCounts::tally(planned, &summary.outcomes),
            trials: sorted_by_id(&summary.outcomes),
            not_run: sorted_by_id(&summary.outcomes)
                .into_iter()
                .filter(|outcome| outcome.status == TrialStatus::NotRun)
                .map(|outcome| &outcome.id)
                .collect(),
        };
        let mut json = serde_json::to_vec_pretty(&report).map_err(|source| ReportError::Json {
            path: self.path.clone(),
            source,
        })?;
        json.push(b'\n');
        write_atomically(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::DateTime;
    use serde_json::{Value, json};

    use super::super::testing::{feed, interrupted_outcomes, sample_events, sample_outcomes};
    use super::*;
    use crate::suites::TrialStatus;

    fn written_report(events: &[Event]) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/report.json");
        let mut reporter = JsonReporter::new(&path);
        feed(&mut reporter, events);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn a_starting_run_removes_the_previous_report_before_any_trial_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "{\"summary\": {\"passed\": 39}}").unwrap();
        let mut reporter = JsonReporter::new(&path);
        // The run starts, then dies before it finishes (SIGKILL): no stale verdict.
        let events = sample_events();
        feed(&mut reporter, &events[..1]);
        assert!(!path.exists(), "the previous run's report is still there");
        let junit = dir.path().join("junit.xml");
        std::fs::write(&junit, "<testsuites tests=\"39\"/>").unwrap();
        feed(&mut super::super::JunitReporter::new(&junit), &events[..1]);
        assert!(
            !junit.exists(),
            "the previous run's JUnit report is still there"
        );
    }

    #[test]
    fn json_report_records_the_run_and_every_trial() {
        let before = Utc::now();
        let report = written_report(&sample_events());
        let after = Utc::now();

        assert_eq!(report["version"], 6);
        assert_eq!(report["commit"], "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(report["kube_version"], "1.37.2");
        assert_eq!(report["run_id"], crate::k8s::naming::run_id());
        assert_eq!(report["complete"], true);
        let started_at = DateTime::parse_from_rfc3339(report["started_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        // The timestamp keeps milliseconds only, so allow for the truncation.
        assert!(started_at >= before - chrono::Duration::milliseconds(1) && started_at <= after);
        assert_eq!(report["elapsed_ms"], 31_500.0);
        assert_eq!(report["interrupted"], false);
        assert_eq!(report["helm"], "helm v3.22.0");
        assert_eq!(report["config_source"], "ct.yaml");
        assert_eq!(report["jobs"], 2);
        assert_eq!(
            report["warnings"],
            json!(["ct.yaml: key `namespace` has no meaning for chart-harness and is ignored"])
        );
        assert_eq!(
            report["summary"],
            json!({"listed": 4, "passed": 2, "failed": 1, "timed_out": 1, "cancelled": 0, "skipped": 0, "not_run": 0})
        );
        assert_eq!(report["not_run"], json!([]));

        let names: Vec<String> = report["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|trial| {
                let id = &trial["id"];
                format!("{}::{}::{}", id["suite"], id["chart"], id["case"]).replace('"', "")
            })
            .collect();
        assert_eq!(
            names,
            [
                "lint::db::ci-prod",
                "lint::web::default",
                "template::db::ci-prod",
                "template::web::default"
            ]
        );
    }

    #[test]
    fn json_trials_carry_status_problems_and_phase_durations() {
        let report = written_report(&sample_events());
        let failing = &report["trials"][0];
        assert_eq!(failing["status"], "failed");
        assert_eq!(failing["chart_dir"], "charts/db");
        assert_eq!(failing["duration_ms"], 1250.0);
        let phases = failing["phases"].as_array().unwrap();
        let timings: Vec<(&str, &str, f64)> = phases
            .iter()
            .map(|phase| {
                (
                    phase["name"].as_str().unwrap(),
                    phase["status"].as_str().unwrap(),
                    phase["duration_ms"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            timings,
            [
                ("dependency-build", "passed", 120.0),
                ("helm-lint", "failed", 450.0),
                ("chart-yaml", "failed", 5.0),
                ("values-schema", "not-run", 0.0),
            ]
        );
        assert_eq!(
            phases[1]["problems"],
            json!([{
                "file": "charts/db/templates/statefulset.yaml",
                "line": 12,
                "message": "function \"tpl2\" not defined"
            }])
        );
        assert_eq!(phases[2]["problems"].as_array().unwrap().len(), 2);
        assert_eq!(phases[3]["reason"], "the chart has no values.schema.json");
        assert_eq!(report["trials"][2]["status"], "timed-out");
    }

    #[test]
    fn json_report_lists_trials_an_interrupted_run_never_started() {
        let mut events = sample_events();
        *events.last_mut().unwrap() = Event::RunFinished(RunSummary {
            outcomes: interrupted_outcomes(),
            elapsed: Duration::from_millis(700),
            interrupted: true,
            cluster: None,
        });
        let report = written_report(&events);
        assert_eq!(report["interrupted"], true);
        assert_eq!(report["complete"], false);
        assert_eq!(
            report["summary"],
            json!({"listed": 4, "passed": 1, "failed": 0, "timed_out": 0, "cancelled": 1, "skipped": 0, "not_run": 2})
        );
        assert_eq!(
            report["not_run"],
            json!([
                {"suite": "lint", "chart": "db", "case": "ci-prod"},
                {"suite": "template", "chart": "db", "case": "ci-prod"}
            ])
        );
        let trials = report["trials"].as_array().unwrap();
        assert_eq!(trials.len(), 4);
        assert_eq!(trials[0]["status"], "not-run");
        assert_eq!(
            trials[0]["reason"],
            "the run was interrupted before this trial started"
        );
        assert_eq!(trials[1]["status"], "passed");
        assert!(trials[1].get("reason").is_none());
    }

    #[test]
    fn json_round_trips_into_trial_outcomes() {
        let report = written_report(&sample_events());
        let trials: Vec<TrialOutcome> = serde_json::from_value(report["trials"].clone()).unwrap();
        let failing = &trials[0];
        assert_eq!(failing.status, TrialStatus::Failed);
        assert_eq!(
            failing.failure_message(),
            sample_outcomes()[1].failure_message()
        );
    }

    #[test]
    fn json_trials_carry_their_policy_findings() {
        let mut outcomes = sample_outcomes();
        let finding = crate::suites::policy::Finding {
            rule: "privileged".to_string(),
            severity: crate::config::Severity::Error,
            chart: "web".to_string(),
            case: "default".to_string(),
            object: "Deployment/web".to_string(),
            file: "charts/web/templates/deployment.yaml".into(),
            message: "container `a` sets `privileged: true`".to_string(),
            suppressed_by: Some("config: rule: privileged".to_string()),
        };
        std::sync::Arc::make_mut(&mut outcomes[0]).findings = vec![finding];
        let mut events = sample_events();
        let Some(Event::RunFinished(summary)) = events.last_mut() else {
            panic!("the sample run ends with RunFinished");
        };
        summary.outcomes = outcomes;
        let report = written_report(&events);
        let with_findings: Vec<&Value> = report["trials"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|trial| trial.get("findings").is_some())
            .collect();
        assert_eq!(
            with_findings.len(),
            1,
            "trials without findings leave the key out"
        );
        assert_eq!(
            with_findings[0]["findings"],
            json!([{
                "rule": "privileged",
                "severity": "error",
                "chart": "web",
                "case": "default",
                "object": "Deployment/web",
                "file": "charts/web/templates/deployment.yaml",
                "message": "container `a` sets `privileged: true`",
                "suppressed_by": "config: rule: privileged",
            }])
        );
    }
}
