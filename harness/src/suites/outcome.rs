//! What a trial produces: timed phases, each with its problems.
//!
//! A phase is one step of a trial (dependency build, one lint check, render, snapshot
//! compare). Every phase is timed from the start, so the JSON report can show where
//! time goes even for passing trials.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::policy::Finding;
use crate::plan::{Trial, TrialId};
use crate::problem::Problem;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum PhaseStatus {
    Passed,
    Failed,
    /// The phase could not run meaningfully, for example because an earlier phase
    /// found the files it reads malformed. Not a failure by itself.
    NotRun(String),
    /// What was collected to explain another phase's failure (diagnostics): shown with
    /// the failure, never a failed check by itself.
    Context,
}

/// A finished phase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub name: String,
    #[serde(flatten)]
    pub status: PhaseStatus,
    #[serde(with = "duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<Problem>,
}

impl PhaseRecord {
    /// The phase a trial was in when something stopped it (its timeout, an interrupt),
    /// with how long it had run and what it was waiting for.
    pub fn stopped(current: &crate::activity::Current, by: &str) -> PhaseRecord {
        let waiting = current
            .waiting_for
            .as_ref()
            .map(|what| format!(", waiting for {what}"))
            .unwrap_or_default();
        PhaseRecord {
            name: current.phase.clone(),
            status: PhaseStatus::NotRun(format!(
                "stopped by {by} after {:.1}s{waiting}",
                current.since.elapsed().as_secs_f64()
            )),
            duration: current.since.elapsed(),
            problems: Vec::new(),
        }
    }
}

/// How a listed trial ended. Every listed trial gets exactly one status, so the
/// categories partition the list (see `report::RunCounts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrialStatus {
    Passed,
    Failed,
    /// Ran past its timeout and was stopped; a failure of the chart.
    TimedOut,
    /// Was running when the run was interrupted; not the chart's fault.
    Cancelled,
    /// The plan decided not to run it (the outcome's `reason` says why).
    Skipped,
    /// Did not reach a verdict, the outcome's `reason` says why: the run stopped before
    /// it started, or its suite found nothing to test (an upgrade whose baseline renders
    /// identical to the candidate). Never a pass.
    NotRun,
}

impl TrialStatus {
    /// The chart is at fault: the run fails.
    pub fn is_failure(self) -> bool {
        matches!(self, TrialStatus::Failed | TrialStatus::TimedOut)
    }
}

/// The result of one trial.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrialOutcome {
    pub id: TrialId,
    /// The chart directory relative to the repository root.
    pub chart_dir: PathBuf,
    pub status: TrialStatus,
    pub phases: Vec<PhaseRecord>,
    #[serde(with = "duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Why the trial did not run to its end: the plan skipped it, the run stopped
    /// before it started, or the run was interrupted while it ran.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The policy suite's findings, suppressed ones included (with what suppressed them).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub findings: Vec<Finding>,
    /// The upgrade suite's record: each baseline, what was predicted and found, the
    /// declared pre-upgrade steps, whether data was checked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upgrade: Option<UpgradeRecord>,
    /// The backup-restore suite's record: the disaster, the measured RTO and the RPO
    /// its schedule allows, each beside its objective.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub backup_restore: Option<BackupRestoreRecord>,
}

impl TrialOutcome {
    /// The outcome of a trial that did not run, `status` saying whether the plan
    /// skipped it or the run stopped before it started.
    pub fn did_not_run(trial: &Trial, status: TrialStatus, reason: impl Into<String>) -> Self {
        TrialOutcome {
            id: trial.id.clone(),
            chart_dir: trial.chart.rel_dir.clone(),
            status,
            phases: Vec::new(),
            duration: Duration::ZERO,
            reason: Some(reason.into()),
            findings: Vec::new(),
            upgrade: None,
            backup_restore: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.status == TrialStatus::Passed
    }

    pub fn failed_phases(&self) -> impl Iterator<Item = &PhaseRecord> {
        self.phases
            .iter()
            .filter(|phase| phase.status == PhaseStatus::Failed)
    }

    /// The message shown for a failed trial: every failed phase with every problem,
    /// so one run shows everything that is wrong with a chart.
    pub fn failure_message(&self) -> String {
        let mut out = String::new();
        let problems: usize = self.failed_phases().map(|p| p.problems.len().max(1)).sum();
        let _ = match self.status {
            TrialStatus::Passed => return out,
            TrialStatus::TimedOut => writeln!(
                out,
                "{} timed out after {:.1}s (chart {})",
                self.id,
                self.duration.as_secs_f64(),
                self.chart_dir.display()
            ),
            TrialStatus::Cancelled => writeln!(out, "{} was cancelled", self.id),
            TrialStatus::Skipped | TrialStatus::NotRun => return out,
            TrialStatus::Failed => writeln!(
                out,
                "{} failed with {problems} problem{} (chart {})",
                self.id,
                if problems == 1 { "" } else { "s" },
                self.chart_dir.display()
            ),
        };
        for phase in self.failed_phases() {
            if phase.problems.is_empty() {
                let _ = writeln!(out, "  [{}] failed", phase.name);
            }
            for problem in &phase.problems {
                let _ = writeln!(out, "  [{}] {problem}", phase.name);
            }
        }
        for phase in self
            .phases
            .iter()
            .filter(|p| p.status == PhaseStatus::Context)
        {
            for note in &phase.problems {
                let _ = writeln!(out, "  [{}] {note}", phase.name);
            }
        }
        out
    }
}

/// The phases a trial has finished so far, readable while it runs: when the runner
/// drops a trial (its timeout, an interrupt), the trial's own recorder goes with it, and
/// this copy is what the report keeps of the work done.
#[derive(Clone, Debug, Default)]
pub struct PhaseLog(std::sync::Arc<std::sync::Mutex<Vec<PhaseRecord>>>);

impl PhaseLog {
    pub fn phases(&self) -> Vec<PhaseRecord> {
        self.lock().clone()
    }

    fn push(&self, phase: PhaseRecord) {
        self.lock().push(phase);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PhaseRecord>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Records phases as a suite runs them.
pub struct PhaseRecorder {
    phases: Vec<PhaseRecord>,
    log: PhaseLog,
    findings: Vec<Finding>,
    upgrade: Option<UpgradeRecord>,
    backup_restore: Option<BackupRestoreRecord>,
    /// Set by a suite that found nothing to test: the trial is not run, never passed.
    nothing_to_test: Option<String>,
}

impl Default for PhaseRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl PhaseRecorder {
    pub fn new() -> Self {
        PhaseRecorder::logging_to(PhaseLog::default())
    }

    /// A recorder that also copies every phase it records into `log`.
    pub fn logging_to(log: PhaseLog) -> Self {
        PhaseRecorder {
            phases: Vec::new(),
            log,
            findings: Vec::new(),
            upgrade: None,
            backup_restore: None,
            nothing_to_test: None,
        }
    }

    fn push(&mut self, phase: PhaseRecord) {
        self.log.push(phase.clone());
        self.phases.push(phase);
    }

    /// Says that phase `name` begins now, for the run's heartbeat (see
    /// [`crate::activity`]); returns the instant to time it from, so the phase's
    /// recorded duration and the heartbeat's count agree.
    pub fn begin(&self, name: &str) -> Instant {
        crate::activity::phase_started(name)
    }

    /// Runs `phase` and records its duration; an empty problem list is a pass.
    pub async fn run<F>(&mut self, name: &str, phase: F) -> bool
    where
        F: std::future::Future<Output = Vec<Problem>>,
    {
        let started = self.begin(name);
        let problems = phase.await;
        self.record(name, started.elapsed(), problems)
    }

    /// Records a phase that was timed elsewhere. Returns whether it passed.
    pub fn record(&mut self, name: &str, duration: Duration, problems: Vec<Problem>) -> bool {
        let passed = problems.is_empty();
        self.push(PhaseRecord {
            name: name.to_string(),
            status: if passed {
                PhaseStatus::Passed
            } else {
                PhaseStatus::Failed
            },
            duration,
            problems,
        });
        passed
    }

    /// Records what was collected to explain a failure (see [`PhaseStatus::Context`]).
    pub fn context(&mut self, name: &str, duration: Duration, notes: Vec<Problem>) {
        self.push(PhaseRecord {
            name: name.to_string(),
            status: PhaseStatus::Context,
            duration,
            problems: notes,
        });
    }

    /// Records a phase some of whose findings do not fail it (yamllint's warnings, which
    /// leave yamllint's exit code 0): every finding is kept, in order, so reports show
    /// them, and the phase fails only when `failed`. Returns whether it passed.
    pub fn record_findings(
        &mut self,
        name: &str,
        duration: Duration,
        problems: Vec<Problem>,
        failed: bool,
    ) -> bool {
        self.push(PhaseRecord {
            name: name.to_string(),
            status: if failed {
                PhaseStatus::Failed
            } else {
                PhaseStatus::Passed
            },
            duration,
            problems,
        });
        !failed
    }

    /// Records the phase `current` as stopped `by` a deadline (see
    /// [`PhaseRecord::stopped`]).
    pub fn stopped(&mut self, current: &crate::activity::Current, by: &str) {
        self.push(PhaseRecord::stopped(current, by));
    }

    pub fn not_run(&mut self, name: &str, reason: impl Into<String>) {
        self.push(PhaseRecord {
            name: name.to_string(),
            status: PhaseStatus::NotRun(reason.into()),
            duration: Duration::ZERO,
            problems: Vec::new(),
        });
    }

    /// A suite stopped itself at the trial's timeout (see [`super::TIMEOUT_PHASE`]).
    pub fn timed_out(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.name == super::TIMEOUT_PHASE && p.status == PhaseStatus::Failed)
    }

    /// How many phases failed so far.
    pub fn failures(&self) -> usize {
        self.phases
            .iter()
            .filter(|p| p.status == PhaseStatus::Failed)
            .count()
    }

    pub fn has_failures(&self) -> bool {
        self.phases.iter().any(|p| p.status == PhaseStatus::Failed)
    }

    /// Keeps policy findings for the outcome (see [`TrialOutcome::findings`]).
    pub fn add_findings(&mut self, findings: Vec<Finding>) {
        self.findings.extend(findings);
    }

    /// Keeps the upgrade suite's record for the outcome.
    pub fn set_upgrade(&mut self, record: UpgradeRecord) {
        self.upgrade = Some(record);
    }

    /// Keeps the backup-restore suite's record for the outcome.
    pub fn set_backup_restore(&mut self, record: BackupRestoreRecord) {
        self.backup_restore = Some(record);
    }

    /// The suite found nothing to test: unless a phase failed, the trial is "not run"
    /// with `reason`, never a pass.
    pub fn nothing_to_test(&mut self, reason: impl Into<String>) {
        self.nothing_to_test = Some(reason.into());
    }

    /// What the recorder holds, for the outcome.
    pub fn finish(self) -> Recorded {
        Recorded {
            phases: self.phases,
            findings: self.findings,
            upgrade: self.upgrade,
            backup_restore: self.backup_restore,
            nothing_to_test: self.nothing_to_test,
        }
    }
}

/// Everything a trial recorded (see [`PhaseRecorder::finish`]).
pub struct Recorded {
    pub phases: Vec<PhaseRecord>,
    pub findings: Vec<Finding>,
    pub upgrade: Option<UpgradeRecord>,
    pub backup_restore: Option<BackupRestoreRecord>,
    pub nothing_to_test: Option<String>,
}

/// The upgrade suite's part of an outcome, one entry per baseline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpgradeRecord {
    pub baselines: Vec<BaselineRecord>,
    /// The chart declares `data` seed or verify steps, and they ran.
    pub data_checked: bool,
}

/// One baseline of an upgrade trial: where it came from, and what was found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// As configured: `git`, `git:<ref>`.
    pub spec: String,
    /// Where it was read: `origin/main (1a2b3c4) charts/x`.
    pub source: String,
    /// The baseline's chart version.
    pub version: String,
    /// The baseline chart's digest: the git tree id of its directory.
    pub digest: String,
    /// Breaks of immutable fields, from the offline prediction and the server.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub breaks: Vec<BreakRecord>,
    /// What the upgrade needed besides `helm upgrade`: the declared pre-upgrade steps.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub pre_upgrade: Vec<String>,
    /// Container restarts during the upgrade, `pod/container: n`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub restarts: Vec<String>,
}

/// One refused change of an immutable field, and which layer found it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakRecord {
    /// `prediction` (offline, from the renders), `server` (the API server's dry-run
    /// against the live baseline), or `both`.
    pub layer: String,
    /// `upgrade` or `rollback`.
    pub direction: String,
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub template: Option<String>,
    pub field: String,
    pub detail: String,
}

/// The backup-restore suite's part of an outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupRestoreRecord {
    /// `uninstall`, `delete-namespace` or `scale-to-zero-and-wipe`.
    pub disaster: String,
    /// With `across-upgrade`: the baseline backed up, restored into the candidate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub across_upgrade: Option<String>,
    /// The files the backup left in `BACKUP_DIR`, relative to it.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub backup_files: Vec<String>,
    /// From the start of the disaster to the first verify that passed both ways; `None`
    /// when the trial did not get that far.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rto_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rto_objective: Option<ObjectiveRecord>,
    /// The longest gap between two runs of the chart's backup CronJobs; `None` when
    /// it ships none (`rpo_note` says so).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rpo_schedule_seconds: Option<f64>,
    /// The CronJobs and their schedules, `name: 0 2 * * *`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rpo_schedules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rpo_objective: Option<ObjectiveRecord>,
    /// Why the RPO was not measured: `not measurable: no schedule`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rpo_note: Option<String>,
}

/// A documented objective: the text read, where, and the figure taken from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRecord {
    pub text: String,
    /// `backup-restore.rto` of ci/harness.yaml, or `values: <path>`.
    pub source: String,
    pub seconds: f64,
}

/// Durations are written as fractional milliseconds, which every JSON consumer reads.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64((duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(deserializer)?;
        Ok(Duration::from_secs_f64(ms / 1000.0))
    }
}
