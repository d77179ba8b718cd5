//! Talking to the cluster with kube-rs: server-side (dry-run) apply of rendered
//! objects, namespaces, pure readiness rules, the one wait loop (`wait`) and the objects
//! a release may leave behind.
//! Named `k8s` because a module named `kube` would shadow the kube crate in this crate.
//!
//! Every call has a deadline: a cluster that stops answering fails the trial instead of
//! hanging it.

pub mod cluster_scoped;
pub mod naming;
pub mod readiness;
pub mod wait;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Client, Config};
use serde_json::Value;
use tokio::sync::Mutex;

pub use cluster_scoped::{cluster_scoped_claims, is_cluster_scoped_kind};
pub use wait::{Settled, Settlement, WaitPolicy, await_all, await_condition};

/// The field manager of every apply the harness makes.
pub const FIELD_MANAGER: &str = "chart-harness";

/// How long a single API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How often state is polled while waiting.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot load kubeconfig {} (context {}): {message}; check that the cluster is still up", path.display(), context.as_deref().unwrap_or("current"))]
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
        message: String,
    },
    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what}: no answer within {timeout:?}; the API server may be overloaded or gone")]
    TimedOut { what: String, timeout: Duration },
}

/// The message of an API error (`Status.message`), or the error itself.
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// A 404, including the bare `404 page not found` of an API group nobody serves.
fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found() || status.code == 404)
}

/// Runs one request with [`REQUEST_TIMEOUT`], naming it in errors.
pub async fn request<T, F>(what: impl Into<String>, future: F) -> Result<T, KubeError>
where
    F: std::future::Future<Output = Result<T, kube::Error>>,
{
    let what = what.into();
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(KubeError::Request { what, source }),
        Err(_) => Err(KubeError::TimedOut {
            what,
            timeout: REQUEST_TIMEOUT,
        }),
    }
}

/// How a rendered object fared with the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// The API server does not serve this kind (a CRD is missing).
    UnknownKind,
    /// The API server refused the object; its message says why.
    Rejected(String),
}

/// A resolved kind: how to address it, and whether it is namespaced.
pub type ResolvedKind = (ApiResource, ApiCapabilities);

/// A client for one cluster, with a cache of resolved kinds.
pub struct Kube {
    client: Client,
    kinds: Mutex<HashMap<GroupVersionKind, Option<ResolvedKind>>>,
}

impl Kube {
    /// A client for `context` (or the current one) of `kubeconfig`.
    pub async fn connect(kubeconfig: &Path, context: Option<&str>) -> Result<Kube, KubeError> {
        let fail = |message: String| KubeError::Kubeconfig {
            path: kubeconfig.to_path_buf(),
            context: context.map(str::to_string),
            message,
        };
        let file =
            kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| fail(e.to_string()))?;
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = Config::from_custom_kubeconfig(file, &options)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let client = Client::try_from(config).map_err(|e| fail(e.to_string()))?;
        Ok(Kube {
            client,
            kinds: Mutex::new(HashMap::new()),
        })
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The API resource for `gvk`, `None` when the server does not serve it. Answers are
    /// cached, except "unknown", which a CRD applied later may change.
    pub async fn resolve(&self, gvk: &GroupVersionKind) -> Result<Option<ResolvedKind>, KubeError> {
        if let Some(Some(found)) = self.kinds.lock().await.get(gvk) {
            return Ok(Some(found.clone()));
        }
        let what = format!("look up {}/{} {}", gvk.group, gvk.version, gvk.kind);
        let found = match tokio::time::timeout(
            REQUEST_TIMEOUT,
            kube::discovery::pinned_kind(&self.client, gvk),
        )
        .await
        {
            Ok(Ok(found)) => Some(found),
            Ok(Err(kube::Error::Discovery(_))) => None,
            Ok(Err(error)) if is_not_found(&error) => None,
            Ok(Err(source)) => return Err(KubeError::Request { what, source }),
            Err(_) => {
                return Err(KubeError::TimedOut {
                    what,
                    timeout: REQUEST_TIMEOUT,
                });
            }
        };
        self.kinds.lock().await.insert(gvk.clone(), found.clone());
        Ok(found)
    }

    /// The `Api` for an object of `resolved` kind: in `namespace` when namespaced.
    pub fn api_for(&self, resolved: &ResolvedKind, namespace: &str) -> Api<DynamicObject> {
        match resolved.1.scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), namespace, &resolved.0),
            Scope::Cluster => Api::all_with(self.client.clone(), &resolved.0),
        }
    }

    /// Server-side apply of one rendered object (`dry_run`: validated and defaulted by
    /// the API server, admission included, but not stored). Namespaced objects without
    /// a namespace go to `namespace`, as helm would put them.
    pub async fn apply(
        &self,
        object: &Value,
        namespace: &str,
        dry_run: bool,
    ) -> Result<ApplyOutcome, KubeError> {
        let Some(gvk) = gvk_of(object) else {
            return Ok(ApplyOutcome::Rejected(
                "the object has no apiVersion or kind".into(),
            ));
        };
        let Some(resolved) = self.resolve(&gvk).await? else {
            return Ok(ApplyOutcome::UnknownKind);
        };
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace);
        let api = self.api_for(&resolved, namespace);
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        let what = format!("apply {} {name}", gvk.kind);
        match tokio::time::timeout(
            REQUEST_TIMEOUT,
            api.patch(name, &params, &Patch::Apply(object)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(ApplyOutcome::Applied),
            Ok(Err(kube::Error::Api(status))) => Ok(ApplyOutcome::Rejected(status.message)),
            Ok(Err(source)) => Err(KubeError::Request { what, source }),
            Err(_) => Err(KubeError::TimedOut {
                what,
                timeout: REQUEST_TIMEOUT,
            }),
        }
    }

    /// Creates `name` with `labels`.
    pub async fn create_namespace(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), KubeError> {
        let namespace = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<Namespace> = Api::all(self.client.clone());
        request(
            format!("create namespace {name}"),
            api.create(&PostParams::default(), &namespace),
        )
        .await
        .map(drop)
    }

    /// Deletes namespace `name` and waits until it is gone (its finalizer ran, so every
    /// namespaced object is gone too). `Ok(false)` when it was still there at `timeout`.
    pub async fn delete_namespace(&self, name: &str, timeout: Duration) -> Result<bool, KubeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let deleted = tokio::time::timeout(
            REQUEST_TIMEOUT,
            api.delete(name, &DeleteParams::background()),
        )
        .await;
        match deleted {
            Ok(Ok(_)) => {}
            Ok(Err(error)) if is_not_found(&error) => return Ok(true),
            Ok(Err(source)) => {
                return Err(KubeError::Request {
                    what: format!("delete namespace {name}"),
                    source,
                });
            }
            Err(_) => {
                return Err(KubeError::TimedOut {
                    what: format!("delete namespace {name}"),
                    timeout: REQUEST_TIMEOUT,
                });
            }
        }
        let settlement = wait::await_condition(
            &api,
            name,
            WaitPolicy::within(timeout),
            readiness::gone::<Namespace>(None),
        )
        .await;
        Ok(settlement.is_ready())
    }

    /// Every cluster-scoped object that helm's ownership annotation ties to a release in
    /// `namespace` (`meta.helm.sh/release-namespace`), as `Kind/name`. Namespaced
    /// objects die with the namespace; these do not.
    pub async fn cluster_objects_of_release_namespace(
        &self,
        namespace: &str,
    ) -> Result<Vec<String>, KubeError> {
        let discovery = tokio::time::timeout(
            Duration::from_secs(60),
            kube::Discovery::new(self.client.clone()).run_aggregated(),
        )
        .await
        .map_err(|_| KubeError::TimedOut {
            what: "discover the API's kinds".into(),
            timeout: Duration::from_secs(60),
        })?
        .map_err(|source| KubeError::Request {
            what: "discover the API's kinds".into(),
            source,
        })?;
        let mut found = Vec::new();
        for group in discovery.groups() {
            for (resource, capabilities) in group.recommended_resources() {
                if capabilities.scope != Scope::Cluster || !capabilities.supports_operation("list")
                {
                    continue;
                }
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
                let Ok(list) = request(
                    format!("list {}", resource.plural),
                    api.list_metadata(&ListParams::default()),
                )
                .await
                else {
                    // Some kinds are listable only by privileged users; skip them.
                    continue;
                };
                for item in list.items {
                    let owned = item
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("meta.helm.sh/release-namespace"))
                        .is_some_and(|ns| ns == namespace);
                    if owned {
                        found.push(format!(
                            "{}/{}",
                            resource.kind,
                            item.metadata.name.unwrap_or_default()
                        ));
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// The group, version and kind of a rendered object.
pub fn gvk_of(object: &Value) -> Option<GroupVersionKind> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    Some(GroupVersionKind::gvk(group, version, kind))
}
