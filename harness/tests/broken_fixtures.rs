//! Every check the harness makes is proven by a broken fixture: each chart in
//! `fixtures/broken/` fails exactly the phases it targets, with its message pinned.

mod testing;

use std::collections::BTreeSet;

use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome};
use rstest::rstest;
use testing::TempRepo;

/// The suites that need no cluster.
const STATIC_SUITES: &[Suite] = &[Suite::Lint, Suite::Template];

/// Failed `suite/phase` pairs and the failure messages, for the snapshot.
fn summarize(outcomes: &[TrialOutcome]) -> (BTreeSet<String>, String) {
    let mut failed = BTreeSet::new();
    let mut messages = String::new();
    for outcome in outcomes {
        for phase in &outcome.phases {
            if phase.status == PhaseStatus::Failed {
                failed.insert(format!("{}/{}", outcome.id.suite, phase.name));
            }
        }
        if !outcome.passed() {
            messages.push_str(&outcome.failure_message());
        }
    }
    (failed, messages)
}

#[rstest]
// helm refuses to load malformed values too, so the render fails with the same cause.
#[case::invalid_yaml("invalid-yaml", &["lint/yaml", "template/render"])]
#[case::duplicate_key("duplicate-key", &["lint/yaml"])]
// ct's default lintconf, which the harness uses when the repository has none.
#[case::trailing_spaces("trailing-spaces", &["lint/yamllint"])]
// helm validates values against the schema before it renders.
#[case::schema_violation("schema-violation", &["lint/values-schema", "template/render"])]
// `helm lint` only logs a failed `required`; the render catches it.
#[case::template_error("template-error", &["template/render"])]
// helm's warnings come first on its stderr; the problem starts with the error.
#[case::warnings_before_error("warnings-before-error", &["template/render"])]
#[case::duplicate_resource("duplicate-resource", &["template/manifests"])]
#[case::missing_name("missing-name", &["template/manifests"])]
#[case::name_mismatch("name-mismatch", &["lint/chart-yaml"])]
#[case::missing_required_field("missing-required-field", &["lint/chart-yaml"])]
// helm cannot match an unparsable constraint, so it refuses to render as well.
#[case::bad_kube_version("bad-kube-version", &["lint/chart-yaml", "template/render"])]
#[case::lock_mismatch("lock-mismatch", &["lint/dependencies"])]
#[case::stale_snapshot("stale-snapshot", &["template/snapshot"])]
#[case::bad_settings("bad-settings", &["lint/chart-settings", "template/chart-settings"])]
#[case::unfetchable_dependency("unfetchable-dependency", &["lint/dependency-build", "template/dependency-build"])]
fn broken_fixture_is_caught(#[case] name: &str, #[case] expected: &[&str]) {
    let repo = TempRepo::new();
    repo.add_chart("broken", name);
    let (failed, messages) = summarize(&repo.run(STATIC_SUITES));
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(failed, expected, "{messages}");
    insta::assert_snapshot!(name, messages);
}

/// ct runs `helm lint` without `--strict`, so a deprecated API is a warning shown with a
/// passing lint; with `--strict` in `helm-lint-extra-args`, as ct users ask for it, the
/// warning fails the chart.
#[test]
fn deprecated_api_fails_helm_lint_only_under_strict() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "deprecated-api");
    let outcomes = repo.run(STATIC_SUITES);
    let (failed, messages) = summarize(&outcomes);
    assert!(failed.is_empty(), "{messages}");
    let warned = outcomes.iter().any(|outcome| {
        outcome.phases.iter().any(|phase| {
            phase.name == "helm-lint"
                && phase
                    .problems
                    .iter()
                    .any(|p| p.message.contains("deprecated"))
        })
    });
    assert!(warned, "the deprecation warning is still reported");

    repo.write_config("check-version-increment: false\nhelm-lint-extra-args: --strict\n");
    let (failed, messages) = summarize(&repo.run(STATIC_SUITES));
    assert_eq!(
        failed,
        BTreeSet::from(["lint/helm-lint".to_string()]),
        "{messages}"
    );
    insta::assert_snapshot!("deprecated-api", messages);
}

#[test]
fn failing_additional_command_is_caught() {
    let repo = TempRepo::new();
    // As repositories that run helm-unittest from ct's additional-commands do.
    repo.write_config(
        "check-version-increment: false\nadditional-commands:\n  - test -d {{ .Path }}/tests || { echo \"no helm-unittest suites in {{ .Path }}/tests\" >&2; exit 1; }\n",
    );
    repo.add_chart("broken", "missing-unit-tests");
    let (failed, messages) = summarize(&repo.run(STATIC_SUITES));
    assert_eq!(
        failed,
        BTreeSet::from(["lint/additional-commands".to_string()]),
        "{messages}"
    );
    insta::assert_snapshot!("missing-unit-tests", messages);
}

#[test]
fn unreachable_chart_repo_is_named() {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\nchart-repos:\n  - example=https://charts.example.invalid\n",
    );
    repo.add_chart("broken", "unfetchable-dependency");
    let (failed, messages) = summarize(&repo.run(&[Suite::Lint]));
    assert_eq!(
        failed,
        BTreeSet::from(["lint/dependency-build".to_string()]),
        "{messages}"
    );
    assert!(
        messages.contains("cannot add chart repository `example` (https://charts.example.invalid) from `chart-repos`"),
        "{messages}"
    );
}

#[test]
fn unbumped_version_is_caught_against_the_target_branch() {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: true\nremote: origin\ntarget-branch: main\n");
    let chart = repo.add_chart("broken", "unbumped-version");
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "release 1.0.0"]);
    repo.git(&["checkout", "-qb", "feature"]);
    let template = chart.join("templates/configmap.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&template, text + "# a change that needs a version bump\n").unwrap();
    repo.git(&["commit", "-qam", "change without a bump"]);
    repo.write_config(
        "check-version-increment: true\nremote: origin\ntarget-branch: main\nsince: main\n",
    );

    let (failed, messages) = summarize(&repo.run(&[Suite::Lint]));
    assert_eq!(
        failed,
        BTreeSet::from(["lint/version-increment".to_string()]),
        "{messages}"
    );
    // The merge-base is a new commit every run.
    let messages = redact_between(&messages, "(merge-base ", ")");
    insta::assert_snapshot!("unbumped-version", messages);
}

/// Replaces what lies between `start` and the next `end` with `[redacted]`.
fn redact_between(text: &str, start: &str, end: &str) -> String {
    match text.split_once(start) {
        Some((before, rest)) => match rest.split_once(end) {
            Some((_, after)) => format!("{before}{start}[redacted]{end}{after}"),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}
