//! A fresh namespace per trial, labelled with the run id, and a guard that deletes it
//! even when the trial future is dropped (trial timeout, Ctrl-C) before its cleanup.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams};

use super::{CLEANUP_TIMEOUT, Timed, timed};
use crate::k8s::{self, Kube, KubeError, Settlement, WaitPolicy, naming, readiness};
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("cannot create namespace {namespace}: {source}")]
    Create {
        namespace: String,
        source: KubeError,
    },
    #[error(
        "namespace {namespace} got no `default` ServiceAccount within {timeout:?} ({reason}); the controller-manager's serviceaccount controller creates it: check that the controller-manager runs"
    )]
    NoDefaultServiceAccount {
        namespace: String,
        timeout: Duration,
        reason: String,
    },
    #[error(
        "namespace {namespace} was still terminating after {timeout:?}; an object with a finalizer nobody removes blocks it (see its status.conditions)"
    )]
    StillTerminating {
        namespace: String,
        timeout: Duration,
    },
    #[error(transparent)]
    Delete(KubeError),
}

impl From<NamespaceError> for Problem {
    fn from(error: NamespaceError) -> Problem {
        Problem::new(error.to_string())
    }
}

/// How long a new namespace's `default` ServiceAccount may take to appear.
const DEFAULT_SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(30);

/// The trial's namespace; [`TrialNamespace::delete`] removes it and waits until it is
/// gone, and dropping it undeleted deletes it in the background.
pub struct TrialNamespace {
    name: String,
    guard: NamespaceGuard,
}

impl TrialNamespace {
    /// Creates `<chart>-<case>-<random>`, labelled with the run id so a run's leftovers
    /// can be found, and waits for its `default` ServiceAccount.
    pub async fn create(
        kube: &Kube,
        chart: &str,
        case: &str,
    ) -> Timed<Result<TrialNamespace, NamespaceError>> {
        timed(async {
            let name = naming::namespace_name(chart, case, &naming::random_suffix(5));
            // Armed first: a namespace made but never ready is deleted when the error
            // drops the guard (deleting one never made is harmless).
            let guard = NamespaceGuard::new(kube.client(), name.clone());
            make(kube, &name).await?;
            Ok(TrialNamespace { guard, name })
        })
        .await
    }

    /// Deletes the namespace, waits until it is gone, and makes it again under the same
    /// name: the backup-restore suite's `delete-namespace` disaster, after which the
    /// restore targets the namespace the backup came from. The guard stays armed.
    pub async fn recreate(&self, kube: &Kube) -> Timed<Result<(), NamespaceError>> {
        timed(async {
            match kube.delete_namespace(&self.name, CLEANUP_TIMEOUT).await {
                Ok(true) => make(kube, &self.name).await,
                Ok(false) => Err(NamespaceError::StillTerminating {
                    namespace: self.name.clone(),
                    timeout: CLEANUP_TIMEOUT,
                }),
                Err(error) => Err(NamespaceError::Delete(error)),
            }
        })
        .await
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace and waits until its finalizer ran (every namespaced object
    /// is gone then). The guard is disarmed either way: this was the cleanup.
    pub async fn delete(self, kube: &Kube) -> Timed<Result<(), NamespaceError>> {
        let outcome = timed(async {
            match kube.delete_namespace(&self.name, CLEANUP_TIMEOUT).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(NamespaceError::StillTerminating {
                    namespace: self.name.clone(),
                    timeout: CLEANUP_TIMEOUT,
                }),
                Err(error) => Err(NamespaceError::Delete(error)),
            }
        })
        .await;
        self.guard.disarm();
        outcome
    }
}

/// Creates namespace `name`, labelled with the run id so a run's leftovers can be
/// found, and waits for its `default` ServiceAccount.
async fn make(kube: &Kube, name: &str) -> Result<(), NamespaceError> {
    let labels = BTreeMap::from([(naming::RUN_LABEL.to_string(), naming::run_id().to_string())]);
    if let Err(source) = kube.create_namespace(name, labels).await {
        return Err(NamespaceError::Create {
            namespace: name.to_string(),
            source,
        });
    }
    // Pods that name no ServiceAccount get `default`, which a controller creates a
    // moment after the namespace: a dry-run or install before then is refused with
    // `serviceaccount "default" not found`.
    let accounts: Api<ServiceAccount> = Api::namespaced(kube.client(), name);
    let policy = WaitPolicy::within(DEFAULT_SERVICE_ACCOUNT_TIMEOUT);
    match k8s::await_condition(&accounts, "default", policy, readiness::exists).await {
        Settlement::Ready => Ok(()),
        Settlement::Failed(reason) | Settlement::TimedOut(reason) => {
            Err(NamespaceError::NoDefaultServiceAccount {
                namespace: name.to_string(),
                timeout: DEFAULT_SERVICE_ACCOUNT_TIMEOUT,
                reason,
            })
        }
    }
}

/// Deletes a namespace in the background when dropped armed: its owner was dropped
/// before its own cleanup ran.
pub struct NamespaceGuard {
    armed: Option<(kube::Client, String)>,
}

impl NamespaceGuard {
    pub fn new(client: kube::Client, namespace: String) -> Self {
        NamespaceGuard {
            armed: Some((client, namespace)),
        }
    }

    pub fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let Some((client, namespace)) = self.armed.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let api: Api<Namespace> = Api::all(client);
                let _ = tokio::time::timeout(
                    k8s::REQUEST_TIMEOUT,
                    api.delete(&namespace, &DeleteParams::background()),
                )
                .await;
            });
        }
    }
}
