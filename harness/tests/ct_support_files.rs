//! ct's support files through the binary, as a ct user's CI runs it: `lintconf.yaml`
//! found as ct finds it (`--lint-conf`, else `CT_CONFIG_DIR` alone, else the search
//! path), read only by a run that lints, and the helm on PATH chosen by default.

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use chart_harness::suites::lint::yamllint::CT_DEFAULT_LINTCONF;
use testing::{TempRepo, output_text as text};

/// yamllint itself refuses this: `invalid config: rule "braces": should be either
/// "enable", "disable" or a mapping` (a real repository's root file, reduced).
const INVALID_LINTCONF: &str = "rules:\n  braces:\n  trailing-spaces: enable\n";

/// A ct user's repository: `ct.yaml`, one good chart, and the invalid `lintconf.yaml`
/// at its root.
fn ct_repository() -> TempRepo {
    let repo = TempRepo::new();
    repo.use_ct_yaml("chart-dirs:\n  - fixtures/charts\ncheck-version-increment: false\n");
    repo.add_chart("charts", "web");
    std::fs::write(repo.root().join("lintconf.yaml"), INVALID_LINTCONF).unwrap();
    repo
}

/// The binary with ct's environment under the test's control: no `CT_*` of the machine,
/// a `$HOME` without `.ct`, and `env` on top.
fn chart_harness(repo: &Path, home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chart-harness"));
    // ct reads `--config` from the working directory, so the run starts where a CI
    // job does: in the repository.
    command
        .current_dir(repo)
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("CI", "true")
        .env("HOME", home)
        .env_remove("CT_CONFIG_DIR")
        .env_remove("CT_LINT_CONF");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn ct_config_dir_is_the_only_place_lintconf_comes_from_when_set() {
    let repo = ct_repository();
    let home = tempfile::tempdir().unwrap();
    // As chart-testing-action lays out ct's bundled etc/.
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("lintconf.yaml"), CT_DEFAULT_LINTCONF).unwrap();

    let output = chart_harness(
        repo.root(),
        home.path(),
        &["lint", "--config", "ct.yaml"],
        &[("CT_CONFIG_DIR", etc.path())],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let chosen = format!(
        "chart-harness: lintconf.yaml: {} (from CT_CONFIG_DIR, the only place ct looks when it is set)",
        etc.path().join("lintconf.yaml").display()
    );
    assert!(out.contains(&chosen), "{out}");
    assert!(
        out.contains("chart-harness: chart schema: chart-harness's own Chart.yaml checks"),
        "{out}"
    );

    // CT_CONFIG_DIR without the file: ct fails on the missing path, and so do we.
    let empty = tempfile::tempdir().unwrap();
    let output = chart_harness(
        repo.root(),
        home.path(),
        &["lint", "--config", "ct.yaml"],
        &[("CT_CONFIG_DIR", empty.path())],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    let expected = format!(
        "yamllint configuration {} (from CT_CONFIG_DIR, the only place ct looks when it is set): it does not exist (ct would fail on it too)",
        empty.path().join("lintconf.yaml").display()
    );
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn an_invalid_root_lintconf_stops_lint_only() {
    let repo = ct_repository();
    let home = tempfile::tempdir().unwrap();

    let output = chart_harness(
        repo.root(),
        home.path(),
        &["lint", "--config", "ct.yaml"],
        &[],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    let expected = "yamllint configuration lintconf.yaml (the first of ct's search locations (., .ct, $HOME/.ct, /usr/local/etc/ct, /etc/ct) that has one): invalid config: rule \"braces\"";
    assert!(out.contains(expected), "{out}");
    assert_eq!(
        out.matches("rule \"braces\"").count(),
        1,
        "said once: {out}"
    );

    // ct's install lints nothing, so it never reads the file.
    let output = chart_harness(
        repo.root(),
        home.path(),
        &["install", "--config", "ct.yaml", "--cluster", "local"],
        &[],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("chart-harness: lintconf.yaml: not read, since no lint trial runs"),
        "{out}"
    );
    assert!(!out.contains("braces"), "{out}");
}

#[test]
fn lint_conf_wins_over_ct_config_dir_and_the_root() {
    let repo = ct_repository();
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.root().join(".github")).unwrap();
    std::fs::write(
        repo.root().join(".github/lintconf.yaml"),
        CT_DEFAULT_LINTCONF,
    )
    .unwrap();
    let output = chart_harness(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--config",
            "ct.yaml",
            "--lint-conf",
            ".github/lintconf.yaml",
        ],
        &[("CT_CONFIG_DIR", empty.path())],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("chart-harness: lintconf.yaml: .github/lintconf.yaml (named by --lint-conf)"),
        "{out}"
    );
}

/// `list` takes the run commands' configuration and selection flags.
#[test]
fn list_takes_the_config_and_selection_flags_of_a_run() {
    let repo = ct_repository();
    repo.add_chart("charts", "api");
    let home = tempfile::tempdir().unwrap();
    let output = chart_harness(
        repo.root(),
        home.path(),
        &[
            "list",
            "--config",
            "ct.yaml",
            "--suite",
            "lint",
            "--charts",
            "fixtures/charts/api",
        ],
        &[],
    );
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    let listed: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!listed.is_empty(), "{out}");
    assert!(
        listed.iter().all(|line| line.starts_with("lint::api::")),
        "{listed:?}"
    );
    assert!(out.contains("chart-harness: config ct.yaml"), "{out}");
}

/// With no major asked for, the `helm` on PATH decides it, as ct runs that helm, even
/// where the machine's tool cache also holds the other major.
#[test]
fn the_helm_on_path_decides_the_default_major() {
    let repo = ct_repository();
    std::fs::remove_file(repo.root().join("lintconf.yaml")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let installed = chart_harness::tools::Installed::open(&testing::workspace_root()).unwrap();
    let path_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        installed.binary("helm3").unwrap(),
        path_dir.path().join("helm"),
    )
    .unwrap();
    let git = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let git = String::from_utf8_lossy(&git.stdout).trim().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .current_dir(repo.root())
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "--config", "ct.yaml"])
        .env("CI", "true")
        .env("HOME", home.path())
        .env("PATH", path_dir.path())
        .env("GIT", git)
        .env_remove("CHART_HARNESS_HELM")
        .env_remove("HELM")
        .env_remove("HELM3")
        .env_remove("HELM4")
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let helm_line = out
        .lines()
        .find(|line| line.contains("with helm v"))
        .unwrap_or_else(|| panic!("no helm line: {out}"));
    assert!(helm_line.contains("with helm v3."), "{helm_line}");
    assert!(
        helm_line.contains("from PATH; the major of the helm on PATH"),
        "{helm_line}"
    );
}
