//! JUnit XML, the format every CI system can show: one testsuite per suite, one
//! testcase per trial named `chart::case`, with the phase timings in system-out.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Event, ReportError, Reporter, RunSummary, sorted_by_id, write_atomically};
use crate::plan::{Suite, TrialId};
use crate::suites::{PhaseStatus, TrialOutcome, TrialStatus};

/// Writes the JUnit report once, when the run finishes. Every listed trial is a test
/// case; JUnit has no categories of its own for cancelled, skipped and not-run trials,
/// so all three are `skipped` cases whose message says which: `tests` = passed +
/// `failures` (failed and timed out) + `skipped`.
pub struct JunitReporter {
    path: PathBuf,
    /// When each trial started. Suites run side by side, so a suite's time is the wall
    /// time from its first trial's start to its last trial's end, not the sum of its
    /// trials.
    starts: HashMap<TrialId, Instant>,
    spans: BTreeMap<Suite, (Instant, Instant)>,
}

impl JunitReporter {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitReporter {
            path: path.into(),
            starts: HashMap::new(),
            spans: BTreeMap::new(),
        }
    }

    fn suite_times(&self) -> BTreeMap<Suite, Duration> {
        self.spans
            .iter()
            .map(|(suite, (first_start, last_end))| (*suite, *last_end - *first_start))
            .collect()
    }
}

impl Reporter for JunitReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::TrialStarted { id, at } => {
                self.starts.insert(id.clone(), *at);
            }
            Event::TrialFinished { outcome } => {
                // Skipped and not-run trials never started: they add no time.
                if let Some(&start) = self.starts.get(&outcome.id) {
                    let end = start + outcome.duration;
                    let span = self.spans.entry(outcome.id.suite).or_insert((start, end));
                    *span = (span.0.min(start), span.1.max(end));
                }
            }
            Event::RunFinished(summary) => {
                let xml = build_report(summary, &self.suite_times())
                    .to_string()
                    .map_err(|source| ReportError::Junit {
                        path: self.path.clone(),
                        source,
                    })?;
                write_atomically(&self.path, xml.as_bytes())?;
            }
            Event::RunStarted(_) => super::remove_stale_report(&self.path)?,
            // Live progress only: JUnit records how trials ended, not how they went.
            Event::ClusterStarting { .. }
            | Event::ClusterReady { .. }
            | Event::ClusterFailed { .. }
            | Event::TrialHeartbeat { .. } => {}
        }
        Ok(())
    }
}

/// The JUnit report of trials a merge gathered from several runs: no run's wall time
/// applies, so suites and the report carry none.
pub fn write_merged(
    path: &std::path::Path,
    outcomes: Vec<std::sync::Arc<TrialOutcome>>,
) -> Result<(), ReportError> {
    let summary = RunSummary {
        outcomes,
        elapsed: Duration::ZERO,
        interrupted: false,
        cluster: None,
    };
    let xml = build_report(&summary, &BTreeMap::new())
        .to_string()
        .map_err(|source| ReportError::Junit {
            path: path.to_path_buf(),
            source,
        })?;
    write_atomically(path, xml.as_bytes())
}

fn build_report(summary: &RunSummary, suite_times: &BTreeMap<Suite, Duration>) -> Report {
    let mut suites: BTreeMap<Suite, TestSuite> = BTreeMap::new();
    fn suite_for(suites: &mut BTreeMap<Suite, TestSuite>, suite: Suite) -> &mut TestSuite {
        suites
            .entry(suite)
            .or_insert_with(|| TestSuite::new(suite.name()))
    }
    for outcome in sorted_by_id(&summary.outcomes) {
        suite_for(&mut suites, outcome.id.suite).add_test_case(test_case(outcome));
    }

    let mut report = Report::new("chart-harness");
    report.set_time(summary.elapsed);
    for (name, mut suite) in suites {
        suite.set_time(suite_times.get(&name).copied().unwrap_or_default());
        report.add_test_suite(suite);
    }
    report
}

fn case_name(id: &TrialId) -> String {
    format!("{}::{}", id.chart, id.case)
}

fn test_case(outcome: &TrialOutcome) -> TestCase {
    let status = match outcome.status {
        TrialStatus::Passed => TestCaseStatus::success(),
        TrialStatus::Failed | TrialStatus::TimedOut => {
            let message = outcome.failure_message();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(message.lines().next().unwrap_or_default())
                .set_type(if outcome.status == TrialStatus::TimedOut {
                    "timed-out"
                } else {
                    "failed"
                })
                .set_description(message);
            status
        }
        // Not the chart's fault: the plan skipped it, or the user stopped the run.
        TrialStatus::Cancelled => skipped_case("cancelled", outcome),
        TrialStatus::Skipped => skipped_case("skipped", outcome),
        TrialStatus::NotRun => skipped_case("not run", outcome),
    };
    let mut case = TestCase::new(case_name(&outcome.id), status);
    case.set_classname(outcome.id.suite.name())
        .set_time(outcome.duration)
        .set_system_out(phase_timings(outcome));
    case
}

/// A JUnit skipped case whose message says which of our categories it is, and why.
fn skipped_case(label: &str, outcome: &TrialOutcome) -> TestCaseStatus {
    let mut status = TestCaseStatus::skipped();
    status.set_message(match &outcome.reason {
        Some(reason) => format!("{label}: {reason}"),
        None => label.to_string(),
    });
    status
}

/// One aligned line per phase: `name  status  seconds`, and why a phase did not run.
fn phase_timings(outcome: &TrialOutcome) -> String {
    let width = outcome
        .phases
        .iter()
        .map(|phase| phase.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for phase in &outcome.phases {
        let (status, reason) = match &phase.status {
            PhaseStatus::Passed => ("passed", None),
            PhaseStatus::Failed => ("failed", None),
            PhaseStatus::NotRun(reason) => ("not run", Some(reason)),
            PhaseStatus::Context => ("context", None),
        };
        let _ = write!(
            out,
            "{:<width$}  {status:<7}  {:.3}s",
            phase.name,
            phase.duration.as_secs_f64()
        );
        if let Some(reason) = reason {
            let _ = write!(out, "  ({reason})");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::testing::{did_not_run, feed, id, interrupted_outcomes, sample_events};
    use super::*;

    #[test]
    fn junit_report_has_a_suite_per_suite_and_a_case_per_trial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/junit.xml");
        let mut reporter = JunitReporter::new(&path);
        feed(&mut reporter, &sample_events());

        let xml = std::fs::read_to_string(&path).unwrap();
        insta::assert_snapshot!(xml);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["junit.xml"]);
    }

    #[test]
    fn trials_that_never_ran_are_skipped_cases_that_say_why() {
        let summary = RunSummary {
            outcomes: interrupted_outcomes(),
            elapsed: Duration::from_secs(1),
            interrupted: true,
            cluster: None,
        };
        let report = build_report(&summary, &BTreeMap::new());
        let cases: Vec<(&str, Option<&str>)> = report
            .test_suites
            .iter()
            .flat_map(|suite| &suite.test_cases)
            .map(|case| {
                let message = match &case.status {
                    TestCaseStatus::Skipped { message, .. } => message.as_deref(),
                    _ => None,
                };
                (case.name.as_str(), message)
            })
            .collect();
        assert_eq!(
            cases,
            vec![
                (
                    "db::ci-prod",
                    Some("not run: the run was interrupted before this trial started")
                ),
                ("web::default", None),
                (
                    "db::ci-prod",
                    Some("not run: the run was interrupted before this trial started")
                ),
                (
                    "web::default",
                    Some("cancelled: the run was interrupted while this trial ran")
                ),
            ]
        );
        assert_eq!((report.tests, report.failures, report.skipped), (4, 0, 3));
    }

    #[test]
    fn skipped_trials_are_skipped_cases_with_the_plans_reason() {
        let skipped = did_not_run(
            id(Suite::Template, "lib", "default"),
            TrialStatus::Skipped,
            "library charts render and install nothing on their own",
        );
        let summary = RunSummary {
            outcomes: vec![Arc::new(skipped)],
            elapsed: Duration::from_secs(1),
            interrupted: false,
            cluster: None,
        };
        let report = build_report(&summary, &BTreeMap::new());
        assert_eq!(report.failures, 0);
        assert!(matches!(
            &report.test_suites[0].test_cases[0].status,
            TestCaseStatus::Skipped { message: Some(message), .. }
                if message.as_str() == "skipped: library charts render and install nothing on their own"
        ));
    }
}
