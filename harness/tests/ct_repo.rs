//! A ct user's repository, run the way their CI runs ct: `fixtures/ct-repo` (a root
//! `ct.yaml` with an unreachable `chart-repos` URL, values files beside the charts, bare
//! Pod test hooks, the team's own `kind-config.yaml`) copied into a fresh git repository,
//! and their two command lines given verbatim.

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use testing::{copy_dir, output_text as text, workspace_root};

/// The team's CI lines, word for word except for the program name.
const LINT_LINE: &[&str] = &[
    "lint",
    "--config",
    "ct.yaml",
    "--check-version-increment=false",
];
const INSTALL_LINE: &[&str] = &[
    "install",
    "--config",
    "ct.yaml",
    "--helm-extra-set-args",
    "--set=ingress.enabled=true --set=ingress.host=frontend.example.com",
];

struct CtRepo {
    dir: tempfile::TempDir,
    /// ct users have no `~/.ct` here; this keeps the machine's out of the run.
    home: tempfile::TempDir,
}

impl CtRepo {
    fn new() -> CtRepo {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&workspace_root().join("fixtures/ct-repo"), dir.path());
        let repo = CtRepo {
            dir,
            home: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "charts"]);
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(self.root())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// The binary from the repository root, as CI runs ct: no `--repo`, the local
    /// control plane, and the tools from the machine-wide cache (`tools install` put
    /// them there), as a user's repository without a `.tools` of its own finds them.
    fn chart_harness(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_chart-harness"))
            .args(args)
            .current_dir(self.root())
            .env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", machine_cache_home())
            .env("CI", "true")
            .env("CHART_HARNESS_CLUSTER", "local")
            .env_remove("CT_CONFIG_DIR")
            .output()
            .unwrap()
    }

    fn status(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    /// What git shows besides the report directory, which sits inside the repository
    /// as ct users run it (the fixture has no .gitignore, so its files are untracked).
    fn status_outside_reports(&self) -> Vec<String> {
        self.status()
            .lines()
            .filter(|line| !line.starts_with("?? target/chart-harness/"))
            .map(str::to_string)
            .collect()
    }
}

/// The cache `tools install` filled, found as the harness finds it, so that moving HOME
/// for the run does not hide it.
fn machine_cache_home() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache"))
}

fn report(repo: &CtRepo) -> serde_json::Value {
    let path = repo.root().join("target/chart-harness/report.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The passing trials of a report, sorted.
fn passed(report: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = report["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|trial| trial["status"] == "passed")
        .map(|trial| {
            let id = &trial["id"];
            format!("{}::{}::{}", id["suite"], id["chart"], id["case"]).replace('"', "")
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_teams_two_ci_lines_run_verbatim_and_leave_only_the_report_directory() {
    let repo = CtRepo::new();

    let lint = repo.chart_harness(LINT_LINE);
    let out = text(&lint);
    assert_eq!(lint.status.code(), Some(0), "{out}");
    let stderr = String::from_utf8_lossy(&lint.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some("chart-harness: config ct.yaml (ct)"),
        "{out}"
    );
    // The cases are the values files beside each chart (`values-files`), and the
    // unreachable chart repository is never contacted: no chart has a remote dependency.
    assert_eq!(
        passed(&report(&repo)),
        [
            "lint::cache::persistence",
            "lint::frontend::ha",
            "lint::frontend::nodeport",
        ],
        "{out}"
    );
    assert!(!out.contains("charts.example.invalid"), "{out}");
    assert_eq!(repo.status_outside_reports(), Vec::<String>::new());

    let install = repo.chart_harness(INSTALL_LINE);
    let out = text(&install);
    assert_eq!(install.status.code(), Some(0), "{out}");
    let report = report(&repo);
    assert_eq!(
        passed(&report),
        [
            "integration::cache::persistence",
            "integration::frontend::ha",
            "integration::frontend::nodeport",
        ],
        "{out}"
    );
    // The bare Pod test hooks completed, and the report says their commands did not run.
    for trial in report["trials"].as_array().unwrap() {
        let phase = |name: &str| {
            trial["phases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|phase| phase["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {name} phase: {trial}", trial["id"]))
        };
        assert_eq!(phase("helm-test")["status"], "passed", "{trial}");
        let logs = phase("helm-test-logs");
        assert!(
            logs["reason"]
                .as_str()
                .unwrap()
                .contains("commands did not run"),
            "{logs}"
        );
    }
    // The team's kind config is named in ct.yaml; on the local control plane it is
    // said, once, not to apply.
    assert_eq!(
        out.matches("kind-config.yaml is not used").count(),
        1,
        "expected one warning about kind-config.yaml: {out}"
    );
    assert!(out.contains("pods are simulated by kwok"), "{out}");
    assert_eq!(repo.status_outside_reports(), Vec::<String>::new());
}

/// The `--set` list really reaches the install: without the host the chart's own
/// `required` stops it. With the report directory outside, git sees nothing at all.
#[test]
fn the_set_list_reaches_the_install_and_a_report_dir_outside_leaves_the_tree_untouched() {
    let repo = CtRepo::new();
    let reports = tempfile::tempdir().unwrap();
    let report_dir = reports.path().to_str().unwrap();
    let output = repo.chart_harness(&[
        "install",
        "--config",
        "ct.yaml",
        "--helm-extra-set-args",
        "--set=ingress.enabled=true",
        "--charts",
        "charts/frontend",
        "--report-dir",
        report_dir,
    ]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("ingress.host is required when ingress.enabled is true"),
        "{out}"
    );
    assert!(reports.path().join("report.json").exists());
    assert_eq!(repo.status(), "");
}
