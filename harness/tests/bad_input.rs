//! Bad input gets a clear error: no panic, no hang, no partial report.

mod testing;

use std::time::{Duration, Instant};

use chart_harness::plan::Suite;
use chart_harness::session::Session;
use testing::TempRepo;

fn open_error(repo: &TempRepo) -> String {
    match Session::open(repo.root()) {
        Ok(_) => panic!("the session should not open"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn malformed_config_names_file_and_line() {
    let repo = TempRepo::new();
    std::fs::write(
        repo.root().join("chart-harness.yaml"),
        "chart-dirs:\n  - charts\n report-dir: [\n",
    )
    .unwrap();
    let message = open_error(&repo);
    assert!(message.contains("chart-harness.yaml"), "{message}");
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let repo = TempRepo::new();
    let mut bomb = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for level in b'b'..=b'j' {
        let prev = (level - 1) as char;
        let this = level as char;
        bomb.push_str(&format!("{this}: &{this} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    std::fs::write(repo.root().join("chart-harness.yaml"), bomb).unwrap();
    let started = Instant::now();
    let message = open_error(&repo);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(message.contains("chart-harness.yaml"), "{message}");
}

#[test]
fn symlink_loop_in_chart_dirs_is_an_error() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    std::fs::create_dir(repo.root().join("fixtures/charts/team")).unwrap();
    std::os::unix::fs::symlink(
        repo.root().join("fixtures/charts"),
        repo.root().join("fixtures/charts/team/loop"),
    )
    .unwrap();
    let message = open_error(&repo);
    assert!(message.contains("loop"), "{message}");
}

#[test]
fn chart_path_with_spaces_and_shell_metacharacters_runs_literally() {
    let parent = tempfile::tempdir().unwrap();
    let odd = parent.path().join("team charts; $(touch pwned) & `id`");
    std::fs::create_dir_all(&odd).unwrap();
    let repo = TempRepo::in_dir(tempfile::tempdir_in(&odd).unwrap());
    repo.add_chart("charts", "web");
    let outcomes = repo.run(&[Suite::Lint, Suite::Template]);
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}", outcome.failure_message());
    }
    assert!(!outcomes.is_empty());
    assert!(!parent.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());
}

#[test]
fn unreadable_values_file_is_reported_not_panicked() {
    let repo = TempRepo::new();
    let chart = repo.add_chart("charts", "web");
    // Root reads any file whatever its mode, so make the file unreadable by making it
    // a directory: reading it fails for every user.
    std::fs::remove_file(chart.join("values.yaml")).unwrap();
    std::fs::create_dir(chart.join("values.yaml")).unwrap();
    let outcomes = repo.run(&[Suite::Lint]);
    let message: String = outcomes.iter().map(|o| o.failure_message()).collect();
    assert!(outcomes.iter().all(|o| !o.passed()));
    assert!(
        message.contains("values.yaml") && message.contains("[yaml]"),
        "{message}"
    );
}

#[test]
fn invalid_lintconf_names_the_file_and_what_is_wrong_unless_validate_yaml_is_off() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    std::fs::write(
        repo.root().join("lintconf.yaml"),
        "rules:\n  trailing-space: enable\n",
    )
    .unwrap();
    let message = open_error(&repo);
    assert!(
        message.starts_with(
            "yamllint configuration lintconf.yaml: invalid config: no such rule: \"trailing-space\""
        ),
        "{message}"
    );
    assert!(message.contains("`lint-conf`"), "{message}");

    repo.write_config("validate-yaml: false\n");
    assert!(Session::open(repo.root()).is_ok());
}

#[test]
fn repository_lintconf_drives_the_yamllint_phase() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    // The good fixture passes ct's default; this configuration fails its Chart.yaml.
    std::fs::write(
        repo.root().join("lintconf.yaml"),
        "rules:\n  document-start: enable\n",
    )
    .unwrap();
    let outcomes = repo.run(&[Suite::Lint]);
    let phase = outcomes[0]
        .phases
        .iter()
        .find(|phase| phase.name == "yamllint")
        .expect("a yamllint phase");
    let first = phase.problems[0].to_string();
    assert_eq!(
        first,
        "fixtures/charts/web/Chart.yaml:1:1: [error] missing document start \"---\" (document-start)"
    );
    assert!(
        phase
            .problems
            .last()
            .unwrap()
            .message
            .ends_with("change their rules in lintconf.yaml"),
        "{:?}",
        phase.problems
    );
}
