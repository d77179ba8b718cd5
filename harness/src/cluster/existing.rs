//! A cluster the user already has, named by a kubeconfig and a context. The harness
//! only reads the kubeconfig: it never writes to it and never deletes the cluster.

use std::path::PathBuf;

use super::kubeconfig::Kubeconfig;
use super::{ClusterError, ClusterHandle, ClusterProvider, ClusterRequest, ProviderKind};

#[derive(Clone, Debug)]
pub struct ExistingProvider {
    pub kubeconfig: PathBuf,
    /// `None` uses the kubeconfig's current context.
    pub context: Option<String>,
    /// The cluster is a local control plane whose pods kwok simulates, as when nextest's
    /// setup script started one (`CHART_HARNESS_PODS_SIMULATED=true`).
    pub pods_simulated: bool,
}

impl ExistingProvider {
    /// The kubeconfig from `KUBECONFIG` (its first entry) or `~/.kube/config`, as kubectl
    /// finds it.
    pub fn from_environment(context: Option<String>) -> Option<ExistingProvider> {
        let from_env = std::env::var_os("KUBECONFIG")
            .and_then(|value| std::env::split_paths(&value).find(|p| !p.as_os_str().is_empty()));
        let kubeconfig = from_env.or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube").join("config"))
        })?;
        Some(ExistingProvider {
            kubeconfig,
            context,
            pods_simulated: std::env::var("CHART_HARNESS_PODS_SIMULATED")
                .is_ok_and(|v| v == "true"),
        })
    }
}

impl ClusterProvider for ExistingProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Existing
    }

    fn intent(&self, _request: &ClusterRequest) -> String {
        format!(
            "existing cluster from {} ({}), Kubernetes version as it reports{}",
            self.kubeconfig.display(),
            match &self.context {
                Some(context) => format!("context `{context}`"),
                None => "its current context".to_string(),
            },
            if self.pods_simulated {
                "; pods are simulated by kwok (no container runs)"
            } else {
                ""
            }
        )
    }

    /// Checks that the kubeconfig parses and has the context, so a typo fails here with
    /// the list of contexts instead of in every trial.
    async fn acquire(&self, _request: &ClusterRequest) -> Result<ClusterHandle, ClusterError> {
        let config = Kubeconfig::read(&self.kubeconfig)?;
        let context = config.resolve_context(&self.kubeconfig, self.context.as_deref())?;
        let server = config.server_of(context).unwrap_or("an unnamed server");
        Ok(ClusterHandle {
            provider: ProviderKind::Existing,
            name: context.name.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: Some(context.name.clone()),
            description: format!(
                "existing cluster: context `{}` at {server} from {} (never deleted by the harness){}",
                context.name,
                self.kubeconfig.display(),
                if self.pods_simulated {
                    "; pods are simulated by kwok: no container runs"
                } else {
                    ""
                }
            ),
            pods_simulated: self.pods_simulated,
            cleanup: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: ci
clusters:
- name: ci
  cluster:
    server: https://10.0.0.1:6443
contexts:
- name: ci
  context:
    cluster: ci
users: []
";

    #[tokio::test]
    async fn an_existing_cluster_is_described_and_left_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let provider = ExistingProvider {
            kubeconfig: path.clone(),
            context: None,
            pods_simulated: false,
        };
        let handle = provider.acquire(&ClusterRequest::default()).await.unwrap();
        assert_eq!(handle.context(), Some("ci"));
        assert!(!handle.pods_simulated());
        assert!(handle.description().contains("https://10.0.0.1:6443"));
        handle.teardown().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), KUBECONFIG);
    }

    #[tokio::test]
    async fn a_wrong_context_fails_at_acquire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let provider = ExistingProvider {
            kubeconfig: path,
            context: Some("prod".to_string()),
            pods_simulated: false,
        };
        let error = provider
            .acquire(&ClusterRequest::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no context `prod`"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_names_the_file() {
        let provider = ExistingProvider {
            kubeconfig: PathBuf::from("/nonexistent/kubeconfig"),
            context: None,
            pods_simulated: false,
        };
        let error = provider
            .acquire(&ClusterRequest::default())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/kubeconfig"),
            "{error}"
        );
    }
}
