//! The release lifecycle layer and the integration suite on real local control planes
//! (kwokctl's binary runtime over the pinned binaries; kwok simulates nodes and pods),
//! with the pinned helm. Missing binaries or helm fail these tests with the command
//! that installs them: a cluster test that finds no cluster is a failure, not a skip.
//!
//! Each test starts its own cluster, so they can run in parallel and in separate
//! processes (nextest) alike.

mod testing;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chart_harness::chartfile::ChartYaml;
use chart_harness::cluster::{AnyProvider, ClusterAccess, ClusterLease, ClusterRequest};
use chart_harness::config::ChartSettings;
use chart_harness::discovery::Chart;
use chart_harness::k8s::{self, Kube, WaitPolicy, naming, readiness};
use chart_harness::plan::Suite;
use chart_harness::release::{
    ExecError, HelmError, JobError, ReleaseUnderTest, TrialNamespace, diagnostics,
};
use chart_harness::run::{ClusterChoice, Run, RunOptions};
use chart_harness::session::Session;
use chart_harness::suites::{PhaseRecord, PhaseStatus, TrialOutcome};
use chart_harness::tools::{Helm, HelmMajor, Toolbox};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use testing::TempRepo;

/// A fresh local cluster for one test; `kwok_configs` are handed to kwokctl with the
/// pinned stages (kwokctl merges every `--config`).
fn local_lease(name_prefix: &str, kwok_configs: &[PathBuf]) -> ClusterLease {
    let mut provider = testing::local_provider();
    provider
        .binaries
        .stages
        .extend(kwok_configs.iter().cloned());
    ClusterLease::new(
        AnyProvider::Local(provider),
        ClusterRequest {
            name_prefix: name_prefix.into(),
            ready_timeout: Duration::from_secs(120),
            ..ClusterRequest::default()
        },
    )
}

// ---------------------------------------------------------------------------------
// The integration suite, end to end.

/// Runs the integration suite over every trial of `repo` on one fresh local cluster,
/// one trial at a time, and checks that every namespace of the run is gone after.
async fn run_all(repo: &Path) -> Vec<TrialOutcome> {
    let session = Session::open(repo).unwrap();
    let trials = session.plan(&session.charts, &[Suite::Integration]);
    let options = RunOptions {
        cluster: ClusterChoice::Lease(Box::new(local_lease("ch-test-integration", &[]))),
        ..RunOptions::default()
    };
    let run = Run::assemble(&session, trials, options)
        .await
        .unwrap_or_else(|e| {
            panic!("the pinned helm resolves (run `chart-harness tools install`): {e}")
        });
    let mut outcomes = Vec::new();
    for trial in &run.trials {
        outcomes.push(run.run_one(trial).await);
    }
    let lease = run
        .ctx
        .cluster
        .as_ref()
        .expect("integration trials lease a cluster");
    let access = lease
        .acquired()
        .await
        .expect("a trial acquired the cluster");
    let kube = Kube::connect(&access.kubeconfig, access.context.as_deref())
        .await
        .unwrap();
    // Every namespace of the run is gone: cleanup ran.
    let namespaces: Api<Namespace> = Api::all(kube.client());
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
    run.release_cluster().await;
    outcomes
}

/// A repository holding the fixture charts `fixtures` and the given extra charts.
fn temp_repo(fixtures: &[&str], extra: &[(&str, &[(&str, &str)])]) -> TempRepo {
    let repo = TempRepo::new();
    for name in fixtures {
        repo.add_chart("charts", name);
    }
    for (name, files) in extra {
        for (file, text) in *files {
            let path = repo.root().join("fixtures/charts").join(name).join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    repo
}

fn phase<'o>(outcome: &'o TrialOutcome, name: &str) -> &'o PhaseRecord {
    outcome
        .phases
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no phase {name} in {:#?}", outcome.phases))
}

/// Every case of the web fixture passes every phase and collects no diagnostics. On
/// the local control plane the test hook's pod is completed by kwok; only kind proves
/// that its command ran and that its logs are captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_fixture_installs_becomes_ready_passes_its_test_and_leaves_nothing() {
    let repo = temp_repo(&["web"], &[]);
    let outcomes = run_all(repo.root()).await;
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

/// Most charts' test hooks are bare Pods, not Jobs: on the local control plane they
/// complete (our kwok stage), and the report says their command did not run. Only kind
/// proves the command's exit code decides the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_pod_test_hook_completes_and_the_report_says_its_command_did_not_run() {
    let repo = temp_repo(
        &[],
        &[(
            "pod-hook",
            &[
                (
                    "Chart.yaml",
                    "apiVersion: v2\nname: pod-hook\nversion: 0.1.0\n",
                ),
                (
                    "templates/config.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: hello\n",
                ),
                (
                    "templates/tests/test-greeting.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: check\n      image: busybox:1.36\n      command: [\"sh\", \"-c\", \"exit 0\"]\n",
                ),
            ],
        )],
    );
    let outcomes = run_all(repo.root()).await;
    assert_eq!(outcomes.len(), 1);
    let outcome = &outcomes[0];
    assert!(outcome.passed(), "{}", outcome.failure_message());
    assert_eq!(phase(outcome, "helm-test").status, PhaseStatus::Passed);
    assert!(
        matches!(phase(outcome, "helm-test-logs").status, PhaseStatus::NotRun(ref why) if why.contains("commands did not run")),
        "{:?}",
        phase(outcome, "helm-test-logs").status
    );
}

const CM_CHART: &str = "apiVersion: v2\nname: {NAME}\nversion: 0.1.0\n";

/// The API server's rejections, a missing CRD, a workload that never becomes ready
/// (with diagnostics and cleanup after it), a cluster-scoped leftover and the chaos
/// check are each reported in their phase. Only kind proves chaos against real
/// containers restarting and the diagnostics' container logs.
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
    let outcomes = run_all(repo.root()).await;
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
    // The scheduler's verdict ends the wait before the readiness timeout.
    assert!(
        ready.problems[0]
            .message
            .contains("will not become ready: its pod cannot be scheduled"),
        "{:?}",
        ready.problems
    );
    assert!(
        ready.duration < Duration::from_secs(15),
        "it fails fast: {:?}",
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
    // helm's view of the release, from `helm status -o json`, without the NOTES.
    assert!(text.contains("STATUS: deployed"), "{text}");
    assert!(text.contains("NOTES left out"), "{text}");
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

// ---------------------------------------------------------------------------------
// The release layer's operations, one by one.

/// What every layer test needs: a cluster, a client, helm of one major, and a chart.
struct Bench {
    lease: ClusterLease,
    access: ClusterAccess,
    kube: Kube,
    helm: Helm,
    _helm_home: tempfile::TempDir,
}

impl Bench {
    async fn start(name_prefix: &str, kwok_configs: &[PathBuf], major: HelmMajor) -> Bench {
        let root = testing::workspace_root();
        let helm_home = tempfile::tempdir().unwrap();
        let helm = Toolbox::resolve(&root, major, helm_home.path())
            .await
            .unwrap_or_else(|e| panic!("{major} resolves (run `chart-harness tools install`): {e}"))
            .helm;
        let lease = local_lease(name_prefix, kwok_configs);
        let access = lease.access().await.unwrap_or_else(|e| panic!("{e}"));
        let kube = Kube::connect(&access.kubeconfig, access.context.as_deref())
            .await
            .unwrap();
        Bench {
            lease,
            access,
            kube,
            helm,
            _helm_home: helm_home,
        }
    }

    /// The release `name` of `chart` in `namespace`, with a short readiness timeout.
    fn release<'a>(
        &'a self,
        chart: &'a Chart,
        namespace: &str,
        name: &str,
    ) -> ReleaseUnderTest<'a> {
        ReleaseUnderTest {
            cluster: &self.access,
            kube: &self.kube,
            helm: &self.helm,
            chart,
            chart_dir: &chart.dir,
            namespace: namespace.into(),
            name: name.into(),
            values_files: Vec::new(),
            helm_extra_args: &[],
            helm_set_args: &[],
            timeout: Duration::from_secs(30),
        }
    }

    async fn finish(self) {
        self.lease.release().await.unwrap();
    }
}

/// A chart written into `dir` from `files`, as discovery would describe it.
fn chart_in(dir: &Path, name: &str, files: &[(&str, &str)]) -> Chart {
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    Chart {
        name: name.into(),
        dir: dir.to_path_buf(),
        rel_dir: PathBuf::from("charts").join(name),
        cases: Vec::new(),
        settings: Ok(ChartSettings::default()),
        chart_file: ChartYaml::of(dir),
    }
}

/// A chart whose one ConfigMap carries `.Values.message`, to see which revision is live.
const MESSAGE_CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: message\nversion: 0.1.0\n",
    ),
    ("values.yaml", "message: first\n"),
    (
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: message\ndata:\n  message: {{ .Values.message | quote }}\n",
    ),
];

async fn live_message(kube: &Kube, namespace: &str) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(kube.client(), namespace);
    api.get_opt("message")
        .await
        .unwrap()
        .and_then(|cm| cm.data?.get("message").cloned())
}

/// install → upgrade → rollback → uninstall through the layer, with helm 3 and helm 4,
/// checking after each step which values are live in the cluster; a failing upgrade
/// is a `HelmError` naming the command and quoting helm; uninstalling a release helm
/// does not know is no error (a failed install may leave none). Everything here is
/// helm and the API server, so the local control plane proves all of it; only the
/// pods a real chart would start need kind to run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_install_upgrade_roll_back_and_uninstall_with_helm_3_and_4() {
    for major in [HelmMajor::V3, HelmMajor::V4] {
        let bench = Bench::start("ch-test-helm", &[], major).await;
        let dir = tempfile::tempdir().unwrap();
        let chart = chart_in(dir.path(), "message", MESSAGE_CHART);
        let second = dir.path().join("second-values.yaml");
        std::fs::write(&second, "message: second\n").unwrap();
        let namespace = TrialNamespace::create(&bench.kube, "message", "lifecycle")
            .await
            .value
            .unwrap();
        let release = bench.release(&chart, namespace.name(), "message");

        release.install().await.value.unwrap();
        assert_eq!(
            live_message(&bench.kube, namespace.name()).await.as_deref(),
            Some("first"),
            "{major}"
        );
        release
            .upgrade(&chart.dir, std::slice::from_ref(&second))
            .await
            .value
            .unwrap();
        assert_eq!(
            live_message(&bench.kube, namespace.name()).await.as_deref(),
            Some("second"),
            "{major}"
        );
        release.rollback(1).await.value.unwrap();
        assert_eq!(
            live_message(&bench.kube, namespace.name()).await.as_deref(),
            Some("first"),
            "{major}"
        );

        let failed = release
            .upgrade(&dir.path().join("no-such-chart"), &[])
            .await
            .value
            .unwrap_err();
        assert!(matches!(failed, HelmError::Failed { .. }), "{failed:?}");
        assert!(
            failed
                .to_string()
                .starts_with("helm upgrade failed (exit status: 1): "),
            "{failed}"
        );

        let errors = release.uninstall(&["message"]).await.value;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            live_message(&bench.kube, namespace.name()).await,
            None,
            "{major}"
        );
        let errors = release.uninstall(&["message"]).await.value;
        assert!(
            errors.is_empty(),
            "uninstalling twice is no error: {errors:?}"
        );

        namespace.delete(&bench.kube).await.value.unwrap();
        bench.finish().await;
    }
}

fn job(name: &str, node_selector: Option<&str>) -> Job {
    let selector = node_selector
        .map(|s| format!("      nodeSelector: {{{s}}}\n"))
        .unwrap_or_default();
    let yaml = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n{selector}      containers:\n        - name: main\n          image: registry.invalid/backup:1\n          command: [sh, -c, \"echo dumped\"]\n"
    );
    serde_saphyr::from_str(&yaml).unwrap()
}

/// A Job runs to completion and its logs come back; a Job whose pod can never be
/// scheduled times out with a message that names it. kwok completes the pods Jobs
/// own, so on the local control plane this proves creation, the wait and the Job
/// controller's verdict, and that logs are reported as simulated. Only kind proves
/// that the container's command ran, its exit code decided the verdict, and that its
/// output is in the captured logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_to_completion_and_a_stuck_job_times_out_by_name() {
    let bench = Bench::start("ch-test-job", &[], HelmMajor::V4).await;
    let dir = tempfile::tempdir().unwrap();
    let chart = chart_in(dir.path(), "message", MESSAGE_CHART);
    let namespace = TrialNamespace::create(&bench.kube, "message", "jobs")
        .await
        .value
        .unwrap();
    // A trial's namespace is handed over with its `default` ServiceAccount, so the
    // dry-run and install never race the controller that creates it.
    let accounts: Api<ServiceAccount> = Api::namespaced(bench.kube.client(), namespace.name());
    assert!(accounts.get_opt("default").await.unwrap().is_some());
    let mut release = bench.release(&chart, namespace.name(), "message");

    let run = release.run_job(&job("backup", None)).await.value.unwrap();
    assert_eq!(run.name, "backup");
    assert_eq!(run.logs, diagnostics::SIMULATED_LOGS);

    release.timeout = Duration::from_secs(3);
    let stuck = release
        .run_job(&job("stuck", Some("nowhere: \"true\"")))
        .await;
    let error = stuck.value.unwrap_err();
    assert!(matches!(error, JobError::TimedOut { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("Job `stuck` did not complete within 3s: 0 of 1 completions"),
        "{message}"
    );
    assert!(
        stuck.elapsed < Duration::from_secs(15),
        "the timeout holds: {:?}",
        stuck.elapsed
    );

    namespace.delete(&bench.kube).await.value.unwrap();
    bench.finish().await;
}

/// The namespace whose pods kwok maps exec into (see [`KWOK_EXEC`]).
const EXEC_NAMESPACE: &str = "exec-mapped";

/// kwok's ClusterExec: `exec` into any container of a pod in [`EXEC_NAMESPACE`] runs
/// the command as a local process in `{WORKDIR}`. Only tests configure this: it would
/// run chart commands on the host.
const KWOK_EXEC: &str = "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterExec\nmetadata:\n  name: chart-harness-test-exec\nspec:\n  selector:\n    matchNamespaces: [exec-mapped]\n  execs:\n    - local:\n        workDir: {WORKDIR}\n";

async fn running_pod(kube: &Kube, namespace: &str) {
    let namespaces: Api<Namespace> = Api::all(kube.client());
    let object: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).unwrap();
    namespaces
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
    // Pods are admitted once the namespace's default ServiceAccount exists.
    let accounts: Api<ServiceAccount> = Api::namespaced(kube.client(), namespace);
    let created = k8s::await_condition(
        &accounts,
        "default",
        WaitPolicy::within(Duration::from_secs(30)),
        |account| match account {
            Some(_) => readiness::Readiness::Ready,
            None => readiness::Readiness::Pending("not created yet".into()),
        },
    )
    .await;
    assert!(created.is_ready(), "{created:?}");
    let pods: Api<Pod> = Api::namespaced(kube.client(), namespace);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db"},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/db:1"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let ready = k8s::await_condition(
        &pods,
        "db",
        WaitPolicy::within(Duration::from_secs(60)),
        |pod| {
            pod.map_or_else(
                || readiness::Readiness::Pending("not created".into()),
                readiness::pod,
            )
        },
    )
    .await;
    assert!(ready.is_ready(), "{ready:?}");
}

/// Exec feeds stdin, captures stdout and stderr separately and reads the exit code,
/// through the API server's exec subresource over WebSocket. kwok maps exec in
/// [`EXEC_NAMESPACE`] to a local process (its ClusterExec), so the local control plane
/// proves the streaming path: API server, kwok's kubelet endpoint, stdin bytes, both
/// output channels and the final status. A pod kwok does not map fails with a message
/// that says pods are simulated and to use kind.
///
/// Only kind proves that the command runs inside the container (its image,
/// filesystem and user), that a non-zero exit arrives as a structured exit code, and
/// that a command reading stdin to its end (`cat`,
/// `psql < dump`) sees EOF: kwok's local exec never closes the command's stdin
/// (`kubectl exec -i ... -- cat` hangs there too), so these commands read a known
/// number of bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_feeds_stdin_and_captures_stdout_stderr_and_the_exit_code() {
    let workdir = tempfile::tempdir().unwrap();
    let config = workdir.path().join("kwok-exec.yaml");
    std::fs::write(
        &config,
        KWOK_EXEC.replace("{WORKDIR}", &workdir.path().display().to_string()),
    )
    .unwrap();
    let bench = Bench::start("ch-test-exec", &[config], HelmMajor::V4).await;
    let dir = tempfile::tempdir().unwrap();
    let chart = chart_in(dir.path(), "message", MESSAGE_CHART);
    running_pod(&bench.kube, EXEC_NAMESPACE).await;
    running_pod(&bench.kube, "exec-unmapped").await;
    let release = bench.release(&chart, EXEC_NAMESPACE, "message");
    let timeout = Duration::from_secs(30);

    let output = release
        .exec(
            "db",
            "main",
            &["sh", "-c", "head -c 14; pwd; echo note >&2"],
            b"restored rows\n",
            timeout,
        )
        .await
        .value
        .unwrap();
    assert_eq!(
        output.stdout,
        format!("restored rows\n{}\n", workdir.path().display())
    );
    assert_eq!(output.stderr, "note\n");

    let failed = release
        .exec(
            "db",
            "main",
            &["sh", "-c", "head -c 1 >/dev/null; echo broken >&2; exit 3"],
            b"x",
            timeout,
        )
        .await
        .value
        .unwrap_err();
    let message = failed.to_string();
    // kwok puts the exit status into the message; a kubelet sends it as the status'
    // `ExitCode` cause, which `exit code 3` is read from (unit-tested on recorded
    // statuses).
    assert!(
        matches!(&failed, ExecError::Failed { exit, .. } if exit.ends_with("exit status 3")),
        "{failed:?}"
    );
    assert!(
        message.contains("pod db") && message.contains("stderr: broken"),
        "{message}"
    );

    let unmapped = bench.release(&chart, "exec-unmapped", "message");
    let error = unmapped
        .exec("db", "main", &["true"], b"", timeout)
        .await
        .value
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("pod db") && message.contains("--cluster kind"),
        "{message}"
    );

    bench.finish().await;
}
