//! Kubernetes clusters for the suites that install charts: one cluster per run, behind
//! one trait, so a suite never knows whether it talks to a simulated control plane, a
//! kind cluster or the user's own cluster.
//!
//! - [`local`]: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler
//!   started by kwokctl's binary runtime, with nodes and pods simulated by kwok. It
//!   needs no Docker and no image, so it is the default wherever kind's node image cannot
//!   be had (see [`detect_default`]).
//! - [`kind`]: real nodes in Docker containers, created from `kind-configs/`, on a node
//!   image chosen by [`node_image`] and made present by [`docker`] before kind runs.
//! - [`existing`]: a kubeconfig and context the user gives; never deleted.
//!
//! Every provider returns a [`ClusterHandle`]. Its teardown always runs: explicitly
//! through [`ClusterHandle::teardown`], or synchronously in `Drop` when a panic or an
//! early return skipped it.

pub mod docker;
pub mod existing;
pub mod kind;
mod kind_services;
pub mod kubeconfig;
mod lease;
pub mod local;
pub mod node_image;
mod owner;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::tools::ToolError;
use crate::tools::process::{self, ProcessSpec};

pub use existing::ExistingProvider;
pub use kind::{KindConfigChoice, KindConfigName, KindProvider};
pub use lease::{ANNOUNCED_FAILURE, ClusterAccess, ClusterLease, LeaseEvent};
pub use local::{LocalBinaries, LocalProvider};
pub use node_image::{NODE_IMAGE_ENV, NodeImage, NodeImageSource};
pub use owner::prune;

/// The environment variable that picks a provider when no `--cluster` flag is given.
pub const CLUSTER_ENV: &str = "CHART_HARNESS_CLUSTER";

/// Which provider makes the run's cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Local,
    Kind,
    Existing,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Local,
        ProviderKind::Kind,
        ProviderKind::Existing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::Kind => "kind",
            ProviderKind::Existing => "existing",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ClusterError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let wanted = value.trim().to_ascii_lowercase();
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == wanted)
            .ok_or_else(|| ClusterError::UnknownProvider {
                value: value.to_string(),
            })
    }
}

/// Everything that can go wrong while making, probing or removing a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "unknown cluster provider `{value}`: use one of local, kind, existing (flag --cluster or {CLUSTER_ENV})"
    )]
    UnknownProvider { value: String },
    #[error(
        "the local control plane is missing {}: run `chart-harness tools install --all` (or set \
         CHART_HARNESS_CLUSTER_BIN_DIR to a directory holding kwokctl, kwok, etcd, kube-apiserver, \
         kube-controller-manager, kube-scheduler and kubectl, with kwok's stage files in \
         ../share/kwok/stages next to it)",
        missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    MissingBinaries { missing: Vec<PathBuf> },
    #[error("{provider} cluster `{name}`: {step} failed: {source}")]
    Tool {
        provider: ProviderKind,
        name: String,
        step: &'static str,
        // Boxed: a ToolError is large, and every cluster result would carry its size.
        #[source]
        source: Box<ToolError>,
    },
    #[error(
        "{provider} cluster `{name}`: the API server did not become ready within {timeout:?}; last answer: {last}"
    )]
    NotReady {
        provider: ProviderKind,
        name: String,
        timeout: Duration,
        last: String,
    },
    #[error(
        "{provider} cluster `{name}`: {service} did not become available within {timeout:?} after the cluster started; last state: {last}"
    )]
    ServiceNotReady {
        provider: ProviderKind,
        name: String,
        service: String,
        timeout: Duration,
        last: String,
    },
    #[error(
        "local cluster `{name}`: {component} exited while starting; the end of its log:\n{log_tail}"
    )]
    ComponentExited {
        name: String,
        component: &'static str,
        log_tail: String,
    },
    #[error(
        "local cluster `{name}`: the API server reports {found}, but the pinned version is {pinned}; \
         rebuild the Kubernetes binaries with `chart-harness tools install` (its -ldflags set the version)"
    )]
    WrongServerVersion {
        name: String,
        found: String,
        pinned: String,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kind config {}: {message}; fix the file (kind's v1alpha4 Cluster shape)", path.display())]
    KindConfig { path: PathBuf, message: String },
    #[error("kind node image `{image}` ({origin}) is not usable: {message}")]
    BadImage {
        image: String,
        origin: String,
        message: String,
    },
    #[error(
        "the kind node image {image} is not present in the local Docker and cannot be pulled: {reason}; \
         build a node image where nothing can be pulled (`kind build node-image`, or \
         chart-harness's own offline recipe `ci/kind-node/build.sh`) and name it with \
         --kind-node-image or {NODE_IMAGE_ENV}, or use --cluster local"
    )]
    NodeImageUnavailable { image: String, reason: String },
    #[error(
        "kind cluster `{name}`: image `{image}` listed in `images:` is not in the local Docker ({reason}); \
         build it first (for example `docker build -t {image} .`), or remove it from `images:`"
    )]
    ImageNotBuilt {
        name: String,
        image: String,
        reason: String,
    },
    #[error(
        "kind cluster `{name}`: `kind load docker-image {image}` (from `images:`) failed: {reason}"
    )]
    ImageLoad {
        name: String,
        image: String,
        reason: String,
    },
    #[error("kubeconfig {}: {message}", path.display())]
    Kubeconfig { path: PathBuf, message: String },
    #[error(
        "the record of cluster `{name}` is not acted on: {problem}; it was not written by chart-harness, so remove the cluster and the record by hand"
    )]
    ForeignRecord { name: String, problem: String },
    #[error("{provider} cluster `{name}`: teardown left {what}; remove it by hand")]
    Leftover {
        provider: ProviderKind,
        name: String,
        what: String,
    },
}

/// What a suite asks of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterRequest {
    /// Prefix of the unique cluster name, so leftovers are recognisable (`chart-harness`).
    pub name_prefix: String,
    /// Worker nodes wanted. The local provider creates this many simulated nodes; kind
    /// takes its nodes from its config file instead.
    pub nodes: u32,
    /// How long the cluster may take until its API answers `/readyz`.
    pub ready_timeout: Duration,
}

impl Default for ClusterRequest {
    fn default() -> Self {
        ClusterRequest {
            name_prefix: "chart-harness".to_string(),
            nodes: 2,
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// Makes clusters. One implementation per provider; [`AnyProvider`] picks one at run time.
///
/// `acquire` returns a `Send` future so a handle can be acquired from any task of the
/// multi-threaded runtime.
pub trait ClusterProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// What [`ClusterProvider::acquire`] will make, in one line, said before it starts
    /// so a person knows what the wait is for: the provider, the Kubernetes version
    /// and whether pods are simulated. Reads nothing and starts nothing.
    fn intent(&self, request: &ClusterRequest) -> String;

    fn acquire(
        &self,
        request: &ClusterRequest,
    ) -> impl Future<Output = Result<ClusterHandle, ClusterError>> + Send;
}

/// The provider chosen for this run.
#[derive(Clone, Debug)]
pub enum AnyProvider {
    Local(LocalProvider),
    Kind(KindProvider),
    Existing(ExistingProvider),
}

impl ClusterProvider for AnyProvider {
    fn kind(&self) -> ProviderKind {
        match self {
            AnyProvider::Local(p) => p.kind(),
            AnyProvider::Kind(p) => p.kind(),
            AnyProvider::Existing(p) => p.kind(),
        }
    }

    fn intent(&self, request: &ClusterRequest) -> String {
        match self {
            AnyProvider::Local(p) => p.intent(request),
            AnyProvider::Kind(p) => p.intent(request),
            AnyProvider::Existing(p) => p.intent(request),
        }
    }

    async fn acquire(&self, request: &ClusterRequest) -> Result<ClusterHandle, ClusterError> {
        match self {
            AnyProvider::Local(p) => p.acquire(request).await,
            AnyProvider::Kind(p) => p.acquire(request).await,
            AnyProvider::Existing(p) => p.acquire(request).await,
        }
    }
}

/// A cluster in use. Removing it is the handle's job, whatever happens to the run.
#[derive(Debug)]
pub struct ClusterHandle {
    provider: ProviderKind,
    name: String,
    kubeconfig: PathBuf,
    context: Option<String>,
    description: String,
    pods_simulated: bool,
    cleanup: Option<PendingCleanup>,
}

/// What a handle must undo. `None` on the handle means nothing (an existing cluster).
#[derive(Debug)]
enum Cleanup {
    Local(local::LocalCleanup),
    Kind(kind::KindCleanup),
}

impl Cleanup {
    /// Removes the cluster; its owner record goes last, and only when nothing is left,
    /// so that a later prune retries a teardown that failed.
    async fn run(self) -> Result<(), ClusterError> {
        let name = self.name().to_string();
        let result = match self {
            Cleanup::Local(cleanup) => cleanup.run().await,
            Cleanup::Kind(cleanup) => cleanup.run().await,
        };
        if result.is_ok() {
            owner::OwnerRecord::remove(&name);
        }
        result
    }

    fn name(&self) -> &str {
        match self {
            Cleanup::Local(cleanup) => cleanup.name(),
            Cleanup::Kind(cleanup) => cleanup.name(),
        }
    }

    /// Who owns the cluster and where it lives, for the next run to find if this
    /// process is killed.
    fn owner_record(&self, owner: Option<owner::Owner>) -> owner::OwnerRecord {
        match self {
            Cleanup::Local(cleanup) => owner::OwnerRecord {
                provider: ProviderKind::Local,
                name: cleanup.name().to_string(),
                owner,
                kubeconfig: cleanup.kubeconfig(),
                workdir: Some(cleanup.workdir().to_path_buf()),
            },
            Cleanup::Kind(cleanup) => owner::OwnerRecord {
                provider: ProviderKind::Kind,
                name: cleanup.name().to_string(),
                owner,
                kubeconfig: cleanup.kubeconfig().to_path_buf(),
                workdir: None,
            },
        }
    }
}

/// Cleanups of handles not torn down yet. `Drop` does not run when the process exits
/// on SIGINT, SIGTERM or SIGHUP, so the signal handler calls [`teardown_all`], which finds every
/// live cluster here.
static PENDING: Mutex<BTreeMap<u64, Cleanup>> = Mutex::new(BTreeMap::new());
static NEXT_CLEANUP: AtomicU64 = AtomicU64::new(0);

/// A handle's claim on its entry in [`PENDING`].
#[derive(Debug)]
struct PendingCleanup(u64);

impl PendingCleanup {
    /// Owns `cleanup` for this process, and records this process as the cluster's
    /// owner on disk before anything of it starts.
    fn register(cleanup: Cleanup) -> Result<PendingCleanup, ClusterError> {
        cleanup.owner_record(owner::Owner::current()).write()?;
        let id = NEXT_CLEANUP.fetch_add(1, Ordering::Relaxed);
        pending().insert(id, cleanup);
        Ok(PendingCleanup(id))
    }

    /// The cleanup, unless [`teardown_all`] already took it.
    fn take(self) -> Option<Cleanup> {
        pending().remove(&self.0)
    }
}

fn pending() -> std::sync::MutexGuard<'static, BTreeMap<u64, Cleanup>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tears down every cluster whose handle has not been torn down, for signal handlers
/// on the way out. The handles stay valid; their own teardown then does nothing.
pub async fn teardown_all() -> Vec<ClusterError> {
    let cleanups = std::mem::take(&mut *pending());
    let mut errors = Vec::new();
    for cleanup in cleanups.into_values() {
        if let Err(error) = cleanup.run().await {
            errors.push(error);
        }
    }
    errors
}

impl ClusterHandle {
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// The cluster's name (kwokctl or kind name; the context name for `existing`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Kubeconfig to pass to helm and kube clients.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The context to use inside [`Self::kubeconfig`]; `None` means its current context.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// One line for the run's output: provider, name, version and what is simulated.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// True on the local control plane: pods are scheduled and marked running by kwok,
    /// but no container runs, so nothing inside a pod (probes, `helm test` commands,
    /// logs) is real.
    pub fn pods_simulated(&self) -> bool {
        self.pods_simulated
    }

    /// Removes the cluster and everything the provider made for it (processes, work
    /// directory, kubeconfig). A no-op for an existing cluster.
    pub async fn teardown(mut self) -> Result<(), ClusterError> {
        match self.cleanup.take().and_then(PendingCleanup::take) {
            Some(cleanup) => cleanup.run().await,
            None => Ok(()),
        }
    }
}

impl Drop for ClusterHandle {
    /// The safety net for panics and early returns: `Drop` cannot await, and may run
    /// inside a runtime that cannot be blocked, so the teardown runs to completion on a
    /// thread of its own with a small runtime.
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take().and_then(PendingCleanup::take) else {
            return;
        };
        let name = self.name.clone();
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| runtime.block_on(cleanup.run()).map_err(|e| e.to_string()))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                tracing::error!(cluster = %name, "teardown on drop failed: {message}")
            }
            Err(_) => tracing::error!(cluster = %name, "teardown on drop panicked"),
        }
    }
}

/// A cluster handed to other processes: nextest's setup script starts one cluster
/// (`chart-harness cluster up`), every test process uses it through `KUBECONFIG`, and
/// CI's teardown step removes it (`chart-harness cluster down`) from this record.
///
/// The record names no program: the teardown runs the kwokctl or kind the harness
/// resolves itself, and acts only on paths that are ours (the record lives in the report
/// directory, which a repository's own config chooses).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DetachedCluster {
    pub provider: ProviderKind,
    pub name: String,
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    pub description: String,
    pub pods_simulated: bool,
    /// The local cluster's work directory.
    workdir: Option<PathBuf>,
}

/// The programs a detached cluster's teardown may run, as this harness resolves them.
#[derive(Debug, Default)]
pub struct TeardownTools {
    pub kwokctl: Option<PathBuf>,
    pub kind: Option<PathBuf>,
}

impl ClusterHandle {
    /// Leaves the cluster running past this handle and this process; the returned
    /// record is what tears it down later.
    pub fn detach(mut self) -> DetachedCluster {
        let workdir = self
            .cleanup
            .take()
            .and_then(PendingCleanup::take)
            .and_then(|cleanup| {
                // Nobody owns it now: prune leaves it to `cluster down`.
                if let Err(error) = cleanup.owner_record(None).write() {
                    tracing::warn!("{error}");
                }
                match cleanup {
                    Cleanup::Local(cleanup) => Some(cleanup.workdir().to_path_buf()),
                    Cleanup::Kind(_) => None,
                }
            });
        DetachedCluster {
            provider: self.provider,
            name: self.name.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            description: self.description.clone(),
            pods_simulated: self.pods_simulated,
            workdir,
        }
    }
}

impl DetachedCluster {
    /// Whether the cluster's files are still there; a record whose cluster is gone is
    /// stale.
    pub fn is_present(&self) -> bool {
        match self.provider {
            ProviderKind::Existing => false,
            _ => self.kubeconfig.exists(),
        }
    }

    /// Removes the cluster, its processes, work directory and kubeconfig.
    pub async fn teardown(self, tools: &TeardownTools) -> Result<(), ClusterError> {
        if self.provider == ProviderKind::Existing {
            return Ok(());
        }
        let record = owner::OwnerRecord {
            provider: self.provider,
            name: self.name.clone(),
            owner: None,
            kubeconfig: self.kubeconfig.clone(),
            workdir: self.workdir.clone(),
        };
        record
            .validate()
            .map_err(|problem| ClusterError::ForeignRecord {
                name: self.name.clone(),
                problem,
            })?;
        let cleanup = match (self.provider, self.workdir, tools) {
            (
                ProviderKind::Local,
                Some(workdir),
                TeardownTools {
                    kwokctl: Some(kwokctl),
                    ..
                },
            ) => Cleanup::Local(local::LocalCleanup::reattach(
                kwokctl.clone(),
                self.name,
                workdir,
            )),
            // Without kwokctl, killing the components and removing the directory is
            // all a local cluster needs.
            (ProviderKind::Local, Some(workdir), _) => {
                return local::remove_orphan(&workdir)
                    .await
                    .map(|()| owner::OwnerRecord::remove(&self.name))
                    .map_err(|what| ClusterError::Leftover {
                        provider: ProviderKind::Local,
                        name: self.name,
                        what,
                    });
            }
            (
                ProviderKind::Kind,
                _,
                TeardownTools {
                    kind: Some(kind), ..
                },
            ) => Cleanup::Kind(kind::KindCleanup::reattach(
                kind.clone(),
                self.name,
                self.kubeconfig,
            )),
            _ => {
                return Err(ClusterError::Leftover {
                    provider: self.provider,
                    name: self.name.clone(),
                    what: format!(
                        "the cluster, because kind is not installed here (run `kind delete cluster --name {}`)",
                        self.name
                    ),
                });
            }
        };
        cleanup.run().await
    }
}

/// A cluster name no other run uses: the prefix, the process id and a random suffix.
/// kind and kwokctl both need DNS-label-like names, so only `[a-z0-9-]` is used and the
/// result stays under kind's limit.
pub fn unique_name(prefix: &str) -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "ch" } else { clean };
    format!("{clean}-{}-{:06x}", std::process::id(), random & 0xff_ffff)
}

/// Picks the provider the user asked for: the `--cluster` flag, then the
/// `CHART_HARNESS_CLUSTER` variable, then the config file. `None` means nobody asked and
/// [`detect_default`] decides.
pub fn requested_kind(
    flag: Option<ProviderKind>,
    env_value: Option<&str>,
    config: Option<ProviderKind>,
) -> Result<Option<ProviderKind>, ClusterError> {
    if flag.is_some() {
        return Ok(flag);
    }
    match env_value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => value.parse().map(Some),
        None => Ok(config),
    }
}

/// The provider picked when nobody asked for one, and why, in words for the run's
/// output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultChoice {
    pub kind: ProviderKind,
    pub reason: String,
}

impl DefaultChoice {
    /// The one line a run prints about it.
    pub fn line(&self) -> String {
        let what = match self.kind {
            ProviderKind::Kind => "kind (real nodes in Docker containers)",
            _ => "the local control plane (pods are simulated by kwok)",
        };
        format!("cluster: {what}, because {}", self.reason)
    }
}

/// How far the probes for kind got: each stops at the first thing that does not work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultProbe {
    /// `docker info` failed; its short reason.
    NoDocker(String),
    /// kind is not installed, or `kind version` failed.
    NoKind(String),
    /// No node image could be chosen (a Kubernetes version the built-in map lacks).
    NoImage(String),
    /// The node image, and whether it is present (or was pulled) or why it is not.
    Image {
        image: NodeImage,
        available: Result<docker::Availability, String>,
    },
}

/// kind only when Docker and kind work and the node image is here (or was just
/// pulled); otherwise the local control plane, which needs no image. Pure, so every
/// case is tested without Docker.
pub fn decide_default(probe: &DefaultProbe) -> DefaultChoice {
    let local = |reason: String| DefaultChoice {
        kind: ProviderKind::Local,
        reason,
    };
    let ask = format!("set {NODE_IMAGE_ENV} or pass --cluster");
    match probe {
        DefaultProbe::NoDocker(reason) => local(format!(
            "Docker does not work here (`docker info`: {reason})"
        )),
        DefaultProbe::NoKind(reason) => local(format!(
            "kind does not work here ({reason}); install it with `chart-harness tools install kind`, or pass --cluster"
        )),
        DefaultProbe::NoImage(reason) => {
            local(format!("no kind node image is known: {reason}; {ask}"))
        }
        DefaultProbe::Image {
            image,
            available: Err(reason),
        } => local(format!(
            "the kind node image {} is not present and cannot be pulled: {reason}; {ask}",
            image.describe()
        )),
        DefaultProbe::Image {
            image,
            available: Ok(how),
        } => DefaultChoice {
            kind: ProviderKind::Kind,
            reason: format!(
                "Docker and kind work and the node image {} {}",
                image.describe(),
                match how {
                    docker::Availability::Present => "is present",
                    docker::Availability::Pulled => "was pulled",
                }
            ),
        },
    }
}

/// The default provider (see [`decide_default`]), probing in order and stopping at the
/// first that fails: `docker info`, `kind version`, then the node image `image` is
/// present (`docker image inspect`) or can be pulled (`docker pull`, bounded).
/// `docker` and `kind` are program names or paths; `kind` is `None` when not installed.
pub async fn detect_default(
    docker: &Path,
    kind: Option<&Path>,
    image: Result<NodeImage, ClusterError>,
    pull_timeout: Duration,
) -> DefaultChoice {
    decide_default(&probe_default(docker, kind, image, pull_timeout).await)
}

async fn probe_default(
    docker: &Path,
    kind: Option<&Path>,
    image: Result<NodeImage, ClusterError>,
    pull_timeout: Duration,
) -> DefaultProbe {
    let probe_timeout = Duration::from_secs(15);
    if let Err(reason) = probe(ProcessSpec::new(docker, probe_timeout).arg("info")).await {
        return DefaultProbe::NoDocker(reason);
    }
    let Some(kind) = kind else {
        return DefaultProbe::NoKind("kind is not installed".to_string());
    };
    if let Err(reason) = probe(ProcessSpec::new(kind, probe_timeout).arg("version")).await {
        return DefaultProbe::NoKind(format!("`kind version`: {reason}"));
    }
    let image = match image {
        Ok(image) => image,
        Err(error) => return DefaultProbe::NoImage(error.to_string()),
    };
    let available = docker::ensure_present(docker, &image.image, pull_timeout).await;
    DefaultProbe::Image { image, available }
}

/// Runs a probe; a failure is its short reason.
async fn probe(spec: ProcessSpec) -> Result<(), String> {
    match process::run(&spec).await {
        Ok(output) if output.success() => Ok(()),
        Ok(output) => Err(docker::short_reason(&output.stderr)),
        Err(error) => Err(docker::short_reason(&error.to_string())),
    }
}

/// Writes `contents` to a new file that only the owner can read: kubeconfigs carry
/// client keys.
fn private_temp_file(prefix: &str) -> Result<tempfile::TempPath, ClusterError> {
    let file = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".kubeconfig")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile()
        .map_err(|source| ClusterError::Io {
            action: "create a temporary kubeconfig in",
            path: std::env::temp_dir(),
            source,
        })?;
    Ok(file.into_temp_path())
}

/// Makes sure a kubeconfig a tool has (re)written is still private to the owner.
fn restrict_to_owner(path: &Path) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        ClusterError::Io {
            action: "restrict the permissions of",
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("local", ProviderKind::Local)]
    #[case("KIND", ProviderKind::Kind)]
    #[case(" existing ", ProviderKind::Existing)]
    fn provider_names_parse(#[case] text: &str, #[case] expected: ProviderKind) {
        assert_eq!(text.parse::<ProviderKind>().unwrap(), expected);
    }

    #[test]
    fn unknown_provider_names_the_choices() {
        let message = "minikube".parse::<ProviderKind>().unwrap_err().to_string();
        assert!(message.contains("`minikube`"), "{message}");
        assert!(message.contains("local, kind, existing"), "{message}");
    }

    #[rstest]
    #[case(
        Some(ProviderKind::Kind),
        Some("local"),
        Some(ProviderKind::Existing),
        Some(ProviderKind::Kind)
    )]
    #[case(
        None,
        Some("local"),
        Some(ProviderKind::Existing),
        Some(ProviderKind::Local)
    )]
    #[case(
        None,
        Some("  "),
        Some(ProviderKind::Existing),
        Some(ProviderKind::Existing)
    )]
    #[case(None, None, None, None)]
    fn flag_beats_env_beats_config(
        #[case] flag: Option<ProviderKind>,
        #[case] env: Option<&str>,
        #[case] config: Option<ProviderKind>,
        #[case] expected: Option<ProviderKind>,
    ) {
        assert_eq!(requested_kind(flag, env, config).unwrap(), expected);
    }

    #[test]
    fn a_bad_env_value_is_an_error_not_a_default() {
        assert!(matches!(
            requested_kind(None, Some("docker"), None),
            Err(ClusterError::UnknownProvider { .. })
        ));
    }

    #[test]
    fn unique_names_are_dns_labels_and_differ() {
        let first = unique_name("Chart Harness_CI");
        let second = unique_name("Chart Harness_CI");
        assert_ne!(first, second);
        for name in [&first, &second] {
            assert!(name.starts_with("chart-harness-ci-"), "{name}");
            assert!(name.len() <= 45, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }

    fn node_image(image: &str) -> NodeImage {
        NodeImage {
            image: image.to_string(),
            source: NodeImageSource::BuiltIn("1.37.2".to_string()),
        }
    }

    #[rstest]
    #[case::no_docker(
        DefaultProbe::NoDocker("Cannot connect to the Docker daemon".into()),
        ProviderKind::Local,
        &["Docker does not work here", "Cannot connect"]
    )]
    #[case::docker_but_no_kind(
        DefaultProbe::NoKind("kind is not installed".into()),
        ProviderKind::Local,
        &["kind does not work here", "tools install kind"]
    )]
    #[case::no_image_for_the_version(
        DefaultProbe::NoImage("no node image for Kubernetes 1.20".into()),
        ProviderKind::Local,
        &["no kind node image is known", NODE_IMAGE_ENV]
    )]
    #[case::image_present(
        DefaultProbe::Image { image: node_image("kindest/node:v1.37.0@sha256:00"), available: Ok(docker::Availability::Present) },
        ProviderKind::Kind,
        &["kind (real nodes", "kindest/node:v1.37.0@sha256:00 (built in for Kubernetes 1.37.2", "is present"]
    )]
    #[case::image_absent_and_pull_fails(
        DefaultProbe::Image { image: node_image("kindest/node:v1.37.0@sha256:00"), available: Err("lookup registry-1.docker.io: no such host".into()) },
        ProviderKind::Local,
        &["local control plane (pods are simulated by kwok)", "is not present and cannot be pulled: lookup registry-1.docker.io: no such host", "set CHART_HARNESS_KIND_NODE_IMAGE or pass --cluster"]
    )]
    #[case::image_pulled(
        DefaultProbe::Image { image: node_image("kindest/node:v1.37.0@sha256:00"), available: Ok(docker::Availability::Pulled) },
        ProviderKind::Kind,
        &["was pulled"]
    )]
    fn the_default_is_kind_only_with_docker_kind_and_the_image(
        #[case] probe: DefaultProbe,
        #[case] expected: ProviderKind,
        #[case] said: &[&str],
    ) {
        let choice = decide_default(&probe);
        assert_eq!(choice.kind, expected);
        let line = choice.line();
        assert!(line.starts_with("cluster: "), "{line}");
        assert!(!line.contains('\n'), "{line}");
        for part in said {
            assert!(line.contains(part), "{part:?} missing from {line}");
        }
    }

    #[tokio::test]
    async fn without_a_working_docker_the_default_is_local() {
        let missing = Path::new("/nonexistent/chart-harness/docker");
        let choice = detect_default(
            missing,
            Some(Path::new("kind")),
            Ok(node_image("kindest/node:v1.37.0")),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(choice.kind, ProviderKind::Local);
        assert!(
            choice.reason.contains("Docker does not work"),
            "{}",
            choice.reason
        );
    }

    /// On this machine's Docker (and without one): an image that is absent and cannot be
    /// pulled never makes kind the default. `true` stands in for a working kind.
    #[tokio::test]
    async fn an_image_that_cannot_be_had_keeps_the_default_local() {
        let choice = detect_default(
            Path::new("docker"),
            Some(Path::new("true")),
            Ok(node_image("chart-harness.local/absent:1")),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(choice.kind, ProviderKind::Local, "{}", choice.line());
    }

    #[test]
    fn private_temp_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let path = private_temp_file("chart-harness-test-").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
