//! One cluster per run, acquired by the first trial that needs one and released at
//! the end, whatever way the run ends.

use std::path::PathBuf;

use tokio::sync::Mutex;

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
    /// Acquisition failed; every trial that needs the cluster fails with this message.
    Failed(String),
    Released,
}

/// The run's cluster. Cheap to create: nothing happens until [`ClusterLease::access`].
pub struct ClusterLease {
    provider: AnyProvider,
    request: ClusterRequest,
    state: Mutex<LeaseState>,
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
        }
    }

    pub fn provider(&self) -> ProviderKind {
        self.provider.kind()
    }

    /// The cluster, acquired on the first call. Concurrent callers wait for that one
    /// acquisition; a failure is remembered, so it is attempted once per run.
    pub async fn access(&self) -> Result<ClusterAccess, String> {
        let mut state = self.state.lock().await;
        if let LeaseState::NotAcquired = *state {
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
                    LeaseState::Acquired(handle, access)
                }
                Err(error) => LeaseState::Failed(error.to_string()),
            };
        }
        match &*state {
            LeaseState::Acquired(_, access) => Ok(access.clone()),
            LeaseState::Failed(message) => Err(message.clone()),
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
