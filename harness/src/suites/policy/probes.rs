//! Probes of long-running workloads: without readiness, a Service sends traffic to a pod
//! before it can answer; without liveness, a hung process is never restarted; and a
//! liveness probe identical to readiness restarts a pod that is only busy.

use super::finding::Finding;
use super::rules;
use super::workloads::workloads;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for workload in workloads(manifests).filter(|w| w.long_running()) {
        // Init containers run to completion before the pod starts; probes are not theirs.
        for container in workload.containers().filter(|c| !c.init) {
            let who = container.describe();
            let readiness = container.field("/readinessProbe").filter(|v| !v.is_null());
            let liveness = container.field("/livenessProbe").filter(|v| !v.is_null());
            if readiness.is_none() {
                findings.push(Finding::on(
                    &rules::READINESS_PROBE_MISSING,
                    workload.manifest,
                    format!("{who} has no readinessProbe"),
                ));
            }
            if liveness.is_none() {
                findings.push(Finding::on(
                    &rules::LIVENESS_PROBE_MISSING,
                    workload.manifest,
                    format!("{who} has no livenessProbe"),
                ));
            }
            if readiness.is_some() && readiness == liveness {
                findings.push(Finding::on(
                    &rules::PROBES_IDENTICAL,
                    workload.manifest,
                    format!(
                        "{who} has the same readinessProbe and livenessProbe: a pod too busy to be ready is also restarted"
                    ),
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

    fn broken(kind: &str, container: Value) -> Vec<String> {
        let spec = json!({"containers": [container], "initContainers": [{"name": "init"}]});
        let manifests = [Manifest {
            source: None,
            value: json!({"kind": kind, "metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        }];
        check(&manifests).into_iter().map(|f| f.rule).collect()
    }

    fn probe(path: &str) -> Value {
        json!({"httpGet": {"path": path, "port": 8080}})
    }

    #[rstest]
    #[case::both(json!({"name": "a", "readinessProbe": probe("/ready"), "livenessProbe": probe("/live")}), &[])]
    #[case::no_readiness(json!({"name": "a", "livenessProbe": probe("/live")}), &["readiness-probe-missing"])]
    #[case::no_liveness(json!({"name": "a", "readinessProbe": probe("/ready")}), &["liveness-probe-missing"])]
    #[case::identical(json!({"name": "a", "readinessProbe": probe("/"), "livenessProbe": probe("/")}), &["readiness-equals-liveness"])]
    #[case::none(json!({"name": "a"}), &["readiness-probe-missing", "liveness-probe-missing"])]
    fn probes_of_long_running_containers_are_checked(
        #[case] container: Value,
        #[case] expected: &[&str],
    ) {
        assert_eq!(broken("Deployment", container), expected);
    }

    #[test]
    fn jobs_need_no_probes() {
        assert!(broken("Job", json!({"name": "a"})).is_empty());
    }
}
