//! When is an installed object ready? Pure decisions over the objects the API returns,
//! so every rule is tested on recorded objects without a cluster. The rules follow what
//! `kubectl rollout status` and the controllers' own status fields promise.

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, PersistentVolumeClaim, Pod, PodStatus, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use crate::manifest::Manifest;

/// The verdict on one object at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not ready yet; the text says what is still missing.
    Pending(String),
    /// Will not become ready without a change; the text says why.
    Failed(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

/// The kinds whose readiness the integration suite waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    Pod,
    Service,
    PersistentVolumeClaim,
}

impl WorkloadKind {
    fn from_type(api_version: &str, kind: &str) -> Option<WorkloadKind> {
        Some(match (api_version, kind) {
            ("apps/v1", "Deployment") => WorkloadKind::Deployment,
            ("apps/v1", "StatefulSet") => WorkloadKind::StatefulSet,
            ("apps/v1", "DaemonSet") => WorkloadKind::DaemonSet,
            ("batch/v1", "Job") => WorkloadKind::Job,
            ("v1", "Pod") => WorkloadKind::Pod,
            ("v1", "Service") => WorkloadKind::Service,
            ("v1", "PersistentVolumeClaim") => WorkloadKind::PersistentVolumeClaim,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Service => "Service",
            WorkloadKind::PersistentVolumeClaim => "PersistentVolumeClaim",
        }
    }

    /// Kinds that own pods through a selector; the chaos check deletes one of them.
    pub fn runs_pods(self) -> bool {
        matches!(
            self,
            WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet
        )
    }
}

/// One object of the release the suite waits for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    /// The template it came from, relative to the chart.
    pub source: Option<String>,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

/// The objects of a rendered release to wait for. Hooks are left out: helm runs them
/// itself (tests, pre-install jobs) and deletes many of them afterwards.
pub fn workloads(manifests: &[Manifest]) -> Vec<Workload> {
    manifests
        .iter()
        .filter(|manifest| !is_hook(&manifest.value))
        .filter_map(|manifest| {
            let text = |pointer: &str| manifest.value.pointer(pointer).and_then(Value::as_str);
            let kind = WorkloadKind::from_type(text("/apiVersion")?, text("/kind")?)?;
            Some(Workload {
                kind,
                name: text("/metadata/name")?.to_string(),
                source: manifest.source.clone(),
            })
        })
        .collect()
}

/// Whether helm treats the object as a hook (`helm.sh/hook` annotation).
pub fn is_hook(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations/helm.sh~1hook")
        .is_some()
}

/// Has the controller seen the current spec? Status fields describe an older one until then.
fn observed(generation: Option<i64>, observed: Option<i64>) -> Option<Readiness> {
    match (generation, observed) {
        (Some(generation), Some(observed)) if observed >= generation => None,
        (Some(generation), _) => Some(Readiness::Pending(format!(
            "the controller has not observed generation {generation} yet"
        ))),
        _ => None,
    }
}

pub fn deployment(deployment: &Deployment) -> Readiness {
    if let Some(pending) = observed(
        deployment.metadata.generation,
        deployment
            .status
            .as_ref()
            .and_then(|s| s.observed_generation),
    ) {
        return pending;
    }
    let desired = deployment.spec.replicas.unwrap_or(1);
    let Some(status) = &deployment.status else {
        return Readiness::Pending("no status yet".into());
    };
    if let Some(stuck) = status.conditions.iter().flatten().find(|c| {
        c.type_.as_deref() == Some("Progressing")
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        return Readiness::Failed(format!(
            "rollout exceeded its progress deadline: {}",
            stuck.message.as_deref().unwrap_or("no message")
        ));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    if updated < desired {
        Readiness::Pending(format!("{updated} of {desired} replicas updated"))
    } else if total > updated {
        Readiness::Pending(format!(
            "{} old replicas are pending termination",
            total - updated
        ))
    } else if available < updated || ready < desired {
        Readiness::Pending(format!(
            "{ready} of {desired} replicas ready, {available} available"
        ))
    } else {
        Readiness::Ready
    }
}

pub fn stateful_set(set: &StatefulSet) -> Readiness {
    if let Some(pending) = observed(
        set.metadata.generation,
        set.status.as_ref().and_then(|s| s.observed_generation),
    ) {
        return pending;
    }
    let spec = &set.spec;
    let desired = spec.replicas.unwrap_or(1);
    let Some(status) = &set.status else {
        return Readiness::Pending("no status yet".into());
    };
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < desired {
        return Readiness::Pending(format!("{ready} of {desired} replicas ready"));
    }
    let on_delete = spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    let updated = status.updated_replicas.unwrap_or(0);
    let rolling =
        status.update_revision.is_some() && status.update_revision != status.current_revision;
    if !on_delete && rolling && updated < desired {
        return Readiness::Pending(format!(
            "{updated} of {desired} replicas on the new revision"
        ));
    }
    Readiness::Ready
}

pub fn daemon_set(set: &DaemonSet) -> Readiness {
    if let Some(pending) = observed(
        set.metadata.generation,
        set.status.as_ref().and_then(|s| s.observed_generation),
    ) {
        return pending;
    }
    let Some(status) = &set.status else {
        return Readiness::Pending("no status yet".into());
    };
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < desired {
        Readiness::Pending(format!("{updated} of {desired} nodes run the current pods"))
    } else if available < desired {
        Readiness::Pending(format!("{available} of {desired} pods available"))
    } else {
        Readiness::Ready
    }
}

pub fn job(job: &Job) -> Readiness {
    let status = job.status.as_ref();
    for condition in status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => return Readiness::Ready,
            "Failed" => {
                return Readiness::Failed(format!(
                    "the job failed ({}): {}",
                    condition.reason.as_deref().unwrap_or("no reason"),
                    condition.message.as_deref().unwrap_or("no message")
                ));
            }
            _ => {}
        }
    }
    let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    let succeeded = status.and_then(|s| s.succeeded).unwrap_or(0);
    Readiness::Pending(format!("{succeeded} of {completions} completions"))
}

pub fn pod(pod: &Pod) -> Readiness {
    let Some(status) = &pod.status else {
        return Readiness::Pending("no status yet".into());
    };
    match status.phase.as_deref() {
        Some("Succeeded") => return Readiness::Ready,
        Some("Failed") => {
            return Readiness::Failed(format!(
                "the pod failed: {}",
                status
                    .message
                    .as_deref()
                    .or(status.reason.as_deref())
                    .unwrap_or("no message")
            ));
        }
        _ => {}
    }
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
    {
        return Readiness::Ready;
    }
    if let Some(unscheduled) = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        return Readiness::Pending(format!(
            "not scheduled ({}): {}",
            unscheduled.reason.as_deref().unwrap_or("no reason"),
            unscheduled.message.as_deref().unwrap_or("no message")
        ));
    }
    let waiting: Vec<String> = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            Some(format!(
                "container {} is waiting ({})",
                c.name,
                waiting.reason.as_deref().unwrap_or("no reason")
            ))
        })
        .collect();
    if waiting.is_empty() {
        Readiness::Pending(format!(
            "phase {}, not ready",
            status.phase.as_deref().unwrap_or("unknown")
        ))
    } else {
        Readiness::Pending(waiting.join("; "))
    }
}

/// How long a pod may stay unschedulable before its workload is failed instead of waited
/// for: the scheduler says within a second when no node fits, and nothing on the clusters
/// chart-harness makes (no cluster autoscaler) will add one. On a user's own cluster an
/// autoscaler may, so there the rule is off (`unschedulable_is_final`).
pub const UNSCHEDULABLE_GRACE: Duration = Duration::from_secs(5);

/// Restarts after which a container in CrashLoopBackOff is taken to crash for good.
pub const CRASH_LOOP_RESTARTS: i32 = 3;

/// Every container status of a pod, init containers first (the order they run in).
pub fn container_statuses(status: &PodStatus) -> impl Iterator<Item = &ContainerStatus> {
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
}

/// Why `pod` can never become ready without a change to the chart or cluster, when it
/// can't; `None` while waiting can still help (Pending, ContainerCreating, a pull in
/// progress). `waited`: how long the caller has been waiting, for the rule that needs
/// patience.
pub fn pod_blocker(pod: &Pod, waited: Duration, unschedulable_is_final: bool) -> Option<String> {
    // Pods of a workload have generated names; the diagnostics list them.
    let status = pod.status.as_ref()?;
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if let Some(condition) = unschedulable
        && unschedulable_is_final
        && waited >= UNSCHEDULABLE_GRACE
    {
        return Some(format!(
            "its pod cannot be scheduled: {}",
            condition.message.as_deref().unwrap_or("no node fits it")
        ));
    }
    for container in container_statuses(status) {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let message = waiting.message.as_deref().unwrap_or("no message");
        let lowered = message.to_ascii_lowercase();
        let blocked = match reason {
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => {
                // "no such host": the registry's name does not resolve (NXDOMAIN, an
                // answer, unlike a timeout), as with a mistyped registry or one the
                // cluster's network cannot see.
                reason == "InvalidImageName"
                    || [
                        "not found",
                        "manifest unknown",
                        "unauthorized",
                        "no such host",
                    ]
                    .iter()
                    .any(|needle| lowered.contains(needle))
            }
            "CrashLoopBackOff" => container.restart_count >= CRASH_LOOP_RESTARTS,
            // `imagePullPolicy: Never` and the image is not on the node: nothing will
            // put it there (on kind, `images:` in chart-harness.yaml loads it).
            "ErrImageNeverPull" => true,
            "CreateContainerConfigError" | "CreateContainerError" => true,
            _ => false,
        };
        if blocked {
            let restarts = if reason == "CrashLoopBackOff" {
                format!(" after {} restarts", container.restart_count)
            } else {
                String::new()
            };
            return Some(format!(
                "container {} of its pod: {reason}{restarts}: {message}",
                container.name
            ));
        }
    }
    None
}

/// How long a claim may stay unbound on a cluster without a storage provisioner before
/// it is reported: long enough for a PersistentVolume the chart creates itself to bind.
pub const UNPROVISIONED_CLAIM_GRACE: Duration = Duration::from_secs(10);

/// The annotation the scheduler puts on a claim of a `WaitForFirstConsumer` class once a
/// pod that uses it is placed on a node.
const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";

/// A claim is ready when bound. Without a provisioner (the local control plane) only a
/// PersistentVolume the chart creates can bind it, so after a grace period the claim is
/// reported instead of waited on until the timeout. A claim of a class that binds on
/// first use (`waits_for_first_consumer`: kind's local-path class) that no scheduled pod
/// uses yet, such as a backup CronJob's, is as ready as it gets before that pod runs
/// (helm's own `--wait` would wait for it until the timeout).
pub fn persistent_volume_claim(
    claim: &PersistentVolumeClaim,
    provisioner_available: bool,
    waits_for_first_consumer: bool,
    waited: Duration,
) -> Readiness {
    let selected_node = claim
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|annotations| annotations.contains_key(SELECTED_NODE_ANNOTATION));
    match claim.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Bound") => Readiness::Ready,
        Some("Lost") => Readiness::Failed("the claim lost its PersistentVolume".into()),
        _ if provisioner_available && waits_for_first_consumer && !selected_node => {
            Readiness::Ready
        }
        phase => {
            let phase = phase.unwrap_or("Pending");
            if !provisioner_available && waited >= UNPROVISIONED_CLAIM_GRACE {
                Readiness::Failed(format!(
                    "the claim is still {phase}: this cluster has no storage provisioner (pods \
                     are simulated on the local control plane), so only a PersistentVolume the \
                     chart creates could bind it; test persistence in a case for a real cluster \
                     (--cluster kind) and use a case with persistence disabled here"
                ))
            } else {
                Readiness::Pending(format!("the claim is {phase}, not Bound"))
            }
        }
    }
}

/// A Service with a selector is ready when one of its EndpointSlices has a ready
/// endpoint. Services without a selector (or ExternalName) have nothing to wait for.
pub fn service(service: &Service, slices: &[EndpointSlice]) -> Readiness {
    let spec = service.spec.as_ref();
    let selects = spec
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|selector| !selector.is_empty());
    if !selects || spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return Readiness::Ready;
    }
    let ready = slices
        .iter()
        .flat_map(|slice| slice.endpoints.iter().flatten())
        .filter(|endpoint| {
            // The API says an unset `ready` is to be read as true.
            endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true)
        })
        .count();
    if ready > 0 {
        Readiness::Ready
    } else {
        Readiness::Pending("no ready endpoints (no ready pod matches its selector)".into())
    }
}

/// Deleted: no object of that name is left, or, given the `uid` of the deleted one, the
/// object there now is a new one (a controller replaced a pod the chaos check killed).
pub fn gone<K: kube::Resource>(uid: Option<String>) -> impl Fn(Option<&K>) -> Readiness {
    move |object| match object {
        Some(object)
            if uid
                .as_deref()
                .is_none_or(|uid| object.meta().uid.as_deref() == Some(uid)) =>
        {
            Readiness::Pending("still there".into())
        }
        _ => Readiness::Ready,
    }
}

/// Created: an object of that name exists (a controller made it, for example a new
/// namespace's `default` ServiceAccount).
pub fn exists<K>(object: Option<&K>) -> Readiness {
    match object {
        Some(_) => Readiness::Ready,
        None => Readiness::Pending("not created yet".into()),
    }
}

/// A CRD is usable once the API server reports it Established (its kind is served).
pub fn crd_established(crd: Option<&CustomResourceDefinition>) -> Readiness {
    let established = crd
        .and_then(|crd| crd.status.as_ref())
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Established" && c.status == "True");
    if established {
        Readiness::Ready
    } else if crd.is_none() {
        Readiness::Pending("not created yet".into())
    } else {
        Readiness::Pending("not Established yet".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        DaemonSetStatus, DeploymentCondition, DeploymentSpec, DeploymentStatus, StatefulSetSpec,
        StatefulSetStatus, StatefulSetUpdateStrategy,
    };
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, PersistentVolumeClaimStatus,
        PodCondition, PodStatus, ServiceSpec,
    };
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use rstest::rstest;

    fn meta(generation: i64) -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            generation: Some(generation),
            ..ObjectMeta::default()
        }
    }

    fn deploy(
        desired: i32,
        observed: i64,
        replicas: i32,
        updated: i32,
        ready: i32,
        available: i32,
    ) -> Deployment {
        Deployment {
            metadata: meta(2),
            spec: DeploymentSpec {
                replicas: Some(desired),
                ..DeploymentSpec::default()
            },
            status: Some(DeploymentStatus {
                observed_generation: Some(observed),
                replicas: Some(replicas),
                updated_replicas: Some(updated),
                ready_replicas: Some(ready),
                available_replicas: Some(available),
                ..DeploymentStatus::default()
            }),
        }
    }

    #[rstest]
    #[case::rolled_out(deploy(2, 2, 2, 2, 2, 2), None)]
    #[case::old_generation(deploy(2, 1, 2, 2, 2, 2), Some("generation 2"))]
    #[case::not_updated(deploy(3, 2, 3, 1, 1, 1), Some("1 of 3 replicas updated"))]
    #[case::old_pods_left(deploy(2, 2, 3, 2, 2, 2), Some("1 old replicas"))]
    #[case::not_available(deploy(2, 2, 2, 2, 1, 1), Some("1 of 2 replicas ready"))]
    fn deployments(#[case] object: Deployment, #[case] pending: Option<&str>) {
        match (deployment(&object), pending) {
            (Readiness::Ready, None) => {}
            (Readiness::Pending(text), Some(expected)) => {
                assert!(text.contains(expected), "{text}")
            }
            (other, _) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_deployment_past_its_deadline_fails() {
        let mut object = deploy(2, 2, 2, 2, 0, 0);
        object.status.as_mut().unwrap().conditions = Some(vec![DeploymentCondition {
            type_: Some("Progressing".into()),
            status: Some("False".into()),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet web-1 has timed out progressing.".into()),
            ..DeploymentCondition::default()
        }]);
        assert!(matches!(deployment(&object), Readiness::Failed(m) if m.contains("timed out")));
    }

    fn sts(strategy: &str, ready: i32, updated: i32, current: &str, update: &str) -> StatefulSet {
        StatefulSet {
            metadata: meta(1),
            spec: StatefulSetSpec {
                replicas: Some(2),
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: Some(strategy.into()),
                    ..StatefulSetUpdateStrategy::default()
                }),
                ..StatefulSetSpec::default()
            },
            status: Some(StatefulSetStatus {
                observed_generation: Some(1),
                replicas: 2,
                ready_replicas: Some(ready),
                updated_replicas: Some(updated),
                current_revision: Some(current.into()),
                update_revision: Some(update.into()),
                ..StatefulSetStatus::default()
            }),
        }
    }

    #[rstest]
    #[case::ready(sts("RollingUpdate", 2, 2, "r1", "r1"), true)]
    #[case::not_ready(sts("RollingUpdate", 1, 2, "r1", "r1"), false)]
    #[case::rolling(sts("RollingUpdate", 2, 1, "r1", "r2"), false)]
    #[case::on_delete_ignores_revisions(sts("OnDelete", 2, 0, "r1", "r2"), true)]
    fn stateful_sets(#[case] object: StatefulSet, #[case] ready: bool) {
        assert_eq!(
            stateful_set(&object).is_ready(),
            ready,
            "{:?}",
            stateful_set(&object)
        );
    }

    #[rstest]
    #[case(2, 2, 2, true)]
    #[case(2, 1, 2, false)]
    #[case(2, 2, 1, false)]
    #[case(0, 0, 0, true)]
    fn daemon_sets(
        #[case] desired: i32,
        #[case] updated: i32,
        #[case] available: i32,
        #[case] ready: bool,
    ) {
        let object = DaemonSet {
            metadata: meta(1),
            spec: Default::default(),
            status: Some(DaemonSetStatus {
                observed_generation: Some(1),
                desired_number_scheduled: desired,
                updated_number_scheduled: Some(updated),
                number_available: Some(available),
                ..DaemonSetStatus::default()
            }),
        };
        assert_eq!(daemon_set(&object).is_ready(), ready);
    }

    fn job_with(condition: Option<(&str, &str)>, succeeded: i32) -> Job {
        Job {
            metadata: meta(1),
            spec: Some(JobSpec {
                completions: Some(1),
                ..JobSpec::default()
            }),
            status: Some(JobStatus {
                succeeded: Some(succeeded),
                conditions: condition.map(|(type_, status)| {
                    vec![JobCondition {
                        type_: type_.into(),
                        status: status.into(),
                        reason: Some("BackoffLimitExceeded".into()),
                        ..JobCondition::default()
                    }]
                }),
                ..JobStatus::default()
            }),
        }
    }

    #[test]
    fn jobs_complete_fail_or_wait() {
        assert_eq!(
            job(&job_with(Some(("Complete", "True")), 1)),
            Readiness::Ready
        );
        assert!(
            matches!(job(&job_with(Some(("Failed", "True")), 0)), Readiness::Failed(m) if m.contains("BackoffLimitExceeded"))
        );
        assert_eq!(
            job(&job_with(Some(("Failed", "False")), 0)),
            Readiness::Pending("0 of 1 completions".into())
        );
        assert_eq!(
            job(&job_with(None, 0)),
            Readiness::Pending("0 of 1 completions".into())
        );
    }

    fn pod_with(phase: &str, conditions: Vec<(&str, &str, &str)>, waiting: Option<&str>) -> Pod {
        Pod {
            metadata: meta(1),
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(
                    conditions
                        .into_iter()
                        .map(|(type_, status, message)| PodCondition {
                            type_: type_.into(),
                            status: status.into(),
                            reason: Some("Unschedulable".into()),
                            message: Some(message.into()),
                            ..PodCondition::default()
                        })
                        .collect(),
                ),
                container_statuses: waiting.map(|reason| {
                    vec![ContainerStatus {
                        name: "app".into(),
                        state: Some(ContainerState {
                            waiting: Some(ContainerStateWaiting {
                                reason: Some(reason.into()),
                                ..ContainerStateWaiting::default()
                            }),
                            ..ContainerState::default()
                        }),
                        ..ContainerStatus::default()
                    }]
                }),
                ..PodStatus::default()
            }),
        }
    }

    #[rstest]
    #[case::ready(pod_with("Running", vec![("Ready", "True", "")], None), "ready")]
    #[case::completed(pod_with("Succeeded", vec![], None), "ready")]
    #[case::failed(pod_with("Failed", vec![], None), "failed")]
    #[case::unschedulable(
        pod_with("Pending", vec![("PodScheduled", "False", "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")], None),
        "didn't match"
    )]
    #[case::image(pod_with("Pending", vec![("Ready", "False", "")], Some("ImagePullBackOff")), "ImagePullBackOff")]
    fn pods(#[case] object: Pod, #[case] expected: &str) {
        let verdict = pod(&object);
        match (&verdict, expected) {
            (Readiness::Ready, "ready") | (Readiness::Failed(_), "failed") => {}
            (Readiness::Pending(text), _) => assert!(text.contains(expected), "{text}"),
            _ => panic!("{verdict:?} is not {expected}"),
        }
    }

    fn claim(phase: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: meta(1),
            spec: None,
            status: Some(PersistentVolumeClaimStatus {
                phase: Some(phase.into()),
                ..PersistentVolumeClaimStatus::default()
            }),
        }
    }

    #[rstest]
    #[case::bound("Bound", false, false, false, 60, "ready")]
    #[case::waits_with_provisioner("Pending", true, false, false, 600, "pending")]
    #[case::grace_without_provisioner("Pending", false, false, false, 1, "pending")]
    #[case::reported_without_provisioner(
        "Pending",
        false,
        false,
        false,
        10,
        "no storage provisioner"
    )]
    #[case::lost("Lost", true, false, false, 0, "lost")]
    #[case::unused_claim_of_a_first_consumer_class("Pending", true, true, false, 0, "ready")]
    #[case::used_claim_of_a_first_consumer_class("Pending", true, true, true, 600, "pending")]
    fn claims(
        #[case] phase: &str,
        #[case] provisioner: bool,
        #[case] first_consumer_class: bool,
        #[case] node_selected: bool,
        #[case] waited_secs: u64,
        #[case] expected: &str,
    ) {
        let mut claim = claim(phase);
        if node_selected {
            claim.metadata.annotations =
                Some([(SELECTED_NODE_ANNOTATION.to_string(), "node-1".to_string())].into());
        }
        let verdict = persistent_volume_claim(
            &claim,
            provisioner,
            first_consumer_class,
            Duration::from_secs(waited_secs),
        );
        match (&verdict, expected) {
            (Readiness::Ready, "ready") | (Readiness::Pending(_), "pending") => {}
            (Readiness::Failed(text), _) => assert!(text.contains(expected), "{text}"),
            _ => panic!("{verdict:?} is not {expected}"),
        }
    }

    fn svc(selector: bool, type_: &str) -> Service {
        Service {
            metadata: meta(1),
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                selector: selector.then(|| [("app".to_string(), "web".to_string())].into()),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    fn slice(ready: Vec<Option<bool>>) -> EndpointSlice {
        EndpointSlice {
            address_type: "IPv4".into(),
            endpoints: Some(
                ready
                    .into_iter()
                    .map(|ready| Endpoint {
                        addresses: vec!["10.0.0.1".into()],
                        conditions: Some(EndpointConditions {
                            ready,
                            ..EndpointConditions::default()
                        }),
                        ..Endpoint::default()
                    })
                    .collect(),
            ),
            metadata: ObjectMeta::default(),
            ports: None,
        }
    }

    #[rstest]
    #[case::ready_endpoint(svc(true, "ClusterIP"), vec![slice(vec![Some(false), Some(true)])], true)]
    #[case::unset_means_ready(svc(true, "ClusterIP"), vec![slice(vec![None])], true)]
    #[case::only_unready(svc(true, "ClusterIP"), vec![slice(vec![Some(false)])], false)]
    #[case::no_slices(svc(true, "ClusterIP"), vec![], false)]
    #[case::no_selector(svc(false, "ClusterIP"), vec![], true)]
    #[case::external_name(svc(true, "ExternalName"), vec![], true)]
    fn services(#[case] object: Service, #[case] slices: Vec<EndpointSlice>, #[case] ready: bool) {
        assert_eq!(service(&object, &slices).is_ready(), ready);
    }

    #[test]
    fn workloads_skip_hooks_and_unknown_kinds() {
        let (manifests, _) = crate::manifest::parse(
            "---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\n# Source: web/templates/tests/t.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-test\n  annotations:\n    helm.sh/hook: test\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
            std::path::Path::new("c"),
        );
        let found: Vec<String> = workloads(&manifests)
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(found, ["Deployment/web", "Service/web"]);
        assert_eq!(
            workloads(&manifests)[0].source.as_deref(),
            Some("templates/deploy.yaml")
        );
    }
    fn crd(conditions: &[(&str, &str)]) -> CustomResourceDefinition {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
            CustomResourceDefinitionCondition, CustomResourceDefinitionStatus,
        };
        CustomResourceDefinition {
            status: Some(CustomResourceDefinitionStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(type_, status)| CustomResourceDefinitionCondition {
                            type_: type_.to_string(),
                            status: status.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[rstest]
    #[case::established(Some(crd(&[("NamesAccepted", "True"), ("Established", "True")])), true)]
    #[case::not_yet(Some(crd(&[("Established", "False")])), false)]
    #[case::no_status(Some(CustomResourceDefinition::default()), false)]
    #[case::absent(None, false)]
    fn crds(#[case] object: Option<CustomResourceDefinition>, #[case] ready: bool) {
        assert_eq!(crd_established(object.as_ref()).is_ready(), ready);
    }

    #[rstest]
    #[case::created(Some(k8s_openapi::api::core::v1::ServiceAccount::default()), true)]
    #[case::not_yet(None, false)]
    fn service_accounts(
        #[case] object: Option<k8s_openapi::api::core::v1::ServiceAccount>,
        #[case] ready: bool,
    ) {
        assert_eq!(exists(object.as_ref()).is_ready(), ready);
    }

    fn pod_with_uid(uid: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                uid: Some(uid.into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[rstest]
    #[case::still_there(Some("a"), Some(pod_with_uid("a")), false)]
    #[case::replaced_by_a_new_one(Some("a"), Some(pod_with_uid("b")), true)]
    #[case::deleted(Some("a"), None, true)]
    #[case::any_object_of_the_name_blocks(None, Some(pod_with_uid("b")), false)]
    #[case::absent(None, None, true)]
    fn deletions(#[case] uid: Option<&str>, #[case] object: Option<Pod>, #[case] done: bool) {
        let rule = gone::<Pod>(uid.map(str::to_string));
        assert_eq!(rule(object.as_ref()).is_ready(), done);
    }

    fn pod_in(
        scheduled: Option<(&str, &str)>,
        waiting: Option<(&str, &str)>,
        restarts: i32,
    ) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1"},
            "status": {
                "phase": "Pending",
                "conditions": scheduled.map(|(reason, message)| vec![serde_json::json!({
                    "type": "PodScheduled", "status": "False", "reason": reason, "message": message
                })]).unwrap_or_default(),
                "containerStatuses": waiting.map(|(reason, message)| vec![serde_json::json!({
                    "name": "app", "image": "x", "imageID": "", "ready": false,
                    "restartCount": restarts,
                    "state": {"waiting": {"reason": reason, "message": message}}
                })]).unwrap_or_default(),
            }
        }))
        .unwrap()
    }

    #[rstest]
    #[case::unschedulable_after_grace(
        pod_in(Some(("Unschedulable", "0/2 nodes are available: 2 Insufficient cpu.")), None, 0),
        6,
        Some("its pod cannot be scheduled: 0/2 nodes are available: 2 Insufficient cpu.")
    )]
    #[case::unschedulable_within_grace(
        pod_in(Some(("Unschedulable", "0/2 nodes are available")), None, 0),
        1,
        None
    )]
    #[case::image_not_found(
        pod_in(None, Some(("ErrImagePull", "rpc error: docker.io/x/y:1: not found")), 0),
        0,
        Some("container app of its pod: ErrImagePull: rpc error: docker.io/x/y:1: not found")
    )]
    #[case::pull_backoff_unauthorized(
        pod_in(None, Some(("ImagePullBackOff", "pull access denied: 401 Unauthorized")), 0),
        0,
        Some("container app of its pod: ImagePullBackOff: pull access denied: 401 Unauthorized")
    )]
    #[case::registry_name_that_does_not_resolve(
        pod_in(None, Some(("ErrImagePull", "failed to resolve reference \"registry.example.com/app:1\": dial tcp: lookup registry.example.com: no such host")), 0),
        0,
        Some("container app of its pod: ErrImagePull: failed to resolve reference \"registry.example.com/app:1\": dial tcp: lookup registry.example.com: no such host")
    )]
    #[case::pull_backoff_network_is_transient(
        pod_in(None, Some(("ImagePullBackOff", "dial tcp: i/o timeout")), 0),
        30,
        None
    )]
    #[case::crash_loop_at_three_restarts(
        pod_in(None, Some(("CrashLoopBackOff", "back-off 40s restarting failed container")), 3),
        0,
        Some("container app of its pod: CrashLoopBackOff after 3 restarts: back-off 40s restarting failed container")
    )]
    #[case::crash_loop_before_three(
        pod_in(None, Some(("CrashLoopBackOff", "back-off 10s")), 2),
        60,
        None
    )]
    #[case::missing_secret_key(
        pod_in(None, Some(("CreateContainerConfigError", "couldn't find key password in Secret ns/auth")), 0),
        0,
        Some("container app of its pod: CreateContainerConfigError: couldn't find key password in Secret ns/auth")
    )]
    #[case::never_pull_of_an_absent_image(
        pod_in(None, Some(("ErrImageNeverPull", "Container image \"app:dev\" is not present with pull policy of Never")), 0),
        0,
        Some("container app of its pod: ErrImageNeverPull: Container image \"app:dev\" is not present with pull policy of Never")
    )]
    #[case::creating_is_transient(pod_in(None, Some(("ContainerCreating", "")), 0), 90, None)]
    fn pods_that_can_never_become_ready_are_named(
        #[case] pod: Pod,
        #[case] waited_secs: u64,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(
            pod_blocker(&pod, Duration::from_secs(waited_secs), true).as_deref(),
            expected
        );
    }

    /// A user's cluster may have an autoscaler that adds the node the pod needs.
    #[test]
    fn an_unschedulable_pod_is_waited_for_where_an_autoscaler_may_help() {
        let pod = pod_in(Some(("Unschedulable", "0/2 nodes")), None, 0);
        assert_eq!(pod_blocker(&pod, Duration::from_secs(60), false), None);
    }
}
