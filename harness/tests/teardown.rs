//! Ctrl-C in the middle of an install: the run stops with 130 and leaves no process,
//! no cluster, no kubeconfig and no kwokctl work directory behind (the namespaces went
//! with the cluster).

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
    repo.add_chart("broken", "never-ready");
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
    let chart_dir = repo.root().join("fixtures/broken/never-ready");
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
