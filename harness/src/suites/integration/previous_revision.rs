//! The upgrade test's `previous-revision` phase: the chart as it was at the merge-base,
//! unpacked (`changed::previous`) with its dependencies built, or ct's reason why there
//! is nothing to upgrade from (a new chart, a breaking version change).

use std::path::PathBuf;

use super::upgrade_rule;
use super::{PhaseRecorder, SuiteContext};
use crate::changed::{self, previous};
use crate::chartfile::{ChartFile, ChartYaml};
use crate::discovery::{self, Chart};
use crate::plan::Trial;
use crate::problem::Problem;
use crate::suites::deps;

const PHASE: &str = "previous-revision";

/// What `previous-revision` found.
pub(super) enum Previous {
    /// Boxed: a `Chart` is large and the other variants are empty.
    Found(Box<PreviousRevision>),
    /// No upgrade from a previous revision (none, or a breaking change): not run.
    Skipped,
    /// It cannot be known (no merge-base, no semver version): the phase failed.
    Failed,
}

/// The previous revision, ready for helm.
pub(super) struct PreviousRevision {
    /// The unpacked chart, with this chart's `rel_dir` so messages name the user's
    /// files, and its own cases.
    pub(super) chart: Chart,
    /// Where helm installs it from: the unpacked chart, or its built scratch copy.
    pub(super) helm_dir: PathBuf,
}

/// Records `previous-revision`: passed with the revision, not run with ct's reason
/// when there is none to upgrade from, failed when it cannot be known.
pub(super) async fn previous_revision(
    trial: &Trial,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) -> Previous {
    let started = recorder.begin(PHASE);
    let chart = &trial.chart;
    let chart_yaml = chart.rel_dir.join("Chart.yaml");
    let fail = |recorder: &mut PhaseRecorder, problem: Problem| {
        recorder.record(PHASE, started.elapsed(), vec![problem]);
        Previous::Failed
    };
    let changes = match ctx
        .shared
        .changes
        .get(&ctx.repo_root, &ctx.config, &ctx.tools.git)
        .await
    {
        Ok(changes) => changes,
        Err(message) => {
            return fail(
                recorder,
                Problem::new(format!(
                    "the upgrade test needs the merge-base to find the chart's previous revision: {message} (or turn `upgrade` off)"
                )),
            );
        }
    };
    let base = &changes.base;
    let scratch = ctx.config.report_dir.join("previous");
    let unpacked = previous::materialise(
        &ctx.repo_root,
        &ctx.tools.git,
        &base.commit,
        &chart.rel_dir,
        &scratch,
    )
    .await;
    let dir = match unpacked {
        Ok(Some(dir)) => dir,
        Ok(None) => {
            recorder.not_run(PHASE, skipping(chart, "chart has no previous revision"));
            return Previous::Skipped;
        }
        Err(error) => return fail(recorder, Problem::new(error.to_string())),
    };

    let shown_old = format!(
        "{} ({}) {}",
        base.against,
        changed::short(&base.commit),
        chart_yaml.display()
    );
    let versions = (
        ChartFile::read(&dir)
            .map_err(|e| e.to_string())
            .and_then(|file| file.version.ok_or_else(|| "no `version`".to_string()))
            .map_err(|e| format!("{shown_old}: {e}")),
        chart
            .chart_file
            .get()
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|file| file.version.clone().ok_or_else(|| "no `version`".into())),
    );
    let breaking = match versions {
        (Ok(old), Ok(new)) => upgrade_rule::breaking_change(&old, &new),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match breaking {
        Ok(None) => {}
        Ok(Some(reason)) => {
            recorder.not_run(PHASE, skipping(chart, &reason));
            return Previous::Skipped;
        }
        Err(error) => {
            // ct fails the chart here too ("Error comparing chart versions").
            return fail(
                recorder,
                Problem::in_file(
                    &chart_yaml,
                    format!(
                        "cannot compare the chart's version with the previous revision's for the upgrade test: {error}; give both a semver `version`"
                    ),
                ),
            );
        }
    }

    let cases = match discovery::find_cases(&dir, ctx.config.values_files.as_deref()) {
        Ok(cases) => cases,
        Err(error) => return fail(recorder, Problem::new(error.to_string())),
    };
    let previous_chart = Chart {
        name: chart.name.clone(),
        chart_file: ChartYaml::of(&dir),
        dir,
        rel_dir: chart.rel_dir.clone(),
        cases,
        settings: chart.settings.clone(),
    };
    match deps::built_dir(&previous_chart, ctx).await {
        Ok(helm_dir) => {
            recorder.record(PHASE, started.elapsed(), Vec::new());
            Previous::Found(Box::new(PreviousRevision {
                chart: previous_chart,
                helm_dir,
            }))
        }
        Err(problem) => {
            // ct only prints this and goes on; the install of the revision then fails
            // and is ignored. Saying why directly is clearer.
            recorder.not_run(
                PHASE,
                format!(
                    "failed building dependencies for previous revision of chart \"{}\": {}",
                    chart.rel_dir.display(),
                    problem.message
                ),
            );
            Previous::Skipped
        }
    }
}

/// ct's line when it skips a chart's upgrade test.
fn skipping(chart: &Chart, because: &str) -> String {
    format!(
        "Skipping upgrade test of \"{}\" because: {because}",
        chart.rel_dir.display()
    )
}
