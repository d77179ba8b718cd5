//! helm 3 and helm 4 behind one interface. Where their CLIs or outputs differ, this
//! module hides it.
//!
//! SKELETON: owned by the tools helper.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ProcessOutput, ToolError};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HelmMajor {
    #[serde(rename = "3")]
    V3,
    #[default]
    #[serde(rename = "4")]
    V4,
}

/// A resolved helm binary with an isolated home (config, cache and data directories),
/// so a run never reads or changes the user's repositories.
#[derive(Clone, Debug)]
pub struct Helm {
    pub path: PathBuf,
    pub version: semver::Version,
    pub major: HelmMajor,
    pub home: PathBuf,
}

/// Inputs shared by `helm lint` and `helm template`.
#[derive(Clone, Debug)]
pub struct RenderRequest<'a> {
    pub chart_dir: &'a Path,
    pub release: &'a str,
    pub namespace: &'a str,
    /// Applied in order with `-f`.
    pub values_files: &'a [PathBuf],
    /// Kubernetes version to render against, e.g. `1.37.2`.
    pub kube_version: Option<&'a str>,
    pub extra_args: &'a [String],
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmLintMessage {
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
    /// Path helm names, relative to the chart (`templates/`, `values.yaml`, ...).
    pub path: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct HelmLintReport {
    pub passed: bool,
    pub messages: Vec<HelmLintMessage>,
    pub output: ProcessOutput,
}

/// A render that helm refused, with the template file and line when helm names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderFailure {
    /// Template path relative to the chart directory, e.g. `templates/deployment.yaml`.
    pub template: Option<String>,
    pub line: Option<u64>,
    pub message: String,
}

impl Helm {
    /// `helm lint --strict` with the given values.
    pub async fn lint(&self, request: &RenderRequest<'_>) -> Result<HelmLintReport, ToolError> {
        let _ = request;
        todo!()
    }

    /// `helm template`; `Ok(Err(..))` when helm refused to render.
    pub async fn template(
        &self,
        request: &RenderRequest<'_>,
    ) -> Result<Result<String, RenderFailure>, ToolError> {
        let _ = request;
        todo!()
    }

    /// `helm dependency build`.
    pub async fn dependency_build(
        &self,
        chart_dir: &Path,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let _ = (chart_dir, timeout);
        todo!()
    }
}
