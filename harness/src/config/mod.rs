//! Run configuration: `chart-harness.yaml`, or chart-testing's `ct.yaml` when that is absent.
//!
//! SKELETON: the config/discovery helper owns this module and replaces every `todo!()`.

pub mod chart_settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use chart_settings::ChartSettings;

use crate::tools::HelmMajor;

/// Where the configuration came from; reports and warnings name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    Harness(PathBuf),
    ChartTesting(PathBuf),
    Defaults,
}

/// A chart repository that `helm dependency build` may need (`name=url` in ct).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartRepo {
    pub name: String,
    pub url: String,
}

/// The effective configuration of one run. Paths are absolute.
#[derive(Clone, Debug)]
pub struct HarnessConfig {
    pub chart_dirs: Vec<PathBuf>,
    pub excluded_charts: Vec<String>,
    pub target_branch: String,
    pub remote: String,
    pub since: Option<String>,
    pub check_version_increment: bool,
    pub validate_maintainers: bool,
    pub validate_chart_schema: bool,
    pub validate_yaml: bool,
    pub helm_extra_args: Vec<String>,
    pub helm_lint_extra_args: Vec<String>,
    pub chart_repos: Vec<ChartRepo>,
    pub upgrade: bool,
    pub skip_missing_values: bool,
    pub additional_commands: Vec<String>,
    pub use_helmignore: bool,
    pub github_groups: bool,
    /// Where JUnit, JSON and caches go (default `target/chart-harness`).
    pub report_dir: PathBuf,
    pub jobs: Option<usize>,
    pub helm_major: HelmMajor,
    /// Kubernetes version that `helm template` and `helm lint` target when a chart sets none.
    pub kube_version: Option<String>,
    /// Per-trial timeout when a chart sets none.
    pub trial_timeout: Duration,
}

/// A loaded configuration plus the warnings loading produced (for example ct keys
/// that have no meaning here), each to be shown once.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub repo_root: PathBuf,
    pub source: ConfigSource,
    pub config: HarnessConfig,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Todo(String),
}

/// Loads `chart-harness.yaml`, else `ct.yaml`, else defaults, from `repo_root`.
pub fn load(repo_root: &Path) -> Result<LoadedConfig, ConfigError> {
    let _ = repo_root;
    todo!()
}
