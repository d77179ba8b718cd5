//! The upgrade suite: each case of a chart upgraded from its baseline(s) with its data
//! checked, strict by default. Per baseline (phases prefixed with it when there are
//! several):
//!
//! 1. `baseline`: the version upgraded from (`baseline.rs`), and `predict`: both
//!    rendered with the same values, immutable-field breaks predicted offline
//!    (`prediction.rs`); a baseline rendering identical to the candidate tests nothing
//!    and the trial is not run. `--predict-only` stops here, with no cluster.
//! 2. `baseline-install`, `baseline-ready:*`; 3. `seed[*]`; 4. `verify-baseline[*]`;
//! 5. `pre-upgrade[*]` (the declared manual steps), `confirm` (the server's dry-run of
//!    the candidate against the live baseline), `upgrade`, `ready:*`, `helm-test`;
//! 6. `verify[*]`; 7. `rollout` (pods rolled, claims kept, restarts);
//! 8. `rollback-predict`, `rollback`, `rollback-ready:*`; 9. `verify-rollback[*]`;
//! 10. `uninstall`, `namespace-delete`.
//!
//! Every cluster operation is the release layer's; this module orders them.

pub(super) mod baseline;
mod prediction;
mod published;

use std::path::PathBuf;
use std::time::Duration;

use self::baseline::{Baseline, NoBaseline};
use super::render;
use super::{PhaseRecorder, SuiteContext, TrialInputs};
use crate::config::data_steps::{DataStep, StepAction};
use crate::config::upgrade_settings::UpgradeValues;
use crate::config::{BaselineFailure, BaselineSpec};
use crate::discovery::Chart;
use crate::immutable_fields;
use crate::k8s::readiness;
use crate::manifest::Manifest;
use crate::plan::Trial;
use crate::problem::Problem;
use crate::release::{self, HelmTestRun, ReleaseUnderTest, StepEnv, TrialNamespace, rollout};
use crate::suites::{BaselineRecord, UpgradeRecord};
use crate::tools::RenderRequest;

/// Why data steps do not run on the local control plane.
const SIMULATED: &str = "pods are simulated on the local control plane (kwok), so no container holds data; run with --cluster kind";

/// The namespace the offline prediction renders into: both sides alike.
const PREDICT_NAMESPACE: &str = "chart-harness-predict";

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let specs = ctx
        .config
        .baseline_override
        .clone()
        .or_else(|| inputs.settings.baseline.clone())
        .unwrap_or_else(|| ctx.config.baseline.clone());
    let mut record = UpgradeRecord::default();
    let mut untested = Vec::new();
    let mut tested = false;
    for spec in &specs {
        let prefix = if specs.len() > 1 {
            format!("{spec}:")
        } else {
            String::new()
        };
        let path = UpgradePath {
            spec,
            prefix,
            trial,
            inputs,
            ctx,
        };
        // Boxed: the path's future is large, and a debug build's worker stack is not.
        match Box::pin(path.run(recorder, &mut record)).await {
            None => tested = true,
            Some(reason) => untested.push(reason),
        }
    }
    if !tested && !untested.is_empty() {
        recorder.nothing_to_test(untested.join("; "));
    }
    recorder.set_upgrade(record);
}

/// One baseline's upgrade path.
struct UpgradePath<'a> {
    spec: &'a BaselineSpec,
    /// `git:v1:` when the trial has several baselines, else empty.
    prefix: String,
    trial: &'a Trial,
    inputs: &'a TrialInputs,
    ctx: &'a SuiteContext,
}

impl UpgradePath<'_> {
    fn phase(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A baseline that cannot be fetched or does not install: a failure, or with
    /// `baseline-failure: ignore` not run. Returns the reason when not run.
    fn baseline_failed(
        &self,
        recorder: &mut PhaseRecorder,
        name: &str,
        elapsed: Duration,
        problems: Vec<Problem>,
    ) -> Option<String> {
        match self.ctx.config.baseline_failure {
            BaselineFailure::Fail => {
                recorder.record(&self.phase(name), elapsed, problems);
                None
            }
            BaselineFailure::Ignore => {
                let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
                let reason = format!(
                    "baseline {} failed and `baseline-failure: ignore` lets it pass untested: {}",
                    self.spec,
                    said.join("; ")
                );
                recorder.not_run(&self.phase(name), reason.clone());
                Some(reason)
            }
        }
    }

    /// Runs the path; `Some(reason)` when it had nothing to test.
    async fn run(
        &self,
        recorder: &mut PhaseRecorder,
        record: &mut UpgradeRecord,
    ) -> Option<String> {
        let started = recorder.begin(&self.phase("baseline"));
        let baseline = match baseline::resolve(self.spec, self.trial, self.ctx).await {
            Ok(baseline) => baseline,
            Err(NoBaseline::NewChart(reason)) => {
                recorder.not_run(&self.phase("baseline"), reason.clone());
                return Some(reason);
            }
            Err(NoBaseline::Unavailable(problem)) => {
                return self.baseline_failed(
                    recorder,
                    "baseline",
                    started.elapsed(),
                    vec![problem],
                );
            }
        };
        recorder.record(&self.phase("baseline"), started.elapsed(), Vec::new());
        record.baselines.push(BaselineRecord {
            spec: self.spec.to_string(),
            source: baseline.source.clone(),
            version: baseline.version.clone(),
            digest: baseline.digest.clone(),
            pre_upgrade: self
                .pre_upgrade()
                .iter()
                .map(|step| step.label.clone())
                .collect(),
            ..BaselineRecord::default()
        });
        let entry = record.baselines.len() - 1;

        let started = recorder.begin(&self.phase("predict"));
        let renders = (
            self.render(
                &baseline.chart,
                &baseline.helm_dir,
                PREDICT_NAMESPACE,
                false,
            )
            .await,
            self.render(
                &self.trial.chart,
                &self.inputs.chart_dir,
                PREDICT_NAMESPACE,
                true,
            )
            .await,
        );
        let (old, new) = match renders {
            (Err(problems), _) => {
                return self.baseline_failed(recorder, "predict", started.elapsed(), problems);
            }
            (_, Err(problems)) => {
                recorder.record(&self.phase("predict"), started.elapsed(), problems);
                return None;
            }
            (Ok(old), Ok(new)) => (old, new),
        };
        if prediction::identical(&old, &new) {
            let reason = format!(
                "baseline identical: {} (version {}) renders the same objects as the candidate, so an upgrade would test nothing",
                baseline.source, baseline.version
            );
            recorder.not_run(&self.phase("predict"), reason.clone());
            return Some(reason);
        }
        let breaks = immutable_fields::predict(&old, &new);
        let found = prediction::predicted_only(&breaks);
        record.baselines[entry].breaks = prediction::records("upgrade", &found);
        let rel_dir = &self.trial.chart.rel_dir;
        let problems = prediction::problems(rel_dir, &found);
        let candidate_version = self.candidate_version();
        if !problems.is_empty() && !self.pre_upgrade().is_empty() {
            // The chart declares the manual steps its users take; they must make the
            // upgrade go through, which the cluster phases prove.
            recorder.context(&self.phase("predict"), started.elapsed(), problems);
        } else if !problems.is_empty()
            && prediction::major_bump(&baseline.version, &candidate_version)
        {
            let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let reason = format!(
                "major version bump {} → {candidate_version} allows breaking changes, so the upgrade is not attempted; declare the steps users take in `pre-upgrade` to test it. The breaks: {}",
                baseline.version,
                said.join("; ")
            );
            recorder.not_run(&self.phase("predict"), reason.clone());
            return Some(reason);
        } else {
            // A predicted break fails the trial here; the cluster still installs the
            // baseline so the server confirms (or refutes) each one, and the upgrade
            // itself is not attempted.
            recorder.record(&self.phase("predict"), started.elapsed(), problems);
        }
        if self.ctx.config.predict_only {
            return None;
        }
        let upgrade_refused = !breaks.is_empty() && self.pre_upgrade().is_empty();
        Box::pin(self.on_cluster(
            &baseline,
            &breaks,
            upgrade_refused,
            recorder,
            &mut record.baselines[entry],
            &mut record.data_checked,
        ))
        .await
    }

    fn pre_upgrade(&self) -> &[DataStep] {
        &self.inputs.settings.pre_upgrade
    }

    fn candidate_version(&self) -> String {
        self.trial
            .chart
            .chart_file
            .get()
            .as_ref()
            .ok()
            .and_then(|file| file.version.clone())
            .unwrap_or_default()
    }

    /// `chart` rendered from `dir` into `namespace` with the case's values, the
    /// upgrade's own values on the candidate side (`upgrade`), CRDs included.
    async fn render(
        &self,
        chart: &Chart,
        dir: &std::path::Path,
        namespace: &str,
        upgrade: bool,
    ) -> Result<Vec<Manifest>, Vec<Problem>> {
        let values = if upgrade {
            self.upgrade_values().map_err(|problem| vec![problem])?
        } else {
            self.inputs.values.files.clone()
        };
        let extra_args = [
            &["--include-crds".to_string()],
            &self.ctx.config.helm_extra_set_args[..],
        ]
        .concat();
        let request = RenderRequest {
            chart_dir: dir,
            release: &chart.name,
            namespace,
            values_files: &values,
            kube_version: Some(self.inputs.primary_kube_version()),
            extra_args: &extra_args,
            timeout: self.inputs.timeout,
        };
        match render::render_request(self.ctx, chart, &request).await {
            Ok(rendered) if rendered.problems.is_empty() => Ok(rendered.manifests),
            Ok(rendered) => Err(rendered.problems),
            Err(problem) => Err(vec![problem]),
        }
    }

    /// The case's values files, then `upgrade-values` (inline ones written under the
    /// trial's work directory).
    fn upgrade_values(&self) -> Result<Vec<PathBuf>, Problem> {
        let mut files = self.inputs.values.files.clone();
        for (index, values) in self.inputs.settings.upgrade_values.iter().enumerate() {
            match values {
                UpgradeValues::File(file) => files.push(self.trial.chart.dir.join(file)),
                UpgradeValues::Inline(map) => {
                    let dir = self.work_dir();
                    let path = dir.join(format!("upgrade-values-{index}.yaml"));
                    std::fs::create_dir_all(&dir)
                        .and_then(|()| std::fs::write(&path, serde_json::Value::Object(map.clone()).to_string()))
                        .map_err(|error| {
                            Problem::new(format!(
                                "cannot write the inline `upgrade-values` to {}: {error}; check that the report directory is writable",
                                path.display()
                            ))
                        })?;
                    files.push(path);
                }
            }
        }
        Ok(files)
    }

    /// The trial's own directory under the report directory (`WORK_DIR` of steps).
    fn work_dir(&self) -> PathBuf {
        self.ctx
            .config
            .report_dir
            .join("upgrade")
            .join(&self.trial.id.chart)
            .join(&self.trial.id.case)
            .join(self.spec.path_segment())
    }

    /// Steps 2 to 10 in a namespace of the path's own, removed whatever happens.
    async fn on_cluster(
        &self,
        baseline: &Baseline,
        breaks: &[immutable_fields::Break],
        upgrade_refused: bool,
        recorder: &mut PhaseRecorder,
        record: &mut BaselineRecord,
        data_checked: &mut bool,
    ) -> Option<String> {
        recorder.begin(&self.phase("cluster"));
        let connected = release::connect(self.ctx.cluster.as_deref()).await;
        let (cluster, kube) = match connected.value {
            Ok(connected) => connected,
            Err(error) => {
                recorder.record(
                    &self.phase("cluster"),
                    connected.elapsed,
                    vec![error.into()],
                );
                return None;
            }
        };
        recorder.begin(&self.phase("namespace"));
        let case = format!("{}-up", self.trial.id.case);
        let created = TrialNamespace::create(&kube, &self.trial.id.chart, &case).await;
        let namespace = match created.value {
            Ok(namespace) => namespace,
            Err(error) => {
                recorder.record(
                    &self.phase("namespace"),
                    created.elapsed,
                    vec![error.into()],
                );
                return None;
            }
        };
        let release = self.inputs.release(
            self.ctx,
            &cluster,
            &kube,
            &self.trial.chart,
            &baseline.helm_dir,
            namespace.name(),
        );
        let mut reason = None;
        // Diagnostics explain a failure on the cluster, not one the prediction found.
        let failures_before = recorder.failures();
        let exercised = tokio::time::timeout(
            self.inputs.timeout,
            Box::pin(self.exercise(
                &release,
                baseline,
                (breaks, upgrade_refused),
                recorder,
                record,
                data_checked,
                &mut reason,
            )),
        )
        .await;
        if exercised.is_err() {
            super::record_trial_timeout(recorder, self.trial, self.inputs.timeout);
        }
        if recorder.failures() > failures_before {
            recorder.begin(&self.phase("diagnostics"));
            let diagnosed = release.diagnose(true).await;
            recorder.context(
                &self.phase("diagnostics"),
                diagnosed.elapsed,
                diagnosed.value,
            );
        }
        recorder.begin(&self.phase("uninstall"));
        let uninstalled = release.uninstall(&[release.name.as_str()]).await;
        recorder.record(
            &self.phase("uninstall"),
            uninstalled.elapsed,
            uninstalled.value.into_iter().map(Into::into).collect(),
        );
        recorder.begin(&self.phase("namespace-delete"));
        let deleted = namespace.delete(&kube).await;
        recorder.record(
            &self.phase("namespace-delete"),
            deleted.elapsed,
            deleted.value.err().into_iter().map(Into::into).collect(),
        );
        reason
    }

    /// Records the waits of `workloads` as `<name>:<workload>`; returns whether all
    /// became ready, and the problems.
    async fn wait(
        &self,
        release: &ReleaseUnderTest<'_>,
        manifests: &[Manifest],
        name: &str,
        recorder: &mut PhaseRecorder,
    ) -> (bool, Vec<Problem>) {
        recorder.begin(&self.phase(name));
        let mut problems = Vec::new();
        for wait in release.wait_ready(&readiness::workloads(manifests)).await {
            let phase = self.phase(&format!("{name}:{}", wait.workload));
            match wait.result {
                Ok(()) => {
                    recorder.record(&phase, wait.elapsed, Vec::new());
                }
                Err(error) => problems.push((phase, wait.elapsed, Problem::from(error))),
            }
        }
        let all = problems.is_empty();
        let flat = problems.iter().map(|(_, _, p)| p.clone()).collect();
        for (phase, elapsed, problem) in problems {
            recorder.record(&phase, elapsed, vec![problem]);
        }
        (all, flat)
    }

    /// Runs `steps` as phases `<name>[i]`; returns whether all passed. Where pods are
    /// simulated, data steps are not run, and of the pre-upgrade steps only the host
    /// commands (`run`) are, since they act on the release, not on data in a container.
    async fn steps(
        &self,
        release: &ReleaseUnderTest<'_>,
        name: &str,
        steps: &[DataStep],
        recorder: &mut PhaseRecorder,
    ) -> bool {
        if steps.is_empty() {
            return true;
        }
        let data = name != "pre-upgrade";
        if release.pods_simulated() && data {
            recorder.not_run(&self.phase(name), SIMULATED);
            return true;
        }
        let work_dir = self.work_dir();
        let env = StepEnv {
            run_dir: &self.ctx.repo_root,
            chart_dir: &self.trial.chart.dir,
            work_dir: &work_dir,
            chart_timeout: self.inputs.settings.data.timeout,
            settings_file: self
                .trial
                .chart
                .rel_dir
                .join(crate::config::chart_settings::CHART_SETTINGS_FILE),
            extra_env: Vec::new(),
        };
        for (index, step) in steps.iter().enumerate() {
            let phase = self.phase(&format!("{name}[{index}]"));
            if release.pods_simulated() && !matches!(step.action, StepAction::Run(_)) {
                recorder.not_run(&phase, SIMULATED);
                continue;
            }
            recorder.begin(&phase);
            let ran = release.run_step(step, &env).await;
            if !recorder.record(&phase, ran.elapsed, ran.value.err().into_iter().collect()) {
                return false;
            }
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    async fn exercise(
        &self,
        release: &ReleaseUnderTest<'_>,
        baseline: &Baseline,
        (breaks, upgrade_refused): (&[immutable_fields::Break], bool),
        recorder: &mut PhaseRecorder,
        record: &mut BaselineRecord,
        data_checked: &mut bool,
        reason: &mut Option<String>,
    ) {
        let namespace = release.namespace.clone();
        let (old, new) = match (
            self.render(&baseline.chart, &baseline.helm_dir, &namespace, false)
                .await,
            self.render(&self.trial.chart, &self.inputs.chart_dir, &namespace, true)
                .await,
        ) {
            (Ok(old), Ok(new)) => (old, new),
            (Err(problems), _) | (_, Err(problems)) => {
                recorder.record(&self.phase("render"), Duration::ZERO, problems);
                return;
            }
        };
        let started = recorder.begin(&self.phase("baseline-install"));
        let installed = release.install().await;
        if let Err(error) = installed.value {
            *reason = self.baseline_failed(
                recorder,
                "baseline-install",
                started.elapsed(),
                vec![error.into()],
            );
            return;
        }
        recorder.record(
            &self.phase("baseline-install"),
            started.elapsed(),
            Vec::new(),
        );
        let (ready, problems) = self.wait(release, &old, "baseline-ready", recorder).await;
        if !ready {
            if self.ctx.config.baseline_failure == BaselineFailure::Ignore {
                *reason =
                    self.baseline_failed(recorder, "baseline-ready", Duration::ZERO, problems);
            }
            return;
        }
        let data = &self.inputs.settings.data;
        if !self.steps(release, "seed", &data.seed, recorder).await
            || !self
                .steps(release, "verify-baseline", &data.verify, recorder)
                .await
        {
            return;
        }
        if !self
            .steps(release, "pre-upgrade", self.pre_upgrade(), recorder)
            .await
        {
            return;
        }

        // Layer 2: the server's verdict on the candidate against the live baseline.
        let started = recorder.begin(&self.phase("confirm"));
        let refused = release.dry_run(&new, None).await;
        let rel_dir = &self.trial.chart.rel_dir;
        let verdict = prediction::verdict(rel_dir, breaks, refused.value);
        record.breaks = prediction::records("upgrade", &verdict.found);
        // Breaks layer 1 predicted already failed `predict`; here the server confirms
        // them (said once, as context) or finds what no rule foresaw. A prediction the
        // server does not share is a wrong rule and fails too, unless declared
        // pre-upgrade steps are what made the server accept it.
        let mut problems = verdict.rejected;
        problems.extend(verdict.server_only);
        if self.pre_upgrade().is_empty() {
            problems.extend(verdict.refuted);
        }
        let confirmed = verdict.confirmed;
        if !confirmed.is_empty() {
            recorder.context(&self.phase("confirmed"), Duration::ZERO, confirmed);
        }
        if !recorder.record(&self.phase("confirm"), started.elapsed(), problems) || upgrade_refused
        {
            return;
        }

        let before = release.pods_and_claims().await.value.unwrap_or_default();
        let started = recorder.begin(&self.phase("upgrade"));
        let values = match self.upgrade_values() {
            Ok(values) => values,
            Err(problem) => {
                recorder.record(&self.phase("upgrade"), started.elapsed(), vec![problem]);
                return;
            }
        };
        let upgraded = release.upgrade(&self.inputs.chart_dir, &values).await;
        if !recorder.record(
            &self.phase("upgrade"),
            started.elapsed(),
            upgraded.value.err().into_iter().map(Into::into).collect(),
        ) {
            return;
        }
        if !self.wait(release, &new, "ready", recorder).await.0 {
            return;
        }
        recorder.begin(&self.phase("helm-test"));
        let tested = release.helm_test(&new).await;
        match tested.value {
            Ok(HelmTestRun::NoHooks) => {
                recorder.not_run(&self.phase("helm-test"), "the chart has no test hooks")
            }
            Ok(HelmTestRun::Passed) => {
                recorder.record(&self.phase("helm-test"), tested.elapsed, Vec::new());
            }
            Err(error) => {
                recorder.record(&self.phase("helm-test"), tested.elapsed, error.into());
                return;
            }
        }
        if !self.steps(release, "verify", &data.verify, recorder).await {
            return;
        }
        *data_checked = !data.is_empty() && !release.pods_simulated();

        let started = recorder.begin(&self.phase("rollout"));
        let after = release.pods_and_claims().await;
        let after_state = after.value.unwrap_or_default();
        let findings = rollout::compare(
            &before,
            &after_state,
            &rollout::changed_templates(&old, &new),
        );
        record.restarts = findings.restarts.clone();
        let problems: Vec<Problem> = findings
            .not_rolled
            .iter()
            .chain(&findings.claims_lost)
            .map(|message| Problem::in_file(rel_dir, message))
            .collect();
        if !recorder.record(&self.phase("rollout"), started.elapsed(), problems) {
            return;
        }

        // The rollback's two layers: predicted from the renders, and the server's
        // dry-run of the baseline's objects against the upgraded release.
        let started = recorder.begin(&self.phase("rollback-predict"));
        let back = immutable_fields::predict_rollback(&old, &new);
        let refused = release.dry_run(&old, None).await;
        let verdict = prediction::verdict(rel_dir, &back, refused.value);
        record
            .breaks
            .extend(prediction::records("rollback", &verdict.found));
        let refused_back: Vec<_> = verdict
            .found
            .iter()
            .filter(|found| found.layer != prediction::Layer::Prediction)
            .cloned()
            .collect();
        let problems: Vec<Problem> = prediction::problems(rel_dir, &refused_back)
            .into_iter()
            .chain(verdict.refuted)
            .chain(verdict.rejected)
            .map(|problem| Problem {
                message: format!("`helm rollback` would fail: {}", problem.message),
                ..problem
            })
            .collect();
        if !recorder.record(&self.phase("rollback-predict"), started.elapsed(), problems) {
            return;
        }
        let started = recorder.begin(&self.phase("rollback"));
        let rolled_back = release.rollback(1).await;
        if !recorder.record(
            &self.phase("rollback"),
            started.elapsed(),
            rolled_back
                .value
                .err()
                .into_iter()
                .map(Into::into)
                .collect(),
        ) {
            return;
        }
        if !self.wait(release, &old, "rollback-ready", recorder).await.0 {
            return;
        }
        self.steps(release, "verify-rollback", &data.verify, recorder)
            .await;
    }
}
