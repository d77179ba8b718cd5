//! Per-chart settings from `<chart>/ci/harness.yaml`.
//!
//! SKELETON: owned by the config/discovery helper.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::plan::Suite;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartSettings {
    /// Suites this chart opts out of.
    pub skip: Vec<Suite>,
    /// Per-trial timeout for this chart.
    pub timeout: Option<Duration>,
    /// Values merged into every case, after the case's own file.
    pub values: BTreeMap<String, serde_json::Value>,
    /// Extra values files, relative to the chart directory, applied after the case file.
    pub values_files: Vec<PathBuf>,
    /// Kubernetes versions to render against; the first one is snapshotted.
    pub kube_versions: Vec<String>,
}
