//! The host side of a backup-restore trial: the scratch copy `run` steps execute in,
//! the check that no step changed the real tree, the make targets' preflight, and the
//! files the backup left in `BACKUP_DIR`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RoundTripRun;
use crate::config::data_steps::{DataStep, StepAction};
use crate::problem::Problem;
use crate::release::{ReleaseUnderTest, StepEnv, StepError, Timed};
use crate::repo_tree::{self, Fingerprint};
use crate::suites::{BackupRestoreRecord, PhaseRecorder};
use crate::tools::ProcessSpec;

/// How long `make -n` may take to find a target.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(30);

/// Held while a `run` step executes with the real tree fingerprinted before and after:
/// host commands of concurrent trials take turns, so a change is pinned on the step
/// that made it, not on whichever trial looked next.
static TREE_WATCH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A poisoned lock still holds good data: what a panicking step left is only a list.
pub(super) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RoundTripRun<'_> {
    /// The directories the work-tree check leaves out: where the harness writes.
    pub(super) fn skipped_dirs(&self) -> Vec<PathBuf> {
        vec![self.ctx.config.report_dir.clone()]
    }

    /// `scratch-copy`: a fresh work directory, and the copy `run` steps execute in.
    pub(super) async fn prepare_tree(&self, recorder: &mut PhaseRecorder) -> bool {
        let started = recorder.begin("scratch-copy");
        let problems = match self.copy_tree().await {
            Ok(()) => Vec::new(),
            Err(message) => vec![Problem::new(format!(
                "{message}; check that the report directory is writable"
            ))],
        };
        recorder.record("scratch-copy", started.elapsed(), problems)
    }

    async fn copy_tree(&self) -> Result<(), String> {
        // A backup left by an earlier run must not pass for this one's.
        if self.work_dir.exists() {
            std::fs::remove_dir_all(&self.work_dir)
                .map_err(|error| format!("cannot clear {}: {error}", self.work_dir.display()))?;
        }
        std::fs::create_dir_all(&self.backup_dir)
            .map_err(|error| format!("cannot create {}: {error}", self.backup_dir.display()))?;
        let files = repo_tree::visible_files(&self.ctx.repo_root, &self.skipped_dirs()).await?;
        let (root, tree) = (self.ctx.repo_root.clone(), self.tree.clone());
        crate::suites::off_runtime(move || repo_tree::scratch_copy(&root, &files, &tree)).await
    }

    /// Runs `step` (retried as the release layer retries); a `run` step runs with the
    /// real tree fingerprinted before and after, what it changed kept for `work-tree`.
    /// The wait for another trial's host command is left out of the measured RTO.
    pub(super) async fn attempt(
        &self,
        release: &ReleaseUnderTest<'_>,
        step: &DataStep,
        env: &StepEnv<'_>,
    ) -> Timed<Result<String, StepError>> {
        if !matches!(step.action, StepAction::Run(_)) {
            return release.attempt_step(step, env).await;
        }
        let waited = std::time::Instant::now();
        let _turn = TREE_WATCH.lock().await;
        *lock(&self.waited_for_turns) += waited.elapsed();
        let before = self.fingerprint().await;
        let ran = release.attempt_step(step, env).await;
        let after = self.fingerprint().await;
        let changes = match (before, after) {
            (Ok(before), Ok(after)) => before.changes(&after),
            (Err(message), _) | (_, Err(message)) => {
                vec![format!("cannot check the work tree: {message}")]
            }
        };
        if !changes.is_empty() {
            lock(&self.tree_changes).push(format!("`{}`: {}", step.label, changes.join(", ")));
        }
        ran
    }

    /// `work-tree`: no step changed the repository's real tree, ignored files included.
    pub(super) fn work_tree(&self, recorder: &mut PhaseRecorder) {
        let started = recorder.begin("work-tree");
        let changes = lock(&self.tree_changes).clone();
        let problems = if changes.is_empty() {
            Vec::new()
        } else {
            vec![Problem::in_file(
                &self.settings_file,
                format!(
                    "steps changed the repository's work tree (ignored files included): {}; `run` steps execute in a scratch copy ({}), so this was written through `REPO_ROOT` or an absolute path: write backups to `$BACKUP_DIR` instead",
                    changes.join("; "),
                    self.tree.display()
                ),
            )]
        };
        recorder.record("work-tree", started.elapsed(), problems);
    }

    /// The real tree's fingerprint, walked off the runtime's workers.
    async fn fingerprint(&self) -> Result<Fingerprint, String> {
        let (root, skipped) = (self.ctx.repo_root.clone(), self.skipped_dirs());
        crate::suites::off_runtime(move || Fingerprint::take(&root, &skipped)).await
    }

    /// `preflight`: each `run: make ...` step's target exists (`make -n` in the scratch
    /// copy), so a typo fails before anything is installed.
    pub(super) async fn preflight(&self, recorder: &mut PhaseRecorder) -> bool {
        let started = recorder.begin("preflight");
        let mut problems = Vec::new();
        for step in self.spec.steps() {
            let StepAction::Run(command) = &step.action else {
                continue;
            };
            let Some(rest) = command.trim().strip_prefix("make ") else {
                continue;
            };
            let spec = ProcessSpec::new("sh", PREFLIGHT_TIMEOUT)
                .args(["-c", &format!("make -n {rest}")])
                .current_dir(&self.tree)
                // A `$(shell kubectl ...)` in the makefile must not reach a real cluster.
                .env("KUBECONFIG", "/dev/null")
                .env("BACKUP_DIR", &self.backup_dir)
                .env("REPO_ROOT", &self.ctx.repo_root);
            let output = crate::tools::process::run(&spec).await;
            let said = match &output {
                Ok(output) => format!("{}{}", output.stdout, output.stderr),
                Err(error) => error.to_string(),
            };
            if let Some(line) = said
                .lines()
                .find(|line| line.contains("No rule to make target"))
            {
                problems.push(Problem::in_file(
                    &self.settings_file,
                    format!(
                        "`{}`: `{command}` names a target make does not have: {}; check the target's name in the makefile",
                        step.label,
                        line.trim()
                    ),
                ));
            } else if said.contains("make: not found") || said.contains("make: command not found") {
                problems.push(Problem::in_file(
                    &self.settings_file,
                    format!(
                        "`{}`: `{command}` needs make, which is not installed; install it (Debian: apt-get install make)",
                        step.label
                    ),
                ));
            }
        }
        recorder.record("preflight", started.elapsed(), problems)
    }

    /// `BACKUP_FILE`: the backup's one file, when it left exactly one.
    pub(super) fn single_backup_file(&self) -> Option<PathBuf> {
        match backup_files(&self.backup_dir).as_slice() {
            [(only, _)] => Some(self.backup_dir.join(only)),
            _ => None,
        }
    }

    /// `backup-files`: a backup made by host commands left something in `BACKUP_DIR`.
    pub(super) fn backup_files(
        &self,
        recorder: &mut PhaseRecorder,
        record: &mut BackupRestoreRecord,
    ) -> bool {
        let started = recorder.begin("backup-files");
        let files = backup_files(&self.backup_dir);
        record.backup_files = files.iter().map(|(name, _)| name.clone()).collect();
        let by_host = self
            .spec
            .backup
            .iter()
            .any(|step| matches!(step.action, StepAction::Run(_)));
        if !by_host {
            recorder.not_run(
                "backup-files",
                "the backup runs no host command, so it keeps its backup in the cluster, not in BACKUP_DIR",
            );
            return true;
        }
        let problems = if files.iter().all(|(_, size)| *size == 0) {
            let what = if files.is_empty() {
                "empty".to_string()
            } else {
                format!(
                    "holding only empty files ({})",
                    record.backup_files.join(", ")
                )
            };
            vec![Problem::in_file(
                &self.settings_file,
                format!(
                    "the backup steps left BACKUP_DIR ({}) {what}: the backup wrote nothing a restore could use; check where the backup target writes (it must honour BACKUP_DIR)",
                    self.backup_dir.display()
                ),
            )]
        } else {
            Vec::new()
        };
        recorder.record("backup-files", started.elapsed(), problems)
    }
}

/// The files under `dir` (relative to it) and their sizes, sorted.
fn backup_files(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| {
            let size = entry.metadata().ok()?.len();
            let rel = entry.path().strip_prefix(dir).ok()?.display().to_string();
            Some((rel, size))
        })
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_files_are_listed_with_their_sizes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nested")).unwrap();
        std::fs::write(dir.path().join("nested/dump.rdb"), "REDIS").unwrap();
        std::fs::write(dir.path().join("empty.conf"), "").unwrap();
        assert_eq!(
            backup_files(dir.path()),
            [
                ("empty.conf".to_string(), 0),
                ("nested/dump.rdb".to_string(), 5)
            ]
        );
    }
}
