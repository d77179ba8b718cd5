//! The upgrade suite on the local control plane: a throw-away git repository whose
//! charts changed since the tag `v1`, the baseline. Breaks are predicted offline and
//! the API server confirms each one (the two layers agree on every fixture here); a
//! good upgrade runs every release phase and rolls back; a baseline identical to the
//! candidate is not run; data steps are not run where pods are simulated.

mod testing;

use std::path::Path;

use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome, TrialStatus};
use testing::TempRepo;

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn status<'o>(outcome: &'o TrialOutcome, phase: &str) -> &'o PhaseStatus {
    &outcome
        .phases
        .iter()
        .find(|p| p.name == phase)
        .unwrap_or_else(|| panic!("{}: no phase {phase} in {:?}", outcome.id, outcome.phases))
        .status
}

/// web (good: more replicas), kvstore-data (good: a larger maxmemory, with data steps),
/// web-selector (a changed Deployment selector, patch bump, for `--predict-only`),
/// web-same (unchanged), each with only its default case, committed at `v1` and changed
/// after.
fn repo() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: false\nbaseline: git:v1\n");
    for (source, name) in [
        ("web", "web"),
        ("web", "web-selector"),
        ("kvstore", "kvstore-data"),
        ("web", "web-same"),
    ] {
        let dir = repo.add_chart_as("charts", source, name);
        for case in ["ha", "no-ingress", "ephemeral"] {
            let _ = std::fs::remove_file(dir.join(format!("ci/{case}-values.yaml")));
        }
        let _ = std::fs::remove_dir_all(dir.join("ci/__snapshots__"));
    }
    let kvstore = repo.root().join("fixtures/charts/kvstore-data");
    // Data steps, which the local control plane cannot run.
    std::fs::write(
        kvstore.join("ci/harness.yaml"),
        "data:\n  seed:\n    - exec: {component: server, command: [redis-cli, SET, k, v]}\n  verify:\n    - exec: {component: server, command: [redis-cli, GET, k]}\n      expect: {equals: v}\n",
    )
    .unwrap();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "v1"]);
    repo.git(&["tag", "v1"]);
    let charts = repo.root().join("fixtures/charts");
    edit(
        &charts.join("web/values.yaml"),
        "replicaCount: 2",
        "replicaCount: 3",
    );
    edit(
        &charts.join("web-selector/templates/_helpers.tpl"),
        "app.kubernetes.io/instance: {{ .Release.Name }}\n{{- end -}}",
        "app.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/tier: frontend\n{{- end -}}",
    );
    edit(
        &charts.join("kvstore-data/values.yaml"),
        "maxmemory: 64mb",
        "maxmemory: 96mb",
    );
    for chart in ["web", "web-selector", "kvstore-data"] {
        let chart_yaml = charts.join(chart).join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml).unwrap();
        let version = text
            .lines()
            .find_map(|line| line.strip_prefix("version: "))
            .unwrap()
            .to_string();
        let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
        parts[2] += 1;
        let bumped = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        edit(
            &chart_yaml,
            &format!("version: {version}"),
            &format!("version: {bumped}"),
        );
    }
    repo.git(&["commit", "-qam", "changes"]);
    repo
}

#[test]
fn upgrades_are_predicted_confirmed_and_exercised_on_the_local_control_plane() {
    let repo = repo();
    let outcomes = repo.run_on(
        chart_harness::cluster::ProviderKind::Local,
        &[Suite::Upgrade],
        2,
    );
    let find = |chart: &str| {
        outcomes
            .iter()
            .find(|o| o.id.chart == chart)
            .unwrap_or_else(|| panic!("no trial of {chart}"))
    };

    let web = find("web");
    assert!(web.passed(), "{}", web.failure_message());
    for phase in [
        "baseline",
        "predict",
        "baseline-install",
        "confirm",
        "upgrade",
        "rollout",
        "rollback-predict",
        "rollback",
    ] {
        assert_eq!(status(web, phase), &PhaseStatus::Passed, "web: {phase}");
    }
    let record = web.upgrade.as_ref().expect("the upgrade record");
    assert_eq!(record.baselines[0].spec, "git:v1");
    assert_eq!(record.baselines[0].version, "1.2.0");
    assert_eq!(record.baselines[0].digest.len(), 40, "a git tree id");
    assert!(record.baselines[0].breaks.is_empty());

    // Data steps need running containers: not run here, never passed.
    let data = find("kvstore-data");
    assert!(data.passed(), "{}", data.failure_message());
    for phase in ["seed", "verify-baseline", "verify", "verify-rollback"] {
        assert!(
            matches!(status(data, phase), PhaseStatus::NotRun(reason) if reason.starts_with("pods are simulated")),
            "{phase}: {:?}",
            data.phases
        );
    }
    assert!(!data.upgrade.as_ref().unwrap().data_checked);
    assert!(
        !find("web-selector").passed(),
        "the selector change is caught (its messages are pinned by the fixtures below)"
    );

    let same = find("web-same");
    assert_eq!(same.status, TrialStatus::NotRun);
    assert!(
        same.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("baseline identical: git:v1"),
        "{:?}",
        same.reason
    );
}

#[test]
fn predict_only_needs_no_cluster_and_exits_1_naming_the_break() {
    let repo = repo();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args([
            "upgrade",
            "--predict-only",
            "--baseline",
            "git:v1",
            "web-selector",
            "web",
        ])
        .current_dir(repo.root())
        .env_remove("CHART_HARNESS_CLUSTER")
        .output()
        .unwrap();
    let text = testing::output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("CLUSTER"), "no cluster is made: {text}");
    assert!(
        text.contains("Deployment `web-selector`: spec.selector.matchLabels.app.kubernetes.io/tier changes from (unset) to \"frontend\""),
        "{text}"
    );
    assert!(text.contains("PASS  upgrade::web::default"), "{text}");

    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args([
            "upgrade",
            "--predict-only",
            "--baseline",
            "git:no-such-tag",
            "web",
        ])
        .current_dir(repo.root())
        .output()
        .unwrap();
    let text = testing::output_text(&missing);
    assert_eq!(missing.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the git ref `no-such-tag` does not exist"),
        "{text}"
    );

    // ct's leniency, asked for: not run, never passed, and counted apart.
    let ignored = std::process::Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args([
            "upgrade",
            "--predict-only",
            "--baseline",
            "git:no-such-tag",
            "--baseline-failure",
            "ignore",
            "web",
        ])
        .current_dir(repo.root())
        .output()
        .unwrap();
    let text = testing::output_text(&ignored);
    assert_eq!(ignored.status.code(), Some(0), "{text}");
    assert!(
        text.contains("not run: 1 baseline failed, ignored"),
        "{text}"
    );
    assert!(text.contains("0 passed, 0 failed, 1 not run"), "{text}");
}

/// Fixture (`fixtures/upgrades/<name>`), and the one phase it fails.
const BROKEN_UPGRADES: [(&str, &str); 5] = [
    ("selector-change", "predict"),
    ("claim-template-change", "predict"),
    ("baseline-broken", "baseline-install"),
    ("pods-never-rolled", "rollout"),
    ("rollback-grown-claim", "rollback-predict"),
];

/// A repository holding each upgrade fixture's `v1` at the tag `v1` and its `v2` after.
fn upgrade_fixtures_repo() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: false\nbaseline: git:v1\n");
    let fixtures = testing::workspace_root().join("fixtures/upgrades");
    let charts = repo.root().join("fixtures/charts");
    for (name, _) in BROKEN_UPGRADES {
        testing::copy_dir(&fixtures.join(name).join("v1"), &charts.join(name));
    }
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "v1"]);
    repo.git(&["tag", "v1"]);
    for (name, _) in BROKEN_UPGRADES {
        std::fs::remove_dir_all(charts.join(name)).unwrap();
        testing::copy_dir(&fixtures.join(name).join("v2"), &charts.join(name));
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "v2"]);
    repo
}

/// The failed phases' problems, the random part of namespaces replaced.
fn pinned(outcome: &TrialOutcome) -> String {
    let text: String = outcome
        .failed_phases()
        .flat_map(|phase| {
            phase
                .problems
                .iter()
                .map(move |problem| format!("[{}] {problem}\n", phase.name))
        })
        .collect();
    testing::redact_after(
        &text,
        &format!("{}-{}-up-", outcome.id.chart, outcome.id.case),
        5,
    )
}

#[test]
fn broken_upgrades_are_caught_in_their_phase_with_pinned_messages() {
    let repo = upgrade_fixtures_repo();
    let outcomes = repo.run_on(
        chart_harness::cluster::ProviderKind::Local,
        &[Suite::Upgrade],
        3,
    );
    assert_eq!(outcomes.len(), BROKEN_UPGRADES.len());
    let mut agreement = Vec::new();
    for (name, phase) in BROKEN_UPGRADES {
        let outcome = outcomes.iter().find(|o| o.id.chart == name).unwrap();
        let failed: Vec<&str> = outcome.failed_phases().map(|p| p.name.as_str()).collect();
        assert_eq!(failed, [phase], "{name}: {}", outcome.failure_message());
        assert_eq!(
            status(outcome, "namespace-delete"),
            &PhaseStatus::Passed,
            "{name}: nothing is left behind"
        );
        insta::assert_snapshot!(format!("upgrade-{name}"), pinned(outcome));
        let breaks = &outcome.upgrade.as_ref().unwrap().baselines[0].breaks;
        agreement.extend(
            breaks
                .iter()
                .map(|b| format!("{name}: {} {} {}", b.direction, b.object, b.layer)),
        );
    }
    // The two layers agree on every immutable-field fixture: each upgrade break was
    // predicted and refused by the server ("both"); the rollback break is predicted
    // before `helm rollback`, which is then not attempted.
    insta::assert_snapshot!("upgrade-layers", agreement.join("\n"));
    let grown = outcomes
        .iter()
        .find(|o| o.id.chart == "rollback-grown-claim")
        .unwrap();
    assert!(
        !grown.phases.iter().any(|p| p.name == "rollback"),
        "the rollback is not attempted"
    );
}

/// `pre-upgrade`, `upgrade-values` (inline and a file) and a list of baselines each take
/// effect: an orphaning delete lets a StatefulSet's claim template change go through
/// (and the rollback is then predicted to need the same); a larger claim given only to
/// the upgrade is a predicted break; two baselines are two prefixed paths.
#[test]
fn declared_steps_upgrade_values_and_several_baselines_take_effect() {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: false\nbaseline: git:v1\n");
    let charts = repo.root().join("fixtures/charts");
    let fixture = testing::workspace_root().join("fixtures/upgrades/claim-template-change");
    testing::copy_dir(&fixture.join("v1"), &charts.join("orphaned"));
    edit(
        &charts.join("orphaned/Chart.yaml"),
        "name: claim-template-change",
        "name: orphaned",
    );
    for (name, settings) in [
        (
            "kvstore-bigger",
            "upgrade-values:\n  - persistence: {size: 2Gi}\n",
        ),
        ("kvstore-bigger-file", "upgrade-values: [ci/bigger.yaml]\n"),
        ("web-twice", "baseline: [git:v1, git:v0]\n"),
    ] {
        let source = if name.starts_with("web") {
            "web"
        } else {
            "kvstore"
        };
        let dir = repo.add_chart_as("charts", source, name);
        for case in ["ha", "no-ingress", "ephemeral"] {
            let _ = std::fs::remove_file(dir.join(format!("ci/{case}-values.yaml")));
        }
        let _ = std::fs::remove_dir_all(dir.join("ci/__snapshots__"));
        std::fs::write(dir.join("ci/harness.yaml"), settings).unwrap();
    }
    std::fs::write(
        charts.join("kvstore-bigger-file/ci/bigger.yaml"),
        "persistence:\n  size: 2Gi\n",
    )
    .unwrap();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "v1"]);
    repo.git(&["tag", "v1"]);
    repo.git(&["tag", "v0"]);
    std::fs::remove_dir_all(charts.join("orphaned")).unwrap();
    testing::copy_dir(&fixture.join("v2"), &charts.join("orphaned"));
    edit(
        &charts.join("orphaned/Chart.yaml"),
        "name: claim-template-change",
        "name: orphaned",
    );
    std::fs::create_dir_all(charts.join("orphaned/ci")).unwrap();
    std::fs::write(
        charts.join("orphaned/ci/harness.yaml"),
        "pre-upgrade:\n  - name: orphan the StatefulSet\n    run: .tools/bin/kubectl delete statefulset \"$RELEASE_NAME\" --cascade=orphan\n",
    )
    .unwrap();
    for name in ["kvstore-bigger", "kvstore-bigger-file"] {
        edit(
            &charts.join(name).join("Chart.yaml"),
            "version: 0.4.1",
            "version: 0.4.2",
        );
    }
    edit(
        &charts.join("web-twice/values.yaml"),
        "replicaCount: 2",
        "replicaCount: 3",
    );
    edit(
        &charts.join("web-twice/Chart.yaml"),
        "version: 1.2.0",
        "version: 1.2.1",
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "v2"]);

    let outcomes = repo.run_on(
        chart_harness::cluster::ProviderKind::Local,
        &[Suite::Upgrade],
        2,
    );
    let find = |chart: &str| outcomes.iter().find(|o| o.id.chart == chart).unwrap();

    let orphaned = find("orphaned");
    assert_eq!(
        status(orphaned, "predict"),
        &PhaseStatus::Context,
        "{:?}",
        orphaned.phases
    );
    for phase in ["pre-upgrade[0]", "confirm", "upgrade", "rollout"] {
        assert_eq!(
            status(orphaned, phase),
            &PhaseStatus::Passed,
            "{phase}: {}",
            orphaned.failure_message()
        );
    }
    let failed: Vec<&str> = orphaned.failed_phases().map(|p| p.name.as_str()).collect();
    assert_eq!(
        failed,
        ["rollback-predict"],
        "{}",
        orphaned.failure_message()
    );
    let record = &orphaned.upgrade.as_ref().unwrap().baselines[0];
    assert_eq!(
        record.pre_upgrade,
        ["pre-upgrade[0] (orphan the StatefulSet)"]
    );

    for name in ["kvstore-bigger", "kvstore-bigger-file"] {
        let outcome = find(name);
        let failed: Vec<&str> = outcome.failed_phases().map(|p| p.name.as_str()).collect();
        assert_eq!(failed, ["predict"], "{name}: {}", outcome.failure_message());
        assert!(
            outcome.failure_message().contains(
                "spec.volumeClaimTemplates[0].spec.resources.requests.storage changes from \"1Gi\" to \"2Gi\""
            ),
            "{name}: {}",
            outcome.failure_message()
        );
    }

    let twice = find("web-twice");
    assert!(twice.passed(), "{}", twice.failure_message());
    for prefix in ["git:v1:", "git:v0:"] {
        for phase in ["predict", "upgrade", "rollback"] {
            assert_eq!(
                status(twice, &format!("{prefix}{phase}")),
                &PhaseStatus::Passed
            );
        }
    }
    let specs: Vec<&str> = twice
        .upgrade
        .as_ref()
        .unwrap()
        .baselines
        .iter()
        .map(|b| b.spec.as_str())
        .collect();
    assert_eq!(specs, ["git:v1", "git:v0"]);
}
