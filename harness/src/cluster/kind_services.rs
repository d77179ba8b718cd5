//! The in-cluster services trials rely on, waited for after `kind create cluster`: its
//! `--wait` covers the control-plane node only, so a trial started right away found
//! CoreDNS not yet answering (a `helm test` hook failed with "bad address" for its own
//! release's Service) and claims pending on a provisioner still starting.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

use super::{ClusterError, ProviderKind};
use crate::k8s::Kube;
use crate::k8s::readiness::{self, Readiness};
use crate::k8s::wait::{Settlement, WaitPolicy, await_condition};

/// The Deployments kind installs by default: cluster DNS, and the default StorageClass's
/// provisioner. A cluster without one (a config with `disableDefaultCNI` brings its own
/// network, and then CoreDNS waits for it) skips it.
pub fn services_to_wait_for(disable_default_cni: bool) -> Vec<(&'static str, &'static str)> {
    let mut services = vec![("local-path-storage", "local-path-provisioner")];
    if !disable_default_cni {
        services.insert(0, ("kube-system", "coredns"));
    }
    services
}

/// Waits until each of `services` (namespace, Deployment) is available; one kind did not
/// create counts as absent from this cluster, not as pending.
pub async fn wait_for_services(
    kubeconfig: &Path,
    context: &str,
    name: &str,
    services: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), ClusterError> {
    let not_ready = |service: String, last: String| ClusterError::ServiceNotReady {
        provider: ProviderKind::Kind,
        name: name.to_string(),
        service,
        timeout,
        last,
    };
    let kube = Kube::connect(kubeconfig, Some(context))
        .await
        .map_err(|error| not_ready("the API server".into(), error.to_string()))?;
    for (namespace, deployment) in services {
        let api: Api<Deployment> = Api::namespaced(kube.client(), namespace);
        let settlement = await_condition(&api, deployment, WaitPolicy::within(timeout), |found| {
            found.map_or(Readiness::Ready, readiness::deployment)
        })
        .await;
        match settlement {
            Settlement::Ready => {}
            Settlement::Failed(last) | Settlement::TimedOut(last) => {
                return Err(not_ready(
                    format!("Deployment {namespace}/{deployment}"),
                    last,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_is_waited_for_unless_the_config_brings_its_own_network() {
        assert_eq!(
            services_to_wait_for(false),
            vec![
                ("kube-system", "coredns"),
                ("local-path-storage", "local-path-provisioner")
            ]
        );
        assert_eq!(
            services_to_wait_for(true),
            vec![("local-path-storage", "local-path-provisioner")]
        );
    }
}
