//! The binary end to end: exit codes, output, and the report files.

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use testing::TempRepo;

fn chart_harness(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("CI", "true")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn passing_run_exits_zero_and_writes_reports() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let output = chart_harness(repo.root(), &["all", "--jobs", "3", "--cluster", "local"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim().starts_with("9 passed, 0 failed")),
        "{stdout}"
    );

    let junit = std::fs::read_to_string(repo.root().join("report/junit.xml")).unwrap();
    assert!(junit.contains("web::ha"), "{junit}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("report/report.json")).unwrap(),
    )
    .unwrap();
    let trials = json["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 9);
    assert!(
        json["cluster"]
            .as_str()
            .is_some_and(|c| c.contains("no container runs")),
        "the report says pods were simulated: {}",
        json["cluster"]
    );
    assert!(stdout.contains("Cluster: local control plane"), "{stdout}");
    for trial in trials {
        assert_eq!(trial["status"], "passed");
        let phases: Vec<&str> = trial["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(!phases.is_empty());
        assert!(trial["phases"][0]["duration_ms"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn failing_run_exits_one_and_names_chart_and_check() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "name-mismatch");
    let output = chart_harness(repo.root(), &["lint"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("lint::name-mismatch::default"), "{out}");
    assert!(out.contains("[chart-yaml]"), "{out}");
}

#[test]
fn listing_runs_no_helm() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args(["--repo"])
        .arg(repo.root())
        .arg("list")
        .env("HELM", "/nonexistent/helm")
        .env("HELM3", "/nonexistent/helm")
        .env("HELM4", "/nonexistent/helm")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let listed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "lint::web::default",
            "lint::web::ha",
            "lint::web::no-ingress",
            "template::web::default",
            "template::web::ha",
            "template::web::no-ingress",
            "integration::web::default",
            "integration::web::ha",
            "integration::web::no-ingress"
        ]
    );
}

#[test]
fn missing_helm_is_a_clear_error_and_leaves_no_report() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "--helm", "4"])
        .env("HELM4", "/nonexistent/helm4")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = text(&output);
    assert!(
        out.contains("helm") && out.contains("tools install"),
        "{out}"
    );
    assert!(!repo.root().join("report/junit.xml").exists());
    assert!(!repo.root().join("report/report.json").exists());
}

#[test]
fn wrong_helm_version_names_found_and_needed() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let fake = repo.root().join("old-helm");
    std::fs::write(&fake, "#!/bin/sh\necho v4.0.0\n").unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "--helm", "4"])
        .env("HELM4", &fake)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("v4.0.0") && out.contains("4.3.1"), "{out}");
    assert!(!repo.root().join("report/report.json").exists());
}

#[test]
fn changed_runs_only_the_changed_charts() {
    let repo = TempRepo::new();
    let web = repo.add_chart("charts", "web");
    let kvstore = repo.add_chart("charts", "kvstore");
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "both charts"]);
    repo.git(&["checkout", "-qb", "feature"]);
    // A new file counts once git knows it, as in ct's `git diff <merge-base>`; an
    // untracked one (what a tool leaves behind) never does.
    std::fs::write(kvstore.join("README.md"), "# kvstore\n").unwrap();
    repo.git(&["add", "fixtures/charts/kvstore/README.md"]);
    std::fs::write(web.join("Chart.lock"), "dependencies: []\n").unwrap();

    let listed = chart_harness(repo.root(), &["list-changed", "--since", "main"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "kvstore",
        "{}",
        text(&listed)
    );

    let output = chart_harness(repo.root(), &["lint", "--changed", "--since", "main"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("report/report.json")).unwrap(),
    )
    .unwrap();
    let charts: Vec<&str> = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"]["chart"].as_str().unwrap())
        .collect();
    assert!(
        !charts.is_empty() && charts.iter().all(|c| *c == "kvstore"),
        "{charts:?}"
    );
}

#[test]
fn suites_prints_the_registered_suites_for_ci() {
    let repo = TempRepo::new();
    let output = chart_harness(repo.root(), &["suites"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "lint\ntemplate\nintegration\n"
    );
}

#[test]
fn listing_keeps_skipped_trials_with_their_reason() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "common-lib");
    let output = chart_harness(repo.root(), &["list"]);
    assert!(output.status.success(), "{}", text(&output));
    let library = "(skipped: library charts render and install nothing on their own; the charts that use them are tested instead)";
    assert_eq!(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [
            "lint::common-lib::default".to_string(),
            format!("template::common-lib::default {library}"),
            format!("integration::common-lib::default {library}"),
        ]
    );
}

#[test]
fn a_run_of_only_skipped_trials_passes_and_counts_them() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "common-lib");
    let output = chart_harness(repo.root(), &["template"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some("0 passed, 0 failed, 1 skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("Ran 0 of 1 trial in"), "{stdout}");
}

/// `git status --porcelain` of the repository, one entry a line.
fn git_status(repo: &Path) -> String {
    let output = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn runs_leave_nothing_in_the_work_tree_but_the_report_directory() {
    let repo = TempRepo::new();
    // Both kinds of `file://` dependency: a sibling chart and one outside the chart dirs.
    for chart in ["shop", "api", "common-lib"] {
        repo.add_chart("charts", chart);
    }
    std::fs::write(repo.root().join(".gitignore"), ".tools\n").unwrap();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "charts"]);
    assert_eq!(git_status(repo.root()), "");

    // `all` installs the charts too, from the same copies.
    for args in [
        &["lint"][..],
        &["template"],
        &["all", "--cluster", "local", "--jobs", "3"],
    ] {
        let output = chart_harness(repo.root(), args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
        let status = git_status(repo.root());
        assert!(
            status.lines().all(|line| line.starts_with("?? report/")),
            "after {args:?}, only the report directory is new:\n{status}"
        );
    }

    std::fs::remove_dir_all(repo.root().join("report")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let output = chart_harness(
        repo.root(),
        &[
            "template",
            "--report-dir",
            &outside.path().to_string_lossy(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        git_status(repo.root()),
        "",
        "with the report directory outside"
    );
    assert!(outside.path().join("junit.xml").exists());

    let listed = chart_harness(repo.root(), &["list-changed", "--since", "HEAD"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "",
        "{}",
        text(&listed)
    );
}

/// The binary as a developer runs it locally: neither `CI` nor `INSTA_UPDATE` set, so
/// pending snapshots are written.
fn chart_harness_locally(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env_remove("CI")
        .env_remove("INSTA_UPDATE")
        .output()
        .unwrap()
}

#[test]
fn snapshots_are_off_until_opted_in() {
    let repo = TempRepo::new();
    let web = repo.add_chart("charts", "web");
    std::fs::remove_dir_all(web.join("ci/__snapshots__")).unwrap();
    let output = chart_harness_locally(repo.root(), &["template"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = std::fs::read_to_string(repo.root().join("report/report.json")).unwrap();
    assert!(
        report.contains("snapshots are opt-in: set `snapshots: true` in the config"),
        "{report}"
    );
    assert!(!web.join("ci/__snapshots__").exists());
}

#[test]
fn pending_snapshots_go_to_the_report_dir_and_are_reviewed_and_accepted() {
    let repo = TempRepo::new();
    let web = repo.add_chart("charts", "web");
    std::fs::remove_dir_all(web.join("ci/__snapshots__")).unwrap();
    repo.write_config("check-version-increment: false\nsnapshots: true\n");

    let output = chart_harness_locally(repo.root(), &["template", "web"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("chart-harness snapshots review web"), "{out}");
    assert!(!out.contains("cargo insta"), "{out}");
    assert!(
        !web.join("ci").join("__snapshots__").exists(),
        "nothing beside the chart"
    );
    let pending = repo
        .root()
        .join("report/snapshots/fixtures/charts/web/web__ha.snap.new");
    assert!(pending.is_file(), "{out}");

    let review = chart_harness_locally(repo.root(), &["snapshots", "review", "web"]);
    assert_eq!(review.status.code(), Some(0), "{}", text(&review));
    let diff = String::from_utf8_lossy(&review.stdout);
    assert!(
        diff.contains("+++ fixtures/charts/web/ci/__snapshots__/web__ha.snap (pending)")
            && diff.contains("+kind: Deployment")
            && diff.contains("3 pending"),
        "{diff}"
    );

    let accept = chart_harness_locally(repo.root(), &["snapshots", "accept"]);
    assert_eq!(accept.status.code(), Some(0), "{}", text(&accept));
    assert!(web.join("ci/__snapshots__/web__ha.snap").is_file());
    assert!(!pending.exists());

    // CI checks against the accepted snapshots and writes nothing.
    let checked = chart_harness(repo.root(), &["template", "web"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));
    let none = chart_harness_locally(repo.root(), &["snapshots", "review"]);
    assert!(
        text(&none).contains("no pending snapshots"),
        "{}",
        text(&none)
    );
}

#[test]
fn a_missing_file_dependency_names_the_users_path_not_the_scratch_copy() {
    let repo = TempRepo::new();
    let shop = repo.add_chart("charts", "shop");
    std::fs::remove_dir_all(repo.root().join("fixtures/subcharts/cart")).unwrap();
    let output = chart_harness(repo.root(), &["template", "shop"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = text(&output);
    let missing = repo.root().join("fixtures/subcharts/cart");
    assert!(
        out.contains("fixtures/charts/shop/Chart.yaml")
            && out.contains(&format!("directory {} not found", missing.display()))
            && out.contains("fix the dependency's `repository: file://...` path")
            && !out.contains("/deps/"),
        "{out}"
    );
    assert!(
        !shop.join("charts").exists(),
        "nothing is built into the chart"
    );
}
