//! Cluster-scoped objects a chart renders. Two charts (or two cases of one chart) that
//! render the same cluster-scoped name would overwrite each other's object when they
//! run at the same time, so the runner serializes them by these claims.

use serde_json::Value;

use crate::manifest::Manifest;

/// Built-in kinds without a namespace. Custom kinds are looked up on the cluster when
/// one is at hand; without one, a kind named `Cluster...` is taken as cluster-scoped.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterTrustBundle",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "DeviceClass",
    "FlowSchema",
    "IngressClass",
    "IPAddress",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "ResourceSlice",
    "RuntimeClass",
    "ServiceCIDR",
    "StorageClass",
    "StorageVersionMigration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeAttributesClass",
];

/// Whether `kind` has no namespace, judged by its name alone.
pub fn is_cluster_scoped_kind(kind: &str) -> bool {
    CLUSTER_SCOPED_KINDS.contains(&kind) || kind.starts_with("Cluster")
}

/// `Kind.group/name` of every cluster-scoped object in `manifests` (core kinds have no
/// group part), sorted and without duplicates. Names are fixed per chart and case: the
/// suite installs every case under the chart's name, so two trials that render the same
/// claim collide.
pub fn cluster_scoped_claims(manifests: &[Manifest]) -> Vec<String> {
    let mut claims: Vec<String> = manifests
        .iter()
        .filter_map(|manifest| {
            let text = |pointer: &str| manifest.value.pointer(pointer).and_then(Value::as_str);
            let kind = text("/kind")?;
            let name = text("/metadata/name")?;
            let api_version = text("/apiVersion")?;
            is_cluster_scoped_kind(kind).then(|| claim(api_version, kind, name))
        })
        .collect();
    claims.sort();
    claims.dedup();
    claims
}

fn claim(api_version: &str, kind: &str, name: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn only_cluster_scoped_objects_are_claims() {
        let (manifests, _) = crate::manifest::parse(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: web-reader\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: web\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: data\n---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: ca\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\n",
            Path::new("c"),
        );
        assert_eq!(
            cluster_scoped_claims(&manifests),
            [
                "ClusterIssuer.cert-manager.io/ca",
                "ClusterRole.rbac.authorization.k8s.io/web-reader",
                "PersistentVolume/data",
                "PriorityClass.scheduling.k8s.io/high",
            ]
        );
    }

    #[test]
    fn namespaced_charts_claim_nothing() {
        let (manifests, _) = crate::manifest::parse(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
            Path::new("c"),
        );
        assert!(cluster_scoped_claims(&manifests).is_empty());
    }
}
