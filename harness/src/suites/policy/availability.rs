//! Availability and isolation of the chart as a whole: a replicated workload that a node
//! drain may take down entirely, and pods that accept traffic from anywhere.

use serde_json::{Map, Value};

use super::finding::Finding;
use super::rules;
use super::workloads::workloads;
use crate::manifest::Manifest;

pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let of_kind = |kind: &'static str| {
        manifests
            .iter()
            .filter(move |m| m.value.get("kind").and_then(Value::as_str) == Some(kind))
    };
    // Selectors of the chart's budgets, read once; charts have a handful at most.
    let budgets: Vec<&Value> = of_kind("PodDisruptionBudget")
        .filter_map(|m| m.value.pointer("/spec/selector"))
        .collect();
    let mut has_workloads = false;
    for workload in workloads(manifests) {
        has_workloads = true;
        if !matches!(workload.kind, "Deployment" | "StatefulSet") {
            continue;
        }
        // Kubernetes defaults replicas to 1; an autoscaler's count is not known here.
        let replicas = workload
            .manifest
            .value
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if replicas <= 1 {
            continue;
        }
        let empty = Map::new();
        let labels = workload.labels.unwrap_or(&empty);
        if !budgets.iter().any(|selector| selects(selector, labels)) {
            findings.push(Finding::on(
                &rules::PDB_MISSING,
                workload.manifest,
                format!(
                    "{} runs {replicas} replicas and no PodDisruptionBudget selects its pods: a node drain may evict them all at once",
                    workload.kind
                ),
            ));
        }
    }
    if has_workloads && of_kind("NetworkPolicy").next().is_none() {
        findings.push(Finding::on_chart(
            &rules::NETWORK_POLICY_MISSING,
            "the chart runs pods and renders no NetworkPolicy: any pod of the cluster can reach them",
        ));
    }
    findings
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) selects `labels`. An
/// empty selector selects every pod, as Kubernetes reads a budget's.
fn selects(selector: &Value, labels: &Map<String, Value>) -> bool {
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_match = match_labels
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_match = expressions.into_iter().flatten().all(|expression| {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&Value> = expression
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let label = labels.get(key);
        match expression.get("operator").and_then(Value::as_str) {
            Some("In") => label.is_some_and(|l| values.contains(&l)),
            Some("NotIn") => label.is_none_or(|l| !values.contains(&l)),
            Some("Exists") => label.is_some(),
            Some("DoesNotExist") => label.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn deployment(replicas: u64) -> Manifest {
        Manifest {
            source: Some("templates/deployment.yaml".into()),
            value: json!({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {
                "replicas": replicas,
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": {"containers": [{"name": "a"}]}},
            }}),
        }
    }

    fn budget(selector: Value) -> Manifest {
        Manifest {
            source: None,
            value: json!({"kind": "PodDisruptionBudget", "metadata": {"name": "b"}, "spec": {"selector": selector}}),
        }
    }

    fn policy() -> Manifest {
        Manifest {
            source: None,
            value: json!({"kind": "NetworkPolicy", "metadata": {"name": "n"}}),
        }
    }

    fn rules_broken(manifests: &[Manifest]) -> Vec<String> {
        check(manifests).into_iter().map(|f| f.rule).collect()
    }

    #[rstest]
    #[case::one_replica(1, None, &[])]
    #[case::no_budget(3, None, &["pod-disruption-budget-missing"])]
    #[case::matching_labels(3, Some(json!({"matchLabels": {"app": "web"}})), &[])]
    #[case::other_labels(3, Some(json!({"matchLabels": {"app": "api"}})), &["pod-disruption-budget-missing"])]
    #[case::expression_in(2, Some(json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]})), &[])]
    #[case::expression_not_in(2, Some(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})), &["pod-disruption-budget-missing"])]
    fn replicated_workloads_need_a_matching_budget(
        #[case] replicas: u64,
        #[case] selector: Option<Value>,
        #[case] expected: &[&str],
    ) {
        let mut manifests = vec![deployment(replicas), policy()];
        manifests.extend(selector.map(budget));
        assert_eq!(rules_broken(&manifests), expected);
    }

    #[test]
    fn a_chart_with_pods_and_no_network_policy_is_noted_once() {
        let findings = check(&[deployment(1), deployment(1)]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "network-policy-missing");
        assert_eq!(findings[0].object, "Chart");
        assert!(
            check(&[budget(json!({}))]).is_empty(),
            "no pods, nothing to isolate"
        );
    }
}
