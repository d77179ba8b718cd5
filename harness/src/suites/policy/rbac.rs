//! RBAC: what the chart's Roles grant and to whom its bindings grant it. Each object is
//! read once; bindings are indexed by the role they name.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::finding::Finding;
use super::rules;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    // ClusterRole name → (its ClusterRoleBindings, whether a RoleBinding uses it).
    let mut uses: HashMap<&str, (Vec<&Manifest>, bool)> = HashMap::new();
    let service_accounts: HashSet<&str> = manifests
        .iter()
        .filter(|m| kind_of(m) == "ServiceAccount")
        .map(name_of)
        .collect();
    for manifest in manifests {
        let kind = kind_of(manifest);
        if !matches!(kind, "RoleBinding" | "ClusterRoleBinding") {
            continue;
        }
        let role_kind = manifest
            .value
            .pointer("/roleRef/kind")
            .and_then(Value::as_str);
        let role = manifest
            .value
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if role_kind != Some("ClusterRole") {
            continue;
        }
        if role == "cluster-admin" {
            findings.push(Finding::on(
                &rules::RBAC_CLUSTER_ADMIN,
                manifest,
                format!("{kind} `{}` grants ClusterRole cluster-admin: every permission on every object", name_of(manifest)),
            ));
        }
        let entry = uses.entry(role).or_default();
        if kind == "ClusterRoleBinding" {
            entry.0.push(manifest);
        } else {
            entry.1 = true;
        }
    }
    for manifest in manifests {
        let kind = kind_of(manifest);
        if !matches!(kind, "Role" | "ClusterRole") {
            continue;
        }
        let role_rules = manifest.value.get("rules").and_then(Value::as_array);
        let mut cluster_wide_only = false;
        let mut reads_secrets = false;
        for rule in role_rules.into_iter().flatten() {
            let list = |key: &str| -> Vec<&str> {
                rule.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            };
            let (verbs, resources, groups) = (list("verbs"), list("resources"), list("apiGroups"));
            let wildcards: Vec<&str> = [
                ("verbs", &verbs),
                ("resources", &resources),
                ("apiGroups", &groups),
            ]
            .into_iter()
            .filter(|(_, values)| values.contains(&"*"))
            .map(|(key, _)| key)
            .collect();
            // Every verb on every resource of every group, bound cluster-wide, is
            // cluster-admin in all but name: the same power gets the same severity.
            let cluster_bindings = match kind {
                "ClusterRole" => uses.get(name_of(manifest)).map_or(&[][..], |u| &u.0[..]),
                _ => &[],
            };
            if wildcards.len() == 3 && !cluster_bindings.is_empty() {
                for binding in cluster_bindings {
                    findings.push(Finding::on(
                        &rules::RBAC_CLUSTER_ADMIN,
                        binding,
                        format!(
                            "ClusterRoleBinding `{}` grants ClusterRole `{}`, whose rules grant `*` verbs on `*` resources in `*` apiGroups: every permission on every object of the cluster, as cluster-admin does",
                            name_of(binding),
                            name_of(manifest)
                        ),
                    ));
                }
            } else if !wildcards.is_empty() {
                findings.push(Finding::on(
                    &rules::RBAC_WILDCARD,
                    manifest,
                    format!(
                        "{kind} `{}` grants `*` {}: it also grants what later Kubernetes versions and CRDs add",
                        name_of(manifest),
                        wildcards.join(" and ")
                    ),
                ));
            }
            if !list("nonResourceURLs").is_empty()
                || resources.iter().any(|r| CLUSTER_SCOPED.contains(r))
            {
                cluster_wide_only = true;
            }
            let core = groups.iter().any(|g| g.is_empty());
            let reads = verbs.iter().any(|v| matches!(*v, "get" | "list" | "watch"));
            if core
                && reads
                && resources.contains(&"secrets")
                && rule.get("resourceNames").is_none()
            {
                reads_secrets = true;
            }
        }
        if kind != "ClusterRole" {
            continue;
        }
        let name = name_of(manifest);
        if reads_secrets {
            findings.push(Finding::on(
                &rules::RBAC_CLUSTER_SECRETS,
                manifest,
                format!("ClusterRole `{name}` may get, list or watch every Secret of the cluster"),
            ));
        }
        let Some((cluster_bindings, role_bindings)) = uses.get(name) else {
            continue;
        };
        // A ClusterRole bound only inside namespaces, or only to the release's own
        // ServiceAccounts, grants nothing a Role would not (unless it names what only a
        // ClusterRole can: cluster-scoped resources, non-resource URLs).
        let only_release_accounts = cluster_bindings.iter().all(|binding| {
            let subjects = binding.value.get("subjects").and_then(Value::as_array);
            subjects.is_some_and(|subjects| {
                !subjects.is_empty()
                    && subjects.iter().all(|subject| {
                        subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                            && subject
                                .get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| service_accounts.contains(n))
                    })
            })
        });
        if !cluster_wide_only
            && (*role_bindings || !cluster_bindings.is_empty())
            && only_release_accounts
        {
            let how = if cluster_bindings.is_empty() {
                "is bound only by RoleBindings"
            } else {
                "is bound only to the release's own ServiceAccounts"
            };
            findings.push(Finding::on(
                &rules::RBAC_ROLE_WOULD_DO,
                manifest,
                format!("ClusterRole `{name}` {how} and names no cluster-scoped resource"),
            ));
        }
    }
    findings
}

fn kind_of(manifest: &Manifest) -> &str {
    manifest
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn name_of(manifest: &Manifest) -> &str {
    manifest
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Resources that exist outside namespaces, so only a ClusterRole can grant them.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "namespaces",
    "persistentvolumes",
    "storageclasses",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "priorityclasses",
    "csidrivers",
    "csinodes",
    "ingressclasses",
    "runtimeclasses",
    "apiservices",
    "tokenreviews",
    "subjectaccessreviews",
    "certificatesigningrequests",
    "*",
];

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn role(kind: &str, rules: Value) -> Manifest {
        Manifest::without_source(json!({"kind": kind, "metadata": {"name": "r"}, "rules": rules}))
    }

    fn binding(kind: &str, role: &str, subject: Value) -> Manifest {
        Manifest::without_source(json!({
            "kind": kind, "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [subject],
        }))
    }

    fn rules_broken(manifests: &[Manifest]) -> Vec<String> {
        check(manifests).into_iter().map(|f| f.rule).collect()
    }

    fn user() -> Value {
        json!({"kind": "User", "name": "alice"})
    }

    #[rstest]
    #[case::narrow(json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]), &[])]
    #[case::verbs(json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]), &["rbac-wildcard"])]
    #[case::everything(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]), &["rbac-wildcard"])]
    fn wildcards_in_roles_are_found(#[case] grants: Value, #[case] expected: &[&str]) {
        assert_eq!(rules_broken(&[role("Role", grants)]), expected);
    }

    #[rstest]
    #[case::read(json!(["get", "list"]), None, &["rbac-cluster-secrets-read"])]
    #[case::write_only(json!(["create"]), None, &[])]
    #[case::named(json!(["get"]), Some(json!(["one"])), &[])]
    fn cluster_wide_secret_reads_are_found(
        #[case] verbs: Value,
        #[case] names: Option<Value>,
        #[case] expected: &[&str],
    ) {
        let mut grant = json!({"apiGroups": [""], "resources": ["secrets"], "verbs": verbs});
        if let Some(names) = names {
            grant["resourceNames"] = names;
        }
        assert_eq!(
            rules_broken(&[role("ClusterRole", json!([grant]))]),
            expected
        );
    }

    #[test]
    fn cluster_admin_bindings_are_errors() {
        let found = rules_broken(&[binding("ClusterRoleBinding", "cluster-admin", user())]);
        assert_eq!(found, ["rbac-cluster-admin-binding"]);
        let found = rules_broken(&[binding("RoleBinding", "cluster-admin", user())]);
        assert_eq!(found, ["rbac-cluster-admin-binding"]);
    }

    fn everything() -> Value {
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    }

    /// A full wildcard bound cluster-wide is cluster-admin under another name; bound in
    /// a namespace, or partial, it stays a warning.
    #[rstest]
    #[case::full_wildcard_cluster_wide(everything(), "ClusterRoleBinding", &["rbac-cluster-admin-binding"])]
    #[case::full_wildcard_in_a_namespace(everything(), "RoleBinding", &["rbac-wildcard"])]
    #[case::partial_wildcard_cluster_wide(
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}]),
        "ClusterRoleBinding",
        &["rbac-wildcard"]
    )]
    fn a_full_wildcard_bound_cluster_wide_is_cluster_admin(
        #[case] grants: Value,
        #[case] binding_kind: &str,
        #[case] expected: &[&str],
    ) {
        let manifests = [
            role("ClusterRole", grants),
            binding(binding_kind, "r", user()),
        ];
        assert_eq!(rules_broken(&manifests), expected);
    }

    fn pods_reader() -> Manifest {
        role(
            "ClusterRole",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        )
    }

    fn release_account() -> Value {
        json!({"kind": "ServiceAccount", "name": "app", "namespace": "ns"})
    }

    #[rstest]
    #[case::role_bindings_only(vec![binding("RoleBinding", "r", user())], &["rbac-cluster-role-could-be-role"])]
    #[case::release_account(vec![binding("ClusterRoleBinding", "r", release_account())], &["rbac-cluster-role-could-be-role"])]
    #[case::a_user_cluster_wide(vec![binding("ClusterRoleBinding", "r", user())], &[])]
    #[case::unbound(vec![], &[])]
    fn cluster_roles_a_role_would_do_for_are_noted(
        #[case] bindings: Vec<Manifest>,
        #[case] expected: &[&str],
    ) {
        let mut manifests = vec![
            pods_reader(),
            Manifest::without_source(
                json!({"kind": "ServiceAccount", "metadata": {"name": "app"}}),
            ),
        ];
        manifests.extend(bindings);
        assert_eq!(rules_broken(&manifests), expected);
    }

    #[test]
    fn cluster_scoped_resources_need_a_cluster_role() {
        let nodes = role(
            "ClusterRole",
            json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
        );
        let manifests = [nodes, binding("RoleBinding", "r", user())];
        assert!(rules_broken(&manifests).is_empty());
    }
}
