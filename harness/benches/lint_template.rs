//! `cargo bench --bench lint_template`: lint and template over 40 generated charts
//! with 3 cases each, run by the harness and, for comparison, as the same helm
//! invocations one after another. Also times listing 100 charts, and what the policy
//! suite adds to a template run.
//!
//! Prints figures; asserts nothing about speed, since these machines are noisy.

#[path = "../tests/testing/mod.rs"]
mod testing;

use std::time::{Duration, Instant};
use testing::TempRepo;

use chart_harness::plan::Suite;
use chart_harness::run::{self, Run, RunOptions};
use chart_harness::session::Session;
use chart_harness::suites::render::RenderTarget;
use chart_harness::suites::{SnapshotMode, TrialInputs};

const CHARTS: usize = 40;
const LISTED_CHARTS: usize = 100;

fn main() {
    let runtime = run::runtime().unwrap();
    let listing = generate(LISTED_CHARTS);
    let started = Instant::now();
    let session = Session::open(listing.root()).unwrap();
    let listed = session
        .plan(&session.charts, &[Suite::Lint, Suite::Template])
        .len();
    let list_time = started.elapsed();

    let repo = generate(CHARTS);
    let session = Session::open(repo.root()).unwrap();
    let trials = session.plan(&session.charts, &[Suite::Lint, Suite::Template]);
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let assemble = |jobs: usize, snapshot_mode: SnapshotMode| {
        let options = RunOptions {
            jobs: Some(jobs),
            snapshot_mode,
            ..RunOptions::default()
        };
        let run = runtime.block_on(Run::assemble(&session, trials.clone(), options));
        run.expect("tools resolve; run `chart-harness tools install`")
    };

    // Warm-up: writes the snapshots the measured run compares against.
    let warm_up = assemble(jobs, SnapshotMode::Overwrite);
    runtime
        .block_on(warm_up.execute(&mut [], std::future::pending()))
        .unwrap();
    let measured = assemble(jobs, SnapshotMode::Check);
    // The same helm invocations one after another, as one job would run them.
    let sequential = assemble(1, SnapshotMode::Check).ctx;

    runtime.block_on(async {
        let before = Usage::now();
        let started = Instant::now();
        let summary = measured.execute(&mut [], std::future::pending()).await.unwrap();
        let harness_wall = started.elapsed();
        let harness_usage = Usage::now().since(&before);
        let failed = summary.outcomes.iter().filter(|o| o.status.is_failure()).count();
        if let Some(failure) = summary.outcomes.iter().find(|o| o.status.is_failure()) {
            println!("first failure:\n{}", failure.failure_message());
        }

        let started = Instant::now();
        for trial in &trials {
            let inputs = TrialInputs::prepare(trial, &sequential).unwrap();
            let target = RenderTarget {
                namespace: "chart-harness",
                kube_version: inputs.primary_kube_version(),
                extra_args: &[],
                timeout: Duration::from_secs(120),
            };
            let request = inputs.render_request(trial, &target);
            match trial.id.suite {
                Suite::Lint => drop(sequential.tools.helm.lint(&request).await.unwrap()),
                Suite::Template => drop(sequential.tools.helm.template(&request).await.unwrap()),
                Suite::Policy | Suite::Integration | Suite::Upgrade | Suite::BackupRestore => {
                    unreachable!("only lint and template are planned")
                }
            }
        }
        let sequential_wall = started.elapsed();

        println!("chart-harness benchmark: {CHARTS} charts x 3 cases, lint + template = {} trials, {jobs} jobs, {}", trials.len(), sequential.tools.helm.version);
        println!("  harness wall time          {:>8.2} s  ({failed} trials failed)", harness_wall.as_secs_f64());
        println!("  sequential helm wall time  {:>8.2} s", sequential_wall.as_secs_f64());
        println!("  harness / sequential       {:>8.2}  (goal <= 0.60)", harness_wall.as_secs_f64() / sequential_wall.as_secs_f64());
        println!(
            "  harness CPU outside helm   {:>8.2} %  ({:.2} s of {:.2} s CPU; goal <= 5 %)",
            100.0 * harness_usage.own.as_secs_f64() / (harness_usage.own + harness_usage.children).as_secs_f64(),
            harness_usage.own.as_secs_f64(),
            (harness_usage.own + harness_usage.children).as_secs_f64()
        );
        println!("  listing {LISTED_CHARTS} charts ({listed} trials) {:>8.1} ms  (goal < 300 ms)", list_time.as_secs_f64() * 1000.0);
    });

    // What the policy suite adds to a template run: it takes template's renders from
    // the run's cache, so only its rules should cost anything.
    let timed = |suites: &[Suite]| {
        let options = RunOptions {
            jobs: Some(jobs),
            snapshot_mode: SnapshotMode::Check,
            ..RunOptions::default()
        };
        let trials = session.plan(&session.charts, suites);
        let run = runtime
            .block_on(Run::assemble(&session, trials, options))
            .expect("tools resolve");
        let started = Instant::now();
        runtime
            .block_on(run.execute(&mut [], std::future::pending()))
            .unwrap();
        started.elapsed()
    };
    let template = timed(&[Suite::Template]);
    let with_policy = timed(&[Suite::Template, Suite::Policy]);
    println!(
        "  template + policy / template {:>6.2}  ({:.2} s / {:.2} s; goal <= 1.10)",
        with_policy.as_secs_f64() / template.as_secs_f64(),
        with_policy.as_secs_f64(),
        template.as_secs_f64()
    );
}

/// A repository with `count` copies of the `web` fixture named `bench-NNN`, each
/// with 3 cases.
fn generate(count: usize) -> TempRepo {
    let repo = TempRepo::new();
    for index in 0..count {
        let target = repo.add_chart_as("charts", "web", &format!("bench-{index:03}"));
        std::fs::remove_dir_all(target.join("ci")).unwrap();
        std::fs::create_dir_all(target.join("ci")).unwrap();
        for (case, replicas) in [("small", 1), ("medium", 2), ("large", 3)] {
            std::fs::write(
                target.join(format!("ci/{case}-values.yaml")),
                format!("replicaCount: {replicas}\n"),
            )
            .unwrap();
        }
    }
    repo
}

/// CPU time of this process and of its reaped children.
struct Usage {
    own: Duration,
    children: Duration,
}

impl Usage {
    fn now() -> Usage {
        Usage {
            own: cpu(libc::RUSAGE_SELF),
            children: cpu(libc::RUSAGE_CHILDREN),
        }
    }

    fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            own: self.own - earlier.own,
            children: self.children - earlier.children,
        }
    }
}

fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}
