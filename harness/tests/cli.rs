//! The binary end to end: exit codes, output, and the report files.

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use testing::{TempRepo, output_text as text};

fn chart_harness(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("CI", "true")
        .output()
        .unwrap()
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
            .any(|l| l.trim().starts_with("12 passed, 0 failed")),
        "{stdout}"
    );

    let junit = std::fs::read_to_string(repo.root().join("report/junit.xml")).unwrap();
    assert!(junit.contains("web::ha"), "{junit}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("report/report.json")).unwrap(),
    )
    .unwrap();
    let all: Vec<&serde_json::Value> = json["trials"].as_array().unwrap().iter().collect();
    // lint, template, policy, integration and upgrade, and backup-restore's three
    // skipped (web declares no `backup-restore`).
    assert_eq!(all.len(), 18);
    // A repository with no history has no baseline: its upgrade trials are not run
    // (TempRepo sets `baseline-failure: ignore`), and say why.
    let (skipped, all): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|trial| trial["id"]["suite"] == "backup-restore");
    assert!(
        skipped.iter().all(|trial| trial["status"] == "skipped"),
        "{skipped:?}"
    );
    let (upgrades, trials): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|trial| trial["id"]["suite"] == "upgrade");
    for upgrade in &upgrades {
        assert_eq!(upgrade["status"], "not-run", "{upgrade}");
        assert!(
            upgrade["reason"]
                .as_str()
                .is_some_and(|r| r.contains("`baseline-failure: ignore`")),
            "{upgrade}"
        );
    }
    assert!(
        stdout.contains(
            "Upgrades: data checked in 0/3 upgrade trials; not run: 3 baseline failed, ignored"
        ),
        "{stdout}"
    );
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

/// ct's `--github-groups`: a failure's details are printed once, inside its group, and
/// its annotation names only the first line (GitHub prints every `::error` in full).
/// The render failure here is several lines: helm's error, then the warning before it.
#[test]
fn github_groups_print_each_failure_once() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "warnings-before-error");
    let output = chart_harness(repo.root(), &["template", "--github-groups"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).replace("%0A", "\n");
    assert_eq!(stderr.matches("::group::FAIL").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("::error ").count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("helm warned before the error:").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("skipped value for").count(), 1, "{stderr}");
    let annotation = stderr.lines().find(|l| l.starts_with("::error ")).unwrap();
    assert!(
        annotation.ends_with("::[render] execution error at (warnings-before-error/templates/configmap.yaml:10:12): owner must be set"),
        "{annotation}"
    );
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
            "policy::web::default",
            "policy::web::ha",
            "policy::web::no-ingress",
            "integration::web::default",
            "integration::web::ha",
            "integration::web::no-ingress",
            "upgrade::web::default",
            "upgrade::web::ha",
            "upgrade::web::no-ingress",
            "backup-restore::web::default (skipped: fixtures/charts/web/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run)",
            "backup-restore::web::ha (skipped: fixtures/charts/web/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run)",
            "backup-restore::web::no-ingress (skipped: fixtures/charts/web/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run)",
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
fn a_helm_older_than_supported_names_found_needed_and_install() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let fake = repo.root().join("old-helm");
    std::fs::write(&fake, "#!/bin/sh\necho v3.9.4\n").unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "--helm", "3"])
        .env("HELM3", &fake)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = text(&output);
    for fact in [
        "reports v3.9.4",
        "helm3 v3.22.0 (or any helm 3 from v3.10.0) is needed",
        "tools install",
    ] {
        assert!(out.contains(fact), "`{fact}` missing from: {out}");
    }
    assert!(!repo.root().join("report/report.json").exists());
}

/// A chart repository as a user has it: no `.tools`, an empty machine-wide tool cache,
/// and the user's own helm on PATH (`helm`).
struct UsersMachine {
    repo: TempRepo,
    cache: tempfile::TempDir,
    path: tempfile::TempDir,
}

impl UsersMachine {
    fn new(charts: &[&str]) -> UsersMachine {
        let repo = TempRepo::new();
        std::fs::remove_file(repo.root().join(".tools")).unwrap();
        for chart in charts {
            repo.add_chart("charts", chart);
        }
        UsersMachine {
            repo,
            cache: tempfile::tempdir().unwrap(),
            path: tempfile::tempdir().unwrap(),
        }
    }

    /// Puts `helm` on this machine's PATH as the user's `helm`.
    fn with_helm_on_path(self, helm: &Path) -> UsersMachine {
        std::os::unix::fs::symlink(helm, self.path.path().join("helm")).unwrap();
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chart-harness"));
        command
            .arg("--repo")
            .arg(self.repo.root())
            .args(args)
            .env("CI", "true")
            .env("PATH", self.path.path())
            .env("GIT", which("git"))
            .env("XDG_CACHE_HOME", self.cache.path());
        for variable in [
            "HELM",
            "HELM3",
            "HELM4",
            "CHART_HARNESS_HELM",
            "CHART_HARNESS_CLUSTER",
            "CHART_HARNESS_CLUSTER_BIN_DIR",
        ] {
            command.env_remove(variable);
        }
        command
    }
}

fn which(name: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("this test needs {name} on PATH"))
}

/// The oldest helm 3 the harness supports, as `tools install --all` builds it.
fn oldest_helm3() -> std::path::PathBuf {
    let installed = chart_harness::tools::Installed::open(&testing::workspace_root()).unwrap();
    let helm = installed.binary("helm3-oldest").unwrap();
    assert!(
        helm.is_file(),
        "{} is missing: run `cargo run -p chart-harness -- tools install --all`",
        helm.display()
    );
    helm
}

/// ct's promise, kept: the user's helm on PATH is used, here helm 3.10 (the oldest
/// supported) with only that major installed, so it is the default. It is named in the
/// run's header, gets one warning naming it and the pin, and lints and renders a chart.
#[test]
fn the_oldest_supported_helm_on_path_runs_lint_and_template_with_one_warning() {
    let helm = oldest_helm3();
    let machine = UsersMachine::new(&["web"]).with_helm_on_path(&helm);
    let output = machine
        .command(&["lint", "web", "--jobs", "2"])
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let users_helm = machine.path.path().join("helm");
    assert!(
        out.contains(&format!(
            "with helm v3.10.3 ({}, from PATH; the major of the helm on PATH ({}, v3.10.3), as ct runs that helm; pass --helm to choose)",
            users_helm.display(),
            users_helm.display()
        )),
        "{out}"
    );
    // One warning about helm (others, such as yamllint's unimplemented rules, may follow).
    let warnings: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("WARN") && l.contains("helm3"))
        .collect();
    assert_eq!(warnings.len(), 1, "{out}");
    for fact in [
        "using v3.10.3",
        "pinned helm3 v3.22.0",
        "no `helm lint --kube-version`",
    ] {
        assert!(warnings[0].contains(fact), "`{fact}` missing from: {out}");
    }

    let output = machine
        .command(&["template", "web", "--jobs", "2"])
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");
}

/// The release lifecycle (install, upgrade, helm test, uninstall) with the oldest
/// supported helm too, on the local control plane.
#[test]
fn the_oldest_supported_helm_passes_the_integration_suite() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["integration", "--cluster", "local", "--jobs", "2"])
        .env("CI", "true")
        .env("HELM", oldest_helm3())
        .env_remove("HELM3")
        .env_remove("HELM4")
        .env_remove("CHART_HARNESS_HELM")
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("with helm v3.10.3"), "{out}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");
}

/// `--mirror` replaces the official host by the mirror and keeps host and path under it;
/// a release that cannot be fetched under `--from release` is exit 2 naming the URL and
/// installs nothing (no server listens on port 1, so nothing leaves the machine).
#[test]
fn tools_install_fetches_releases_from_the_mirror_it_is_given() {
    let machine = UsersMachine::new(&[]);
    let output = machine
        .command(&[
            "tools",
            "install",
            "--from",
            "release",
            "--mirror",
            "http://127.0.0.1:1/",
            "kubectl",
        ])
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("cannot download http://127.0.0.1:1/dl.k8s.io/release/v")
            && out.contains("/kubectl.sha256"),
        "{out}"
    );
    assert!(!machine.repo.root().join(".tools/bin/kubectl").exists());
}

/// A user's repository with neither `.tools` nor the cluster tools in the machine
/// cache: the run stops before any trial with one message and exit 2.
#[test]
fn missing_cluster_tools_are_one_error_before_any_trial() {
    let machine = UsersMachine::new(&["web", "kvstore"]);
    let helm4 = testing::workspace_root().join(".tools/bin/helm4");
    let output = machine
        .command(&["integration", "--cluster", "local"])
        .env("HELM4", &helm4)
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert_eq!(
        out.matches("the local control plane is missing").count(),
        1,
        "{out}"
    );
    assert!(out.contains("tools install --all"), "{out}");
    assert!(!out.contains("START") && !out.contains("FAIL"), "{out}");
    assert!(!machine.repo.root().join("report/report.json").exists());

    let output = machine
        .command(&["integration", "--cluster", "kind"])
        .env("HELM4", &helm4)
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert_eq!(
        out.matches("kind any version is not installed").count(),
        1,
        "{out}"
    );
    assert!(out.contains("tools install kind"), "{out}");
    assert!(!out.contains("START"), "{out}");
}

/// A kind node image that is absent and cannot be pulled fails the run's one cluster
/// acquisition: its message (naming the image and what to do) is printed once, however
/// many trials needed the cluster, and kind never runs. The trials fail, so exit 1.
#[test]
fn an_absent_kind_node_image_is_one_error_per_run() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.add_chart("charts", "kvstore");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args([
            "integration",
            "--cluster",
            "kind",
            "--kind-node-image",
            "chart-harness.local/absent:1",
        ])
        .env("CI", "true")
        .env_remove("CHART_HARNESS_KIND_NODE_IMAGE")
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(
        out.matches("the kind node image chart-harness.local/absent:1 (from --kind-node-image) is not present in the local Docker and cannot be pulled").count(),
        1,
        "{out}"
    );
    for what_to_do in [
        "ci/kind-node/build.sh",
        "CHART_HARNESS_KIND_NODE_IMAGE",
        "--cluster local",
    ] {
        assert_eq!(out.matches(what_to_do).count(), 1, "{what_to_do}: {out}");
    }
    assert!(
        out.matches("the run's `CLUSTER failed` line says why")
            .count()
            >= 2,
        "every trial refers to the one message: {out}"
    );
    assert!(!out.contains("kind create cluster"), "{out}");
}

/// `CHART_HARNESS_KIND_CONFIG` chooses the kind config as `--kind-config` does (ci/test.sh
/// uses it for nextest's shared multi-node cluster); the config is read before Docker is
/// asked anything, so a missing file is the run's one cluster error on any machine.
#[test]
fn the_kind_config_variable_chooses_the_config() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    let missing = repo.root().join("no-such-kind-config.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["integration", "--cluster", "kind"])
        .env("CHART_HARNESS_KIND_CONFIG", &missing)
        .env("CI", "true")
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let expected = format!(
        "CLUSTER failed after 0.00s: cannot read the kind config {}",
        missing.display()
    );
    assert_eq!(out.matches(&expected).count(), 1, "{out}");
}

/// On a cluster kind does not make, `images:` and a node image named for this run are
/// each explained once (not once per trial); the run goes on (here, to an existing
/// cluster whose kubeconfig is missing, which fails fast once).
#[test]
fn image_settings_on_a_cluster_that_is_not_kind_are_noted_once() {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: false\nimages: [myapp:dev, registry.example/x:1.2]\n",
    );
    repo.add_chart("charts", "web");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args([
            "integration",
            "--cluster",
            "existing",
            "--kind-node-image",
            "chart-harness.local/kind-node:v1.37.2-abc",
        ])
        .env("CI", "true")
        .env("KUBECONFIG", repo.root().join("no-such-kubeconfig"))
        .output()
        .unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(
        out.matches("images myapp:dev, registry.example/x:1.2 are not loaded into an existing cluster: they must be pullable from a registry the cluster can reach").count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches("--kind-node-image chart-harness.local/kind-node:v1.37.2-abc is not used: this run's cluster is `existing`").count(),
        1,
        "{out}"
    );
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
        "fixtures/charts/kvstore",
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
        "lint\ntemplate\npolicy\nintegration\nupgrade\nbackup_restore\n"
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
            format!("policy::common-lib::default {library}"),
            format!("integration::common-lib::default {library}"),
            format!("upgrade::common-lib::default {library}"),
            format!("backup-restore::common-lib::default {library}"),
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

/// The binary run the way a ct user's CI runs ct: from the repository root, with no
/// `--repo`, and with a HOME of its own so no `~/.ct` of this machine is read.
fn ct_style(repo: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args(args)
        .current_dir(repo)
        .env("HOME", home)
        .env("CI", "true")
        .env_remove("CT_CONFIG_DIR")
        .output()
        .unwrap()
}

const CT_YAML: &str = "chart-dirs:\n  - fixtures/charts\ncheck-version-increment: true\nvalidate-maintainers: false\n";

#[test]
fn ct_lint_command_line_runs_verbatim() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.use_ct_yaml(CT_YAML);
    let home = tempfile::tempdir().unwrap();
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--config",
            "ct.yaml",
            "--check-version-increment=false",
        ],
    );
    let out = text(&output);
    // The flag overrides the file's `check-version-increment: true`, which in a repo
    // without a target branch would fail every trial.
    assert_eq!(output.status.code(), Some(0), "{out}");
    let first = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        first.lines().next(),
        Some("chart-harness: config ct.yaml (ct)"),
        "{out}"
    );
    assert!(out.contains("3 passed, 0 failed"), "{out}");

    // Without the flag the file's `check-version-increment: true` applies and fails.
    let output = ct_style(repo.root(), home.path(), &["lint", "--config", "ct.yaml"]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("[version-increment]"), "{out}");
}

/// ct's install with `--helm-extra-set-args`: the chart `required`s a value that only
/// the flag gives, so the dry-run's render and the install both must see it.
#[test]
fn ct_install_command_line_runs_verbatim_with_extra_set_args() {
    let repo = TempRepo::new();
    let chart = repo.root().join("fixtures/charts/needs-host");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: needs-host\ndescription: needs a host\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "ingress: {}\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  host: {{ required \"ingress.host is required\" .Values.ingress.host | quote }}\n  tier: {{ required \"tier is required\" .Values.tier | quote }}\n",
    )
    .unwrap();
    repo.use_ct_yaml(CT_YAML);
    let home = tempfile::tempdir().unwrap();

    // Without the flag the chart cannot render: the value really is required.
    let without = ct_style(
        repo.root(),
        home.path(),
        &["template", "--config", "ct.yaml"],
    );
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    assert!(
        text(&without).contains("ingress.host is required"),
        "{}",
        text(&without)
    );

    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "install",
            "--config",
            "ct.yaml",
            "--helm-extra-set-args",
            "--set=ingress.host=example.com --set=tier=web",
            "--cluster",
            "local",
        ],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("integration::needs-host::default"), "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");

    // helm-extra-args reach helm install: a flag helm does not know fails it there.
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "install",
            "--config",
            "ct.yaml",
            "--helm-extra-set-args=--set=ingress.host=example.com --set=tier=web",
            "--helm-extra-args",
            "--timeout 600s --no-such-flag",
            "--cluster",
            "local",
        ],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("helm install") && out.contains("unknown flag: --no-such-flag"),
        "{out}"
    );
}

#[test]
fn charts_flag_takes_names_and_paths_and_names_the_known_ones_when_unknown() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.add_chart("charts", "api");
    // api's file:// dependency.
    repo.add_chart("charts", "common-lib");
    repo.use_ct_yaml(CT_YAML);
    let home = tempfile::tempdir().unwrap();
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--charts",
            "./fixtures/charts/web/,web",
            "--charts",
            "nope",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("no chart named `nope`")
            && err.contains("fixtures/charts/api")
            && err.contains("fixtures/charts/web"),
        "{err}"
    );

    // A path and a name of the same chart select it once; --charts, as in ct, turns
    // the version-increment check off (the file turns it on).
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--charts",
            "./fixtures/charts/web/,web",
            "--charts",
            "fixtures/charts/api",
        ],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("lint::web::ha") && out.contains("lint::api::"),
        "{out}"
    );
    assert!(out.contains("version increment checking disabled"), "{out}");
}

#[test]
fn config_is_found_in_home_and_a_missing_config_file_is_exit_2() {
    let repo = TempRepo::new();
    std::fs::remove_file(repo.root().join("chart-harness.yaml")).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ct")).unwrap();
    std::fs::write(home.path().join(".ct/ct.yaml"), CT_YAML).unwrap();
    // No chart is named `nope`, so the run stops after loading the config.
    let output = ct_style(repo.root(), home.path(), &["lint", "nope"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        err.lines().next(),
        Some(
            format!(
                "chart-harness: config {}/.ct/ct.yaml (ct)",
                home.path().display()
            )
            .as_str()
        ),
        "{err}"
    );

    let output = ct_style(
        repo.root(),
        home.path(),
        &["lint", "--config", "missing.yaml"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("missing.yaml given with --config does not exist"),
        "{err}"
    );
    assert_eq!(
        err.matches("does not exist").count(),
        1,
        "printed once: {err}"
    );
}

#[test]
fn flags_without_a_meaning_here_warn_once_each() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.use_ct_yaml(CT_YAML);
    let home = tempfile::tempdir().unwrap();
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--check-version-increment=false",
            "--debug",
            "--namespace",
            "ci",
            "--upgrade",
        ],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    for warning in ["--debug is ignored", "--namespace is ignored"] {
        assert_eq!(out.matches(warning).count(), 1, "`{warning}` once: {out}");
    }
    // --upgrade has a meaning (the integration suite's), so it warns nothing.
    assert!(!out.contains("upgrade"), "{out}");
}

#[test]
fn since_implies_changed() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.add_chart("charts", "api");
    repo.add_chart("charts", "common-lib");
    repo.use_ct_yaml(CT_YAML);
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "base"]);
    std::fs::write(
        repo.root().join("fixtures/charts/api/values.yaml"),
        format!(
            "{}\n# changed\n",
            std::fs::read_to_string(repo.root().join("fixtures/charts/api/values.yaml")).unwrap()
        ),
    )
    .unwrap();
    repo.git(&["commit", "-qam", "change api"]);
    let home = tempfile::tempdir().unwrap();
    let output = ct_style(
        repo.root(),
        home.path(),
        &["list-changed", "--since", "HEAD~1"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // As ct prints them: chart directories, which --charts takes back.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "fixtures/charts/api\n"
    );

    // A run given --since runs the changed charts only, as if --changed were given.
    let output = ct_style(
        repo.root(),
        home.path(),
        &[
            "lint",
            "--since",
            "HEAD~1",
            "--check-version-increment=false",
        ],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("lint::api::default") && !out.contains("lint::web::"),
        "{out}"
    );
    // --all turns change detection off, as in ct.
    let output = ct_style(
        repo.root(),
        home.path(),
        &["lint", "--since", "HEAD~1", "--all"],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("lint::web::default"), "{out}");
}

#[test]
fn lint_and_install_runs_lint_then_integration() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.use_ct_yaml(CT_YAML);
    let home = tempfile::tempdir().unwrap();
    let output = ct_style(
        repo.root(),
        home.path(),
        &["lint-and-install", "--charts", "web", "--cluster", "local"],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("6 passed, 0 failed"), "{out}");
    for trial in ["lint::web::ha", "integration::web::ha"] {
        assert!(out.contains(trial), "{out}");
    }
    assert!(!out.contains("template::"), "{out}");
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

/// `--repo` given relative to the working directory: a chart's `file://` dependency
/// outside that repository still reaches the scratch copy dependencies are built in.
#[test]
fn a_relative_repo_finds_file_dependencies_outside_it() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "lock-mismatch");
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args(["--repo", "fixtures/broken", "lint", "lock-mismatch"])
        .current_dir(repo.root())
        .env("CI", "true")
        .output()
        .unwrap();
    let out = text(&output);
    // The chart's own defect, and not a dependency the copy lacks.
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("[dependencies]"), "{out}");
    assert!(!out.contains("[dependency-build]"), "{out}");
}

/// Two runs with one report directory: the second says so and writes its reports in a
/// directory of its own, so neither overwrites the other's verdict.
#[test]
fn concurrent_runs_keep_their_reports_apart() {
    let repo = TempRepo::new();
    let blocker = repo.root().join("blocker");
    let c_path = std::ffi::CString::new(blocker.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo only reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // The first run waits on the FIFO until its trial times out.
    repo.write_config(&format!(
        "check-version-increment: false\ntrial-timeout: 6s\nadditional-commands:\n  - cat {}\n",
        blocker.display()
    ));
    repo.add_chart("charts", "web");
    let first = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(repo.root())
        .args(["lint", "web", "--jobs", "3"])
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let report = repo.root().join("report");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !report.join(".reports.lock").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = chart_harness(repo.root(), &["lint", "web", "--jobs", "3"]);
    let out = text(&second);
    let own = report.join(format!("concurrent-{}", second_pid(&out)));
    assert!(
        out.contains(&format!("process {}", first.id()))
            && out.contains("this run's reports go to"),
        "{out}"
    );
    assert!(own.join("report.json").exists(), "{out}");
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(1));
    assert!(report.join("report.json").exists());
}

/// The pid in the `concurrent-<pid>` directory a run's note names.
fn second_pid(out: &str) -> String {
    let at = out
        .find("concurrent-")
        .expect("a concurrent directory is named")
        + "concurrent-".len();
    out[at..].chars().take_while(char::is_ascii_digit).collect()
}

/// Each suite's subcommand is described by its registry entry, not by the ct flags it
/// also takes.
#[test]
fn suite_subcommands_are_described_by_their_suite() {
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--help")
        .output()
        .unwrap();
    let out = text(&output);
    for suite in chart_harness::plan::Suite::ALL {
        let line = out
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{} ", suite.name())))
            .unwrap_or_else(|| panic!("no line for {}: {out}", suite.name()));
        assert!(line.contains(suite.spec().about), "{line}");
    }
}
