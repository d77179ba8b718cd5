//! The offline prediction of upgrade breaks (`immutable_fields::predict`) against the
//! API server's own word, on the local control plane (the pinned Kubernetes release):
//! each case creates its baseline object for real, then server-side-applies the
//! candidate as a dry run. Prediction and server must agree on every case: a break only
//! the server finds is a missing rule, one only the prediction finds a wrong one.
//!
//! Growing a claim's storage request is left out: the server allows it only for a bound
//! claim whose StorageClass allows expansion, which only the cluster knows (the upgrade
//! suite's server-side layer decides it there).

mod testing;

use std::time::Duration;

use chart_harness::cluster::{ClusterProvider, ClusterRequest};
use chart_harness::immutable_fields;
use chart_harness::k8s::{ApplyOutcome, Kube};
use chart_harness::manifest::Manifest;
use serde_json::{Value, json};
use testing::local_provider;

/// A case: its name (also the object's), the baseline and the candidate object.
fn cases() -> Vec<(&'static str, Value, Value)> {
    let deployment = |name: &str, app: &str, image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "image": image}]}}}})
    };
    let daemonset = |app: &str| {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "daemonset-selector"},
            "spec": {"selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "image": "d:1"}]}}}})
    };
    let statefulset = |name: &str, extra: Value| {
        let mut object = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"serviceName": "db", "replicas": 1,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "c", "image": "db:1"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        for (key, value) in extra.as_object().unwrap() {
            object["spec"][key] = value.clone();
        }
        object
    };
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job-template"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": image}]}}}})
    };
    let service = |name: &str, cluster_ip: Option<&str>| {
        let mut object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 80}]}});
        if let Some(ip) = cluster_ip {
            object["spec"]["clusterIP"] = json!(ip);
        }
        object
    };
    let claim = |name: &str, class: &str, size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                "resources": {"requests": {"storage": size}}}})
    };
    let config = |immutable: bool, name: &str, greeting: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "immutable": immutable, "data": {"greeting": greeting}})
    };
    let binding = |role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "binding-role-ref"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}]})
    };
    let storage_class = |kind: &str| {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "chart-harness-test-storage-class"},
            "provisioner": "example.com/none", "parameters": {"type": kind}})
    };
    vec![
        (
            "deployment-selector",
            deployment("deployment-selector", "a", "w:1"),
            deployment("deployment-selector", "b", "w:1"),
        ),
        (
            "deployment-image",
            deployment("deployment-image", "a", "w:1"),
            deployment("deployment-image", "a", "w:2"),
        ),
        ("daemonset-selector", daemonset("a"), daemonset("b")),
        (
            "statefulset-claims",
            statefulset("statefulset-claims", json!({})),
            statefulset(
                "statefulset-claims",
                json!({"volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}]}),
            ),
        ),
        (
            "statefulset-service-name",
            statefulset("statefulset-service-name", json!({})),
            statefulset(
                "statefulset-service-name",
                json!({"serviceName": "db-headless"}),
            ),
        ),
        (
            "statefulset-pod-management",
            statefulset("statefulset-pod-management", json!({})),
            statefulset(
                "statefulset-pod-management",
                json!({"podManagementPolicy": "Parallel"}),
            ),
        ),
        (
            "statefulset-default-written-out",
            statefulset("statefulset-default-written-out", json!({})),
            statefulset(
                "statefulset-default-written-out",
                json!({"podManagementPolicy": "OrderedReady"}),
            ),
        ),
        (
            "statefulset-updatable",
            statefulset("statefulset-updatable", json!({})),
            statefulset(
                "statefulset-updatable",
                json!({"replicas": 2, "minReadySeconds": 5, "revisionHistoryLimit": 3,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "c", "image": "db:2"}]}}}),
            ),
        ),
        ("job-template", job("m:1"), job("m:2")),
        (
            "service-to-headless",
            service("service-to-headless", None),
            service("service-to-headless", Some("None")),
        ),
        (
            "service-from-headless",
            service("service-from-headless", Some("None")),
            service("service-from-headless", None),
        ),
        (
            "service-ports",
            service("service-ports", None),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "service-ports"},
                "spec": {"selector": {"app": "db"}, "ports": [{"port": 8080}]}}),
        ),
        (
            "claim-class",
            claim("claim-class", "fast", "1Gi"),
            claim("claim-class", "slow", "1Gi"),
        ),
        (
            "claim-shrinks",
            claim("claim-shrinks", "fast", "2Gi"),
            claim("claim-shrinks", "fast", "1Gi"),
        ),
        (
            "config-immutable",
            config(true, "config-immutable", "hello"),
            config(true, "config-immutable", "bonjour"),
        ),
        (
            "config-mutable",
            config(false, "config-mutable", "hello"),
            config(false, "config-mutable", "bonjour"),
        ),
        ("binding-role-ref", binding("view"), binding("edit")),
        ("storage-class", storage_class("a"), storage_class("b")),
    ]
}

/// The API server's refusal of an update to an immutable field, in the forms Flux
/// recognises (`field is immutable`, `Forbidden: updates to statefulset spec`) and the
/// Service and claim forms.
fn is_immutable_refusal(message: &str) -> bool {
    [
        "field is immutable",
        "Forbidden: updates to statefulset spec",
        "may not change once set",
        "spec is immutable after creation",
        "field can not be less than",
        "Forbidden: updates to parameters are forbidden",
        "Forbidden: updates to provisioner are forbidden",
        "cannot change roleRef",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prediction_agrees_with_the_api_server_on_every_case() {
    let provider = local_provider();
    let handle = provider
        .acquire(&ClusterRequest {
            name_prefix: "ch-test-immutable".into(),
            nodes: 1,
            ready_timeout: Duration::from_secs(120),
        })
        .await
        .unwrap();
    let kube = Kube::connect(handle.kubeconfig(), handle.context())
        .await
        .unwrap();
    let namespace = "immutable-fields";
    kube.create_namespace(namespace, Default::default())
        .await
        .unwrap();

    let mut disagreements = Vec::new();
    let mut table = Vec::new();
    for (name, baseline, candidate) in cases() {
        let created = kube.apply(&baseline, namespace, false).await.unwrap();
        assert_eq!(created, ApplyOutcome::Applied, "{name}: the baseline");
        let server = match kube.apply(&candidate, namespace, true).await.unwrap() {
            ApplyOutcome::Applied => None,
            ApplyOutcome::Rejected(message) if is_immutable_refusal(&message) => Some(message),
            other => panic!("{name}: the candidate was refused for another reason: {other:?}"),
        };
        let predicted = immutable_fields::predict(
            &[Manifest {
                source: None,
                value: baseline,
            }],
            &[Manifest {
                source: None,
                value: candidate,
            }],
        );
        let fields: Vec<String> = predicted.iter().map(|b| b.field.clone()).collect();
        table.push(format!(
            "{name}: predicted {fields:?}, server {}",
            server.as_deref().unwrap_or("accepted")
        ));
        if predicted.is_empty() == server.is_some() {
            disagreements.push(table.last().unwrap().clone());
        }
    }
    // Shown with --nocapture: the agreement table of the closing note.
    println!("{}", table.join("\n"));
    rollback_drops_a_stored_crd_version(&kube).await;
    handle.teardown().await.unwrap();
    assert!(
        disagreements.is_empty(),
        "the layers disagree:\n{}",
        disagreements.join("\n")
    );
}

/// A rollback to a CRD without the version the upgrade stores objects in: predicted,
/// and refused by the server (`status.storedVersions` keeps it).
async fn rollback_drops_a_stored_crd_version(kube: &Kube) {
    let crd = |versions: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.chart-harness.example.com"},
            "spec": {"group": "chart-harness.example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": versions}})
    };
    let schema = json!({"openAPIV3Schema": {"type": "object"}});
    let baseline = crd(json!([{"name": "v1", "served": true, "storage": true, "schema": schema}]));
    let candidate = crd(json!([
        {"name": "v1", "served": true, "storage": false, "schema": schema},
        {"name": "v2", "served": true, "storage": true, "schema": schema}
    ]));
    for (object, what) in [(&baseline, "the baseline"), (&candidate, "the upgrade")] {
        assert_eq!(
            kube.apply(object, "default", false).await.unwrap(),
            ApplyOutcome::Applied,
            "{what}"
        );
    }
    let rolled_back = kube.apply(&baseline, "default", true).await.unwrap();
    let predicted = immutable_fields::predict_rollback(
        &[Manifest {
            source: None,
            value: baseline,
        }],
        &[Manifest {
            source: None,
            value: candidate,
        }],
    );
    println!("crd rollback: predicted {predicted:?}, server {rolled_back:?}");
    assert!(
        matches!(&rolled_back, ApplyOutcome::Rejected(message) if message.contains("storedVersions")),
        "{rolled_back:?}"
    );
    assert_eq!(predicted.len(), 1, "{predicted:?}");
    assert_eq!(predicted[0].rule.id, "crd-stored-version");
}
