//! The backup-restore suite where no container runs: the local control plane makes a
//! good spec "not run", never passed; the checks that need no cluster (the spec, the
//! objectives, the backup schedule against the RPO, the make targets) fail before
//! anything is installed, each with its message pinned; and a chart without a spec is
//! listed as skipped.

mod testing;

use chart_harness::plan::Suite;
use chart_harness::suites::{TrialOutcome, TrialStatus};
use testing::{TempRepo, copy_dir, workspace_root};

const ROUND_TRIP: &str = r#"  seed:
    - exec: {component: server, command: [redis-cli, SET, greeting, hello]}
  backup:
    - run: make -f make/ops/kvstore.mk kvstore-full-backup
  mutate:
    - exec: {component: server, command: [redis-cli, SET, marker, after]}
  restore:
    - run: make -f make/ops/kvstore.mk kvstore-restore-rdb
"#;

const VERIFY: &str = r#"  verify:
    present:
      - exec: {component: server, command: [redis-cli, GET, greeting]}
        expect: {equals: hello}
    absent:
      - exec: {component: server, command: [redis-cli, EXISTS, marker]}
        expect: {equals: "0"}
"#;

/// Chart name and its `ci/harness.yaml`.
fn charts() -> Vec<(&'static str, String)> {
    let spec = |extra: &str| format!("backup-restore:\n{ROUND_TRIP}{VERIFY}{extra}");
    vec![
        ("kvstore-good", spec("")),
        ("kvstore-plain", String::new()),
        (
            "kvstore-no-verify",
            format!("backup-restore:\n{ROUND_TRIP}"),
        ),
        (
            "kvstore-one-way",
            format!(
                "backup-restore:\n{ROUND_TRIP}  verify:\n    present:\n      - exec: {{component: server, command: [redis-cli, GET, greeting]}}\n        expect: {{equals: hello}}\n"
            ),
        ),
        ("kvstore-vague-rto", spec("  rto: as fast as we can\n")),
        (
            "kvstore-rto-text",
            format!(
                "values:\n  backup: {{enabled: true, documentation: {{targets: {{rto: 'whenever possible'}}}}}}\n{}",
                spec("")
            ),
        ),
        ("kvstore-rpo-six-hours", spec("  rpo: 6 hours\n")),
        (
            "kvstore-no-schedule",
            format!("values:\n  backup: {{enabled: false}}\n{}", spec("")),
        ),
        (
            "kvstore-typo-target",
            spec("").replace("kvstore-full-backup", "kvstore-full-bakup"),
        ),
    ]
}

fn repo() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\n\
         backup-objectives:\n  rto: backup.documentation.targets.rto\n  rpo: backup.documentation.targets.rpo\n",
    );
    copy_dir(
        &workspace_root().join("fixtures/backup-restore/make"),
        &repo.root().join("make"),
    );
    for (name, settings) in charts() {
        let dir = repo.add_chart_as("charts", "kvstore", name);
        for case in ["ha", "ephemeral"] {
            std::fs::remove_file(dir.join(format!("ci/{case}-values.yaml"))).unwrap();
        }
        std::fs::write(dir.join("ci/harness.yaml"), settings).unwrap();
    }
    repo
}

fn find<'o>(outcomes: &'o [TrialOutcome], chart: &str) -> &'o TrialOutcome {
    outcomes
        .iter()
        .find(|o| o.id.chart == chart)
        .unwrap_or_else(|| panic!("no trial of {chart}"))
}

/// The failed phases, each with its first problem.
fn failures(outcome: &TrialOutcome) -> String {
    outcome
        .failed_phases()
        .map(|phase| format!("[{}] {}", phase.name, phase.problems[0]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_round_trip_needs_real_containers_and_bad_specs_fail_before_any_install() {
    let repo = repo();
    let outcomes = repo.run_with_jobs(&[Suite::BackupRestore], 2);
    assert_eq!(outcomes.len(), charts().len(), "every trial listed");

    let good = find(&outcomes, "kvstore-good");
    assert_eq!(good.status, TrialStatus::NotRun, "{good:?}");
    assert!(
        good.reason
            .as_deref()
            .is_some_and(|reason| reason.contains("pods are simulated")),
        "{:?}",
        good.reason
    );
    testing::assert_phases_passed(good, &["objectives", "rpo", "scratch-copy", "preflight"]);
    let record = good.backup_restore.as_ref().unwrap();
    assert_eq!(record.rpo_schedule_seconds, Some(86_400.0));
    assert_eq!(
        record.rpo_schedules,
        ["kvstore-good-backup: 17 3 * * * (24 h)"]
    );
    assert_eq!(record.rto_seconds, None, "nothing was measured");

    let plain = find(&outcomes, "kvstore-plain");
    assert_eq!(plain.status, TrialStatus::Skipped);
    assert_eq!(
        plain.reason.as_deref(),
        Some(
            "fixtures/charts/kvstore-plain/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run"
        )
    );

    let no_schedule = find(&outcomes, "kvstore-no-schedule");
    assert_eq!(no_schedule.status, TrialStatus::NotRun);
    assert_eq!(
        no_schedule
            .backup_restore
            .as_ref()
            .unwrap()
            .rpo_note
            .as_deref(),
        Some("not measurable: no schedule")
    );

    for (chart, phase) in [
        ("kvstore-no-verify", "chart-settings"),
        ("kvstore-one-way", "chart-settings"),
        ("kvstore-vague-rto", "chart-settings"),
        ("kvstore-rto-text", "objectives"),
        ("kvstore-rpo-six-hours", "rpo"),
        ("kvstore-typo-target", "preflight"),
    ] {
        let outcome = find(&outcomes, chart);
        assert_eq!(outcome.status, TrialStatus::Failed, "{chart}: {outcome:?}");
        let failed: Vec<&str> = outcome.failed_phases().map(|p| p.name.as_str()).collect();
        assert_eq!(failed, [phase], "{chart}: {}", failures(outcome));
        assert!(
            !outcome.phases.iter().any(|p| p.name == "install"),
            "{chart} installed nothing"
        );
        insta::assert_snapshot!(format!("backup-restore-{chart}"), failures(outcome));
    }
}

/// `list` names every trial without a cluster: a chart without a spec as skipped, and,
/// when the local control plane is asked for, the others as not run there.
#[test]
fn list_says_which_trials_cannot_run_where_pods_are_simulated() {
    let repo = repo();
    let list = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_chart-harness"))
            .arg("--repo")
            .arg(repo.root())
            .args(["list", "--suite", "backup-restore"])
            .args(extra)
            .args(["kvstore-good", "kvstore-plain"])
            .env_remove("CHART_HARNESS_CLUSTER")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let skipped = "backup-restore::kvstore-plain::default (skipped: fixtures/charts/kvstore-plain/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run)";
    assert_eq!(
        list(&["--cluster", "local"]),
        format!(
            "backup-restore::kvstore-good::default (not run: pods are simulated on the local control plane)\n{skipped}\n"
        )
    );
    assert_eq!(
        list(&["--cluster", "kind"]),
        format!("backup-restore::kvstore-good::default\n{skipped}\n")
    );
}
