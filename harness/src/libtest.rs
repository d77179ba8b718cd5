//! The adapter behind the libtest-mimic targets in `suites/`: the plan becomes
//! `Trial`s named `suite::chart::case`, an outcome becomes pass or fail, and a trial
//! the plan skips is ignored with its reason.
//!
//! Listing (`--list`, which nextest calls first) only opens a session and plans; the
//! first trial that runs assembles the run (`run::Run`), and each trial then runs on
//! its own, as libtest-mimic schedules them on its threads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use crate::cluster::{LeaseEvent, ProviderKind};
use crate::plan::{Suite, Trial};
use crate::run::{self, Run, RunOptions};
use crate::session::{Session, find_repo_root};
use crate::suites::TrialStatus;

/// Entry point of a suite target (see [`crate::suite_main!`]). `manifest_dir` is the
/// calling package's `CARGO_MANIFEST_DIR`; `CHART_HARNESS_ROOT` points the suite at
/// another repository.
pub fn main(suite_name: &str, manifest_dir: &str) -> ExitCode {
    let suite: Suite = match suite_name.parse() {
        Ok(suite) => suite,
        Err(message) => {
            eprintln!(
                "chart-harness: suites/{suite_name}.rs: {message}; register the suite in harness/src/registry.rs or fix the name in suite_main!"
            );
            return ExitCode::from(2);
        }
    };
    let args = libtest_mimic::Arguments::from_args();
    let repo_root = std::env::var_os("CHART_HARNESS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| find_repo_root(Path::new(manifest_dir)));
    let session = match Session::open(&repo_root) {
        Ok(session) => Arc::new(session),
        Err(error) => {
            eprintln!("chart-harness: {error}");
            return ExitCode::from(2);
        }
    };
    let listing = args.list;
    if !listing {
        for warning in &session.loaded.warnings {
            eprintln!("chart-harness: warning: {warning}");
        }
        runtime().spawn(run::exit_on_interrupt());
    }
    // Locally, cluster suites without a way to make a cluster are listed as ignored
    // with the fix; in CI that would hide a broken setup, so they run and fail.
    let unavailable = suite
        .needs_cluster()
        .then(|| cluster_unavailable(&session))
        .flatten()
        .filter(|_| !in_ci());
    if let (Some(reason), false) = (&unavailable, listing) {
        eprintln!("chart-harness: {suite} trials are ignored: {reason}");
    }
    let planned = session.plan(&session.charts, &[suite]);
    let shared = Arc::new(Shared {
        session: Arc::clone(&session),
        planned: planned.clone(),
        // libtest runs this many trials at once (one per CPU unless --test-threads).
        test_threads: args
            .test_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        assembled: OnceLock::new(),
    });
    let trials = planned
        .into_iter()
        .map(|trial| match trial.skipped.clone() {
            // Ignored, so listing shows it; with --include-ignored it reports why.
            Some(reason) => libtest_mimic::Trial::ignorable_test(trial.id.to_string(), move || {
                Ok(libtest_mimic::Completion::ignored_with(reason))
            })
            .with_ignored_flag(true),
            None => {
                let shared = Arc::clone(&shared);
                libtest_mimic::Trial::ignorable_test(trial.id.to_string(), move || {
                    shared.run(&trial)
                })
                .with_ignored_flag(unavailable.is_some())
            }
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    shared.release_cluster();
    conclusion.exit_code()
}

/// Why no cluster can be made here, judged from files and variables alone (listing must
/// not start processes, and nextest lists before it runs): see [`unavailable_reason`].
fn cluster_unavailable(session: &Session) -> Option<String> {
    let env = std::env::var(crate::cluster::CLUSTER_ENV).ok();
    // A bad value is reported by the run itself, with the choices.
    let asked = crate::cluster::requested_kind(None, env.as_deref(), session.loaded.config.cluster)
        .ok()
        .flatten();
    let local_installed = crate::cluster::LocalBinaries::find(session.repo_root())
        .is_ok_and(|binaries| binaries.check().is_ok());
    let docker = Path::new("/var/run/docker.sock").exists();
    let image_named = std::env::var(crate::cluster::NODE_IMAGE_ENV)
        .is_ok_and(|v| !v.trim().is_empty())
        || session.loaded.config.kind_node_image.is_some();
    unavailable_reason(asked, local_installed, docker, image_named)
}

/// Whether a cluster can be made. A Docker socket alone no longer means kind works: the
/// default is kind only when its node image is present or can be pulled, which takes a
/// process to know, and without the image the default is the local control plane. So
/// Docker counts when kind was asked for, or when a node image was named (a missing one
/// then fails the run with one message saying what to do).
fn unavailable_reason(
    asked: Option<ProviderKind>,
    local_installed: bool,
    docker: bool,
    image_named: bool,
) -> Option<String> {
    const INSTALL: &str = "run `cargo run -p chart-harness -- tools install --all`";
    match asked {
        Some(ProviderKind::Existing) => None,
        Some(ProviderKind::Local) if !local_installed => Some(format!(
            "no cluster can be made: the local control plane was asked for and is not installed; {INSTALL}"
        )),
        Some(ProviderKind::Kind) if !docker => Some(
            "no cluster can be made: kind was asked for and Docker is absent (no /var/run/docker.sock); \
             start Docker, or set CHART_HARNESS_CLUSTER=local"
                .to_string(),
        ),
        Some(_) => None,
        None if local_installed || (docker && image_named) => None,
        None if docker => Some(format!(
            "no cluster can be made: the local control plane is not installed, and kind is used only with a \
             node image that is present, which is not known before running Docker; {INSTALL}, or set \
             CHART_HARNESS_CLUSTER=kind and name a local node image with {}",
            crate::cluster::NODE_IMAGE_ENV
        )),
        None => Some(format!(
            "no cluster can be made: the local control plane is not installed and Docker is absent; \
             {INSTALL}, or set CHART_HARNESS_CLUSTER=existing with KUBECONFIG"
        )),
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

struct Shared {
    session: Arc<Session>,
    planned: Vec<Trial>,
    test_threads: usize,
    /// Assembled by the first trial that runs, so listing never resolves tools.
    assembled: OnceLock<Result<Run, String>>,
}

impl Shared {
    fn run(&self, trial: &Trial) -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
        let run = self
            .assembled
            .get_or_init(|| {
                let options = RunOptions {
                    jobs: Some(self.test_threads),
                    ..RunOptions::default()
                };
                let run = runtime()
                    .block_on(Run::assemble(&self.session, self.planned.clone(), options))
                    .map_err(|e| e.to_string())?;
                // Once per process, as the CLI's header says it: which helm, and why
                // it may differ from the pinned one.
                eprintln!("chart-harness: with {}", run.info.helm);
                for warning in &run.ctx.tools.warnings {
                    eprintln!("chart-harness: warning: {warning}");
                }
                announce_cluster(&run);
                Ok(run)
            })
            .as_ref()
            .map_err(|message| libtest_mimic::Failed::from(message.clone()))?;
        let outcome = runtime().block_on(run.run_one(trial));
        match (outcome.status, &outcome.reason) {
            // Nothing to test is not a pass: libtest shows it as ignored, with why.
            (TrialStatus::NotRun, Some(reason)) => {
                Ok(libtest_mimic::Completion::ignored_with(reason))
            }
            _ if outcome.passed() => Ok(libtest_mimic::Completion::Completed),
            _ => Err(outcome.failure_message().into()),
        }
    }

    /// Tears down the cluster the trials leased, if any.
    fn release_cluster(&self) {
        if let Some(Ok(run)) = self.assembled.get() {
            runtime().block_on(run.release_cluster());
        }
    }
}

/// Says what happens to the run's cluster, once per process, as the CLI's runner does:
/// a failure is printed here once, and each trial that needed the cluster refers to it.
fn announce_cluster(run: &Run) {
    let Some(lease) = &run.ctx.cluster else {
        return;
    };
    // Subscribed before any trial can acquire the cluster, so nothing is missed.
    let mut events = lease.subscribe();
    runtime().spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                LeaseEvent::Creating { intent } => {
                    eprintln!("chart-harness: creating {intent}")
                }
                LeaseEvent::Ready { description, took } => {
                    eprintln!("chart-harness: cluster ready after {took:.1?}: {description}")
                }
                LeaseEvent::Failed { error, took } => {
                    eprintln!("chart-harness: CLUSTER failed after {took:.1?}: {error}")
                }
            }
        }
    });
}

/// libtest-mimic's trials call into async code from its own threads.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| run::runtime().expect("a tokio runtime can be built"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::existing(Some(ProviderKind::Existing), false, false, false, None)]
    #[case::local_installed(Some(ProviderKind::Local), true, false, false, None)]
    #[case::local_missing(
        Some(ProviderKind::Local),
        false,
        true,
        true,
        Some("tools install --all")
    )]
    #[case::kind_with_docker(Some(ProviderKind::Kind), false, true, false, None)]
    #[case::kind_without_docker(
        Some(ProviderKind::Kind),
        true,
        false,
        true,
        Some("Docker is absent")
    )]
    #[case::default_local_installed(None, true, true, false, None)]
    #[case::default_docker_and_named_image(None, false, true, true, None)]
    #[case::default_docker_only(None, false, true, false, Some("CHART_HARNESS_KIND_NODE_IMAGE"))]
    #[case::default_nothing(None, false, false, false, Some("Docker is absent"))]
    fn a_docker_socket_alone_does_not_make_a_cluster(
        #[case] asked: Option<ProviderKind>,
        #[case] local_installed: bool,
        #[case] docker: bool,
        #[case] image_named: bool,
        #[case] expected: Option<&str>,
    ) {
        let reason = unavailable_reason(asked, local_installed, docker, image_named);
        match (expected, reason) {
            (None, None) => {}
            (Some(part), Some(reason)) => assert!(reason.contains(part), "{reason}"),
            (expected, reason) => panic!("expected {expected:?}, got {reason:?}"),
        }
    }
}
