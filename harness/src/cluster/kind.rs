//! kind clusters: real nodes in Docker containers, made from a kind config (one of the
//! two built into the binary from `kind-configs/`, or the repository's own file named by
//! `--kind-config` or `kind-config:`), with the node image the user named or, by
//! default, the one picked per Kubernetes minor from `kind-configs/node-images.yaml`,
//! also built in (see [`super::node_image`]). Built in, because a user's chart
//! repository has no `kind-configs/` of ours. The node image is made present before kind
//! runs, and the repository's own `images:` are loaded once the cluster runs
//! (see [`super::docker`]).
//!
//! The configs are parsed here against a model of kind's `kind.x-k8s.io/v1alpha4`
//! Cluster that rejects unknown fields, so a typo in a config fails the harness's own
//! tests on machines without Docker, instead of failing later in CI with Docker.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::node_image::NodeImage;
use super::{
    Cleanup, ClusterError, ClusterHandle, ClusterProvider, ClusterRequest, PendingCleanup,
    ProviderKind, docker, kind_services, private_temp_file, restrict_to_owner, unique_name,
};
use crate::tools::process::{self, ProcessSpec};

/// Directory of the kind configs built into the binary, relative to this repository's
/// root.
pub const KIND_CONFIG_DIR: &str = "kind-configs";
/// The prefix of a kind cluster's kubeconfig in the temporary directory.
pub(super) const KUBECONFIG_PREFIX: &str = "chart-harness-kind-";
/// The file mapping each supported Kubernetes minor to its kind node image.
pub const NODE_IMAGES_FILE: &str = "node-images.yaml";
const NODE_IMAGES_TEXT: &str = include_str!("../../../kind-configs/node-images.yaml");

/// The kind configs built into the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindConfigName {
    /// One control-plane node that also runs workloads.
    SingleNode,
    /// One control-plane node and two workers, for anti-affinity and spreading.
    MultiNode,
}

impl KindConfigName {
    pub const ALL: [KindConfigName; 2] = [KindConfigName::SingleNode, KindConfigName::MultiNode];

    pub fn file_name(self) -> &'static str {
        match self {
            KindConfigName::SingleNode => "single-node.yaml",
            KindConfigName::MultiNode => "multi-node.yaml",
        }
    }

    /// What `--kind-config` and `kind-config:` call it.
    pub fn name(self) -> &'static str {
        match self {
            KindConfigName::SingleNode => "single-node",
            KindConfigName::MultiNode => "multi-node",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            KindConfigName::SingleNode => include_str!("../../../kind-configs/single-node.yaml"),
            KindConfigName::MultiNode => include_str!("../../../kind-configs/multi-node.yaml"),
        }
    }
}

/// The kind config a kind cluster is created from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindConfigChoice {
    BuiltIn(KindConfigName),
    /// A repository's own config, for example with extra port mappings for an ingress.
    File(PathBuf),
}

impl Default for KindConfigChoice {
    fn default() -> Self {
        KindConfigChoice::BuiltIn(KindConfigName::SingleNode)
    }
}

impl KindConfigChoice {
    /// `single-node`, `multi-node`, else a path, relative to `base` unless absolute.
    pub fn parse(value: &str, base: &Path) -> KindConfigChoice {
        KindConfigName::ALL
            .into_iter()
            .find(|built_in| built_in.name() == value)
            .map(KindConfigChoice::BuiltIn)
            .unwrap_or_else(|| KindConfigChoice::File(base.join(value)))
    }

    /// How messages and the cluster description name it.
    pub fn describe(&self) -> String {
        match self {
            KindConfigChoice::BuiltIn(name) => format!("the built-in `{}` config", name.name()),
            KindConfigChoice::File(path) => path.display().to_string(),
        }
    }

    /// The parsed config, and the file kind reads: the user's own, or the built-in text
    /// written to a private temporary file that lives as long as the returned handle.
    /// With `cgroup_v1_patch`, the file kind reads is a copy with the kubelet patch added
    /// (see [`needs_cgroup_v1_patch`]).
    fn materialize(
        &self,
        cgroup_v1_patch: bool,
    ) -> Result<(KindCluster, ConfigFile), ClusterError> {
        let (text, shown) = match self {
            KindConfigChoice::File(path) => (
                crate::files::read_to_string(path).map_err(|source| ClusterError::Io {
                    action: "read the kind config",
                    path: path.clone(),
                    source,
                })?,
                path.clone(),
            ),
            KindConfigChoice::BuiltIn(name) => (
                name.text().to_string(),
                Path::new(KIND_CONFIG_DIR).join(name.file_name()),
            ),
        };
        let cluster = KindCluster::parse(&text, &shown)?;
        let text = match (self, cgroup_v1_patch) {
            (KindConfigChoice::File(path), false) => {
                return Ok((cluster, ConfigFile::User(path.clone())));
            }
            (_, false) => text,
            (_, true) => with_cgroup_v1_patch(&text, &shown)?,
        };
        let file = tempfile::Builder::new()
            .prefix("chart-harness-kind-config-")
            .suffix(".yaml")
            .tempfile()
            .and_then(|mut file| {
                std::io::Write::write_all(&mut file, text.as_bytes())?;
                Ok(file.into_temp_path())
            })
            .map_err(|source| ClusterError::Io {
                action: "write the kind config to a temporary file in",
                path: std::env::temp_dir(),
                source,
            })?;
        Ok((cluster, ConfigFile::Temporary(file)))
    }
}

/// The kubelet patch a host on cgroup v1 needs: from Kubernetes 1.35 the kubelet refuses
/// to start there unless `failCgroupV1` is false (older self-hosted runners, this
/// project's CI machines).
const CGROUP_V1_PATCH: &str = "kind: KubeletConfiguration\nfailCgroupV1: false\n";

/// Whether a node of `kube_version` on this host needs [`CGROUP_V1_PATCH`].
pub fn needs_cgroup_v1_patch(kube_version: &str, host_on_cgroup_v1: bool) -> bool {
    let minor = kube_version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|minor| minor.parse::<u64>().ok());
    host_on_cgroup_v1 && minor.is_some_and(|minor| minor >= 35)
}

/// The host mounts the cgroup v1 hierarchies (not the unified cgroup2 file system) at
/// `/sys/fs/cgroup`.
pub fn host_on_cgroup_v1() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let path = std::ffi::CString::new("/sys/fs/cgroup").expect("no NUL");
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs writes only into `stat`, which is large enough for it.
    let found = unsafe { libc::statfs(path.as_ptr(), &mut stat) } == 0;
    found && stat.f_type as i64 != CGROUP2_SUPER_MAGIC
}

/// `text` with [`CGROUP_V1_PATCH`] appended to its cluster-wide `kubeadmConfigPatches`,
/// written as JSON, which kind reads as YAML.
fn with_cgroup_v1_patch(text: &str, shown: &Path) -> Result<String, ClusterError> {
    let mut config: serde_json::Value =
        crate::yaml::parse_str(text, shown).map_err(|e| ClusterError::KindConfig {
            path: shown.to_path_buf(),
            message: e.message,
        })?;
    let patches = config
        .as_object_mut()
        .ok_or_else(|| ClusterError::KindConfig {
            path: shown.to_path_buf(),
            message: "is not a mapping".into(),
        })?
        .entry("kubeadmConfigPatches")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let Some(patches) = patches.as_array_mut() {
        patches.push(serde_json::Value::String(CGROUP_V1_PATCH.into()));
    }
    Ok(serde_json::to_string_pretty(&config).expect("a JSON value serializes"))
}

/// The config file handed to `kind create cluster`.
enum ConfigFile {
    User(PathBuf),
    /// Removed when dropped, once kind has read it.
    Temporary(tempfile::TempPath),
}

impl ConfigFile {
    fn path(&self) -> &Path {
        match self {
            ConfigFile::User(path) => path,
            ConfigFile::Temporary(path) => path,
        }
    }
}

/// kind's v1alpha4 `Cluster`, field for field, so that an unknown key is an error.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindCluster {
    pub kind: String,
    pub api_version: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nodes: Vec<KindNode>,
    #[serde(default)]
    pub networking: Option<KindNetworking>,
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    #[serde(default)]
    pub runtime_config: BTreeMap<String, String>,
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(default, rename = "kubeadmConfigPatchesJSON6902")]
    pub kubeadm_config_patches_json6902: Vec<KindPatchJson6902>,
    #[serde(default)]
    pub containerd_config_patches: Vec<String>,
    #[serde(default, rename = "containerdConfigPatchesJSON6902")]
    pub containerd_config_patches_json6902: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindNodeRole {
    ControlPlane,
    Worker,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindNode {
    /// kind defaults a node without a role to control-plane.
    #[serde(default)]
    pub role: Option<KindNodeRole>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub extra_mounts: Vec<KindMount>,
    #[serde(default)]
    pub extra_port_mappings: Vec<KindPortMapping>,
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(default, rename = "kubeadmConfigPatchesJSON6902")]
    pub kubeadm_config_patches_json6902: Vec<KindPatchJson6902>,
}

impl KindNode {
    pub fn role(&self) -> KindNodeRole {
        self.role.unwrap_or(KindNodeRole::ControlPlane)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindNetworking {
    #[serde(default)]
    pub ip_family: Option<KindIpFamily>,
    #[serde(default)]
    pub api_server_port: Option<i32>,
    #[serde(default)]
    pub api_server_address: Option<String>,
    #[serde(default)]
    pub pod_subnet: Option<String>,
    #[serde(default)]
    pub service_subnet: Option<String>,
    #[serde(default, rename = "disableDefaultCNI")]
    pub disable_default_cni: bool,
    #[serde(default)]
    pub kube_proxy_mode: Option<KindProxyMode>,
    #[serde(default)]
    pub dns_search: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindIpFamily {
    Ipv4,
    Ipv6,
    Dual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindProxyMode {
    Iptables,
    Ipvs,
    Nftables,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindPatchJson6902 {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub patch: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindMount {
    #[serde(default)]
    pub container_path: Option<String>,
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub selinux_relabel: bool,
    #[serde(default)]
    pub propagation: Option<KindMountPropagation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum KindMountPropagation {
    None,
    HostToContainer,
    Bidirectional,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindPortMapping {
    #[serde(default)]
    pub container_port: Option<i32>,
    #[serde(default)]
    pub host_port: Option<i32>,
    #[serde(default)]
    pub listen_address: Option<String>,
    #[serde(default)]
    pub protocol: Option<KindPortProtocol>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum KindPortProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl KindCluster {
    /// Reads a kind config and checks what serde cannot: the type header and that
    /// there is a control-plane node.
    pub fn parse(text: &str, path: &Path) -> Result<KindCluster, ClusterError> {
        let cluster: KindCluster =
            crate::yaml::parse_str(text, path).map_err(|e| ClusterError::KindConfig {
                path: path.to_path_buf(),
                message: match e.line {
                    Some(line) => format!("line {line}: {}", e.message),
                    None => e.message,
                },
            })?;
        let problem = |message: String| ClusterError::KindConfig {
            path: path.to_path_buf(),
            message,
        };
        if cluster.kind != "Cluster" {
            return Err(problem(format!(
                "kind is `{}`, expected `Cluster`",
                cluster.kind
            )));
        }
        if cluster.api_version != "kind.x-k8s.io/v1alpha4" {
            return Err(problem(format!(
                "apiVersion is `{}`, expected `kind.x-k8s.io/v1alpha4`",
                cluster.api_version
            )));
        }
        if !cluster.nodes.is_empty() && cluster.control_planes() == 0 {
            return Err(problem("has nodes but no control-plane node".to_string()));
        }
        Ok(cluster)
    }

    /// kind makes one control-plane node when `nodes` is empty.
    pub fn control_planes(&self) -> usize {
        if self.nodes.is_empty() {
            return 1;
        }
        self.nodes
            .iter()
            .filter(|n| n.role() == KindNodeRole::ControlPlane)
            .count()
    }

    pub fn workers(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.role() == KindNodeRole::Worker)
            .count()
    }
}

/// `kind-configs/node-images.yaml`: the node image for each supported Kubernetes minor,
/// pinned by digest, as published in the kind release notes. This is the matrix input
/// for running the suites against several Kubernetes versions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeImages {
    /// The kind release the images were built for; kind supports an image only with it.
    pub kind_version: String,
    /// `"1.37"` → `kindest/node:v1.37.0@sha256:…`.
    pub images: BTreeMap<String, String>,
}

impl NodeImages {
    /// The map built into the binary from `kind-configs/node-images.yaml`.
    pub fn built_in() -> Result<NodeImages, ClusterError> {
        NodeImages::parse(
            NODE_IMAGES_TEXT,
            &Path::new(KIND_CONFIG_DIR).join(NODE_IMAGES_FILE),
        )
    }

    pub fn parse(text: &str, path: &Path) -> Result<NodeImages, ClusterError> {
        let images: NodeImages =
            crate::yaml::parse_str(text, path).map_err(|e| ClusterError::KindConfig {
                path: path.to_path_buf(),
                message: e.message,
            })?;
        images
            .validate()
            .map_err(|message| ClusterError::KindConfig {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(images)
    }

    /// Every key is a `1.N` minor and every image is `kindest/node:v1.N.P@sha256:<64 hex>`
    /// with the same minor: a digest is what guarantees an image built for this kind
    /// release, and a mismatched minor would test the wrong Kubernetes.
    fn validate(&self) -> Result<(), String> {
        if semver::Version::parse(self.kind_version.trim_start_matches('v')).is_err() {
            return Err(format!(
                "kindVersion `{}` is not a version like v0.33.0",
                self.kind_version
            ));
        }
        if self.images.is_empty() {
            return Err("images is empty".to_string());
        }
        for (minor, image) in &self.images {
            let minor_number = minor
                .strip_prefix("1.")
                .filter(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| format!("key `{minor}` is not a Kubernetes minor like 1.37"))?;
            let rest = image
                .strip_prefix("kindest/node:v")
                .ok_or_else(|| format!("{minor}: `{image}` is not a kindest/node image"))?;
            let (tag, digest) = rest
                .split_once("@sha256:")
                .ok_or_else(|| format!("{minor}: `{image}` is not pinned with @sha256:<digest>"))?;
            let version = semver::Version::parse(tag)
                .map_err(|_| format!("{minor}: tag `v{tag}` is not a Kubernetes version"))?;
            if version.major != 1 || version.minor.to_string() != minor_number {
                return Err(format!("{minor}: image `{image}` is for Kubernetes {tag}"));
            }
            if digest.len() != 64
                || !digest
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                return Err(format!(
                    "{minor}: digest `{digest}` is not 64 lowercase hex digits"
                ));
            }
        }
        Ok(())
    }

    /// The image for a Kubernetes version (`1.36` or `1.36.4`), by its minor.
    pub fn image_for(&self, kube_version: &str) -> Option<&str> {
        let trimmed = kube_version.trim_start_matches('v');
        let minor: String = trimmed.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
        self.images.get(&minor).map(String::as_str)
    }
}

/// Creates a kind cluster per run and deletes it at the end.
#[derive(Clone, Debug)]
pub struct KindProvider {
    /// The kind binary (resolved by the tools module).
    pub kind: PathBuf,
    /// The docker program, which checks, pulls and loads images.
    pub docker: PathBuf,
    pub config: KindConfigChoice,
    /// Kubernetes version to run (`1.36`), for the cgroup v1 patch and the intent.
    pub kube_version: Option<String>,
    /// The node image (see [`super::node_image::choose`]); `None` leaves it to kind.
    pub node_image: Option<NodeImage>,
    /// The repository's own images (`images:`), loaded into the cluster once it runs.
    pub images: Vec<String>,
}

/// The argv of `kind create cluster`, kept apart from running it so it can be checked
/// without Docker.
pub fn create_args(
    name: &str,
    config: &Path,
    kubeconfig: &Path,
    image: Option<&str>,
    wait: Duration,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "create".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--config".into(),
        config.into(),
        "--kubeconfig".into(),
        kubeconfig.into(),
        "--wait".into(),
        format!("{}s", wait.as_secs().max(1)).into(),
    ];
    if let Some(image) = image {
        args.push("--image".into());
        args.push(image.into());
    }
    args
}

/// The argv of `kind delete cluster` for a cluster made by [`create_args`].
pub fn delete_args(name: &str, kubeconfig: &Path) -> Vec<OsString> {
    vec![
        "delete".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--kubeconfig".into(),
        kubeconfig.into(),
    ]
}

impl ClusterProvider for KindProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Kind
    }

    fn intent(&self, _request: &ClusterRequest) -> String {
        format!(
            "kind cluster from {} with Kubernetes {}, node image {} (real nodes in Docker containers)",
            self.config.describe(),
            self.kube_version
                .as_deref()
                .unwrap_or("of kind's default node image"),
            self.node_image
                .as_ref()
                .map_or_else(|| "kind's default".to_string(), NodeImage::describe)
        )
    }

    async fn acquire(&self, request: &ClusterRequest) -> Result<ClusterHandle, ClusterError> {
        let kube_version = self.kube_version.as_deref().unwrap_or_default();
        let cgroup_v1_patch = needs_cgroup_v1_patch(kube_version, host_on_cgroup_v1());
        if cgroup_v1_patch {
            tracing::warn!(
                "the host runs cgroup v1: the kind config gets a kubelet patch `failCgroupV1: false`, without which Kubernetes {kube_version} refuses to start"
            );
        }
        let (config, config_file) = self.config.materialize(cgroup_v1_patch)?;
        // Checked before kind runs: kind would pull a missing image itself, and its
        // failure would be a page of kind's output instead of what to do.
        if let Some(node_image) = &self.node_image {
            docker::ensure_present(&self.docker, &node_image.image, docker::PULL_TIMEOUT)
                .await
                .map_err(|reason| ClusterError::NodeImageUnavailable {
                    image: node_image.describe(),
                    reason,
                })?;
        }
        let image = self.node_image.as_ref().map(|n| n.image.clone());
        let name = unique_name(&request.name_prefix);
        let kubeconfig = private_temp_file(KUBECONFIG_PREFIX)?
            .keep()
            .map_err(|error| ClusterError::Io {
                action: "keep the kubeconfig",
                path: error.path.to_path_buf(),
                source: error.error,
            })?;
        let spec = ProcessSpec::new(&self.kind, request.ready_timeout + Duration::from_secs(240))
            .args(create_args(
                &name,
                config_file.path(),
                &kubeconfig,
                image.as_deref(),
                request.ready_timeout,
            ));
        // The handle owns the cleanup before kind starts: a failed or interrupted
        // create can leave containers behind.
        let cleanup = KindCleanup {
            kind: self.kind.clone(),
            name: name.clone(),
            kubeconfig: kubeconfig.clone(),
        };
        let registered = match PendingCleanup::register(Cleanup::Kind(cleanup)) {
            Ok(registered) => registered,
            Err(error) => {
                let _ = std::fs::remove_file(&kubeconfig);
                return Err(error);
            }
        };
        let mut handle = ClusterHandle {
            provider: ProviderKind::Kind,
            name: name.clone(),
            kubeconfig: kubeconfig.clone(),
            context: Some(format!("kind-{name}")),
            description: String::new(),
            pods_simulated: false,
            cleanup: Some(registered),
        };
        let created = process::run_checked(&spec)
            .await
            .map_err(|source| ClusterError::Tool {
                provider: ProviderKind::Kind,
                name: name.clone(),
                step: "kind create cluster",
                source: Box::new(source),
            })
            .and_then(|_| restrict_to_owner(&kubeconfig));
        let created = match created {
            Ok(()) => self.load_images(&name).await,
            Err(error) => Err(error),
        };
        let services = kind_services::services_to_wait_for(
            config
                .networking
                .as_ref()
                .is_some_and(|networking| networking.disable_default_cni),
        );
        let created = match created {
            Ok(()) => {
                kind_services::wait_for_services(
                    &kubeconfig,
                    &format!("kind-{name}"),
                    &name,
                    &services,
                    request.ready_timeout,
                )
                .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = created {
            if let Err(cleanup_error) = handle.teardown().await {
                tracing::error!("{cleanup_error}");
            }
            return Err(error);
        }
        handle.description = format!(
            "kind cluster `{name}` from {}{} ({} control-plane, {} worker nodes, image {}{})",
            self.config.describe(),
            if cgroup_v1_patch {
                " with `failCgroupV1: false` (the host runs cgroup v1)"
            } else {
                ""
            },
            config.control_planes(),
            config.workers(),
            self.node_image
                .as_ref()
                .map_or_else(|| "kind's default".to_string(), NodeImage::describe),
            if self.images.is_empty() {
                String::new()
            } else {
                format!(", loaded {}", self.images.join(", "))
            }
        );
        Ok(handle)
    }
}

impl KindProvider {
    /// Loads the repository's own images (`images:`) into cluster `name`.
    async fn load_images(&self, name: &str) -> Result<(), ClusterError> {
        docker::load_images(&self.docker, &self.kind, name, &self.images)
            .await
            .map_err(|failure| match failure {
                docker::LoadFailure::NotBuilt { image, reason } => ClusterError::ImageNotBuilt {
                    name: name.to_string(),
                    image,
                    reason,
                },
                docker::LoadFailure::Failed { image, reason } => ClusterError::ImageLoad {
                    name: name.to_string(),
                    image,
                    reason,
                },
            })
    }
}

/// Deletes the kind cluster and its kubeconfig.
#[derive(Debug)]
pub(super) struct KindCleanup {
    kind: PathBuf,
    name: String,
    kubeconfig: PathBuf,
}

impl KindCleanup {
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub(super) fn reattach(kind: PathBuf, name: String, kubeconfig: PathBuf) -> Self {
        KindCleanup {
            kind,
            name,
            kubeconfig,
        }
    }

    pub(super) async fn run(self) -> Result<(), ClusterError> {
        let spec = ProcessSpec::new(&self.kind, Duration::from_secs(120))
            .args(delete_args(&self.name, &self.kubeconfig));
        let deleted = process::run_checked(&spec)
            .await
            .map_err(|source| ClusterError::Tool {
                provider: ProviderKind::Kind,
                name: self.name.clone(),
                step: "kind delete cluster",
                source: Box::new(source),
            });
        let removed = match std::fs::remove_file(&self.kubeconfig) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(ClusterError::Io {
                action: "remove the kubeconfig",
                path: self.kubeconfig.clone(),
                source,
            }),
            _ => Ok(()),
        };
        deleted.and(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    fn parse_cluster(text: &str) -> Result<KindCluster, String> {
        KindCluster::parse(text, Path::new("cluster.yaml")).map_err(|e| e.to_string())
    }

    #[rstest]
    #[case(KindConfigName::SingleNode, 1, 0)]
    #[case(KindConfigName::MultiNode, 1, 2)]
    fn shipped_configs_parse_with_their_node_counts(
        #[case] config: KindConfigName,
        #[case] control_planes: usize,
        #[case] workers: usize,
    ) {
        let cluster = parse_cluster(config.text()).unwrap();
        assert_eq!(cluster.control_planes(), control_planes);
        assert_eq!(cluster.workers(), workers);
    }

    #[test]
    fn every_yaml_in_kind_configs_is_a_known_shape() {
        let dir = repo_root().join(KIND_CONFIG_DIR);
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().and_then(|n| n.to_str()) == Some(NODE_IMAGES_FILE) {
                NodeImages::parse(&text, &path).unwrap();
            } else {
                KindCluster::parse(&text, &path).unwrap();
            }
            checked += 1;
        }
        assert!(
            checked >= 3,
            "expected the two configs and the image map in {}",
            dir.display()
        );
    }

    #[rstest]
    #[case::misspelled_field(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n  extraMount: []\n",
        "unknown field `extraMount`"
    )]
    #[case::unknown_role(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: master\n",
        "master"
    )]
    #[case::wrong_api_version(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n",
        "expected `kind.x-k8s.io/v1alpha4`"
    )]
    #[case::wrong_kind(
        "kind: Config\napiVersion: kind.x-k8s.io/v1alpha4\n",
        "expected `Cluster`"
    )]
    #[case::only_workers(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n",
        "no control-plane"
    )]
    #[case::networking_typo(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnets: 10.0.0.0/16\n",
        "unknown field `podSubnets`"
    )]
    fn typos_in_kind_configs_are_caught(#[case] text: &str, #[case] expected: &str) {
        let message = parse_cluster(text).unwrap_err();
        assert!(message.contains(expected), "{message}");
    }

    #[rstest]
    #[case("single-node", KindConfigChoice::BuiltIn(KindConfigName::SingleNode))]
    #[case("multi-node", KindConfigChoice::BuiltIn(KindConfigName::MultiNode))]
    #[case(
        "kind-config.yaml",
        KindConfigChoice::File(PathBuf::from("/repo/kind-config.yaml"))
    )]
    #[case(
        "/abs/three.yaml",
        KindConfigChoice::File(PathBuf::from("/abs/three.yaml"))
    )]
    fn kind_config_names_a_built_in_or_a_file(
        #[case] value: &str,
        #[case] expected: KindConfigChoice,
    ) {
        assert_eq!(KindConfigChoice::parse(value, Path::new("/repo")), expected);
    }

    /// A repository's own config reaches `kind create cluster` as the user's file, and
    /// a built-in one as a temporary copy of the text compiled in, gone afterwards.
    #[test]
    fn the_chosen_config_is_the_file_kind_reads() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("kind-config.yaml");
        std::fs::write(
            &own,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n- role: worker\n- role: worker\n",
        )
        .unwrap();
        let (cluster, file) = KindConfigChoice::File(own.clone())
            .materialize(false)
            .unwrap();
        assert_eq!(file.path(), own);
        assert_eq!((cluster.control_planes(), cluster.workers()), (1, 2));

        let (cluster, file) = KindConfigChoice::BuiltIn(KindConfigName::MultiNode)
            .materialize(false)
            .unwrap();
        let copy = file.path().to_path_buf();
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            KindConfigName::MultiNode.text()
        );
        assert_eq!(cluster.workers(), 2);
        drop(file);
        assert!(!copy.exists(), "{} was left behind", copy.display());

        let missing = KindConfigChoice::File(dir.path().join("nope.yaml"))
            .materialize(false)
            .err()
            .unwrap()
            .to_string();
        assert!(missing.contains("nope.yaml"), "{missing}");
    }

    #[rstest]
    #[case("1.37.2", true, true)]
    #[case("v1.35.0", true, true)]
    #[case("1.34.11", true, false)]
    #[case("1.37.2", false, false)]
    fn the_cgroup_v1_patch_is_for_new_kubelets_on_cgroup_v1_hosts(
        #[case] version: &str,
        #[case] host_v1: bool,
        #[case] expected: bool,
    ) {
        assert_eq!(needs_cgroup_v1_patch(version, host_v1), expected);
    }

    /// The user's own config keeps everything it had, gains the kubelet patch beside
    /// its own patches, and is still a valid kind config (kind reads JSON as YAML).
    #[test]
    fn the_cgroup_v1_patch_is_added_to_a_copy_of_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("kind-config.yaml");
        std::fs::write(
            &own,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: InitConfiguration\nnodes:\n- role: control-plane\n- role: worker\n",
        )
        .unwrap();
        let (_, file) = KindConfigChoice::File(own.clone())
            .materialize(true)
            .unwrap();
        assert_ne!(file.path(), own, "the user's file is never changed");
        let text = std::fs::read_to_string(file.path()).unwrap();
        let patched = KindCluster::parse(&text, file.path()).unwrap();
        assert_eq!(patched.workers(), 1);
        assert_eq!(
            patched.kubeadm_config_patches,
            ["kind: InitConfiguration\n", CGROUP_V1_PATCH]
        );
        let (_, file) = KindConfigChoice::BuiltIn(KindConfigName::SingleNode)
            .materialize(true)
            .unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        let patched = KindCluster::parse(&text, file.path()).unwrap();
        assert_eq!(patched.kubeadm_config_patches, [CGROUP_V1_PATCH]);
    }

    /// This machine's CI hosts run cgroup v1 (issue 9); the check reads the mount.
    #[test]
    fn the_host_cgroup_version_is_read_from_the_mount() {
        let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        assert_eq!(host_on_cgroup_v1(), !unified);
    }

    #[test]
    fn a_full_featured_config_parses() {
        let cluster = parse_cluster(
            "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: demo
featureGates:
  SomeGate: true
runtimeConfig:
  api/all: \"true\"
networking:
  ipFamily: dual
  disableDefaultCNI: true
  kubeProxyMode: nftables
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta3
  kind: ClusterConfiguration
  patch: \"[]\"
nodes:
- role: control-plane
  labels:
    ingress-ready: \"true\"
  extraPortMappings:
  - containerPort: 80
    hostPort: 8080
    protocol: TCP
  extraMounts:
  - hostPath: /tmp
    containerPath: /host-tmp
    readOnly: true
    propagation: HostToContainer
- role: worker
",
        )
        .unwrap();
        assert_eq!(cluster.control_planes(), 1);
        assert_eq!(cluster.workers(), 1);
        assert!(cluster.networking.unwrap().disable_default_cni);
    }

    #[test]
    fn the_image_map_covers_recent_minors_with_digests() {
        let images = NodeImages::built_in().unwrap();
        for minor in ["1.35", "1.36", "1.37"] {
            let image = images
                .image_for(minor)
                .unwrap_or_else(|| panic!("no image for {minor}"));
            assert!(
                image.starts_with(&format!("kindest/node:v{minor}.")),
                "{image}"
            );
            assert!(image.contains("@sha256:"), "{image}");
        }
        assert_eq!(images.image_for("v1.36.9"), images.image_for("1.36"));
        assert_eq!(images.image_for("1.20"), None);
    }

    #[rstest]
    #[case::no_digest("1.37: kindest/node:v1.37.0", "not pinned")]
    #[case::wrong_minor(
        "\"1.36\": kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
        "is for Kubernetes 1.37.0"
    )]
    #[case::short_digest("\"1.37\": kindest/node:v1.37.0@sha256:abc", "64 lowercase hex")]
    #[case::bad_key(
        "latest: kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
        "not a Kubernetes minor"
    )]
    fn malformed_image_maps_are_rejected(#[case] entry: &str, #[case] expected: &str) {
        let text = format!("kindVersion: v0.33.0\nimages:\n  {entry}\n");
        let message = NodeImages::parse(&text, Path::new(NODE_IMAGES_FILE))
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected), "{message}");
    }

    #[test]
    fn create_argv_names_config_kubeconfig_wait_and_image() {
        let args = create_args(
            "ch-1-abc",
            Path::new("/repo/kind-configs/multi-node.yaml"),
            Path::new("/tmp/k 1"),
            Some("kindest/node:v1.36.4@sha256:00"),
            Duration::from_secs(90),
        );
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "create",
                "cluster",
                "--name",
                "ch-1-abc",
                "--config",
                "/repo/kind-configs/multi-node.yaml",
                "--kubeconfig",
                "/tmp/k 1",
                "--wait",
                "90s",
                "--image",
                "kindest/node:v1.36.4@sha256:00",
            ]
        );
        let without_image = create_args(
            "n",
            Path::new("c"),
            Path::new("k"),
            None,
            Duration::from_millis(10),
        );
        assert!(!without_image.iter().any(|a| a == "--image"));
        assert_eq!(without_image[9], "1s");
    }

    #[test]
    fn delete_argv_targets_the_same_cluster_and_kubeconfig() {
        let args: Vec<String> = delete_args("ch-1-abc", Path::new("/tmp/k"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "delete",
                "cluster",
                "--name",
                "ch-1-abc",
                "--kubeconfig",
                "/tmp/k"
            ]
        );
    }

    fn provider(node_image: &str) -> KindProvider {
        KindProvider {
            kind: PathBuf::from("/nonexistent/kind"),
            docker: PathBuf::from("docker"),
            config: KindConfigChoice::default(),
            kube_version: Some("1.37.2".to_string()),
            node_image: Some(NodeImage {
                image: node_image.to_string(),
                source: super::super::NodeImageSource::Flag,
            }),
            images: Vec::new(),
        }
    }

    #[test]
    fn the_intent_names_the_node_image_and_its_source() {
        let intent = provider("chart-harness.local/kind-node:v1.37.2-abc")
            .intent(&ClusterRequest::default());
        assert!(
            intent.contains(
                "node image chart-harness.local/kind-node:v1.37.2-abc (from --kind-node-image)"
            ),
            "{intent}"
        );
    }

    /// An absent node image that cannot be pulled fails before kind runs (kind here does
    /// not exist), in one message that names the image and says what to do. With no
    /// Docker at all the pull fails too, so this holds on any machine.
    #[tokio::test]
    async fn an_absent_node_image_fails_before_kind_runs_with_what_to_do() {
        let message = provider("chart-harness.local/absent:1")
            .acquire(&ClusterRequest::default())
            .await
            .unwrap_err()
            .to_string();
        for part in [
            "the kind node image chart-harness.local/absent:1 (from --kind-node-image) is not present",
            "cannot be pulled: ",
            "ci/kind-node/build.sh",
            "CHART_HARNESS_KIND_NODE_IMAGE",
            "--cluster local",
        ] {
            assert!(message.contains(part), "{part:?} missing from {message}");
        }
        assert!(!message.contains("/nonexistent/kind"), "{message}");
    }
}
