//! The local control plane against its real binaries (kwokctl's binary runtime over the
//! pinned etcd and Kubernetes binaries): start-up, workloads on simulated nodes, volume
//! binding, and teardown on every way out. A cluster test that finds no binaries fails
//! with the command that installs them; it is never skipped.

mod testing;

use std::time::{Duration, Instant};

use chart_harness::cluster::local::VOLUME_STORAGE_CLASS;
use chart_harness::cluster::{
    self, ClusterError, ClusterHandle, ClusterProvider, ClusterRequest, LocalProvider, unique_name,
};
use chart_harness::tools::process::{self, ProcessSpec};
use testing::{local_provider, processes_mentioning};

/// Real-cluster tests run side by side (which also proves parallel clusters do not
/// collide), except the one that tears down every cluster of the process.
static CLUSTER_TESTS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn kubectl(provider: &LocalProvider, handle: &ClusterHandle, args: &[&str]) -> String {
    let spec = ProcessSpec::new(&provider.binaries.kubectl, Duration::from_secs(90))
        .arg("--kubeconfig")
        .arg(handle.kubeconfig())
        .args(args);
    process::run_checked(&spec).await.unwrap().stdout
}

fn request(prefix: &str) -> ClusterRequest {
    ClusterRequest {
        name_prefix: prefix.to_string(),
        nodes: 2,
        ready_timeout: Duration::from_secs(120),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_control_plane_runs_workloads_and_leaves_nothing_behind() {
    let _shared = CLUSTER_TESTS.read().await;
    use std::os::unix::fs::PermissionsExt;
    let provider = local_provider();
    let handle = provider.acquire(&request("ch-test-local")).await.unwrap();
    let name = handle.name().to_string();
    let kubeconfig = handle.kubeconfig().to_path_buf();
    // Shown with --nocapture: the start-up figure the issue asks to report.
    println!("{}", handle.description());
    assert!(handle.pods_simulated());
    assert!(
        handle.description().contains("no container runs"),
        "{}",
        handle.description()
    );
    assert_eq!(
        std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let version: serde_json::Value =
        serde_json::from_str(&kubectl(&provider, &handle, &["get", "--raw", "/version"]).await)
            .unwrap();
    assert_eq!(
        version["gitVersion"]
            .as_str()
            .unwrap()
            .trim_start_matches('v'),
        provider.kube_version.trim_start_matches('v')
    );
    let nodes = kubectl(&provider, &handle, &["get", "nodes", "-o", "name"]).await;
    assert_eq!(nodes.lines().count(), 2, "{nodes}");

    // The real controller-manager and scheduler act on kwok's simulated nodes: a
    // Deployment rolls out, and a deleted pod is replaced.
    kubectl(
        &provider,
        &handle,
        &[
            "create",
            "deployment",
            "web",
            "--image=registry.invalid/web:1",
            "--replicas=2",
        ],
    )
    .await;
    kubectl(
        &provider,
        &handle,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    )
    .await;
    let pods = kubectl(
        &provider,
        &handle,
        &["get", "pods", "-l", "app=web", "-o", "name"],
    )
    .await;
    let first = pods
        .lines()
        .next()
        .expect("the deployment has pods")
        .to_string();
    kubectl(&provider, &handle, &["delete", &first, "--wait=true"]).await;
    kubectl(
        &provider,
        &handle,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    )
    .await;
    let ready = kubectl(
        &provider,
        &handle,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
    )
    .await;
    assert_eq!(ready.trim(), "2");
    let pods_after = kubectl(
        &provider,
        &handle,
        &["get", "pods", "-l", "app=web", "-o", "name"],
    )
    .await;
    assert!(
        !pods_after.lines().any(|pod| pod == first),
        "{first} was not replaced: {pods_after}"
    );

    // A claim naming no class gets the default one and is bound by kwok's volume
    // stages; deleting it removes the provisioned volume.
    let claim = std::env::temp_dir().join(format!("{name}-claim.yaml"));
    std::fs::write(
        &claim,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  \
         accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n",
    )
    .unwrap();
    let claimed = Instant::now();
    kubectl(
        &provider,
        &handle,
        &["create", "-f", claim.to_str().unwrap()],
    )
    .await;
    std::fs::remove_file(&claim).unwrap();
    let phase_of_claim = ["get", "pvc", "data", "-o", "jsonpath={.status.phase}"];
    while kubectl(&provider, &handle, &phase_of_claim).await != "Bound" {
        assert!(
            claimed.elapsed() < Duration::from_secs(20),
            "the claim is not Bound after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("PersistentVolumeClaim Bound after {:?}", claimed.elapsed());
    let class = kubectl(
        &provider,
        &handle,
        &[
            "get",
            "pvc",
            "data",
            "-o",
            "jsonpath={.spec.storageClassName}",
        ],
    )
    .await;
    assert_eq!(class, VOLUME_STORAGE_CLASS);
    let volumes = kubectl(&provider, &handle, &["get", "pv", "-o", "name"]).await;
    assert_eq!(volumes.lines().count(), 1, "{volumes}");
    kubectl(
        &provider,
        &handle,
        &["delete", "pvc", "data", "--wait=true"],
    )
    .await;
    let deleted = Instant::now();
    while !kubectl(&provider, &handle, &["get", "pv", "-o", "name"])
        .await
        .trim()
        .is_empty()
    {
        assert!(
            deleted.elapsed() < Duration::from_secs(20),
            "the volume of the deleted claim is still there after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let components = processes_mentioning(&name);
    assert!(
        components.len() >= 5,
        "expected etcd, apiserver, controller-manager, scheduler and kwok: {components:?}"
    );

    handle.teardown().await.unwrap();
    assert_eq!(processes_mentioning(&name), Vec::new());
    assert!(
        !kubeconfig.exists(),
        "{} was left behind",
        kubeconfig.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_local_handle_still_tears_down() {
    let _shared = CLUSTER_TESTS.read().await;
    let provider = local_provider();
    let handle = provider
        .acquire(&ClusterRequest {
            nodes: 0,
            ..request("ch-test-drop")
        })
        .await
        .unwrap();
    let name = handle.name().to_string();
    let kubeconfig = handle.kubeconfig().to_path_buf();
    assert!(!processes_mentioning(&name).is_empty());
    drop(handle);
    assert_eq!(processes_mentioning(&name), Vec::new());
    assert!(
        !kubeconfig.exists(),
        "{} was left behind",
        kubeconfig.display()
    );
}

/// The listening TCP sockets of processes `pids`, as `(local address in /proc's hex
/// form, pid)`: the socket inodes each process holds open, looked up in
/// /proc/net/tcp and tcp6 among the sockets in state LISTEN (0A).
fn listening_sockets(pids: &[i32]) -> Vec<(String, i32)> {
    let mut inodes = std::collections::HashMap::new();
    for &pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                inodes.insert(inode.to_string(), pid);
            }
        }
    }
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields[1], fields[3], fields[9]);
            if state == "0A"
                && let Some(&pid) = inodes.get(inode)
            {
                listening.push((local.to_string(), pid));
            }
        }
    }
    listening
}

/// etcd (unauthenticated), the API server, the controllers and kwok listen on loopback
/// only, so a cluster under test is never reachable from the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_component_listens_on_loopback_only() {
    let _shared = CLUSTER_TESTS.read().await;
    let provider = local_provider();
    let handle = provider
        .acquire(&ClusterRequest {
            nodes: 0,
            ..request("ch-test-loopback")
        })
        .await
        .unwrap();
    let pids: Vec<i32> = processes_mentioning(handle.name())
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    let listening = listening_sockets(&pids);
    handle.teardown().await.unwrap();
    // 127.0.0.1 and ::1 as /proc/net writes them (little-endian words).
    const LOOPBACK: [&str; 2] = ["0100007F:", "00000000000000000000000001000000:"];
    assert!(
        listening.len() >= 5,
        "etcd, apiserver, controller-manager, scheduler and kwok listen: {listening:?}"
    );
    let exposed: Vec<_> = listening
        .iter()
        .filter(|(local, _)| !LOOPBACK.iter().any(|prefix| local.starts_with(prefix)))
        .collect();
    assert!(exposed.is_empty(), "listening beyond loopback: {exposed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_cleans_up_before_reporting() {
    let _shared = CLUSTER_TESTS.read().await;
    let mut provider = local_provider();
    // The binaries report their real version; a different pin must be refused, the
    // way a kube-apiserver built without version ldflags (v0.0.0) is.
    provider.kube_version = "v1.0.0".to_string();
    let prefix = unique_name("ch-test-version");
    let error = provider
        .acquire(&ClusterRequest {
            nodes: 0,
            ..request(&prefix)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClusterError::WrongServerVersion { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("chart-harness tools install"),
        "{error}"
    );
    assert_eq!(processes_mentioning(&prefix), Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_exits_fails_fast_with_its_log() {
    let _shared = CLUSTER_TESTS.read().await;
    let mut provider = local_provider();
    // A real binary that cannot serve as the API server: the scheduler rejects the
    // API server's flags and exits.
    provider.binaries.kube_apiserver = provider.binaries.kube_scheduler.clone();
    let prefix = unique_name("ch-test-exit");
    let started = Instant::now();
    let error = provider
        .acquire(&ClusterRequest {
            nodes: 0,
            ..request(&prefix)
        })
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            ClusterError::ComponentExited {
                component: "kube-apiserver",
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("unknown flag"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(processes_mentioning(&prefix), Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_all_removes_clusters_whose_handles_are_still_held() {
    // teardown_all would also remove the clusters of tests running beside this one.
    let _alone = CLUSTER_TESTS.write().await;
    let provider = local_provider();
    let handle = provider
        .acquire(&ClusterRequest {
            nodes: 0,
            ..request("ch-test-signal")
        })
        .await
        .unwrap();
    let name = handle.name().to_string();
    assert!(!processes_mentioning(&name).is_empty());
    // What the SIGINT/SIGTERM handler does before the process exits.
    let errors = cluster::teardown_all().await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(processes_mentioning(&name), Vec::new());
    assert!(!handle.kubeconfig().exists());
    handle.teardown().await.unwrap();
}
