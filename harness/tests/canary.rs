//! Secrets never printed: a password planted in values, a Secret (as `data` and as
//! `stringData`), the chart's NOTES and a values-schema violation fails the charts in
//! every suite, and then neither the console, the JSON report, JUnit nor the per-trial
//! files hold it, plain or in base64.

mod testing;

use std::path::Path;
use std::process::Command;

use chart_harness::cluster::ProviderKind;
use chart_harness::plan::Suite;
use chart_harness::run::{ClusterChoice, Run, RunOptions};
use chart_harness::session::Session;
use chart_harness::suites::TrialStatus;

const CANARY: &str = "S3cr3t-Canary-123";
/// base64 of the canary, without the padding a longer text would change.
const CANARY_BASE64: &str = "UzNjcjN0LUNhbmFyeS0xMjM";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `canary-install` installs and never becomes ready, so it is diagnosed (helm status,
/// events, pods); lint fails it on a trailing space and template on its missing
/// snapshot. `canary-schema` breaks its schema with the password, in every suite.
fn canary_repo(root: &Path) {
    std::os::unix::fs::symlink(
        testing::workspace_root().join(".tools"),
        root.join(".tools"),
    )
    .unwrap();
    write(
        root,
        "chart-harness.yaml",
        "check-version-increment: false\nsnapshots: true\nreport-dir: report\n",
    );
    for chart in ["canary-install", "canary-schema"] {
        write(
            root,
            &format!("charts/{chart}/Chart.yaml"),
            &format!(
                "apiVersion: v2\nname: {chart}\ndescription: plants a password\nversion: 0.1.0\nmaintainers:\n  - name: team\n"
            ),
        );
        write(
            root,
            &format!("charts/{chart}/templates/secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\ndata:\n  password: {{ .Values.password | b64enc | quote }}\nstringData:\n  again: {{ .Values.password | quote }}\n",
        );
        write(
            root,
            &format!("charts/{chart}/templates/NOTES.txt"),
            "Log in with the password {{ .Values.password }}\n",
        );
        write(
            root,
            &format!("charts/{chart}/ci/harness.yaml"),
            "readiness-timeout: 5s\n",
        );
    }
    write(
        root,
        "charts/canary-install/values.yaml",
        &format!("password: {CANARY}\nreplicas: 1 \n"),
    );
    // An image without a tag breaks a policy error rule, so policy fails this chart too.
    write(
        root,
        "charts/canary-install/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-app\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: {app: canary}\n  template:\n    metadata:\n      labels: {app: canary}\n    spec:\n      nodeSelector:\n        chart-harness.example.com/never-matches: \"true\"\n      containers:\n        - name: app\n          image: busybox\n          envFrom:\n            - secretRef:\n                name: {{ .Release.Name }}-auth\n",
    );
    write(
        root,
        "charts/canary-schema/values.yaml",
        &format!("password: {CANARY}\n"),
    );
    write(
        root,
        "charts/canary-schema/values.schema.json",
        r#"{"type": "object", "properties": {"password": {"type": "string", "maxLength": 8}}}"#,
    );
}

/// Every file under `dir` that holds the canary, plain or in base64.
fn files_with_canary(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        if text.contains(CANARY) || text.contains(CANARY_BASE64) {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

#[test]
fn a_planted_password_is_never_printed_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    canary_repo(root);

    // The command line, as CI runs it: console, report.json and junit.xml.
    let output = Command::new(env!("CARGO_BIN_EXE_chart-harness"))
        .arg("--repo")
        .arg(root)
        .args(["all", "--cluster", "local"])
        .env("CI", "true")
        .output()
        .unwrap();
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{console}");
    // Every suite failed both charts, so every failure path printed something (the
    // upgrade suite at its baseline: the repository has no git history).
    assert!(console.contains("0 passed, 10 failed"), "{console}");
    assert!(
        console.contains("[values-schema]")
            && console.contains("[diagnostics] helm status")
            && console.contains("[snapshot]")
            && console.contains("[policy]"),
        "{console}"
    );
    assert!(
        !console.contains(CANARY) && !console.contains(CANARY_BASE64),
        "{console}"
    );

    // The per-trial files, as `cargo test` and nextest leave them.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = Session::open(root).unwrap();
        let trials = session.plan(&session.charts, Suite::ALL);
        let options = RunOptions {
            cluster: ClusterChoice::Provider(Some(ProviderKind::Local)),
            ..RunOptions::default()
        };
        let run = Run::assemble(&session, trials, options).await.unwrap();
        for trial in &run.trials {
            let outcome = run.run_one(trial).await;
            assert_ne!(outcome.status, TrialStatus::Passed, "{}", trial.id);
        }
        run.release_cluster().await;
    });
    let report = root.join("report");
    assert!(report.join("trials").is_dir());
    assert!(report.join("report.json").is_file() && report.join("junit.xml").is_file());
    assert_eq!(files_with_canary(&report), Vec::<String>::new());
}
