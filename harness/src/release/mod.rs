//! The release lifecycle on a cluster, shared by every cluster suite: a namespace that
//! is always cleaned up, prerequisites, a server-side dry-run, helm install, upgrade,
//! rollback, uninstall and test, waiting until ready, running a Job, exec in a pod,
//! diagnostics and the leftovers check.
//!
//! Operations are methods of [`ReleaseUnderTest`]. Each returns [`Timed`] so the suite
//! can record it as a phase, and typed errors that convert into [`Problem`]s naming
//! the chart file, what was expected and what to do. Nothing here records phases or
//! knows which suite runs it: the suites orchestrate, this layer acts.

pub mod data_steps;
pub mod diagnostics;
mod disaster;
mod dry_run;
mod exec;
mod helm_steps;
pub mod install_locks;
mod job;
mod leftovers;
mod namespace;
mod prerequisites;
mod ready;
pub mod rollout;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use data_steps::{StepEnv, StepError};
pub use disaster::{DisasterError, ScaledDown};
pub use dry_run::DryRunError;
pub use exec::{ExecError, ExecOutput};
pub use helm_steps::{HelmError, HelmTestError, HelmTestRun};
pub use install_locks::{HeldLocks, InstallLocks};
pub use job::{JobError, JobRun};
pub use leftovers::LeftoverError;
pub use namespace::{NamespaceError, NamespaceGuard, TrialNamespace};
pub use prerequisites::{PrerequisiteError, PrerequisiteReleases};
pub use ready::{ChaosError, ReadinessError, WorkloadWait};

use crate::cluster::{ClusterAccess, ClusterLease};
use crate::discovery::Chart;
use crate::k8s::{Kube, KubeError};
use crate::problem::Problem;
use crate::tools::Helm;
use crate::tools::helm::ReleaseTarget;

/// Readiness timeout when `ci/harness.yaml` sets no `readiness-timeout`.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(120);

/// How long uninstall, namespace deletion and CRD establishment may take.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// After one workload has failed for good, the others get this long to finish, so the
/// trial reports what else is (not) ready without waiting out the whole timeout.
const AFTER_FAILURE_GRACE: Duration = Duration::from_secs(5);

/// Most characters of helm output quoted in one problem.
const MAX_TOOL_OUTPUT: usize = 4000;

/// What an operation produced and how long it took.
#[derive(Debug)]
pub struct Timed<T> {
    pub value: T,
    pub elapsed: Duration,
}

/// Runs `future` and times it.
pub async fn timed<F: Future>(future: F) -> Timed<F::Output> {
    let started = Instant::now();
    let value = future.await;
    Timed {
        value,
        elapsed: started.elapsed(),
    }
}

/// Why a trial cannot reach the run's cluster.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no cluster was set up for this run; pass --cluster local (needs the binaries from `chart-harness tools install --all`), --cluster kind or --cluster existing"
    )]
    NoCluster,
    /// The lease's message: the acquisition's error, or a reference to where the run
    /// announced it once, which already says what to do.
    #[error("the run's cluster is not available: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Client(#[from] KubeError),
}

impl From<ConnectError> for Problem {
    fn from(error: ConnectError) -> Problem {
        Problem::new(error.to_string())
    }
}

/// The leased cluster and a client for it.
pub async fn connect(
    lease: Option<&ClusterLease>,
) -> Timed<Result<(ClusterAccess, Kube), ConnectError>> {
    timed(async {
        let lease = lease.ok_or(ConnectError::NoCluster)?;
        let access = lease.access().await.map_err(ConnectError::Unavailable)?;
        let kube = Kube::connect(&access.kubeconfig, access.context.as_deref()).await?;
        Ok((access, kube))
    })
    .await
}

/// One chart installed (or about to be) as one helm release in one namespace of one
/// cluster, with everything its operations share.
pub struct ReleaseUnderTest<'a> {
    pub cluster: &'a ClusterAccess,
    pub kube: &'a Kube,
    pub helm: &'a Helm,
    pub chart: &'a Chart,
    /// The directory helm installs from: the chart's, or its scratch copy with the
    /// dependencies built (`TrialInputs::chart_dir`).
    pub chart_dir: &'a Path,
    pub namespace: String,
    /// The helm release name.
    pub name: String,
    /// Applied in order with `-f` to install and upgrade.
    pub values_files: Vec<PathBuf>,
    /// ct's `helm-extra-args` (without `--timeout`): for install, upgrade and test.
    pub helm_extra_args: &'a [String],
    /// ct's `helm-extra-set-args`: for install and upgrade only.
    pub helm_set_args: &'a [String],
    /// How long helm commands and readiness may take (`readiness-timeout`).
    pub timeout: Duration,
}

impl ReleaseUnderTest<'_> {
    /// helm's address of `release` (this one or a prerequisite) in this namespace.
    fn target<'b>(&'b self, release: &'b str) -> ReleaseTarget<'b> {
        ReleaseTarget {
            kubeconfig: &self.cluster.kubeconfig,
            context: self.cluster.context.as_deref(),
            namespace: &self.namespace,
            release,
        }
    }

    /// A file of the chart as messages name it: relative to the repository root; the
    /// chart directory when the template is unknown.
    pub fn chart_file(&self, source: Option<&str>) -> PathBuf {
        let rel_dir = &self.chart.rel_dir;
        source.map_or_else(|| rel_dir.clone(), |source| rel_dir.join(source))
    }

    /// No container runs (local control plane): logs and exec are not real.
    pub fn pods_simulated(&self) -> bool {
        self.cluster.pods_simulated
    }
}

/// The string at `pointer` of a rendered object.
pub(crate) fn text_at<'v>(value: &'v serde_json::Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(serde_json::Value::as_str)
}

/// `text` cut to at most `max` bytes (on a character boundary), marked when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... {} more bytes cut]",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("short", 10, "short")]
    #[case("abcdef", 3, "abc\n[... 3 more bytes cut]")]
    #[case("aé", 2, "a\n[... 2 more bytes cut]")]
    fn long_output_is_cut_on_a_character_boundary(
        #[case] text: &str,
        #[case] max: usize,
        #[case] expected: &str,
    ) {
        assert_eq!(bounded(text, max), expected);
    }
}
