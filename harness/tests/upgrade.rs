//! ct's `upgrade` and `skip-missing-values` on the local control plane: a throw-away git
//! repository whose feature branch changes charts since `main`, run through the
//! integration suite as the CLI runs it.

mod testing;

use chart_harness::plan::Suite;
use chart_harness::suites::{PhaseStatus, TrialOutcome};
use testing::TempRepo;

fn phase<'o>(outcome: &'o TrialOutcome, name: &str) -> &'o PhaseStatus {
    let names: Vec<&str> = outcome.phases.iter().map(|p| p.name.as_str()).collect();
    &outcome
        .phases
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{}: no phase {name} in {names:?}", outcome.id))
        .status
}

fn assert_passed(outcome: &TrialOutcome, names: &[&str]) {
    for name in names {
        assert_eq!(
            phase(outcome, name),
            &PhaseStatus::Passed,
            "{}: {name}",
            outcome.id
        );
    }
}

fn has_phase_starting(outcome: &TrialOutcome, prefix: &str, status: &PhaseStatus) -> bool {
    outcome
        .phases
        .iter()
        .any(|p| p.name.starts_with(prefix) && &p.status == status)
}

fn replace_in(repo: &TempRepo, file: &str, from: &str, to: &str) {
    let path = repo.root().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn remove(repo: &TempRepo, file: &str) {
    std::fs::remove_file(repo.root().join(file)).unwrap();
}

#[test]
fn upgrade_installs_the_previous_revision_then_upgrades_and_skips_as_ct_does() {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\nupgrade: true\nskip-missing-values: true\nsince: main\n",
    );
    std::fs::write(repo.root().join(".gitignore"), "report/\n.tools\n").unwrap();
    // api (with a `file://` library) changes compatibly; web gets a major bump.
    repo.add_chart("charts", "common-lib");
    repo.add_chart("charts", "api");
    repo.add_chart("charts", "web");
    remove(&repo, "fixtures/charts/api/ci/override-names-values.yaml");
    remove(&repo, "fixtures/charts/web/ci/ha-values.yaml");
    remove(&repo, "fixtures/charts/web/ci/no-ingress-values.yaml");
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "main"]);
    repo.git(&["checkout", "-qb", "feature"]);
    replace_in(
        &repo,
        "fixtures/charts/api/Chart.yaml",
        "version: 2.0.3",
        "version: 2.1.0",
    );
    replace_in(
        &repo,
        "fixtures/charts/api/ci/default-values.yaml",
        "instanceName: api-default",
        "instanceName: api-upgraded",
    );
    // The previous revision's nodeport values file is gone: skip-missing-values.
    remove(&repo, "fixtures/charts/api/ci/nodeport-values.yaml");
    replace_in(
        &repo,
        "fixtures/charts/web/Chart.yaml",
        "version: 1.2.0",
        "version: 2.0.0",
    );
    // New on this branch: no previous revision.
    repo.add_chart_as("charts", "web", "blog");
    remove(&repo, "fixtures/charts/blog/ci/ha-values.yaml");
    remove(&repo, "fixtures/charts/blog/ci/no-ingress-values.yaml");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "feature"]);

    let outcomes = repo.run_with_jobs(&[Suite::Integration], 2);
    let trial = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.id.to_string() == id)
            .unwrap_or_else(|| panic!("no trial {id}"))
    };
    for outcome in &outcomes {
        if outcome.id.chart != "common-lib" {
            assert!(outcome.passed(), "{}", outcome.failure_message());
        }
    }

    let api = trial("integration::api::default");
    // Shown with --nocapture: what the upgrade adds to a trial, phase by phase.
    for p in &api.phases {
        println!(
            "{:<48} {:>8.1} ms  {:?}",
            p.name,
            p.duration.as_secs_f64() * 1000.0,
            p.status
        );
    }
    assert_passed(
        api,
        &[
            "previous-revision",
            "from-previous:install",
            "from-previous:upgrade",
            "from-previous:uninstall",
            "from-previous:namespace-delete",
            "from-previous:leftovers",
            "in-place:install",
            "in-place:upgrade",
            "install",
            "leftovers",
        ],
    );
    for prefix in [
        "from-previous:ready:Deployment/",
        "from-previous:upgraded-ready:Deployment/",
        "in-place:upgraded-ready:Deployment/",
    ] {
        assert!(
            has_phase_starting(api, prefix, &PhaseStatus::Passed),
            "{prefix}"
        );
    }
    // ct's order: upgrade from the previous revision, upgrade in place, then install.
    let position = |name: &str| api.phases.iter().position(|p| p.name == name).unwrap();
    assert!(position("from-previous:upgrade") < position("in-place:install"));
    assert!(position("in-place:leftovers") < position("install"));
    assert_eq!(
        phase(api, "from-previous[nodeport-values.yaml]"),
        &PhaseStatus::NotRun(
            "Upgrade testing for values file \"nodeport-values.yaml\" skipped because a corresponding values file was not found in fixtures/charts/api/ci".into()
        )
    );

    let web = trial("integration::web::default");
    assert_eq!(
        phase(web, "previous-revision"),
        &PhaseStatus::NotRun(
            "Skipping upgrade test of \"fixtures/charts/web\" because: 2.0.0 does not have same major version as 1.2.0".into()
        )
    );
    assert!(!has_phase_starting(
        web,
        "from-previous",
        &PhaseStatus::Passed
    ));
    assert_passed(web, &["in-place:upgrade", "install", "helm-test"]);

    let blog = trial("integration::blog::default");
    assert_eq!(
        phase(blog, "previous-revision"),
        &PhaseStatus::NotRun(
            "Skipping upgrade test of \"fixtures/charts/blog\" because: chart has no previous revision".into()
        )
    );
    assert_passed(blog, &["in-place:upgrade", "install"]);

    // Nothing of the previous revision was written into the repository.
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain", "--ignored=no"])
        .current_dir(repo.root())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
    let worktrees = std::process::Command::new("git")
        .args(["worktree", "list"])
        .current_dir(repo.root())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&worktrees.stdout).lines().count(),
        1
    );
}

/// A small chart written in place: a Deployment whose selector comes from the values,
/// and `extra` templates.
fn write_chart(repo: &TempRepo, name: &str, version: &str, selector: &str, extra: &[(&str, &str)]) {
    let dir = repo.root().join("fixtures/charts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\ndescription: upgrade test\nversion: {version}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), format!("selector: {selector}\n")).unwrap();
    std::fs::write(
        dir.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {{ .Values.selector }}\n  template:\n    metadata:\n      labels:\n        app: {{ .Values.selector }}\n    spec:\n      containers:\n        - name: app\n          image: registry.invalid/app:1\n",
    )
    .unwrap();
    for (file, text) in extra {
        std::fs::write(dir.join("templates").join(file), text).unwrap();
    }
}

#[test]
fn a_failed_upgrade_fails_the_trial_and_a_broken_previous_revision_is_ignored_as_in_ct() {
    let repo = TempRepo::new();
    repo.write_config("check-version-increment: false\nupgrade: true\nsince: main\n");
    std::fs::write(repo.root().join(".gitignore"), "report/\n.tools\n").unwrap();
    // The API server refuses this name, so the previous revision never installs.
    let bad_config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n";
    write_chart(
        &repo,
        "refused",
        "1.0.0",
        "a",
        &[("cm.yaml", bad_config_map)],
    );
    write_chart(&repo, "immutable", "1.0.0", "a", &[]);
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "main"]);
    repo.git(&["checkout", "-qb", "feature"]);
    write_chart(&repo, "refused", "1.0.1", "a", &[]);
    // A Deployment's selector is immutable: helm upgrade fails.
    write_chart(&repo, "immutable", "1.0.1", "b", &[]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "feature"]);

    let outcomes = repo.run_with_jobs(&[Suite::Integration], 2);
    let trial = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.id.to_string() == id)
            .unwrap_or_else(|| panic!("no trial {id}"))
    };

    let refused = trial("integration::refused::default");
    assert!(refused.passed(), "{}", refused.failure_message());
    let PhaseStatus::NotRun(reason) = phase(refused, "from-previous:install") else {
        panic!("{:?}", refused.phases);
    };
    assert!(
        reason.starts_with("Upgrade testing for release \"refused\" skipped because of previous revision installation error: ")
            && reason.contains("Bad_Name"),
        "{reason}"
    );
    assert_passed(
        refused,
        &[
            "from-previous:namespace-delete",
            "in-place:upgrade",
            "install",
        ],
    );

    let immutable = trial("integration::immutable::default");
    assert!(!immutable.passed());
    assert_passed(immutable, &["previous-revision", "from-previous:install"]);
    let upgrade = immutable
        .phases
        .iter()
        .find(|p| p.name == "from-previous:upgrade")
        .unwrap();
    assert_eq!(upgrade.status, PhaseStatus::Failed);
    assert!(
        upgrade.problems[0].message.contains("immutable"),
        "{}",
        upgrade.problems[0].message
    );
    // Cleaned up, and, as in ct, nothing after a failed upgrade runs.
    assert_passed(
        immutable,
        &["from-previous:uninstall", "from-previous:namespace-delete"],
    );
    let names: Vec<&str> = immutable.phases.iter().map(|p| p.name.as_str()).collect();
    assert!(
        !names.contains(&"install") && !names.contains(&"in-place:install"),
        "{names:?}"
    );
    assert!(names.contains(&"namespace-delete"), "{names:?}");
}

#[test]
fn without_a_merge_base_the_upgrade_test_fails_the_trial_naming_the_fix() {
    let repo = TempRepo::new();
    // No `origin/main` and no `since`: ct stops with "failed identifying merge base".
    repo.write_config("check-version-increment: false\nupgrade: true\n");
    std::fs::write(repo.root().join(".gitignore"), "report/\n.tools\n").unwrap();
    write_chart(&repo, "lonely", "1.0.0", "a", &[]);
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "main"]);

    let outcomes = repo.run(&[Suite::Integration]);
    assert_eq!(outcomes.len(), 1);
    let lonely = &outcomes[0];
    assert!(!lonely.passed());
    let previous = lonely
        .phases
        .iter()
        .find(|p| p.name == "previous-revision")
        .unwrap();
    assert_eq!(previous.status, PhaseStatus::Failed);
    let message = &previous.problems[0].message;
    assert!(
        message.contains("needs the merge-base") && message.contains("--since"),
        "{message}"
    );
    let names: Vec<&str> = lonely.phases.iter().map(|p| p.name.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|n| *n == "install" || n.starts_with("in-place")),
        "{names:?}"
    );
}
