//! `chart-harness report merge|summary|annotations` and `chart-harness gate`: the
//! matrix's reports into one verdict, for people (the step summary, annotations) and
//! for the release (the gate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::gate::facts::{self, GateRequest};
use crate::matrix::Plan;
use crate::report::document::ReportDocument;
use crate::report::{annotations, github_summary, merge};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the cells' reports (directories are searched for report.json) into one
    /// report.json, junit.xml and summary.md; exit 1 when a trial failed or a planned
    /// cell never reported
    Merge {
        /// The plan the cells ran
        #[arg(long, value_name = "FILE", default_value = crate::matrix::DEFAULT_PLAN_FILE)]
        plan: PathBuf,
        /// Where the merged reports go
        #[arg(long, value_name = "DIR", default_value = "chart-harness-merged")]
        out: PathBuf,
        /// The cells' report files or directories (downloaded artifacts)
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Print GitHub Markdown for $GITHUB_STEP_SUMMARY: a table of chart × Kubernetes
    /// version × suite, and each failure folded
    Summary {
        /// A report.json (merged or a run's), or its directory
        #[arg(long, value_name = "FILE")]
        report: PathBuf,
        /// At most this many bytes [default: GitHub's limit, 1 MiB]
        #[arg(long, default_value_t = github_summary::GITHUB_LIMIT)]
        max_bytes: usize,
    },
    /// Print `::error file=...` workflow commands for the problems in chart files, at
    /// most 10 (GitHub's limit per step), the pull request's changed files first
    Annotations {
        #[arg(long, value_name = "FILE")]
        report: PathBuf,
        /// A file listing the changed files, one a line (`git diff --name-only`)
        #[arg(long, value_name = "FILE")]
        changed_files: Option<PathBuf>,
        #[arg(long, default_value_t = annotations::PER_STEP)]
        limit: usize,
    },
}

pub fn report(_repo_root: &std::path::Path, command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Merge { plan, out, reports } => {
            let plan = Plan::read(&plan).map_err(anyhow::Error::msg)?;
            let mut documents = Vec::new();
            for file in ReportDocument::find(&reports) {
                let document = ReportDocument::read(&file).map_err(anyhow::Error::msg)?;
                documents.push((file, document));
            }
            let found = documents.len();
            let merged = merge::merge(&plan, documents).map_err(anyhow::Error::msg)?;
            std::fs::create_dir_all(&out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            let mut json = serde_json::to_vec_pretty(&merged)?;
            json.push(b'\n');
            std::fs::write(out.join("report.json"), json)?;
            crate::report::write_merged_junit(
                &out.join("junit.xml"),
                merge::junit_outcomes(&merged),
            )?;
            let full = out.join("report.json").display().to_string();
            std::fs::write(
                out.join("summary.md"),
                github_summary::markdown(&merged, github_summary::GITHUB_LIMIT, &full),
            )?;
            for note in &merged.notes {
                eprintln!("chart-harness: {note}");
            }
            let reported = merged
                .cells
                .iter()
                .filter(|c| c.status == "reported")
                .count();
            eprintln!(
                "chart-harness: merged {found} report(s) of {reported}/{} cells of plan {} into {}: {} ({} listed)",
                merged.cells.len(),
                plan.hash,
                out.display(),
                merged.summary,
                merged.summary.listed
            );
            Ok(
                if merged.summary.failed + merged.summary.timed_out > 0 || !merged.complete {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        ReportCommand::Summary { report, max_bytes } => {
            let document = ReportDocument::read(&report).map_err(anyhow::Error::msg)?;
            let full = if report.is_dir() {
                report.join("report.json")
            } else {
                report
            };
            let markdown = github_summary::markdown(
                &document,
                max_bytes,
                &format!("{} (upload it as an artifact)", full.display()),
            );
            print!("{markdown}");
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Annotations {
            report,
            changed_files,
            limit,
        } => {
            let document = ReportDocument::read(&report).map_err(anyhow::Error::msg)?;
            let changed: Vec<String> = match changed_files {
                Some(file) => std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                    .lines()
                    .map(|line| line.trim().to_string())
                    .filter(|line| !line.is_empty())
                    .collect(),
                None => Vec::new(),
            };
            super::print_lines(annotations::workflow_commands(&document, &changed, limit))
        }
    }
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The release tag, `<chart>-<version>` (release-gate.tag-format)
    #[arg(long, conflicts_with = "charts")]
    tag: Option<String>,
    /// Charts to gate at the versions their Chart.yaml has, comma-separated
    #[arg(long, value_delimiter = ',')]
    charts: Vec<String>,
    /// The merged reports (report.json files or directories holding them)
    #[arg(long, required = true, num_args = 1..)]
    reports: Vec<PathBuf>,
    /// Where the packaged charts and their .prov files are, for release-gate.keyring
    #[arg(long, value_name = "DIR", default_value = ".cr-release-packages")]
    packages: PathBuf,
    /// Write gate.json and gate.md here
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The plan the cells ran: its Kubernetes versions of each chart are the required
    /// ones [default: the config's `kube-versions`]
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// The config file (as for `plan`; ct's lookup when not given)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub async fn gate(repo_root: &std::path::Path, args: GateArgs) -> anyhow::Result<ExitCode> {
    let session =
        super::open_session(repo_root, &super::ct_args::CtArgs::with_config(args.config))?;
    let report = facts::evaluate(
        &session,
        GateRequest {
            tag: args.tag,
            charts: args.charts,
            reports: args.reports,
            packages: args.packages,
            plan: args
                .plan
                .as_deref()
                .map(Plan::read)
                .transpose()
                .map_err(anyhow::Error::msg)?,
        },
    )
    .await?;
    print!("{}", crate::gate::render::text(&report));
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
        let mut json = serde_json::to_vec_pretty(&report)?;
        json.push(b'\n');
        std::fs::write(out.join("gate.json"), json)?;
        std::fs::write(out.join("gate.md"), crate::gate::render::markdown(&report))?;
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
