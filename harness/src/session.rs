//! A session is what every front end (the CLI, the libtest suites, the tests and the
//! benchmarks) starts from: the loaded configuration and the discovered charts.
//! Opening one is pure; the tools are resolved only when trials are about to run
//! (`run::Run::assemble`), so listing never runs helm.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cluster::{
    self, AnyProvider, ClusterError, ClusterLease, ClusterRequest, ExistingProvider, KindProvider,
    LocalBinaries, LocalProvider, ProviderKind, TeardownTools,
};
use crate::config::{self, ConfigError, LoadOptions, LoadedConfig};
use crate::discovery::{self, Chart, DiscoveryError};
use crate::plan::{self, Suite, Trial};
use crate::suites::lint::yamllint::{YamllintConfig, YamllintConfigError};
use crate::suites::{RunInputs, SnapshotMode, SuiteContext};
use crate::tools::{self, HelmMajor, Installed, ToolError, Toolbox, WantedMajor};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(
        "CHART_HARNESS_HELM is `{0}`; set it to 3 or 4, or unset it to use the config's `helm`"
    )]
    HelmMajor(String),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(
        "`--cluster existing` needs a kubeconfig: set KUBECONFIG (and CHART_HARNESS_KUBE_CONTEXT for a context other than the current one)"
    )]
    NoKubeconfig,
    #[error(
        "{0}; correct or create that file, or point `lint-conf` (or --lint-conf) at a valid yamllint configuration (with no `lint-conf`, no CT_CONFIG_DIR and no lintconf.yaml in ct's search locations, ct's default lintconf is used)"
    )]
    Yamllint(#[from] YamllintConfigError),
    #[error(
        "no chart named `{name}` (by name or directory) under the chart directories; known charts: {known}"
    )]
    UnknownChart { name: String, known: String },
}

pub struct Session {
    pub loaded: LoadedConfig,
    pub charts: Vec<Arc<Chart>>,
    /// `--kind-node-image`: beats `CHART_HARNESS_KIND_NODE_IMAGE` and the config's
    /// `kind-node-image` (see [`cluster::node_image::choose`]).
    pub kind_node_image_flag: Option<String>,
}

impl Session {
    /// A session on the repository's own configuration files (libtest, benches, tests).
    pub fn open(repo_root: &Path) -> Result<Session, SessionError> {
        Session::open_with(repo_root, &LoadOptions::default())
    }

    /// A session with the configuration looked up and overridden as `options` say
    /// (the command line's `--config`, ct's search path, `CT_*` and ct's flags).
    pub fn open_with(repo_root: &Path, options: &LoadOptions) -> Result<Session, SessionError> {
        let mut loaded = config::load_with(repo_root, options)?;
        // Before any chart file is read.
        crate::yaml::set_limits(loaded.config.yaml_limits);
        let charts = discovery::discover(&loaded.config, &loaded.repo_root, &mut loaded.warnings)?
            .into_iter()
            .map(Arc::new)
            .collect();
        Ok(Session {
            loaded,
            charts,
            kind_node_image_flag: None,
        })
    }

    /// The yamllint configuration of `validate-yaml`, read once per run and only by a
    /// run with a lint trial (ct reads it only to run yamllint): ct's lookup chose it
    /// when the configuration was loaded ([`LoadedConfig::lintconf`]).
    pub fn yamllint(&self) -> Result<YamllintConfig, SessionError> {
        Ok(YamllintConfig::for_run(
            self.repo_root(),
            &self.loaded.lintconf,
        )?)
    }

    pub fn repo_root(&self) -> &Path {
        &self.loaded.repo_root
    }

    /// The charts named in `only` (all when empty), by name or, as ct's `--charts`
    /// takes them, by directory (`charts/foo`, `./charts/foo/`, relative to the
    /// repository root or absolute); an unknown one is an error naming the known charts.
    pub fn select(&self, only: &[String]) -> Result<Vec<Arc<Chart>>, SessionError> {
        if only.is_empty() {
            return Ok(self.charts.clone());
        }
        let mut selected: Vec<Arc<Chart>> = Vec::new();
        for wanted in only {
            let as_dir = config::resolve(self.repo_root(), Path::new(wanted));
            let chart = self
                .charts
                .iter()
                .find(|chart| &chart.name == wanted || config::normalize(&chart.dir) == as_dir)
                .ok_or_else(|| SessionError::UnknownChart {
                    name: wanted.clone(),
                    known: self
                        .charts
                        .iter()
                        .map(|c| c.rel_dir.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if !selected.iter().any(|c| Arc::ptr_eq(c, chart)) {
                selected.push(chart.clone());
            }
        }
        Ok(selected)
    }

    pub fn plan(&self, charts: &[Arc<Chart>], suites: &[Suite]) -> Vec<Trial> {
        plan::plan(charts, suites)
    }

    /// Resolves the tools and builds the context trials run in. The helm major is
    /// `helm_major`, else `CHART_HARNESS_HELM` (`3` or `4`), else the config's `helm`,
    /// each named as what asked for it; else the major of the user's helm on PATH,
    /// else the one installed major, else 4 (see [`Toolbox::resolve_with`]).
    pub async fn context(
        &self,
        helm_major: Option<HelmMajor>,
    ) -> Result<SuiteContext, SessionError> {
        let config = &self.loaded.config;
        let wanted = |major: HelmMajor, asked_by: String| Some(WantedMajor { major, asked_by });
        let helm_major = match (helm_major, helm_major_from_env()?, config.helm_major) {
            (Some(major), _, _) => wanted(major, format!("--helm {}", major.number())),
            (None, Some(major), _) => {
                wanted(major, format!("CHART_HARNESS_HELM={}", major.number()))
            }
            (None, None, Some(major)) => wanted(major, config.describe_key("helm")),
            (None, None, None) => None,
        };
        let toolbox =
            Toolbox::resolve_with(self.repo_root(), helm_major, &config.report_dir, None).await?;
        let kube_version = self.kube_version()?;
        Ok(SuiteContext {
            repo_root: self.repo_root().to_path_buf(),
            config: Arc::new(config.clone()),
            tools: Arc::new(toolbox),
            kube_version,
            snapshot_mode: SnapshotMode::from_env(),
            cluster: None,
            claims: Default::default(),
            shared: Arc::new(RunInputs::default()),
        })
    }

    /// The Kubernetes version of the run: the config's `kube-version`, else the pinned
    /// one. Resolved once per run (the context carries it) and handed to the lease.
    pub fn kube_version(&self) -> Result<String, SessionError> {
        Ok(match &self.loaded.config.kube_version {
            Some(version) => version.clone(),
            None => tools::pinned_kube_version(self.repo_root())?,
        })
    }

    /// kind from `tools install` (this repository's or the machine-wide cache), else the
    /// user's own on PATH.
    pub fn kind_binary(&self) -> Result<Option<PathBuf>, SessionError> {
        let installed = Installed::open(self.repo_root())?;
        Ok(Some(installed.binary("kind")?)
            .filter(|installed| installed.exists())
            .or_else(|| {
                tools::ToolEnv::from_process()
                    .find_on_path("kind", None)
                    .into_iter()
                    .next()
            }))
    }

    /// The programs that may tear down a cluster `cluster up` left: ours, never the
    /// ones a record names.
    pub fn teardown_tools(&self) -> Result<TeardownTools, SessionError> {
        let kwokctl = LocalBinaries::find(self.repo_root())
            .ok()
            .map(|binaries| binaries.kwokctl)
            .filter(|kwokctl| kwokctl.exists());
        Ok(TeardownTools {
            kwokctl,
            kind: self.kind_binary()?,
        })
    }

    /// The kind node image of a run of `kube_version`: `--kind-node-image`, else
    /// `CHART_HARNESS_KIND_NODE_IMAGE`, else the config's `kind-node-image`, else the
    /// built-in map's.
    pub fn kind_node_image(&self, kube_version: &str) -> Result<cluster::NodeImage, ClusterError> {
        let config = &self.loaded.config;
        let env = std::env::var(cluster::NODE_IMAGE_ENV).ok();
        cluster::node_image::choose(
            self.kind_node_image_flag.as_deref(),
            env.as_deref(),
            config
                .kind_node_image
                .as_deref()
                .map(|image| (image, config.config_file.as_deref())),
            kube_version,
        )
    }

    /// The run's cluster lease, of `kube_version`: the provider asked for (`flag`, then
    /// `CHART_HARNESS_CLUSTER`, then the config's `cluster`), else kind where Docker and
    /// kind work and the kind node image is here or can be pulled, else the local
    /// control plane; the default is said in one line. Nothing is started until a trial
    /// asks, but the provider's tools are checked now: a missing one is the run's one
    /// error (exit 2), not a failure of every trial that would use the cluster.
    pub async fn cluster_lease(
        &self,
        flag: Option<ProviderKind>,
        kube_version: &str,
    ) -> Result<ClusterLease, SessionError> {
        let config = &self.loaded.config;
        let env = std::env::var("CHART_HARNESS_CLUSTER").ok();
        let installed = Installed::open(self.repo_root())?;
        let kind_binary = self.kind_binary()?;
        let kind = match cluster::requested_kind(flag, env.as_deref(), config.cluster)? {
            Some(kind) => kind,
            None => {
                let choice = cluster::detect_default(
                    Path::new("docker"),
                    kind_binary.as_deref(),
                    self.kind_node_image(kube_version),
                    cluster::docker::PULL_TIMEOUT,
                )
                .await;
                // Once per run (a run makes one lease): which provider, and why, since
                // nobody asked for one and the answer depends on this machine.
                eprintln!("chart-harness: {}", choice.line());
                choice.kind
            }
        };
        let provider = match kind {
            ProviderKind::Local => {
                let binaries = match LocalBinaries::from_env() {
                    Some(binaries) => binaries,
                    None => LocalBinaries::installed(&installed)?,
                };
                binaries.check()?;
                AnyProvider::Local(LocalProvider {
                    binaries,
                    kube_version: format!("v{kube_version}"),
                })
            }
            ProviderKind::Kind => {
                let kind = kind_binary.ok_or_else(|| ToolError::Missing {
                    tool: "kind".into(),
                    needed: "any version".into(),
                    searched: format!(
                        "{}, the machine-wide tool cache and PATH",
                        tools::tools_bin_dir(self.repo_root())
                            .join("kind")
                            .display()
                    ),
                    install: "`chart-harness tools install kind`".into(),
                })?;
                AnyProvider::Kind(KindProvider {
                    kind,
                    docker: PathBuf::from("docker"),
                    config: config.kind_config.clone().unwrap_or_default(),
                    kube_version: Some(kube_version.to_string()),
                    node_image: Some(self.kind_node_image(kube_version)?),
                    images: config.images.clone(),
                })
            }
            ProviderKind::Existing => AnyProvider::Existing(
                ExistingProvider::from_environment(
                    std::env::var("CHART_HARNESS_KUBE_CONTEXT").ok(),
                )
                .ok_or(SessionError::NoKubeconfig)?,
            ),
        };
        Ok(ClusterLease::new(provider, ClusterRequest::default()))
    }
}

fn helm_major_from_env() -> Result<Option<HelmMajor>, SessionError> {
    match std::env::var("CHART_HARNESS_HELM").as_deref() {
        Err(_) | Ok("") => Ok(None),
        Ok("3") => Ok(Some(HelmMajor::V3)),
        Ok("4") => Ok(Some(HelmMajor::V4)),
        Ok(other) => Err(SessionError::HelmMajor(other.to_string())),
    }
}

/// The repository root for `start`: the nearest ancestor with `chart-harness.yaml`,
/// `ct.yaml` or `.git`, else `start` itself.
pub fn find_repo_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|dir| {
            ["chart-harness.yaml", "ct.yaml", ".git"]
                .iter()
                .any(|marker| dir.join(marker).exists())
        })
        .unwrap_or(start)
        .to_path_buf()
}
