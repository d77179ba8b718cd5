//! The backup-restore suite's disasters, made real: the release's claims deleted and
//! their volumes gone (so kind's local-path data is really removed), or every workload
//! scaled to zero and back. Uninstalling is `helm_steps`, the namespace's deletion
//! `namespace`; what is here is what those leave behind.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

use super::{CLEANUP_TIMEOUT, ReleaseUnderTest, Timed, timed};
use crate::k8s::readiness::Readiness;
use crate::k8s::{self, KubeError, WaitPolicy};
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum DisasterError {
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error(
        "{} still there {timeout:?} after the disaster began ({}); a finalizer or a controller keeps them",
        what.join(", "),
        reason
    )]
    Lingering {
        what: Vec<String>,
        timeout: Duration,
        reason: String,
    },
}

impl From<DisasterError> for Problem {
    fn from(error: DisasterError) -> Problem {
        Problem::new(error.to_string())
    }
}

/// Workload name → replicas before the scale to zero, to scale back to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaledDown {
    stateful_sets: BTreeMap<String, i32>,
    deployments: BTreeMap<String, i32>,
}

impl ReleaseUnderTest<'_> {
    /// Deletes the release's claims (labelled `app.kubernetes.io/instance=<release>`,
    /// as charts label their volumeClaimTemplates) and waits until they and their
    /// volumes whose reclaim policy is Delete are gone. Returns the claims deleted.
    pub async fn delete_claims(&self) -> Timed<Result<Vec<String>, DisasterError>> {
        timed(async {
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(self.kube.client(), &self.namespace);
            let selector = format!("app.kubernetes.io/instance={}", self.name);
            let listed = k8s::request(
                format!("list claims {selector}"),
                claims.list(&ListParams::default().labels(&selector)),
            )
            .await?;
            let volumes: Api<PersistentVolume> = Api::all(self.kube.client());
            let mut waits = Vec::new();
            let mut deleted = Vec::new();
            for claim in &listed.items {
                let name = claim.metadata.name.clone().unwrap_or_default();
                k8s::request(
                    format!("delete claim {name}"),
                    claims.delete(&name, &DeleteParams::background()),
                )
                .await?;
                waits.push(Gone::Claim(name.clone()));
                deleted.push(name);
                let volume = claim
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.volume_name.clone());
                if let Some(volume) = volume {
                    let kept =
                        k8s::request(format!("get volume {volume}"), volumes.get_opt(&volume))
                            .await?
                            .and_then(|pv| pv.spec)
                            .and_then(|spec| spec.persistent_volume_reclaim_policy)
                            .is_some_and(|policy| policy != "Delete");
                    if !kept {
                        waits.push(Gone::Volume(volume));
                    }
                }
            }
            let settled = k8s::await_all(waits, WaitPolicy::within(CLEANUP_TIMEOUT), |item, _| {
                let (claims, volumes) = (&claims, &volumes);
                let item = item.clone();
                async move {
                    let still = match &item {
                        Gone::Claim(name) => {
                            k8s::request(format!("get claim {name}"), claims.get_opt(name))
                                .await?
                                .is_some()
                        }
                        Gone::Volume(name) => {
                            k8s::request(format!("get volume {name}"), volumes.get_opt(name))
                                .await?
                                .is_some()
                        }
                    };
                    Ok(if still {
                        Readiness::Pending("still there".into())
                    } else {
                        Readiness::Ready
                    })
                }
            })
            .await;
            lingering(
                settled
                    .into_iter()
                    .map(|s| (s.item.to_string(), s.settlement)),
            )?;
            Ok(deleted)
        })
        .await
    }

    /// Scales every StatefulSet and Deployment of the namespace to zero and waits until
    /// their pods are gone; returns what to scale back to.
    pub async fn scale_to_zero(&self) -> Timed<Result<ScaledDown, DisasterError>> {
        timed(async {
            let sets: Api<StatefulSet> = Api::namespaced(self.kube.client(), &self.namespace);
            let deployments: Api<Deployment> = Api::namespaced(self.kube.client(), &self.namespace);
            let mut scaled = ScaledDown::default();
            for set in k8s::request("list StatefulSets", sets.list(&ListParams::default()))
                .await?
                .items
            {
                let name = set.metadata.name.clone().unwrap_or_default();
                let replicas = set.spec.replicas.unwrap_or(1);
                scale(&sets, &name, 0).await?;
                scaled.stateful_sets.insert(name, replicas);
            }
            for deployment in
                k8s::request("list Deployments", deployments.list(&ListParams::default()))
                    .await?
                    .items
            {
                let name = deployment.metadata.name.clone().unwrap_or_default();
                let replicas = deployment.spec.replicas.unwrap_or(1);
                scale(&deployments, &name, 0).await?;
                scaled.deployments.insert(name, replicas);
            }
            let pods: Api<Pod> = Api::namespaced(self.kube.client(), &self.namespace);
            let settled = k8s::await_all(
                vec!["the workloads' pods".to_string()],
                WaitPolicy::within(CLEANUP_TIMEOUT),
                |_, _| {
                    let pods = &pods;
                    async move {
                        let left: Vec<String> =
                            k8s::request("list pods", pods.list(&ListParams::default()))
                                .await?
                                .items
                                .iter()
                                .filter(|pod| {
                                    pod.metadata.owner_references.iter().flatten().any(|owner| {
                                        matches!(owner.kind.as_str(), "StatefulSet" | "ReplicaSet")
                                    })
                                })
                                .filter_map(|pod| pod.metadata.name.clone())
                                .collect();
                        Ok(if left.is_empty() {
                            Readiness::Ready
                        } else {
                            Readiness::Pending(format!("pods left: {}", left.join(", ")))
                        })
                    }
                },
            )
            .await;
            lingering(settled.into_iter().map(|s| (s.item, s.settlement)))?;
            Ok(scaled)
        })
        .await
    }

    /// Scales the workloads back to what they had before [`Self::scale_to_zero`].
    pub async fn scale_back(&self, scaled: &ScaledDown) -> Timed<Result<(), DisasterError>> {
        timed(async {
            let sets: Api<StatefulSet> = Api::namespaced(self.kube.client(), &self.namespace);
            let deployments: Api<Deployment> = Api::namespaced(self.kube.client(), &self.namespace);
            for (name, replicas) in &scaled.stateful_sets {
                scale(&sets, name, *replicas).await?;
            }
            for (name, replicas) in &scaled.deployments {
                scale(&deployments, name, *replicas).await?;
            }
            Ok(())
        })
        .await
    }
}

#[derive(Clone, Debug)]
enum Gone {
    Claim(String),
    Volume(String),
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gone::Claim(name) => write!(f, "claim {name}"),
            Gone::Volume(name) => write!(f, "volume {name}"),
        }
    }
}

/// An error naming what did not go away in time.
fn lingering(
    settled: impl Iterator<Item = (String, k8s::Settlement)>,
) -> Result<(), DisasterError> {
    let mut what = Vec::new();
    let mut reason = String::new();
    for (item, settlement) in settled {
        if let k8s::Settlement::Failed(why) | k8s::Settlement::TimedOut(why) = settlement {
            what.push(item);
            reason = why;
        }
    }
    if what.is_empty() {
        Ok(())
    } else {
        Err(DisasterError::Lingering {
            what,
            timeout: CLEANUP_TIMEOUT,
            reason,
        })
    }
}

async fn scale<K>(api: &Api<K>, name: &str, replicas: i32) -> Result<(), KubeError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    k8s::request(
        format!("scale {name} to {replicas}"),
        api.patch_scale(name, &PatchParams::default(), &Patch::Merge(&patch)),
    )
    .await
    .map(drop)
}
