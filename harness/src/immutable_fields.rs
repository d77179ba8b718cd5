//! Which changes between two renders of a chart the API server refuses on update: the
//! offline prediction of an upgrade's breaks (the upgrade suite's first layer), made
//! before any cluster exists. `helm upgrade --dry-run=server` does not catch these, and
//! `kubectl diff` fails on them.
//!
//! The baseline's and the candidate's objects are paired by kind, namespace and name;
//! each pair goes through the rules of its kind ([`RULES`], one row per rule, each with
//! a unit test). A rule compares the two rendered objects, so a field written the same
//! way on both sides never counts, and a field one side leaves to the server's default
//! counts only when the other side sets a different value ([`DEFAULTS`]).
//!
//! Pure and a leaf: manifests in, [`Break`]s out.

use std::fmt;

use serde_json::Value;

use crate::manifest::Manifest;

/// One change the API server would refuse, on the object and template that make it.
#[derive(Clone, Debug)]
pub struct Break {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// The candidate's template (`templates/statefulset.yaml`).
    pub template: Option<String>,
    /// Dotted, with list indexes: `spec.volumeClaimTemplates[0].spec.resources.requests.storage`.
    pub field: String,
    /// Compact JSON; `(unset)` when the side does not set it.
    pub old: String,
    pub new: String,
    pub rule: &'static Rule,
}

impl Break {
    /// `spec.selector.matchLabels.app changes from "a" to (unset)`.
    pub fn change(&self) -> String {
        format!("{} changes from {} to {}", self.field, self.old, self.new)
    }

    /// Why the server refuses it and what to do, for this object.
    pub fn advice(&self) -> String {
        format!(
            "{}: {}",
            fill(self.rule.why, &self.kind, &self.name),
            fill(self.rule.remedy, &self.kind, &self.name)
        )
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}`: {}; {}",
            self.kind,
            self.name,
            self.change(),
            self.advice()
        )
    }
}

/// One row of the table: the kinds it applies to, what the server refuses and why, and
/// what a user does about it.
#[derive(Debug)]
pub struct Rule {
    /// Stable, for reports and tests: `statefulset-immutable-spec`.
    pub id: &'static str,
    pub kinds: &'static [&'static str],
    pub why: &'static str,
    /// `{kind}`, `{kind_lower}` and `{name}` are filled in, in `why` too.
    pub remedy: &'static str,
    check: fn(&Value, &Value) -> Vec<FieldChange>,
}

/// A field that differs: its path and both values (`None`: not set).
#[derive(Clone, Debug, PartialEq)]
struct FieldChange {
    path: String,
    old: Option<Value>,
    new: Option<Value>,
}

/// Every rule, in the order the Kubernetes API documents them.
pub const RULES: &[Rule] = &[
    Rule {
        id: "workload-selector",
        kinds: &["Deployment", "ReplicaSet", "DaemonSet"],
        why: "the API server refuses a changed `spec.selector` (field is immutable)",
        remedy: "keep the selector, or delete the {kind} with `kubectl delete {kind_lower} {name} --cascade=orphan` before upgrading, so the upgrade creates it anew and adopts its pods",
        check: workload_selector,
    },
    Rule {
        id: "statefulset-immutable-spec",
        kinds: &["StatefulSet"],
        why: "a StatefulSet's spec may change only in `replicas`, `ordinals`, `template`, `updateStrategy`, `persistentVolumeClaimRetentionPolicy`, `minReadySeconds` and `revisionHistoryLimit` (Forbidden: updates to statefulset spec for fields other than those are forbidden)",
        remedy: "delete the StatefulSet with `kubectl delete statefulset {name} --cascade=orphan` before upgrading (its pods and volumes stay and the new StatefulSet adopts them); declare that as a `pre-upgrade` step so users see it",
        check: statefulset_spec,
    },
    Rule {
        id: "job-selector-and-template",
        kinds: &["Job"],
        why: "a Job's `spec.selector` and `spec.template` are immutable",
        remedy: "delete the Job before upgrading (or make it a hook with `helm.sh/hook-delete-policy: before-hook-creation`), or give the new Job another name",
        check: job_spec,
    },
    Rule {
        id: "service-cluster-ip",
        kinds: &["Service"],
        why: "a Service's `spec.clusterIP` and `spec.clusterIPs` may not change once set (switching a Service to headless changes them; dropping `clusterIP: None` leaves it headless)",
        remedy: "keep `clusterIP` as it was, or delete the Service `{name}` before upgrading",
        check: service_cluster_ip,
    },
    Rule {
        id: "pvc-spec",
        kinds: &["PersistentVolumeClaim"],
        why: "a bound PersistentVolumeClaim's spec is immutable except a growing `resources.requests` and `volumeAttributesClassName`",
        remedy: "keep the claim's spec, or migrate the data to a new claim with another name",
        check: pvc_spec,
    },
    Rule {
        id: "immutable-config",
        kinds: &["ConfigMap", "Secret"],
        why: "the {kind} is `immutable: true`, so its data and its `immutable` may not change",
        remedy: "give the changed {kind} a new name (a hash of its content, as kustomize does) instead of changing it in place",
        check: immutable_config,
    },
    Rule {
        id: "binding-role-ref",
        kinds: &["RoleBinding", "ClusterRoleBinding"],
        why: "a binding's `roleRef` is immutable",
        remedy: "delete the {kind} `{name}` before upgrading, or give the new binding another name",
        check: role_ref,
    },
    Rule {
        id: "storage-class",
        kinds: &["StorageClass"],
        why: "a StorageClass's `provisioner`, `parameters`, `reclaimPolicy` and `volumeBindingMode` are immutable",
        remedy: "create a StorageClass with another name, or delete `{name}` before upgrading (claims bound through it keep their volumes)",
        check: storage_class,
    },
];

/// Server defaults for fields the rules compare: a side that leaves the field out gets
/// this value, so `podManagementPolicy: OrderedReady` written on one side only is no
/// change. (kind, path from the object's root, default.)
const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "StatefulSet",
        "/spec/podManagementPolicy",
        "\"OrderedReady\"",
    ),
    ("StatefulSet", "/spec/serviceName", "\"\""),
    ("StorageClass", "/reclaimPolicy", "\"Delete\""),
    ("StorageClass", "/volumeBindingMode", "\"Immediate\""),
    (
        "PersistentVolumeClaim",
        "/spec/volumeMode",
        "\"Filesystem\"",
    ),
];

/// The fields of a StatefulSet's spec an update may change (Kubernetes 1.37; the set
/// grew over the releases, and a field missing here is reported, never hidden).
const STATEFULSET_UPDATABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "revisionHistoryLimit",
];

/// Every change the API server would refuse when `baseline`'s objects are updated to
/// `candidate`'s. helm hooks are left out: helm deletes and creates them anew.
pub fn predict(baseline: &[Manifest], candidate: &[Manifest]) -> Vec<Break> {
    let mut breaks = Vec::new();
    for new in candidate.iter().filter(|m| !is_hook(m)) {
        let key = key_of(new);
        let Some(old) = baseline
            .iter()
            .filter(|m| !is_hook(m))
            .find(|m| key_of(m) == key)
        else {
            continue;
        };
        let (kind, namespace, name) = key;
        for rule in RULES.iter().filter(|rule| rule.kinds.contains(&kind)) {
            let old_value = with_defaults(kind, &old.value);
            let new_value = with_defaults(kind, &new.value);
            for change in (rule.check)(&old_value, &new_value) {
                breaks.push(Break {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    namespace: namespace.map(str::to_string),
                    template: new.source.clone(),
                    field: change.path,
                    old: shown(change.old.as_ref()),
                    new: shown(change.new.as_ref()),
                    rule,
                });
            }
        }
    }
    breaks
}

/// Every change the API server would refuse when the upgraded release is rolled back
/// to `baseline`: the rules run the other way (a claim request that grew now shrinks; a
/// claim field the candidate set and the baseline leaves out would be removed), and a
/// CustomResourceDefinition version the candidate added and stores objects in is one
/// the baseline's CRD would drop, which the server refuses while objects are stored in
/// it.
pub fn predict_rollback(baseline: &[Manifest], candidate: &[Manifest]) -> Vec<Break> {
    let mut breaks = predict(candidate, baseline);
    for new in candidate
        .iter()
        .filter(|m| key_of(m).0 == "CustomResourceDefinition")
    {
        let key = key_of(new);
        let Some(old) = baseline.iter().find(|m| key_of(m) == key) else {
            continue;
        };
        let versions = |crd: &Manifest| -> Vec<(String, bool)> {
            crd.value
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    Some((
                        v.get("name")?.as_str()?.to_string(),
                        v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                    ))
                })
                .collect()
        };
        let known: Vec<String> = versions(old).into_iter().map(|(name, _)| name).collect();
        for (name, _) in versions(new)
            .into_iter()
            .filter(|(name, storage)| *storage && !known.contains(name))
        {
            breaks.push(Break {
                kind: key.0.to_string(),
                name: key.2.to_string(),
                namespace: None,
                template: new.source.clone(),
                field: "spec.versions".to_string(),
                old: format!("\"{name}\" (the storage version)"),
                new: "(unset)".to_string(),
                rule: &CRD_STORED_VERSION,
            });
        }
    }
    breaks
}

/// The rollback-only rule of [`predict_rollback`].
pub const CRD_STORED_VERSION: Rule = Rule {
    id: "crd-stored-version",
    kinds: &["CustomResourceDefinition"],
    why: "objects are stored in a version the baseline's CustomResourceDefinition does not have, and the server refuses to drop a version listed in `status.storedVersions`",
    remedy: "keep serving the version in the baseline's CRD, or migrate the stored objects and remove the version from `status.storedVersions` before rolling back",
    check: |_, _| Vec::new(),
};

/// A rule's text for this object: `{kind}`, `{kind_lower}` and `{name}` filled in.
fn fill(text: &str, kind: &str, name: &str) -> String {
    text.replace("{kind_lower}", &kind.to_ascii_lowercase())
        .replace("{kind}", kind)
        .replace("{name}", name)
}

fn key_of(manifest: &Manifest) -> (&str, Option<&str>, &str) {
    let text = |pointer: &str| manifest.value.pointer(pointer).and_then(Value::as_str);
    (
        text("/kind").unwrap_or(""),
        text("/metadata/namespace"),
        text("/metadata/name").unwrap_or(""),
    )
}

fn is_hook(manifest: &Manifest) -> bool {
    manifest
        .value
        .pointer("/metadata/annotations/helm.sh~1hook")
        .is_some()
}

fn with_defaults(kind: &str, value: &Value) -> Value {
    let mut value = value.clone();
    for (_, path, default) in DEFAULTS.iter().filter(|(k, _, _)| *k == kind) {
        if value.pointer(path).is_none_or(Value::is_null) {
            set_pointer(
                &mut value,
                path,
                serde_json::from_str(default).expect("a JSON default"),
            );
        }
    }
    // A volumeClaimTemplate's claim spec gets the claim's defaults too.
    if kind == "StatefulSet"
        && let Some(templates) = value
            .pointer_mut("/spec/volumeClaimTemplates")
            .and_then(Value::as_array_mut)
    {
        for template in templates {
            if template.pointer("/spec/volumeMode").is_none() {
                set_pointer(template, "/spec/volumeMode", Value::from("Filesystem"));
            }
        }
    }
    value
}

/// Sets `path` (a JSON pointer into mappings) to `new`, creating mappings on the way.
fn set_pointer(value: &mut Value, path: &str, new: Value) {
    let mut current = value;
    let keys: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, key) in keys.iter().enumerate() {
        let Some(map) = current.as_object_mut() else {
            return;
        };
        if i == keys.len() - 1 {
            map.insert(key.to_string(), new);
            return;
        }
        current = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

/// Compact JSON, at most 120 characters, or `(unset)`.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(unset)".to_string();
    };
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(119).collect::<String>())
    } else {
        text
    }
}

/// The leaves that differ between `old` and `new` under `path`, each named by its
/// dotted path: a changed object reads as the fields that changed in it, not as two
/// walls of JSON.
fn leaf_changes(path: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<FieldChange> {
    match (old, new) {
        (Some(a), Some(b)) if a == b => Vec::new(),
        (None, None) => Vec::new(),
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|key| leaf_changes(&format!("{path}.{key}"), a.get(key), b.get(key)))
                .collect()
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .flat_map(|(i, (x, y))| leaf_changes(&format!("{path}[{i}]"), Some(x), Some(y)))
            .collect(),
        _ => vec![FieldChange {
            path: path.to_string(),
            old: old.cloned(),
            new: new.cloned(),
        }],
    }
}

/// The changes under each of `fields` (dotted paths from the root).
fn changes_in(old: &Value, new: &Value, fields: &[&str]) -> Vec<FieldChange> {
    fields
        .iter()
        .flat_map(|field| {
            let pointer = format!("/{}", field.replace('.', "/"));
            leaf_changes(field, old.pointer(&pointer), new.pointer(&pointer))
        })
        .collect()
}

fn workload_selector(old: &Value, new: &Value) -> Vec<FieldChange> {
    changes_in(old, new, &["spec.selector"])
}

fn statefulset_spec(old: &Value, new: &Value) -> Vec<FieldChange> {
    let fields = |value: &Value| -> Vec<String> {
        value
            .pointer("/spec")
            .and_then(Value::as_object)
            .map(|spec| spec.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut names = fields(old);
    names.extend(fields(new));
    names.sort();
    names.dedup();
    names
        .iter()
        .filter(|name| !STATEFULSET_UPDATABLE.contains(&name.as_str()))
        .flat_map(|name| changes_in(old, new, &[&format!("spec.{name}")]))
        .collect()
}

fn job_spec(old: &Value, new: &Value) -> Vec<FieldChange> {
    changes_in(old, new, &["spec.selector", "spec.template"])
}

fn service_cluster_ip(old: &Value, new: &Value) -> Vec<FieldChange> {
    let text = |value: &Value, pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // To or from ExternalName, the server clears or allocates the address itself.
    let external = |value: &Value| text(value, "/spec/type").as_deref() == Some("ExternalName");
    if external(old) || external(new) {
        return Vec::new();
    }
    let (before, after) = (text(old, "/spec/clusterIP"), text(new, "/spec/clusterIP"));
    // An unset side keeps the live address: the server copies it from the old object
    // (so a Service whose chart drops `clusterIP: None` silently stays headless). A set
    // side must match the live one, which is the baseline's when it set one, and one
    // the server allocated (never `None`, rarely the one asked for) when it did not.
    let changed = match (&before, &after) {
        (_, None) => false,
        (Some(a), Some(b)) => a != b,
        (None, Some(_)) => true,
    };
    let mut changes = Vec::new();
    if changed {
        changes.push(FieldChange {
            path: "spec.clusterIP".to_string(),
            old: before.map(Value::from),
            new: after.map(Value::from),
        });
    }
    let ips = |value: &Value| value.pointer("/spec/clusterIPs").cloned();
    if let (Some(a), Some(b)) = (ips(old), ips(new))
        && a != b
    {
        changes.push(FieldChange {
            path: "spec.clusterIPs".to_string(),
            old: Some(a),
            new: Some(b),
        });
    }
    changes
}

fn pvc_spec(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut changes = changes_in(old, new, &["spec"]);
    changes.retain(|change| {
        if change.path == "spec.volumeAttributesClassName" {
            return false;
        }
        // Growing a request is allowed (where the StorageClass allows expansion, which
        // only the cluster knows); shrinking is refused.
        if change.path.starts_with("spec.resources.requests.") {
            return !grows(change.old.as_ref(), change.new.as_ref());
        }
        true
    });
    changes
}

/// Whether quantity `new` is larger than `old` (both Kubernetes quantities).
fn grows(old: Option<&Value>, new: Option<&Value>) -> bool {
    let bytes = |value: Option<&Value>| value.and_then(Value::as_str).and_then(quantity_bytes);
    matches!((bytes(old), bytes(new)), (Some(a), Some(b)) if b > a)
}

/// A storage quantity (`10Gi`, `500M`, `1e3`) in bytes, when it is one.
pub fn quantity_bytes(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "m" => 1e-3,
        _ => return None,
    };
    Some(number * factor)
}

fn immutable_config(old: &Value, new: &Value) -> Vec<FieldChange> {
    if old.pointer("/immutable") != Some(&Value::Bool(true)) {
        return Vec::new();
    }
    changes_in(old, new, &["immutable", "data", "binaryData", "stringData"])
}

fn role_ref(old: &Value, new: &Value) -> Vec<FieldChange> {
    changes_in(old, new, &["roleRef"])
}

fn storage_class(old: &Value, new: &Value) -> Vec<FieldChange> {
    changes_in(
        old,
        new,
        &[
            "provisioner",
            "parameters",
            "reclaimPolicy",
            "volumeBindingMode",
        ],
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Manifest {
        Manifest {
            source: Some("templates/x.yaml".into()),
            value,
        }
    }

    /// The fields `predict` names, as `rule-id field old → new`.
    fn predicted(old: Value, new: Value) -> Vec<String> {
        predict(&[object(old)], &[object(new)])
            .into_iter()
            .map(|b| format!("{} {} {} → {}", b.rule.id, b.field, b.old, b.new))
            .collect()
    }

    fn deployment(selector: Value, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"selector": {"matchLabels": selector},
                        "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[rstest]
    #[case::selector_changed(json!({"app": "web"}), json!({"app": "web", "tier": "front"}), "2",
        &["workload-selector spec.selector.matchLabels.tier (unset) → \"front\""])]
    #[case::template_only(json!({"app": "web"}), json!({"app": "web"}), "2", &[])]
    fn deployment_selector(
        #[case] old: Value,
        #[case] new: Value,
        #[case] image: &str,
        #[case] expected: &[&str],
    ) {
        assert_eq!(
            predicted(
                deployment(old, "web:1"),
                deployment(new, &format!("web:{image}"))
            ),
            expected
        );
    }

    #[rstest]
    #[case::daemonset("DaemonSet")]
    #[case::replicaset("ReplicaSet")]
    fn other_workloads_selector(#[case] kind: &str) {
        let make = |app: &str| {
            json!({"kind": kind, "metadata": {"name": "w"},
                                      "spec": {"selector": {"matchLabels": {"app": app}}}})
        };
        assert_eq!(
            predicted(make("a"), make("b")),
            ["workload-selector spec.selector.matchLabels.app \"a\" → \"b\""]
        );
    }

    fn statefulset(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": spec})
    }

    fn claim_template(size: &str) -> Value {
        json!([{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}])
    }

    #[rstest]
    #[case::volume_claim_templates(
        json!({"volumeClaimTemplates": claim_template("1Gi")}),
        json!({"volumeClaimTemplates": claim_template("2Gi")}),
        &["statefulset-immutable-spec spec.volumeClaimTemplates[0].spec.resources.requests.storage \"1Gi\" → \"2Gi\""])]
    #[case::service_name(json!({"serviceName": "db"}), json!({"serviceName": "db-headless"}),
        &["statefulset-immutable-spec spec.serviceName \"db\" → \"db-headless\""])]
    #[case::pod_management_policy(json!({}), json!({"podManagementPolicy": "Parallel"}),
        &["statefulset-immutable-spec spec.podManagementPolicy \"OrderedReady\" → \"Parallel\""])]
    #[case::default_written_out(json!({}), json!({"podManagementPolicy": "OrderedReady"}), &[])]
    #[case::selector(json!({"selector": {"matchLabels": {"a": "1"}}}), json!({"selector": {"matchLabels": {"a": "2"}}}),
        &["statefulset-immutable-spec spec.selector.matchLabels.a \"1\" → \"2\""])]
    #[case::updatable_fields(
        json!({"replicas": 1, "template": {"a": 1}, "updateStrategy": {"type": "RollingUpdate"}, "minReadySeconds": 0, "revisionHistoryLimit": 10, "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain"}, "ordinals": {"start": 0}}),
        json!({"replicas": 3, "template": {"a": 2}, "updateStrategy": {"type": "OnDelete"}, "minReadySeconds": 5, "revisionHistoryLimit": 3, "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}, "ordinals": {"start": 1}}),
        &[])]
    #[case::volume_mode_default(
        json!({"volumeClaimTemplates": claim_template("1Gi")}),
        json!({"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "resources": {"requests": {"storage": "1Gi"}}}}]}),
        &[])]
    fn statefulset_fields(#[case] old: Value, #[case] new: Value, #[case] expected: &[&str]) {
        assert_eq!(predicted(statefulset(old), statefulset(new)), expected);
    }

    #[rstest]
    #[case::template(json!({"template": {"spec": {"containers": [{"image": "m:1"}]}}}),
        json!({"template": {"spec": {"containers": [{"image": "m:2"}]}}}),
        &["job-selector-and-template spec.template.spec.containers[0].image \"m:1\" → \"m:2\""])]
    #[case::backoff_limit(json!({"backoffLimit": 1}), json!({"backoffLimit": 2}), &[])]
    fn job_fields(#[case] old: Value, #[case] new: Value, #[case] expected: &[&str]) {
        let job = |spec| json!({"kind": "Job", "metadata": {"name": "migrate"}, "spec": spec});
        assert_eq!(predicted(job(old), job(new)), expected);
    }

    #[test]
    fn helm_hooks_are_made_anew_so_never_break() {
        let hook = |image: &str| {
            json!({"kind": "Job", "metadata": {"name": "migrate",
            "annotations": {"helm.sh/hook": "pre-upgrade"}},
            "spec": {"template": {"spec": {"containers": [{"image": image}]}}}})
        };
        assert_eq!(predicted(hook("m:1"), hook("m:2")), Vec::<String>::new());
    }

    fn service(spec: Value) -> Value {
        json!({"kind": "Service", "metadata": {"name": "db"}, "spec": spec})
    }

    #[rstest]
    #[case::to_headless(json!({}), json!({"clusterIP": "None"}),
        &["service-cluster-ip spec.clusterIP (unset) → \"None\""])]
    #[case::from_headless_stays_headless(json!({"clusterIP": "None"}), json!({}), &[])]
    #[case::fixed_address_changed(json!({"clusterIP": "10.96.0.10"}), json!({"clusterIP": "10.96.0.11"}),
        &["service-cluster-ip spec.clusterIP \"10.96.0.10\" → \"10.96.0.11\""])]
    #[case::both_unset(json!({"ports": [{"port": 1}]}), json!({"ports": [{"port": 2}]}), &[])]
    #[case::to_external_name(json!({"clusterIP": "None"}), json!({"type": "ExternalName", "externalName": "x"}), &[])]
    fn service_addresses(#[case] old: Value, #[case] new: Value, #[case] expected: &[&str]) {
        assert_eq!(predicted(service(old), service(new)), expected);
    }

    fn claim(spec: Value) -> Value {
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": spec})
    }

    #[rstest]
    #[case::grows(json!({"resources": {"requests": {"storage": "1Gi"}}}), json!({"resources": {"requests": {"storage": "2Gi"}}}), &[])]
    #[case::shrinks(json!({"resources": {"requests": {"storage": "2Gi"}}}), json!({"resources": {"requests": {"storage": "1500Mi"}}}),
        &["pvc-spec spec.resources.requests.storage \"2Gi\" → \"1500Mi\""])]
    #[case::storage_class(json!({"storageClassName": "fast"}), json!({"storageClassName": "slow"}),
        &["pvc-spec spec.storageClassName \"fast\" → \"slow\""])]
    #[case::attributes_class(json!({"volumeAttributesClassName": "a"}), json!({"volumeAttributesClassName": "b"}), &[])]
    fn claim_fields(#[case] old: Value, #[case] new: Value, #[case] expected: &[&str]) {
        assert_eq!(predicted(claim(old), claim(new)), expected);
    }

    #[rstest]
    #[case::immutable_data(true, json!({"a": "1"}), json!({"a": "2"}),
        &["immutable-config data.a \"1\" → \"2\""])]
    #[case::mutable_data(false, json!({"a": "1"}), json!({"a": "2"}), &[])]
    fn config_fields(
        #[case] immutable: bool,
        #[case] old: Value,
        #[case] new: Value,
        #[case] expected: &[&str],
    ) {
        for kind in ["ConfigMap", "Secret"] {
            let config = |data: &Value| json!({"kind": kind, "metadata": {"name": "c"}, "immutable": immutable, "data": data});
            assert_eq!(predicted(config(&old), config(&new)), expected, "{kind}");
        }
    }

    #[rstest]
    #[case::role_binding("RoleBinding")]
    #[case::cluster_role_binding("ClusterRoleBinding")]
    fn binding_role_ref(#[case] kind: &str) {
        let binding = |role: &str| {
            json!({"kind": kind, "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}})
        };
        assert_eq!(
            predicted(binding("view"), binding("edit")),
            ["binding-role-ref roleRef.name \"view\" → \"edit\""]
        );
    }

    #[rstest]
    #[case::provisioner(json!({"provisioner": "a"}), json!({"provisioner": "b"}),
        &["storage-class provisioner \"a\" → \"b\""])]
    #[case::parameters(json!({"provisioner": "a", "parameters": {"type": "gp2"}}), json!({"provisioner": "a", "parameters": {"type": "gp3"}}),
        &["storage-class parameters.type \"gp2\" → \"gp3\""])]
    #[case::reclaim_default(json!({"provisioner": "a"}), json!({"provisioner": "a", "reclaimPolicy": "Delete"}), &[])]
    #[case::allow_expansion(json!({"provisioner": "a"}), json!({"provisioner": "a", "allowVolumeExpansion": true}), &[])]
    fn storage_class_fields(#[case] old: Value, #[case] new: Value, #[case] expected: &[&str]) {
        let class = |mut fields: Value| {
            fields["kind"] = json!("StorageClass");
            fields["metadata"] = json!({"name": "fast"});
            fields
        };
        assert_eq!(predicted(class(old), class(new)), expected);
    }

    /// Objects pair by kind, namespace and name: a renamed object is a new one, not a
    /// change.
    #[test]
    fn only_the_same_object_is_compared() {
        let renamed = json!({"kind": "Deployment", "metadata": {"name": "web-v2"},
            "spec": {"selector": {"matchLabels": {"app": "other"}}}});
        assert!(predicted(deployment(json!({"app": "web"}), "web:1"), renamed).is_empty());
    }

    #[test]
    fn a_break_reads_as_object_field_values_reason_and_remedy() {
        let found = predict(
            &[object(deployment(json!({"app": "web"}), "w:1"))],
            &[object(deployment(json!({"app": "site"}), "w:1"))],
        );
        assert_eq!(
            found[0].to_string(),
            "Deployment `web`: spec.selector.matchLabels.app changes from \"web\" to \"site\"; the API server refuses a changed `spec.selector` (field is immutable): keep the selector, or delete the Deployment with `kubectl delete deployment web --cascade=orphan` before upgrading, so the upgrade creates it anew and adopts its pods"
        );
        assert_eq!(found[0].template.as_deref(), Some("templates/x.yaml"));
    }

    /// Rolling back runs the rules the other way, and adds the CRD storage version.
    #[rstest]
    #[case::claim_grew(
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}),
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
        &["pvc-spec spec.resources.requests.storage \"2Gi\" → \"1Gi\""])]
    #[case::claim_field_set_by_the_candidate(
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {}}),
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {"volumeName": "pv-1"}}),
        &["pvc-spec spec.volumeName \"pv-1\" → (unset)"])]
    #[case::crd_new_storage_version(
        json!({"kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}, "spec": {"versions": [{"name": "v1", "storage": true}]}}),
        json!({"kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}, "spec": {"versions": [{"name": "v1", "storage": false}, {"name": "v2", "storage": true}]}}),
        &["crd-stored-version spec.versions \"v2\" (the storage version) → (unset)"])]
    #[case::crd_same_versions(
        json!({"kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}, "spec": {"versions": [{"name": "v1", "storage": true}]}}),
        json!({"kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}, "spec": {"versions": [{"name": "v1", "storage": true, "served": true}]}}),
        &[])]
    fn rollback(#[case] baseline: Value, #[case] candidate: Value, #[case] expected: &[&str]) {
        let found: Vec<String> = predict_rollback(&[object(baseline)], &[object(candidate)])
            .into_iter()
            .map(|b| format!("{} {} {} → {}", b.rule.id, b.field, b.old, b.new))
            .collect();
        assert_eq!(found, expected);
    }

    #[rstest]
    #[case("10Gi", Some(10.0 * 1024f64.powi(3)))]
    #[case("500M", Some(5e8))]
    #[case("1.5Ti", Some(1.5 * 1024f64.powi(4)))]
    #[case("1e3", Some(1000.0))]
    #[case("lots", None)]
    fn quantities(#[case] text: &str, #[case] bytes: Option<f64>) {
        assert_eq!(quantity_bytes(text), bytes);
    }
}
