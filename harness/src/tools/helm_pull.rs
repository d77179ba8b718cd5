//! `helm pull` of a published chart: the upgrade suite's `repo:` baseline, the highest
//! version below the candidate's from a chart repository's `index.yaml`.

use std::path::Path;
use std::time::Duration;

use super::helm::Helm;
use super::process::{self, ProcessOutput};
use super::ToolError;

impl Helm {
    /// `helm pull <chart> --repo <url> --version <constraint> --destination <dir>`: the
    /// packaged chart lands in `dir` (helm picks the highest version that meets the
    /// semver constraint, `<1.2.0` for example). A non-zero exit is the caller's.
    pub async fn pull_from_repo(
        &self,
        chart: &str,
        repo_url: &str,
        version: &str,
        dir: &Path,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let spec = self
            .command(timeout)
            .args(["pull", chart, "--repo", repo_url, "--version", version, "--destination"])
            .arg(dir);
        process::run(&spec).await
    }
}
