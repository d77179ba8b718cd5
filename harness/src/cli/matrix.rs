//! `chart-harness plan` and `chart-harness run-cell`: a CI matrix planned from what
//! changed, and one of its cells run exactly as planned.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::ct_args::CtArgs;
use super::{HelmArg, open_session, parse_provider, parse_suite, selected_charts};
use crate::cluster::ProviderKind;
use crate::matrix::assemble::{self, PlanRequest};
use crate::matrix::{self, CellKind, Plan};
use crate::plan::Suite;
use crate::report::CellStamp;
use crate::run::{ClusterChoice, RunOptions};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Charts to plan (names or directories); all when none are given
    charts: Vec<String>,
    /// Only the charts changed since the merge-base, as for a run (`--since` implies it)
    #[arg(long)]
    changed: bool,
    /// Suites to plan, comma-separated [default: every registered suite]
    #[arg(long, value_delimiter = ',', value_parser = parse_suite)]
    suites: Vec<Suite>,
    /// Kubernetes versions, comma-separated, over the config's `kube-versions`
    /// [default: `kube-versions`, else the run's one version]
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS")]
    kube_versions: Option<Vec<String>>,
    /// What to print: a summary, the whole plan, or the cluster cells as a GitHub
    /// Actions matrix (`{"include": [...]}`)
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// Write the whole plan as JSON to this file, which `run-cell` and `report merge`
    /// read; the cells' command lines name it
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Append `plan-hash`, `empty`, `cluster-free`, `cluster-cells`, `shards` and
    /// `matrix` to this file (pass "$GITHUB_OUTPUT")
    #[arg(long, value_name = "FILE")]
    github_output: Option<PathBuf>,
    /// Only this shard's cluster cells in the matrix (`2/3`), when the plan has more
    /// than one GitHub matrix takes
    #[arg(long, value_parser = matrix::parse_shard, value_name = "I/N")]
    shard: Option<(usize, usize)>,
    #[command(flatten)]
    ct: CtArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
    GithubMatrix,
}

pub async fn plan(repo_root: &std::path::Path, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(repo_root, &args.ct)?;
    for warning in &session.loaded.warnings {
        eprintln!("chart-harness: warning: {warning}");
    }
    let only_changed = args.ct.only_changed(args.changed);
    let charts = selected_charts(&session, &args.charts, args.changed, &args.ct).await?;
    let config = &session.loaded.config;
    let selection = if only_changed {
        let against = config
            .since
            .clone()
            .unwrap_or_else(|| format!("{}/{}", config.remote, config.target_branch));
        format!("charts changed since the merge-base with {against}")
    } else if args.charts.is_empty() && args.ct.charts().is_empty() {
        "all charts".to_string()
    } else {
        "the charts named on the command line".to_string()
    };
    let plan_file = args
        .out
        .as_deref()
        .map_or(matrix::DEFAULT_PLAN_FILE.to_string(), |p| {
            p.display().to_string()
        });
    let suites = if args.suites.is_empty() {
        Suite::ALL.to_vec()
    } else {
        args.suites
    };
    let plan = assemble::plan(
        &session,
        &charts,
        PlanRequest {
            suites,
            kube_versions: args.kube_versions,
            selection,
            plan_file,
            config_file: args.ct.config_file().map(|file| file.display().to_string()),
            reports_root: matrix::DEFAULT_REPORTS_ROOT.to_string(),
        },
    )
    .await?;
    if let Some(out) = &args.out {
        write_json(out, &plan)?;
    }
    if let Some(file) = &args.github_output {
        if args.shard.is_none() && plan.shards.len() > 1 {
            anyhow::bail!(
                "the plan has {} shards, more cells than one GitHub matrix takes; run `plan --shard I/{}` once per shard (a reusable workflow over `shards`)",
                plan.shards.len(),
                plan.shards.len()
            );
        }
        let lines = plan
            .github_outputs(args.shard)
            .map_err(anyhow::Error::msg)?;
        let mut output = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(file)
            .map_err(|error| anyhow::anyhow!("cannot append to {}: {error}", file.display()))?;
        std::io::Write::write_all(&mut output, lines.as_bytes())?;
    }
    let printed = match args.format {
        PlanFormat::Json => serde_json::to_string_pretty(&plan)?,
        PlanFormat::GithubMatrix => {
            let cells = plan.cluster_cells(args.shard).map_err(anyhow::Error::msg)?;
            plan.github_matrix(&cells).to_string()
        }
        PlanFormat::Text => text(&plan),
    };
    super::print_lines([printed])
}

/// The plan for a person: what runs where, and what it decided.
fn text(plan: &Plan) -> String {
    let cluster = plan
        .cells
        .iter()
        .filter(|c| c.kind == CellKind::Cluster)
        .count();
    let mut lines = vec![format!(
        "plan {} at {}: {} cell(s), {} of them on a cluster; {}; Kubernetes {}{}",
        plan.hash,
        crate::changed::short(&plan.commit),
        plan.cells.len(),
        cluster,
        plan.selection,
        plan.kube_versions.join(", "),
        if plan.empty { "; nothing to run" } else { "" }
    )];
    for cell in &plan.cells {
        lines.push(format!(
            "  {:<32} {:<28} {}{}",
            cell.id,
            cell.suites
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(","),
            cell.charts.join(","),
            if cell.node_image.is_empty() {
                String::new()
            } else {
                format!("  ({})", cell.node_image)
            }
        ));
    }
    if !plan.skipped.is_empty() {
        lines.push(format!(
            "  {} trial(s) skipped by the plan, in no cell",
            plan.skipped.len()
        ));
    }
    for note in &plan.notes {
        lines.push(format!("note: {note}"));
    }
    lines.join("\n")
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    std::fs::write(path, json)
        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))
}

#[derive(Debug, Args)]
pub struct RunCellArgs {
    /// The cell's id, as the plan lists it
    id: String,
    /// The plan file `plan --out` wrote
    #[arg(long, value_name = "FILE", default_value = matrix::DEFAULT_PLAN_FILE)]
    plan: PathBuf,
    /// Where the cell's reports go [default: the cell's `report_dir`]
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Which attempt of the job this is; a merge keeps each cell's latest
    #[arg(long, env = "GITHUB_RUN_ATTEMPT", default_value_t = 1)]
    attempt: u32,
    /// Trials to run at once [default: the number of CPUs]
    #[arg(long, short)]
    jobs: Option<usize>,
    /// helm major version to use
    #[arg(long, value_enum)]
    helm: Option<HelmArg>,
    /// Cluster provider [default: as for a run]
    #[arg(long, value_parser = parse_provider)]
    cluster: Option<ProviderKind>,
    /// The config file [default: the one the plan was made with, else ct's lookup]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub async fn run_cell(repo_root: &std::path::Path, args: RunCellArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::read(&args.plan).map_err(anyhow::Error::msg)?;
    let cell = plan.cell(&args.id).map_err(anyhow::Error::msg)?.clone();
    let config = args
        .config
        .or_else(|| plan.config_file.as_ref().map(PathBuf::from));
    let mut session = open_session(repo_root, &CtArgs::with_config(config))?;
    let git = crate::tools::find_git()?;
    let head = crate::changed::commit_of(session.repo_root(), &git, "HEAD").await?;
    if head.as_deref() != Some(plan.commit.as_str()) {
        anyhow::bail!(
            "plan {} was made at commit {}, and {} is at {}; check out {} or make the plan again",
            args.plan.display(),
            crate::changed::short(&plan.commit),
            session.repo_root().display(),
            head.as_deref().map_or("no commit", crate::changed::short),
            crate::changed::short(&plan.commit)
        );
    }
    let charts = session.select(&cell.charts)?;
    let trials = session.plan(&charts, &cell.suites);
    let listed: Vec<String> = trials.iter().map(|t| t.id.to_string()).collect();
    if listed != cell.trials {
        anyhow::bail!(
            "cell `{}` of plan {} lists other trials than this checkout plans ({} there, {} here); the plan is stale: make it again with this chart-harness and configuration",
            cell.id,
            plan.hash,
            cell.trials.len(),
            listed.len()
        );
    }
    let config = &mut session.loaded.config;
    config.kube_version = Some(cell.kube_version.clone());
    if cell.kind == CellKind::Cluster {
        session.kind_node_image_flag = Some(cell.node_image.clone());
    }
    let report_dir = args
        .report_dir
        .unwrap_or_else(|| PathBuf::from(&cell.report_dir));
    session.loaded.config.report_dir = std::path::absolute(report_dir)?;
    eprintln!(
        "chart-harness: cell {} of plan {} (attempt {}): {} on {}{}",
        cell.id,
        plan.hash,
        args.attempt,
        cell.suites
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", "),
        cell.charts.join(", "),
        if cell.kind == CellKind::Cluster {
            format!(", Kubernetes {}", cell.kube_version)
        } else {
            String::new()
        }
    );
    let options = RunOptions {
        helm: args.helm.map(Into::into),
        cluster: ClusterChoice::Provider(args.cluster),
        jobs: args.jobs,
        cell: Some(CellStamp {
            plan_hash: plan.hash.clone(),
            id: cell.id.clone(),
            attempt: args.attempt,
        }),
        ..RunOptions::default()
    };
    super::run_trials(&session, trials, options).await
}
