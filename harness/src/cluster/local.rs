//! The local control plane: real etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler, started by kwokctl's binary runtime from locally built binaries, with
//! nodes and pods simulated by kwok. No container ever runs, and no Docker is needed.
//!
//! Everything kwokctl writes goes into a temporary work directory (`KWOK_WORKDIR`) and a
//! private temporary kubeconfig, so a run never touches `~/.kwok` or `~/.kube/config`
//! and teardown can check that nothing is left.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    Cleanup, ClusterError, ClusterHandle, ClusterProvider, ClusterRequest, PendingCleanup,
    ProviderKind, restrict_to_owner, unique_name,
};
use crate::tools::pins::ToolData;
use crate::tools::process::{self, ProcessOutput, ProcessSpec};
use crate::tools::{Installed, Pins, ToolError};

/// Directory holding all binaries of the local control plane, for tests and for users
/// who built them elsewhere.
pub const BIN_DIR_ENV: &str = "CHART_HARNESS_CLUSTER_BIN_DIR";

/// The binaries the local control plane is made of. Every one must be a local file:
/// kwokctl would otherwise try to download it.
#[derive(Clone, Debug)]
pub struct LocalBinaries {
    pub kwokctl: PathBuf,
    /// kwok's controller, which simulates nodes and pods.
    pub kwok: PathBuf,
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
    /// kwokctl polls the new API server with kubectl, and the harness probes readiness
    /// with it.
    pub kubectl: PathBuf,
    /// kwok Stage manifests, each given to kwokctl as a `--config`: its built-in node
    /// and pod stages plus the volume stages that bind PersistentVolumeClaims. kwokctl
    /// drops its built-in stages once it is given any, hence the whole set.
    pub stages: Vec<PathBuf>,
}

/// The StorageClass the kwok volume stages act on: they select claims and volumes by
/// this `storageClassName`, so it is made the cluster's default class and claims that
/// name no class get it.
pub const VOLUME_STORAGE_CLASS: &str = "kwok-volume";
/// The provisioner the volume stages write into the claims and volumes they bind.
const VOLUME_PROVISIONER: &str = "kwok.x-k8s.io/volume";

impl LocalBinaries {
    /// All binaries under their usual names in one directory (`.tools/bin`), and the
    /// stage files where `tools install` puts them next to it
    /// (`.tools/share/kwok/stages`).
    pub fn in_dir(dir: &Path) -> LocalBinaries {
        let share = match dir.parent() {
            Some(parent) => parent.join("share"),
            None => dir.join("..").join("share"),
        };
        LocalBinaries {
            stages: pinned_stage_files(&share.join("kwok").join(ToolData::STAGES_DIR)),
            kwokctl: dir.join("kwokctl"),
            kwok: dir.join("kwok"),
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kube_controller_manager: dir.join("kube-controller-manager"),
            kube_scheduler: dir.join("kube-scheduler"),
            kubectl: dir.join("kubectl"),
        }
    }

    /// Each binary and the stage files where `tools install` put them for this
    /// repository: its `.tools`, else the machine-wide tool cache.
    pub fn installed(installed: &Installed) -> Result<LocalBinaries, ToolError> {
        Ok(LocalBinaries {
            stages: pinned_stage_files(&installed.data_dir("kwok")?.join(ToolData::STAGES_DIR)),
            kwokctl: installed.binary("kwokctl")?,
            kwok: installed.binary("kwok")?,
            etcd: installed.binary("etcd")?,
            kube_apiserver: installed.binary("kube-apiserver")?,
            kube_controller_manager: installed.binary("kube-controller-manager")?,
            kube_scheduler: installed.binary("kube-scheduler")?,
            kubectl: installed.binary("kubectl")?,
        })
    }

    /// `CHART_HARNESS_CLUSTER_BIN_DIR` when set, else [`LocalBinaries::installed`].
    pub fn find(repo_root: &Path) -> Result<LocalBinaries, ToolError> {
        match LocalBinaries::from_env() {
            Some(binaries) => Ok(binaries),
            None => LocalBinaries::installed(&Installed::open(repo_root)?),
        }
    }

    /// The directory named by `CHART_HARNESS_CLUSTER_BIN_DIR`, if set.
    pub fn from_env() -> Option<LocalBinaries> {
        std::env::var_os(BIN_DIR_ENV)
            .filter(|dir| !dir.is_empty())
            .map(|dir| LocalBinaries::in_dir(Path::new(&dir)))
    }

    fn all(&self) -> [&Path; 7] {
        [
            &self.kwokctl,
            &self.kwok,
            &self.etcd,
            &self.kube_apiserver,
            &self.kube_controller_manager,
            &self.kube_scheduler,
            &self.kubectl,
        ]
    }

    /// Fails with every missing binary and stage file named, and the command that
    /// installs them.
    pub fn check(&self) -> Result<(), ClusterError> {
        let missing: Vec<PathBuf> = self
            .all()
            .into_iter()
            .filter(|path| !is_executable_file(path))
            .chain(
                self.stages
                    .iter()
                    .map(PathBuf::as_path)
                    .filter(|f| !f.is_file()),
            )
            .map(Path::to_path_buf)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::MissingBinaries { missing })
        }
    }
}

/// The stage files `ci/tools.toml` pins for kwok (the built-in pins), inside `dir`.
/// The pins are validated when the harness is built, so an empty list cannot happen
/// with a released binary.
fn pinned_stage_files(dir: &Path) -> Vec<PathBuf> {
    Pins::embedded()
        .ok()
        .and_then(|pins| pins.tool("kwok").and_then(|kwok| kwok.data.clone()))
        .map(|data| {
            data.stage_file_names()
                .into_iter()
                .map(|name| dir.join(name))
                .collect()
        })
        .unwrap_or_default()
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Starts a local control plane per run.
#[derive(Clone, Debug)]
pub struct LocalProvider {
    pub binaries: LocalBinaries,
    /// The pinned Kubernetes version (`v1.37.2`). The started API server must report it:
    /// one built without the version ldflags says v0.0.0 and breaks helm's kubeVersion
    /// checks. (kwokctl itself reads each component's version from the binary.)
    pub kube_version: String,
}

/// How long one kubectl probe may take; the overall wait has its own deadline.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

impl LocalProvider {
    /// kwokctl with its state, and kubectl's discovery cache, kept inside the work
    /// directory; kwokctl finds kubectl on PATH.
    fn kwokctl(&self, cluster: &LocalCleanup, timeout: Duration) -> ProcessSpec {
        ProcessSpec::new(&self.binaries.kwokctl, timeout)
            .env("KWOK_WORKDIR", cluster.workdir.as_path())
            .env("KUBECACHEDIR", cluster.kubectl_cache())
            .env("PATH", path_with_kubectl_first(&self.binaries.kubectl))
    }

    fn kubectl(&self, cluster: &LocalCleanup) -> ProcessSpec {
        ProcessSpec::new(&self.binaries.kubectl, PROBE_TIMEOUT)
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .arg("--cache-dir")
            .arg(cluster.kubectl_cache())
    }

    /// The argv of `kwokctl create cluster`, with every component pointed at a local
    /// binary so nothing is downloaded.
    pub fn create_args(
        &self,
        name: &str,
        kubeconfig: &Path,
        config: &Path,
        timeout: Duration,
    ) -> Vec<OsString> {
        let b = &self.binaries;
        let mut args: Vec<OsString> = vec![
            "create".into(),
            "cluster".into(),
            "--name".into(),
            name.into(),
            // Our own config (see `kwokctl_config`), which also keeps the user's
            // ~/.kwok/kwok.yaml from changing what the harness starts.
            "--config".into(),
            config.into(),
            "--runtime".into(),
            "binary".into(),
            "--kubeconfig".into(),
            kubeconfig.into(),
            "--timeout".into(),
            format!("{}s", timeout.as_secs().max(1)).into(),
            // Many charts install at once; the default client rate limits of the
            // controllers would make the simulated cluster slower than a real one.
            "--disable-qps-limits".into(),
        ];
        for (flag, path) in [
            ("--etcd-binary", &b.etcd),
            ("--kube-apiserver-binary", &b.kube_apiserver),
            (
                "--kube-controller-manager-binary",
                &b.kube_controller_manager,
            ),
            ("--kube-scheduler-binary", &b.kube_scheduler),
            ("--kwok-controller-binary", &b.kwok),
        ] {
            let mut arg = OsString::from(format!("{flag}="));
            arg.push(path);
            args.push(arg);
        }
        // kwokctl merges every `--config` it is given.
        for stage in &b.stages {
            args.push("--config".into());
            args.push(stage.into());
        }
        args
    }

    /// Makes the StorageClass of the kwok volume stages the default one, so claims of
    /// charts (which rarely name a class) are provisioned and bound.
    async fn create_default_storage_class(
        &self,
        cluster: &LocalCleanup,
    ) -> Result<(), ClusterError> {
        let manifest = cluster.workdir.as_path().join("default-storage-class.yaml");
        std::fs::write(&manifest, default_storage_class()).map_err(|source| ClusterError::Io {
            action: "write",
            path: manifest.clone(),
            source,
        })?;
        let spec = self.kubectl(cluster).arg("create").arg("-f").arg(&manifest);
        process::run_checked(&spec).await.map_err(|source| {
            tool_error(&cluster.name, "creating the default StorageClass", source)
        })?;
        Ok(())
    }

    /// Polls `/readyz` until it answers `ok` or the deadline passes.
    async fn wait_ready(
        &self,
        cluster: &LocalCleanup,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let spec = self.kubectl(cluster).args(["get", "--raw", "/readyz"]);
        poll(cluster, &spec, deadline, timeout, |output| {
            match output.stdout.trim() {
                "ok" => Ok(()),
                other => Err(format!("/readyz answered {other}")),
            }
        })
        .await
    }

    /// The server's `gitVersion`, which must be the pinned one.
    async fn server_version(&self, cluster: &LocalCleanup) -> Result<String, ClusterError> {
        let name = &cluster.name;
        let spec = self.kubectl(cluster).args(["get", "--raw", "/version"]);
        let output = process::run_checked(&spec)
            .await
            .map_err(|source| tool_error(name, "reading /version", source))?;
        let version: serde_json::Value =
            serde_json::from_str(&output.stdout).map_err(|e| ClusterError::NotReady {
                provider: ProviderKind::Local,
                name: name.to_string(),
                timeout: PROBE_TIMEOUT,
                last: format!("/version is not JSON ({e}): {}", output.stdout.trim()),
            })?;
        Ok(version["gitVersion"]
            .as_str()
            .unwrap_or("unknown")
            .to_string())
    }

    /// Creates `count` simulated nodes and waits until kwok reports them Ready.
    async fn add_nodes(
        &self,
        cluster: &LocalCleanup,
        count: u32,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let name = &cluster.name;
        let scale = self.kwokctl(cluster, timeout).args([
            "scale",
            "node",
            "--name",
            name,
            "--replicas",
            &count.to_string(),
        ]);
        process::run_checked(&scale)
            .await
            .map_err(|source| tool_error(name, "kwokctl scale node", source))?;
        let spec = self.kubectl(cluster).args([
            "get",
            "nodes",
            "-o",
            r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ]);
        poll(cluster, &spec, deadline, timeout, |output| {
            let ready = output
                .stdout
                .lines()
                .filter(|line| line.trim() == "True")
                .count();
            if ready >= count as usize {
                Ok(())
            } else {
                Err(format!("{ready} of {count} simulated nodes Ready"))
            }
        })
        .await
    }

    /// Creates the cluster, waits for `/readyz`, checks the version and adds the
    /// simulated nodes; returns the server version and how long the API took to answer.
    async fn start(
        &self,
        cluster: &LocalCleanup,
        request: &ClusterRequest,
    ) -> Result<(String, Duration), ClusterError> {
        let name = &cluster.name;
        let config = kwokctl_config().map_err(|source| ClusterError::Io {
            action: "reserve local ports for",
            path: cluster.config_path(),
            source,
        })?;
        std::fs::write(cluster.config_path(), config).map_err(|source| ClusterError::Io {
            action: "write",
            path: cluster.config_path(),
            source,
        })?;
        let started = Instant::now();
        let deadline = started + request.ready_timeout;
        let create = self
            .kwokctl(cluster, request.ready_timeout + Duration::from_secs(30))
            .args(self.create_args(
                name,
                &cluster.kubeconfig(),
                &cluster.config_path(),
                request.ready_timeout,
            ));
        // kwokctl waits up to two minutes for an API server that has already exited, so
        // a component exit ends the create early (dropping it kills kwokctl).
        tokio::select! {
            created = process::run_checked(&create) => {
                created.map_err(|source| tool_error(name, "kwokctl create cluster", source))?;
            }
            component = cluster.first_exit() => return Err(cluster.exited(component)),
        }
        restrict_to_owner(&cluster.kubeconfig())?;
        self.wait_ready(cluster, deadline, request.ready_timeout)
            .await?;
        let ready_after = started.elapsed();
        let version = self.server_version(cluster).await?;
        if version.trim_start_matches('v') != self.kube_version.trim_start_matches('v') {
            return Err(ClusterError::WrongServerVersion {
                name: name.clone(),
                found: version,
                pinned: self.kube_version.clone(),
            });
        }
        self.create_default_storage_class(cluster).await?;
        if request.nodes > 0 {
            self.add_nodes(cluster, request.nodes, deadline, request.ready_timeout)
                .await?;
        }
        Ok((version, ready_after))
    }
}

impl ClusterProvider for LocalProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Local
    }

    fn intent(&self, request: &ClusterRequest) -> String {
        format!(
            "local control plane: real etcd and Kubernetes {} control plane, {} simulated nodes; \
             pods are simulated by kwok (no container runs)",
            self.kube_version, request.nodes
        )
    }

    async fn acquire(&self, request: &ClusterRequest) -> Result<ClusterHandle, ClusterError> {
        self.binaries.check()?;
        let name = unique_name(&request.name_prefix);
        // Kept, not a TempDir: the cleanup removes it, and a detached cluster (see
        // `ClusterHandle::detach`) must outlive this process. Private (0700), so the
        // kubeconfig inside is too.
        let workdir = tempfile::Builder::new()
            .prefix(WORKDIR_PREFIX)
            .tempdir()
            .map_err(|source| ClusterError::Io {
                action: "create the kwokctl work directory in",
                path: std::env::temp_dir(),
                source,
            })?
            .keep();
        let cleanup = LocalCleanup {
            kwokctl: self.binaries.kwokctl.clone(),
            name: name.clone(),
            workdir,
        };
        // The handle owns the cleanup before anything starts: a signal during the
        // start finds it (`teardown_all`), and so does a run that drops this future.
        let registered = match PendingCleanup::register(Cleanup::Local(cleanup.clone())) {
            Ok(registered) => registered,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&cleanup.workdir);
                return Err(error);
            }
        };
        let mut handle = ClusterHandle {
            provider: ProviderKind::Local,
            name: name.clone(),
            kubeconfig: cleanup.kubeconfig(),
            context: Some(format!("kwok-{name}")),
            description: String::new(),
            pods_simulated: true,
            cleanup: Some(registered),
        };
        match self.start(&cleanup, request).await {
            Ok((version, ready_after)) => {
                handle.description = format!(
                    "local control plane `{name}`: real etcd and Kubernetes {version} API server, controller-manager \
                     and scheduler (API ready after {:.1} s), {} simulated nodes; pods are simulated by kwok: no \
                     container runs, so probes, logs and helm test commands do not execute.",
                    ready_after.as_secs_f64(),
                    request.nodes
                );
                Ok(handle)
            }
            Err(error) => {
                if let Err(cleanup_error) = handle.teardown().await {
                    tracing::error!("{cleanup_error}");
                }
                Err(error)
            }
        }
    }
}

/// The default StorageClass whose claims the kwok volume stages bind at once.
fn default_storage_class() -> String {
    format!(
        "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {VOLUME_STORAGE_CLASS}
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: {VOLUME_PROVISIONER}
reclaimPolicy: Delete
volumeBindingMode: Immediate
"
    )
}

/// The prefix of every local cluster's work directory in the temporary directory.
pub(super) const WORKDIR_PREFIX: &str = "chart-harness-kwok-";

/// Stops the control plane and removes its work directory, which holds everything of
/// the cluster: kwokctl's state, the components' logs and pid files, the kubeconfig.
#[derive(Clone, Debug)]
pub(super) struct LocalCleanup {
    kwokctl: PathBuf,
    name: String,
    workdir: PathBuf,
}

impl LocalCleanup {
    pub(super) fn reattach(kwokctl: PathBuf, name: String, workdir: PathBuf) -> Self {
        LocalCleanup {
            kwokctl,
            name,
            workdir,
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn workdir(&self) -> &Path {
        &self.workdir
    }

    pub(super) fn kubeconfig(&self) -> PathBuf {
        self.workdir.join("kubeconfig")
    }

    fn config_path(&self) -> PathBuf {
        self.workdir.as_path().join("kwok.yaml")
    }

    fn kubectl_cache(&self) -> PathBuf {
        self.workdir.as_path().join("kubectl-cache")
    }

    fn cluster_dir(&self) -> PathBuf {
        self.workdir.as_path().join("clusters").join(&self.name)
    }

    fn pid_dir(&self) -> PathBuf {
        self.cluster_dir().join("pids")
    }

    /// A component kwokctl started (it wrote a pid file) that is no longer running.
    fn exited_component(&self) -> Option<&'static str> {
        COMPONENTS.into_iter().find(|component| {
            let pid_file = self.pid_dir().join(format!("{component}.pid"));
            let pid = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok());
            pid.is_some_and(|pid| !belongs_to(pid, self.workdir.as_path()) || is_zombie(pid))
        })
    }

    /// Resolves when a started component has exited.
    async fn first_exit(&self) -> &'static str {
        loop {
            if let Some(component) = self.exited_component() {
                return component;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn exited(&self, component: &'static str) -> ClusterError {
        ClusterError::ComponentExited {
            name: self.name.clone(),
            component,
            log_tail: self.log_tail(component, 15),
        }
    }

    /// The last `lines` lines of a component's log, for failure messages.
    fn log_tail(&self, component: &str, lines: usize) -> String {
        let path = self
            .cluster_dir()
            .join("logs")
            .join(format!("{component}.log"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(error) => format!("(no log at {}: {error})", path.display()),
        }
    }

    /// `kwokctl delete cluster` first; then any component it missed is killed by the pid
    /// it recorded, but only when that process still refers to this work directory, so
    /// a reused pid is never hit. Finally the files go.
    pub(super) async fn run(self) -> Result<(), ClusterError> {
        let delete = ProcessSpec::new(&self.kwokctl, Duration::from_secs(60))
            .env("KWOK_WORKDIR", self.workdir.as_path())
            .args(["delete", "cluster", "--name", &self.name, "--config"])
            .arg(self.config_path())
            // Without it kwokctl edits ~/.kube/config.
            .arg("--kubeconfig")
            .arg(self.kubeconfig());
        let deleted = process::run_checked(&delete)
            .await
            .map(drop)
            .map_err(|source| tool_error(&self.name, "kwokctl delete cluster", source));
        // The pid files name what kwokctl recorded; the scan finds a component started
        // while a signal interrupted kwokctl, before its pid file was written.
        let mut pids = recorded_pids(&self.pid_dir());
        pids.extend(processes_mentioning(self.workdir.as_path()));
        pids.sort_unstable();
        pids.dedup();
        let survivors = kill_survivors(&pids, self.workdir.as_path()).await;
        let removed_dir = match std::fs::remove_dir_all(&self.workdir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(ClusterError::Io {
                action: "remove the kwokctl work directory",
                path: self.workdir.clone(),
                source: error,
            }),
            _ => Ok(()),
        };
        let survivors = if survivors.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Leftover {
                provider: ProviderKind::Local,
                name: self.name.clone(),
                what: format!("processes {survivors:?} running"),
            })
        };
        // A failed `kwokctl delete` whose components were then killed is still a clean
        // teardown; report it only if something survived.
        if let Err(error) = &deleted {
            tracing::warn!("{error}");
        }
        survivors.and(removed_dir)
    }
}

/// The kwokctl options of every cluster: the six ports its components listen on,
/// chosen by the kernel. kwokctl would pick them itself by counting down from 32767 and
/// skipping only the ports of clusters in the same work directory, so two harness
/// processes starting clusters at once (parallel test binaries, nextest) would be given
/// the same ports. The kernel hands out distinct free ports instead; the listeners are
/// closed just before kwokctl starts the components.
fn kwokctl_config() -> std::io::Result<String> {
    const PORT_OPTIONS: [&str; 6] = [
        "etcdPort",
        "etcdPeerPort",
        "kubeApiserverPort",
        "kubeControllerManagerPort",
        "kubeSchedulerPort",
        "kwokControllerPort",
    ];
    let listeners = PORT_OPTIONS
        .iter()
        .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut config = String::from(
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\noptions:\n",
    );
    for (option, listener) in PORT_OPTIONS.iter().zip(&listeners) {
        config.push_str(&format!("  {option}: {}\n", listener.local_addr()?.port()));
    }
    // kwokctl binds every component to 0.0.0.0 by default: etcd without authentication
    // would serve the cluster's Secrets to anyone on the network.
    config.push_str("  bindAddress: 127.0.0.1\n");
    config.push_str(HELM_TEST_HOOK_STAGE);
    Ok(config)
}

/// kwok's own stages complete only pods a Job owns, but most charts' `helm test` hooks
/// are bare Pods: without this stage they would run forever and every `helm test` would
/// time out on the local control plane through no fault of the chart. It completes a
/// running pod annotated as a test hook, as if its command had exited 0; the command
/// never runs (the integration suite says so in its `helm-test` phase).
const HELM_TEST_HOOK_STAGE: &str = r#"---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: chart-harness-helm-test-hook-complete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.metadata.annotations["helm.sh/hook"]'
      operator: 'In'
      values: ['test', 'test-success']
    - key: '.metadata.ownerReferences'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
"#;

fn recorded_pids(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "pid"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .filter_map(|text| text.trim().parse().ok())
        .filter(|pid: &i32| *pid > 1)
        .collect()
}

/// Removes a local cluster whose owner died without tearing it down: kills every
/// process that names its work directory (components, and helm or kubectl left running
/// against it), then removes the directory. kwokctl is not needed for that.
pub(super) async fn remove_orphan(workdir: &Path) -> Result<(), String> {
    let pids = processes_mentioning(workdir);
    let survivors = kill_survivors(&pids, workdir).await;
    if !survivors.is_empty() {
        return Err(format!("processes {survivors:?} survived SIGKILL"));
    }
    match std::fs::remove_dir_all(workdir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {error}", workdir.display()))
        }
        _ => Ok(()),
    }
}

/// Every process with `workdir` somewhere in its command line.
fn processes_mentioning(workdir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid > 1 && *pid != std::process::id() as i32)
        .filter(|pid| belongs_to(*pid, workdir))
        .collect()
}

/// True while `pid` runs with `workdir` somewhere in its command line.
fn belongs_to(pid: i32, workdir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let needle = workdir.as_os_str().as_encoded_bytes();
    cmdline.windows(needle.len()).any(|window| window == needle)
}

/// Kills the recorded components that outlived `kwokctl delete`; returns those still
/// alive a few seconds later.
async fn kill_survivors(pids: &[i32], workdir: &Path) -> Vec<i32> {
    let alive = |pid: &&i32| belongs_to(**pid, workdir) && !is_zombie(**pid);
    for pid in pids.iter().filter(alive) {
        // SAFETY: kill only sends a signal, to a process checked just above to be one of
        // this cluster's components.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let survivors: Vec<i32> = pids.iter().filter(alive).copied().collect();
        if survivors.is_empty() || Instant::now() >= deadline {
            return survivors;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A killed component whose parent has not reaped it yet is gone for our purposes.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn path_with_kubectl_first(kubectl: &Path) -> OsString {
    let mut dirs: Vec<PathBuf> = kubectl
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// The components kwokctl starts, by the names of their pid and log files.
const COMPONENTS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
];

/// Runs `spec` every [`POLL_INTERVAL`] until `accept` takes a successful output or the
/// deadline passes. A component that exits in the meantime ends the wait at once with
/// the end of its log, rather than after the whole timeout with only "connection refused".
async fn poll(
    cluster: &LocalCleanup,
    spec: &ProcessSpec,
    deadline: Instant,
    timeout: Duration,
    accept: impl Fn(&ProcessOutput) -> Result<(), String>,
) -> Result<(), ClusterError> {
    loop {
        let last = match process::run(spec).await {
            Ok(output) if output.success() => match accept(&output) {
                Ok(()) => return Ok(()),
                Err(answer) => answer,
            },
            Ok(output) => summarize(&output),
            Err(error) => error.to_string(),
        };
        if let Some(component) = cluster.exited_component() {
            return Err(cluster.exited(component));
        }
        if Instant::now() >= deadline {
            return Err(not_ready(&cluster.name, timeout, last));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn not_ready(name: &str, timeout: Duration, last: String) -> ClusterError {
    ClusterError::NotReady {
        provider: ProviderKind::Local,
        name: name.to_string(),
        timeout,
        last,
    }
}

fn tool_error(name: &str, step: &'static str, source: ToolError) -> ClusterError {
    ClusterError::Tool {
        provider: ProviderKind::Local,
        name: name.to_string(),
        step,
        source: Box::new(source),
    }
}

fn summarize(output: &ProcessOutput) -> String {
    let text = if output.stderr.trim().is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    let text = text.trim();
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{} ({})", short, output.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_all_named_with_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kwokctl"), "").unwrap();
        let message = LocalBinaries::in_dir(dir.path())
            .check()
            .unwrap_err()
            .to_string();
        for name in [
            "kwokctl",
            "etcd",
            "kube-apiserver",
            "kube-scheduler",
            "kubectl",
        ] {
            assert!(
                message.contains(&format!("/{name}")),
                "{name} missing from: {message}"
            );
        }
        // The stage files are looked for next to the binaries' directory.
        let stages = dir.path().parent().unwrap().join("share/kwok/stages");
        assert!(
            message.contains(&format!("{}/pvc-provision.yaml", stages.display())),
            "{message}"
        );
        assert!(
            message.contains("chart-harness tools install --all"),
            "{message}"
        );
        assert!(message.contains(BIN_DIR_ENV), "{message}");
    }

    /// A chart repository with no `.tools`, on a machine where another clone ran
    /// `tools install --all`: every binary and stage file comes from the machine-wide
    /// cache (here links to this workspace's installed tools, laid out as the cache is).
    #[test]
    fn a_repository_without_tools_takes_the_control_plane_from_the_machine_cache() {
        use crate::tools::ToolEnv;
        use crate::tools::install::{cache_entry, cached_data, default_cache_dir};
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let env = ToolEnv::from_vars([("XDG_CACHE_HOME", repo.path().join("xdg"))]);
        let cache = default_cache_dir(&env);
        let pins = Pins::embedded().unwrap();
        let names = [
            "kwokctl",
            "kwok",
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubectl",
        ];
        for name in names {
            let entry = cache_entry(&cache, &pins, name, pins.tool(name).unwrap());
            std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(workspace.join(".tools/bin").join(name), &entry).unwrap();
        }
        let kwok = pins.tool("kwok").unwrap();
        std::os::unix::fs::symlink(
            workspace.join(".tools/share/kwok"),
            cached_data(&cache, "kwok", kwok).unwrap(),
        )
        .unwrap();

        let installed = Installed::open_in(repo.path(), &env).unwrap();
        let binaries = LocalBinaries::installed(&installed).unwrap();
        if let Err(error) = binaries.check() {
            panic!("{error}");
        }
        for path in binaries
            .all()
            .into_iter()
            .chain(binaries.stages.iter().map(PathBuf::as_path))
        {
            assert!(path.starts_with(&cache), "{}", path.display());
        }
        assert_eq!(
            binaries.stages.len(),
            kwok.data.as_ref().unwrap().stages.len()
        );
    }

    #[test]
    fn create_argv_points_every_component_at_a_local_binary() {
        let provider = LocalProvider {
            binaries: LocalBinaries::in_dir(Path::new("/opt/bin")),
            kube_version: "v1.37.2".to_string(),
        };
        let args: Vec<String> = provider
            .create_args(
                "ch-1-a",
                Path::new("/tmp/kc"),
                Path::new("/tmp/w/kwok.yaml"),
                Duration::from_secs(20),
            )
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for expected in [
            "--runtime",
            "binary",
            "--etcd-binary=/opt/bin/etcd",
            "--kube-apiserver-binary=/opt/bin/kube-apiserver",
            "--kube-controller-manager-binary=/opt/bin/kube-controller-manager",
            "--kube-scheduler-binary=/opt/bin/kube-scheduler",
            "--kwok-controller-binary=/opt/bin/kwok",
            "/tmp/kc",
            "/tmp/w/kwok.yaml",
            "20s",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "{expected} not in {args:?}"
            );
        }
        assert!(
            !args.iter().any(|a| a.contains("://")),
            "nothing may be downloaded: {args:?}"
        );
        // The ports config and then one `--config` per pinned stage file.
        let configs: Vec<&str> = args
            .windows(2)
            .filter(|pair| pair[0] == "--config")
            .map(|pair| pair[1].as_str())
            .collect();
        assert_eq!(configs[0], "/tmp/w/kwok.yaml");
        let stages = &configs[1..];
        assert_eq!(stages.len(), provider.binaries.stages.len());
        for stage in [
            "node-initialize.yaml",
            "pod-ready.yaml",
            "pvc-provision.yaml",
        ] {
            assert!(
                stages.contains(&format!("/opt/share/kwok/stages/{stage}").as_str()),
                "{stage} not in {stages:?}"
            );
        }
    }

    #[test]
    fn each_cluster_config_names_six_distinct_ports() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Config {
            kind: String,
            #[serde(default)]
            options: std::collections::BTreeMap<String, serde_json::Value>,
        }
        // The file also carries our Stage documents; the options are in the first one.
        let parse = |label: &str| -> Config {
            let documents: Vec<Config> =
                crate::yaml::parse_multi(&kwokctl_config().unwrap(), Path::new(label)).unwrap();
            assert_eq!(documents[1].kind, "Stage");
            documents.into_iter().next().unwrap()
        };
        let (first, second) = (parse("a"), parse("b"));
        assert_eq!(first.kind, "KwokctlConfiguration");
        assert_eq!(first.options["bindAddress"], "127.0.0.1");
        let ports = |config: &Config| -> std::collections::BTreeSet<u64> {
            config
                .options
                .iter()
                .filter(|(option, _)| option.ends_with("Port"))
                .filter_map(|(_, port)| port.as_u64())
                .collect()
        };
        assert_eq!(ports(&first).len(), 6, "ports repeat: {:?}", first.options);
        assert_ne!(ports(&first), ports(&second));
    }

    #[test]
    fn the_default_storage_class_is_the_one_the_volume_stages_select() {
        #[derive(serde::Deserialize)]
        struct Metadata {
            name: String,
            annotations: std::collections::BTreeMap<String, String>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct StorageClass {
            api_version: String,
            kind: String,
            metadata: Metadata,
            provisioner: String,
        }
        let class: StorageClass =
            crate::yaml::parse_str(&default_storage_class(), Path::new("sc.yaml")).unwrap();
        assert_eq!(
            (class.api_version.as_str(), class.kind.as_str()),
            ("storage.k8s.io/v1", "StorageClass")
        );
        assert_eq!(class.metadata.name, VOLUME_STORAGE_CLASS);
        assert_eq!(
            class.metadata.annotations["storageclass.kubernetes.io/is-default-class"],
            "true"
        );
        assert_eq!(class.provisioner, VOLUME_PROVISIONER);
    }

    #[test]
    fn kubectl_directory_comes_first_on_path() {
        let path = path_with_kubectl_first(Path::new("/opt/tools/kubectl"));
        let first = std::env::split_paths(&path).next().unwrap();
        assert_eq!(first, Path::new("/opt/tools"));
    }

    #[test]
    fn pid_files_are_read_and_garbage_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("etcd.pid"), "4242\n").unwrap();
        std::fs::write(dir.path().join("kube-apiserver.pid"), "not a pid").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "99").unwrap();
        assert_eq!(recorded_pids(dir.path()), vec![4242]);
        assert!(recorded_pids(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn only_processes_mentioning_the_workdir_are_ours() {
        let own_pid = std::process::id() as i32;
        // This test binary's command line does not mention a fresh temp dir.
        let dir = tempfile::tempdir().unwrap();
        assert!(!belongs_to(own_pid, dir.path()));
        let exe = std::env::current_exe().unwrap();
        assert!(belongs_to(own_pid, exe.parent().unwrap()));
    }
}
