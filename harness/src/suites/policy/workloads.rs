//! The pod templates of rendered workloads, found once at the right path for each kind,
//! so every rule reads containers the same way. Helm test hooks are left out: they are
//! short-lived pods that probe the release, not part of what it runs.

use serde_json::{Map, Value};

use super::finding::annotation;
use crate::manifest::Manifest;

/// A workload's pod template.
pub struct Workload<'a> {
    pub manifest: &'a Manifest,
    pub kind: &'a str,
    /// The pod spec (`spec` of a Pod, `spec.template.spec` of a Deployment, ...).
    pub pod: &'a Map<String, Value>,
    /// The pod template's labels (a Pod's own).
    pub labels: Option<&'a Map<String, Value>>,
}

impl<'a> Workload<'a> {
    /// Runs until deleted; probes and disruption budgets matter for these, not for Jobs.
    pub fn long_running(&self) -> bool {
        !matches!(self.kind, "Job" | "CronJob")
    }

    /// Regular containers, then init containers, each with whether it is an init one.
    pub fn containers(&self) -> impl Iterator<Item = Container<'a>> {
        let list = |key: &str, init: bool| {
            self.pod
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(move |spec| Container { spec, init })
        };
        list("containers", false).chain(list("initContainers", true))
    }

    /// The pod-level field at `key` (`hostNetwork`, `securityContext`, ...).
    pub fn pod_field(&self, key: &str) -> Option<&'a Value> {
        self.pod.get(key)
    }
}

/// One container of a pod template.
#[derive(Clone, Copy)]
pub struct Container<'a> {
    pub spec: &'a Map<String, Value>,
    pub init: bool,
}

impl<'a> Container<'a> {
    pub fn name(&self) -> &'a str {
        self.spec.get("name").and_then(Value::as_str).unwrap_or("?")
    }

    /// `container `web`` or `init container `migrate``, for messages.
    pub fn describe(&self) -> String {
        let what = if self.init {
            "init container"
        } else {
            "container"
        };
        format!("{what} `{}`", self.name())
    }

    /// The value at `pointer` under the container's spec (`/securityContext/privileged`).
    pub fn field(&self, pointer: &str) -> Option<&'a Value> {
        let path = pointer.strip_prefix('/')?;
        let (first, rest) = path.split_once('/').unwrap_or((path, ""));
        let value = self.spec.get(first)?;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(&format!("/{rest}"))
        }
    }
}

/// Every workload's pod template, in render order, helm test hooks left out.
pub fn workloads(manifests: &[Manifest]) -> impl Iterator<Item = Workload<'_>> {
    manifests.iter().filter_map(|manifest| {
        let value = &manifest.value;
        let kind = value.get("kind")?.as_str()?;
        let template = match kind {
            "Pod" => value,
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                value.pointer("/spec/template")?
            }
            "CronJob" => value.pointer("/spec/jobTemplate/spec/template")?,
            _ => return None,
        };
        if is_test_hook(value) {
            return None;
        }
        Some(Workload {
            manifest,
            kind,
            pod: template.get("spec")?.as_object()?,
            labels: template
                .pointer("/metadata/labels")
                .and_then(Value::as_object),
        })
    })
}

/// `helm.sh/hook: test` (or helm 2's `test-success`), alone or among other hooks.
fn is_test_hook(value: &Value) -> bool {
    annotation(value, "helm.sh/hook").is_some_and(|hooks| {
        hooks
            .split(',')
            .any(|hook| matches!(hook.trim(), "test" | "test-success"))
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn pod_spec() -> Value {
        json!({"containers": [{"name": "app"}], "initContainers": [{"name": "init"}]})
    }

    #[rstest]
    #[case::pod(json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec()}))]
    #[case::deployment(json!({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}))]
    #[case::job(json!({"kind": "Job", "spec": {"template": {"spec": pod_spec()}}}))]
    #[case::cron_job(json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}}}))]
    fn every_workload_kind_has_its_pod_template_found(#[case] value: Value) {
        let manifests = [Manifest::without_source(value)];
        let found: Vec<_> = workloads(&manifests).collect();
        assert_eq!(found.len(), 1);
        let names: Vec<_> = found[0].containers().map(|c| c.describe()).collect();
        assert_eq!(names, ["container `app`", "init container `init`"]);
    }

    #[rstest]
    #[case::test("test")]
    #[case::helm2("test-success")]
    #[case::among_others("pre-install, test")]
    fn helm_test_hooks_are_left_out(#[case] hook: &str) {
        let manifests = [Manifest::without_source(json!({
            "kind": "Pod",
            "metadata": {"name": "t", "annotations": {"helm.sh/hook": hook}},
            "spec": pod_spec(),
        }))];
        assert_eq!(workloads(&manifests).count(), 0);
    }

    #[test]
    fn other_hooks_and_kinds_are_kept_or_ignored_as_such() {
        let manifests = [
            Manifest::without_source(
                json!({"kind": "Job", "metadata": {"annotations": {"helm.sh/hook": "pre-install"}}, "spec": {"template": {"spec": pod_spec()}}}),
            ),
            Manifest::without_source(json!({"kind": "ConfigMap", "data": {}})),
        ];
        assert_eq!(workloads(&manifests).count(), 1);
    }
}
