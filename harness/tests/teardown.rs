//! Ctrl-C in the middle of an install, and SIGINT or SIGTERM at any moment of a cluster's
//! start: the run stops with 130 and leaves no process, no cluster, no kubeconfig and no
//! kwokctl work directory behind (the namespaces went with the cluster).

mod testing;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testing::{TempRepo, processes_mentioning};

/// The harness's temporary cluster files in the temp directory.
fn cluster_files() -> BTreeSet<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("chart-harness-kwok-") || name.starts_with("chart-harness-local-")
        })
        .collect()
}

#[test]
fn sigint_during_install_leaves_nothing_behind() {
    let repo = TempRepo::new();
    // It never becomes ready, so the run is certain to be busy with it when interrupted.
    repo.add_chart("broken", "slow-to-ready");
    let before = cluster_files();
    let mut run = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["integration", "--cluster", "local"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until the release is being installed or waited for: a kwokctl work
    // directory of ours exists and helm has been started on the chart.
    let chart_dir = repo.root().join("fixtures/broken/slow-to-ready");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut workdirs;
    loop {
        workdirs = cluster_files()
            .difference(&before)
            .cloned()
            .collect::<Vec<_>>();
        let helm_started = !processes_mentioning(&chart_dir.to_string_lossy()).is_empty();
        if helm_started || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!workdirs.is_empty(), "the run made no cluster within 120 s");
    // The install itself is quick; readiness is what the run waits on now.
    std::thread::sleep(Duration::from_secs(2));
    unsafe {
        libc::kill(run.id() as libc::pid_t, libc::SIGINT);
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not stop within 60 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = run.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(status.code(), Some(130), "{text}");

    let left: Vec<_> = cluster_files().difference(&before).cloned().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    for workdir in &workdirs {
        let running = processes_mentioning(&workdir.to_string_lossy());
        assert!(running.is_empty(), "still running: {running:?}");
    }
    assert!(processes_mentioning(&repo.root().to_string_lossy()).is_empty());
}

/// A run on the local control plane with a temporary directory of its own, so whatever
/// its cluster leaves is found there and in the processes that name it.
struct IsolatedRun {
    tmp: tempfile::TempDir,
    child: std::process::Child,
}

impl IsolatedRun {
    fn start(repo: &TempRepo) -> IsolatedRun {
        let tmp = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
            .arg("--repo")
            .arg(repo.root())
            .args(["integration", "--cluster", "local"])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        IsolatedRun { tmp, child }
    }

    /// Sends `signal`, then waits (bounded) for the run to end; returns its exit status
    /// and output.
    fn stop_with(mut self, signal: libc::c_int) -> (std::process::ExitStatus, String, Self) {
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("the run did not stop within 60 s of signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut text = String::new();
        for stream in [
            self.child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read>),
            self.child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read>),
        ]
        .into_iter()
        .flatten()
        {
            let mut stream = stream;
            let _ = stream.read_to_string(&mut text);
        }
        (status, text, self)
    }

    /// What the cluster left: files of ours in the run's temporary directory, and
    /// processes that name it.
    fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("chart-harness-"))
            .collect();
        left.extend(
            processes_mentioning(&self.tmp.path().to_string_lossy())
                .into_iter()
                .map(|(pid, cmdline)| format!("process {pid}: {cmdline}")),
        );
        left
    }
}

use std::io::Read as _;

/// The cluster starts as soon as the run does (the first trial needs it); the signal
/// lands at 0, 0.5, 1, 2 and 4 s into that start: before kwokctl runs, while etcd and
/// the API server come up, and while the nodes are added.
fn signal_during_cluster_start_leaves_nothing(signal: libc::c_int) {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    for delay_ms in [0u64, 500, 1000, 2000, 4000] {
        let run = IsolatedRun::start(&repo);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let (status, text, run) = run.stop_with(signal);
        // At 0 s the signal may beat the handler: then the default action ends the
        // process before it has started anything.
        use std::os::unix::process::ExitStatusExt as _;
        assert!(
            status.code() == Some(130) || status.signal() == Some(signal),
            "signal {signal} after {delay_ms} ms: {status:?}\n{text}"
        );
        let left = run.leftovers();
        assert!(
            left.is_empty(),
            "signal {signal} after {delay_ms} ms left behind: {left:#?}\n{text}"
        );
    }
}

#[test]
fn sigint_during_cluster_start_leaves_nothing_behind() {
    signal_during_cluster_start_leaves_nothing(libc::SIGINT);
}

#[test]
fn sigterm_during_cluster_start_leaves_nothing_behind() {
    signal_during_cluster_start_leaves_nothing(libc::SIGTERM);
}

#[test]
fn sighup_during_cluster_start_leaves_nothing_behind() {
    signal_during_cluster_start_leaves_nothing(libc::SIGHUP);
}

/// SIGKILL (a cancelled CI job, the OOM killer) gives the run no chance to clean up:
/// its cluster keeps running. The next run, whatever it runs, removes it at its start
/// and says so, and no process of the killed run is left.
#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "slow-to-ready");
    let mut run = IsolatedRun::start(&repo);
    let chart_dir = repo.root().join("fixtures/broken/slow-to-ready");
    let deadline = Instant::now() + Duration::from_secs(120);
    while processes_mentioning(&chart_dir.to_string_lossy()).is_empty() {
        assert!(Instant::now() < deadline, "helm never started on the chart");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    assert!(
        !run.leftovers().is_empty(),
        "a killed run should have left its cluster running"
    );

    let next = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "--jobs", "1"])
        .env("TMPDIR", run.tmp.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&next.stdout),
        String::from_utf8_lossy(&next.stderr)
    );
    assert!(
        text.contains("removed the local cluster") && text.contains("left behind"),
        "{text}"
    );
    let left = run.leftovers();
    assert!(left.is_empty(), "left behind after the next run: {left:#?}");
    assert!(processes_mentioning(&repo.root().to_string_lossy()).is_empty());
}

/// The phases of a trial's report, as (name, status) pairs.
fn phases_of(report: &serde_json::Value, chart: &str) -> Vec<(String, String)> {
    let trial = report["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|trial| trial["id"]["chart"] == chart)
        .unwrap_or_else(|| panic!("no trial of {chart}: {report}"));
    trial["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phase| {
            let status = match phase["status"].as_str() {
                Some(status) => status.to_string(),
                None => phase["status"].to_string(),
            };
            (phase["name"].as_str().unwrap().to_string(), status)
        })
        .collect()
}

/// An integration trial that runs out of time stops its own work at the timeout, keeps
/// the phases it finished and the one it was in, then collects its diagnostics and
/// removes what it installed; the trial is reported as timed out.
#[test]
fn a_timed_out_integration_trial_keeps_its_phases_and_is_diagnosed_and_cleaned_up() {
    let repo = TempRepo::new();
    let chart = repo.add_chart("broken", "slow-to-ready");
    // Readiness would give up after 60 s; the trial's timeout comes first.
    std::fs::write(
        chart.join("ci/harness.yaml"),
        "readiness-timeout: 60s\ntimeout: 12s\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["integration", "--cluster", "local"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.root().join("report/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["timed_out"], 1, "{text}");
    let phases = phases_of(&report, "slow-to-ready");
    let names: Vec<&str> = phases.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "install",
        "timeout",
        "diagnostics",
        "uninstall",
        "leftovers",
    ] {
        assert!(names.contains(&expected), "no {expected} phase: {phases:?}");
    }
    assert!(
        phases.contains(&("install".to_string(), "passed".to_string())),
        "{phases:?}"
    );
    let stopped = report["trials"][0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|phase| {
            phase["reason"]
                .as_str()
                .is_some_and(|reason| reason.starts_with("stopped by the trial's timeout"))
        })
        .cloned();
    let stopped = stopped.unwrap_or_else(|| panic!("the phase it was in is missing: {phases:?}"));
    assert!(
        stopped["name"].as_str().unwrap().starts_with("ready"),
        "{stopped}"
    );
    assert!(
        phases.contains(&("leftovers".to_string(), "passed".to_string())),
        "{phases:?}"
    );
}

/// Ctrl-C during an install: the cancelled trial still reports the phases it finished
/// and the one it was in, with their times.
#[test]
fn an_interrupted_trial_keeps_the_phases_it_ran() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "slow-to-ready");
    let run = IsolatedRun::start(&repo);
    let chart_dir = repo.root().join("fixtures/broken/slow-to-ready");
    let deadline = Instant::now() + Duration::from_secs(120);
    while processes_mentioning(&chart_dir.to_string_lossy()).is_empty() {
        assert!(Instant::now() < deadline, "helm never started on the chart");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Into the readiness wait, which never ends for this chart.
    std::thread::sleep(Duration::from_secs(3));
    let (status, text, _run) = run.stop_with(libc::SIGINT);
    assert_eq!(status.code(), Some(130), "{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.root().join("report/report.json")).unwrap())
            .unwrap();
    let trial = &report["trials"][0];
    assert_eq!(trial["status"], "cancelled", "{trial}");
    assert!(trial["duration_ms"].as_f64().unwrap() > 1000.0, "{trial}");
    let phases = phases_of(&report, "slow-to-ready");
    assert!(
        phases.contains(&("install".to_string(), "passed".to_string())),
        "{phases:?}"
    );
    let last = &trial["phases"].as_array().unwrap().last().unwrap();
    assert!(
        last.to_string()
            .contains("stopped by the run was interrupted"),
        "{last}"
    );
}
