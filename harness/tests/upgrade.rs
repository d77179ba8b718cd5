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
