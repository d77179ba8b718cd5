//! The policy suite: security and reliability rules over the rendered manifests of every
//! chart × case. It renders nothing itself when the template suite ran in the same run:
//! both go through the run's [`RenderCache`](super::render::RenderCache), which the run
//! keeps when both are planned.
//!
//! Rules are pure functions over `&[Manifest]` ([`CHECKS`]), each module one topic; the
//! suite places their findings in the trial, applies the config's suppressions and the
//! gate (`policy: fail-on`), and keeps every finding on the outcome for the JSON and
//! SARIF reports.

mod apis;
mod availability;
pub mod finding;
mod images;
mod probes;
mod rbac;
mod resources;
pub mod rules;
mod security;
mod workloads;

use std::path::Path;
use std::time::Duration;

pub use finding::{Finding, SKIP_ANNOTATION};

use super::render::{self, RenderTarget};
use super::{PhaseRecorder, SuiteContext, TrialInputs};
use crate::config::PolicyConfig;
use crate::manifest::Manifest;
use crate::plan::Trial;
use crate::problem::Problem;

/// A rule module's check: every finding of its rules over one rendered case.
type Check = fn(&[Manifest]) -> Vec<Finding>;

/// Every check over the manifests alone, in the order its findings are reported; the
/// API rules ([`apis`]) also need the target versions and the lifecycle data, so `run`
/// adds theirs.
const CHECKS: &[Check] = &[
    images::check,
    resources::check,
    probes::check,
    security::check,
    rbac::check,
    availability::check,
];

/// Every rule's findings over one rendered case, unplaced and unsuppressed by config.
pub fn check(manifests: &[Manifest]) -> Vec<Finding> {
    CHECKS.iter().flat_map(|check| check(manifests)).collect()
}

/// Not run, with the reason, when the API lifecycle data is missing.
pub const APIS_PHASE: &str = "policy-apis";
/// The phase holding the findings at or above the gate.
pub const POLICY_PHASE: &str = "policy";
/// The context phase holding the findings below the gate: shown, never failing.
pub const BELOW_GATE_PHASE: &str = "policy-below-gate";

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    // The template suite's first render of this case, so the cache can hand it over.
    let target = RenderTarget {
        namespace: super::template::RENDER_NAMESPACE,
        kube_version: inputs.primary_kube_version(),
        extra_args: &[],
        timeout: inputs.timeout,
    };
    let started = recorder.begin("render");
    let rendered = match render::render_shared(ctx, trial, inputs, &target).await {
        Ok(rendered) => rendered,
        Err(problem) => {
            recorder.record("render", started.elapsed(), vec![problem]);
            recorder.not_run(POLICY_PHASE, "the chart did not render; fix that first");
            return;
        }
    };
    // A document that is not YAML is one policy cannot check.
    recorder.record("render", started.elapsed(), rendered.problems.clone());

    let started = recorder.begin(POLICY_PHASE);
    let mut findings = check(&rendered.manifests);
    match crate::deprecations::Deprecations::installed_once(&ctx.repo_root) {
        Ok(lifecycle) => {
            let targets: Vec<semver::Version> = inputs
                .kube_versions
                .iter()
                .filter_map(|version| crate::kube_version::parse_version(version).ok())
                .collect();
            findings.extend(apis::check(&rendered.manifests, lifecycle, &targets));
        }
        // The other rules still run; this one says why it did not.
        Err(reason) => recorder.not_run(APIS_PHASE, &reason),
    }
    let judged = judge(
        &mut findings,
        &trial.chart.name,
        &trial.id.case,
        &trial.chart.rel_dir,
        &ctx.config.policy,
    );
    recorder.record(POLICY_PHASE, started.elapsed(), judged.failing);
    if !judged.below_gate.is_empty() {
        recorder.context(BELOW_GATE_PHASE, Duration::ZERO, judged.below_gate);
    }
    recorder.add_findings(findings);
}

/// Findings as problems: those that fail the trial and those shown as context.
#[derive(Debug, Default, PartialEq)]
struct Judged {
    failing: Vec<Problem>,
    below_gate: Vec<Problem>,
}

/// Places every finding in its trial, marks those a config entry accepts, and splits the
/// rest by the gate.
fn judge(
    findings: &mut [Finding],
    chart: &str,
    case: &str,
    chart_rel_dir: &Path,
    policy: &PolicyConfig,
) -> Judged {
    let mut judged = Judged::default();
    for finding in findings.iter_mut() {
        finding.place(chart, case, chart_rel_dir);
        if finding.suppressed_by.is_none() {
            finding.suppressed_by = policy
                .suppress
                .iter()
                .find(|entry| entry.matches(&finding.rule, chart, &finding.object))
                .map(|entry| format!("config: {}", entry.describe()));
        }
        if finding.suppressed_by.is_some() {
            continue;
        }
        let problem = problem(finding);
        if policy.fail_on.is_some_and(|gate| finding.severity >= gate) {
            judged.failing.push(problem);
        } else {
            judged.below_gate.push(problem);
        }
    }
    judged
}

/// `<file>: <object>: <message> [<rule>, <severity>; chart <c>, case <k>]; fix: ...`
fn problem(finding: &Finding) -> Problem {
    let (fix, doc) = rules::find(&finding.rule)
        .map(|rule| (rule.fix, rule.doc_anchor()))
        .unwrap_or_default();
    Problem::in_file(
        &finding.file,
        format!(
            "{}: {} [{}, {}; chart {}, case {}]; fix: {fix}; see {doc}",
            finding.object,
            finding.message,
            finding.rule,
            finding.severity,
            finding.chart,
            finding.case
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{Severity, Suppression};

    fn privileged_root_pod() -> Vec<Finding> {
        let manifests = [Manifest {
            source: Some("templates/pod.yaml".into()),
            value: json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{
                "name": "a", "image": "app:1.0@sha256:00", "resources": {
                    "requests": {"cpu": "1m", "memory": "1Mi"}, "limits": {"cpu": "1m", "memory": "1Mi"}},
                "readinessProbe": {"exec": {"command": ["ready"]}},
                "livenessProbe": {"exec": {"command": ["live"]}},
                "securityContext": {"privileged": true, "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
            }]}}),
        }];
        check(&manifests)
    }

    fn suppression(rule: &str) -> Suppression {
        Suppression {
            rule: Some(rule.to_string()),
            chart: None,
            object: None,
            reason: "accepted".to_string(),
        }
    }

    #[test]
    fn the_gate_splits_findings_and_suppressed_ones_are_not_counted() {
        let mut findings = privileged_root_pod();
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["privileged", "run-as-non-root", "network-policy-missing"]
        );
        let policy = PolicyConfig {
            fail_on: Some(Severity::Warning),
            suppress: vec![suppression("network-policy-missing")],
        };
        let judged = judge(
            &mut findings,
            "web",
            "default",
            Path::new("charts/web"),
            &policy,
        );
        assert_eq!(judged.failing.len(), 2);
        assert!(judged.below_gate.is_empty());
        assert_eq!(
            judged.failing[0].to_string(),
            "charts/web/templates/pod.yaml: Pod/p: container `a` sets `privileged: true`: it has every capability and every device of the node [privileged, error; chart web, case default]; fix: remove `securityContext.privileged: true`; add the one capability it needs instead; see docs/policy.md#privileged"
        );
        assert_eq!(
            findings[2].suppressed_by.as_deref(),
            Some("config: rule: network-policy-missing")
        );
        assert_eq!(findings[2].object, "Chart/web");
        assert_eq!(findings[2].file, Path::new("charts/web/Chart.yaml"));
    }

    #[test]
    fn findings_below_the_gate_are_context_and_never_fails_none() {
        let mut findings = privileged_root_pod();
        let judged = judge(
            &mut findings,
            "web",
            "default",
            Path::new("web"),
            &PolicyConfig::default(),
        );
        assert_eq!(judged.failing.len(), 1);
        assert_eq!(judged.below_gate.len(), 2);
        let never = PolicyConfig {
            fail_on: None,
            suppress: Vec::new(),
        };
        let judged = judge(
            &mut privileged_root_pod(),
            "web",
            "default",
            Path::new("web"),
            &never,
        );
        assert!(judged.failing.is_empty());
        assert_eq!(judged.below_gate.len(), 3);
    }
}
