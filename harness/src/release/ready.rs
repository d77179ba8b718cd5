//! Waiting until the release's workloads are ready, by the pure rules of
//! `k8s::readiness` applied to what the API returns, through the one wait loop; and the
//! chaos check, which deletes one pod per workload and waits for readiness again.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, ListParams};

use super::{AFTER_FAILURE_GRACE, ReleaseUnderTest, Timed, timed};
use crate::cluster::ProviderKind;
use crate::k8s::readiness::{self, Readiness, Workload, WorkloadKind};
use crate::k8s::{self, KubeError, Settlement, WaitPolicy};
use crate::problem::Problem;

/// A workload that did not become ready, on its template.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error("{workload} will not become ready: {reason}")]
    WillNotBeReady {
        file: PathBuf,
        workload: Workload,
        reason: String,
    },
    #[error(
        "{workload} was not ready after {:.0}s: {reason}; raise `readiness-timeout` in ci/harness.yaml if it is only slow",
        waited.as_secs_f64()
    )]
    TimedOut {
        file: PathBuf,
        workload: Workload,
        waited: Duration,
        reason: String,
    },
}

impl ReadinessError {
    fn file(&self) -> &PathBuf {
        let (ReadinessError::WillNotBeReady { file, .. } | ReadinessError::TimedOut { file, .. }) =
            self;
        file
    }
}

impl From<ReadinessError> for Problem {
    fn from(error: ReadinessError) -> Problem {
        Problem::in_file(error.file().clone(), error.to_string())
    }
}

/// How the wait for one workload ended and how long it took.
#[derive(Debug)]
pub struct WorkloadWait {
    pub workload: Workload,
    pub elapsed: Duration,
    pub result: Result<(), ReadinessError>,
}

/// The chaos check of one workload failed.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("chaos check of {workload}: {source}")]
    Cluster {
        file: PathBuf,
        workload: Workload,
        source: KubeError,
    },
    #[error("chaos check of {workload}: no pod matches its selector `{selector}`")]
    NoPod {
        file: PathBuf,
        workload: Workload,
        selector: String,
    },
    #[error("chaos check of {workload}: deleted pod {pod} was still there after {timeout:?}")]
    NotDeleted {
        file: PathBuf,
        workload: Workload,
        pod: String,
        timeout: Duration,
    },
    #[error("after one of its pods was deleted: {0}")]
    NotReadyAgain(ReadinessError),
}

impl From<ChaosError> for Problem {
    fn from(error: ChaosError) -> Problem {
        let message = error.to_string();
        let file = match error {
            ChaosError::Cluster { file, .. }
            | ChaosError::NoPod { file, .. }
            | ChaosError::NotDeleted { file, .. } => file,
            ChaosError::NotReadyAgain(inner) => inner.file().clone(),
        };
        Problem::in_file(file, message)
    }
}

impl ReleaseUnderTest<'_> {
    /// Waits for every workload until it is ready, has failed for good, or the
    /// readiness timeout passes; sorted by workload.
    pub async fn wait_ready(&self, workloads: &[Workload]) -> Vec<WorkloadWait> {
        let policy = WaitPolicy::within(self.timeout).grace_after_failure(AFTER_FAILURE_GRACE);
        let settled = k8s::await_all(workloads.to_vec(), policy, |workload, waited| {
            let workload = workload.clone();
            async move { self.look(&workload, waited).await }
        })
        .await;
        let mut waits: Vec<WorkloadWait> = settled
            .into_iter()
            .map(|settled| {
                let file = self.chart_file(settled.item.source.as_deref());
                let workload = settled.item.clone();
                let result = match settled.settlement {
                    Settlement::Ready => Ok(()),
                    Settlement::Failed(reason) => Err(ReadinessError::WillNotBeReady {
                        file,
                        workload,
                        reason,
                    }),
                    Settlement::TimedOut(reason) => Err(ReadinessError::TimedOut {
                        file,
                        workload,
                        waited: settled.elapsed,
                        reason,
                    }),
                };
                WorkloadWait {
                    workload: settled.item,
                    elapsed: settled.elapsed,
                    result,
                }
            })
            .collect();
        waits.sort_by(|a, b| a.workload.cmp(&b.workload));
        waits
    }

    /// One look at `workload`, judged by its readiness rule; a workload still pending
    /// whose pods can never become ready (see [`readiness::pod_blocker`]) has failed.
    async fn look(&self, workload: &Workload, waited: Duration) -> Result<Readiness, KubeError> {
        let (verdict, selector) = self.look_at_workload(workload, waited).await?;
        let (Readiness::Pending(_), Some(selector)) = (&verdict, selector) else {
            return Ok(verdict);
        };
        let labels = match_labels(&selector);
        if labels.is_empty() {
            return Ok(verdict);
        }
        let pods = k8s::request(
            format!("list the pods of {workload}"),
            Api::<Pod>::namespaced(self.kube.client(), &self.namespace)
                .list(&ListParams::default().labels(&labels)),
        )
        .await?;
        // The clusters chart-harness makes have no autoscaler to add a node.
        let unschedulable_is_final = self.cluster.provider != ProviderKind::Existing;
        Ok(pods
            .items
            .iter()
            .find_map(|pod| readiness::pod_blocker(pod, waited, unschedulable_is_final))
            .map_or(verdict, Readiness::Failed))
    }

    /// The workload's own verdict, and the selector of its pods where it runs pods.
    async fn look_at_workload(
        &self,
        workload: &Workload,
        waited: Duration,
    ) -> Result<(Readiness, Option<LabelSelector>), KubeError> {
        let client = self.kube.client();
        let ns = self.namespace.as_str();
        let name = workload.name.as_str();
        let what = format!("get {workload}");
        let missing = || Readiness::Pending("not created yet".into());
        let with_pods = |verdict: Readiness, selector: LabelSelector| (verdict, Some(selector));
        Ok(match workload.kind {
            WorkloadKind::Deployment => k8s::request(
                what,
                Api::<Deployment>::namespaced(client, ns).get_opt(name),
            )
            .await?
            .map_or_else(
                || (missing(), None),
                |o| with_pods(readiness::deployment(&o), o.spec.selector),
            ),
            WorkloadKind::StatefulSet => k8s::request(
                what,
                Api::<StatefulSet>::namespaced(client, ns).get_opt(name),
            )
            .await?
            .map_or_else(
                || (missing(), None),
                |o| with_pods(readiness::stateful_set(&o), o.spec.selector),
            ),
            WorkloadKind::DaemonSet => {
                k8s::request(what, Api::<DaemonSet>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(
                        || (missing(), None),
                        |o| with_pods(readiness::daemon_set(&o), o.spec.selector),
                    )
            }
            WorkloadKind::Job => (
                k8s::request(what, Api::<Job>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(missing, |o| readiness::job(&o)),
                None,
            ),
            WorkloadKind::Pod => {
                let unschedulable_is_final = self.cluster.provider != ProviderKind::Existing;
                let verdict = k8s::request(what, Api::<Pod>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(missing, |o| match readiness::pod(&o) {
                        Readiness::Pending(pending) => {
                            readiness::pod_blocker(&o, waited, unschedulable_is_final)
                                .map_or(Readiness::Pending(pending), Readiness::Failed)
                        }
                        other => other,
                    });
                (verdict, None)
            }
            WorkloadKind::PersistentVolumeClaim => {
                let provisioner = !self.pods_simulated();
                let Some(claim) = k8s::request(
                    what,
                    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns).get_opt(name),
                )
                .await?
                else {
                    return Ok((missing(), None));
                };
                let waits_for_first_consumer = match claim
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.storage_class_name.as_deref())
                {
                    // Cluster-scoped: a user of an existing cluster may not read it, and
                    // then the claim is waited for as any other.
                    Some(class) => k8s::request(
                        format!("get StorageClass {class}"),
                        Api::<StorageClass>::all(client).get_opt(class),
                    )
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|class| {
                        class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
                    }),
                    None => false,
                };
                (
                    readiness::persistent_volume_claim(
                        &claim,
                        provisioner,
                        waits_for_first_consumer,
                        waited,
                    ),
                    None,
                )
            }
            WorkloadKind::Service => {
                let Some(service) = k8s::request(
                    what,
                    Api::<Service>::namespaced(client.clone(), ns).get_opt(name),
                )
                .await?
                else {
                    return Ok((missing(), None));
                };
                let selector = format!("kubernetes.io/service-name={name}");
                let slices = k8s::request(
                    format!("list EndpointSlices of {workload}"),
                    Api::<EndpointSlice>::namespaced(client, ns)
                        .list(&ListParams::default().labels(&selector)),
                )
                .await?;
                (readiness::service(&service, &slices.items), None)
            }
        })
    }

    /// Deletes one pod of each pod-running workload, waits until it is gone, then
    /// requires the workload to be ready again within the readiness timeout.
    pub async fn chaos(&self, workloads: &[Workload]) -> Timed<Vec<ChaosError>> {
        timed(async {
            let mut errors = Vec::new();
            for workload in workloads.iter().filter(|w| w.kind.runs_pods()) {
                if let Err(error) = self.kill_one_pod(workload).await {
                    errors.push(error);
                    continue;
                }
                for wait in self.wait_ready(std::slice::from_ref(workload)).await {
                    errors.extend(wait.result.err().map(ChaosError::NotReadyAgain));
                }
            }
            errors
        })
        .await
    }

    async fn kill_one_pod(&self, workload: &Workload) -> Result<(), ChaosError> {
        let client = self.kube.client();
        let ns = self.namespace.as_str();
        let name = workload.name.as_str();
        let file = self.chart_file(workload.source.as_deref());
        let cluster_error = |source| ChaosError::Cluster {
            file: file.clone(),
            workload: workload.clone(),
            source,
        };
        let what = format!("get {workload}");
        let selector: LabelSelector = match workload.kind {
            WorkloadKind::Deployment => k8s::request(
                what,
                Api::<Deployment>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            WorkloadKind::StatefulSet => k8s::request(
                what,
                Api::<StatefulSet>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            WorkloadKind::DaemonSet => k8s::request(
                what,
                Api::<DaemonSet>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            _ => return Ok(()),
        }
        .map_err(cluster_error)?;
        let labels = match_labels(&selector);
        let pods_api = Api::<Pod>::namespaced(client, ns);
        let pods = k8s::request(
            "list its pods",
            pods_api.list(&ListParams::default().labels(&labels)),
        )
        .await
        .map_err(cluster_error)?;
        let Some(victim) = pods
            .items
            .into_iter()
            .find(|p| p.metadata.deletion_timestamp.is_none())
        else {
            return Err(ChaosError::NoPod {
                file,
                workload: workload.clone(),
                selector: labels,
            });
        };
        let victim_name = victim.metadata.name.clone().unwrap_or_default();
        k8s::request(
            format!("delete pod {victim_name}"),
            pods_api.delete(&victim_name, &DeleteParams::default()),
        )
        .await
        .map_err(cluster_error)?;
        let gone = readiness::gone::<Pod>(victim.metadata.uid.clone());
        let settlement = k8s::await_condition(
            &pods_api,
            &victim_name,
            WaitPolicy::within(self.timeout),
            gone,
        )
        .await;
        if settlement.is_ready() {
            Ok(())
        } else {
            Err(ChaosError::NotDeleted {
                file,
                workload: workload.clone(),
                pod: victim_name,
                timeout: self.timeout,
            })
        }
    }
}

/// A label selector's `matchLabels` as a list query (`app=web,tier=front`).
fn match_labels(selector: &LabelSelector) -> String {
    selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            name: "web".into(),
            source: Some("templates/deploy.yaml".into()),
        }
    }

    #[test]
    fn a_timeout_names_the_workload_its_template_and_the_setting_to_raise() {
        let problem = Problem::from(ReadinessError::TimedOut {
            file: "charts/web/templates/deploy.yaml".into(),
            workload: workload(),
            waited: Duration::from_millis(10_200),
            reason: "0 of 1 replicas ready, 0 available".into(),
        });
        assert_eq!(
            problem.to_string(),
            "charts/web/templates/deploy.yaml: Deployment/web was not ready after 10s: 0 of 1 replicas ready, 0 available; raise `readiness-timeout` in ci/harness.yaml if it is only slow"
        );
    }

    #[test]
    fn chaos_failures_stay_on_the_workload_template() {
        let problem = Problem::from(ChaosError::NotReadyAgain(ReadinessError::WillNotBeReady {
            file: "charts/web/templates/deploy.yaml".into(),
            workload: workload(),
            reason: "rollout exceeded its progress deadline".into(),
        }));
        assert_eq!(
            problem.to_string(),
            "charts/web/templates/deploy.yaml: after one of its pods was deleted: Deployment/web will not become ready: rollout exceeded its progress deadline"
        );
    }
}
