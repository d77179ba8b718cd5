//! Security contexts of pods and their containers (init containers too: they run with
//! the same node access), and the node namespaces and paths a pod may reach.

use serde_json::Value;

use super::finding::Finding;
use super::rules::{self, Rule};
use super::workloads::workloads;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for workload in workloads(manifests) {
        let mut found = |rule: &Rule, message: String| {
            findings.push(Finding::on(rule, workload.manifest, message));
        };
        for (key, rule) in [
            ("hostNetwork", &rules::HOST_NETWORK),
            ("hostPID", &rules::HOST_PID),
            ("hostIPC", &rules::HOST_IPC),
        ] {
            if workload.pod_field(key) == Some(&Value::Bool(true)) {
                found(rule, format!("the pod sets `{key}: true`"));
            }
        }
        let volumes = workload.pod_field("volumes").and_then(Value::as_array);
        for volume in volumes.into_iter().flatten() {
            if let Some(path) = volume.get("hostPath") {
                let name = volume.get("name").and_then(Value::as_str).unwrap_or("?");
                let path = path.get("path").and_then(Value::as_str).unwrap_or("?");
                found(
                    &rules::HOST_PATH_VOLUME,
                    format!("volume `{name}` mounts the node's `{path}`"),
                );
            }
        }
        let pod_non_root = workload
            .pod_field("securityContext")
            .and_then(|context| context.get("runAsNonRoot"))
            .and_then(Value::as_bool);
        for container in workload.containers() {
            let who = container.describe();
            let context = |key: &str| {
                container
                    .field(&format!("/securityContext/{key}"))
                    .filter(|v| !v.is_null())
            };
            if context("privileged") == Some(&Value::Bool(true)) {
                found(
                    &rules::PRIVILEGED,
                    format!(
                        "{who} sets `privileged: true`: it has every capability and every device of the node"
                    ),
                );
            }
            // The container's setting overrides the pod's, either way.
            let non_root = context("runAsNonRoot")
                .and_then(Value::as_bool)
                .or(pod_non_root);
            if non_root != Some(true) {
                found(
                    &rules::RUN_AS_NON_ROOT,
                    format!("{who}: neither it nor its pod sets `runAsNonRoot: true`"),
                );
            }
            if context("allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
                found(
                    &rules::ALLOW_PRIVILEGE_ESCALATION,
                    format!("{who} does not set `allowPrivilegeEscalation: false`"),
                );
            }
            if context("readOnlyRootFilesystem") != Some(&Value::Bool(true)) {
                found(
                    &rules::READ_ONLY_ROOT_FILESYSTEM,
                    format!("{who} does not set `readOnlyRootFilesystem: true`"),
                );
            }
            let drops_all = context("capabilities")
                .and_then(|caps| caps.get("drop"))
                .and_then(Value::as_array)
                .is_some_and(|drop| {
                    drop.iter()
                        .any(|cap| cap.as_str().is_some_and(|c| c.eq_ignore_ascii_case("ALL")))
                });
            if !drops_all {
                found(
                    &rules::CAPABILITIES_DROP_ALL,
                    format!("{who} does not drop `ALL` capabilities"),
                );
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::{Value, json};

    use super::*;

    fn hardened() -> Value {
        json!({
            "runAsNonRoot": true,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
        })
    }

    fn broken(pod: Value) -> Vec<String> {
        let manifests = [Manifest {
            source: None,
            value: json!({"kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": {"spec": pod}}}),
        }];
        check(&manifests).into_iter().map(|f| f.rule).collect()
    }

    fn with_container_context(key: &str, value: Value) -> Value {
        let mut context = hardened();
        if value.is_null() {
            context.as_object_mut().unwrap().remove(key);
        } else {
            context[key] = value;
        }
        json!({"containers": [{"name": "a", "securityContext": context}]})
    }

    #[rstest]
    #[case::hardened("runAsNonRoot", json!(true), &[])]
    #[case::root("runAsNonRoot", json!(null), &["run-as-non-root"])]
    #[case::root_explicitly("runAsNonRoot", json!(false), &["run-as-non-root"])]
    #[case::escalation("allowPrivilegeEscalation", json!(null), &["allow-privilege-escalation"])]
    #[case::writable("readOnlyRootFilesystem", json!(false), &["read-only-root-filesystem"])]
    #[case::capabilities("capabilities", json!({"drop": ["NET_RAW"]}), &["capabilities-drop-all"])]
    #[case::privileged("privileged", json!(true), &["privileged"])]
    fn container_contexts_are_checked(
        #[case] key: &str,
        #[case] value: Value,
        #[case] expected: &[&str],
    ) {
        assert_eq!(broken(with_container_context(key, value)), expected);
    }

    #[test]
    fn the_pods_run_as_non_root_counts_unless_the_container_overrides_it() {
        let mut pod = with_container_context("runAsNonRoot", json!(null));
        pod["securityContext"] = json!({"runAsNonRoot": true});
        assert!(broken(pod.clone()).is_empty());
        pod["containers"][0]["securityContext"]["runAsNonRoot"] = json!(false);
        assert_eq!(broken(pod), ["run-as-non-root"]);
    }

    #[test]
    fn init_containers_are_checked_too() {
        let mut pod = with_container_context("runAsNonRoot", json!(true));
        pod["initContainers"] = json!([{"name": "i", "securityContext": hardened()}]);
        pod["initContainers"][0]["securityContext"]["privileged"] = json!(true);
        assert_eq!(broken(pod), ["privileged"]);
    }

    #[rstest]
    #[case::network("hostNetwork", "host-network")]
    #[case::pid("hostPID", "host-pid")]
    #[case::ipc("hostIPC", "host-ipc")]
    fn node_namespaces_are_errors(#[case] key: &str, #[case] rule: &str) {
        let mut pod = with_container_context("runAsNonRoot", json!(true));
        pod[key] = json!(true);
        assert_eq!(broken(pod), [rule]);
    }

    #[test]
    fn host_path_volumes_are_errors() {
        let mut pod = with_container_context("runAsNonRoot", json!(true));
        pod["volumes"] = json!([{"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "tmp", "emptyDir": {}}]);
        assert_eq!(broken(pod), ["host-path-volume"]);
    }
}
