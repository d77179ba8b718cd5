//! One cluster per run, acquired by the first trial that needs one and released at
//! the end, whatever way the run ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, broadcast};

use super::{
    AnyProvider, ClusterError, ClusterHandle, ClusterProvider, ClusterRequest, DetachedCluster,
    ProviderKind,
};

/// What a suite needs to talk to the leased cluster.
#[derive(Clone, Debug)]
pub struct ClusterAccess {
    pub provider: ProviderKind,
    pub name: String,
    pub kubeconfig: PathBuf,
    /// The context inside `kubeconfig`; `None` means its current context.
    pub context: Option<String>,
    /// One line for output: provider, name, version, and what is simulated.
    pub description: String,
    /// Pods are simulated (local control plane): no container runs, so container
    /// logs and in-pod commands are not real.
    pub pods_simulated: bool,
}

enum LeaseState {
    NotAcquired,
    Acquired(ClusterHandle, ClusterAccess),
    /// Acquisition failed; every trial that needs the cluster fails. `announced`: a
    /// watcher was told the error (the runner prints it once, as the run's `CLUSTER
    /// failed` line), so the trials refer to it instead of repeating it each.
    Failed {
        error: String,
        announced: bool,
    },
    Released,
}

/// What happened to the lease, for whoever watches the run (the runner turns these
/// into report events; the lease knows nothing of reporting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// Acquisition began; `intent` is the provider's [`ClusterProvider::intent`].
    Creating {
        intent: String,
    },
    Ready {
        description: String,
        took: Duration,
    },
    Failed {
        error: String,
        took: Duration,
    },
}

/// What a trial is told when the acquisition's error was announced to the run.
pub const ANNOUNCED_FAILURE: &str =
    "it could not be made; the run's `CLUSTER failed` line says why and what to do";

/// The run's cluster. Cheap to create: nothing happens until [`ClusterLease::access`].
pub struct ClusterLease {
    provider: AnyProvider,
    request: ClusterRequest,
    state: Mutex<LeaseState>,
    /// A broadcast, not a watch: a quick acquisition (an existing cluster) must still
    /// deliver `Creating` before `Ready`. One acquisition per run sends two events.
    events: broadcast::Sender<LeaseEvent>,
}

impl std::fmt::Debug for ClusterLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLease")
            .field("provider", &self.provider.kind())
            .finish_non_exhaustive()
    }
}

impl ClusterLease {
    pub fn new(provider: AnyProvider, request: ClusterRequest) -> Self {
        ClusterLease {
            provider,
            request,
            state: Mutex::new(LeaseState::NotAcquired),
            events: broadcast::channel(4).0,
        }
    }

    /// Events of this lease from now on; subscribe before a trial can acquire it.
    pub fn subscribe(&self) -> broadcast::Receiver<LeaseEvent> {
        self.events.subscribe()
    }

    pub fn provider(&self) -> ProviderKind {
        self.provider.kind()
    }

    /// The cluster, acquired on the first call. Concurrent callers wait for that one
    /// acquisition; a failure is remembered, so it is attempted once per run. The
    /// error is the acquisition's own, unless a watcher already announced it: then it
    /// only refers to that announcement, so a run says it once, not once per trial.
    pub async fn access(&self) -> Result<ClusterAccess, String> {
        // The run's announcement says what the cluster is; the heartbeat only which.
        crate::activity::waiting_for(|| format!("the run's {} cluster", self.provider.kind()));
        let mut state = self.state.lock().await;
        if let LeaseState::NotAcquired = *state {
            let started = Instant::now();
            // No subscriber (a run without reporters) is no error.
            let _ = self.events.send(LeaseEvent::Creating {
                intent: self.provider.intent(&self.request),
            });
            *state = match self.provider.acquire(&self.request).await {
                Ok(handle) => {
                    let access = ClusterAccess {
                        provider: handle.provider(),
                        name: handle.name().to_string(),
                        kubeconfig: handle.kubeconfig().to_path_buf(),
                        context: handle.context().map(str::to_string),
                        description: handle.description().to_string(),
                        pods_simulated: handle.pods_simulated(),
                    };
                    let _ = self.events.send(LeaseEvent::Ready {
                        description: access.description.clone(),
                        took: started.elapsed(),
                    });
                    LeaseState::Acquired(handle, access)
                }
                Err(error) => {
                    let announced = self
                        .events
                        .send(LeaseEvent::Failed {
                            error: error.to_string(),
                            took: started.elapsed(),
                        })
                        .is_ok();
                    LeaseState::Failed {
                        error: error.to_string(),
                        announced,
                    }
                }
            };
        }
        match &*state {
            LeaseState::Acquired(_, access) => Ok(access.clone()),
            LeaseState::Failed {
                announced: true, ..
            } => Err(ANNOUNCED_FAILURE.to_string()),
            LeaseState::Failed { error, .. } => Err(error.clone()),
            LeaseState::Released => Err("the run's cluster was already released".to_string()),
            LeaseState::NotAcquired => unreachable!("acquired above"),
        }
    }

    /// The cluster's description, if one was acquired.
    pub async fn acquired(&self) -> Option<ClusterAccess> {
        match &*self.state.lock().await {
            LeaseState::Acquired(_, access) => Some(access.clone()),
            _ => None,
        }
    }

    /// Hands the acquired cluster over to other processes instead of tearing it down.
    pub async fn detach(&self) -> Option<DetachedCluster> {
        let previous = std::mem::replace(&mut *self.state.lock().await, LeaseState::Released);
        match previous {
            LeaseState::Acquired(handle, _) => Some(handle.detach()),
            _ => None,
        }
    }

    /// Tears the cluster down if one was acquired. Later `access` calls fail.
    pub async fn release(&self) -> Result<(), ClusterError> {
        let previous = std::mem::replace(&mut *self.state.lock().await, LeaseState::Released);
        match previous {
            LeaseState::Acquired(handle, _) => handle.teardown().await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ExistingProvider;

    fn lease_on(kubeconfig: &str, context: Option<&str>) -> (tempfile::TempDir, ClusterLease) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, kubeconfig).unwrap();
        let provider = AnyProvider::Existing(ExistingProvider {
            kubeconfig: path,
            context: context.map(str::to_string),
            pods_simulated: true,
        });
        (dir, ClusterLease::new(provider, ClusterRequest::default()))
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: ci\nclusters:\n- name: ci\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: ci\n  context:\n    cluster: ci\nusers: []\n";

    /// A quick acquisition still announces itself before it is ready, once per run.
    #[tokio::test]
    async fn acquiring_announces_creating_then_ready_once() {
        let (_dir, lease) = lease_on(KUBECONFIG, None);
        let mut events = lease.subscribe();
        lease.access().await.unwrap();
        lease.access().await.unwrap();
        let Ok(LeaseEvent::Creating { intent }) = events.try_recv() else {
            panic!("first comes Creating");
        };
        assert!(intent.contains("pods are simulated by kwok"), "{intent}");
        let Ok(LeaseEvent::Ready { description, .. }) = events.try_recv() else {
            panic!("then Ready");
        };
        assert!(
            description.contains("https://127.0.0.1:6443"),
            "{description}"
        );
        assert!(
            events.try_recv().is_err(),
            "the second access announces nothing"
        );
    }

    #[tokio::test]
    async fn a_failed_acquisition_is_announced_with_its_error() {
        let (_dir, lease) = lease_on(KUBECONFIG, Some("prod"));
        let mut events = lease.subscribe();
        let error = lease.access().await.unwrap_err();
        assert!(matches!(events.try_recv(), Ok(LeaseEvent::Creating { .. })));
        match events.try_recv() {
            Ok(LeaseEvent::Failed {
                error: announced, ..
            }) => assert!(announced.contains("prod"), "{announced}"),
            other => panic!("expected Failed, got {other:?}"),
        }
        // Announced once; the trials refer to it instead of repeating it.
        assert_eq!(error, ANNOUNCED_FAILURE);
        assert_eq!(lease.access().await.unwrap_err(), ANNOUNCED_FAILURE);
    }

    /// Nobody watches (`cluster up`): the error itself is the answer, every time.
    #[tokio::test]
    async fn an_unannounced_failure_keeps_its_error() {
        let (_dir, lease) = lease_on(KUBECONFIG, Some("prod"));
        let first = lease.access().await.unwrap_err();
        assert!(first.contains("prod"), "{first}");
        assert_eq!(lease.access().await.unwrap_err(), first);
    }
}
