//! The matrix plan of a CI workflow (`chart-harness plan`): one cell per chart ×
//! Kubernetes version for the cluster suites, one cell for the cluster-free suites over
//! every chart, each carrying what its job needs (the command line, the node image,
//! the artifact to upload), split into shards when GitHub would refuse the matrix.
//!
//! Pure: [`build`] takes what `assemble.rs` gathered from files, so a plan of 300
//! charts is made without running helm or touching a cluster, and is tested as data.

pub mod assemble;
pub mod versions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::{Suite, Trial};

/// What a plan file says it is, so `run-cell` and `report merge` refuse anything else.
pub const PLAN_FORMAT: &str = "chart-harness-plan";
/// Bumped when a field changes meaning or disappears.
pub const PLAN_VERSION: u32 = 1;
/// GitHub refuses a matrix of more jobs than this before anything runs.
pub const GITHUB_MATRIX_LIMIT: usize = 256;
/// The most cells one shard holds: under the limit, with room for a workflow's own
/// `include` entries.
pub const SHARD_SIZE: usize = 250;
/// The id of the one cell that runs the cluster-free suites over every chart.
pub const CLUSTER_FREE_ID: &str = "cluster-free";
/// Where a plan file goes by default, relative to the repository root.
pub const DEFAULT_PLAN_FILE: &str = "chart-harness-plan.json";
/// Where each cell's report directory goes by default.
pub const DEFAULT_REPORTS_ROOT: &str = "chart-harness-reports";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellKind {
    /// Lint, template, policy: no cluster, every chart in one job.
    ClusterFree,
    /// One chart's cluster suites on one Kubernetes version.
    Cluster,
}

/// One job of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub id: String,
    pub kind: CellKind,
    pub charts: Vec<String>,
    pub suites: Vec<Suite>,
    pub kube_version: String,
    /// The kind node image; empty for the cluster-free cell.
    pub node_image: String,
    /// The exact command line that runs this cell.
    pub command: String,
    /// The artifact name its report is uploaded under, without the attempt suffix
    /// (`-<run_attempt>`) the workflow adds.
    pub artifact: String,
    pub report_dir: String,
    /// Every trial the cell lists, skipped ones included, so a merge can account for a
    /// cell that never reported.
    pub trials: Vec<String>,
}

/// A trial no cell runs: every cluster trial of a chart was skipped by the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTrial {
    pub trial: String,
    pub reason: String,
}

/// The cluster cells a reusable workflow's one matrix runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based, as `--shard I/N` takes it.
    pub index: usize,
    pub cells: Vec<String>,
}

/// A whole plan, as `plan --out` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub version: u32,
    /// The commit the plan was made at; `run-cell` refuses another.
    pub commit: String,
    /// A digest of what the plan runs; every report of its cells carries it.
    pub hash: String,
    /// Nothing to run: the workflow's jobs are skipped.
    pub empty: bool,
    /// Which charts, and why (`changed since origin/main`, `all charts`, `named`).
    pub selection: String,
    /// `--config FILE` the plan was made with: `run-cell` runs every cell with it, so a
    /// workflow's own command line for a cell need not repeat it.
    #[serde(default)]
    pub config_file: Option<String>,
    pub kube_versions: Vec<String>,
    pub cells: Vec<Cell>,
    pub skipped: Vec<SkippedTrial>,
    /// The cluster cells in matrices of at most [`SHARD_SIZE`]; one shard when they fit
    /// in one matrix.
    pub shards: Vec<Shard>,
    /// What the plan decided that a reader may not expect (versions a chart's
    /// `kubeVersion` leaves out, how it split).
    pub notes: Vec<String>,
}

/// One chart as the plan sees it: its trials, and the versions it runs on.
pub struct PlannedChart {
    pub name: String,
    /// The Kubernetes versions left after the chart's own constraints.
    pub kube_versions: Vec<String>,
    /// The chart's cluster trials (every case, every cluster suite, skipped included).
    pub cluster_trials: Vec<Trial>,
}

/// Everything [`build`] needs, gathered from files by `assemble.rs`.
pub struct PlanInput {
    pub commit: String,
    pub selection: String,
    pub kube_versions: Vec<String>,
    /// The node image of each version in `kube_versions`.
    pub node_images: BTreeMap<String, String>,
    pub charts: Vec<PlannedChart>,
    /// The suites the plan runs; the cluster-free ones go to one cell.
    pub suites: Vec<Suite>,
    /// The cluster-free trials over every chart.
    pub cluster_free_trials: Vec<Trial>,
    /// The plan file's path as the cells' command lines name it.
    pub plan_file: String,
    /// `--config FILE` the plan was made with; every cell runs with it.
    pub config_file: Option<String>,
    pub reports_root: String,
    pub notes: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the plan has {cells} cluster cells; at most {SHARD_SIZE} a shard, that is {shards} shards, and GitHub runs at most {GITHUB_MATRIX_LIMIT} jobs in the matrix that fans them out, so at most {max} cells; narrow it with --changed, --suites or fewer kube-versions"
    )]
    TooLarge {
        cells: usize,
        shards: usize,
        max: usize,
    },
    #[error("Kubernetes {version} (kube-versions) has no kind node image: {message}")]
    NoNodeImage { version: String, message: String },
}

/// Builds the plan: cells, skipped trials, shards and the hash.
pub fn build(input: PlanInput) -> Result<Plan, PlanError> {
    let mut cells = Vec::new();
    let mut skipped = Vec::new();
    let cluster_free_suites: Vec<Suite> = input
        .suites
        .iter()
        .copied()
        .filter(|suite| !suite.needs_cluster())
        .collect();
    let default_version = input.kube_versions.first().cloned().unwrap_or_default();
    if input
        .cluster_free_trials
        .iter()
        .any(|trial| trial.skipped.is_none())
    {
        let mut charts: Vec<String> = input
            .cluster_free_trials
            .iter()
            .map(|trial| trial.id.chart.clone())
            .collect();
        charts.sort();
        charts.dedup();
        cells.push(Cell {
            id: CLUSTER_FREE_ID.to_string(),
            kind: CellKind::ClusterFree,
            charts,
            suites: cluster_free_suites,
            kube_version: default_version,
            node_image: String::new(),
            command: String::new(),
            artifact: String::new(),
            report_dir: String::new(),
            trials: trial_names(&input.cluster_free_trials),
        });
    } else {
        skipped.extend(skipped_trials(&input.cluster_free_trials));
    }
    for chart in &input.charts {
        if chart.cluster_trials.iter().all(|t| t.skipped.is_some()) {
            skipped.extend(skipped_trials(&chart.cluster_trials));
            continue;
        }
        let mut suites: Vec<Suite> = chart.cluster_trials.iter().map(|t| t.id.suite).collect();
        suites.dedup();
        for version in &chart.kube_versions {
            let node_image = input.node_images.get(version).cloned().unwrap_or_default();
            cells.push(Cell {
                id: cluster_cell_id(&chart.name, version),
                kind: CellKind::Cluster,
                charts: vec![chart.name.clone()],
                suites: suites.clone(),
                kube_version: version.clone(),
                node_image,
                command: String::new(),
                artifact: String::new(),
                report_dir: String::new(),
                trials: trial_names(&chart.cluster_trials),
            });
        }
    }
    let mut notes = input.notes;
    let cluster_ids: Vec<String> = cells
        .iter()
        .filter(|cell| cell.kind == CellKind::Cluster)
        .map(|cell| cell.id.clone())
        .collect();
    let shards = shards(&cluster_ids)?;
    if shards.len() > 1 {
        notes.push(format!(
            "{} cluster cells are more than one GitHub matrix takes ({GITHUB_MATRIX_LIMIT}); split into {} shards of at most {} (run each with `plan --shard I/{}`)",
            cluster_ids.len(),
            shards.len(),
            shards.iter().map(|s| s.cells.len()).max().unwrap_or(0),
            shards.len()
        ));
    }
    let hash = plan_hash(
        &input.commit,
        input.config_file.as_deref(),
        &cells,
        &skipped,
    );
    for cell in &mut cells {
        cell.report_dir = format!("{}/{}", input.reports_root, cell.id);
        cell.command = format!(
            "chart-harness run-cell {} --plan {} --report-dir {}",
            cell.id, input.plan_file, cell.report_dir
        );
        cell.artifact = format!("chart-harness-{hash}-{}", cell.id);
    }
    Ok(Plan {
        format: PLAN_FORMAT.to_string(),
        version: PLAN_VERSION,
        commit: input.commit,
        hash,
        empty: cells.is_empty(),
        selection: input.selection,
        config_file: input.config_file,
        kube_versions: input.kube_versions,
        cells,
        skipped,
        shards,
        notes,
    })
}

/// `kvstore-k8s-1.37`: safe in a directory name and in an artifact name.
pub fn cluster_cell_id(chart: &str, version: &str) -> String {
    format!("{chart}-k8s-{version}")
}

fn trial_names(trials: &[Trial]) -> Vec<String> {
    trials.iter().map(|trial| trial.id.to_string()).collect()
}

fn skipped_trials(trials: &[Trial]) -> Vec<SkippedTrial> {
    trials
        .iter()
        .filter_map(|trial| {
            Some(SkippedTrial {
                trial: trial.id.to_string(),
                reason: trial.skipped.clone()?,
            })
        })
        .collect()
}

/// The cluster cells in as few shards as GitHub needs, of sizes that differ by at most
/// one (600 cells: three of 200, not 250 + 250 + 100).
fn shards(ids: &[String]) -> Result<Vec<Shard>, PlanError> {
    if ids.len() <= GITHUB_MATRIX_LIMIT {
        return Ok(vec![Shard {
            index: 1,
            cells: ids.to_vec(),
        }]);
    }
    let count = ids.len().div_ceil(SHARD_SIZE);
    if count > GITHUB_MATRIX_LIMIT {
        return Err(PlanError::TooLarge {
            cells: ids.len(),
            shards: count,
            max: SHARD_SIZE * GITHUB_MATRIX_LIMIT,
        });
    }
    let (base, extra) = (ids.len() / count, ids.len() % count);
    let mut rest = ids;
    Ok((0..count)
        .map(|index| {
            let size = base + usize::from(index < extra);
            let (taken, left) = rest.split_at(size);
            rest = left;
            Shard {
                index: index + 1,
                cells: taken.to_vec(),
            }
        })
        .collect())
}

/// A digest of what the plan runs and where: the commit, the config file named, every
/// cell's charts, suites, version, node image and trials, and the skipped trials.
fn plan_hash(
    commit: &str,
    config_file: Option<&str>,
    cells: &[Cell],
    skipped: &[SkippedTrial],
) -> String {
    let mut digest = Sha256::new();
    digest.update(commit.as_bytes());
    let content = serde_json::to_vec(&(config_file, cells, skipped)).expect("a plan serializes");
    digest.update(&content);
    digest
        .finalize()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Plan {
    /// The plan file at `path`, refused with a message naming it unless it is a plan
    /// this chart-harness reads.
    pub fn read(path: &std::path::Path) -> Result<Plan, String> {
        let text = std::fs::read(path).map_err(|error| {
            format!(
                "cannot read the plan {}: {error}; make it with `chart-harness plan --out {}`",
                path.display(),
                path.display()
            )
        })?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|error| {
            format!(
                "{} is not JSON ({error}); it is not a chart-harness plan",
                path.display()
            )
        })?;
        if value.get("format").and_then(|f| f.as_str()) != Some(PLAN_FORMAT) {
            return Err(format!(
                "{} is not a chart-harness plan (no `\"format\": \"{PLAN_FORMAT}\"`); make one with `chart-harness plan --out FILE`",
                path.display()
            ));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(PLAN_VERSION) {
            return Err(format!(
                "{} is a plan of format {version}, and this chart-harness reads format {PLAN_VERSION}; make the plan and run the cells with the same chart-harness",
                path.display()
            ));
        }
        serde_json::from_value(value)
            .map_err(|error| format!("{} is a damaged plan: {error}", path.display()))
    }

    pub fn cell(&self, id: &str) -> Result<&Cell, String> {
        self.cells.iter().find(|cell| cell.id == id).ok_or_else(|| {
            format!(
                "no cell `{id}` in plan {} (commit {}); its cells: {}",
                self.hash,
                crate::changed::short(&self.commit),
                self.cells
                    .iter()
                    .map(|cell| cell.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// The cluster cells of shard `index` of `of` (`--shard I/N`), the whole list when
    /// no shard is asked for.
    pub fn cluster_cells(&self, shard: Option<(usize, usize)>) -> Result<Vec<&Cell>, String> {
        let ids: Vec<&String> = match shard {
            None => self.shards.iter().flat_map(|s| &s.cells).collect(),
            Some((index, of)) => {
                let count = self.shards.len();
                if of != count || index == 0 || index > of {
                    return Err(if count == 1 {
                        format!(
                            "--shard {index}/{of}: this plan fits in one matrix; leave --shard out"
                        )
                    } else {
                        format!(
                            "--shard {index}/{of}: this plan has {count} shards; ask for 1/{count} to {count}/{count}"
                        )
                    });
                }
                self.shards[index - 1].cells.iter().collect()
            }
        };
        Ok(ids
            .into_iter()
            .filter_map(|id| self.cells.iter().find(|cell| &cell.id == id))
            .collect())
    }

    /// `{"include": [...]}` for `strategy.matrix: ${{ fromJSON(...) }}`: the cells
    /// without their trial lists, which no workflow expression reads and which would
    /// swell a job output toward GitHub's 1 MB limit.
    pub fn github_matrix(&self, cells: &[&Cell]) -> serde_json::Value {
        let include: Vec<serde_json::Value> = cells
            .iter()
            .map(|cell| {
                let mut value = serde_json::to_value(cell).expect("a cell serializes");
                value
                    .as_object_mut()
                    .expect("a cell is an object")
                    .remove("trials");
                value
            })
            .collect();
        serde_json::json!({ "include": include })
    }

    /// The lines `--github-output` appends to `$GITHUB_OUTPUT`.
    pub fn github_outputs(&self, shard: Option<(usize, usize)>) -> Result<String, String> {
        let cluster = self.cluster_cells(shard)?;
        let cluster_free = self.cells.iter().any(|c| c.kind == CellKind::ClusterFree);
        Ok(format!(
            "plan-hash={}\nempty={}\ncluster-free={cluster_free}\ncluster-cells={}\nshards={}\nmatrix={}\n",
            self.hash,
            self.empty,
            !cluster.is_empty(),
            serde_json::to_string(
                &(1..=self.shards.len())
                    .map(|i| format!("{i}/{}", self.shards.len()))
                    .collect::<Vec<_>>()
            )
            .expect("strings serialize"),
            self.github_matrix(&cluster)
        ))
    }
}

/// `--shard 2/3` → `(2, 3)`.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parse = |part: &str| part.trim().parse::<usize>().ok();
    match text.split_once('/').map(|(i, n)| (parse(i), parse(n))) {
        Some((Some(index), Some(of))) if index >= 1 && index <= of => Ok((index, of)),
        _ => Err(format!(
            "`{text}` is not a shard; write I/N, like 1/3, with 1 <= I <= N"
        )),
    }
}

#[cfg(test)]
mod tests;
