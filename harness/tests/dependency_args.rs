//! ct's `helm-dependency-extra-args` reach `helm dependency build`: proven by what helm
//! says about them, with the real helm.

mod testing;

use chart_harness::plan::Suite;
use chart_harness::suites::PhaseStatus;
use testing::TempRepo;

#[test]
fn helm_dependency_extra_args_are_given_to_helm_dependency_build() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "common-lib");
    repo.add_chart("charts", "api");
    repo.write_config(
        "check-version-increment: false\nhelm-dependency-extra-args: [\"--no-such-flag\"]\n",
    );
    let refused = repo.run(&[Suite::Template]);
    let api: Vec<_> = refused.iter().filter(|o| o.id.chart == "api").collect();
    assert_eq!(api.len(), 3, "one trial per case");
    for outcome in &api {
        let build = outcome
            .phases
            .iter()
            .find(|p| p.name == "dependency-build")
            .unwrap_or_else(|| panic!("{}: no dependency-build", outcome.id));
        assert_eq!(build.status, PhaseStatus::Failed, "{}", outcome.id);
        assert!(
            build.problems[0]
                .message
                .contains("unknown flag: --no-such-flag"),
            "{}",
            build.problems[0].message
        );
    }

    // A flag helm knows passes, and the failed build left nothing cached.
    repo.write_config(
        "check-version-increment: false\nhelm-dependency-extra-args: [\"--skip-refresh\"]\n",
    );
    let passed = repo.run(&[Suite::Template]);
    let api: Vec<_> = passed.iter().filter(|o| o.id.chart == "api").collect();
    assert_eq!(api.len(), 3);
    for outcome in api {
        assert!(outcome.passed(), "{}", outcome.failure_message());
    }
}
