//! The backup-restore suite on a real kind cluster: the repository's own make targets
//! (`fixtures/backup-restore/make`) back up and restore kvstore (Debian's redis-server),
//! a second copy does it with `exec` and `job` steps, a third after the namespace's
//! deletion, a fourth backs up its git baseline
//! and restores into the candidate (`across-upgrade`); seven broken copies each fail
//! in the one phase that catches them, with the message pinned. One cluster for all.
//!
//! Needs Docker, the kind node image and the fixture images, like `kind_cluster.rs`;
//! ci/test.sh runs it with `--ignored`, and it fails, never passes, without them.

mod testing;

use chart_harness::cluster::ProviderKind;
use chart_harness::plan::Suite;
use chart_harness::suites::TrialOutcome;
use testing::{TempRepo, copy_dir, workspace_root};

/// The seeded data, checked both ways: exactly the seeded keys with their values, and
/// not the key written after the backup.
const CHECKS: &str = r#"  seed:
    - exec: {component: server, command: [redis-cli, MSET, greeting, hello, note, kept]}
  mutate:
    - exec: {component: server, command: [redis-cli, SET, marker, written-after-the-backup]}
  verify:
    present:
      - name: exactly the seeded keys
        exec: {component: server, command: [sh, -c, 'redis-cli --scan | sort']}
        expect: {equals: "greeting\nnote"}
      - exec: {component: server, command: [redis-cli, GET, greeting]}
        expect: {equals: hello}
    absent:
      - name: the key written after the backup
        exec: {component: server, command: [redis-cli, EXISTS, marker]}
        expect: {equals: "0"}
  timeout: 90s
"#;

/// Values every copy gets: the labels the makefile selects by, and no append-only file,
/// so a restarted server loads the restored dump.
const VALUES: &str = "values:\n  nameOverride: kvstore\n  config: {appendonly: false}\n";

fn with_make(backup: &str, restore: &str, extra: &str) -> String {
    with_make_and_disaster(backup, "uninstall", restore, extra)
}

fn with_make_and_disaster(backup: &str, disaster: &str, restore: &str, extra: &str) -> String {
    format!(
        "{VALUES}backup-restore:\n  backup:\n    - run: {backup}\n  disaster: {disaster}\n  restore:\n    - run: {restore}\n{CHECKS}{extra}"
    )
}

const MAKE: &str = "make -f make/ops/kvstore.mk";

/// kvstore with `exec` and `job` steps: the chart's own backup CronJob into its backup
/// claim, a wipe Job, a restore Job that puts the newest dump in place and stops the
/// server without saving.
fn with_jobs() -> String {
    let job = |name: &str, command: &str, volumes: &str, mounts: &str, env: &str| {
        format!(
            r#"
          manifest:
            apiVersion: batch/v1
            kind: Job
            metadata: {{name: {name}}}
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  securityContext: {{runAsUser: 999, runAsGroup: 999, fsGroup: 999}}
                  containers:
                    - name: {name}
                      image: chart-harness.local/fixture-kvstore:1
                      imagePullPolicy: IfNotPresent
                      command: [sh, -ec, '{command}']
                      volumeMounts: [{mounts}]{env}
                  volumes: [{volumes}]"#
        )
    };
    let data_volume = "{name: data, persistentVolumeClaim: {claimName: data-kvstore-jobs-0}}";
    let wipe = job(
        "wipe",
        "rm -rf /data/* && echo wiped",
        data_volume,
        "{name: data, mountPath: /data}",
        "",
    );
    let restore = job(
        "restore",
        r#"cp "$(ls -1t /backup/dump-*.rdb | head -n 1)" /data/dump.rdb && redis-cli -h kvstore-jobs-0.kvstore-jobs-headless SHUTDOWN NOSAVE || true"#,
        &format!(
            "{data_volume}, {{name: backup, persistentVolumeClaim: {{claimName: kvstore-jobs-backup}}}}"
        ),
        "{name: data, mountPath: /data}, {name: backup, mountPath: /backup}",
        "\n                      env: [{name: REDISCLI_AUTH, valueFrom: {secretKeyRef: {name: kvstore-jobs-auth, key: password}}}]",
    );
    format!(
        "{VALUES}  backup: {{enabled: true, persistence: {{enabled: true}}}}\nbackup-restore:\n  backup:\n    - job: {{from-cronjob: $RELEASE_NAME-backup}}\n      expect: {{contains: dump-}}\n  disaster:\n    scale-to-zero-and-wipe:\n      - job:{wipe}\n  restore:\n    - job:{restore}\n{CHECKS}"
    )
}

/// Chart, its `ci/harness.yaml`, and the phases that must fail (empty: it passes).
fn charts() -> Vec<(&'static str, String, &'static [&'static str])> {
    let full_backup = format!("{MAKE} kvstore-full-backup");
    let restore = format!("{MAKE} kvstore-restore-rdb");
    vec![
        ("kvstore", with_make(&full_backup, &restore, ""), &[]),
        ("kvstore-jobs", with_jobs(), &[]),
        (
            "kvstore-namespace",
            with_make_and_disaster(&full_backup, "delete-namespace", &restore, ""),
            &[],
        ),
        (
            "kvstore-across",
            format!(
                "baseline: git:v1\n{}",
                with_make(&full_backup, &restore, "  across-upgrade: true\n")
            ),
            &[],
        ),
        (
            "kvstore-backup-elsewhere",
            with_make(&format!("{MAKE} kvstore-backup-elsewhere"), &restore, ""),
            &["backup-files"],
        ),
        (
            "kvstore-restore-noop",
            with_make(&full_backup, &format!("{MAKE} kvstore-restore-noop"), ""),
            &["verify-present[0]", "verify-present[1]"],
        ),
        (
            "kvstore-restore-sample",
            with_make(&full_backup, &format!("{MAKE} kvstore-restore-sample"), ""),
            &["verify-present[0]", "verify-absent[0]"],
        ),
        (
            "kvstore-retained",
            with_make(&full_backup, &restore, ""),
            &["disaster-is-real"],
        ),
        (
            "kvstore-slow",
            with_make(&full_backup, &restore, "  rto: 5 seconds\n"),
            &["rto"],
        ),
        (
            "kvstore-into-repo",
            with_make(&format!("{MAKE} kvstore-backup-into-repo"), &restore, ""),
            &["work-tree"],
        ),
        (
            "kvstore-hangs",
            with_make("'sleep 617 & sleep 618'\n      timeout: 3s", &restore, ""),
            &["backup[0]"],
        ),
    ]
}

/// A failed phase's first problem, with what differs between runs (the namespace's
/// random suffix, timestamps in file names, measured seconds) replaced.
fn pinned(outcome: &TrialOutcome, phase: &str, repo: &TempRepo) -> String {
    let found = outcome
        .phases
        .iter()
        .find(|p| p.name == phase)
        .unwrap_or_else(|| panic!("{}: no phase {phase}: {:?}", outcome.id, outcome.phases));
    let text = found.problems[0].to_string();
    let text = text.replace(&repo.root().display().to_string(), "[repo]");
    let stamp = regex::Regex::new(r"\d{8}T\d{6}Z").unwrap();
    let seconds = regex::Regex::new(r"\d+(\.\d+)? s\b").unwrap();
    let namespace =
        regex::Regex::new(&format!(r"{}-default-br-[a-z0-9]{{5}}", outcome.id.chart)).unwrap();
    let text = stamp.replace_all(&text, "[stamp]");
    let text = seconds.replace_all(&text, "[n] s");
    namespace.replace_all(&text, "[namespace]").into_owned()
}

#[test]
#[ignore = "needs Docker and a kind node image; ci/test.sh runs it with --ignored"]
fn backup_restore_round_trips_on_kind() {
    testing::require_kind();
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\n\
         backup-objectives:\n  rto: backup.documentation.targets.rto\n  rpo: backup.documentation.targets.rpo\n\
         images:\n  - chart-harness.local/fixture-kvstore:1\n",
    );
    copy_dir(
        &workspace_root().join("fixtures/backup-restore/make"),
        &repo.root().join("make"),
    );
    let charts = charts();
    for (name, settings, _) in &charts {
        let dir = repo.add_chart_as("charts", "kvstore", name);
        for case in ["ha", "ephemeral"] {
            std::fs::remove_file(dir.join(format!("ci/{case}-values.yaml"))).unwrap();
        }
        std::fs::write(dir.join("ci/harness.yaml"), settings).unwrap();
    }
    // A claim that nothing ties to the release, kept when its StatefulSet goes: the
    // selector (which the StatefulSet controller copies onto its claims) lacks the
    // instance label, as older charts' do, and the retention policy keeps the claim.
    let retained = repo
        .root()
        .join("fixtures/charts/kvstore-retained/templates");
    let edit = |file: &str, from: &str, to: &str| {
        let path = retained.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{}: {from}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "statefulset.yaml",
        "    whenDeleted: Delete\n",
        "    whenDeleted: Retain\n",
    );
    edit(
        "_helpers.tpl",
        "app.kubernetes.io/name: {{ include \"kvstore.name\" . }}\napp.kubernetes.io/instance: {{ .Release.Name }}\n",
        "app.kubernetes.io/name: {{ include \"kvstore.name\" . }}\n",
    );
    edit(
        "_helpers.tpl",
        "{{ include \"kvstore.selectorLabels\" . }}\n",
        "{{ include \"kvstore.selectorLabels\" . }}\napp.kubernetes.io/instance: {{ .Release.Name }}\n",
    );
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "charts and their make targets"]);
    // kvstore-across is backed up at v1 and restored into 0.5.0, whose server config
    // differs (a larger maxmemory).
    repo.git(&["tag", "v1"]);
    let across = repo.root().join("fixtures/charts/kvstore-across");
    for (file, from, to) in [
        ("Chart.yaml", "version: 0.4.1", "version: 0.5.0"),
        ("values.yaml", "maxmemory: 64mb", "maxmemory: 96mb"),
    ] {
        let path = across.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{}: {from}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
    repo.git(&["commit", "-qam", "kvstore-across 0.5.0"]);

    let outcomes = repo.run_on(ProviderKind::Kind, &[Suite::BackupRestore], 3);
    assert_eq!(outcomes.len(), charts.len());
    let find = |chart: &str| outcomes.iter().find(|o| o.id.chart == chart).unwrap();

    for good in [
        "kvstore",
        "kvstore-jobs",
        "kvstore-namespace",
        "kvstore-across",
    ] {
        let outcome = find(good);
        assert!(outcome.passed(), "{}", outcome.failure_message());
        let record = outcome.backup_restore.as_ref().unwrap();
        let rto = record.rto_seconds.expect("the RTO was measured");
        assert!(rto > 0.0 && rto < 3600.0, "{record:?}");
        assert_eq!(record.rto_objective.as_ref().unwrap().text, "< 1 hour");
        assert_eq!(record.rpo_schedule_seconds, Some(86_400.0), "{record:?}");
        assert_eq!(record.rpo_objective.as_ref().unwrap().text, "24 hours");
        testing::assert_phases_passed(
            outcome,
            &[
                "disaster",
                "reinstall",
                "disaster-is-real",
                "restore[0]",
                "verify-absent[0]",
                "rto",
                "recovery-is-new",
                "work-tree",
            ],
        );
        // The figures of the closing note: every phase and its time.
        eprintln!(
            "{good} backup-restore on kind: RTO {rto:.1} s; {}",
            testing::phase_timings(outcome)
        );
    }
    let kvstore = find("kvstore").backup_restore.clone().unwrap();
    assert_eq!(kvstore.disaster, "uninstall");
    assert_eq!(kvstore.backup_files.len(), 1, "{kvstore:?}");
    assert_eq!(
        find("kvstore-jobs")
            .backup_restore
            .as_ref()
            .unwrap()
            .disaster,
        "scale-to-zero-and-wipe"
    );
    assert_eq!(
        find("kvstore-namespace")
            .backup_restore
            .as_ref()
            .unwrap()
            .disaster,
        "delete-namespace"
    );
    let across = find("kvstore-across").backup_restore.clone().unwrap();
    assert!(
        across.across_upgrade.as_deref().is_some_and(|said| {
            said.starts_with("backed up from git:v1 (") && said.contains("(version 0.4.1)")
        }),
        "{across:?}"
    );

    for (name, _, failing) in charts.iter().filter(|(_, _, failing)| !failing.is_empty()) {
        let outcome = find(name);
        let failed: Vec<&str> = outcome.failed_phases().map(|p| p.name.as_str()).collect();
        assert_eq!(failed, *failing, "{name}: {}", outcome.failure_message());
        for phase in *failing {
            insta::assert_snapshot!(
                format!("backup-restore-{name}-{phase}"),
                pinned(outcome, phase, &repo)
            );
        }
    }
    // The hung step was killed with its process group: no `sleep 617` is left.
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 617"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the hung step's background process survived: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(
        repo.root().join("tmp/kvstore-backups").is_dir(),
        "kvstore-into-repo really wrote into the tree"
    );
}
