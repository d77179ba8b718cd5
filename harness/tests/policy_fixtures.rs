//! Every policy rule is proven by a broken fixture: `fixtures/broken/policy-<rule>` breaks
//! that rule and no other, and its message is pinned. The good fixtures break no rule at
//! error level.

mod testing;

use std::collections::BTreeSet;

use chart_harness::config::Severity;
use chart_harness::plan::Suite;
use chart_harness::report::{Reporter, SarifReporter};
use chart_harness::suites::TrialOutcome;
use rstest::rstest;
use testing::{SharedBuffer, TempRepo};

/// The gate at `info`, so the info rules fail their fixtures too.
const GATE_AT_INFO: &str = "check-version-increment: false\npolicy:\n  fail-on: info\n";

/// The rules of the findings no suppression accepted.
fn counted_rules(outcomes: &[TrialOutcome]) -> BTreeSet<String> {
    outcomes
        .iter()
        .flat_map(|outcome| &outcome.findings)
        .filter(|finding| finding.suppressed_by.is_none())
        .map(|finding| finding.rule.clone())
        .collect()
}

#[rstest]
#[case::image_tag_latest("image-tag-latest")]
#[case::image_not_pinned_by_digest("image-not-pinned-by-digest")]
#[case::image_pull_policy_conflict("image-pull-policy-conflict")]
#[case::resource_requests_missing("resource-requests-missing")]
#[case::memory_limit_missing("memory-limit-missing")]
#[case::cpu_limit_missing("cpu-limit-missing")]
#[case::readiness_probe_missing("readiness-probe-missing")]
#[case::liveness_probe_missing("liveness-probe-missing")]
#[case::readiness_equals_liveness("readiness-equals-liveness")]
#[case::run_as_non_root("run-as-non-root")]
#[case::allow_privilege_escalation("allow-privilege-escalation")]
#[case::read_only_root_filesystem("read-only-root-filesystem")]
#[case::capabilities_drop_all("capabilities-drop-all")]
#[case::privileged("privileged")]
#[case::host_path_volume("host-path-volume")]
#[case::host_network("host-network")]
#[case::host_pid("host-pid")]
#[case::host_ipc("host-ipc")]
#[case::rbac_wildcard("rbac-wildcard")]
#[case::rbac_cluster_admin_binding("rbac-cluster-admin-binding")]
#[case::rbac_cluster_secrets_read("rbac-cluster-secrets-read")]
#[case::rbac_cluster_role_could_be_role("rbac-cluster-role-could-be-role")]
#[case::pod_disruption_budget_missing("pod-disruption-budget-missing")]
#[case::network_policy_missing("network-policy-missing")]
#[case::api_removed("api-removed")]
#[case::api_deprecated("api-deprecated")]
fn policy_fixture_breaks_its_rule_only(#[case] rule: &str) {
    let repo = TempRepo::new();
    repo.write_config(GATE_AT_INFO);
    let name = format!("policy-{rule}");
    repo.add_chart("broken", &name);
    let outcomes = repo.run(&[Suite::Policy]);
    let messages: String = outcomes.iter().map(|o| o.failure_message()).collect();
    assert_eq!(
        counted_rules(&outcomes),
        BTreeSet::from([rule.to_string()]),
        "{messages}"
    );
    assert!(outcomes.iter().all(|o| !o.passed()), "{messages}");
    insta::assert_snapshot!(name, messages);
}

/// At the default gate (error), a ClusterRole with `*` in apiGroups, resources and verbs
/// bound cluster-wide fails as cluster-admin does; a partial wildcard is a warning and
/// passes.
#[test]
fn a_full_wildcard_bound_cluster_wide_fails_at_the_default_gate() {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: false\n");
    repo.add_chart("broken", "policy-rbac-wildcard-cluster-admin");
    repo.add_chart("broken", "policy-rbac-wildcard");
    let outcomes = repo.run(&[Suite::Policy]);
    let of = |chart: &str| outcomes.iter().find(|o| o.id.chart == chart).unwrap();

    let full = of("policy-rbac-wildcard-cluster-admin");
    assert!(!full.passed());
    assert_eq!(
        counted_rules(std::slice::from_ref(full)),
        BTreeSet::from(["rbac-cluster-admin-binding".to_string()])
    );
    assert!(full.findings.iter().all(|f| f.severity == Severity::Error));
    insta::assert_snapshot!("policy-rbac-wildcard-cluster-admin", full.failure_message());

    let partial = of("policy-rbac-wildcard");
    assert!(partial.passed(), "{}", partial.failure_message());
    let severities: Vec<Severity> = partial.findings.iter().map(|f| f.severity).collect();
    assert_eq!(severities, [Severity::Warning]);
}

/// Every rule has its fixture, so a rule added without one fails here.
#[test]
fn every_rule_has_a_fixture() {
    let missing: Vec<String> = chart_harness::suites::policy::rules::ALL
        .iter()
        .map(|rule| format!("policy-{}", rule.id))
        .filter(|name| {
            !testing::fixture("broken", name)
                .join("Chart.yaml")
                .is_file()
        })
        .collect();
    assert!(missing.is_empty(), "add fixtures/broken/{missing:?}");
}

/// The good fixtures follow every error rule; the rest is listed in fixtures/README.md.
#[test]
fn good_fixtures_break_no_error_rule() {
    let repo = TempRepo::new();
    for chart in ["api", "common-lib", "kvstore", "shop", "web"] {
        repo.add_chart("charts", chart);
    }
    for subchart in ["cart", "greeter"] {
        repo.add_chart("subcharts", subchart);
    }
    let outcomes = repo.run(&[Suite::Template, Suite::Policy]);
    let errors: Vec<String> = outcomes
        .iter()
        .flat_map(|outcome| &outcome.findings)
        .filter(|finding| finding.severity == Severity::Error)
        .map(|finding| format!("{finding:?}"))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed() && o.reason.is_none())
        .map(|o| o.failure_message())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let policy_trials = outcomes
        .iter()
        .filter(|o| o.id.suite == Suite::Policy && o.reason.is_none())
        .count();
    assert_eq!(
        policy_trials, 12,
        "every case of the four application charts"
    );
}

#[test]
fn suppressions_in_the_config_and_the_annotation_are_reported_not_counted() {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\npolicy:\n  suppress:\n    - chart: policy-privileged\n      rule: privileged\n      reason: the setup container loads a kernel module\n    - rule: host-pid\n      reason: nothing uses it\n",
    );
    repo.add_chart("broken", "policy-privileged");
    let host_ipc = repo.add_chart("broken", "policy-host-ipc");
    let deployment = host_ipc.join("templates/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(
        &deployment,
        text.replacen(
            "metadata:\n  name: app\n",
            "metadata:\n  name: app\n  annotations:\n    chart-harness.io/policy-skip: host-ipc\n",
            1,
        ),
    )
    .unwrap();

    let session = chart_harness::session::Session::open(repo.root()).unwrap();
    let warnings = SharedBuffer::default();
    let sarif_path = repo.root().join("report/policy.sarif");
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(SarifReporter::new(
        &sarif_path,
        session.loaded.config.policy.clone(),
        session.loaded.config.config_file.clone(),
        Box::new(warnings.clone()),
    ))];
    let summary = repo.run_with(&[Suite::Policy], 1, &mut reporters, std::future::pending());
    for outcome in &summary.outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
    }
    let suppressed: BTreeSet<(String, String)> = summary
        .outcomes
        .iter()
        .flat_map(|outcome| &outcome.findings)
        .filter_map(|f| Some((f.rule.clone(), f.suppressed_by.clone()?)))
        .collect();
    assert_eq!(
        suppressed,
        BTreeSet::from([
            (
                "host-ipc".to_string(),
                "annotation chart-harness.io/policy-skip".to_string()
            ),
            (
                "privileged".to_string(),
                "config: rule: privileged, chart: policy-privileged".to_string()
            ),
        ])
    );
    let warned = warnings.text();
    assert_eq!(
        warned,
        "chart-harness: warning: policy suppression `rule: host-pid` in chart-harness.yaml accepted no finding in this run; remove it if the chart no longer needs it\n"
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sarif_path).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "privileged"
            && r["suppressions"][0]["kind"] == "external"
            && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "fixtures/broken/policy-privileged/templates/deployment.yaml"),
        "{sarif:#}"
    );
}
