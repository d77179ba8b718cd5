//! The CI flow a chart repository runs, with the real `chart-harness` binary, git and
//! helm: `plan --changed` in a fixture git repository, every cell the plan lists (the
//! cluster cells on the local control plane), `report merge`, `report summary`,
//! `report annotations` and `gate`. It passes for a good chart; then the same flow
//! refuses, each for its reason with its message pinned: an unbumped version, a failed
//! suite, a cell that never reported, reports of two commits, a missing changelog entry
//! and a signature that does not verify. CI's kind step runs the cluster cells on kind
//! (`kind_cluster.rs` does not; see `release_flow_on_kind` below).

mod testing;

use std::path::Path;
use std::process::{Command, Output};

use testing::{TempRepo, output_text};

const CHART_YAML: &str = "apiVersion: v2\nname: notes\ndescription: Notes kept in a ConfigMap\nversion: {version}\n{annotations}";

fn chart_harness(repo: &Path, args: &[&str]) -> Output {
    chart_harness_on(repo, args, "local")
}

fn chart_harness_on(repo: &Path, args: &[&str], cluster: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .args(args)
        .current_dir(repo)
        .env("CHART_HARNESS_CLUSTER", cluster)
        .env("CI", "true")
        .env_remove("GITHUB_RUN_ATTEMPT")
        // A cell runs the node image its plan names, as on a runner with none set.
        .env_remove("CHART_HARNESS_KIND_NODE_IMAGE")
        .output()
        .unwrap()
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The `notes` chart at `version`, its ConfigMap holding `note`.
fn write_notes(repo: &TempRepo, version: &str, note: &str, changes: bool) {
    let annotations = if changes {
        "annotations:\n  artifacthub.io/changes: |\n    - kind: changed\n      description: a new note\n"
    } else {
        ""
    };
    let root = repo.root();
    write(
        root,
        "fixtures/charts/notes/Chart.yaml",
        &CHART_YAML
            .replace("{version}", version)
            .replace("{annotations}", annotations),
    );
    write(
        root,
        "fixtures/charts/notes/values.yaml",
        &format!("note: {note}\n"),
    );
    write(
        root,
        "fixtures/charts/notes/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-notes\n  labels:\n    app.kubernetes.io/name: notes\n    app.kubernetes.io/instance: {{ .Release.Name }}\ndata:\n  note: {{ .Values.note | quote }}\n",
    );
}

/// Commit hashes, plan hashes and temporary paths out of a message.
fn redact(text: &str, repo: &Path) -> String {
    let text = text.replace(&repo.display().to_string(), "<repo>");
    let hex = regex::Regex::new(r"\b[0-9a-f]{12,40}\b").unwrap();
    hex.replace_all(&text, "<hex>").into_owned()
}

fn plan_cells(repo: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap()).unwrap()
}

/// Runs every cell of `plan.json` (or only `only`) by its own command line.
fn run_cells(repo: &TempRepo, only: Option<&str>) {
    run_cells_on(repo, only, "local");
}

fn run_cells_on(repo: &TempRepo, only: Option<&str>, cluster: &str) {
    let plan = plan_cells(repo.root());
    for cell in plan["cells"].as_array().unwrap() {
        if only.is_some_and(|id| cell["id"] != id) {
            continue;
        }
        let command = cell["command"].as_str().unwrap();
        let argv: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(argv[0], "chart-harness", "{command}");
        let output = chart_harness_on(repo.root(), &argv[1..], cluster);
        assert!(
            output.status.success(),
            "{command}:\n{}",
            output_text(&output)
        );
        let report = repo
            .root()
            .join(cell["report_dir"].as_str().unwrap())
            .join("report.json");
        assert!(report.is_file(), "{command} wrote no {}", report.display());
    }
}

/// A repository whose `main` released notes 0.1.0 (tagged `notes-0.1.0`), and a branch
/// that changes it to 0.2.0 with a changelog entry.
fn repository() -> TempRepo {
    let repo = TempRepo::new();
    repo.write_config(
        "check-version-increment: true\nvalidate-maintainers: false\nkube-versions: [\"1.37.2\"]\nbaseline-failure: fail\n",
    );
    write_notes(&repo, "0.1.0", "first", false);
    repo.git(&["init", "--quiet"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "--quiet", "-m", "notes 0.1.0"]);
    repo.git(&["tag", "notes-0.1.0"]);
    repo.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    repo.git(&["checkout", "--quiet", "-b", "change"]);
    write_notes(&repo, "0.2.0", "second", true);
    repo.git(&["commit", "--quiet", "-am", "notes 0.2.0"]);
    repo
}

#[test]
fn a_changed_chart_is_planned_run_merged_and_gated() {
    let repo = repository();
    let root = repo.root();

    // Plan what changed, as the workflow's plan job does.
    std::fs::write(root.join("outputs.txt"), "").unwrap();
    let output = chart_harness(
        root,
        &[
            "plan",
            "--changed",
            "--out",
            "plan.json",
            "--github-output",
            "outputs.txt",
        ],
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let plan = plan_cells(root);
    let ids: Vec<&str> = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cluster-free", "notes-k8s-1.37.2"]);
    assert_eq!(plan["empty"], false);
    let outputs = std::fs::read_to_string(root.join("outputs.txt")).unwrap();
    assert_workflows_read_what_the_plan_writes(&outputs);

    run_cells(&repo, None);
    // A rerun of the cluster-free job: its artifact lands beside the first attempt's.
    let rerun = chart_harness(
        root,
        &[
            "run-cell",
            "cluster-free",
            "--plan",
            "plan.json",
            "--attempt",
            "2",
            "--report-dir",
            "chart-harness-reports/cluster-free-attempt-2",
        ],
    );
    assert!(rerun.status.success(), "{}", output_text(&rerun));

    // Merge, as the fixed-name `chart-harness` job does.
    let merged = chart_harness(
        root,
        &[
            "report",
            "merge",
            "--plan",
            "plan.json",
            "--out",
            "merged",
            "chart-harness-reports",
        ],
    );
    let text = output_text(&merged);
    assert!(merged.status.success(), "{text}");
    assert!(text.contains("of 2/2 cells of plan"), "{text}");
    assert!(
        text.contains("cell `cluster-free`: kept attempt 2, the latest; left out attempt(s) 1"),
        "{text}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("merged/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["merged"], true);
    assert_eq!(report["cells"][0]["attempt"], 2);
    assert_eq!(report["cells"][0]["superseded"], serde_json::json!([1]));
    assert_eq!(report["complete"], true);
    let summary = &report["summary"];
    let accounted: u64 = [
        "passed",
        "failed",
        "timed_out",
        "cancelled",
        "skipped",
        "not_run",
    ]
    .iter()
    .map(|key| summary[key].as_u64().unwrap())
    .sum();
    assert_eq!(accounted, summary["listed"].as_u64().unwrap(), "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let junit = std::fs::read_to_string(root.join("merged/junit.xml")).unwrap();
    assert!(
        junit.contains("notes::default (Kubernetes 1.37.2)"),
        "{junit}"
    );

    let markdown = chart_harness(root, &["report", "summary", "--report", "merged"]);
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains("| notes | 1.37.2 |  |  |  | ✅ | ✅ | ⏭️ |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| notes | — | ✅ | ✅ | ✅ |"),
        "{markdown}"
    );

    // The gate, by tag as on a tag push: every condition holds.
    let gate = chart_harness(
        root,
        &[
            "gate",
            "--tag",
            "notes-0.2.0",
            "--reports",
            "merged",
            "--out",
            "gate",
        ],
    );
    let table = String::from_utf8(gate.stdout.clone()).unwrap();
    assert!(gate.status.success(), "{}", output_text(&gate));
    insta::assert_snapshot!("gate_passes", table);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("gate/gate.json")).unwrap())
            .unwrap();
    assert_eq!(written["passed"], true);
    assert!(
        std::fs::read_to_string(root.join("gate/gate.md"))
            .unwrap()
            .starts_with("## Release gate ✅ passed")
    );

    refusals_on_the_same_reports(&repo);
    a_broken_commit_is_refused(&repo);
}

/// The gate over the good run's reports, with one thing about the release wrong.
fn refusals_on_the_same_reports(repo: &TempRepo) {
    let root = repo.root();
    let gate = |args: &[&str]| {
        let mut all = vec!["gate", "--charts", "notes", "--reports", "merged"];
        all.extend_from_slice(args);
        let output = chart_harness(root, &all);
        assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
        redact(&String::from_utf8(output.stdout).unwrap(), root)
    };

    // On the tag push itself the tag names HEAD: the release is proven.
    repo.git(&["tag", "notes-0.2.0"]);
    let pushed = chart_harness(
        root,
        &["gate", "--tag", "notes-0.2.0", "--reports", "merged"],
    );
    assert!(pushed.status.success(), "{}", output_text(&pushed));
    repo.git(&["tag", "-d", "notes-0.2.0"]);

    // Unbumped: a release of 0.3.0 exists, so 0.2.0 is not higher.
    repo.git(&["tag", "notes-0.3.0", "HEAD~1"]);
    insta::assert_snapshot!("gate_refuses_an_unbumped_version", gate(&[]));
    repo.git(&["tag", "-d", "notes-0.3.0"]);
    // 0.2.0 itself was released from another commit.
    repo.git(&["tag", "notes-0.2.0", "HEAD~1"]);
    insta::assert_snapshot!("gate_refuses_a_version_released_before", gate(&[]));
    repo.git(&["tag", "-d", "notes-0.2.0"]);

    // The changelog must be a CHANGELOG.md heading, which the chart lacks.
    let config = std::fs::read_to_string(root.join("chart-harness.yaml")).unwrap();
    std::fs::write(
        root.join("chart-harness.yaml"),
        format!("{config}release-gate:\n  changelog: file:CHANGELOG.md\n"),
    )
    .unwrap();
    insta::assert_snapshot!("gate_refuses_a_missing_changelog_entry", gate(&[]));

    // Signed with a throwaway key; verified against another one.
    let keys = signing_keys(root);
    std::fs::write(
        root.join("chart-harness.yaml"),
        format!(
            "{config}release-gate:\n  keyring: {}\n",
            keys.join("other.pub").display()
        ),
    )
    .unwrap();
    package_signed(root, &keys);
    insta::assert_snapshot!(
        "gate_refuses_a_signature_that_does_not_verify",
        gate(&["--packages", "packages"])
    );
    std::fs::write(
        root.join("chart-harness.yaml"),
        format!(
            "{config}release-gate:\n  keyring: {}\n",
            keys.join("signer.pub").display()
        ),
    )
    .unwrap();
    let output = chart_harness(
        root,
        &[
            "gate",
            "--charts",
            "notes",
            "--reports",
            "merged",
            "--packages",
            "packages",
        ],
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{text}");
    assert!(text.contains("signature"), "{text}");
    std::fs::write(root.join("chart-harness.yaml"), config).unwrap();
}

/// Two throwaway GnuPG keys, `signer` and `other`, their public keys exported to
/// `signer.pub` and `other.pub` and the signer's secret key to `signer.sec` (helm reads
/// binary keyrings).
fn signing_keys(root: &Path) -> std::path::PathBuf {
    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let home = tempfile::tempdir().unwrap();
    let gpg = |args: &[&str], out: Option<&str>| {
        let output = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "gpg {args:?}: {}",
            output_text(&output)
        );
        if let Some(file) = out {
            std::fs::write(keys.join(file), output.stdout).unwrap();
        }
    };
    for name in ["signer", "other"] {
        let uid = format!("{name} <{name}@example.com>");
        gpg(&["--quick-gen-key", &uid, "ed25519", "sign", "never"], None);
        gpg(&["--export", &uid], Some(&format!("{name}.pub")));
    }
    gpg(
        &["--export-secret-keys", "signer <signer@example.com>"],
        Some("signer.sec"),
    );
    keys
}

/// `helm package --sign` of the chart into `packages/`, with the signer's key.
fn package_signed(root: &Path, keys: &Path) {
    let helm = testing::workspace_root().join(".tools/bin/helm4");
    let output = Command::new(helm)
        .args(["package", "--sign", "--key", "signer", "--keyring"])
        .arg(keys.join("signer.sec"))
        .args(["--destination", "packages", "fixtures/charts/notes"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(root.join("packages/notes-0.2.0.tgz.prov").is_file());
}

/// The next commit breaks the chart's Chart.yaml; only its cluster-free cell reports.
fn a_broken_commit_is_refused(repo: &TempRepo) {
    let root = repo.root();
    let good_plan = std::fs::read_to_string(root.join("plan.json")).unwrap();
    let chart_yaml = root.join("fixtures/charts/notes/Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    std::fs::write(
        &chart_yaml,
        text.replace("description: Notes kept in a ConfigMap\n", ""),
    )
    .unwrap();
    repo.git(&["commit", "--quiet", "-am", "notes without a description"]);
    std::fs::rename(
        root.join("chart-harness-reports"),
        root.join("good-reports"),
    )
    .unwrap();
    let output = chart_harness(root, &["plan", "--changed", "--out", "plan.json"]);
    assert!(output.status.success(), "{}", output_text(&output));
    // The cluster-free cell fails (lint); the cluster cell's job "died" before uploading.
    let cell = chart_harness(root, &["run-cell", "cluster-free", "--plan", "plan.json"]);
    assert_eq!(cell.status.code(), Some(1), "{}", output_text(&cell));

    let merged = chart_harness(
        root,
        &[
            "report",
            "merge",
            "--plan",
            "plan.json",
            "--out",
            "merged-broken",
            "chart-harness-reports",
        ],
    );
    assert_eq!(merged.status.code(), Some(1), "{}", output_text(&merged));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("merged-broken/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["complete"], false);
    let never: Vec<&serde_json::Value> = report["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("planned, never reported"))
        })
        .collect();
    assert_eq!(
        never.len(),
        3,
        "integration, upgrade and backup-restore of the cell"
    );
    assert_eq!(never[0]["status"], "failed");

    let annotations = chart_harness(
        root,
        &["report", "annotations", "--report", "merged-broken"],
    );
    let annotations = String::from_utf8(annotations.stdout).unwrap();
    assert!(
        annotations
            .lines()
            .any(|line| line.starts_with("::error file=fixtures/charts/notes/Chart.yaml")),
        "{annotations}"
    );

    let gate = chart_harness(
        root,
        &["gate", "--charts", "notes", "--reports", "merged-broken"],
    );
    assert_eq!(gate.status.code(), Some(1), "{}", output_text(&gate));
    insta::assert_snapshot!(
        "gate_refuses_a_failed_suite_and_a_cell_that_never_reported",
        redact(&String::from_utf8(gate.stdout).unwrap(), root)
    );

    // The good commit's reports with this commit's plan; then both merged reports.
    let mixed = chart_harness(
        root,
        &[
            "report",
            "merge",
            "--plan",
            "plan.json",
            "--out",
            "mixed",
            "good-reports",
            "chart-harness-reports",
        ],
    );
    assert_eq!(mixed.status.code(), Some(2), "{}", output_text(&mixed));
    insta::assert_snapshot!(
        "merge_refuses_reports_of_another_plan_and_commit",
        redact(&String::from_utf8(mixed.stderr).unwrap(), root)
    );
    let two = chart_harness(
        root,
        &[
            "gate",
            "--charts",
            "notes",
            "--reports",
            "merged",
            "merged-broken",
        ],
    );
    assert_eq!(two.status.code(), Some(2), "{}", output_text(&two));
    insta::assert_snapshot!(
        "gate_refuses_reports_of_two_commits",
        redact(&String::from_utf8(two.stderr).unwrap(), root)
    );
    assert_ne!(
        good_plan,
        std::fs::read_to_string(root.join("plan.json")).unwrap()
    );
}

/// Every `matrix.<field>` and `steps.plan.outputs.<name>` the example workflows read is
/// one the plan writes.
fn assert_workflows_read_what_the_plan_writes(outputs: &str) {
    let written: Vec<&str> = outputs
        .lines()
        .filter_map(|line| line.split_once('=').map(|(key, _)| key))
        .collect();
    let matrix_line = outputs
        .lines()
        .find_map(|line| line.strip_prefix("matrix="))
        .unwrap();
    let matrix: serde_json::Value = serde_json::from_str(matrix_line).unwrap();
    let fields: Vec<String> = matrix["include"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let matrix_use = regex::Regex::new(r"matrix\.([a-z_]+)").unwrap();
    let output_use = regex::Regex::new(r"steps\.plan\.outputs\.([a-z-]+)").unwrap();
    let dir = testing::workspace_root().join("ci/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for used in matrix_use.captures_iter(&text) {
            assert!(
                fields.iter().any(|f| f == &used[1]),
                "{} reads matrix.{}, which no cell has (cells have {fields:?})",
                path.display(),
                &used[1]
            );
            checked += 1;
        }
        for used in output_use.captures_iter(&text) {
            assert!(
                written.contains(&&used[1]),
                "{} reads steps.plan.outputs.{}, which `plan --github-output` does not write ({written:?})",
                path.display(),
                &used[1]
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "the workflows read only {checked} plan fields");
}

/// Bad input: one message each, exit 2, saying what to do.
#[test]
fn bad_input_is_refused_with_one_message_each() {
    let repo = repository();
    let root = repo.root();
    let output = chart_harness(root, &["plan", "--out", "plan.json"]);
    assert!(output.status.success(), "{}", output_text(&output));
    write(root, "not-ours/report.json", "{\"tests\": 3}\n");
    write(
        root,
        "newer/report.json",
        "{\"version\": 99, \"trials\": [], \"complete\": true}\n",
    );
    let cases: [(&str, &[&str]); 7] = [
        (
            "a report that is not ours",
            &["report", "summary", "--report", "not-ours"],
        ),
        (
            "a report of a newer format",
            &["report", "merge", "--plan", "plan.json", "newer"],
        ),
        (
            "a cell not in the plan",
            &["run-cell", "nope", "--plan", "plan.json"],
        ),
        (
            "a tag of another form",
            &["gate", "--tag", "notes-latest", "--reports", "newer"],
        ),
        (
            "a chart that does not exist",
            &["gate", "--tag", "other-1.0.0", "--reports", "newer"],
        ),
        (
            "a version with no node image",
            &["plan", "--kube-versions", "1.20"],
        ),
        (
            "a shard the plan does not have",
            &["plan", "--format", "github-matrix", "--shard", "2/2"],
        ),
    ];
    // Nothing changed on main: an empty plan, and every workflow job is skipped.
    repo.git(&["checkout", "--quiet", "main"]);
    std::fs::write(root.join("outputs.txt"), "").unwrap();
    let empty = chart_harness(
        root,
        &[
            "plan",
            "--changed",
            "--github-output",
            "outputs.txt",
            "--format",
            "json",
        ],
    );
    assert!(empty.status.success(), "{}", output_text(&empty));
    let plan: serde_json::Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(plan["empty"], true);
    let outputs = std::fs::read_to_string(root.join("outputs.txt")).unwrap();
    for line in ["empty=true", "cluster-free=false", "cluster-cells=false"] {
        assert!(outputs.lines().any(|l| l == line), "{outputs}");
    }
    repo.git(&["checkout", "--quiet", "change"]);

    let mut said = String::new();
    for (what, args) in cases {
        let output = chart_harness(root, args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        let message: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.starts_with("chart-harness: config "))
            .collect();
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert_eq!(message.len(), 1, "{what}: said more than once: {stderr}");
        said.push_str(&format!("{what}:\n  {}\n", message[0]));
    }
    // A chart directory whose name could break the cell's command line.
    write(
        root,
        "fixtures/charts/odd$(id)/Chart.yaml",
        "apiVersion: v2\nname: odd\ndescription: odd\nversion: 0.1.0\n",
    );
    let odd = chart_harness(root, &["plan"]);
    let stderr = String::from_utf8(odd.stderr).unwrap();
    assert_eq!(odd.status.code(), Some(2), "{stderr}");
    said.push_str(&format!(
        "a chart name unsafe in a command line:\n  {}\n",
        stderr.lines().last().unwrap()
    ));
    insta::assert_snapshot!("bad_input", redact(&said, root));

    // A plan made with --config runs its cells with that file, though their command
    // lines do not repeat it (here there is no other configuration to find).
    std::fs::remove_dir_all(root.join("fixtures/charts/odd$(id)")).unwrap();
    std::fs::rename(root.join("chart-harness.yaml"), root.join("alt.yaml")).unwrap();
    let output = chart_harness(
        root,
        &["plan", "--config", "alt.yaml", "--out", "alt-plan.json"],
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let cell = chart_harness(
        root,
        &["run-cell", "cluster-free", "--plan", "alt-plan.json"],
    );
    let text = output_text(&cell);
    assert!(cell.status.success(), "{text}");
    assert!(text.contains("chart-harness: config alt.yaml"), "{text}");
}

/// CI's kind step: the cluster cell runs on a kind cluster made from the node image the
/// plan maps for its Kubernetes version (`kind-node-images`), with real containers and
/// the chart's helm test; then merge and gate as on the local control plane.
#[test]
#[ignore = "needs Docker, the kind node image and the fixture images: ci/test.sh's kind step"]
fn release_flow_on_kind() {
    testing::require_kind();
    let image = std::env::var("CHART_HARNESS_KIND_NODE_IMAGE").unwrap();
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    repo.write_config(&format!(
        "check-version-increment: false\nvalidate-maintainers: false\nkube-versions: [\"1.37.2\"]\nkind-node-images:\n  \"1.37\": {image}\nimages:\n  - chart-harness.local/fixture-web:1\n  - chart-harness.local/fixture-busybox:1\nrelease-gate:\n  required-suites: [lint, integration]\n  changelog: none\n"
    ));
    repo.git(&["init", "--quiet"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "--quiet", "-m", "web"]);
    let root = repo.root();
    let output = chart_harness(
        root,
        &["plan", "--suites", "lint,integration", "--out", "plan.json"],
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let plan = plan_cells(root);
    assert_eq!(plan["cells"][1]["id"], "web-k8s-1.37.2");
    assert_eq!(plan["cells"][1]["node_image"], image.as_str());

    run_cells_on(&repo, None, "kind");

    let merged = chart_harness(
        root,
        &[
            "report",
            "merge",
            "--plan",
            "plan.json",
            "--out",
            "merged",
            "chart-harness-reports",
        ],
    );
    assert!(merged.status.success(), "{}", output_text(&merged));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("merged/report.json")).unwrap())
            .unwrap();
    let cluster = report["cells"][1]["cluster"].as_str().unwrap();
    assert!(cluster.contains("kind"), "{cluster}");
    assert!(!cluster.contains("simulated"), "{cluster}");
    let integration: Vec<&serde_json::Value> = report["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"]["suite"] == "integration")
        .collect();
    assert_eq!(integration.len(), 3);
    for trial in integration {
        assert_eq!(trial["status"], "passed", "{trial}");
        assert_eq!(trial["kube_version"], "1.37.2");
        let phases: Vec<&str> = trial["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(phases.contains(&"helm-test"), "{phases:?}");
    }
    let gate = chart_harness(root, &["gate", "--charts", "web", "--reports", "merged"]);
    assert!(gate.status.success(), "{}", output_text(&gate));
}

/// 300 charts × 2 Kubernetes versions through the command line: 600 cluster cells are
/// more than one GitHub matrix takes, so the plan splits them into three shards, the
/// workflow's outputs refuse to hand over one oversized matrix, and each shard's is at
/// most 250 cells.
#[test]
fn a_plan_of_300_charts_on_2_versions_is_sharded() {
    let repo = TempRepo::new();
    let root = repo.root();
    repo.write_config("kube-versions: [\"1.36\", \"1.37\"]\n");
    for index in 0..300 {
        write(
            root,
            &format!("fixtures/charts/chart-{index:03}/Chart.yaml"),
            &format!(
                "apiVersion: v2\nname: chart-{index:03}\ndescription: generated\nversion: 0.1.0\n"
            ),
        );
    }
    repo.git(&["init", "--quiet"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "--quiet", "-m", "300 charts"]);

    let output = chart_harness(root, &["plan", "--out", "plan.json"]);
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("600 cluster cells are more than one GitHub matrix takes (256); split into 3 shards of at most 200"),
        "{text}"
    );
    let plan = plan_cells(root);
    assert_eq!(plan["cells"].as_array().unwrap().len(), 601);
    let shards: Vec<usize> = plan["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cells"].as_array().unwrap().len())
        .collect();
    assert_eq!(shards, [200, 200, 200]);

    std::fs::write(root.join("outputs.txt"), "").unwrap();
    let whole = chart_harness(root, &["plan", "--github-output", "outputs.txt"]);
    assert_eq!(whole.status.code(), Some(2), "{}", output_text(&whole));
    assert!(
        output_text(&whole).contains("run `plan --shard I/3` once per shard"),
        "{}",
        output_text(&whole)
    );
    let shard = chart_harness(
        root,
        &[
            "plan",
            "--shard",
            "3/3",
            "--github-output",
            "outputs.txt",
            "--format",
            "github-matrix",
        ],
    );
    assert!(shard.status.success(), "{}", output_text(&shard));
    let matrix: serde_json::Value = serde_json::from_slice(&shard.stdout).unwrap();
    let include = matrix["include"].as_array().unwrap();
    assert_eq!(include.len(), 200);
    assert_eq!(include[0]["id"], "chart-200-k8s-1.36");
    let outputs = std::fs::read_to_string(root.join("outputs.txt")).unwrap();
    assert!(
        outputs.contains("shards=[\"1/3\",\"2/3\",\"3/3\"]\n"),
        "{outputs}"
    );
}
