//! The integration suite on a real kind cluster, where containers run: each broken
//! fixture whose failure needs a real container is caught in the phase it targets, fast,
//! with the reason the kubelet or the test's own output gives, and the good web chart
//! passes with real readiness probes and a real `helm test`.
//!
//! These need a Docker engine and a kind node image (`CHART_HARNESS_KIND_NODE_IMAGE`), so
//! they are ignored by a plain `cargo test`; ci/test.sh runs them with `--ignored` after
//! starting the engine and building the image (README, "Tests on kind"). They fail, never
//! pass, when either is missing.

mod testing;

use std::collections::BTreeSet;
use std::time::Duration;

use chart_harness::cluster::ProviderKind;
use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome};
use testing::TempRepo;

/// Fixture, and the phase it fails.
const BROKEN_ON_KIND: [(&str, &str); 6] = [
    ("crash-loop", "ready:Deployment/crash-loop-crash-loop"),
    (
        "missing-config-key",
        "ready:Deployment/missing-config-key-missing-config-key",
    ),
    (
        "image-never-pulled",
        "ready:Deployment/image-never-pulled-image-never-pulled",
    ),
    ("failing-job", "ready:Job/failing-job-failing-job"),
    ("never-ready", "ready:Deployment/never-ready-never-ready"),
    ("failing-helm-test", "helm-test"),
];

/// How long a fail-fast rule may take on kind, with room for a busy machine: the slowest
/// is CrashLoopBackOff, which needs three restarts and the kubelet's back-off between them.
const FAIL_FAST_BOUND: Duration = Duration::from_secs(100);

fn require_kind() {
    assert!(
        std::env::var("CHART_HARNESS_KIND_NODE_IMAGE").is_ok_and(|image| !image.is_empty()),
        "CHART_HARNESS_KIND_NODE_IMAGE is not set: start Docker (`ci/docker-engine.sh start`), \
         build the node image (`ci/kind-node/build.sh` prints its name) and the fixture \
         images (`ci/fixture-images.sh`), then run these tests again (README, \"Tests on kind\")"
    );
}

fn repo_with_fixture_images() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\n\
         images:\n  - chart-harness.local/fixture-web:1\n  - chart-harness.local/fixture-busybox:1\n",
    );
    repo
}

/// The failed phases' problems, with the parts that differ between runs (the trial's
/// namespace, generated object names, uids, the kubelet's current back-off) replaced.
fn pinned(outcome: &TrialOutcome) -> String {
    let mut text = String::new();
    for phase in outcome.failed_phases() {
        for problem in &phase.problems {
            text.push_str(&format!("[{}] {problem}\n", phase.name));
        }
    }
    let chart = &outcome.id.chart;
    text.lines()
        // helm's status lines carry the time of the run.
        .filter(|line| {
            !["LAST DEPLOYED:", "Last Started:", "Last Completed:"]
                .iter()
                .any(|p| line.starts_with(p))
        })
        .map(|line| {
            let line = redact_after(line, &format!("{chart}-{}-", outcome.id.case), 5);
            let line = redact_after(&line, &format!("{chart}-{chart}-"), usize::MAX);
            let line = redact_after(&line, "back-off ", usize::MAX);
            // The pod's uid follows its (redacted) namespace in the kubelet's messages.
            format!("{}\n", redact_after(&line, "[id](", usize::MAX))
        })
        .collect()
}

/// Replaces at most `limit` characters of `[a-z0-9-]` after each `prefix` with `[id]`.
fn redact_after(text: &str, prefix: &str, limit: usize) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        let generated = rest[after..]
            .chars()
            .take(limit)
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .count();
        if generated > 0 {
            out.push_str("[id]");
        }
        rest = &rest[after + generated..];
    }
    out.push_str(rest);
    out
}

#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn pods_that_can_never_become_ready_fail_fast_on_kind_with_their_reason() {
    require_kind();
    let repo = repo_with_fixture_images();
    for (name, _) in BROKEN_ON_KIND {
        repo.add_chart("broken", name);
    }
    let outcomes = repo.run_on(
        ProviderKind::Kind,
        &[Suite::Integration],
        BROKEN_ON_KIND.len(),
    );
    assert_eq!(outcomes.len(), BROKEN_ON_KIND.len());
    let mut report = String::new();
    for (name, phase) in BROKEN_ON_KIND {
        let outcome = outcomes.iter().find(|o| o.id.chart == name).unwrap();
        let failed: BTreeSet<String> = outcome
            .failed_phases()
            .map(|phase| phase.name.clone())
            .collect();
        assert_eq!(
            failed,
            BTreeSet::from([phase.to_string()]),
            "{}",
            outcome.failure_message()
        );
        let failed_phase = outcome.phases.iter().find(|p| p.name == phase).unwrap();
        report.push_str(&format!(
            "{name}: failed {phase} in {:.1} s\n",
            failed_phase.duration.as_secs_f64()
        ));
        if phase.starts_with("ready:") {
            assert!(
                failed_phase.duration < FAIL_FAST_BOUND,
                "{name} took {:?} to fail: {}",
                failed_phase.duration,
                outcome.failure_message()
            );
        }
        // Diagnostics come from the real cluster: events and container logs.
        assert!(
            outcome
                .phases
                .iter()
                .any(|p| p.name == "diagnostics" && p.status == PhaseStatus::Context),
            "{name}: no diagnostics: {}",
            outcome.failure_message()
        );
        insta::assert_snapshot!(format!("kind-{name}"), pinned(outcome));
    }
    // The time each fixture took to fail, for the closing note's figures.
    eprintln!("{report}");
    let failing_test = outcomes
        .iter()
        .find(|o| o.id.chart == "failing-helm-test")
        .unwrap();
    assert!(
        failing_test
            .failure_message()
            .contains("expected greeting not found"),
        "the failing test's own output is not in its report: {}",
        failing_test.failure_message()
    );
}

#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn a_good_chart_really_runs_on_kind() {
    require_kind();
    let repo = repo_with_fixture_images();
    repo.add_chart("charts", "web");
    let outcomes = repo.run_on(ProviderKind::Kind, &[Suite::Integration], 3);
    assert!(!outcomes.is_empty());
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
        let names: Vec<&str> = outcome.phases.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"helm-test"), "{names:?}");
    }
}
