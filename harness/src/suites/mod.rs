//! The suites. Each has the same shape: it gets a trial and a context, runs timed
//! phases, and returns an outcome. A suite never prints.

pub mod lint;
mod outcome;
pub mod template;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use outcome::{PhaseRecord, PhaseRecorder, PhaseStatus, Problem, TrialOutcome, TrialStatus};

use crate::config::HarnessConfig;
use crate::plan::{Suite, Trial};
use crate::tools::Toolbox;

/// Everything a suite may use. Shared by all trials of a run.
#[derive(Clone, Debug)]
pub struct SuiteContext {
    pub repo_root: PathBuf,
    pub config: Arc<HarnessConfig>,
    pub tools: Arc<Toolbox>,
}

/// Runs one trial to completion and reports it as an outcome; never panics on chart
/// problems, which are the outcome's problems.
pub async fn run_trial(trial: &Trial, ctx: &SuiteContext) -> TrialOutcome {
    let started = Instant::now();
    let mut recorder = PhaseRecorder::new();
    match trial.id.suite {
        Suite::Lint => lint::run(trial, ctx, &mut recorder).await,
        Suite::Template => template::run(trial, ctx, &mut recorder).await,
    }
    let status = if recorder.has_failures() {
        TrialStatus::Failed
    } else {
        TrialStatus::Passed
    };
    TrialOutcome {
        id: trial.id.clone(),
        chart_dir: trial.chart.rel_dir.clone(),
        status,
        phases: recorder.into_phases(),
        duration: started.elapsed(),
    }
}
