//! `helm pull` of a published chart: the upgrade suite's `repo:` and `oci://` baselines,
//! the highest version below the candidate's from a chart repository's `index.yaml` or
//! an OCI registry's tags.

use std::path::Path;
use std::time::Duration;

use super::ToolError;
use super::helm::Helm;
use super::process::{self, ProcessOutput};

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
            .args([
                "pull",
                chart,
                "--repo",
                repo_url,
                "--version",
                version,
                "--destination",
            ])
            .arg(dir);
        process::run(&spec).await
    }

    /// `helm pull <reference> --version <constraint> --destination <dir>` of an
    /// `oci://host/path/chart` reference; `plain_http` for a registry without TLS.
    pub async fn pull_from_registry(
        &self,
        reference: &str,
        version: &str,
        plain_http: bool,
        dir: &Path,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let mut spec = self
            .command(timeout)
            .args(["pull", reference, "--version", version, "--destination"])
            .arg(dir);
        if plain_http {
            spec = spec.arg("--plain-http");
        }
        process::run(&spec).await
    }
}
