//! Prints the matrix figures: the plan of a generated repository of 300 charts on two
//! Kubernetes versions (600 cluster cells, so three shards), the merge of one report
//! per cell (601), and the size of the step summary the merge writes.
//!
//! `cargo run --release -p chart-harness --example matrix_scale [-- CHARTS]`
//!
//! The plan goes through the same code as `chart-harness plan` (discovery, Chart.yaml,
//! git for the commit). The cells' reports are written from the plan's trial lists as
//! passed trials with two timed phases each, as a cell's run would write them: what is
//! measured is reading, checking and merging them, not running 600 clusters.

use std::path::Path;
use std::time::{Duration, Instant};

use chart_harness::matrix::{self, assemble};
use chart_harness::plan::{Suite, TrialId};
use chart_harness::report::document::ReportDocument;
use chart_harness::report::{github_summary, merge};
use chart_harness::session::Session;

fn main() -> anyhow::Result<()> {
    let charts: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(300);
    let repo = tempfile::tempdir()?;
    generate(repo.path(), charts)?;
    let runtime = tokio::runtime::Runtime::new()?;

    let started = Instant::now();
    let session = Session::open(repo.path())?;
    let plan = runtime.block_on(assemble::plan(
        &session,
        &session.charts,
        assemble::PlanRequest {
            suites: Suite::ALL.to_vec(),
            kube_versions: None,
            selection: "all charts".into(),
            plan_file: matrix::DEFAULT_PLAN_FILE.into(),
            config_file: None,
            reports_root: matrix::DEFAULT_REPORTS_ROOT.into(),
        },
    ))?;
    let plan_time = started.elapsed();
    println!(
        "plan: {charts} charts x {} Kubernetes versions -> {} cells, {} shards of {:?}, in {} (discovery, Chart.yaml, git)",
        plan.kube_versions.len(),
        plan.cells.len(),
        plan.shards.len(),
        plan.shards
            .iter()
            .map(|s| s.cells.len())
            .collect::<Vec<_>>(),
        millis(plan_time)
    );

    let reports = repo.path().join("reports");
    for cell in &plan.cells {
        write_cell_report(&reports, &plan, cell)?;
    }
    let started = Instant::now();
    let mut documents = Vec::new();
    for file in ReportDocument::find(std::slice::from_ref(&reports)) {
        let document = ReportDocument::read(&file).map_err(anyhow::Error::msg)?;
        documents.push((file, document));
    }
    let read = documents.len();
    let merged = merge::merge(&plan, documents).map_err(anyhow::Error::msg)?;
    let merge_time = started.elapsed();
    let summary = github_summary::markdown(&merged, github_summary::GITHUB_LIMIT, "report.json");
    println!(
        "merge: {read} reports, {} trials ({}), in {} (find, read, check, merge)",
        merged.summary.listed,
        merged.summary,
        millis(merge_time)
    );
    println!(
        "summary: {} bytes ({:.1}% of GitHub's 1 MiB step-summary limit)",
        summary.len(),
        summary.len() as f64 * 100.0 / github_summary::GITHUB_LIMIT as f64
    );
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

/// `charts` charts with one case each, committed, on Kubernetes 1.36 and 1.37.
fn generate(root: &Path, charts: usize) -> anyhow::Result<()> {
    std::fs::write(
        root.join("chart-harness.yaml"),
        "chart-dirs: [charts]\nkube-versions: [\"1.36\", \"1.37\"]\n",
    )?;
    for index in 0..charts {
        let dir = root.join(format!("charts/chart-{index:03}/templates"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.parent().unwrap().join("Chart.yaml"),
            format!("apiVersion: v2\nname: chart-{index:03}\nversion: 0.1.0\n"),
        )?;
        std::fs::write(
            dir.join("configmap.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )?;
    }
    for args in [
        &["init", "--quiet"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "--quiet",
            "-m",
            "charts",
        ],
    ] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .status()?;
        anyhow::ensure!(status.success(), "git {args:?} failed");
    }
    Ok(())
}

/// A cell's report.json as its run writes it: format, commit, version, cell, trials.
fn write_cell_report(
    reports: &Path,
    plan: &matrix::Plan,
    cell: &matrix::Cell,
) -> anyhow::Result<()> {
    let trials: Vec<serde_json::Value> = cell
        .trials
        .iter()
        .map(|name| {
            let id: TrialId = name.parse().map_err(anyhow::Error::msg)?;
            Ok(serde_json::json!({
                "id": id,
                "chart_dir": format!("charts/{}", id.chart),
                "status": "passed",
                "phases": [
                    {"name": "render", "status": "passed", "duration_ms": 120.0},
                    {"name": "check", "status": "passed", "duration_ms": 3.5},
                ],
                "duration_ms": 123.5,
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let report = serde_json::json!({
        "version": chart_harness::report::FORMAT_VERSION,
        "commit": plan.commit,
        "kube_version": cell.kube_version,
        "cell": {"plan_hash": plan.hash, "id": cell.id, "attempt": 1},
        "complete": true,
        "cluster": "kind cluster (benchmark)",
        "summary": {"listed": trials.len(), "passed": trials.len(), "failed": 0, "timed_out": 0,
                    "cancelled": 0, "skipped": 0, "not_run": 0},
        "trials": trials,
        "warnings": [],
    });
    let dir = reports.join(&cell.id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    Ok(())
}
