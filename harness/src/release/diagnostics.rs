//! What a failed trial reports about its namespace: events in time order, each pod's
//! state, container logs, and helm's view of the release. Collected only on failure
//! (passing runs stay quiet and fast) and bounded, so a crash-looping chart cannot
//! flood the report.

use k8s_openapi::api::core::v1::{ContainerState, Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, LogParams};

use super::{ReleaseUnderTest, Timed, bounded, timed};
use crate::k8s;
use crate::problem::Problem;

/// What the output says instead of logs on the local control plane.
pub const SIMULATED_LOGS: &str = "container logs are unavailable: pods are simulated on the local control plane (kwok), no container ran; the pod states above are what kwok reported";

/// What the `helm-test` phase says on the local control plane, where kwok marks test
/// hook pods completed without running their commands.
pub const SIMULATED_TEST_HOOKS: &str = "the test hooks' commands did not run: pods are simulated on the local control plane (kwok), which marks test hook pods completed; helm test proved only that the hooks are valid and schedulable (use --cluster kind to run them)";

const MAX_EVENTS: usize = 60;
/// Most bytes of one section (events, pods, logs, helm's view) in the report.
pub(crate) const MAX_SECTION: usize = 8000;
const MAX_LOG: i64 = 4000;
const LOG_TAIL_LINES: i64 = 50;

impl ReleaseUnderTest<'_> {
    /// Events, pod states, logs (or why there are none) and, when an install was
    /// attempted, helm's status and history: one problem per section.
    pub async fn diagnose(&self, install_attempted: bool) -> Timed<Vec<Problem>> {
        timed(async {
            let mut sections = vec![events(self).await, pods(self).await];
            if self.pods_simulated() {
                sections.push(SIMULATED_LOGS.to_string());
            } else {
                sections.push(logs(self, |_| true).await);
            }
            if install_attempted {
                sections.push(helm_view(self).await);
            }
            sections
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| Problem::new(bounded(&s, MAX_SECTION)))
                .collect()
        })
        .await
    }
}

async fn events(release: &ReleaseUnderTest<'_>) -> String {
    let api: Api<Event> = Api::namespaced(release.kube.client(), &release.namespace);
    let list = match k8s::request("list events", api.list(&ListParams::default())).await {
        Ok(list) => list.items,
        Err(error) => return format!("events of namespace {}: {error}", release.namespace),
    };
    let mut events: Vec<(Option<Timestamp>, String)> = list
        .into_iter()
        .map(|event| {
            let at = event
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or(event.event_time.as_ref().map(|t| t.0))
                .or(event.first_timestamp.as_ref().map(|t| t.0))
                .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0));
            let object = &event.involved_object;
            let line = format!(
                "{} {} {} {}/{}: {}{}",
                at.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                event.type_.as_deref().unwrap_or("-"),
                event.reason.as_deref().unwrap_or("-"),
                object.kind.as_deref().unwrap_or("-"),
                object.name.as_deref().unwrap_or("-"),
                event.message.as_deref().unwrap_or("").trim(),
                event
                    .count
                    .filter(|c| *c > 1)
                    .map(|c| format!(" (x{c})"))
                    .unwrap_or_default()
            );
            (at, line)
        })
        .collect();
    events.sort();
    let skipped = events.len().saturating_sub(MAX_EVENTS);
    let mut out = format!("events of namespace {}, oldest first:", release.namespace);
    if skipped > 0 {
        out.push_str(&format!("\n  ({skipped} older events left out)"));
    }
    for (_, line) in events.into_iter().skip(skipped) {
        out.push_str("\n  ");
        out.push_str(&line);
    }
    out
}

async fn list_pods(release: &ReleaseUnderTest<'_>) -> Result<Vec<Pod>, k8s::KubeError> {
    let api: Api<Pod> = Api::namespaced(release.kube.client(), &release.namespace);
    Ok(k8s::request("list pods", api.list(&ListParams::default()))
        .await?
        .items)
}

async fn pods(release: &ReleaseUnderTest<'_>) -> String {
    let pods = match list_pods(release).await {
        Ok(pods) => pods,
        Err(error) => return format!("pods: {error}"),
    };
    if pods.is_empty() {
        return format!("namespace {} has no pods", release.namespace);
    }
    let mut out = String::from("pods:");
    for pod in pods {
        out.push_str(&describe_pod(&pod));
    }
    out
}

/// Phase, conditions and container states (with the last termination) of one pod.
fn describe_pod(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or("-");
    let Some(status) = &pod.status else {
        return format!("\n  {name}: no status yet");
    };
    let mut out = format!(
        "\n  {name}: phase {}{}",
        status.phase.as_deref().unwrap_or("unknown"),
        status
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    for condition in status.conditions.iter().flatten() {
        out.push_str(&format!("\n    {}={}", condition.type_, condition.status));
        if let Some(reason) = &condition.reason {
            out.push_str(&format!(" {reason}"));
        }
        if let Some(message) = &condition.message {
            out.push_str(&format!(": {}", message.trim()));
        }
    }
    for container in k8s::readiness::container_statuses(status) {
        out.push_str(&format!(
            "\n    container {}: {}, ready {}, restarts {}",
            container.name,
            state_text(container.state.as_ref()),
            container.ready,
            container.restart_count
        ));
        if container
            .last_state
            .as_ref()
            .is_some_and(|s| s.terminated.is_some())
        {
            out.push_str(&format!(
                "\n      last termination: {}",
                state_text(container.last_state.as_ref())
            ));
        }
    }
    out
}

fn state_text(state: Option<&ContainerState>) -> String {
    let Some(state) = state else {
        return "no state".into();
    };
    if let Some(waiting) = &state.waiting {
        format!(
            "waiting ({}{})",
            waiting.reason.as_deref().unwrap_or("no reason"),
            waiting
                .message
                .as_deref()
                .map(|m| format!(": {}", m.trim()))
                .unwrap_or_default()
        )
    } else if let Some(terminated) = &state.terminated {
        format!(
            "terminated ({}, exit code {}{})",
            terminated.reason.as_deref().unwrap_or("no reason"),
            terminated.exit_code,
            terminated
                .message
                .as_deref()
                .map(|m| format!(": {}", m.trim()))
                .unwrap_or_default()
        )
    } else if state.running.is_some() {
        "running".into()
    } else {
        "no state".into()
    }
}

/// Current and previous logs of every container of the pods `wanted` selects by name.
pub(crate) async fn logs(release: &ReleaseUnderTest<'_>, wanted: impl Fn(&str) -> bool) -> String {
    let pods = match list_pods(release).await {
        Ok(pods) => pods,
        Err(error) => return format!("logs: {error}"),
    };
    let api: Api<Pod> = Api::namespaced(release.kube.client(), &release.namespace);
    let mut out = String::new();
    for pod in pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        if !wanted(&pod_name) {
            continue;
        }
        let containers = container_names(&pod);
        for container in containers {
            for previous in [false, true] {
                let params = LogParams {
                    container: Some(container.clone()),
                    previous,
                    limit_bytes: Some(MAX_LOG),
                    tail_lines: Some(LOG_TAIL_LINES),
                    ..LogParams::default()
                };
                let which = if previous { "previous" } else { "current" };
                match k8s::request("read logs", api.logs(&pod_name, &params)).await {
                    Ok(text) if !text.trim().is_empty() => out.push_str(&format!(
                        "\nlogs of {pod_name}/{} ({which}):\n{}",
                        container,
                        text.trim_end()
                    )),
                    Ok(_) => {}
                    // No previous container is the common case; only say so for current logs.
                    Err(error) if !previous => out.push_str(&format!(
                        "\nlogs of {pod_name}/{container} unavailable: {error}"
                    )),
                    Err(_) => {}
                }
            }
        }
    }
    out.trim_start().to_string()
}

async fn helm_view(release: &ReleaseUnderTest<'_>) -> String {
    let target = release.target(&release.name);
    let helm = release.helm;
    let mut out = String::new();
    for (what, outcome) in [
        (
            "helm status",
            helm.status(&target, k8s::REQUEST_TIMEOUT).await,
        ),
        (
            "helm history",
            helm.history(&target, k8s::REQUEST_TIMEOUT).await,
        ),
    ] {
        let text = match outcome {
            Ok(output) if what == "helm status" && output.success() => {
                status_without_notes(&output.stdout)
            }
            Ok(output) => format!("{}{}", output.stdout.trim(), output.stderr.trim()),
            Err(error) => error.to_string(),
        };
        out.push_str(&format!("{what}:\n{}\n", text.trim()));
    }
    out.trim_end().to_string()
}

/// `helm status -o json` as the lines `helm status` prints, without the chart's NOTES:
/// they are rendered from values and often echo a password.
fn status_without_notes(json: &str) -> String {
    let Ok(status) = serde_json::from_str::<serde_json::Value>(json) else {
        return "helm status printed no readable JSON".to_string();
    };
    let text = |pointer: &str| {
        status
            .pointer(pointer)
            .map(|value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "-".to_string())
    };
    format!(
        "NAME: {}\nNAMESPACE: {}\nREVISION: {}\nSTATUS: {}\nLAST DEPLOYED: {}\nDESCRIPTION: {}\n(NOTES left out: they may hold secrets)",
        text("/name"),
        text("/namespace"),
        text("/version"),
        text("/info/status"),
        text("/info/last_deployed"),
        text("/info/description"),
    )
}

/// Init containers first, then the others: the order they run in.
fn container_names(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| c.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_the_release_but_never_its_notes() {
        let json = r#"{"name":"web","namespace":"web-default-ab12c","version":2,
            "info":{"status":"failed","last_deployed":"2026-11-26T10:00:00Z",
            "description":"Upgrade \"web\" failed: timed out",
            "notes":"Log in with admin / S3cr3t-Canary-123"}}"#;
        let shown = status_without_notes(json);
        assert!(
            shown.contains("NAME: web\nNAMESPACE: web-default-ab12c\nREVISION: 2\nSTATUS: failed"),
            "{shown}"
        );
        assert!(
            shown.contains("Upgrade \"web\" failed: timed out"),
            "{shown}"
        );
        assert!(!shown.contains("S3cr3t"), "{shown}");
        assert!(shown.contains("NOTES left out"), "{shown}");
    }
    use k8s_openapi::api::core::v1::{
        ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn a_pod_is_described_by_phase_conditions_and_container_states() {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "False".into(),
                    reason: Some("ContainersNotReady".into()),
                    message: Some("containers with unready status: [c]".into()),
                    ..PodCondition::default()
                }]),
                container_statuses: Some(vec![ContainerStatus {
                    name: "c".into(),
                    restart_count: 3,
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("CrashLoopBackOff".into()),
                            ..ContainerStateWaiting::default()
                        }),
                        ..ContainerState::default()
                    }),
                    last_state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: 1,
                            reason: Some("Error".into()),
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert_eq!(
            describe_pod(&pod),
            "\n  web-1: phase Running\n    Ready=False ContainersNotReady: containers with unready status: [c]\n    container c: waiting (CrashLoopBackOff), ready false, restarts 3\n      last termination: terminated (Error, exit code 1)"
        );
    }

    #[test]
    fn a_pod_without_status_says_so() {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        };
        assert_eq!(describe_pod(&pod), "\n  web-1: no status yet");
    }
}
