//! The suites. Each has the same shape: it gets a trial, its inputs prepared once and
//! the run's context, runs timed phases, and returns an outcome. A suite never prints.

mod backup_restore;
mod deps;
mod inputs;
pub mod integration;
pub mod lint;
mod outcome;
pub mod policy;
pub mod render;
pub mod snapshot;
pub mod template;
mod upgrade;
mod values;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use inputs::{RunInputs, TrialInputs};
pub use outcome::{
    BackupRestoreRecord, BaselineRecord, BreakRecord, ObjectiveRecord, PhaseLog, PhaseRecord,
    PhaseRecorder, PhaseStatus, TrialOutcome, TrialStatus, UpgradeRecord,
};
pub use snapshot::SnapshotMode;
pub use values::ValuesFiles;

use crate::cluster::ClusterLease;
use crate::config::HarnessConfig;
use crate::plan::{Suite, Trial};
use crate::problem::Problem;
use crate::registry::registered_suites;
use crate::tools::Toolbox;

/// Everything a suite may use. Shared by all trials of a run.
#[derive(Clone, Debug)]
pub struct SuiteContext {
    pub repo_root: PathBuf,
    pub config: Arc<HarnessConfig>,
    pub tools: Arc<Toolbox>,
    /// The run's Kubernetes version: the cluster's, and the target of suites whose chart
    /// names no `kube-versions` (the per-trial rule is `inputs::target_kube_versions`).
    pub kube_version: String,
    pub snapshot_mode: SnapshotMode,
    /// The run's cluster, for suites that need one. `None` when nothing planned needs it.
    pub cluster: Option<Arc<ClusterLease>>,
    /// Fixed cluster-scoped names claimed by trials installing right now.
    pub claims: Arc<crate::release::InstallLocks>,
    /// What the run's trials share and compute at most once (changes since the
    /// merge-base, rendered manifests).
    pub shared: Arc<RunInputs>,
}

impl SuiteContext {
    /// The chart's `timeout` from `ci/harness.yaml`, else the run's.
    pub fn trial_timeout(&self, trial: &Trial) -> Duration {
        trial
            .chart
            .settings
            .as_ref()
            .ok()
            .and_then(|settings| settings.timeout)
            .unwrap_or(self.config.trial_timeout)
    }
}

/// The phase that says a trial ran out of time.
pub const TIMEOUT_PHASE: &str = "timeout";

/// A cluster suite stopped its own work at the trial's `timeout` (to diagnose and clean
/// up before the runner's hard stop): the phase it was in is recorded as stopped, and the
/// timeout as a failure that says how to raise it.
pub(crate) fn record_trial_timeout(recorder: &mut PhaseRecorder, trial: &Trial, timeout: Duration) {
    if let Some(current) = crate::activity::current_phase() {
        recorder.stopped(&current, "the trial's timeout");
    }
    recorder.record(
        TIMEOUT_PHASE,
        timeout,
        vec![Problem::new(format!(
            "the trial did not finish within {timeout:?}; its diagnostics follow; raise `timeout` in {}/ci/harness.yaml or `trial-timeout` in the config",
            trial.chart.rel_dir.display()
        ))],
    );
}

/// How long past its timeout a trial of a cluster suite may run: such a suite stops its
/// own work at the timeout, then collects diagnostics and removes what it installed, each
/// step bounded; the runner's hard stop comes only after this.
pub fn cleanup_allowance(trial: &Trial) -> Duration {
    if trial.id.suite.needs_cluster() {
        CLUSTER_CLEANUP_ALLOWANCE
    } else {
        Duration::ZERO
    }
}

const CLUSTER_CLEANUP_ALLOWANCE: Duration = Duration::from_secs(150);

/// The phase that fails when a trial's inputs cannot be prepared (see [`TrialInputs`]).
pub const INPUTS_PHASE: &str = "values";

/// Runs one trial to completion and reports it as an outcome; never panics on chart
/// problems, which are the outcome's problems. Every phase it finishes is also copied
/// into `log`, for a caller that may have to stop it early.
pub async fn run_trial(trial: &Trial, ctx: &SuiteContext, log: PhaseLog) -> TrialOutcome {
    let started = Instant::now();
    let mut recorder = PhaseRecorder::logging_to(log);
    if let Err(message) = &trial.chart.settings {
        // The message names ci/harness.yaml and the line already.
        recorder.record(
            "chart-settings",
            Duration::ZERO,
            vec![Problem::new(message)],
        );
    }
    match TrialInputs::prepare(trial, ctx) {
        Err(problem) => {
            recorder.record(INPUTS_PHASE, Duration::ZERO, vec![problem]);
        }
        Ok(mut inputs) => {
            if let Some(chart_dir) = deps::ensure_built(&trial.chart, ctx, &mut recorder).await {
                inputs.chart_dir = chart_dir;
                run_registered(trial, &inputs, ctx, &mut recorder).await;
            }
        }
    }
    let status = if recorder.timed_out() {
        TrialStatus::TimedOut
    } else if recorder.has_failures() {
        TrialStatus::Failed
    } else {
        TrialStatus::Passed
    };
    let recorded = recorder.finish();
    let (status, reason) = match recorded.nothing_to_test {
        Some(reason) if status == TrialStatus::Passed => (TrialStatus::NotRun, Some(reason)),
        _ => (status, None),
    };
    TrialOutcome {
        id: trial.id.clone(),
        chart_dir: trial.chart.rel_dir.clone(),
        status,
        phases: recorded.phases,
        duration: started.elapsed(),
        reason,
        findings: recorded.findings,
        upgrade: recorded.upgrade,
        backup_restore: recorded.backup_restore,
    }
}

macro_rules! dispatch_suites {
    ($(
        $variant:ident {
            name: $name:literal,
            about: $about:literal,
            needs_cluster: $cluster:literal,
            library_charts: $library:literal,
            shape: $shape:ident,
            opt_in: $opt_in:expr,
            needs_containers: $containers:literal,
            run: $run:path,
        }
    )*) => {
        /// Runs the suite of `trial` through the function its registry entry names.
        async fn run_registered(
            trial: &Trial,
            inputs: &TrialInputs,
            ctx: &SuiteContext,
            recorder: &mut PhaseRecorder,
        ) {
            match trial.id.suite {
                $(Suite::$variant => $run(trial, inputs, ctx, recorder).await,)*
            }
        }
    };
}
registered_suites!(dispatch_suites);

/// Runs file- or CPU-bound work (parsing a chart's YAML, yamllint's rules, a values
/// schema) on tokio's blocking pool, so the runtime's workers stay free for timeouts,
/// signals and other trials' processes: a 300,000-key values file once held a worker
/// for a minute, and another trial's helm lint, done after 0.1 s, was seen only then.
/// A panic in `work` is resumed here, as if it had run inline.
pub(crate) async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
