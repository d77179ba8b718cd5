//! What an upgrade did to the release's pods and claims: a snapshot of both before and
//! after, and the pure comparison the upgrade suite reports. A pod template that
//! changed must have brought new pods; every claim of the baseline must still be bound
//! with the same UID (no stranded or re-provisioned volume); restarts are counted.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};

use super::{ReleaseUnderTest, Timed, timed};
use crate::k8s::KubeError;
use crate::manifest::Manifest;

/// The release's pods and claims at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodsAndClaims {
    pub pods: Vec<PodSeen>,
    /// Claim name → (UID, phase).
    pub claims: BTreeMap<String, (String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PodSeen {
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    /// The kind of the pod's controller (`ReplicaSet`, `StatefulSet`, `Job`, ...): a
    /// Job made from the chart's CronJob carries the chart's labels too.
    pub owner_kind: Option<String>,
    /// Container name → restarts.
    pub restarts: BTreeMap<String, i32>,
}

impl ReleaseUnderTest<'_> {
    /// Every pod (not being deleted) and claim in the release's namespace.
    pub async fn pods_and_claims(&self) -> Timed<Result<PodsAndClaims, KubeError>> {
        timed(async {
            let pods: Api<Pod> = Api::namespaced(self.kube.client(), &self.namespace);
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(self.kube.client(), &self.namespace);
            let pods = crate::k8s::request("list pods", pods.list(&ListParams::default())).await?;
            let claims =
                crate::k8s::request("list claims", claims.list(&ListParams::default())).await?;
            Ok(PodsAndClaims {
                pods: pods
                    .items
                    .iter()
                    .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                    .map(pod_seen)
                    .collect(),
                claims: claims
                    .items
                    .iter()
                    .map(|claim| {
                        (
                            claim.metadata.name.clone().unwrap_or_default(),
                            (
                                claim.metadata.uid.clone().unwrap_or_default(),
                                claim
                                    .status
                                    .as_ref()
                                    .and_then(|status| status.phase.clone())
                                    .unwrap_or_default(),
                            ),
                        )
                    })
                    .collect(),
            })
        })
        .await
    }
}

fn pod_seen(pod: &Pod) -> PodSeen {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.clone())
        .unwrap_or_default();
    PodSeen {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        owner_kind: pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|owner| owner.controller == Some(true))
            .map(|owner| owner.kind.clone()),
        restarts: statuses
            .iter()
            .map(|status| (status.name.clone(), status.restart_count))
            .collect(),
    }
}

/// What the comparison found.
#[derive(Debug, Default, PartialEq)]
pub struct RolloutFindings {
    /// Workloads whose template changed but whose pods are the baseline's.
    pub not_rolled: Vec<String>,
    /// Claims of the baseline that are gone, re-created or no longer bound.
    pub claims_lost: Vec<String>,
    /// `pod/container: n` restarts during the upgrade.
    pub restarts: Vec<String>,
}

/// Compares the release before and after the upgrade. `changed` are the workloads
/// (kind, name, selector labels) whose pod template differs between the renders.
pub fn compare(
    before: &PodsAndClaims,
    after: &PodsAndClaims,
    changed: &[(String, String, BTreeMap<String, String>)],
) -> RolloutFindings {
    let mut findings = RolloutFindings::default();
    // A workload's pods: its selector matches them and its kind (a Deployment's through
    // its ReplicaSets) controls them.
    let selects = |kind: &str, selector: &BTreeMap<String, String>, pod: &PodSeen| {
        let owner = if kind == "Deployment" {
            "ReplicaSet"
        } else {
            kind
        };
        !selector.is_empty()
            && pod.owner_kind.as_deref() == Some(owner)
            && selector
                .iter()
                .all(|(key, value)| pod.labels.get(key) == Some(value))
    };
    for (kind, name, selector) in changed {
        let old: BTreeSet<&str> = before
            .pods
            .iter()
            .filter(|pod| selects(kind, selector, pod))
            .map(|pod| pod.uid.as_str())
            .collect();
        let kept: Vec<&str> = after
            .pods
            .iter()
            .filter(|pod| selects(kind, selector, pod) && old.contains(pod.uid.as_str()))
            .map(|pod| pod.name.as_str())
            .collect();
        if !kept.is_empty() {
            findings.not_rolled.push(format!(
                "{kind} `{name}`: its pod template changed, but {} {} from before the upgrade (same UID): the new template never ran; check its updateStrategy (OnDelete never replaces pods)",
                kept.join(", "),
                if kept.len() == 1 { "is the pod" } else { "are the pods" }
            ));
        }
    }
    for (claim, (uid, phase)) in &before.claims {
        match after.claims.get(claim) {
            None => findings
                .claims_lost
                .push(format!("PersistentVolumeClaim `{claim}` is gone after the upgrade: its volume is stranded or deleted")),
            Some((new_uid, _)) if new_uid != uid => findings.claims_lost.push(format!(
                "PersistentVolumeClaim `{claim}` was re-created (UID {uid} became {new_uid}): the data on its old volume is not what the release uses now"
            )),
            Some((_, new_phase)) if phase == "Bound" && new_phase != "Bound" => findings
                .claims_lost
                .push(format!("PersistentVolumeClaim `{claim}` was Bound and is {new_phase} after the upgrade")),
            Some(_) => {}
        }
    }
    let before_restarts: BTreeMap<(&str, &str), i32> = before
        .pods
        .iter()
        .flat_map(|pod| {
            pod.restarts
                .iter()
                .map(move |(container, n)| ((pod.uid.as_str(), container.as_str()), *n))
        })
        .collect();
    for pod in &after.pods {
        for (container, n) in &pod.restarts {
            let earlier = before_restarts
                .get(&(pod.uid.as_str(), container.as_str()))
                .copied()
                .unwrap_or(0);
            if *n > earlier {
                findings
                    .restarts
                    .push(format!("{}/{container}: {}", pod.name, n - earlier));
            }
        }
    }
    findings
}

/// The workloads whose pod template differs between the two renders, with their
/// selector's `matchLabels`.
pub fn changed_templates(
    baseline: &[Manifest],
    candidate: &[Manifest],
) -> Vec<(String, String, BTreeMap<String, String>)> {
    let key = |m: &Manifest| {
        (
            m.value["kind"].as_str().unwrap_or_default().to_string(),
            m.value
                .pointer("/metadata/name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    };
    let old: BTreeMap<(String, String), &serde_json::Value> = baseline
        .iter()
        .filter_map(|m| Some((key(m), m.value.pointer("/spec/template")?)))
        .collect();
    candidate
        .iter()
        .filter(|m| {
            matches!(
                m.value["kind"].as_str(),
                Some("Deployment" | "StatefulSet" | "DaemonSet")
            )
        })
        .filter_map(|m| {
            let (kind, name) = key(m);
            let template = m.value.pointer("/spec/template")?;
            let before = old.get(&(kind.clone(), name.clone()))?;
            if *before == template {
                return None;
            }
            let selector = m
                .value
                .pointer("/spec/selector/matchLabels")
                .and_then(serde_json::Value::as_object)
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            Some((kind, name, selector))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, uid: &str, restarts: i32) -> PodSeen {
        PodSeen {
            name: name.into(),
            uid: uid.into(),
            labels: [("app".to_string(), "db".to_string())].into(),
            owner_kind: Some("StatefulSet".into()),
            restarts: [("db".to_string(), restarts)].into(),
        }
    }

    fn state(pods: Vec<PodSeen>, claims: &[(&str, &str, &str)]) -> PodsAndClaims {
        PodsAndClaims {
            pods,
            claims: claims
                .iter()
                .map(|(n, u, p)| (n.to_string(), (u.to_string(), p.to_string())))
                .collect(),
        }
    }

    fn changed() -> Vec<(String, String, BTreeMap<String, String>)> {
        vec![(
            "StatefulSet".into(),
            "db".into(),
            [("app".to_string(), "db".to_string())].into(),
        )]
    }

    #[test]
    fn a_rolled_workload_with_its_claims_kept_is_clean() {
        let before = state(vec![pod("db-0", "u1", 0)], &[("data-db-0", "c1", "Bound")]);
        let after = state(vec![pod("db-0", "u2", 0)], &[("data-db-0", "c1", "Bound")]);
        assert_eq!(
            compare(&before, &after, &changed()),
            RolloutFindings::default()
        );
    }

    #[test]
    fn pods_that_never_rolled_are_named() {
        let before = state(vec![pod("db-0", "u1", 0)], &[]);
        let after = state(vec![pod("db-0", "u1", 0)], &[]);
        let findings = compare(&before, &after, &changed());
        assert_eq!(findings.not_rolled.len(), 1);
        assert!(
            findings.not_rolled[0].contains("db-0 is the pod from before"),
            "{findings:?}"
        );
        assert!(
            compare(&before, &after, &[]).not_rolled.is_empty(),
            "unchanged templates roll nothing"
        );
        // A Job's pod with the same labels (a backup made from the chart's CronJob)
        // is not the StatefulSet's.
        let job_pod = PodSeen {
            owner_kind: Some("Job".into()),
            ..pod("backup-x", "u9", 0)
        };
        let before = state(vec![pod("db-0", "u1", 0), job_pod.clone()], &[]);
        let after = state(vec![pod("db-0", "u2", 0), job_pod], &[]);
        assert!(compare(&before, &after, &changed()).not_rolled.is_empty());
    }

    #[test]
    fn claims_gone_recreated_or_unbound_are_named() {
        let before = state(
            vec![],
            &[
                ("a", "1", "Bound"),
                ("b", "2", "Bound"),
                ("c", "3", "Bound"),
            ],
        );
        let after = state(vec![], &[("b", "9", "Bound"), ("c", "3", "Lost")]);
        let lost = compare(&before, &after, &[]).claims_lost;
        assert_eq!(lost.len(), 3, "{lost:?}");
        assert!(lost[0].contains("`a` is gone"));
        assert!(lost[1].contains("`b` was re-created"));
        assert!(lost[2].contains("`c` was Bound and is Lost"));
    }

    #[test]
    fn restarts_during_the_upgrade_are_counted() {
        let before = state(vec![pod("db-0", "u1", 1)], &[]);
        let after = state(vec![pod("db-0", "u1", 3), pod("db-1", "u3", 1)], &[]);
        assert_eq!(
            compare(&before, &after, &[]).restarts,
            vec!["db-0/db: 2".to_string(), "db-1/db: 1".to_string()]
        );
    }
}
