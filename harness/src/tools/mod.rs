//! Every external process the harness runs: helm, git, go and the cluster tools.
//!
//! SKELETON: the tools helper owns this module and replaces every `todo!()`.

pub mod helm;
pub mod process;

use std::path::{Path, PathBuf};

pub use helm::{Helm, HelmLintMessage, HelmLintReport, HelmMajor, RenderFailure, RenderRequest};
pub use process::{ProcessOutput, ProcessSpec};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {timeout:?} and was killed")]
    TimedOut {
        command: String,
        timeout: std::time::Duration,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// The resolved tools of one run.
#[derive(Clone, Debug)]
pub struct Toolbox {
    pub helm: Helm,
    pub git: PathBuf,
}

impl Toolbox {
    /// Finds helm of the wanted major (flag/env, then `.tools/bin`, then PATH), checks
    /// its version against the pins, and finds git. `state_dir` holds helm's isolated
    /// config, cache and data directories.
    pub async fn resolve(
        repo_root: &Path,
        helm_major: HelmMajor,
        state_dir: &Path,
    ) -> Result<Toolbox, ToolError> {
        let _ = (repo_root, helm_major, state_dir);
        todo!()
    }
}

/// The Kubernetes version pinned in `ci/tools.toml`, which rendering targets by default.
pub fn pinned_kube_version(repo_root: &Path) -> Result<String, ToolError> {
    let _ = repo_root;
    todo!("tools helper: read from the pins")
}
