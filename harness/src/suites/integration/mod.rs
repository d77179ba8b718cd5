//! The integration suite: install each case of a chart into a fresh namespace of the
//! run's cluster, decide readiness with our own polls of the API (not helm `--wait`),
//! run `helm test`, optionally kill a pod per workload, then remove everything and
//! prove nothing of the release is left. Diagnostics are collected only on failure.
//!
//! Phases: `cluster`, `namespace`, `prerequisites`, `dry-run`, `wait-for-claims` (only
//! when another trial held a claim), with `upgrade` on `previous-revision`,
//! `from-previous:*` and `in-place:*` (see `upgrade.rs`), `install`,
//! `ready:<Kind>/<name>` (one per workload), `helm-test`, `chaos`, `diagnostics` (only
//! on failure), `uninstall`, `namespace-delete`, `leftovers`. Cleanup runs whatever
//! failed before it, and every step has a deadline. The steps themselves are the release
//! layer's (`crate::release`); this module only orders them and records them as phases.

mod previous_revision;
mod upgrade;
mod upgrade_rule;

use std::time::Duration;

use super::render::{self, RenderTarget};
use super::{PhaseRecorder, SuiteContext, TrialInputs};
use crate::k8s::{self, readiness};
use crate::manifest::Manifest;
use crate::plan::Trial;
use crate::problem::Problem;
use crate::release::{
    self, HeldLocks, HelmTestRun, ReleaseUnderTest, TrialNamespace, diagnostics, timed,
};

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let chart = &trial.chart;
    recorder.begin("cluster");
    let connected = release::connect(ctx.cluster.as_deref()).await;
    let (cluster, kube) = match connected.value {
        Ok(connected) => connected,
        Err(error) => {
            record(recorder, "cluster", connected.elapsed, [error]);
            return;
        }
    };
    recorder.record("cluster", connected.elapsed, Vec::new());
    recorder.begin("namespace");
    let created = TrialNamespace::create(&kube, &trial.id.chart, &trial.id.case).await;
    let namespace = match created.value {
        Ok(namespace) => namespace,
        Err(error) => {
            record(recorder, "namespace", created.elapsed, [error]);
            return;
        }
    };
    recorder.record("namespace", created.elapsed, Vec::new());

    let release = inputs.release(
        ctx,
        &cluster,
        &kube,
        chart,
        &inputs.chart_dir,
        namespace.name(),
    );
    let mut state = Exercised::default();
    // The trial's timeout ends the exercise here, not in the runner, so that what it
    // did is still diagnosed and removed (the runner allows for that, see
    // `suites::cleanup_allowance`).
    let exercised = tokio::time::timeout(
        inputs.timeout,
        exercise(&release, trial, inputs, ctx, &mut state, recorder),
    )
    .await;
    if exercised.is_err() {
        super::record_trial_timeout(recorder, trial, inputs.timeout);
    }
    if recorder.has_failures() {
        recorder.begin("diagnostics");
        let diagnosed = release.diagnose(state.install_attempted).await;
        recorder.context("diagnostics", diagnosed.elapsed, diagnosed.value);
    }
    clean_up(&release, namespace, &state, recorder).await;
}

/// What the exercise did that cleanup must undo.
#[derive(Default)]
struct Exercised {
    /// The chart as rendered for this namespace (with CRDs), once the dry-run ran.
    rendered: Vec<Manifest>,
    prerequisite_releases: Vec<String>,
    install_attempted: bool,
    /// Fixed cluster-scoped names this trial installs; held until its cleanup is done.
    held_locks: Option<HeldLocks>,
}

/// Records a phase whose problems are `errors`; returns whether it passed.
fn record<E: Into<Problem>>(
    recorder: &mut PhaseRecorder,
    name: &str,
    elapsed: Duration,
    errors: impl IntoIterator<Item = E>,
) -> bool {
    recorder.record(name, elapsed, errors.into_iter().map(Into::into).collect())
}

/// prerequisites → dry-run → install → ready → helm-test → chaos; stops at the first
/// phase whose failure makes the next ones meaningless.
async fn exercise(
    release: &ReleaseUnderTest<'_>,
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    state: &mut Exercised,
    recorder: &mut PhaseRecorder,
) {
    let wanted = &inputs.settings.prerequisites;
    if wanted.crds.is_empty() && wanted.charts.is_empty() {
        recorder.not_run("prerequisites", "ci/harness.yaml names none");
    } else {
        recorder.begin("prerequisites");
        let installed = release.install_prerequisites(wanted).await;
        state.prerequisite_releases = installed.value.releases;
        if !record(
            recorder,
            "prerequisites",
            installed.elapsed,
            installed.value.errors,
        ) {
            return;
        }
    }

    // Rendered for this namespace with the CRDs, so the API server sees exactly what
    // helm will install.
    let started = recorder.begin("dry-run");
    // helm-extra-set-args too, so the dry-run checks the values install will use.
    let render_args = [&["--include-crds".to_string()], release.helm_set_args].concat();
    let target = RenderTarget {
        namespace: &release.namespace,
        kube_version: inputs.primary_kube_version(),
        extra_args: &render_args,
        timeout: release.timeout,
    };
    let mut problems = match render::render(ctx, trial, inputs, &target).await {
        Ok(rendered) => {
            state.rendered = rendered.manifests;
            rendered.problems
        }
        Err(problem) => vec![problem],
    };
    if problems.is_empty() {
        // Kubernetes' API lifecycle tells a removed API from a missing CRD; without the
        // data every unserved kind gets the CRD advice.
        let lifecycle = crate::deprecations::Deprecations::installed_once(&ctx.repo_root).ok();
        let cluster_version =
            crate::kube_version::parse_version(inputs.primary_kube_version()).ok();
        let refused = release
            .dry_run(&state.rendered, lifecycle.zip(cluster_version.as_ref()))
            .await;
        problems.extend(refused.value.into_iter().map(Problem::from));
    }
    if !recorder.record("dry-run", started.elapsed(), problems) {
        return;
    }

    // Another trial installing an object with the same fixed cluster-scoped name
    // would collide with this one: wait for it to finish.
    let claims = k8s::cluster_scoped_claims(&state.rendered);
    recorder.begin("wait-for-claims");
    let held = timed(ctx.claims.acquire(&claims)).await;
    if !held.value.waited.is_empty() {
        let waited: Vec<String> = held
            .value
            .waited
            .iter()
            .map(|(claim, time)| format!("{claim} ({:.1}s)", time.as_secs_f64()))
            .collect();
        tracing::info!(
            trial = %trial.id,
            "installed after other trials released {}",
            waited.join(", ")
        );
        recorder.record("wait-for-claims", held.elapsed, Vec::new());
    }
    state.held_locks = Some(held.value);

    // ct tests the upgrade first and installs only when it passed.
    if ctx.config.upgrade && !upgrade::run(release, trial, inputs, ctx, recorder).await {
        return;
    }

    state.install_attempted = true;
    recorder.begin("install");
    let installed = release.install().await;
    if !record(
        recorder,
        "install",
        installed.elapsed,
        installed.value.err(),
    ) {
        return;
    }

    let workloads = readiness::workloads(&state.rendered);
    if workloads.is_empty() {
        recorder.not_run("ready", "the chart renders no workload, Service or claim");
    }
    recorder.begin("ready");
    let waits = release.wait_ready(&workloads).await;
    let all_ready = waits.iter().all(|wait| wait.result.is_ok());
    for wait in waits {
        let phase = format!("ready:{}", wait.workload);
        record(recorder, &phase, wait.elapsed, wait.result.err());
    }
    if !all_ready {
        return;
    }

    recorder.begin("helm-test");
    let tested = release.helm_test(&state.rendered).await;
    match tested.value {
        Ok(HelmTestRun::NoHooks) => recorder.not_run(
            "helm-test",
            "the chart has no test hooks (templates annotated `helm.sh/hook: test`)",
        ),
        Ok(HelmTestRun::Passed) => {
            recorder.record("helm-test", tested.elapsed, Vec::new());
            if release.pods_simulated() {
                recorder.not_run("helm-test-logs", diagnostics::SIMULATED_TEST_HOOKS);
            }
        }
        Err(error) => {
            recorder.record("helm-test", tested.elapsed, error.into());
        }
    }

    if inputs.settings.chaos {
        recorder.begin("chaos");
        let chaos = release.chaos(&workloads).await;
        record(recorder, "chaos", chaos.elapsed, chaos.value);
    } else {
        recorder.not_run("chaos", "opt in with `chaos: true` in ci/harness.yaml");
    }
}

/// uninstall → namespace-delete → leftovers, whatever happened before.
async fn clean_up(
    release: &ReleaseUnderTest<'_>,
    namespace: TrialNamespace,
    state: &Exercised,
    recorder: &mut PhaseRecorder,
) {
    if state.install_attempted || !state.prerequisite_releases.is_empty() {
        let releases: Vec<&str> = state
            .install_attempted
            .then_some(release.name.as_str())
            .into_iter()
            .chain(state.prerequisite_releases.iter().rev().map(String::as_str))
            .collect();
        recorder.begin("uninstall");
        let uninstalled = release.uninstall(&releases).await;
        record(
            recorder,
            "uninstall",
            uninstalled.elapsed,
            uninstalled.value,
        );
    }
    recorder.begin("namespace-delete");
    let deleted = namespace.delete(release.kube).await;
    record(
        recorder,
        "namespace-delete",
        deleted.elapsed,
        deleted.value.err(),
    );
    if state.install_attempted {
        recorder.begin("leftovers");
        let leftovers = release.leftovers(&state.rendered).await;
        record(recorder, "leftovers", leftovers.elapsed, leftovers.value);
    }
}
