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
    repo.add_chart("charts", "web");
    let kvstore = repo.add_chart("charts", "kvstore");
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "both charts"]);
    repo.git(&["checkout", "-qb", "feature"]);
    std::fs::write(kvstore.join("README.md"), "# kvstore\n").unwrap();

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
fn a_config_parse_error_is_printed_once() {
    let repo = TempRepo::new();
    std::fs::write(
        repo.root().join("chart-harness.yaml"),
        "chart-dirs: [charts\n",
    )
    .unwrap();
    let output = chart_harness(repo.root(), &["lint"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("unclosed bracket").count(), 1, "{stderr}");
    assert!(stderr.contains("chart-harness.yaml:1"), "{stderr}");
}

/// `chart-harness list | head -1`: the reader goes away, and listing ends quietly with
/// success instead of panicking on the broken pipe.
#[test]
fn a_closed_pipe_ends_listing_quietly() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let (reader, writer) = std::io::pipe().unwrap();
    // No reader is left once the child starts: its first write meets a broken pipe.
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .arg("list")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
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
