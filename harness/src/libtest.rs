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

/// Entry point of a suite target. `manifest_dir` is the calling package's
/// `CARGO_MANIFEST_DIR`; `CHART_HARNESS_ROOT` points the suite at another repository.
pub fn main(suite: Suite, manifest_dir: &str) -> ExitCode {
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
    let shared = Arc::new(Shared {
        session: Arc::clone(&session),
        context: OnceLock::new(),
    });
    let trials = session
        .plan(&session.charts, &[suite])
        .into_iter()
        .map(|trial| {
            let shared = Arc::clone(&shared);
            libtest_mimic::Trial::test(trial.id.to_string(), move || shared.run(&trial))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

struct Shared {
    session: Arc<Session>,
    context: OnceLock<Result<SuiteContext, String>>,
}

impl Shared {
    fn run(&self, trial: &Trial) -> Result<(), libtest_mimic::Failed> {
        let ctx = self
            .context
            .get_or_init(|| {
                runtime()
                    .block_on(self.session.context(None))
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
/// groups, so they would outlive it. Kill them first.
async fn kill_children_on_signal() {
    runner::interrupted().await;
    tools::process::kill_all();
    std::process::exit(130);
}
