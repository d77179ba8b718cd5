//! The backup-restore suite: the repository's own backup and restore commands run
//! against a real release, the disaster made real and the recovery proved both ways,
//! the RTO measured against the objective the chart documents. Phases:
//!
//! 1. `objectives` (RTO and RPO from the spec or the chart's values), `rpo` (the backup
//!    CronJobs' longest gap against the RPO), `scratch-copy` (the files git sees, where
//!    `run` steps execute), `preflight` (every `make` step's target exists);
//! 2. `install`, `ready:*`, `seed[*]`, `verify-seeded[*]`, `backup[*]`, `backup-files`;
//! 3. `mutate[*]`, `verify-mutated[*]` (the absent-checks see what mutate wrote);
//! 4. the clock starts: `disaster` (and `wipe[*]`), `reinstall`, `reinstall-ready:*`,
//!    `disaster-is-real` (the seeded data must be gone), `restore[*]`,
//!    `verify-present[*]`, `verify-absent[*]`; the clock stops: `rto`;
//! 5. `recovery-is-new` (other pods and claims than before), `uninstall`,
//!    `namespace-delete`, `work-tree` (the real tree as it was).
//!
//! Every cluster operation is the release layer's; this module orders them.

mod objectives;
mod proofs;
mod workspace;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use self::objectives::Objectives;
use super::render;
use super::upgrade::{
    self,
    baseline::{Baseline, NoBaseline},
};
use super::{BackupRestoreRecord, PhaseRecorder, SuiteContext, TrialInputs};
use crate::backup_objectives::shown;
use crate::config::backup_restore_settings::{BackupRestoreSpec, Disaster, RoundTrip};
use crate::config::chart_settings::CHART_SETTINGS_FILE;
use crate::config::data_steps::DataStep;
use crate::k8s::readiness;
use crate::plan::Trial;
use crate::problem::Problem;
use crate::release::{self, ReleaseUnderTest, StepEnv, StepError, TrialNamespace};
use crate::tools::RenderRequest;

/// Why the suite does not run on the local control plane.
const SIMULATED: &str = "pods are simulated on the local control plane (kwok), so no container holds data to back up; run with --cluster kind";

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let settings_file = trial.chart.rel_dir.join(CHART_SETTINGS_FILE);
    let Some(spec) = inputs.settings.backup_restore.as_ref() else {
        // The plan skips such trials; a run that names them gets this.
        recorder.nothing_to_test(format!(
            "{} declares no `backup-restore`",
            settings_file.display()
        ));
        return;
    };
    let trip = match spec.check(&inputs.settings.data) {
        Ok(trip) => trip,
        Err(message) => {
            recorder.record(
                "spec",
                Duration::ZERO,
                vec![Problem::in_file(
                    &settings_file,
                    format!("invalid `backup-restore`: {message}"),
                )],
            );
            return;
        }
    };
    let work_dir = ctx
        .config
        .report_dir
        .join("backup-restore")
        .join(&trial.id.chart)
        .join(&trial.id.case);
    let round_trip = RoundTripRun {
        trial,
        inputs,
        ctx,
        spec,
        trip,
        tree: work_dir.join("tree"),
        backup_dir: work_dir.join("backups"),
        work_dir,
        settings_file,
        tree_changes: Default::default(),
        waited_for_turns: Default::default(),
    };
    let mut record = BackupRestoreRecord {
        disaster: spec.disaster.name().to_string(),
        ..BackupRestoreRecord::default()
    };
    // Boxed: the round trip's future is large, and a debug build's worker stack is not.
    Box::pin(round_trip.run(recorder, &mut record)).await;
    recorder.set_backup_restore(record);
}

/// The release backed up and the one restored into: the same release, or with
/// `across-upgrade` the baseline's and the candidate's (one name, one namespace).
struct Releases<'r, 'a> {
    backed_up: &'r ReleaseUnderTest<'a>,
    restored: &'r ReleaseUnderTest<'a>,
}

struct RoundTripRun<'a> {
    trial: &'a Trial,
    inputs: &'a TrialInputs,
    ctx: &'a SuiteContext,
    spec: &'a BackupRestoreSpec,
    trip: RoundTrip<'a>,
    /// The trial's own directory under the report directory (`WORK_DIR`).
    work_dir: PathBuf,
    /// The scratch copy of the repository that `run` steps execute in.
    tree: PathBuf,
    /// `BACKUP_DIR`.
    backup_dir: PathBuf,
    /// The chart's `ci/harness.yaml`, relative to the repository root.
    settings_file: PathBuf,
    /// What `run` steps changed in the real tree, each with its step (`work-tree`).
    tree_changes: std::sync::Mutex<Vec<String>>,
    /// How long `run` steps waited for another trial's host command to finish.
    waited_for_turns: std::sync::Mutex<Duration>,
}

impl RoundTripRun<'_> {
    async fn run(&self, recorder: &mut PhaseRecorder, record: &mut BackupRestoreRecord) {
        let Some(objectives) = self.objectives(recorder, record).await else {
            return;
        };
        if !self.prepare_tree(recorder).await {
            return;
        }
        if !self.preflight(recorder).await {
            self.work_tree(recorder);
            return;
        }
        let baseline = if self.spec.across_upgrade {
            match self.baseline(recorder, record).await {
                Some(baseline) => Some(baseline),
                None => {
                    self.work_tree(recorder);
                    return;
                }
            }
        } else {
            None
        };
        Box::pin(self.on_cluster(&objectives, baseline.as_ref(), recorder, record)).await;
        self.work_tree(recorder);
    }

    /// `baseline` (with `across-upgrade`): the upgrade suite's first baseline, which is
    /// installed and backed up; the candidate is what the restore goes into. `None` when
    /// there is none (a failure, or not run for a chart new since the baseline).
    async fn baseline(
        &self,
        recorder: &mut PhaseRecorder,
        record: &mut BackupRestoreRecord,
    ) -> Option<Baseline> {
        let started = recorder.begin("baseline");
        let specs = self
            .ctx
            .config
            .baseline_override
            .clone()
            .or_else(|| self.inputs.settings.baseline.clone())
            .unwrap_or_else(|| self.ctx.config.baseline.clone());
        let Some(spec) = specs.first() else {
            recorder.record(
                "baseline",
                started.elapsed(),
                vec![Problem::in_file(
                    &self.settings_file,
                    "`across-upgrade` needs a baseline, and `baseline` names none; name one (`git`, `git:<ref>`, `repo:` or `oci://`) in this file or the config",
                )],
            );
            return None;
        };
        match upgrade::baseline::resolve(spec, self.trial, self.ctx).await {
            Ok(baseline) => {
                record.across_upgrade = Some(format!(
                    "backed up from {} (version {}), restored into the candidate",
                    baseline.source, baseline.version
                ));
                recorder.record("baseline", started.elapsed(), Vec::new());
                Some(baseline)
            }
            Err(NoBaseline::NewChart(reason)) => {
                recorder.not_run("baseline", reason.clone());
                recorder.nothing_to_test(format!("`across-upgrade`: {reason}"));
                None
            }
            Err(NoBaseline::Unavailable(problem)) => {
                recorder.record("baseline", started.elapsed(), vec![problem]);
                None
            }
        }
    }

    fn env(&self, backup_file: Option<PathBuf>) -> StepEnv<'_> {
        // The pinned kubectl (`tools install`) for make targets that call it, after
        // the user's own, as tool resolution searches.
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        path.push(":");
        path.push(crate::tools::tools_bin_dir(&self.ctx.repo_root));
        let mut extra_env = vec![
            ("BACKUP_DIR".to_string(), self.backup_dir.clone()),
            ("REPO_ROOT".to_string(), self.ctx.repo_root.clone()),
            ("PATH".to_string(), PathBuf::from(path)),
        ];
        if let Some(file) = backup_file {
            extra_env.push(("BACKUP_FILE".to_string(), file));
        }
        StepEnv {
            run_dir: &self.tree,
            chart_dir: &self.trial.chart.dir,
            work_dir: &self.work_dir,
            chart_timeout: self.spec.timeout.or(self.inputs.settings.data.timeout),
            settings_file: self.settings_file.clone(),
            extra_env,
        }
    }

    async fn on_cluster(
        &self,
        objectives: &Objectives,
        baseline: Option<&Baseline>,
        recorder: &mut PhaseRecorder,
        record: &mut BackupRestoreRecord,
    ) {
        recorder.begin("cluster");
        let connected = release::connect(self.ctx.cluster.as_deref()).await;
        let (cluster, kube) = match connected.value {
            Ok(connected) => connected,
            Err(error) => {
                recorder.record("cluster", connected.elapsed, vec![error.into()]);
                return;
            }
        };
        if cluster.pods_simulated {
            recorder.not_run("install", SIMULATED);
            recorder.nothing_to_test(format!("not run: {SIMULATED}"));
            return;
        }
        recorder.begin("namespace");
        let case = format!("{}-br", self.trial.id.case);
        let created = TrialNamespace::create(&kube, &self.trial.id.chart, &case).await;
        let namespace = match created.value {
            Ok(namespace) => namespace,
            Err(error) => {
                recorder.record("namespace", created.elapsed, vec![error.into()]);
                return;
            }
        };
        let release = self.inputs.release(
            self.ctx,
            &cluster,
            &kube,
            &self.trial.chart,
            &self.inputs.chart_dir,
            namespace.name(),
        );
        // With `across-upgrade`, the baseline is installed and backed up, and the
        // candidate (`release`) installed after the disaster; otherwise both are one.
        let backed_up = baseline.map(|baseline| {
            self.inputs.release(
                self.ctx,
                &cluster,
                &kube,
                &baseline.chart,
                &baseline.helm_dir,
                namespace.name(),
            )
        });
        let releases = Releases {
            backed_up: backed_up.as_ref().unwrap_or(&release),
            restored: &release,
        };
        let failures_before = recorder.failures();
        let exercised = tokio::time::timeout(
            self.inputs.timeout,
            Box::pin(self.exercise(&releases, &namespace, objectives, recorder, record)),
        )
        .await;
        if exercised.is_err() {
            super::record_trial_timeout(recorder, self.trial, self.inputs.timeout);
        }
        if recorder.failures() > failures_before {
            recorder.begin("diagnostics");
            let diagnosed = release.diagnose(true).await;
            recorder.context("diagnostics", diagnosed.elapsed, diagnosed.value);
        }
        recorder.begin("uninstall");
        let uninstalled = release.uninstall(&[release.name.as_str()]).await;
        recorder.record(
            "uninstall",
            uninstalled.elapsed,
            uninstalled.value.into_iter().map(Into::into).collect(),
        );
        recorder.begin("namespace-delete");
        let deleted = namespace.delete(&kube).await;
        recorder.record(
            "namespace-delete",
            deleted.elapsed,
            deleted.value.err().into_iter().map(Into::into).collect(),
        );
    }

    async fn exercise(
        &self,
        releases: &Releases<'_, '_>,
        namespace: &TrialNamespace,
        objectives: &Objectives,
        recorder: &mut PhaseRecorder,
        record: &mut BackupRestoreRecord,
    ) {
        let (Some(first), Some(then)) = (
            self.workloads(releases.backed_up, recorder).await,
            self.workloads(releases.restored, recorder).await,
        ) else {
            return;
        };
        let release = releases.backed_up;
        let workloads = first;
        if !self.install(release, "install", &workloads, recorder).await
            || !self
                .steps(release, "seed", self.trip.seed, None, recorder)
                .await
            || !self
                .steps(release, "verify-seeded", self.trip.present, None, recorder)
                .await
            || !self
                .steps(release, "backup", &self.spec.backup, None, recorder)
                .await
            || !self.backup_files(recorder, record)
            || !self
                .steps(release, "mutate", &self.spec.mutate, None, recorder)
                .await
            || !self.absent_checks_see_the_mutation(release, recorder).await
        {
            return;
        }
        let before = release.pods_and_claims().await.value.unwrap_or_default();

        // The clock: from the start of the disaster to the first verify that passes both
        // ways, the harness's own proof that the data was gone left out.
        let clock = Instant::now();
        let waited_before = *workspace::lock(&self.waited_for_turns);
        if !self
            .disaster(release, releases.restored, namespace, &then, recorder)
            .await
        {
            return;
        }
        let release = releases.restored;
        let proof = Instant::now();
        if !self.disaster_is_real(release, &before, recorder).await {
            return;
        }
        let proof_time = proof.elapsed();
        let backup_file = self.single_backup_file();
        if !self
            .steps(
                release,
                "restore",
                &self.spec.restore,
                backup_file,
                recorder,
            )
            .await
            || !self.verify(release, recorder).await
        {
            return;
        }
        let waited = workspace::lock(&self.waited_for_turns).saturating_sub(waited_before);
        let rto = clock.elapsed().saturating_sub(proof_time + waited);
        record.rto_seconds = Some(rto.as_secs_f64());
        let problems = match &objectives.rto {
            Some(objective) if rto.as_secs_f64() > objective.seconds => vec![Problem::in_file(
                &self.settings_file,
                format!(
                    "the recovery took {} (RTO {:.1} s, from the start of the `{}` disaster to the first verify that passed both ways), over the objective {:?} ({}); make the restore faster or document the RTO it keeps",
                    shown(rto),
                    rto.as_secs_f64(),
                    self.spec.disaster.name(),
                    objective.text,
                    objective.source
                ),
            )],
            _ => Vec::new(),
        };
        if !recorder.record("rto", rto, problems) {
            return;
        }

        let started = recorder.begin("recovery-is-new");
        let after = release.pods_and_claims().await.value.unwrap_or_default();
        let kept_claims = matches!(self.spec.disaster, Disaster::ScaleToZeroAndWipe(_));
        let problems = proofs::same_as_before(&before, &after, kept_claims)
            .into_iter()
            .map(|message| Problem::in_file(&self.trial.chart.rel_dir, message))
            .collect();
        recorder.record("recovery-is-new", started.elapsed(), problems);
    }

    /// The workloads of `release`'s chart rendered for its namespace; `None` (the
    /// `render` phase failed) when the chart does not render.
    async fn workloads(
        &self,
        release: &ReleaseUnderTest<'_>,
        recorder: &mut PhaseRecorder,
    ) -> Option<Vec<readiness::Workload>> {
        let extra_args = [&["--include-crds".to_string()], release.helm_set_args].concat();
        let request = RenderRequest {
            chart_dir: release.chart_dir,
            release: &release.name,
            namespace: &release.namespace,
            values_files: &release.values_files,
            kube_version: Some(self.inputs.primary_kube_version()),
            extra_args: &extra_args,
            timeout: release.timeout,
        };
        match render::render_request(self.ctx, release.chart, &request).await {
            Ok(rendered) if rendered.problems.is_empty() => {
                Some(readiness::workloads(&rendered.manifests))
            }
            Ok(rendered) => {
                recorder.record("render", Duration::ZERO, rendered.problems);
                None
            }
            Err(problem) => {
                recorder.record("render", Duration::ZERO, vec![problem]);
                None
            }
        }
    }

    /// Installs the release and records the waits as `<name>-ready:<workload>` (or
    /// `ready:` for the first install).
    async fn install(
        &self,
        release: &ReleaseUnderTest<'_>,
        name: &str,
        workloads: &[readiness::Workload],
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let started = recorder.begin(name);
        let installed = release.install().await;
        if !recorder.record(
            name,
            started.elapsed(),
            installed.value.err().into_iter().map(Into::into).collect(),
        ) {
            return false;
        }
        self.wait(release, name, workloads, recorder).await
    }

    async fn wait(
        &self,
        release: &ReleaseUnderTest<'_>,
        after: &str,
        workloads: &[readiness::Workload],
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let prefix = if after == "install" {
            "ready".to_string()
        } else {
            format!("{after}-ready")
        };
        recorder.begin(&prefix);
        let mut all = true;
        for wait in release.wait_ready(workloads).await {
            let phase = format!("{prefix}:{}", wait.workload);
            let problems = wait.result.err().into_iter().map(Problem::from).collect();
            all &= recorder.record(&phase, wait.elapsed, problems);
        }
        all
    }

    /// A step's error, on the chart's `ci/harness.yaml`.
    fn problem(&self, error: StepError) -> Problem {
        Problem::in_file(&self.settings_file, error.to_string())
    }

    /// Runs `steps` as phases `<name>[i]`; returns whether all passed.
    async fn steps(
        &self,
        release: &ReleaseUnderTest<'_>,
        name: &str,
        steps: &[DataStep],
        backup_file: Option<PathBuf>,
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let env = self.env(backup_file);
        for (index, step) in steps.iter().enumerate() {
            let phase = format!("{name}[{index}]");
            recorder.begin(&phase);
            let ran = self.attempt(release, step, &env).await;
            let problems = ran.value.err().map(|error| self.problem(error));
            if !recorder.record(&phase, ran.elapsed, problems.into_iter().collect()) {
                return false;
            }
        }
        true
    }

    /// `verify-present[i]` and `verify-absent[i]`: every check runs, so a failure shows
    /// the output of each, the data that is missing and the data that came back.
    async fn verify(&self, release: &ReleaseUnderTest<'_>, recorder: &mut PhaseRecorder) -> bool {
        let env = self.env(None);
        let checks = self
            .trip
            .present
            .iter()
            .enumerate()
            .map(|(index, step)| (format!("verify-present[{index}]"), step))
            .chain(
                self.spec
                    .absent
                    .iter()
                    .enumerate()
                    .map(|(index, step)| (format!("verify-absent[{index}]"), step)),
            );
        let mut all = true;
        for (phase, step) in checks {
            recorder.begin(&phase);
            let ran = self.attempt(release, step, &env).await;
            let problems = ran.value.err().map(|error| self.problem(error));
            all &= recorder.record(&phase, ran.elapsed, problems.into_iter().collect());
        }
        all
    }
}
