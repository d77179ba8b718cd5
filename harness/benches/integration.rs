//! `cargo bench -p chart-harness --bench integration`: install, ready, helm test and
//! uninstall of 10 fixture-like charts on one local control plane, run by the harness
//! in parallel and one at a time (chart-testing's model, same steps). Also times the
//! local cluster's start.
//!
//! Prints figures; asserts nothing about speed, since these machines are noisy.

#[path = "../tests/testing/mod.rs"]
mod testing;

use std::time::Instant;
use testing::TempRepo;

use chart_harness::cluster::{
    AnyProvider, ClusterLease, ClusterProvider, ClusterRequest, ExistingProvider, LocalBinaries,
    LocalProvider,
};
use chart_harness::plan::Suite;
use chart_harness::run::{self, ClusterChoice, Run, RunOptions};
use chart_harness::session::Session;
use chart_harness::tools;

const CHARTS: usize = 10;

fn main() {
    let runtime = run::runtime().unwrap();
    let workspace = testing::workspace_root();
    let repo = generate();
    let session = Session::open(repo.root()).unwrap();
    let trials = session.plan(&session.charts, &[Suite::Integration]);

    runtime.block_on(async {
        let binaries = LocalBinaries::from_env()
            .unwrap_or_else(|| LocalBinaries::in_dir(&tools::tools_bin_dir(&workspace)));
        let provider = LocalProvider {
            binaries,
            kube_version: format!("v{}", tools::pinned_kube_version(&workspace).unwrap()),
        };
        let started = Instant::now();
        let cluster = provider
            .acquire(&ClusterRequest::default())
            .await
            .expect("the local control plane starts; run `chart-harness tools install --all`");
        let start_time = started.elapsed();

        // Both runs use this one cluster: each gets a lease on it as an existing cluster,
        // which the runner's release leaves alone.
        let mut figures = Vec::new();
        for jobs in [CHARTS, 1] {
            let lease = Box::new(ClusterLease::new(
                AnyProvider::Existing(ExistingProvider {
                    kubeconfig: cluster.kubeconfig().to_path_buf(),
                    context: cluster.context().map(str::to_string),
                    pods_simulated: true,
                }),
                ClusterRequest::default(),
            ));
            let options = RunOptions {
                jobs: Some(jobs),
                cluster: ClusterChoice::Lease(lease),
                ..RunOptions::default()
            };
            let run = Run::assemble(&session, trials.clone(), options).await.unwrap();
            let started = Instant::now();
            let summary = run.execute(&mut [], std::future::pending()).await.unwrap();
            let failed: Vec<_> = summary.outcomes.iter().filter(|o| o.status.is_failure()).collect();
            if let Some(failure) = failed.first() {
                println!("first failure:\n{}", failure.failure_message());
            }
            figures.push((jobs, started.elapsed(), failed.len()));
        }
        cluster.teardown().await.unwrap();

        println!("chart-harness integration benchmark: {CHARTS} charts, install -> ready -> helm test -> uninstall");
        println!("  local cluster start (API ready)  {:>7.2} s", start_time.as_secs_f64());
        for (jobs, wall, failed) in &figures {
            println!("  {jobs:>2} at a time                     {:>7.2} s  ({failed} failed)", wall.as_secs_f64());
        }
        let ratio = figures[1].1.as_secs_f64() / figures[0].1.as_secs_f64();
        println!("  speed-up, parallel vs one at a time {ratio:>5.1}x  (goal >= 3x)");
    });
}

/// A repository with `CHARTS` copies of the `web` fixture, each with only its
/// default case.
fn generate() -> TempRepo {
    let repo = TempRepo::new();
    for index in 0..CHARTS {
        let target = repo.add_chart_as("charts", "web", &format!("bench-{index:02}"));
        std::fs::remove_dir_all(target.join("ci")).unwrap();
    }
    repo
}
