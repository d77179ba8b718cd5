//! A chart's inline `values` are written to a temporary file once per trial, before any
//! suite runs; when that fails, every suite reports it the same way, once.
//!
//! Its own test binary: it points TMPDIR somewhere unwritable for the whole process.

mod testing;

use chart_harness::plan::Suite;
use chart_harness::suites::{INPUTS_PHASE, PhaseStatus};
use testing::TempRepo;

#[test]
fn unwritable_values_file_fails_each_trial_once_in_its_values_phase() {
    let repo = TempRepo::new();
    let chart = repo.add_chart("charts", "web");
    std::fs::write(
        chart.join("ci/harness.yaml"),
        "values:\n  replicaCount: 2\n",
    )
    .unwrap();
    // SAFETY: this test binary runs this one test, and no other thread reads the
    // environment yet.
    unsafe { std::env::set_var("TMPDIR", repo.root().join("no-such-dir")) };

    let outcomes = repo.run(&[Suite::Lint, Suite::Template]);

    assert!(!outcomes.is_empty());
    for outcome in &outcomes {
        let failed: Vec<(&str, Vec<String>)> = outcome
            .phases
            .iter()
            .filter(|phase| phase.status == PhaseStatus::Failed)
            .map(|phase| {
                let problems = phase.problems.iter().map(ToString::to_string).collect();
                (phase.name.as_str(), problems)
            })
            .collect();
        assert_eq!(failed.len(), 1, "{}: {failed:#?}", outcome.id);
        let (phase, problems) = &failed[0];
        assert_eq!(*phase, INPUTS_PHASE, "{}", outcome.id);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "fixtures/charts/web/ci/harness.yaml: cannot write its inline `values` to a temporary file for helm"
            ) && problems[0].contains("TMPDIR"),
            "{}",
            problems[0]
        );
        // Nothing ran after it.
        assert_eq!(
            outcome.phases.len(),
            1,
            "{}: {:#?}",
            outcome.id,
            outcome.phases
        );
    }
}
