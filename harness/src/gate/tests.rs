use std::path::PathBuf;
use std::time::Duration;

use rstest::rstest;

use super::*;
use crate::config::release_settings::ChangelogSource;
use crate::plan::TrialId;
use crate::suites::TrialOutcome;

const HEAD: &str = "1111111111111111111111111111111111111111";
const OTHER: &str = "2222222222222222222222222222222222222222";

fn v(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap()
}

#[rstest]
#[case::first(None, None, CheckState::Passed, "first release")]
#[case::bumped(Some("0.1.0"), None, CheckState::Passed, "0.2.0 > 0.1.0")]
#[case::not_bumped(Some("0.2.0"), None, CheckState::Failed, "not higher than 0.2.0")]
#[case::tag_here(Some("0.1.0"), Some(HEAD), CheckState::Passed, "0.2.0 > 0.1.0")]
#[case::tag_elsewhere(
    Some("0.1.0"),
    Some(OTHER),
    CheckState::Failed,
    "already exists at commit 2222222"
)]
fn the_version_must_rise_and_be_unreleased(
    #[case] previous: Option<&str>,
    #[case] existing: Option<&str>,
    #[case] state: CheckState,
    #[case] reason: &str,
) {
    let previous = previous.map(|p| (format!("kvstore-{p}"), v(p)));
    let check = version_check(
        &v("0.2.0"),
        previous.as_ref().map(|(tag, v)| (tag.as_str(), v)),
        existing.map(|commit| ("kvstore-0.2.0", commit)),
        HEAD,
    );
    assert_eq!(check.state, state, "{}", check.reason);
    assert!(check.reason.contains(reason), "{}", check.reason);
}

fn trial(suite: Suite, status: TrialStatus, version: Option<&str>) -> ReportedTrial {
    ReportedTrial {
        outcome: TrialOutcome {
            id: TrialId {
                suite,
                chart: "kvstore".into(),
                case: "default".into(),
            },
            chart_dir: PathBuf::from("charts/kvstore"),
            status,
            phases: Vec::new(),
            duration: Duration::ZERO,
            reason: (status != TrialStatus::Passed).then(|| "it broke".into()),
            findings: Vec::new(),
            upgrade: None,
            backup_restore: None,
        },
        cell: None,
        kube_version: version.map(str::to_string),
    }
}

fn required() -> Vec<Required> {
    vec![
        Required {
            suite: Suite::Lint,
            kube_versions: Vec::new(),
        },
        Required {
            suite: Suite::Integration,
            kube_versions: vec!["1.36".into(), "1.37".into()],
        },
    ]
}

#[test]
fn every_required_suite_must_pass_on_every_version() {
    let trials = [
        trial(Suite::Lint, TrialStatus::Passed, Some("1.37")),
        trial(Suite::Integration, TrialStatus::Passed, Some("1.36")),
        trial(Suite::Integration, TrialStatus::Passed, Some("1.37")),
    ];
    let of: Vec<&ReportedTrial> = trials.iter().collect();
    let check = tests_check(&required(), &of, HEAD, HEAD);
    assert_eq!(check.state, CheckState::Passed, "{}", check.reason);
    assert!(
        check.reason.starts_with("3 suite × version"),
        "{}",
        check.reason
    );
}

#[rstest]
#[case::a_version_missing(
    TrialStatus::Passed,
    false,
    HEAD,
    "integration on Kubernetes 1.36: no trial"
)]
#[case::failed(
    TrialStatus::Failed,
    true,
    HEAD,
    "integration on Kubernetes 1.36: 1 of 1 case(s) not passed; default failed: it broke"
)]
#[case::not_run(TrialStatus::NotRun, true, HEAD, "did not run")]
#[case::other_commit(TrialStatus::Passed, true, OTHER, "the reports are of commit 2222222")]
fn a_release_without_proof_is_refused(
    #[case] status: TrialStatus,
    #[case] with_136: bool,
    #[case] reports_commit: &str,
    #[case] reason: &str,
) {
    let mut trials = vec![
        trial(Suite::Lint, TrialStatus::Passed, None),
        trial(Suite::Integration, TrialStatus::Passed, Some("1.37")),
    ];
    if with_136 {
        trials.push(trial(Suite::Integration, status, Some("1.36")));
    }
    let of: Vec<&ReportedTrial> = trials.iter().collect();
    let check = tests_check(&required(), &of, reports_commit, HEAD);
    assert_eq!(check.state, CheckState::Failed);
    assert!(check.reason.contains(reason), "{}", check.reason);
}

#[rstest]
#[case::annotation(
    ChangelogSource::Either,
    Some("- kind: added"),
    None,
    CheckState::Passed
)]
#[case::heading(
    ChangelogSource::Either,
    None,
    Some("# Changes\n\n## [0.2.0] - 2026-12-07\n"),
    CheckState::Passed
)]
#[case::v_heading(ChangelogSource::Either, None, Some("## v0.2.0\n"), CheckState::Passed)]
#[case::older_heading_only(
    ChangelogSource::Either,
    None,
    Some("## 0.2.01\n## 0.1.0\n"),
    CheckState::Failed
)]
#[case::file_not_annotation(ChangelogSource::File("CHANGELOG.md".into()), Some("- x"), None, CheckState::Failed)]
#[case::blank_annotation(ChangelogSource::Annotation, Some("  "), None, CheckState::Failed)]
#[case::off(ChangelogSource::None, None, None, CheckState::NotConfigured)]
fn a_changelog_entry_names_the_version(
    #[case] source: ChangelogSource,
    #[case] annotation: Option<&str>,
    #[case] file: Option<&str>,
    #[case] state: CheckState,
) {
    let check = changelog_check(
        "0.2.0",
        &ChangelogFacts {
            source: &source,
            annotation,
            file: ("charts/kvstore/CHANGELOG.md", file),
        },
    );
    assert_eq!(check.state, state, "{}", check.reason);
}

#[test]
fn a_pending_snapshot_holds_the_release() {
    assert_eq!(snapshots_check(&[]).state, CheckState::Passed);
    let check = snapshots_check(&["r/snapshots/charts/kvstore/default.snap.new".into()]);
    assert_eq!(check.state, CheckState::Failed);
    assert!(
        check.reason.contains("snapshots review"),
        "{}",
        check.reason
    );
}
