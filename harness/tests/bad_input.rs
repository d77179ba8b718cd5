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

/// The lintconf is looked up when the session opens and read only by a run that lints
/// with `validate-yaml` on; then its error names the file, why that file, and the fix.
#[test]
fn invalid_lintconf_names_the_file_the_lookup_and_what_is_wrong_unless_validate_yaml_is_off() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    std::fs::write(
        repo.root().join("lintconf.yaml"),
        "rules:\n  trailing-space: enable\n",
    )
    .unwrap();
    let session = Session::open(repo.root()).expect("opening reads no lintconf");
    let message = session.yamllint().unwrap_err().to_string();
    assert!(
        message.starts_with(
            "yamllint configuration lintconf.yaml (the first of ct's search locations (., .ct, $HOME/.ct, /usr/local/etc/ct, /etc/ct) that has one): invalid config: no such rule: \"trailing-space\""
        ),
        "{message}"
    );
    assert!(message.contains("`lint-conf`"), "{message}");

    repo.write_config("check-version-increment: false\nvalidate-yaml: false\n");
    let outcomes = repo.run(&[Suite::Lint]);
    assert!(
        outcomes.iter().all(|outcome| outcome.passed()),
        "{}",
        outcomes[0].failure_message()
    );
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

/// Makes a FIFO (a named pipe nobody writes to): reading it blocks forever.
fn mkfifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo only reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

fn binary(repo: &TempRepo, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chart-harness"));
    command
        .arg("--repo")
        .arg(repo.root())
        .args(args)
        .env("CI", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// A FIFO as a case's values file fails the chart's trials at once, naming it, instead
/// of hanging on the read (it hung for 614 s, deaf to the timeout and to signals).
#[test]
fn a_fifo_values_file_fails_at_once() {
    let repo = TempRepo::new();
    let web = repo.add_chart("charts", "web");
    mkfifo(&web.join("ci/evil-values.yaml"));
    for suite in ["lint", "template"] {
        let started = Instant::now();
        let output = binary(&repo, &[suite, "web"]).output().unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{out}");
        assert_eq!(output.status.code(), Some(1), "{suite}: {out}");
        assert!(
            out.contains("ci/evil-values.yaml") && out.contains("a FIFO"),
            "{suite}: {out}"
        );
    }
}

/// Something of the user's that blocks on a FIFO (here an additional command reading
/// one) is bounded by the trial timeout, and the run answers SIGINT at once.
#[test]
fn a_command_stuck_on_a_fifo_is_bounded_by_the_trial_timeout_and_interruptible() {
    let repo = TempRepo::new();
    let blocker = repo.root().join("blocker");
    mkfifo(&blocker);
    repo.write_config(&format!(
        "check-version-increment: false\ntrial-timeout: 4s\nadditional-commands:\n  - cat {}\n",
        blocker.display()
    ));
    repo.add_chart("charts", "web");

    let started = Instant::now();
    let output = binary(&repo, &["lint", "web", "--jobs", "3"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(out.matches("timed out after 4.0").count(), 3, "{out}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    // Each timed-out trial keeps the phases it finished and the one it was stuck in.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.root().join("report/report.json")).unwrap())
            .unwrap();
    for trial in report["trials"].as_array().unwrap() {
        let phase = |name: &str| {
            trial["phases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|phase| phase["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} phase: {trial}"))
        };
        assert_eq!(phase("helm-lint")["status"], "passed", "{trial}");
        let stuck = phase("additional-commands");
        assert!(
            stuck["reason"]
                .as_str()
                .is_some_and(|reason| reason.starts_with("stopped by the trial's timeout")),
            "{stuck}"
        );
        assert_eq!(phase("timeout")["status"], "failed", "{trial}");
    }

    let mut run = binary(&repo, &["lint", "web"]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill only sends a signal to the child just spawned.
    unsafe {
        libc::kill(run.id() as libc::pid_t, libc::SIGINT);
    }
    let interrupted = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
}

/// A valid values file over the parser's default size limits (300,000 keys): the
/// problem names the limit and the key that raises it, and `yaml-limits` raises it.
#[test]
fn a_huge_values_file_names_the_limit_and_yaml_limits_raises_it() {
    let repo = TempRepo::new();
    let chart = repo.root().join("fixtures/charts/big");
    std::fs::create_dir_all(chart.join("ci")).unwrap();
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: big\ndescription: big values\nversion: 0.1.0\nmaintainers:\n  - name: team\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "name: big\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n",
    )
    .unwrap();
    let huge: String = (0..300_000).map(|i| format!("key{i}: {i}\n")).collect();
    std::fs::write(chart.join("ci/huge-values.yaml"), huge).unwrap();
    let yaml_phase = |repo: &TempRepo| -> serde_json::Value {
        binary(repo, &["lint", "big"]).output().unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo.root().join("report/report.json")).unwrap())
                .unwrap();
        report["trials"][0]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|phase| phase["name"] == "yaml")
            .cloned()
            .unwrap()
    };
    let phase = yaml_phase(&repo);
    assert_eq!(phase["status"], "failed", "{phase}");
    let message = phase["problems"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("more than 250000 nodes (limit `max-nodes`)")
            && message.contains("yaml-limits: {max-nodes: 500000}"),
        "{message}"
    );
    assert!(!message.contains("fix the YAML syntax"), "{message}");

    repo.write_config("yaml-limits: {max-nodes: 1000000, max-events: 2000000}\n");
    let phase = yaml_phase(&repo);
    assert_eq!(phase["status"], "passed", "{phase}");
}
