//! The `chart-harness` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};

mod cluster_cmd;
mod ct_args;
mod matrix;
mod release;

use crate::changed;
use crate::cluster::ProviderKind;
use crate::config;
use crate::plan::Suite;
use crate::run::{self, ClusterChoice, Run, RunOptions};
use crate::session::{Session, find_repo_root};
use crate::suites::snapshot;
use crate::tools::install::{self, InstallFrom, InstallOptions, ToolSelection};
use crate::tools::{self, HelmMajor};
use ct_args::CtArgs;

#[derive(Debug, Parser)]
#[command(
    name = "chart-harness",
    version,
    about = "Lint, render and test every chart of a Helm chart repository, in parallel"
)]
pub struct Cli {
    /// Repository root [default: the nearest ancestor with chart-harness.yaml, ct.yaml or .git]
    #[arg(long, global = true, value_name = "DIR")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One subcommand per registered suite (`chart-harness lint ...`).
    #[command(flatten)]
    Suite(SuiteCommand),
    /// Run every suite
    All(RunArgs),
    /// ct's `install`: the integration suite (install, readiness, helm test, uninstall)
    Install(RunArgs),
    /// ct's `lint-and-install`: the lint suite, then the integration suite
    LintAndInstall(RunArgs),
    /// List the trials a run would execute, without running helm
    List(ListArgs),
    /// List the charts changed since the merge-base with the target branch
    ListChanged(CtArgs),
    /// Plan a CI matrix: one cell per chart × Kubernetes version for the cluster suites,
    /// one for the cluster-free suites, without running helm
    Plan(matrix::PlanArgs),
    /// Run one cell of a plan (the command line each cell carries)
    RunCell(matrix::RunCellArgs),
    /// Merge the reports of a plan's cells, and write a step summary or annotations
    #[command(subcommand)]
    Report(release::ReportCommand),
    /// Refuse a chart release that the merged reports and the repository do not prove
    Gate(release::GateArgs),
    /// Install or inspect the pinned tools (helm, kind, kwok, ...)
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Start or remove a cluster shared by several processes (nextest's setup script)
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCommand),
    /// Review or accept the pending snapshots a run left in the report directory
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
    /// Print the registered suites' libtest targets, one a line (ci/test.sh runs them
    /// as `--test` targets)
    #[command(hide = true)]
    Suites,
}

/// A registered suite's run subcommand; the registry, not this file, lists them.
#[derive(Debug)]
struct SuiteCommand {
    suite: Suite,
    args: RunArgs,
}

impl FromArgMatches for SuiteCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let (name, sub) = matches
            .subcommand()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingSubcommand))?;
        let suite = name.parse().map_err(|message: String| {
            clap::Error::raw(clap::error::ErrorKind::InvalidSubcommand, message)
        })?;
        Ok(SuiteCommand {
            suite,
            args: RunArgs::from_arg_matches(sub)?,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for SuiteCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        Suite::ALL.iter().fold(command, |command, suite| {
            // `about` after the arguments: the flattened ct flags' doc comment would
            // otherwise replace it.
            command.subcommand(
                RunArgs::augment_args(clap::Command::new(suite.name())).about(suite.spec().about),
            )
        })
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        name.parse::<Suite>().is_ok()
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Charts to run (names or directories); all when none are given
    charts: Vec<String>,
    /// Only the charts changed since the merge-base (see list-changed); `--since` implies
    /// it, `--all` and `--charts` turn it off (as in ct)
    #[arg(long)]
    changed: bool,
    /// Trials to run at once [default: the number of CPUs]
    #[arg(long, short)]
    jobs: Option<usize>,
    /// helm major version to use [default: CHART_HARNESS_HELM, the config, else the one major
    /// installed, else 4]
    #[arg(long, value_enum)]
    helm: Option<HelmArg>,
    /// Where JUnit, JSON and caches go [default: from the config, else target/chart-harness]
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Cluster provider for the cluster suites [default: CHART_HARNESS_CLUSTER, the config,
    /// else kind where Docker and kind work and the node image is present or can be
    /// pulled, and the local control plane otherwise]
    #[arg(long, value_parser = parse_provider)]
    cluster: Option<ProviderKind>,
    #[command(flatten)]
    kind_config: KindConfigArg,
    #[command(flatten)]
    upgrade: UpgradeArgs,
    #[command(flatten)]
    ct: CtArgs,
}

/// The upgrade suite's choices (`upgrade` and `all`).
#[derive(Debug, Default, Args)]
struct UpgradeArgs {
    /// upgrade: the baseline(s) every chart is upgraded from, over the config's and the
    /// charts' own `baseline`: `git` (the merge-base) or `git:<ref>`, comma-separated
    /// for several
    #[arg(long, value_name = "SPEC")]
    baseline: Option<String>,
    /// upgrade: run the offline prediction of immutable-field breaks alone, with no
    /// cluster; exit 1 when a break is predicted
    #[arg(long)]
    predict_only: bool,
    /// upgrade: `fail` (default) or `ignore`, which lets a baseline that cannot be
    /// fetched or installed go untested as ct does (counted as not run, never passed)
    #[arg(long, value_name = "fail|ignore")]
    baseline_failure: Option<String>,
}

impl UpgradeArgs {
    fn apply(&self, session: &mut Session) -> anyhow::Result<()> {
        let config = &mut session.loaded.config;
        if let Some(spec) = &self.baseline {
            let specs = crate::config::upgrade_settings::parse_baselines(&serde_json::json!(spec))
                .map_err(|message| anyhow::anyhow!("--baseline: {message}"))?;
            config.baseline_override = Some(specs);
        }
        if let Some(failure) = &self.baseline_failure {
            config.baseline_failure = failure
                .parse()
                .map_err(|message: String| anyhow::anyhow!("--baseline-failure: {message}"))?;
        }
        config.predict_only |= self.predict_only;
        Ok(())
    }
}

#[derive(Debug, Default, Args)]
struct KindConfigArg {
    /// The kind config kind clusters are created from: `single-node`, `multi-node` (both
    /// built in), or the path of your own [default: the config's `kind-config`, else
    /// single-node]
    #[arg(
        long = "kind-config",
        value_name = "NAME|FILE",
        env = "CHART_HARNESS_KIND_CONFIG"
    )]
    value: Option<String>,
    /// The node image kind clusters run, used as given (a local tag such as
    /// chart-harness.local/kind-node:v1.37.2-<hash> is never pulled when present)
    /// [default: CHART_HARNESS_KIND_NODE_IMAGE, the config's `kind-node-image`, else the
    /// built-in image for the Kubernetes version]
    #[arg(long = "kind-node-image", value_name = "IMAGE")]
    node_image: Option<String>,
}

impl KindConfigArg {
    /// Overrides the config's `kind-config`; a path is relative to the working directory.
    /// `--kind-node-image` goes to the session, which weighs it against the variable.
    fn apply(&self, session: &mut Session) -> anyhow::Result<()> {
        if let Some(image) = &self.node_image {
            session.kind_node_image_flag = Some(image.clone());
        }
        if let Some(value) = &self.value {
            session.loaded.config.kind_config = Some(crate::cluster::KindConfigChoice::parse(
                value,
                &std::env::current_dir()?,
            ));
        }
        Ok(())
    }
}

fn parse_provider(s: &str) -> Result<ProviderKind, String> {
    s.parse()
        .map_err(|e: crate::cluster::ClusterError| e.to_string())
}

#[derive(Debug, Subcommand)]
enum SnapshotsCommand {
    /// Print a unified diff of each pending snapshot against the committed one
    Review(SnapshotsArgs),
    /// Move each pending snapshot into its chart's ci/__snapshots__/
    Accept(SnapshotsArgs),
}

#[derive(Debug, Args)]
struct SnapshotsArgs {
    /// Charts (directory names); every chart with a pending snapshot when none are given
    charts: Vec<String>,
    /// The run's report directory [default: from the config, else target/chart-harness]
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
}

/// `list` takes the run commands' configuration and selection flags, so it shows what
/// `lint --config ct.yaml --changed` would run.
#[derive(Debug, Args)]
struct ListArgs {
    /// Suites to list [default: all]
    #[arg(long = "suite", value_parser = parse_suite)]
    suites: Vec<Suite>,
    /// Charts to list (names or directories); all when none are given
    charts: Vec<String>,
    /// Only the charts changed since the merge-base, as for a run
    #[arg(long)]
    changed: bool,
    /// The cluster provider the run would use [default: CHART_HARNESS_CLUSTER, the
    /// config]; with `local`, trials that need real containers are marked not run
    #[arg(long, value_parser = parse_provider)]
    cluster: Option<ProviderKind>,
    #[command(flatten)]
    ct: CtArgs,
}

#[derive(Debug, Subcommand)]
enum ToolsCommand {
    /// Install missing pinned tools into .tools/bin
    Install(InstallArgs),
    /// Show each pinned tool and what is installed
    List,
}

#[derive(Debug, Args)]
struct InstallArgs {
    /// Tools to install, by their names in ci/tools.toml [default: helm3 and helm4]
    names: Vec<String>,
    /// Install every pinned tool, including the cluster tools
    #[arg(long, conflicts_with = "names")]
    all: bool,
    /// Where tools come from: a Go build, the official release (checked against its
    /// published sha256; a release without one is refused), or the release with a build
    /// as fallback. helm, kind, etcd and the Kubernetes binaries have releases; kwok
    /// publishes no checksum, so auto builds it
    #[arg(long, value_enum, default_value_t = FromArg::Auto)]
    from: FromArg,
    /// Download releases from this mirror instead: it holds each official URL's host and
    /// path under it, as `wget --force-directories` saves them
    /// (URL/dl.k8s.io/release/v1.37.2/bin/linux/amd64/kubectl)
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// Reinstall even when the version stamp says the tool is present
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FromArg {
    Source,
    Release,
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum HelmArg {
    #[value(name = "3")]
    V3,
    #[value(name = "4")]
    V4,
}

impl From<HelmArg> for HelmMajor {
    fn from(value: HelmArg) -> Self {
        match value {
            HelmArg::V3 => HelmMajor::V3,
            HelmArg::V4 => HelmMajor::V4,
        }
    }
}

fn parse_suite(s: &str) -> Result<Suite, String> {
    s.parse()
}

/// Exit codes: 0 all passed, 1 a trial failed, 2 the run could not start, 130 interrupted.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Tool builds take minutes; their progress lines are worth showing by default.
    let default_level = match cli.command {
        Command::Tools(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHART_HARNESS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let runtime = match run::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chart-harness: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        Err(error) => {
            // Our errors already carry their causes in their messages; the alternate form
            // would print every cause a second time.
            eprintln!("chart-harness: {error}");
            ExitCode::from(2)
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    // Absolute, so every path built from it is: a relative `--repo` made the scratch
    // copy of a chart miss its `file://` dependencies outside the repository.
    let start = match cli.repo {
        Some(dir) => std::path::absolute(dir)?,
        None => std::env::current_dir()?,
    };
    let repo_root = find_repo_root(&start);
    match cli.command {
        Command::Suite(SuiteCommand { suite, args }) => run(&repo_root, &[suite], args).await,
        Command::All(args) => run(&repo_root, Suite::ALL, args).await,
        Command::Install(args) => run(&repo_root, &[Suite::Integration], args).await,
        Command::LintAndInstall(args) => {
            run(&repo_root, &[Suite::Lint, Suite::Integration], args).await
        }
        Command::List(args) => {
            let session = open_session(&repo_root, &args.ct)?;
            for warning in &session.loaded.warnings {
                eprintln!("chart-harness: warning: {warning}");
            }
            let suites = if args.suites.is_empty() {
                Suite::ALL.to_vec()
            } else {
                args.suites
            };
            let charts = selected_charts(&session, &args.charts, args.changed, &args.ct).await?;
            let trials = session.plan(&charts, &suites);
            // Only a provider asked for: guessing the default would probe Docker.
            let simulated = crate::cluster::requested_kind(
                args.cluster,
                std::env::var("CHART_HARNESS_CLUSTER").ok().as_deref(),
                session.loaded.config.cluster,
            )? == Some(ProviderKind::Local);
            print_lines(trials.iter().map(|trial| match &trial.skipped {
                Some(reason) => format!("{} (skipped: {reason})", trial.id),
                None if simulated && trial.id.suite.spec().needs_containers => format!(
                    "{} (not run: pods are simulated on the local control plane)",
                    trial.id
                ),
                None => trial.id.to_string(),
            }))
        }
        Command::ListChanged(args) => {
            let session = open_session(&repo_root, &args)?;
            for warning in &session.loaded.warnings {
                eprintln!("chart-harness: warning: {warning}");
            }
            // As ct, the changed charts' directories relative to the repository root
            // (what `--charts` takes back), one a line.
            let changed = changed_names(&session).await?;
            print_lines(
                session
                    .charts
                    .iter()
                    .filter(|chart| changed.contains(&chart.name))
                    .map(|chart| chart.rel_dir.display().to_string()),
            )
        }
        Command::Plan(args) => matrix::plan(&repo_root, args).await,
        Command::RunCell(args) => matrix::run_cell(&repo_root, args).await,
        Command::Report(command) => release::report(&repo_root, command),
        Command::Gate(args) => release::gate(&repo_root, args).await,
        Command::Tools(ToolsCommand::Install(args)) => install_tools(&repo_root, args).await,
        Command::Tools(ToolsCommand::List) => list_tools(&repo_root).await,
        Command::Cluster(cluster_cmd::ClusterCommand::Up {
            cluster,
            kind_config,
            replace,
        }) => cluster_cmd::up(&repo_root, cluster, &kind_config, replace).await,
        Command::Cluster(cluster_cmd::ClusterCommand::Down) => cluster_cmd::down(&repo_root).await,
        Command::Cluster(cluster_cmd::ClusterCommand::Prune) => {
            let session = Session::open(&repo_root)?;
            let said = crate::cluster::prune(session.kind_binary()?.as_deref()).await;
            if said.is_empty() {
                eprintln!("chart-harness: no cluster to prune");
            }
            for line in said {
                eprintln!("chart-harness: {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Snapshots(command) => snapshots(&repo_root, command),
        Command::Suites => print_lines(Suite::ALL.iter().map(|suite| suite.test_target())),
    }
}

/// Prints one line each. A reader that stops early (`chart-harness list | head -1`)
/// closes the pipe: that ends the listing quietly, as a success, instead of panicking.
fn print_lines(lines: impl IntoIterator<Item = String>) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(error) => return Err(error.into()),
        }
    }
    match out.flush() {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn snapshots(repo_root: &std::path::Path, command: SnapshotsCommand) -> anyhow::Result<ExitCode> {
    let (accept, args) = match command {
        SnapshotsCommand::Review(args) => (false, args),
        SnapshotsCommand::Accept(args) => (true, args),
    };
    let report_dir = match args.report_dir {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => crate::config::load(repo_root)?.config.report_dir,
    };
    let pending = snapshot::pending(&snapshot::pending_root(&report_dir), &args.charts);
    if pending.is_empty() {
        println!(
            "no pending snapshots in {}; a local run of the template suite writes them there",
            report_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for snapshot in &pending {
        if accept {
            let target = snapshot.accept(repo_root).map_err(|e| {
                anyhow::anyhow!(
                    "cannot move {} to {}: {e}; check that the chart's ci/ directory is writable",
                    snapshot.path.display(),
                    snapshot.target().display()
                )
            })?;
            println!("accepted {}", target.display());
        } else {
            print!(
                "{}",
                snapshot.review(repo_root).map_err(anyhow::Error::msg)?
            );
        }
    }
    if !accept {
        println!(
            "{} pending; accept with `chart-harness snapshots accept [CHART...]` and commit them",
            pending.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The session a ct-style command line asks for. Its first line of output names the
/// configuration file it used, so a run in CI shows which one was found.
fn open_session(repo_root: &std::path::Path, ct: &CtArgs) -> anyhow::Result<Session> {
    let (options, notes) = ct.load_options()?;
    let mut session = Session::open_with(repo_root, &options)?;
    eprintln!(
        "chart-harness: config {}",
        session.loaded.source.describe(repo_root)
    );
    // Flag notes first, then what loading found; each printed once by whoever shows
    // the run's warnings.
    session.loaded.warnings.splice(0..0, notes);
    Ok(session)
}

/// Which `lintconf.yaml` and chart schema the run uses and why, for the lines after
/// the config's: ct users debug CI by exactly these two files.
fn support_file_lines(session: &Session, lints: bool) -> Vec<String> {
    let loaded = &session.loaded;
    let root = session.repo_root();
    let shown = |file: &config::SupportFile| match file.shown(root) {
        Some(path) => format!("{} ({})", path.display(), file.reason()),
        None => file.reason(),
    };
    if !lints {
        return vec!["lintconf.yaml: not read, since no lint trial runs".to_string()];
    }
    let lintconf = if !loaded.config.validate_yaml {
        "lintconf.yaml: not read, since validate-yaml is off".to_string()
    } else if loaded.lintconf.path().is_some() {
        format!("lintconf.yaml: {}", shown(&loaded.lintconf))
    } else {
        format!(
            "lintconf.yaml: ct's default lintconf, built in ({})",
            loaded.lintconf.reason()
        )
    };
    let schema = if !loaded.config.validate_chart_schema {
        "chart schema: none, since validate-chart-schema is off".to_string()
    } else {
        let ct_would = match loaded.chart_schema.path() {
            Some(_) => format!("ct would use {}", shown(&loaded.chart_schema)),
            None => loaded.chart_schema.reason(),
        };
        format!(
            "chart schema: chart-harness's own Chart.yaml checks, not a Yamale schema ({ct_would})"
        )
    };
    vec![lintconf, schema]
}

/// The charts changed since the merge-base, compared as the config's `since` (the
/// `--since` flag overrides it) says.
async fn changed_names(session: &Session) -> anyhow::Result<Vec<String>> {
    let since = session.loaded.config.since.as_deref();
    let git = tools::find_git()?;
    let charts: Vec<_> = session.charts.iter().map(|c| (**c).clone()).collect();
    Ok(changed::changed_charts(
        session.repo_root(),
        &session.loaded.config,
        &charts,
        since,
        &git,
    )
    .await?)
}

/// The charts a command line selects: positional names and `--charts`, then only the
/// changed ones when [`CtArgs::only_changed`].
async fn selected_charts(
    session: &Session,
    positional: &[String],
    changed: bool,
    ct: &CtArgs,
) -> anyhow::Result<Vec<std::sync::Arc<crate::discovery::Chart>>> {
    let named: Vec<String> = positional.iter().chain(ct.charts()).cloned().collect();
    let mut charts = session.select(&named)?;
    if ct.only_changed(changed) {
        let changed = changed_names(session).await?;
        charts.retain(|chart| changed.contains(&chart.name));
    }
    Ok(charts)
}

async fn run(
    repo_root: &std::path::Path,
    suites: &[Suite],
    args: RunArgs,
) -> anyhow::Result<ExitCode> {
    let mut session = open_session(repo_root, &args.ct)?;
    args.kind_config.apply(&mut session)?;
    args.upgrade.apply(&mut session)?;
    if let Some(dir) = args.report_dir {
        session.loaded.config.report_dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()?.join(dir)
        };
    }
    let charts = selected_charts(&session, &args.charts, args.changed, &args.ct).await?;
    let trials = session.plan(&charts, suites);
    let options = RunOptions {
        helm: args.helm.map(Into::into),
        cluster: ClusterChoice::Provider(args.cluster),
        jobs: args.jobs,
        ..RunOptions::default()
    };
    run_trials(&session, trials, options).await
}

/// Runs `trials` with the session's reporters into its report directory; the exit code
/// says how they ended.
async fn run_trials(
    session: &Session,
    trials: Vec<crate::plan::Trial>,
    options: RunOptions,
) -> anyhow::Result<ExitCode> {
    let lints = trials
        .iter()
        .any(|trial| trial.skipped.is_none() && trial.id.suite == Suite::Lint);
    for line in support_file_lines(session, lints) {
        eprintln!("chart-harness: {line}");
    }
    let run = Run::assemble(session, trials, options).await?;
    // Held until the run ends, so a concurrent run writes elsewhere and says so.
    let reports = crate::report::claim(&session.loaded.config.report_dir)?;
    if let Some(note) = &reports.note {
        eprintln!("chart-harness: {note}");
    }
    let mut reporters = run::reporters(&session.loaded.config, &reports);
    let summary = run.execute(&mut reporters, run::interrupted()).await?;
    Ok(run::exit_code(&summary))
}

async fn install_tools(repo_root: &std::path::Path, args: InstallArgs) -> anyhow::Result<ExitCode> {
    let options = InstallOptions {
        tools: if args.all {
            ToolSelection::All
        } else if args.names.is_empty() {
            ToolSelection::Default
        } else {
            ToolSelection::Named(args.names)
        },
        from: match args.from {
            FromArg::Source => InstallFrom::Source,
            FromArg::Release => InstallFrom::Release,
            FromArg::Auto => InstallFrom::Auto,
        },
        force: args.force,
        release_mirror: args.mirror,
        ..InstallOptions::default()
    };
    let report = install::install(repo_root, &options).await?;
    for tool in &report.tools {
        println!(
            "{:<24} {:<10} {} ({:.1}s){}",
            tool.name,
            tool.version,
            tool.action,
            tool.elapsed.as_secs_f64(),
            tool.note
                .as_deref()
                .map(|note| format!("; {note}"))
                .unwrap_or_default()
        );
    }
    println!(
        "tools ready in {} ({:.2}s)",
        tools::tools_bin_dir(repo_root).display(),
        report.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn list_tools(repo_root: &std::path::Path) -> anyhow::Result<ExitCode> {
    let mut all_found = true;
    for status in tools::check(repo_root).await? {
        let found = match &status.found {
            Ok(found) => format!("{} at {}", found.version, found.path.display()),
            Err(error) => {
                all_found &= !status.default;
                format!("missing: {error}")
            }
        };
        println!(
            "{:<24} {:<10} {:<8} {found}",
            status.name,
            status.pinned,
            if status.default { "default" } else { "--all" }
        );
    }
    Ok(if all_found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
