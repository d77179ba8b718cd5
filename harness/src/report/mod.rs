//! Events from the runner, and the reporters that turn them into output.
//!
//! [`Event`] is the only interface between the runner and reporters: adding an output
//! format means adding a reporter, nothing else.

pub mod annotations;
mod claim;
pub mod document;
pub mod github_summary;
mod json;
mod junit;
pub mod merge;
mod progress;
mod sarif;
mod summary;
#[cfg(test)]
mod testing;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use claim::{ReportClaim, claim};
pub use json::{FORMAT_VERSION, JsonReporter};
pub use junit::{JunitReporter, write_merged as write_merged_junit};
pub use progress::{ProgressMode, ProgressReporter, github_annotations_wanted};
pub use sarif::SarifReporter;
pub use summary::SummaryReporter;

use crate::plan::TrialId;
use crate::suites::{TrialOutcome, TrialStatus};

/// What happened during a run, in order.
#[derive(Clone, Debug)]
pub enum Event {
    RunStarted(RunInfo),
    /// `at`: when the trial got its slot and began, so reporters can place it in time.
    TrialStarted {
        id: TrialId,
        at: Instant,
    },
    TrialFinished {
        outcome: Arc<TrialOutcome>,
    },
    /// The first trial that needs the run's cluster started creating (or connecting
    /// to) it; `intent` says what the provider will make (provider, Kubernetes
    /// version, whether pods are simulated).
    ClusterStarting {
        intent: String,
    },
    /// The cluster answers; `description` is the one line the summary repeats.
    ClusterReady {
        description: String,
        took: Duration,
    },
    /// The cluster could not be had; every trial that needs it fails, referring to this
    /// event's `error` rather than repeating it.
    ClusterFailed {
        error: String,
        took: Duration,
    },
    /// A trial's phase has run for `elapsed`, another heartbeat interval; sent again
    /// every interval until the phase ends. `waiting_for` is the pending condition,
    /// when the trial said what it is.
    TrialHeartbeat {
        id: TrialId,
        phase: String,
        elapsed: Duration,
        waiting_for: Option<String>,
    },
    RunFinished(RunSummary),
}

/// Facts about a run that reporters print or record.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub trials: Vec<TrialId>,
    pub jobs: usize,
    /// Which helm the run used: `helm v3.22.0 (/repo/.tools/bin/helm3, from .tools/bin)`.
    pub helm: String,
    /// Where the configuration came from, for example `ct.yaml`.
    pub config_source: String,
    pub warnings: Vec<String>,
    /// The commit the repository was at (`git rev-parse HEAD`); `None` outside git.
    pub commit: Option<String>,
    /// The Kubernetes version the run targets and any cluster runs.
    pub kube_version: String,
    /// The matrix cell this run is, when `chart-harness run-cell` started it.
    pub cell: Option<CellStamp>,
}

/// Which cell of which plan a run is, so merging and the release gate can refuse
/// reports of another plan and keep the latest attempt of each cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CellStamp {
    pub plan_hash: String,
    pub id: String,
    /// GitHub's `run_attempt` (a rerun of a failed job is attempt 2).
    pub attempt: u32,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub outcomes: Vec<Arc<TrialOutcome>>,
    pub elapsed: Duration,
    /// The run was stopped by SIGINT, SIGTERM or SIGHUP before every trial finished.
    pub interrupted: bool,
    /// The cluster the run used, described in one line (provider, version, and that pods
    /// are simulated where they are); `None` when no trial needed one.
    pub cluster: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot write report {path}: {source}; check that its directory is writable or choose another report directory"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot encode the JUnit report {path}: {source}; this is a bug in chart-harness, please report it"
    )]
    Junit {
        path: PathBuf,
        source: quick_junit::SerializeError,
    },
    #[error(
        "cannot encode the JSON report {path}: {source}; this is a bug in chart-harness, please report it"
    )]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Writing to the terminal or log failed, typically because its reader went away.
    #[error(
        "cannot write the {what}: {source}; is the output closed (for example a pipe into `head`)?"
    )]
    Output {
        what: &'static str,
        source: std::io::Error,
    },
}

/// Consumes run events. Reporters are called in event order from one task.
pub trait Reporter: Send {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError>;
}

/// Where the JUnit and JSON reports of a run go inside the report directory:
/// `(junit.xml, report.json)`.
pub fn report_paths(report_dir: &Path) -> (PathBuf, PathBuf) {
    (report_dir.join("junit.xml"), report_dir.join("report.json"))
}

/// How the listed trials ended. The runner gives every listed trial exactly one
/// outcome, and every outcome counts in exactly one category, so
///
/// `passed + failed + timed_out + cancelled + skipped + not_run == listed`
///
/// As in nextest, a timed-out trial counts as timed out, not as failed, and a trial
/// the interrupt stopped while it ran counts as cancelled; both are disjoint from
/// `failed`. `skipped` trials were never meant to run (the plan's reason), `not_run`
/// ones were meant to but never started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunCounts {
    pub listed: usize,
    pub passed: usize,
    pub failed: usize,
    pub timed_out: usize,
    pub cancelled: usize,
    pub skipped: usize,
    pub not_run: usize,
}

impl RunCounts {
    pub fn tally(listed: &[TrialId], outcomes: &[Arc<TrialOutcome>]) -> Self {
        let mut counts = RunCounts {
            listed: listed.len(),
            ..RunCounts::default()
        };
        for outcome in outcomes {
            match outcome.status {
                TrialStatus::Passed => counts.passed += 1,
                TrialStatus::Failed => counts.failed += 1,
                TrialStatus::TimedOut => counts.timed_out += 1,
                TrialStatus::Cancelled => counts.cancelled += 1,
                TrialStatus::Skipped => counts.skipped += 1,
                TrialStatus::NotRun => counts.not_run += 1,
            }
        }
        counts
    }

    /// Trials that started: every category but skipped and not run.
    pub fn ran(&self) -> usize {
        self.passed + self.failed + self.timed_out + self.cancelled
    }
}

/// The verdict line CI greps for: `N passed, N failed`, then `, N timed out`,
/// `, N cancelled`, `, N skipped` and `, N not run` only when they are not zero.
impl fmt::Display for RunCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        for (count, label) in [
            (self.timed_out, "timed out"),
            (self.cancelled, "cancelled"),
            (self.skipped, "skipped"),
            (self.not_run, "not run"),
        ] {
            if count > 0 {
                write!(f, ", {count} {label}")?;
            }
        }
        Ok(())
    }
}

/// Outcomes sorted by trial name, so report files do not change with the order in
/// which parallel trials happened to finish.
fn sorted_by_id(outcomes: &[Arc<TrialOutcome>]) -> Vec<&TrialOutcome> {
    let mut sorted: Vec<&TrialOutcome> = outcomes.iter().map(Arc::as_ref).collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted
}

/// Durations as people read them in logs: `0.41s`.
fn seconds(duration: Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}

/// Removes the previous run's report at `path` when a run starts, so a run that dies
/// before it writes its own (SIGKILL, OOM) leaves no earlier verdict behind to be
/// mistaken for its own.
fn remove_stale_report(path: &Path) -> Result<(), ReportError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(ReportError::Write {
            path: path.to_path_buf(),
            source: error,
        }),
        _ => Ok(()),
    }
}

/// Writes a report so that readers never see a half-written file: the content goes to a
/// temporary file in the same directory, which is then renamed over `path`. The
/// directory is created first, because the default report directory lives in `target/`,
/// which `cargo clean` removes.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let write_error = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".chart-harness-report")
        .tempfile_in(dir)
        .map_err(write_error)?;
    temp.write_all(contents).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(path)
        .map_err(|persist| write_error(persist.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::testing::outcome;
    use super::*;
    use crate::plan::Suite;

    #[rstest]
    #[case::all_passed(&[TrialStatus::Passed, TrialStatus::Passed], 2, "2 passed, 0 failed")]
    #[case::failures(&[TrialStatus::Passed, TrialStatus::Failed], 2, "1 passed, 1 failed")]
    #[case::every_kind(
        &[
            TrialStatus::Passed,
            TrialStatus::Failed,
            TrialStatus::TimedOut,
            TrialStatus::Cancelled,
            TrialStatus::Skipped,
            TrialStatus::NotRun,
            TrialStatus::NotRun,
        ],
        7,
        "1 passed, 1 failed, 1 timed out, 1 cancelled, 1 skipped, 2 not run"
    )]
    #[case::only_timeouts(&[TrialStatus::TimedOut], 1, "0 passed, 0 failed, 1 timed out")]
    fn verdict_line_lists_only_nonzero_extras(
        #[case] statuses: &[TrialStatus],
        #[case] planned: usize,
        #[case] expected: &str,
    ) {
        let planned: Vec<TrialId> = (0..planned)
            .map(|n| TrialId {
                suite: Suite::Lint,
                chart: format!("chart{n}"),
                case: "default".into(),
            })
            .collect();
        let outcomes: Vec<Arc<TrialOutcome>> = statuses
            .iter()
            .zip(&planned)
            .map(|(status, id)| Arc::new(outcome(id.clone(), *status, 100, Vec::new())))
            .collect();
        let counts = RunCounts::tally(&planned, &outcomes);
        assert_eq!(counts.to_string(), expected);
        assert_eq!(counts.listed, planned.len());
    }

    #[test]
    fn report_paths_are_inside_the_report_dir() {
        let (junit, json) = report_paths(Path::new("target/chart-harness"));
        assert_eq!(junit, Path::new("target/chart-harness/junit.xml"));
        assert_eq!(json, Path::new("target/chart-harness/report.json"));
    }

    #[test]
    fn atomic_write_creates_the_directory_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/report.txt");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["report.txt"]);
    }

    #[test]
    fn atomic_write_names_the_path_it_could_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a file where a directory should be").unwrap();
        let path = blocker.join("junit.xml");
        let error = write_atomically(&path, b"x").unwrap_err();
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }
}
