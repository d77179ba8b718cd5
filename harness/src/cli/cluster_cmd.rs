//! `chart-harness cluster up|down|prune`: a cluster several processes share (nextest's
//! setup script starts it, `down` removes it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{KindConfigArg, parse_provider};
use crate::cluster::ProviderKind;
use crate::session::Session;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start the run's cluster and leave it running. Prints the variables that point the
    /// suites at it, and appends them to $NEXTEST_ENV when nextest runs this as a setup
    /// script. Remove it with `cluster down`.
    Up {
        /// Cluster provider [default: as for a run]
        #[arg(long, value_parser = parse_provider)]
        cluster: Option<ProviderKind>,
        #[command(flatten)]
        kind_config: KindConfigArg,
        /// Remove the cluster an earlier `cluster up` left running and start a new one
        /// (without it, a running one is an error: other processes may be using it)
        #[arg(long)]
        replace: bool,
    },
    /// Remove the cluster `cluster up` started
    Down,
    /// Remove the clusters of runs that ended without tearing them down (killed with
    /// SIGKILL, for example); every run does this at its start too
    Prune,
}

/// Where `cluster up` records the cluster for `cluster down`.
fn shared_cluster_record(session: &Session) -> PathBuf {
    session.loaded.config.report_dir.join("shared-cluster.json")
}

pub async fn up(
    repo_root: &std::path::Path,
    provider: Option<ProviderKind>,
    kind_config: &KindConfigArg,
    replace: bool,
) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(repo_root)?;
    kind_config.apply(&mut session)?;
    let record = shared_cluster_record(&session);
    match read_shared_cluster(&record)? {
        Some(shared) if shared.is_present() && !replace => anyhow::bail!(
            "cluster `{}` that an earlier `cluster up` shared is still there (recorded in {}), and other processes may be using it; remove it with `chart-harness cluster down`, or start a new one in its place with `cluster up --replace`",
            shared.name,
            record.display()
        ),
        Some(_) => {
            down(repo_root).await?;
        }
        None => {}
    }
    let lease = session
        .cluster_lease(provider, &session.kube_version()?)
        .await?;
    let access = lease.access().await.map_err(anyhow::Error::msg)?;
    let detached = lease
        .detach()
        .await
        .ok_or_else(|| anyhow::anyhow!("the cluster was released before it could be shared"))?;
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&record, serde_json::to_vec_pretty(&detached)?)?;
    let mut variables = vec![
        format!("KUBECONFIG={}", access.kubeconfig.display()),
        "CHART_HARNESS_CLUSTER=existing".to_string(),
        format!("CHART_HARNESS_PODS_SIMULATED={}", access.pods_simulated),
    ];
    if let Some(context) = &access.context {
        variables.push(format!("CHART_HARNESS_KUBE_CONTEXT={context}"));
    }
    if let Some(nextest_env) = std::env::var_os("NEXTEST_ENV") {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(nextest_env)?;
        for variable in &variables {
            std::io::Write::write_all(&mut file, format!("{variable}\n").as_bytes())?;
        }
    }
    eprintln!("chart-harness: {}", access.description);
    eprintln!("chart-harness: remove it with `chart-harness cluster down`");
    for variable in &variables {
        println!("{variable}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The cluster `cluster up` recorded in `record`, if there is a record. A damaged one
/// is an error that names the file and how to get past it.
fn read_shared_cluster(
    record: &std::path::Path,
) -> anyhow::Result<Option<crate::cluster::DetachedCluster>> {
    let text = match std::fs::read(record) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => anyhow::bail!(
            "cannot read the shared-cluster record {}: {error}",
            record.display()
        ),
    };
    serde_json::from_slice(&text).map(Some).map_err(|error| {
        anyhow::anyhow!(
            "the shared-cluster record {} is damaged ({error}); delete it, then run `chart-harness cluster prune` to remove a cluster it may have left",
            record.display()
        )
    })
}

pub async fn down(repo_root: &std::path::Path) -> anyhow::Result<ExitCode> {
    let session = Session::open(repo_root)?;
    let record = shared_cluster_record(&session);
    let Some(shared) = read_shared_cluster(&record)? else {
        eprintln!(
            "chart-harness: no shared cluster is recorded in {}",
            record.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let name = shared.name.clone();
    shared.teardown(&session.teardown_tools()?).await?;
    std::fs::remove_file(&record)?;
    eprintln!("chart-harness: removed cluster {name}");
    Ok(ExitCode::SUCCESS)
}
