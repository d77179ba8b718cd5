use std::sync::Arc;

use rstest::rstest;

use super::*;
use crate::discovery::Chart;
use crate::{config, discovery, plan};

/// A repository of `count` charts on disk (discovery reads files), each with one case.
fn charts(root: &std::path::Path, count: usize) -> Vec<Arc<Chart>> {
    std::fs::write(root.join("chart-harness.yaml"), "chart-dirs: [charts]\n").unwrap();
    for index in 0..count {
        let dir = root.join(format!("charts/chart-{index:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: chart-{index:03}\nversion: 0.1.0\n"),
        )
        .unwrap();
    }
    let loaded = config::load(root).unwrap();
    discovery::discover(&loaded.config, root, &mut Vec::new())
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect()
}

fn input(charts: &[Arc<Chart>], versions: &[&str]) -> PlanInput {
    let versions: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
    PlanInput {
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        selection: "all charts".into(),
        node_images: versions
            .iter()
            .map(|v| (v.clone(), format!("kindest/node:v{v}.0")))
            .collect(),
        kube_versions: versions.clone(),
        charts: charts
            .iter()
            .map(|chart| PlannedChart {
                name: chart.name.clone(),
                kube_versions: versions.clone(),
                cluster_trials: plan::plan(std::slice::from_ref(chart), &[Suite::Integration]),
            })
            .collect(),
        suites: vec![Suite::Lint, Suite::Integration],
        cluster_free_trials: plan::plan(charts, &[Suite::Lint]),
        plan_file: DEFAULT_PLAN_FILE.into(),
        config_file: None,
        reports_root: DEFAULT_REPORTS_ROOT.into(),
        notes: Vec::new(),
    }
}

#[test]
fn a_cell_carries_everything_its_job_needs() {
    let repo = tempfile::tempdir().unwrap();
    let charts = charts(repo.path(), 2);
    let plan = build(input(&charts, &["1.36", "1.37"])).unwrap();
    assert!(!plan.empty);
    let ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cluster-free",
            "chart-000-k8s-1.36",
            "chart-000-k8s-1.37",
            "chart-001-k8s-1.36",
            "chart-001-k8s-1.37"
        ]
    );
    let cell = plan.cell("chart-001-k8s-1.37").unwrap();
    assert_eq!(cell.kind, CellKind::Cluster);
    assert_eq!(cell.charts, ["chart-001"]);
    assert_eq!(cell.node_image, "kindest/node:v1.37.0");
    assert_eq!(
        cell.command,
        "chart-harness run-cell chart-001-k8s-1.37 --plan chart-harness-plan.json --report-dir chart-harness-reports/chart-001-k8s-1.37"
    );
    assert_eq!(
        cell.artifact,
        format!("chart-harness-{}-chart-001-k8s-1.37", plan.hash)
    );
    assert_eq!(cell.trials, ["integration::chart-001::default"]);
    let free = plan.cell(CLUSTER_FREE_ID).unwrap();
    assert_eq!(free.charts, ["chart-000", "chart-001"]);
    assert_eq!(free.suites, [Suite::Lint]);
    assert_eq!(plan.shards.len(), 1);
}

#[test]
fn the_hash_follows_what_the_plan_runs() {
    let repo = tempfile::tempdir().unwrap();
    let charts = charts(repo.path(), 2);
    let one = build(input(&charts, &["1.36", "1.37"])).unwrap();
    let again = build(input(&charts, &["1.36", "1.37"])).unwrap();
    let fewer = build(input(&charts, &["1.37"])).unwrap();
    let mut elsewhere = input(&charts, &["1.36", "1.37"]);
    elsewhere.commit = "f".repeat(40);
    assert_eq!(one.hash, again.hash);
    assert_ne!(one.hash, fewer.hash);
    assert_ne!(one.hash, build(elsewhere).unwrap().hash);
    assert_eq!(one.hash.len(), 16);
}

#[test]
fn nothing_to_run_is_an_empty_plan() {
    let plan = build(input(&[], &["1.37"])).unwrap();
    assert!(plan.empty);
    assert!(plan.cells.is_empty());
    let outputs = plan.github_outputs(None).unwrap();
    assert!(outputs.contains("empty=true\n"), "{outputs}");
    assert!(outputs.contains("matrix={\"include\":[]}\n"), "{outputs}");
}

/// 300 charts × 2 versions: 600 cluster cells, more than one matrix takes.
#[test]
fn a_plan_over_githubs_matrix_limit_splits_into_even_shards() {
    let repo = tempfile::tempdir().unwrap();
    let charts = charts(repo.path(), 300);
    let plan = build(input(&charts, &["1.36", "1.37"])).unwrap();
    let sizes: Vec<usize> = plan.shards.iter().map(|s| s.cells.len()).collect();
    assert_eq!(sizes, [200, 200, 200]);
    assert!(
        plan.notes
            .iter()
            .any(|note| note.contains("600 cluster cells") && note.contains("3 shards")),
        "{:?}",
        plan.notes
    );
    let second = plan.cluster_cells(Some((2, 3))).unwrap();
    assert_eq!(second.len(), 200);
    assert_eq!(second[0].id, "chart-100-k8s-1.36");
    let matrix = plan.github_matrix(&second);
    assert_eq!(matrix["include"].as_array().unwrap().len(), 200);
    assert!(matrix["include"][0].get("trials").is_none());
    let message = plan.cluster_cells(Some((1, 2))).unwrap_err();
    assert!(message.contains("this plan has 3 shards"), "{message}");
}

#[rstest]
#[case::fits(256, 1)]
#[case::one_over(257, 2)]
#[case::at_most_250(501, 3)]
fn shards_are_as_few_as_github_needs(#[case] cells: usize, #[case] expected: usize) {
    let ids: Vec<String> = (0..cells).map(|i| format!("c{i}")).collect();
    let shards = shards(&ids).unwrap();
    assert_eq!(shards.len(), expected);
    assert!(shards.iter().all(|s| s.cells.len() <= GITHUB_MATRIX_LIMIT));
    assert_eq!(shards.iter().map(|s| s.cells.len()).sum::<usize>(), cells);
}

#[test]
fn a_plan_past_every_limit_fails_with_the_numbers() {
    let ids: Vec<String> = (0..SHARD_SIZE * GITHUB_MATRIX_LIMIT + 1)
        .map(|i| format!("c{i}"))
        .collect();
    let message = shards(&ids).unwrap_err().to_string();
    assert!(message.contains("64001 cluster cells"), "{message}");
    assert!(message.contains("at most 64000 cells"), "{message}");
}

#[rstest]
#[case("2/3", Ok((2, 3)))]
#[case("0/3", Err(()))]
#[case("4/3", Err(()))]
#[case("two", Err(()))]
fn a_shard_is_i_of_n(#[case] text: &str, #[case] expected: Result<(usize, usize), ()>) {
    assert_eq!(parse_shard(text).map_err(|_| ()), expected);
}
