//! The adapter behind the libtest-mimic targets in `suites/`: the plan becomes
//! `Trial`s named `suite::chart::case`, and an outcome becomes pass or fail.
//!
//! Listing (`--list`, which nextest calls first) only opens a session and plans; the
//! tools are resolved by the first trial that runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use crate::plan::{Suite, Trial};
use crate::session::{Session, find_repo_root};
use crate::suites::{SuiteContext, TrialOutcome};
use crate::{runner, tools};

/// Entry point of a suite target (see [`crate::suite_main!`]). `manifest_dir` is the
/// calling package's `CARGO_MANIFEST_DIR`; `CHART_HARNESS_ROOT` points the suite at
/// another repository.
pub fn main(suite_name: &str, manifest_dir: &str) -> ExitCode {
    let suite: Suite = match suite_name.parse() {
        Ok(suite) => suite,
        Err(message) => {
            eprintln!("chart-harness: suites/{suite_name}.rs: {message}");
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
        runtime().spawn(kill_children_on_signal());
    }
    // Locally, cluster suites without a way to make a cluster are listed as ignored
    // with the fix; in CI that would hide a broken setup, so they run and fail.
    let unavailable = suite
        .needs_cluster()
        .then(|| cluster_unavailable(session.repo_root()))
        .flatten()
        .filter(|_| !in_ci());
    if let (Some(reason), false) = (&unavailable, listing) {
        eprintln!("chart-harness: {suite} trials are ignored: {reason}");
    }
    let shared = Arc::new(Shared {
        session: Arc::clone(&session),
        suite,
        // libtest runs this many trials at once (one per CPU unless --test-threads).
        test_threads: args
            .test_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        context: OnceLock::new(),
    });
    let trials = session
        .plan(&session.charts, &[suite])
        .into_iter()
        .map(|trial| match trial.skipped.clone() {
            // Ignored, so listing shows it; with --include-ignored it reports why.
            Some(reason) => libtest_mimic::Trial::ignorable_test(trial.id.to_string(), move || {
                Ok(libtest_mimic::Completion::ignored_with(reason))
            })
            .with_ignored_flag(true),
            None => {
                let shared = Arc::clone(&shared);
                libtest_mimic::Trial::test(trial.id.to_string(), move || shared.run(&trial))
                    .with_ignored_flag(unavailable.is_some())
            }
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    shared.release_cluster();
    conclusion.exit_code()
}

/// Why no cluster can be made here, judged from files alone (listing must not start
/// processes): neither an existing kubeconfig was asked for, nor are the local control
/// plane's binaries installed, nor is there a Docker socket for kind.
fn cluster_unavailable(repo_root: &Path) -> Option<String> {
    let asked_existing = std::env::var("CHART_HARNESS_CLUSTER").is_ok_and(|v| v == "existing");
    let binaries = crate::cluster::LocalBinaries::from_env()
        .unwrap_or_else(|| crate::cluster::LocalBinaries::in_dir(&tools::tools_bin_dir(repo_root)));
    let docker = Path::new("/var/run/docker.sock").exists();
    if asked_existing || binaries.check().is_ok() || docker {
        None
    } else {
        Some(
            "no cluster can be made: the local control plane is not installed and Docker is absent; \
             run `cargo run -p chart-harness -- tools install --all`, or set CHART_HARNESS_CLUSTER=existing with KUBECONFIG"
                .to_string(),
        )
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

struct Shared {
    session: Arc<Session>,
    suite: Suite,
    test_threads: usize,
    context: OnceLock<Result<SuiteContext, String>>,
}

impl Shared {
    fn run(&self, trial: &Trial) -> Result<(), libtest_mimic::Failed> {
        let ctx = self
            .context
            .get_or_init(|| {
                runtime()
                    .block_on(async {
                        let mut ctx = self.session.context(None).await?;
                        Arc::make_mut(&mut ctx.tools).helm.go_threads =
                            tools::go_threads_for(self.test_threads);
                        if self.suite.needs_cluster() {
                            ctx.cluster = Some(Arc::new(self.session.cluster_lease(None).await?));
                        }
                        Ok::<_, crate::session::SessionError>(ctx)
                    })
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| libtest_mimic::Failed::from(message.clone()))?;
        let outcome = runtime().block_on(runner::run_with_timeout(trial, ctx));
        write_trial_report(&ctx.config.report_dir, &outcome);
        if outcome.passed() {
            Ok(())
        } else {
            Err(outcome.failure_message().into())
        }
    }
}

impl Shared {
    /// Tears down the cluster the trials leased, if any.
    fn release_cluster(&self) {
        if let Some(Ok(ctx)) = self.context.get()
            && let Some(lease) = &ctx.cluster
            && let Err(error) = runtime().block_on(lease.release())
        {
            eprintln!("chart-harness: cluster teardown failed: {error}");
        }
    }
}

/// Each trial leaves its outcome, with phase timings, in `<report-dir>/trials/`, so
/// timings survive nextest's one-process-per-trial model. Best effort: a report that
/// can't be written must not fail the chart's trial.
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

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime can be built")
    })
}

/// libtest dies on Ctrl-C without unwinding, and children live in their own process
/// groups (the cluster's components even in their own sessions), so they would outlive
/// it. Kill them and tear the cluster down first.
async fn kill_children_on_signal() {
    runner::interrupted().await;
    tools::process::kill_all();
    for error in crate::cluster::teardown_all().await {
        eprintln!("chart-harness: cluster teardown failed: {error}");
    }
    std::process::exit(130);
}
