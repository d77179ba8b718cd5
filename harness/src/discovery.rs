//! Finds charts under the configured chart directories and their test cases.
//!
//! Pure: it reads files, never runs helm. SKELETON: owned by the config/discovery helper.

use std::path::PathBuf;

use crate::config::{ChartSettings, HarnessConfig};
use crate::plan::Suite;

/// One test case of a chart: a `ci/*-values.yaml` file, or `default` when there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    /// Absolute path of the case's values file; `None` for the implicit `default` case.
    pub values_file: Option<PathBuf>,
}

/// A chart found on disk.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The chart's directory name, which is also its trial name.
    pub name: String,
    /// Absolute path of the chart directory.
    pub dir: PathBuf,
    /// The chart directory relative to the repository root, used in messages.
    pub rel_dir: PathBuf,
    pub cases: Vec<Case>,
    /// `ci/harness.yaml`, or the message that explains why it is invalid. An invalid
    /// file fails this chart's trials instead of the whole run.
    pub settings: Result<ChartSettings, String>,
}

impl Chart {
    pub fn skips(&self, suite: Suite) -> bool {
        self.settings
            .as_ref()
            .is_ok_and(|settings| settings.skip.contains(&suite))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{0}")]
    Todo(String),
}

/// Discovers every chart under `config.chart_dirs`, sorted by name.
pub fn discover(
    config: &HarnessConfig,
    repo_root: &std::path::Path,
) -> Result<Vec<Chart>, DiscoveryError> {
    let _ = (config, repo_root);
    todo!()
}
