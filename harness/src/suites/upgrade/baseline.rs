//! The baseline an upgrade starts from: the chart as it was at the merge-base (`git`)
//! or at a ref (`git:<ref>`), unpacked under the report directory with its `file://`
//! dependencies (`changed::previous`) and built there, with its source, version and
//! digest for the report; or published in a chart repository (`repo:`, `published.rs`).

use std::path::PathBuf;

use super::SuiteContext;
use super::published;
use crate::changed::{self, previous};
use crate::chartfile::{ChartFile, ChartYaml};
use crate::config::BaselineSpec;
use crate::discovery::{self, Chart};
use crate::plan::Trial;
use crate::problem::Problem;
use crate::suites::deps;

/// A baseline ready for helm.
pub(in crate::suites) struct Baseline {
    /// The unpacked chart, named as the trial's (`rel_dir`) so messages name the
    /// user's files.
    pub chart: Chart,
    /// Where helm installs it from: the unpacked chart or its built copy.
    pub helm_dir: PathBuf,
    /// `origin/main (1a2b3c4)`, `git:kvstore-1.0.0 (1a2b3c4)`.
    pub source: String,
    pub version: String,
    /// The git tree id of the chart's directory at the baseline's commit.
    pub digest: String,
}

/// Why there is no baseline.
pub(in crate::suites) enum NoBaseline {
    /// The chart did not exist there: nothing to upgrade from (not run).
    NewChart(String),
    /// It could not be fetched or built: a failure, unless `baseline-failure: ignore`.
    Unavailable(Problem),
}

pub(in crate::suites) async fn resolve(
    spec: &BaselineSpec,
    trial: &Trial,
    ctx: &SuiteContext,
) -> Result<Baseline, NoBaseline> {
    let chart = &trial.chart;
    let git = &ctx.tools.git;
    let unavailable = |message: String| NoBaseline::Unavailable(Problem::new(message));
    let (commit, source) = match spec {
        BaselineSpec::Repo(_) | BaselineSpec::Oci(_) => {
            return published::resolve(spec, trial, ctx).await;
        }
        BaselineSpec::Git => {
            let changes = ctx
                .shared
                .changes
                .get(&ctx.repo_root, &ctx.config, git)
                .await
                .map_err(|message| {
                    unavailable(format!(
                        "the `git` baseline is the chart at the merge-base: {message}; or set `baseline: git:<ref>` in {}/ci/harness.yaml",
                        chart.rel_dir.display()
                    ))
                })?;
            let base = &changes.base;
            (
                base.commit.clone(),
                format!("{} ({})", base.against, changed::short(&base.commit)),
            )
        }
        BaselineSpec::GitRef(reference) => {
            let commit = changed::commit_of(&ctx.repo_root, git, reference)
                .await
                .map_err(|error| unavailable(error.to_string()))?
                .ok_or_else(|| {
                    unavailable(format!(
                        "baseline `{spec}`: the git ref `{reference}` does not exist in {}; fetch it (`git fetch --tags`) or fix `baseline` in {}/ci/harness.yaml or the config",
                        ctx.repo_root.display(),
                        chart.rel_dir.display()
                    ))
                })?;
            let shown = format!("{spec} ({})", changed::short(&commit));
            (commit, shown)
        }
    };
    let scratch = ctx.config.report_dir.join("baselines");
    let dir = previous::materialise(&ctx.repo_root, git, &commit, &chart.rel_dir, &scratch)
        .await
        .map_err(|error| unavailable(error.to_string()))?
        .ok_or_else(|| {
            NoBaseline::NewChart(format!(
                "the chart is new since the baseline {source}: {} did not exist there, so there is nothing to upgrade from",
                chart.rel_dir.display()
            ))
        })?;
    let version = ChartFile::read(&dir)
        .map_err(|error| error.to_string())
        .and_then(|file| file.version.ok_or_else(|| "no `version`".to_string()))
        .map_err(|error| {
            unavailable(format!(
                "baseline {source}: {}/Chart.yaml: {error}",
                chart.rel_dir.display()
            ))
        })?;
    let digest = changed::tree_of(&ctx.repo_root, git, &commit, &chart.rel_dir)
        .await
        .map_err(|error| unavailable(error.to_string()))?;
    ready(dir, trial, ctx, source, version, digest).await
}

/// The baseline unpacked in `dir`, as a chart named as the trial's, its dependencies
/// built.
pub(super) async fn ready(
    dir: PathBuf,
    trial: &Trial,
    ctx: &SuiteContext,
    source: String,
    version: String,
    digest: String,
) -> Result<Baseline, NoBaseline> {
    let chart = &trial.chart;
    let unavailable = |message: String| NoBaseline::Unavailable(Problem::new(message));
    let cases = discovery::find_cases(&dir, ctx.config.values_files.as_deref())
        .map_err(|error| unavailable(error.to_string()))?;
    let baseline_chart = Chart {
        name: chart.name.clone(),
        chart_file: ChartYaml::of(&dir),
        dir,
        rel_dir: chart.rel_dir.clone(),
        cases,
        settings: chart.settings.clone(),
    };
    let helm_dir = deps::built_dir(&baseline_chart, ctx)
        .await
        .map_err(|problem| {
            unavailable(format!(
                "baseline {source}: its dependencies do not build: {}",
                problem.message
            ))
        })?;
    Ok(Baseline {
        chart: baseline_chart,
        helm_dir,
        source,
        version,
        digest,
    })
}
