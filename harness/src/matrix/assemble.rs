//! Gathers a plan's input from the session: the commit, the Kubernetes versions and
//! their node images, each chart's constraints and trials. Reads files and asks git for
//! the commit; never runs helm or touches a cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Plan, PlanError, PlanInput, PlannedChart, versions};
use crate::discovery::Chart;
use crate::plan::{self, Suite};
use crate::session::Session;
use crate::tools;

/// What the command line asks of a plan.
pub struct PlanRequest {
    pub suites: Vec<Suite>,
    /// `--kube-versions`, over the config's `kube-versions`.
    pub kube_versions: Option<Vec<String>>,
    /// How the charts were chosen, for the plan's `selection`.
    pub selection: String,
    pub plan_file: String,
    /// `--config FILE`, handed on to the cells' command lines.
    pub config_file: Option<String>,
    pub reports_root: String,
}

/// The plan of `charts` at the repository's current commit.
pub async fn plan(
    session: &Session,
    charts: &[Arc<Chart>],
    request: PlanRequest,
) -> anyhow::Result<Plan> {
    let git = tools::find_git()?;
    let commit = crate::changed::commit_of(session.repo_root(), &git, "HEAD")
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no commit: a plan is made at a commit so every cell runs the same code; commit first",
                session.repo_root().display()
            )
        })?;
    let config = &session.loaded.config;
    let kube_versions = match request.kube_versions {
        Some(versions) => crate::config::release_settings::kube_versions(versions)
            .map_err(|message| anyhow::anyhow!("--kube-versions: {message}"))?,
        None if !config.kube_versions.is_empty() => config.kube_versions.clone(),
        None => vec![session.kube_version()?],
    };
    let mut charts: Vec<Arc<Chart>> = charts.to_vec();
    charts.sort_by(|a, b| a.name.cmp(&b.name));
    let (cluster_suites, free_suites): (Vec<Suite>, Vec<Suite>) = request
        .suites
        .iter()
        .partition(|suite| suite.needs_cluster());
    let mut notes = Vec::new();
    let mut planned = Vec::new();
    for chart in &charts {
        // A cell id becomes a directory, an artifact name and a word of a command line
        // a workflow runs: only characters that are safe in all three.
        if !chart
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            anyhow::bail!(
                "chart `{}` ({}): its name has characters a cell id cannot hold (it names a directory, an artifact and a word of the cell's command line); rename the chart directory to lowercase letters, digits and dashes, as helm recommends",
                chart.name,
                chart.rel_dir.display()
            );
        }
        let cluster_trials = plan::plan(std::slice::from_ref(chart), &cluster_suites);
        let (kept, said) = chart_versions(chart, &kube_versions);
        notes.extend(said);
        let runs = cluster_trials.iter().any(|trial| trial.skipped.is_none());
        if runs && kept.is_empty() {
            anyhow::bail!(
                "chart `{}` ({}) runs on none of the plan's Kubernetes versions ({}); add one it supports to `kube-versions` or --kube-versions",
                chart.name,
                chart.rel_dir.join("Chart.yaml").display(),
                kube_versions.join(", ")
            );
        }
        planned.push(PlannedChart {
            name: chart.name.clone(),
            kube_versions: kept,
            cluster_trials,
        });
    }
    let mut node_images = BTreeMap::new();
    let used: Vec<&String> = kube_versions
        .iter()
        .filter(|version| {
            planned.iter().any(|chart| {
                chart.kube_versions.contains(version)
                    && chart.cluster_trials.iter().any(|t| t.skipped.is_none())
            })
        })
        .collect();
    for version in used {
        node_images.insert(version.clone(), node_image(session, version)?);
    }
    Ok(super::build(PlanInput {
        commit,
        selection: request.selection,
        kube_versions,
        node_images,
        charts: planned,
        suites: request.suites,
        cluster_free_trials: plan::plan(&charts, &free_suites),
        plan_file: request.plan_file,
        config_file: request.config_file,
        reports_root: request.reports_root,
        notes,
    })?)
}

/// The versions of `configured` that `chart` runs on, by its Chart.yaml `kubeVersion`
/// and its `ci/harness.yaml` `kube-versions` (see [`versions::for_chart`]), with a note
/// for each left out.
pub fn chart_versions(chart: &Chart, configured: &[String]) -> (Vec<String>, Vec<String>) {
    let constraint_text = chart
        .chart_file
        .get()
        .as_ref()
        .ok()
        .and_then(|file| file.kube_version.clone());
    // A malformed constraint is lint's finding; the plan runs every version.
    let constraint = constraint_text
        .as_deref()
        .and_then(|text| Some((text, crate::kube_version::parse(text).ok()?)));
    let listed = chart
        .settings
        .as_ref()
        .map(|settings| settings.kube_versions.clone())
        .unwrap_or_default();
    versions::for_chart(
        &chart.name,
        configured,
        constraint.as_ref().map(|(text, c)| (*text, c)),
        &listed,
    )
}

/// `kind-node-images` (the version, else its minor), else the built-in map.
fn node_image(session: &Session, version: &str) -> Result<String, PlanError> {
    let config = &session.loaded.config;
    let configured = config.kind_node_images.get(version).or_else(|| {
        config
            .kind_node_images
            .iter()
            .find(|(key, _)| versions::minor(key) == versions::minor(version))
            .map(|(_, image)| image)
    });
    if let Some(image) = configured {
        return Ok(image.clone());
    }
    let built_in =
        crate::cluster::kind::NodeImages::built_in().map_err(|error| PlanError::NoNodeImage {
            version: version.to_string(),
            message: error.to_string(),
        })?;
    built_in
        .image_for(version)
        .map(str::to_string)
        .ok_or_else(|| PlanError::NoNodeImage {
            version: version.to_string(),
            message: format!(
                "the built-in map has {}; map it in `kind-node-images` in {}, or leave it out of the versions",
                built_in.images.keys().cloned().collect::<Vec<_>>().join(", "),
                config
                    .config_file
                    .as_deref()
                    .map(|file| file.display().to_string())
                    .unwrap_or_else(|| "chart-harness.yaml".into())
            ),
        })
}
