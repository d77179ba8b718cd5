//! A session is what every front end (the CLI, the libtest suites, the tests and the
//! benchmarks) starts from: the loaded configuration and the discovered charts.
//! Opening one is pure; the tools are resolved only when trials are about to run
//! (`run::Run::assemble`), so listing never runs helm.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cluster::{
    self, AnyProvider, ClusterError, ClusterLease, ClusterRequest, ExistingProvider,
    KindConfigName, KindProvider, LocalBinaries, LocalProvider, ProviderKind,
};
use crate::config::{self, ConfigError, LoadedConfig};
use crate::discovery::{self, Chart, DiscoveryError};
use crate::plan::{self, Suite, Trial};
use crate::suites::lint::yamllint::{YamllintConfig, YamllintConfigError};
use crate::suites::{RunInputs, SnapshotMode, SuiteContext};
use crate::tools::{self, HelmMajor, ToolError, Toolbox};

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
        "{0}; fix it, or point `lint-conf` at a valid yamllint configuration (without either, ct's default lintconf is used)"
    )]
    Yamllint(#[from] YamllintConfigError),
    #[error("no chart named `{name}` under the chart directories; known charts: {known}")]
    UnknownChart { name: String, known: String },
}

pub struct Session {
    pub loaded: LoadedConfig,
    pub charts: Vec<Arc<Chart>>,
    /// The yamllint configuration of `validate-yaml`, read once per run.
    pub yamllint: Arc<YamllintConfig>,
}

impl Session {
    pub fn open(repo_root: &Path) -> Result<Session, SessionError> {
        let mut loaded = config::load(repo_root)?;
        let charts = discovery::discover(&loaded.config, &loaded.repo_root)?
            .into_iter()
            .map(Arc::new)
            .collect();
        // Read only when used, as ct reads it only to run yamllint.
        let yamllint = if loaded.config.validate_yaml {
            let yamllint = YamllintConfig::for_repository(
                &loaded.repo_root,
                loaded.config.lint_conf.as_deref(),
            )?;
            loaded.warnings.extend(yamllint.unimplemented_warning());
            yamllint
        } else {
            YamllintConfig::default()
        };
        Ok(Session {
            loaded,
            charts,
            yamllint: Arc::new(yamllint),
        })
    }

    pub fn repo_root(&self) -> &Path {
        &self.loaded.repo_root
    }

    /// The charts named in `only` (all when empty); an unknown name is an error.
    pub fn select(&self, only: &[String]) -> Result<Vec<Arc<Chart>>, SessionError> {
        if only.is_empty() {
            return Ok(self.charts.clone());
        }
        only.iter()
            .map(|name| {
                self.charts
                    .iter()
                    .find(|chart| &chart.name == name)
                    .cloned()
                    .ok_or_else(|| SessionError::UnknownChart {
                        name: name.clone(),
                        known: self
                            .charts
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }

    pub fn plan(&self, charts: &[Arc<Chart>], suites: &[Suite]) -> Vec<Trial> {
        plan::plan(charts, suites)
    }

    /// Resolves the tools and builds the context trials run in. The helm major is
    /// `helm_major`, else `CHART_HARNESS_HELM` (`3` or `4`), else the config's.
    pub async fn context(
        &self,
        helm_major: Option<HelmMajor>,
    ) -> Result<SuiteContext, SessionError> {
        let config = &self.loaded.config;
        let helm_major = match helm_major {
            Some(major) => major,
            None => helm_major_from_env()?.unwrap_or(config.helm_major),
        };
        let toolbox = Toolbox::resolve(self.repo_root(), helm_major, &config.report_dir).await?;
        let kube_version = self.kube_version()?;
        Ok(SuiteContext {
            repo_root: self.repo_root().to_path_buf(),
            config: Arc::new(config.clone()),
            tools: Arc::new(toolbox),
            kube_version,
            snapshot_mode: SnapshotMode::from_env(),
            cluster: None,
            claims: Default::default(),
            shared: Arc::new(RunInputs {
                yamllint: self.yamllint.clone(),
                ..RunInputs::default()
            }),
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

    /// The run's cluster lease, of `kube_version`: the provider asked for (`flag`, then
    /// `CHART_HARNESS_CLUSTER`, then the config's `cluster`), else kind where Docker and
    /// kind work, else the local control plane. Nothing is started until a trial asks.
    pub async fn cluster_lease(
        &self,
        flag: Option<ProviderKind>,
        kube_version: &str,
    ) -> Result<ClusterLease, SessionError> {
        let config = &self.loaded.config;
        let env = std::env::var("CHART_HARNESS_CLUSTER").ok();
        let bin_dir = tools::tools_bin_dir(self.repo_root());
        let kind_binary = || {
            let installed = bin_dir.join("kind");
            if installed.exists() {
                installed
            } else {
                PathBuf::from("kind")
            }
        };
        let kind = match cluster::requested_kind(flag, env.as_deref(), config.cluster)? {
            Some(kind) => kind,
            None => cluster::detect_default(Path::new("docker"), &kind_binary()).await,
        };
        let provider = match kind {
            ProviderKind::Local => AnyProvider::Local(LocalProvider {
                binaries: LocalBinaries::from_env()
                    .unwrap_or_else(|| LocalBinaries::in_dir(&bin_dir)),
                kube_version: format!("v{kube_version}"),
            }),
            ProviderKind::Kind => AnyProvider::Kind(KindProvider {
                kind: kind_binary(),
                repo_root: self.repo_root().to_path_buf(),
                config: KindConfigName::SingleNode,
                kube_version: Some(kube_version.to_string()),
            }),
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
