//! The integration suite on a real local control plane: every broken integration
//! fixture is caught in the phase it targets, with its message pinned, and diagnostics
//! are collected for failures only.

mod testing;

use std::collections::BTreeSet;

use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome};
use testing::{TempRepo, redact_after};

/// Fixture, the phase it fails, and whether diagnostics are collected: they are for a
/// failure while the release is installed; leftovers are only found after uninstall,
/// when there is nothing left to diagnose.
/// failing-helm-test is not here: on kwok no command runs and its hook passes; it fails
/// for real on kind (kind_cluster.rs).
const BROKEN: [(&str, &str, bool); 6] = [
    (
        "never-ready",
        "ready:Deployment/never-ready-never-ready",
        true,
    ),
    (
        "slow-to-ready",
        "ready:Deployment/slow-to-ready-slow-to-ready",
        true,
    ),
    ("leftover-cluster-object", "leftovers", false),
    ("missing-crd", "dry-run", true),
    ("removed-api", "dry-run", true),
    ("rejected-by-api", "dry-run", true),
];

/// The failed phases and their problems, with the random part of the trial's namespace
/// replaced so the text is stable. Diagnostics are context, never a failed phase.
fn pinned(outcome: &TrialOutcome) -> (BTreeSet<String>, String) {
    let mut failed = BTreeSet::new();
    let mut text = String::new();
    for phase in outcome.failed_phases() {
        failed.insert(phase.name.clone());
        for problem in &phase.problems {
            text.push_str(&format!("[{}] {problem}\n", phase.name));
        }
    }
    let namespace_prefix = format!("{}-{}-", outcome.id.chart, outcome.id.case);
    // helm's status lines carry the time of the run.
    let text: String = text
        .lines()
        .filter(|line| {
            !["LAST DEPLOYED:", "Last Started:", "Last Completed:"]
                .iter()
                .any(|p| line.starts_with(p))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    (failed, redact_after(&text, &namespace_prefix, 5))
}

#[test]
fn broken_integration_fixtures_are_caught_with_diagnostics() {
    let repo = TempRepo::new();
    for (name, _, _) in BROKEN {
        repo.add_chart("broken", name);
    }
    let outcomes = repo.run_with_jobs(&[Suite::Integration], BROKEN.len());
    assert_eq!(outcomes.len(), BROKEN.len());
    for (name, phase, diagnosed) in BROKEN {
        let outcome = outcomes.iter().find(|o| o.id.chart == name).unwrap();
        let (failed, text) = pinned(outcome);
        assert_eq!(
            failed,
            BTreeSet::from([phase.to_string()]),
            "{}",
            outcome.failure_message()
        );
        let diagnostics = outcome.phases.iter().find(|p| p.name == "diagnostics");
        assert_eq!(
            diagnostics.is_some_and(|p| p.status == PhaseStatus::Context && !p.problems.is_empty()),
            diagnosed,
            "diagnostics of {name}: {}",
            outcome.failure_message()
        );
        // Cleanup ran although the trial failed.
        assert!(
            outcome
                .phases
                .iter()
                .any(|p| p.name == "namespace-delete" && p.status == PhaseStatus::Passed),
            "{name}: its namespace was not deleted"
        );
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn passing_trials_collect_no_diagnostics() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let outcomes = repo.run_with_jobs(&[Suite::Integration], 3);
    assert_eq!(outcomes.len(), 3);
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
        let names: Vec<&str> = outcome.phases.iter().map(|p| p.name.as_str()).collect();
        assert!(!names.contains(&"diagnostics"), "{names:?}");
        for expected in [
            "namespace",
            "dry-run",
            "install",
            "helm-test",
            "uninstall",
            "namespace-delete",
            "leftovers",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(
            names.iter().any(|n| n.starts_with("ready:Deployment/")),
            "{names:?}"
        );
    }
}

#[test]
fn charts_claiming_the_same_cluster_scoped_name_install_one_at_a_time() {
    let repo = TempRepo::new();
    // Two charts that both render the ClusterRole `shared-reader`.
    for name in ["reader-a", "reader-b"] {
        let chart = repo.root().join("fixtures/charts").join(name);
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(
            chart.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: 1.0.0\ndescription: claims a fixed name\n"
            ),
        )
        .unwrap();
        std::fs::write(
            chart.join("templates/clusterrole.yaml"),
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: shared-reader\nrules:\n  - apiGroups: [\"\"]\n    resources: [pods]\n    verbs: [get]\n",
        )
        .unwrap();
    }
    let outcomes = repo.run_with_jobs(&[Suite::Integration], 2);
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
    }
    let waited = outcomes
        .iter()
        .filter(|o| o.phases.iter().any(|p| p.name == "wait-for-claims"))
        .count();
    assert_eq!(waited, 1, "exactly one of the two waited for the other");
}
