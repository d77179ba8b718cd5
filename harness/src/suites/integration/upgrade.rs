//! ct's upgrade test (`upgrade: true`), which runs before the install test, in ct
//! v3.14's order:
//!
//! 1. `previous-revision` (`previous_revision.rs`): the chart as it was at the
//!    merge-base, unpacked under the report directory, its dependencies built there. A
//!    chart new since then, or whose version change is breaking by ct's rule
//!    (`upgrade_rule`), skips to step 3 with ct's reason.
//! 2. `from-previous`, per values file of the previous revision this case owns: install
//!    the previous revision, wait until ready, `helm test`, `helm upgrade` to this
//!    revision with the same values file (ct passes no `--reuse-values`), wait, `helm
//!    test`. As in ct, a previous revision that fails to install or pass is ignored:
//!    its phases are not run, quoting the error.
//! 3. `in-place`: the same with this revision upgraded to itself; here every failure
//!    counts.
//!
//! Each path installs into a namespace of its own, removed before the next one, as ct
//! creates one per values file. A failure stops the trial before the install test, as
//! ct returns before it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::previous_revision::{Previous, previous_revision};
use super::render;
use super::upgrade_rule::{self, PreviousValues};
use super::{PhaseRecorder, SuiteContext, TrialInputs, record};
use crate::discovery::Chart;
use crate::k8s::readiness;
use crate::manifest::Manifest;
use crate::plan::Trial;
use crate::problem::Problem;
use crate::release::{HelmTestRun, ReleaseUnderTest, TrialNamespace};
use crate::tools::RenderRequest;

/// Runs the upgrade paths of this trial's case on `base`'s cluster, with its helm
/// settings; returns whether none failed.
pub async fn run(
    base: &ReleaseUnderTest<'_>,
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) -> bool {
    let previous = match previous_revision(trial, ctx, recorder).await {
        Previous::Found(previous) => Some(previous),
        Previous::Skipped => None,
        // ct fails the chart before any upgrade or install.
        Previous::Failed => return false,
    };
    if let Some(previous) = previous {
        for item in previous_values(trial, &previous.chart, ctx) {
            let label = |file: Option<&str>| match file {
                Some(file) if !is_case_file(trial, file) => format!("from-previous[{file}]"),
                _ => "from-previous".to_string(),
            };
            match item {
                PreviousValues::Skip { file, reason } => {
                    recorder.not_run(&label(Some(&file)), reason);
                }
                PreviousValues::Upgrade(file) => {
                    let case_file = file.as_deref().and_then(|file| {
                        previous.chart.cases.iter().find_map(|case| {
                            case.values_file
                                .as_deref()
                                .filter(|path| file_name(path) == Some(file))
                        })
                    });
                    let path = UpgradePath {
                        label: label(file.as_deref()),
                        from: &previous.chart,
                        from_dir: &previous.helm_dir,
                        values_files: replace_case_file(trial, inputs, case_file),
                        from_must_pass: false,
                    };
                    if !exercise(&path, base, trial, inputs, ctx, recorder).await {
                        return false;
                    }
                }
            }
        }
    }
    // ct: "Test upgrade of current version" (helm/chart-testing#19).
    let in_place = UpgradePath {
        label: "in-place".to_string(),
        from: &trial.chart,
        from_dir: &inputs.chart_dir,
        values_files: inputs.values.files.clone(),
        from_must_pass: true,
    };
    exercise(&in_place, base, trial, inputs, ctx, recorder).await
}

/// The previous revision's values files this trial handles (`upgrade_rule`).
fn previous_values(trial: &Trial, previous: &Chart, ctx: &SuiteContext) -> Vec<PreviousValues> {
    let names = |chart: &Chart| -> Vec<String> {
        chart
            .cases
            .iter()
            .filter_map(|case| case.values_file.as_deref().and_then(file_name))
            .map(str::to_string)
            .collect()
    };
    let chart = &trial.chart;
    let values_dir = match ctx.config.values_files {
        Some(_) => chart.rel_dir.clone(),
        None => chart.rel_dir.join("ci"),
    };
    upgrade_rule::previous_values_for_case(
        &names(previous),
        &names(chart),
        trial.case.values_file.as_deref().and_then(file_name),
        chart
            .cases
            .first()
            .is_some_and(|first| first.name == trial.case.name),
        ctx.config.skip_missing_values,
        &values_dir.to_string_lossy(),
    )
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|name| name.to_str())
}

fn is_case_file(trial: &Trial, file: &str) -> bool {
    trial.case.values_file.as_deref().and_then(file_name) == Some(file)
}

/// The trial's values files with the case's own file replaced by `case_file` (the
/// previous revision's), or dropped when that is `None`; the harness's own values
/// (`ci/harness.yaml`) stay.
fn replace_case_file(
    trial: &Trial,
    inputs: &TrialInputs,
    case_file: Option<&Path>,
) -> Vec<PathBuf> {
    let own = trial.case.values_file.as_deref();
    case_file
        .map(Path::to_path_buf)
        .into_iter()
        .chain(
            inputs
                .values
                .files
                .iter()
                .filter(|file| Some(file.as_path()) != own)
                .cloned(),
        )
        .collect()
}

/// One upgrade: `from` installed, then upgraded to the trial's chart, same values.
struct UpgradePath<'p> {
    /// Prefix of the phases: `from-previous`, `in-place`.
    label: String,
    from: &'p Chart,
    from_dir: &'p Path,
    values_files: Vec<PathBuf>,
    /// ct ignores a previous revision that does not install or pass; its own chart must.
    from_must_pass: bool,
}

/// Runs one path in a namespace of its own and removes it; returns whether no phase
/// failed.
async fn exercise(
    path: &UpgradePath<'_>,
    base: &ReleaseUnderTest<'_>,
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) -> bool {
    let phase = |name: &str| format!("{}:{name}", path.label);
    let case = format!("{}-upgrade", trial.id.case);
    recorder.begin(&phase("namespace"));
    let created = TrialNamespace::create(base.kube, &trial.id.chart, &case).await;
    let namespace = match created.value {
        Ok(namespace) => namespace,
        Err(error) => return record(recorder, &phase("namespace"), created.elapsed, [error]),
    };
    let release = ReleaseUnderTest {
        chart_dir: path.from_dir,
        namespace: namespace.name().to_string(),
        values_files: path.values_files.clone(),
        name: base.name.clone(),
        ..*base
    };
    let mut rendered = Vec::new();
    let passed = steps(path, &release, trial, inputs, ctx, &mut rendered, recorder).await;
    if !passed {
        recorder.begin(&phase("diagnostics"));
        let diagnosed = release.diagnose(true).await;
        recorder.context(&phase("diagnostics"), diagnosed.elapsed, diagnosed.value);
    }
    recorder.begin(&phase("uninstall"));
    let uninstalled = release.uninstall(&[release.name.as_str()]).await;
    let uninstalled = record(
        recorder,
        &phase("uninstall"),
        uninstalled.elapsed,
        uninstalled.value,
    );
    recorder.begin(&phase("namespace-delete"));
    let deleted = namespace.delete(base.kube).await;
    let deleted = record(
        recorder,
        &phase("namespace-delete"),
        deleted.elapsed,
        deleted.value.err(),
    );
    recorder.begin(&phase("leftovers"));
    let leftovers = release.leftovers(&rendered).await;
    let clean = record(
        recorder,
        &phase("leftovers"),
        leftovers.elapsed,
        leftovers.value,
    );
    passed && uninstalled && deleted && clean
}

/// install → ready → helm test of `from`, then upgrade → ready → helm test of the
/// trial's chart. `rendered` collects what was installed, for the leftovers check.
/// Returns whether no phase failed (an ignored previous revision is no failure).
async fn steps(
    path: &UpgradePath<'_>,
    release: &ReleaseUnderTest<'_>,
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    rendered: &mut Vec<Manifest>,
    recorder: &mut PhaseRecorder,
) -> bool {
    let phase = |name: &str| format!("{}:{name}", path.label);
    // ct ignores a previous revision that fails: the phase is not run, saying why in
    // ct's words; the path ends without failing.
    let from_failed = |recorder: &mut PhaseRecorder,
                       name: &str,
                       elapsed: Duration,
                       what: &str,
                       problems: Vec<Problem>| {
        if path.from_must_pass {
            recorder.record(&phase(name), elapsed, problems);
            return false;
        }
        let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
        recorder.not_run(
            &phase(name),
            format!(
                "Upgrade testing for release \"{}\" skipped because of previous revision {what} error: {}",
                release.name,
                said.join("; ")
            ),
        );
        true
    };

    let started = recorder.begin(&phase("install"));
    let from_render = render_in_namespace(ctx, path.from, path.from_dir, release, inputs).await;
    let from_manifests = match from_render {
        Ok(manifests) => manifests,
        Err(problems) => {
            return from_failed(
                recorder,
                "install",
                started.elapsed(),
                "installation",
                problems,
            );
        }
    };
    rendered.extend(from_manifests.iter().cloned());
    let installed = release.install().await;
    if let Err(error) = installed.value {
        return from_failed(
            recorder,
            "install",
            started.elapsed(),
            "installation",
            vec![error.into()],
        );
    }
    recorder.record(&phase("install"), started.elapsed(), Vec::new());
    recorder.begin(&phase("ready"));
    for wait in release
        .wait_ready(&readiness::workloads(&from_manifests))
        .await
    {
        let name = format!("ready:{}", wait.workload);
        match wait.result {
            Ok(()) => {
                recorder.record(&phase(&name), wait.elapsed, Vec::new());
            }
            Err(error) => {
                return from_failed(recorder, &name, wait.elapsed, "testing", vec![error.into()]);
            }
        }
    }
    recorder.begin(&phase("helm-test"));
    let tested = release.helm_test(&from_manifests).await;
    match tested.value {
        Ok(HelmTestRun::NoHooks) => recorder.not_run(&phase("helm-test"), NO_TEST_HOOKS),
        Ok(HelmTestRun::Passed) => {
            recorder.record(&phase("helm-test"), tested.elapsed, Vec::new());
        }
        Err(error) => {
            return from_failed(
                recorder,
                "helm-test",
                tested.elapsed,
                "testing",
                error.into(),
            );
        }
    }

    // The upgrade to this revision: every failure counts.
    let started = recorder.begin(&phase("upgrade"));
    let to_manifests =
        match render_in_namespace(ctx, &trial.chart, &inputs.chart_dir, release, inputs).await {
            Ok(manifests) => manifests,
            Err(problems) => {
                return recorder.record(&phase("upgrade"), started.elapsed(), problems);
            }
        };
    rendered.extend(to_manifests.iter().cloned());
    let upgraded = release
        .upgrade(&inputs.chart_dir, &release.values_files)
        .await;
    if !record(
        recorder,
        &phase("upgrade"),
        started.elapsed(),
        upgraded.value.err(),
    ) {
        return false;
    }
    let mut passed = true;
    recorder.begin(&phase("upgraded-ready"));
    for wait in release
        .wait_ready(&readiness::workloads(&to_manifests))
        .await
    {
        let name = phase(&format!("upgraded-ready:{}", wait.workload));
        passed &= record(recorder, &name, wait.elapsed, wait.result.err());
    }
    if !passed {
        return false;
    }
    recorder.begin(&phase("upgraded-helm-test"));
    let tested = release.helm_test(&to_manifests).await;
    match tested.value {
        Ok(HelmTestRun::NoHooks) => {
            recorder.not_run(&phase("upgraded-helm-test"), NO_TEST_HOOKS);
            true
        }
        Ok(HelmTestRun::Passed) => {
            recorder.record(&phase("upgraded-helm-test"), tested.elapsed, Vec::new())
        }
        Err(error) => recorder.record(&phase("upgraded-helm-test"), tested.elapsed, error.into()),
    }
}

const NO_TEST_HOOKS: &str =
    "the chart has no test hooks (templates annotated `helm.sh/hook: test`)";

/// `chart` (in `chart_dir`) rendered as `release` installs it, for readiness and test
/// hooks: into its namespace, with its values, the CRDs and ct's `helm-extra-set-args`.
async fn render_in_namespace(
    ctx: &SuiteContext,
    chart: &Chart,
    chart_dir: &Path,
    release: &ReleaseUnderTest<'_>,
    inputs: &TrialInputs,
) -> Result<Vec<Manifest>, Vec<Problem>> {
    let extra_args = [&["--include-crds".to_string()], release.helm_set_args].concat();
    let request = RenderRequest {
        chart_dir,
        release: &release.name,
        namespace: &release.namespace,
        values_files: &release.values_files,
        kube_version: Some(inputs.primary_kube_version()),
        extra_args: &extra_args,
        timeout: release.timeout,
    };
    match render::render_request(ctx, chart, &request).await {
        Ok(rendered) if rendered.problems.is_empty() => Ok(rendered.manifests),
        Ok(rendered) => Err(rendered.problems),
        Err(problem) => Err(vec![problem]),
    }
}
