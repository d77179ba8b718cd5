//! Just enough of the kubeconfig format to check a file before handing it to helm: that
//! it parses, which contexts it has, and which one is current. Credentials are never
//! read into memory beyond what parsing the document needs, and never printed.

use std::path::Path;

use serde::Deserialize;

use super::ClusterError;

/// The parts of a kubeconfig the harness looks at; other keys are allowed, since
/// kubeconfigs carry credentials and extensions the harness has no business with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    #[serde(default)]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
}

#[derive(Debug, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: ContextRef,
}

#[derive(Debug, Deserialize)]
pub struct ContextRef {
    pub cluster: String,
}

#[derive(Debug, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: ClusterEntry,
}

#[derive(Debug, Deserialize)]
pub struct ClusterEntry {
    pub server: String,
}

impl Kubeconfig {
    pub fn read(path: &Path) -> Result<Kubeconfig, ClusterError> {
        crate::yaml::read_file(path).map_err(|e| ClusterError::Kubeconfig {
            path: path.to_path_buf(),
            message: e.message,
        })
    }

    /// The context that `context` names, or the current one; an error names the
    /// contexts that exist so a typo is easy to fix.
    pub fn resolve_context(
        &self,
        path: &Path,
        context: Option<&str>,
    ) -> Result<&NamedContext, ClusterError> {
        let wanted = match context.or(self.current_context.as_deref()) {
            Some(name) if !name.is_empty() => name,
            _ => {
                return Err(ClusterError::Kubeconfig {
                    path: path.to_path_buf(),
                    message: "has no current-context and no --context was given".to_string(),
                });
            }
        };
        self.contexts
            .iter()
            .find(|c| c.name == wanted)
            .ok_or_else(|| {
                let known: Vec<&str> = self.contexts.iter().map(|c| c.name.as_str()).collect();
                ClusterError::Kubeconfig {
                    path: path.to_path_buf(),
                    message: format!(
                        "has no context `{wanted}`; it has: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                }
            })
    }

    /// The API server address a context points at.
    pub fn server_of(&self, context: &NamedContext) -> Option<&str> {
        self.clusters
            .iter()
            .find(|c| c.name == context.context.cluster)
            .map(|c| c.cluster.server.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const TWO_CONTEXTS: &str = "\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: AAAA
- name: prod-cluster
  cluster:
    server: https://prod.example:6443
contexts:
- name: dev
  context:
    cluster: dev-cluster
    user: dev-user
- name: prod
  context:
    cluster: prod-cluster
    user: prod-user
users:
- name: dev-user
  user:
    token: secret
";

    fn parse(text: &str) -> Kubeconfig {
        crate::yaml::parse_str(text, Path::new("kubeconfig")).unwrap()
    }

    #[rstest]
    #[case(None, "dev", "https://127.0.0.1:6443")]
    #[case(Some("prod"), "prod", "https://prod.example:6443")]
    fn contexts_resolve_to_their_server(
        #[case] asked: Option<&str>,
        #[case] name: &str,
        #[case] server: &str,
    ) {
        let config = parse(TWO_CONTEXTS);
        let context = config.resolve_context(Path::new("k"), asked).unwrap();
        assert_eq!(context.name, name);
        assert_eq!(config.server_of(context), Some(server));
    }

    #[test]
    fn a_missing_context_lists_the_existing_ones() {
        let config = parse(TWO_CONTEXTS);
        let message = config
            .resolve_context(Path::new("k"), Some("staging"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("no context `staging`"), "{message}");
        assert!(message.contains("dev, prod"), "{message}");
    }

    #[test]
    fn no_current_context_and_none_asked_is_an_error() {
        let config = parse("apiVersion: v1\nkind: Config\ncontexts: []\n");
        let message = config
            .resolve_context(Path::new("k"), None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("no current-context"), "{message}");
    }
}
