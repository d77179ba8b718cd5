//! The suite against a real local control plane (kwokctl binary runtime) with the
//! pinned helm. Missing cluster binaries or helm fail these tests, with the command
//! that installs them: a cluster test that finds no cluster is a failure, not a skip.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::cluster::{AnyProvider, ClusterLease, ClusterRequest, LocalBinaries, LocalProvider};
use crate::plan::Suite;
use crate::session::Session;
use crate::suites::{PhaseStatus, TrialOutcome};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn local_provider() -> LocalProvider {
    let binaries = LocalBinaries::from_env()
        .unwrap_or_else(|| LocalBinaries::in_dir(&workspace_root().join(".tools").join("bin")));
    if let Err(error) = binaries.check() {
        panic!("{error}");
    }
    LocalProvider {
        binaries,
        kube_version: format!(
            "v{}",
            crate::tools::pinned_kube_version(&workspace_root()).unwrap()
        ),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A repository holding `charts` (copied fixtures) and the given extra charts.
fn temp_repo(fixtures: &[&str], extra: &[(&str, &[(&str, &str)])]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    // The pinned tools this workspace installed (`chart-harness tools install --all`).
    std::os::unix::fs::symlink(workspace_root().join(".tools"), repo.path().join(".tools"))
        .unwrap();
    for name in fixtures {
        copy_dir(
            &workspace_root().join("fixtures/charts").join(name),
            &repo.path().join("charts").join(name),
        );
    }
    for (name, files) in extra {
        for (file, text) in *files {
            let path = repo.path().join("charts").join(name).join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    std::fs::write(
        repo.path().join("chart-harness.yaml"),
        "chart-dirs: [charts]\nreport-dir: report\ncheck-version-increment: false\n",
    )
    .unwrap();
    repo
}

/// Runs the integration suite over every trial of `repo` on one fresh local cluster.
async fn run_all(repo: &Path) -> Vec<TrialOutcome> {
    let session = Session::open(repo).unwrap();
    let mut ctx = session.context(None).await.unwrap_or_else(|e| {
        panic!("the pinned helm resolves (run `chart-harness tools install`): {e}")
    });
    let lease = Arc::new(ClusterLease::new(
        AnyProvider::Local(local_provider()),
        ClusterRequest {
            name_prefix: "ch-test-integration".into(),
            ready_timeout: Duration::from_secs(120),
            ..ClusterRequest::default()
        },
    ));
    ctx.cluster = Some(Arc::clone(&lease));
    let trials = session.plan(&session.charts, &[Suite::Integration]);
    let mut outcomes = Vec::new();
    for trial in &trials {
        outcomes.push(crate::suites::run_trial(trial, &ctx).await);
    }
    let access = lease
        .acquired()
        .await
        .expect("a trial acquired the cluster");
    let kube = Kube::connect(&access.kubeconfig, access.context.as_deref())
        .await
        .unwrap();
    // Every namespace of the run is gone: cleanup ran.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.client());
    let left = namespaces
        .list(&ListParams::default().labels(&format!("{}={}", naming::RUN_LABEL, naming::run_id())))
        .await
        .unwrap();
    assert!(
        left.items.is_empty(),
        "namespaces left: {:?}",
        left.items
            .iter()
            .map(|n| n.metadata.name.clone())
            .collect::<Vec<_>>()
    );
    lease.release().await.unwrap();
    outcomes
}

fn phase<'o>(outcome: &'o TrialOutcome, name: &str) -> &'o crate::suites::PhaseRecord {
    outcome
        .phases
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no phase {name} in {:#?}", outcome.phases))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_fixture_installs_becomes_ready_passes_its_test_and_leaves_nothing() {
    let repo = temp_repo(&["web"], &[]);
    let outcomes = run_all(repo.path()).await;
    assert_eq!(outcomes.len(), 3, "one trial per case");
    for outcome in &outcomes {
        // Shown with --nocapture: the figures of the closing report.
        let timings: Vec<String> = outcome
            .phases
            .iter()
            .map(|p| format!("{}={:.2}s", p.name, p.duration.as_secs_f64()))
            .collect();
        println!(
            "{} {:.2}s: {}",
            outcome.id,
            outcome.duration.as_secs_f64(),
            timings.join(" ")
        );
        assert!(outcome.passed(), "{}", outcome.failure_message());
        for name in [
            "cluster",
            "namespace",
            "dry-run",
            "install",
            "ready:Deployment/web",
            "ready:Service/web",
            "helm-test",
            "uninstall",
            "namespace-delete",
            "leftovers",
        ] {
            assert_eq!(phase(outcome, name).status, PhaseStatus::Passed, "{name}");
        }
        assert!(
            matches!(phase(outcome, "helm-test-logs").status, PhaseStatus::NotRun(ref why) if why.contains("simulated"))
        );
        assert!(!outcome.phases.iter().any(|p| p.name == "diagnostics"));
    }
}

const CM_CHART: &str = "apiVersion: v2\nname: {NAME}\nversion: 0.1.0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_missing_crds_never_ready_leftovers_and_chaos_are_reported() {
    let rejected = [
        (
            "Chart.yaml",
            CM_CHART.replace("{NAME}", "rejected").leak() as &str,
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    bad: \"not a valid label value!\"\n",
        ),
        (
            "templates/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
        ),
    ];
    let stuck = [
        (
            "Chart.yaml",
            CM_CHART.replace("{NAME}", "stuck").leak() as &str,
        ),
        ("ci/harness.yaml", "readiness-timeout: 6s\n"),
        (
            "templates/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: stuck\nspec:\n  selector:\n    matchLabels: {app: stuck}\n  template:\n    metadata:\n      labels: {app: stuck}\n    spec:\n      nodeSelector: {nowhere: \"true\"}\n      containers:\n        - name: c\n          image: registry.invalid/x:1\n",
        ),
    ];
    let keeper = [
        (
            "Chart.yaml",
            CM_CHART.replace("{NAME}", "keeper").leak() as &str,
        ),
        ("ci/harness.yaml", "chaos: true\n"),
        (
            "templates/role.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: chart-harness-test-keeper-{{ .Release.Namespace }}\n  annotations:\n    helm.sh/resource-policy: keep\nrules: []\n",
        ),
        (
            "templates/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: keeper\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: keeper}\n  template:\n    metadata:\n      labels: {app: keeper}\n    spec:\n      containers:\n        - name: c\n          image: registry.invalid/x:1\n",
        ),
    ];
    let repo = temp_repo(
        &[],
        &[
            ("rejected", &rejected),
            ("stuck", &stuck),
            ("keeper", &keeper),
        ],
    );
    let outcomes = run_all(repo.path()).await;
    let by_chart = |name: &str| outcomes.iter().find(|o| o.id.chart == name).unwrap();

    let rejected = by_chart("rejected");
    let dry_run = phase(rejected, "dry-run");
    assert_eq!(dry_run.status, PhaseStatus::Failed);
    let messages: Vec<String> = dry_run.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        messages.iter().any(|m| m.contains("templates/cm.yaml")
            && m.contains("ConfigMap `cm` was rejected")
            && m.contains("not a valid label value")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("templates/widget.yaml")
            && m.contains("Widget `w`")
            && m.contains("prerequisites.crds")),
        "{messages:#?}"
    );
    assert!(
        !rejected.phases.iter().any(|p| p.name == "install"),
        "nothing installed after a failed dry-run"
    );
    assert_eq!(
        phase(rejected, "namespace-delete").status,
        PhaseStatus::Passed
    );

    let stuck = by_chart("stuck");
    let ready = phase(stuck, "ready:Deployment/stuck");
    assert_eq!(ready.status, PhaseStatus::Failed);
    assert!(
        ready.problems[0].message.contains("0 of 1 replicas"),
        "{:?}",
        ready.problems
    );
    assert!(
        ready.duration < Duration::from_secs(15),
        "the readiness timeout holds: {:?}",
        ready.duration
    );
    let diagnostics = phase(stuck, "diagnostics");
    let text: String = diagnostics
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("FailedScheduling"), "{text}");
    assert!(text.contains("PodScheduled=False"), "{text}");
    assert!(text.contains("pods are simulated"), "{text}");
    assert!(text.contains("helm history"), "{text}");
    assert_eq!(
        phase(stuck, "uninstall").status,
        PhaseStatus::Passed,
        "cleanup runs after a failure"
    );
    assert_eq!(phase(stuck, "namespace-delete").status, PhaseStatus::Passed);

    let keeper = by_chart("keeper");
    assert_eq!(
        phase(keeper, "chaos").status,
        PhaseStatus::Passed,
        "{}",
        keeper.failure_message()
    );
    let leftovers = phase(keeper, "leftovers");
    assert_eq!(leftovers.status, PhaseStatus::Failed);
    assert!(
        leftovers.problems.iter().any(|p| p
            .message
            .contains("ClusterRole `chart-harness-test-keeper-keeper-default-")
            && p.file
                .as_deref()
                .is_some_and(|f| f.ends_with("templates/role.yaml"))),
        "{:?}",
        leftovers.problems
    );
}
