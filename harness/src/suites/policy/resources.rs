//! Resource requests and limits: the scheduler places a pod by its requests, and a
//! container without a memory limit can take the node's memory from its neighbours.

use super::finding::Finding;
use super::rules;
use super::workloads::workloads;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for workload in workloads(manifests) {
        for container in workload.containers() {
            // helm renders an emptied value as null, which sets nothing.
            let has = |pointer: &str| container.field(pointer).is_some_and(|v| !v.is_null());
            let who = container.describe();
            let missing_requests: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|resource| !has(&format!("/resources/requests/{resource}")))
                .collect();
            if !missing_requests.is_empty() {
                findings.push(Finding::on(
                    &rules::RESOURCE_REQUESTS_MISSING,
                    workload.manifest,
                    format!("{who} requests no {}", missing_requests.join(" and no ")),
                ));
            }
            if !has("/resources/limits/memory") {
                findings.push(Finding::on(
                    &rules::MEMORY_LIMIT_MISSING,
                    workload.manifest,
                    format!("{who} has no memory limit"),
                ));
            }
            if !has("/resources/limits/cpu") {
                findings.push(Finding::on(
                    &rules::CPU_LIMIT_MISSING,
                    workload.manifest,
                    format!("{who} has no cpu limit"),
                ));
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

    fn broken(resources: Value) -> Vec<(String, String)> {
        let manifests = [Manifest {
            source: None,
            value: json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
                "containers": [{"name": "app", "resources": resources}]
            }}}}),
        }];
        check(&manifests)
            .into_iter()
            .map(|f| (f.rule, f.message))
            .collect()
    }

    #[rstest]
    #[case::complete(json!({"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}), &[])]
    #[case::no_cpu_limit(json!({"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}), &["cpu-limit-missing"])]
    #[case::no_memory_request(json!({"requests": {"cpu": "10m"}, "limits": {"cpu": "1", "memory": "32Mi"}}), &["resource-requests-missing"])]
    #[case::nothing(json!(null), &["resource-requests-missing", "memory-limit-missing", "cpu-limit-missing"])]
    fn missing_resources_are_found(#[case] resources: Value, #[case] expected: &[&str]) {
        let rules: Vec<String> = broken(resources)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect();
        assert_eq!(rules, expected);
    }

    #[test]
    fn the_message_names_the_missing_requests() {
        assert_eq!(
            broken(json!(null))[0].1,
            "container `app` requests no cpu and no memory"
        );
    }
}
