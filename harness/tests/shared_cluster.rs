//! `cluster up` and `cluster down`, the shared cluster of nextest's setup script: a
//! running shared cluster is not replaced behind its users' backs, and the record file
//! (in the report directory, which a repository's config chooses) is never trusted to
//! name what to kill or delete.

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use testing::{TempRepo, processes_mentioning};

/// The binary with a temporary directory of its own, where its clusters live.
fn chart_harness(repo: &Path, tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("NEXTEST_ENV")
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

/// The `KUBECONFIG=` line `cluster up` prints.
fn kubeconfig(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("KUBECONFIG="))
        .unwrap()
        .to_string()
}

#[test]
fn a_running_shared_cluster_is_replaced_only_when_asked() {
    let repo = TempRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let up = |args: &[&str]| {
        let mut all = vec!["cluster", "up", "--cluster", "local"];
        all.extend_from_slice(args);
        chart_harness(repo.root(), tmp.path(), &all)
    };

    let first = up(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let first_kubeconfig = kubeconfig(&first);

    let again = up(&[]);
    let out = text(&again);
    assert_eq!(again.status.code(), Some(2), "{out}");
    assert!(
        out.contains("is still there") && out.contains("--replace"),
        "{out}"
    );
    assert_eq!(
        out.matches("is still there").count(),
        1,
        "printed once: {out}"
    );
    assert!(
        Path::new(&first_kubeconfig).exists(),
        "the first cluster was removed"
    );

    let replaced = up(&["--replace"]);
    assert_eq!(replaced.status.code(), Some(0), "{}", text(&replaced));
    assert!(!Path::new(&first_kubeconfig).exists());
    assert_ne!(kubeconfig(&replaced), first_kubeconfig);

    let down = chart_harness(repo.root(), tmp.path(), &["cluster", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "left in the temporary directory: {left:?}");
    assert!(processes_mentioning(&tmp.path().to_string_lossy()).is_empty());
}

#[test]
fn a_damaged_record_is_named_with_what_to_do() {
    let repo = TempRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let record = repo.root().join("report/shared-cluster.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(&record, "{\"provider\": \"local\", \"name\": \"chart-har").unwrap();
    for args in [
        &["cluster", "down"][..],
        &["cluster", "up", "--cluster", "local"],
    ] {
        let output = chart_harness(repo.root(), tmp.path(), args);
        let out = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {out}");
        assert!(
            out.contains(&record.display().to_string())
                && out.contains("is damaged")
                && out.contains("delete it"),
            "{args:?}: {out}"
        );
        assert_eq!(out.matches("is damaged").count(), 1, "printed once: {out}");
    }
}

/// A record naming a directory that is not one of ours: `cluster down` kills nothing
/// and deletes nothing.
#[test]
fn a_record_that_names_foreign_paths_is_not_acted_on() {
    let repo = TempRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let precious = tempfile::tempdir().unwrap();
    std::fs::write(precious.path().join("keep.txt"), "mine").unwrap();
    let record = repo.root().join("report/shared-cluster.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(
        &record,
        serde_json::json!({
            "provider": "local",
            "name": "chart-harness-1-abcdef",
            "kubeconfig": precious.path().join("kubeconfig"),
            "context": null,
            "description": "planted",
            "pods_simulated": true,
            "workdir": precious.path(),
        })
        .to_string(),
    )
    .unwrap();
    let output = chart_harness(repo.root(), tmp.path(), &["cluster", "down"]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(out.contains("is not acted on"), "{out}");
    assert!(precious.path().join("keep.txt").exists());
}
