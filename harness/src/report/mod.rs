//! Events from the runner, and the reporters that turn them into output.
//!
//! [`Event`] is the only interface between the runner and reporters: adding an output
//! format means adding a reporter, nothing else.

use std::sync::Arc;
use std::time::Duration;

use crate::plan::TrialId;
use crate::suites::TrialOutcome;

/// What happened during a run, in order.
#[derive(Clone, Debug)]
pub enum Event {
    RunStarted(RunInfo),
    TrialStarted { id: TrialId },
    TrialFinished { outcome: Arc<TrialOutcome> },
    RunFinished(RunSummary),
}

/// Facts about a run that reporters print or record.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub trials: Vec<TrialId>,
    pub jobs: usize,
    /// For example `helm v3.22.0`.
    pub helm: String,
    /// Where the configuration came from, for example `ct.yaml`.
    pub config_source: String,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub outcomes: Vec<Arc<TrialOutcome>>,
    pub elapsed: Duration,
    /// The run was stopped by SIGINT or SIGTERM before every trial finished.
    pub interrupted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write report {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Consumes run events. Reporters are called in event order from one task.
pub trait Reporter: Send {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError>;
}
