//! The integration suite: install each case of a chart into a fresh namespace of the
//! run's cluster, decide readiness with our own polls of the API (not helm `--wait`),
//! run `helm test`, optionally kill a pod per workload, then remove everything and
//! prove nothing of the release is left. Diagnostics are collected only on failure.
//!
//! Phases: `cluster`, `namespace`, `prerequisites`, `dry-run`, `install`,
//! `ready:<Kind>/<name>` (one per workload), `helm-test`, `chaos`, `diagnostics` (only
//! on failure), `uninstall`, `namespace-delete`, `leftovers`. Cleanup runs whatever
//! failed before it, and every step has a deadline.

mod diagnostics;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;

use super::render::{self, RenderTarget};
use super::{PhaseRecorder, SuiteContext, TrialInputs};
use crate::cluster::ClusterAccess;
use crate::config::ChartSettings;
use crate::k8s::readiness::{self, Readiness, Workload, WorkloadKind};
use crate::k8s::{self, ApplyOutcome, Kube, naming};
use crate::manifest::{self as manifests, Manifest};
use crate::plan::Trial;
use crate::problem::Problem;
use crate::tools::helm::ReleaseTarget;

/// Readiness timeout when `ci/harness.yaml` sets no `readiness-timeout`.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(120);

/// How long uninstall, namespace deletion and CRD establishment may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// After one workload has failed for good, the others get this long to finish, so the
/// trial reports what else is (not) ready without waiting out the whole timeout.
const AFTER_FAILURE_GRACE: Duration = Duration::from_secs(5);

/// Most characters of helm output quoted in one problem.
const MAX_TOOL_OUTPUT: usize = 4000;

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let chart = &trial.chart;
    let started = Instant::now();
    let (access, kube) = match connect(ctx).await {
        Ok(connected) => connected,
        Err(message) => {
            recorder.record("cluster", started.elapsed(), vec![Problem::new(message)]);
            return;
        }
    };
    recorder.record("cluster", started.elapsed(), Vec::new());

    let settings = &inputs.settings;
    let namespace =
        naming::namespace_name(&trial.id.chart, &trial.id.case, &naming::random_suffix(5));
    let started = Instant::now();
    let labels = BTreeMap::from([(naming::RUN_LABEL.to_string(), naming::run_id().to_string())]);
    if let Err(error) = kube.create_namespace(&namespace, labels).await {
        recorder.record(
            "namespace",
            started.elapsed(),
            vec![Problem::new(format!(
                "cannot create namespace {namespace}: {error}"
            ))],
        );
        return;
    }
    recorder.record("namespace", started.elapsed(), Vec::new());
    // Deletes the namespace in the background if this future is dropped (trial timeout,
    // Ctrl-C) before the cleanup below has run.
    let guard = NamespaceGuard::new(kube.client(), namespace.clone());

    let mut install = Install {
        trial,
        ctx,
        access: &access,
        kube: &kube,
        namespace: &namespace,
        release: chart.name.clone(),
        inputs,
        readiness_timeout: settings
            .readiness_timeout
            .unwrap_or(DEFAULT_READINESS_TIMEOUT),
        settings,
        rendered: Vec::new(),
        prerequisite_releases: Vec::new(),
        install_attempted: false,
        held_claims: None,
    };
    install.exercise(recorder).await;
    if recorder.has_failures() {
        let started = Instant::now();
        let problems = diagnostics::collect(&install).await;
        recorder.record("diagnostics", started.elapsed(), problems);
    }
    install.clean_up(recorder).await;
    guard.disarm();
}

/// The leased cluster and a client for it; the error says how to get one.
async fn connect(ctx: &SuiteContext) -> Result<(ClusterAccess, Kube), String> {
    let Some(lease) = &ctx.cluster else {
        return Err("no cluster was set up for this run; pass --cluster local (needs the binaries from `chart-harness tools install --all`), --cluster kind or --cluster existing".into());
    };
    let access = lease.access().await.map_err(|message| {
        format!(
            "the run's cluster is not available: {message}; for the local control plane run \
             `chart-harness tools install --all`, or choose another provider with --cluster"
        )
    })?;
    let kube = Kube::connect(&access.kubeconfig, access.context.as_deref())
        .await
        .map_err(|error| error.to_string())?;
    Ok((access, kube))
}

/// One trial's release and everything the phases share.
pub(crate) struct Install<'a> {
    trial: &'a Trial,
    ctx: &'a SuiteContext,
    access: &'a ClusterAccess,
    kube: &'a Kube,
    namespace: &'a str,
    release: String,
    inputs: &'a TrialInputs,
    readiness_timeout: Duration,
    settings: &'a ChartSettings,
    /// The chart as rendered for this namespace (with CRDs), once the dry-run ran.
    rendered: Vec<Manifest>,
    prerequisite_releases: Vec<String>,
    install_attempted: bool,
    /// Fixed cluster-scoped names this trial installs; held until its cleanup is done.
    held_claims: Option<crate::suites::claims::HeldClaims>,
}

impl Install<'_> {
    fn target<'b>(&'b self, release: &'b str) -> ReleaseTarget<'b> {
        ReleaseTarget {
            kubeconfig: &self.access.kubeconfig,
            context: self.access.context.as_deref(),
            namespace: self.namespace,
            release,
        }
    }

    fn chart_file(&self, source: Option<&str>) -> PathBuf {
        let rel_dir = &self.trial.chart.rel_dir;
        source.map_or_else(|| rel_dir.clone(), |source| rel_dir.join(source))
    }

    /// prerequisites → dry-run → install → ready → helm-test → chaos; stops at the
    /// first phase whose failure makes the next ones meaningless.
    async fn exercise(&mut self, recorder: &mut PhaseRecorder) {
        let started = Instant::now();
        let problems = self.install_prerequisites().await;
        if self.settings.prerequisites.crds.is_empty()
            && self.settings.prerequisites.charts.is_empty()
        {
            recorder.not_run("prerequisites", "ci/harness.yaml names none");
        } else if !recorder.record("prerequisites", started.elapsed(), problems) {
            return;
        }

        let started = Instant::now();
        let problems = self.dry_run().await;
        if !recorder.record("dry-run", started.elapsed(), problems) {
            return;
        }

        // Another trial installing an object with the same fixed cluster-scoped name
        // would collide with this one: wait for it to finish.
        let claims = crate::k8s::cluster_scoped_claims(&self.rendered);
        let started = Instant::now();
        let held = self.ctx.claims.acquire(&claims).await;
        if !held.waited.is_empty() {
            let waited: Vec<String> = held
                .waited
                .iter()
                .map(|(claim, time)| format!("{claim} ({:.1}s)", time.as_secs_f64()))
                .collect();
            tracing::info!(
                trial = %self.trial.id,
                "installed after other trials released {}",
                waited.join(", ")
            );
            recorder.record("wait-for-claims", started.elapsed(), Vec::new());
        }
        self.held_claims = Some(held);

        let started = Instant::now();
        self.install_attempted = true;
        let problems = self.helm_install().await;
        if !recorder.record("install", started.elapsed(), problems) {
            return;
        }

        let workloads = readiness::workloads(&self.rendered);
        if workloads.is_empty() {
            recorder.not_run("ready", "the chart renders no workload, Service or claim");
        }
        let verdicts = self.wait_ready(&workloads).await;
        let all_ready = verdicts.iter().all(|(_, _, problem)| problem.is_none());
        for (workload, elapsed, problem) in verdicts {
            recorder.record(
                &format!("ready:{workload}"),
                elapsed,
                problem.into_iter().collect(),
            );
        }
        if !all_ready {
            return;
        }

        self.helm_test(recorder).await;

        if self.settings.chaos {
            let started = Instant::now();
            let problems = self.chaos(&workloads).await;
            recorder.record("chaos", started.elapsed(), problems);
        } else {
            recorder.not_run("chaos", "opt in with `chaos: true` in ci/harness.yaml");
        }
    }

    /// CRDs applied and Established, then the prerequisite charts installed, in order.
    async fn install_prerequisites(&mut self) -> Vec<Problem> {
        let chart = &self.trial.chart;
        let mut problems = Vec::new();
        let mut crd_names = Vec::new();
        for file in &self.settings.prerequisites.crds {
            let shown = chart.rel_dir.join(file);
            let text = match std::fs::read_to_string(chart.dir.join(file)) {
                Ok(text) => text,
                Err(error) => {
                    problems.push(Problem::in_file(&shown, format!("cannot read: {error}")));
                    continue;
                }
            };
            let (documents, parse_problems) = manifests::parse(&text, Path::new(""));
            problems.extend(
                parse_problems
                    .into_iter()
                    .map(|p| Problem::in_file(&shown, p.message).at_line(p.line)),
            );
            for document in documents {
                let name = text_at(&document.value, "/metadata/name").unwrap_or_default();
                let kind = text_at(&document.value, "/kind").unwrap_or_default();
                match self
                    .kube
                    .apply(&document.value, self.namespace, false)
                    .await
                {
                    Ok(ApplyOutcome::Applied) => {
                        if kind == "CustomResourceDefinition" {
                            crd_names.push((shown.clone(), name.to_string()));
                        }
                    }
                    Ok(ApplyOutcome::UnknownKind) => problems.push(Problem::in_file(
                        &shown,
                        format!("{kind} `{name}`: the cluster does not serve this kind"),
                    )),
                    Ok(ApplyOutcome::Rejected(message)) => problems.push(Problem::in_file(
                        &shown,
                        format!("{kind} `{name}` was rejected by the API server: {message}"),
                    )),
                    Err(error) => problems.push(Problem::in_file(&shown, error.to_string())),
                }
            }
        }
        for (file, name) in crd_names {
            match self.kube.wait_crd_established(&name, CLEANUP_TIMEOUT).await {
                Ok(true) => {}
                Ok(false) => problems.push(Problem::in_file(file, format!("CustomResourceDefinition `{name}` was not Established within {CLEANUP_TIMEOUT:?}; check its schema"))),
                Err(error) => problems.push(Problem::in_file(file, error.to_string())),
            }
        }
        if !problems.is_empty() {
            return problems;
        }
        for prerequisite in &self.settings.prerequisites.charts {
            let dir = chart.dir.join(&prerequisite.chart);
            let release = naming::label_value(
                &dir.file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_else(|| "prerequisite".into()),
            );
            let values_file = match write_values(&prerequisite.values) {
                Ok(file) => file,
                Err(error) => {
                    problems.push(Problem::new(format!(
                        "cannot write the values of prerequisite {}: {error}",
                        prerequisite.chart.display()
                    )));
                    break;
                }
            };
            let files = vec![values_file.path().to_path_buf()];
            let outcome = self
                .ctx
                .tools
                .helm
                .install(&self.target(&release), &dir, &files, self.readiness_timeout)
                .await;
            self.prerequisite_releases.push(release.clone());
            if let Some(problem) = helm_problem(
                &format!(
                    "installing prerequisite chart {}",
                    prerequisite.chart.display()
                ),
                outcome,
            ) {
                problems.push(Problem::in_file(
                    chart.rel_dir.join("ci/harness.yaml"),
                    problem,
                ));
                break;
            }
        }
        problems
    }

    /// Renders the case for this namespace and has the API server validate every object
    /// with a server-side dry-run apply (schema, admission, immutable fields).
    async fn dry_run(&mut self) -> Vec<Problem> {
        let target = RenderTarget {
            namespace: self.namespace,
            kube_version: self.inputs.primary_kube_version(),
            extra_args: &["--include-crds".to_string()],
            timeout: self.readiness_timeout,
        };
        let rendered = match render::render(self.ctx, self.trial, self.inputs, &target).await {
            Ok(rendered) => rendered,
            Err(problem) => return vec![problem],
        };
        self.rendered = rendered.manifests;
        let mut problems = rendered.problems;
        // Custom resources of a CRD the chart itself brings cannot be validated before
        // that CRD exists; a dry-run never creates it.
        let own_kinds: BTreeSet<(String, String)> = self
            .rendered
            .iter()
            .filter(|m| text_at(&m.value, "/kind") == Some("CustomResourceDefinition"))
            .filter_map(|m| {
                Some((
                    text_at(&m.value, "/spec/group")?.to_string(),
                    text_at(&m.value, "/spec/names/kind")?.to_string(),
                ))
            })
            .collect();
        for manifest in &self.rendered {
            let Some(gvk) = k8s::gvk_of(&manifest.value) else {
                continue;
            };
            if own_kinds.contains(&(gvk.group.clone(), gvk.kind.clone())) {
                continue;
            }
            let name = text_at(&manifest.value, "/metadata/name").unwrap_or_default();
            let file = self.chart_file(manifest.source.as_deref());
            let api_version = text_at(&manifest.value, "/apiVersion").unwrap_or_default();
            match self.kube.apply(&manifest.value, self.namespace, true).await {
                Ok(ApplyOutcome::Applied) => {}
                Ok(ApplyOutcome::UnknownKind) => problems.push(Problem::in_file(file, format!(
                    "{} `{name}` ({api_version}): the cluster does not serve this kind; the CRD that defines it must be installed first: add it to `prerequisites.crds` in ci/harness.yaml (or ship it in the chart's crds/ directory)", gvk.kind
                ))),
                Ok(ApplyOutcome::Rejected(message)) => problems.push(Problem::in_file(file, format!(
                    "{} `{name}` was rejected by the API server: {message}", gvk.kind
                ))),
                Err(error) => problems.push(Problem::in_file(file, format!("{} `{name}`: {error}", gvk.kind))),
            }
        }
        problems
    }

    async fn helm_install(&self) -> Vec<Problem> {
        let outcome = self
            .ctx
            .tools
            .helm
            .install(
                &self.target(&self.release),
                &self.trial.chart.dir,
                &self.inputs.values.files,
                self.readiness_timeout,
            )
            .await;
        helm_problem("helm install", outcome)
            .map(|message| Problem::in_file(&self.trial.chart.rel_dir, message))
            .into_iter()
            .collect()
    }

    /// Polls every workload until it is ready, has failed for good, or the readiness
    /// timeout passes. Returns each with the time it took and its problem, if any.
    async fn wait_ready(
        &self,
        workloads: &[Workload],
    ) -> Vec<(Workload, Duration, Option<Problem>)> {
        let started = Instant::now();
        let mut deadline = started + self.readiness_timeout;
        let mut pending: Vec<(Workload, String)> = workloads
            .iter()
            .map(|w| (w.clone(), "not checked yet".to_string()))
            .collect();
        let mut done = Vec::new();
        while !pending.is_empty() {
            let mut still_pending = Vec::new();
            for (workload, _) in pending {
                let verdict = match self.check(&workload, started.elapsed()).await {
                    Ok(verdict) => verdict,
                    // A failed request is retried until the deadline.
                    Err(error) => Readiness::Pending(error.to_string()),
                };
                match verdict {
                    Readiness::Ready => done.push((workload, started.elapsed(), None)),
                    Readiness::Failed(reason) => {
                        deadline = deadline.min(Instant::now() + AFTER_FAILURE_GRACE);
                        let problem = Problem::in_file(
                            self.chart_file(workload.source.as_deref()),
                            format!("{workload} will not become ready: {reason}"),
                        );
                        done.push((workload, started.elapsed(), Some(problem)));
                    }
                    Readiness::Pending(reason) => still_pending.push((workload, reason)),
                }
            }
            pending = still_pending;
            if pending.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for (workload, reason) in pending.drain(..) {
                    let problem = Problem::in_file(
                        self.chart_file(workload.source.as_deref()),
                        format!(
                            "{workload} was not ready after {:.0}s: {reason}; raise `readiness-timeout` in ci/harness.yaml if it is only slow",
                            started.elapsed().as_secs_f64()
                        ),
                    );
                    done.push((workload, started.elapsed(), Some(problem)));
                }
                break;
            }
            tokio::time::sleep(k8s::POLL_INTERVAL).await;
        }
        done.sort_by(|a, b| a.0.cmp(&b.0));
        done
    }

    /// One look at `workload`.
    async fn check(
        &self,
        workload: &Workload,
        waited: Duration,
    ) -> Result<Readiness, k8s::KubeError> {
        let client = self.kube.client();
        let ns = self.namespace;
        let name = workload.name.as_str();
        let what = format!("get {workload}");
        let missing = || Readiness::Pending("not created yet".into());
        Ok(match workload.kind {
            WorkloadKind::Deployment => k8s::request(
                what,
                Api::<Deployment>::namespaced(client, ns).get_opt(name),
            )
            .await?
            .map_or_else(missing, |o| readiness::deployment(&o)),
            WorkloadKind::StatefulSet => k8s::request(
                what,
                Api::<StatefulSet>::namespaced(client, ns).get_opt(name),
            )
            .await?
            .map_or_else(missing, |o| readiness::stateful_set(&o)),
            WorkloadKind::DaemonSet => {
                k8s::request(what, Api::<DaemonSet>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(missing, |o| readiness::daemon_set(&o))
            }
            WorkloadKind::Job => {
                k8s::request(what, Api::<Job>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(missing, |o| readiness::job(&o))
            }
            WorkloadKind::Pod => {
                k8s::request(what, Api::<Pod>::namespaced(client, ns).get_opt(name))
                    .await?
                    .map_or_else(missing, |o| readiness::pod(&o))
            }
            WorkloadKind::PersistentVolumeClaim => {
                let provisioner = !self.access.pods_simulated;
                k8s::request(
                    what,
                    Api::<PersistentVolumeClaim>::namespaced(client, ns).get_opt(name),
                )
                .await?
                .map_or_else(missing, |o| {
                    readiness::persistent_volume_claim(&o, provisioner, waited)
                })
            }
            WorkloadKind::Service => {
                let Some(service) = k8s::request(
                    what,
                    Api::<Service>::namespaced(client.clone(), ns).get_opt(name),
                )
                .await?
                else {
                    return Ok(missing());
                };
                let selector = format!("kubernetes.io/service-name={name}");
                let slices = k8s::request(
                    format!("list EndpointSlices of {workload}"),
                    Api::<EndpointSlice>::namespaced(client, ns)
                        .list(&ListParams::default().labels(&selector)),
                )
                .await?;
                readiness::service(&service, &slices.items)
            }
        })
    }

    async fn helm_test(&self, recorder: &mut PhaseRecorder) {
        let tests: Vec<&Manifest> = self
            .rendered
            .iter()
            .filter(|m| is_test_hook(&m.value))
            .collect();
        if tests.is_empty() {
            recorder.not_run(
                "helm-test",
                "the chart has no test hooks (templates annotated `helm.sh/hook: test`)",
            );
            return;
        }
        let started = Instant::now();
        let outcome = self
            .ctx
            .tools
            .helm
            .test(&self.target(&self.release), self.readiness_timeout)
            .await;
        let Some(message) = helm_problem("helm test", outcome) else {
            recorder.record("helm-test", started.elapsed(), Vec::new());
            if self.access.pods_simulated {
                recorder.not_run("helm-test-logs", diagnostics::SIMULATED_LOGS);
            }
            return;
        };
        let mut problems = vec![Problem::in_file(
            self.chart_file(tests[0].source.as_deref()),
            message,
        )];
        let names: Vec<&str> = tests
            .iter()
            .filter_map(|m| text_at(&m.value, "/metadata/name"))
            .collect();
        problems.extend(diagnostics::test_logs(self, &names).await);
        recorder.record("helm-test", started.elapsed(), problems);
    }

    /// Deletes one pod of each pod-running workload, waits until it is gone, then
    /// requires the workload to be ready again within the readiness timeout.
    async fn chaos(&self, workloads: &[Workload]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for workload in workloads.iter().filter(|w| w.kind.runs_pods()) {
            if let Err(message) = self.kill_one_pod(workload).await {
                problems.push(Problem::in_file(
                    self.chart_file(workload.source.as_deref()),
                    format!("chaos check of {workload}: {message}"),
                ));
                continue;
            }
            for (_, _, problem) in self.wait_ready(std::slice::from_ref(workload)).await {
                problems.extend(problem.map(|p| Problem {
                    message: format!("after one of its pods was deleted: {}", p.message),
                    ..p
                }));
            }
        }
        problems
    }

    async fn kill_one_pod(&self, workload: &Workload) -> Result<(), String> {
        let client = self.kube.client();
        let ns = self.namespace;
        let name = workload.name.as_str();
        let what = format!("get {workload}");
        let selector: Option<LabelSelector> = match workload.kind {
            WorkloadKind::Deployment => k8s::request(
                what,
                Api::<Deployment>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            WorkloadKind::StatefulSet => k8s::request(
                what,
                Api::<StatefulSet>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            WorkloadKind::DaemonSet => k8s::request(
                what,
                Api::<DaemonSet>::namespaced(client.clone(), ns).get(name),
            )
            .await
            .map(|o| o.spec.selector),
            _ => return Ok(()),
        }
        .map(Some)
        .map_err(|e| e.to_string())?;
        let labels = selector
            .and_then(|s| s.match_labels)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let pods_api = Api::<Pod>::namespaced(client, ns);
        let pods = k8s::request(
            "list its pods",
            pods_api.list(&ListParams::default().labels(&labels)),
        )
        .await
        .map_err(|e| e.to_string())?;
        let Some(victim) = pods
            .items
            .into_iter()
            .find(|p| p.metadata.deletion_timestamp.is_none())
        else {
            return Err(format!("no pod matches its selector `{labels}`"));
        };
        let victim_name = victim.metadata.name.clone().unwrap_or_default();
        let victim_uid = victim.metadata.uid.clone();
        k8s::request(
            format!("delete pod {victim_name}"),
            pods_api.delete(&victim_name, &DeleteParams::default()),
        )
        .await
        .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + self.readiness_timeout;
        loop {
            let current = k8s::request(
                format!("get pod {victim_name}"),
                pods_api.get_opt(&victim_name),
            )
            .await
            .map_err(|e| e.to_string())?;
            if current.is_none_or(|pod| pod.metadata.uid != victim_uid) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "deleted pod {victim_name} was still there after {:?}",
                    self.readiness_timeout
                ));
            }
            tokio::time::sleep(k8s::POLL_INTERVAL).await;
        }
    }

    /// uninstall → namespace-delete → leftovers, whatever happened before.
    async fn clean_up(&self, recorder: &mut PhaseRecorder) {
        if self.install_attempted || !self.prerequisite_releases.is_empty() {
            let started = Instant::now();
            let mut problems = Vec::new();
            let releases = self
                .install_attempted
                .then_some(&self.release)
                .into_iter()
                .chain(self.prerequisite_releases.iter().rev());
            for release in releases {
                let outcome = self
                    .ctx
                    .tools
                    .helm
                    .uninstall(&self.target(release), CLEANUP_TIMEOUT)
                    .await;
                match outcome {
                    // A failed install may have left no release behind.
                    Ok(output) if !output.success() && output.stderr.contains("not found") => {}
                    other => problems.extend(
                        helm_problem(&format!("helm uninstall {release}"), other).map(Problem::new),
                    ),
                }
            }
            recorder.record("uninstall", started.elapsed(), problems);
        }

        let started = Instant::now();
        let problem = match self
            .kube
            .delete_namespace(self.namespace, CLEANUP_TIMEOUT)
            .await
        {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "namespace {} was still terminating after {CLEANUP_TIMEOUT:?}; an object with a finalizer nobody removes blocks it (see its status.conditions)",
                self.namespace
            )),
            Err(error) => Some(error.to_string()),
        };
        recorder.record(
            "namespace-delete",
            started.elapsed(),
            problem.map(Problem::new).into_iter().collect(),
        );

        if self.install_attempted {
            let started = Instant::now();
            let problems = self.leftovers().await;
            recorder.record("leftovers", started.elapsed(), problems);
        }
    }

    /// Cluster-scoped objects of the release still present: every one rendered (except
    /// CRDs from `crds/`, which helm never deletes by design) and every one helm's
    /// ownership annotation ties to this namespace.
    async fn leftovers(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut reported = BTreeSet::new();
        for manifest in &self.rendered {
            if manifest
                .source
                .as_deref()
                .is_some_and(|s| s.starts_with("crds/"))
            {
                continue;
            }
            let Some(gvk) = k8s::gvk_of(&manifest.value) else {
                continue;
            };
            let resolved = match self.kube.resolve(&gvk).await {
                Ok(Some(resolved)) if resolved.1.scope == kube::discovery::Scope::Cluster => {
                    resolved
                }
                Ok(_) => continue,
                Err(error) => {
                    problems.push(Problem::new(error.to_string()));
                    continue;
                }
            };
            let name = text_at(&manifest.value, "/metadata/name").unwrap_or_default();
            let api = self.kube.api_for(&resolved, self.namespace);
            match k8s::request(format!("get {} {name}", gvk.kind), api.get_opt(name)).await {
                Ok(Some(_)) => {
                    reported.insert(format!("{}/{name}", gvk.kind));
                    problems.push(Problem::in_file(self.chart_file(manifest.source.as_deref()), format!(
                        "{} `{name}` is still in the cluster after uninstall; the release must remove what it creates (drop `helm.sh/resource-policy: keep`, or delete it in a post-delete hook)", gvk.kind
                    )));
                }
                Ok(None) => {}
                Err(error) => problems.push(Problem::new(error.to_string())),
            }
        }
        match self
            .kube
            .cluster_objects_of_release_namespace(self.namespace)
            .await
        {
            Ok(objects) => {
                for object in objects.into_iter().filter(|o| !reported.contains(o)) {
                    problems.push(Problem::in_file(&self.trial.chart.rel_dir, format!(
                        "{object} (created by the release, but not in its rendered manifest, e.g. by a hook) is still in the cluster after uninstall; delete it in a post-delete hook"
                    )));
                }
            }
            Err(error) => problems.push(Problem::new(error.to_string())),
        }
        problems
    }
}

fn text_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn is_test_hook(object: &Value) -> bool {
    text_at(object, "/metadata/annotations/helm.sh~1hook").is_some_and(|hooks| {
        hooks
            .split(',')
            .any(|h| h.trim() == "test" || h.trim() == "test-success")
    })
}

/// `None` when helm succeeded, else what it said (bounded).
fn helm_problem(
    what: &str,
    outcome: Result<crate::tools::ProcessOutput, crate::tools::ToolError>,
) -> Option<String> {
    match outcome {
        Ok(output) if output.success() => None,
        Ok(output) => {
            let said = format!("{}\n{}", output.stderr.trim(), output.stdout.trim());
            Some(format!(
                "{what} failed ({}): {}",
                output.status,
                bounded(said.trim(), MAX_TOOL_OUTPUT)
            ))
        }
        Err(error) => Some(format!("{what}: {error}")),
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), marked when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... {} more bytes cut]",
        &text[..end],
        text.len() - end
    )
}

fn write_values(values: &BTreeMap<String, Value>) -> std::io::Result<tempfile::NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix("chart-harness-prerequisite-")
        .suffix(".yaml")
        .tempfile()?;
    // JSON is YAML, so helm reads it as it is.
    std::fs::write(
        file.path(),
        serde_json::to_string_pretty(values).expect("JSON values serialize"),
    )?;
    Ok(file)
}

/// Deletes the trial's namespace in the background when dropped armed: the trial future
/// was dropped (timeout, Ctrl-C) before its own cleanup ran.
struct NamespaceGuard {
    armed: Option<(kube::Client, String)>,
}

impl NamespaceGuard {
    fn new(client: kube::Client, namespace: String) -> Self {
        NamespaceGuard {
            armed: Some((client, namespace)),
        }
    }

    fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let Some((client, namespace)) = self.armed.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
                let _ = tokio::time::timeout(
                    k8s::REQUEST_TIMEOUT,
                    api.delete(&namespace, &DeleteParams::background()),
                )
                .await;
            });
        }
    }
}

#[cfg(test)]
mod tests;
