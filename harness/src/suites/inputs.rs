//! What a trial runs with, prepared once before its suite starts (nextest's `TestPacket`
//! is the model: "all information needed to run a single test attempt"), and what every
//! trial of a run shares, computed at most once per run.
//!
//! Suites read their inputs from here instead of deriving them again, so the values files
//! are written once, the target Kubernetes versions follow one rule, and the chart's
//! settings and timeout are looked up once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::lint::yamllint::YamllintConfig;
use super::render::RenderCache;
use super::{SuiteContext, ValuesFiles};
use crate::changed::RunChanges;
use crate::config::ChartSettings;
use crate::config::chart_settings::CHART_SETTINGS_FILE;
use crate::plan::{Suite, Trial};
use crate::problem::Problem;

/// Everything one trial runs with. Built by `run_trial` before the suite starts.
pub struct TrialInputs {
    /// The chart's `ci/harness.yaml`, or the defaults when it is invalid (`run_trial`
    /// reports an invalid file once, as the `chart-settings` phase).
    pub settings: ChartSettings,
    /// The case's values files in helm's `-f` order; a temporary file holding the
    /// settings' inline `values` lives as long as this packet.
    pub values: ValuesFiles,
    /// The Kubernetes versions this trial targets, never empty; see [`target_kube_versions`].
    pub kube_versions: Vec<String>,
    /// The chart's `timeout`, else the run's; it also bounds each process a suite starts.
    pub timeout: Duration,
    /// The directory helm is pointed at: the chart's own, or, once `run_trial` has built
    /// its dependencies, their scratch copy (`deps.rs`), so the user's tree is never
    /// written. Messages still name `chart.rel_dir`.
    pub chart_dir: PathBuf,
}

impl TrialInputs {
    /// How long helm commands and readiness waits of a cluster suite may take: the
    /// chart's own `readiness-timeout` is the most specific, then the repository-wide
    /// `--timeout` of ct's `helm-extra-args`, then the default.
    pub fn readiness_timeout(&self, config: &crate::config::HarnessConfig) -> Duration {
        self.settings
            .readiness_timeout
            .or(config.helm_timeout)
            .unwrap_or(crate::release::DEFAULT_READINESS_TIMEOUT)
    }

    /// The trial's release of `chart` (the trial's, or a baseline of it) from
    /// `chart_dir` in `namespace`: named after the chart, with the case's values files,
    /// ct's helm arguments and the readiness timeout.
    pub fn release<'a>(
        &self,
        ctx: &'a SuiteContext,
        cluster: &'a crate::cluster::ClusterAccess,
        kube: &'a crate::k8s::Kube,
        chart: &'a crate::discovery::Chart,
        chart_dir: &'a std::path::Path,
        namespace: &str,
    ) -> crate::release::ReleaseUnderTest<'a> {
        crate::release::ReleaseUnderTest {
            cluster,
            kube,
            helm: &ctx.tools.helm,
            chart,
            chart_dir,
            namespace: namespace.to_string(),
            name: chart.name.clone(),
            values_files: self.values.files.clone(),
            helm_extra_args: &ctx.config.helm_extra_args,
            helm_set_args: &ctx.config.helm_extra_set_args,
            timeout: self.readiness_timeout(&ctx.config),
        }
    }

    /// Prepares the inputs of `trial`. The error is the one problem that stops the trial:
    /// the inline values could not be written for helm, or a values file is not a
    /// regular file.
    pub fn prepare(trial: &Trial, ctx: &SuiteContext) -> Result<TrialInputs, Problem> {
        let chart = &trial.chart;
        let settings = chart.settings.clone().unwrap_or_default();
        let values = ValuesFiles::new(&chart.dir, trial.case.values_file.as_deref(), &settings)
            .map_err(|error| {
                Problem::in_file(
                    chart.rel_dir.join(CHART_SETTINGS_FILE),
                    format!(
                        "cannot write its inline `values` to a temporary file for helm: {error}; check that the temporary directory (TMPDIR) is writable"
                    ),
                )
            })?;
        // helm would wait forever on a values file that is a FIFO, and so would the
        // suites' own reads: refuse it before any suite starts.
        for file in values.files.iter().filter(|file| file.exists()) {
            if let Err(error) = crate::files::ensure_regular(file) {
                let shown = file.strip_prefix(&chart.dir).unwrap_or(file);
                return Err(Problem::in_file(
                    chart.rel_dir.join(shown),
                    format!("cannot be used as a values file: {error}"),
                ));
            }
        }
        let kube_versions = target_kube_versions(trial.id.suite, &settings, &ctx.kube_version);
        let timeout = ctx.trial_timeout(trial);
        Ok(TrialInputs {
            settings,
            values,
            kube_versions,
            timeout,
            chart_dir: chart.dir.clone(),
        })
    }

    /// The version a suite that targets one version uses: lint's, the cluster's.
    pub fn primary_kube_version(&self) -> &str {
        &self.kube_versions[0]
    }
}

/// The rule for which Kubernetes versions a trial targets, for every suite:
///
/// - A suite that installs into the run's cluster targets the cluster's version, the
///   run's `kube_version`: rendering for any other version would validate against an API
///   the cluster does not serve.
/// - Every other suite targets the chart's `kube-versions` from `ci/harness.yaml`, in
///   order, else the run's version. A suite that checks one version (lint) takes the
///   first; the template suite renders each.
pub fn target_kube_versions(
    suite: Suite,
    settings: &ChartSettings,
    run_version: &str,
) -> Vec<String> {
    if suite.needs_cluster() || settings.kube_versions.is_empty() {
        vec![run_version.to_string()]
    } else {
        settings.kube_versions.clone()
    }
}

/// What every trial of a run shares and computes at most once, whichever trial asks
/// first: the changes since the merge-base (git), and rendered manifests other suites
/// may reuse.
#[derive(Debug, Default)]
pub struct RunInputs {
    pub changes: RunChanges,
    pub renders: RenderCache,
    /// The yamllint configuration the session read (ct's default lintconf when built
    /// without a session, as in tests).
    pub yamllint: Arc<YamllintConfig>,
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::run_version_without_chart_versions(Suite::Lint, &[], &["1.37.2"])]
    #[case::lint_gets_the_chart_versions(Suite::Lint, &["1.31", "1.30.4"], &["1.31", "1.30.4"])]
    #[case::template_gets_the_chart_versions(Suite::Template, &["1.31", "1.30.4"], &["1.31", "1.30.4"])]
    #[case::template_without_chart_versions(Suite::Template, &[], &["1.37.2"])]
    #[case::cluster_suites_get_the_cluster_version(Suite::Integration, &["1.31"], &["1.37.2"])]
    fn one_rule_picks_the_kube_versions_of_every_suite(
        #[case] suite: Suite,
        #[case] chart_versions: &[&str],
        #[case] expected: &[&str],
    ) {
        let settings = ChartSettings {
            kube_versions: chart_versions.iter().map(|v| v.to_string()).collect(),
            ..ChartSettings::default()
        };
        assert_eq!(target_kube_versions(suite, &settings, "1.37.2"), expected);
    }
}
