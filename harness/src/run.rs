//! One run assembly behind every front end: the CLI, the libtest targets, the tests'
//! helpers and the benchmarks all call [`Run::assemble`], then either
//! [`Run::execute`] the whole plan (the runner) or [`Run::run_one`] trial at a time
//! (libtest-mimic, which runs trials on its own threads; nextest even runs one
//! process per trial).
//!
//! Assembling resolves the tools and the kube version once, leases a cluster only when
//! a trial that will run needs one, and sizes helm's Go threads to the parallelism.
//! Signal handling and report writing live here too, so every front end ends a run
//! the same way.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{self, ClusterLease, ProviderKind};
use crate::config::HarnessConfig;
use crate::plan::Trial;
use crate::registry::Suite;
use crate::report::{self, ReportError, Reporter, RunInfo, RunSummary};
use crate::runner::{self, Interruption, Pace};
use crate::session::{Session, SessionError};
use crate::suites::{SnapshotMode, SuiteContext, TrialOutcome};
use crate::tools::{self, HelmMajor};

/// What the front end decides about a run; everything else comes from the session.
pub struct RunOptions {
    /// The helm major; `None`: `CHART_HARNESS_HELM`, else the config's, else the one
    /// installed.
    pub helm: Option<HelmMajor>,
    pub cluster: ClusterChoice,
    /// Trials at once; `None`: the config's `jobs`, else the number of CPUs.
    pub jobs: Option<usize>,
    pub snapshot_mode: SnapshotMode,
    /// A phase running this long is reported, and again every interval (tests shorten it).
    pub heartbeat: Duration,
    /// The matrix cell this run is (`chart-harness run-cell`), recorded in its report.
    pub cell: Option<report::CellStamp>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            helm: None,
            cluster: ClusterChoice::Provider(None),
            jobs: None,
            snapshot_mode: SnapshotMode::from_env(),
            heartbeat: runner::DEFAULT_HEARTBEAT,
            cell: None,
        }
    }
}

/// The commit `repo_root` is at, for the report; `None` outside a git repository (a
/// report without one cannot be merged or gate a release, which say so).
async fn head_commit(repo_root: &std::path::Path) -> Option<String> {
    let git = tools::find_git().ok()?;
    crate::changed::commit_of(repo_root, &git, "HEAD")
        .await
        .ok()
        .flatten()
}

/// Where the run's cluster comes from, when a trial needs one.
pub enum ClusterChoice {
    /// This provider (`--cluster`); `None`: `CHART_HARNESS_CLUSTER`, the config, else
    /// detected (see [`Session::cluster_lease`]).
    Provider(Option<ProviderKind>),
    /// A lease the caller made, for example on a cluster several runs share.
    Lease(Box<ClusterLease>),
}

/// An assembled run: the trials and everything they run with.
pub struct Run {
    pub trials: Vec<Trial>,
    pub ctx: SuiteContext,
    pub pace: Pace,
    pub info: RunInfo,
}

impl Run {
    /// Resolves the tools, builds the context and, when a trial that will run needs a
    /// cluster, the run's lease (nothing starts until a trial asks for it).
    pub async fn assemble(
        session: &Session,
        trials: Vec<Trial>,
        options: RunOptions,
    ) -> Result<Run, SessionError> {
        let config = &session.loaded.config;
        let jobs = options
            .jobs
            .or(config.jobs)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        let mut ctx = session.context(options.helm).await?;
        ctx.snapshot_mode = options.snapshot_mode;
        let running: Vec<Suite> = trials
            .iter()
            .filter(|trial| trial.skipped.is_none())
            .map(|trial| trial.id.suite)
            .collect();
        let lints = running.contains(&Suite::Lint);
        let shared = Arc::get_mut(&mut ctx.shared)
            .expect("the context was just built; nothing else holds its run inputs");
        // Policy takes template's renders when both run; otherwise nothing is kept.
        shared.renders = crate::suites::render::RenderCache::for_suites(&running);
        // Read only when yamllint will run, so a broken file stops only runs that use it.
        if lints && config.validate_yaml {
            shared.yamllint = Arc::new(session.yamllint()?);
        }
        Arc::make_mut(&mut ctx.tools).helm.go_threads = tools::go_threads_for(jobs);
        let needs_cluster = trials.iter().any(|trial| {
            trial.skipped.is_none()
                    && trial.id.suite.needs_cluster()
                    // --predict-only: the upgrade suite's offline layer alone.
                    && !(trial.id.suite == Suite::Upgrade && session.loaded.config.predict_only)
        });
        if needs_cluster {
            let lease = match options.cluster {
                ClusterChoice::Provider(flag) => {
                    session.cluster_lease(flag, &ctx.kube_version).await?
                }
                ClusterChoice::Lease(lease) => *lease,
            };
            ctx.cluster = Some(Arc::new(lease));
        }
        let mut warnings: Vec<String> = session
            .loaded
            .warnings
            .iter()
            .chain(&ctx.tools.warnings)
            .cloned()
            .collect();
        // Clusters of runs that were killed outright (SIGKILL, the OOM killer) go first.
        warnings.extend(cluster::prune(session.kind_binary()?.as_deref()).await);
        // Said only when lint runs: the rules it skips mean nothing to a run that doesn't.
        if lints {
            warnings.extend(ctx.shared.yamllint.unimplemented_warning());
        }
        if let (Some(lease), Some(kind_config)) = (&ctx.cluster, &config.kind_config)
            && lease.provider() != ProviderKind::Kind
        {
            warnings.push(format!(
                "kind-config {} is not used: this run's cluster is `{}`, and only kind clusters are made from a kind config",
                kind_config.describe(),
                lease.provider().as_str()
            ));
        }
        // Named for this run (flag or config), not the machine-wide variable, which may
        // well be set for runs that use kind.
        let node_image = session
            .kind_node_image_flag
            .as_deref()
            .map(|image| format!("--kind-node-image {image}"))
            .or_else(|| {
                config
                    .kind_node_image
                    .as_deref()
                    .map(|image| format!("{} ({image})", config.describe_key("kind-node-image")))
            });
        if let (Some(lease), Some(node_image)) = (&ctx.cluster, node_image)
            && lease.provider() != ProviderKind::Kind
        {
            warnings.push(format!(
                "{node_image} is not used: this run's cluster is `{}`, and only kind clusters run a node image",
                lease.provider().as_str()
            ));
        }
        if let Some(lease) = &ctx.cluster
            && let Some(note) = images_note(lease.provider(), &config.images)
        {
            warnings.push(note);
        }
        let info = RunInfo {
            trials: trials.iter().map(|trial| trial.id.clone()).collect(),
            jobs,
            helm: ctx.tools.helm_description(),
            config_source: session.loaded.source.to_string(),
            warnings,
            commit: head_commit(session.repo_root()).await,
            kube_version: ctx.kube_version.clone(),
            cell: options.cell,
        };
        Ok(Run {
            trials,
            ctx,
            pace: Pace {
                jobs,
                heartbeat: options.heartbeat,
            },
            info,
        })
    }

    /// Runs every trial, `jobs` at a time, feeding `reporters`; stops early when
    /// `interrupt` resolves. The cluster is released before this returns.
    pub async fn execute(
        self,
        reporters: &mut [Box<dyn Reporter>],
        interrupt: impl std::future::Future<Output = Interruption>,
    ) -> Result<RunSummary, ReportError> {
        runner::run(
            self.trials,
            self.ctx,
            self.pace,
            self.info,
            reporters,
            interrupt,
        )
        .await
    }

    /// Runs one trial, for front ends that schedule trials themselves, and leaves its
    /// outcome in `<report-dir>/trials/`.
    pub async fn run_one(&self, trial: &Trial) -> TrialOutcome {
        let outcome =
            runner::run_with_timeout(trial, &self.ctx, runner::TrialWatch::default()).await;
        write_trial_report(&self.ctx.config.report_dir, &outcome);
        outcome
    }

    /// Tears down the cluster the trials leased, if any; for front ends that ran
    /// trials with [`Run::run_one`].
    pub async fn release_cluster(&self) {
        if let Some(lease) = &self.ctx.cluster
            && let Err(error) = lease.release().await
        {
            eprintln!("chart-harness: cluster teardown failed: {error}");
        }
    }
}

/// What `images:` means on a cluster kind does not make, said once per run: only kind
/// clusters get the images loaded.
pub fn images_note(provider: ProviderKind, images: &[String]) -> Option<String> {
    if images.is_empty() {
        return None;
    }
    let listed = images.join(", ");
    match provider {
        ProviderKind::Kind => None,
        ProviderKind::Existing => Some(format!(
            "images {listed} are not loaded into an existing cluster: they must be pullable from a registry the cluster can reach"
        )),
        ProviderKind::Local => Some(format!(
            "images {listed} are not needed on the local control plane: its pods are simulated by kwok and pull no image"
        )),
    }
}

/// The runtime every front end runs on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Resolves on the first SIGINT, SIGTERM or SIGHUP (a closed terminal or SSH session):
/// pass it to [`Run::execute`], which then cancels the running trials (killing their
/// processes) and releases the cluster.
pub async fn interrupted() -> Interruption {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut terminate), Ok(mut hangup)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
                _ = hangup.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    Interruption::Signal
}

/// For front ends that cannot cancel their trials (libtest dies on Ctrl-C without
/// unwinding): on the first SIGINT, SIGTERM or SIGHUP, kill every child process group (they
/// live in their own groups, the cluster's components even in their own sessions, so
/// they would outlive us), tear every cluster down, and exit 130.
pub async fn exit_on_interrupt() {
    interrupted().await;
    tools::process::kill_all();
    for error in cluster::teardown_all().await {
        eprintln!("chart-harness: cluster teardown failed: {error}");
    }
    std::process::exit(130);
}

/// 130 when interrupted (after killing any process still running), 1 when a trial
/// failed or timed out, else 0.
pub fn exit_code(summary: &RunSummary) -> ExitCode {
    if summary.interrupted {
        tools::process::kill_all();
        ExitCode::from(130)
    } else if summary
        .outcomes
        .iter()
        .any(|outcome| outcome.status.is_failure())
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Live progress (or plain lines) on stderr, the summary on stdout, JUnit, JSON and the
/// policy suite's SARIF in the directory this run claimed (see [`report::claim`]).
pub fn reporters(config: &HarnessConfig, reports: &report::ReportClaim) -> Vec<Box<dyn Reporter>> {
    let (junit, json) = report::report_paths(&reports.dir);
    vec![
        Box::new(report::ProgressReporter::new(report::ProgressMode::detect(
            config.github_groups,
        ))),
        Box::new(report::SummaryReporter::new(Box::new(std::io::stdout()))),
        Box::new(report::JunitReporter::new(junit)),
        Box::new(report::JsonReporter::new(json)),
        Box::new(report::SarifReporter::new(
            reports.dir.join("policy.sarif"),
            config.policy.clone(),
            config.config_file.clone(),
            Box::new(std::io::stderr()),
        )),
    ]
}

/// Each trial run on its own leaves its outcome, with phase timings, in
/// `<report-dir>/trials/`, so timings survive nextest's one-process-per-trial model.
/// Best effort: a report that can't be written must not fail the chart's trial.
fn write_trial_report(report_dir: &Path, outcome: &TrialOutcome) {
    let dir = report_dir.join("trials");
    let name = format!(
        "{}__{}__{}.json",
        outcome.id.suite, outcome.id.chart, outcome.id.case
    );
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let mut file = tempfile::NamedTempFile::new_in(&dir)?;
        serde_json::to_writer_pretty(&mut file, outcome)?;
        file.persist(dir.join(name)).map_err(|e| e.error)?;
        Ok(())
    };
    if let Err(error) = write() {
        eprintln!(
            "chart-harness: cannot write the trial report in {}: {error}",
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(ProviderKind::Kind, None)]
    #[case(
        ProviderKind::Existing,
        Some("must be pullable from a registry the cluster can reach")
    )]
    #[case(ProviderKind::Local, Some("pods are simulated by kwok"))]
    fn images_are_loaded_on_kind_and_explained_elsewhere(
        #[case] provider: ProviderKind,
        #[case] note: Option<&str>,
    ) {
        let images = [
            "myapp:dev".to_string(),
            "registry.example/x:1.2".to_string(),
        ];
        let said = images_note(provider, &images);
        match (note, said) {
            (None, None) => {}
            (Some(expected), Some(said)) => {
                assert!(said.contains(expected), "{said}");
                assert!(said.contains("myapp:dev, registry.example/x:1.2"), "{said}");
            }
            (expected, said) => panic!("expected {expected:?}, said {said:?}"),
        }
        assert_eq!(images_note(provider, &[]), None);
    }
}
