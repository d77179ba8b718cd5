//! A published baseline: the highest version below the candidate's that a chart
//! repository (`repo:`, from its `index.yaml`) or an OCI registry (`oci://`, from its
//! tags) publishes, pulled by helm (`--version <X`), its package's sha256 the digest,
//! unpacked under the report directory.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SuiteContext;
use super::baseline::{self, Baseline, NoBaseline};
use crate::config::BaselineSpec;
use crate::plan::Trial;
use crate::problem::Problem;

/// Where a published baseline comes from.
enum Source {
    Repository { url: String },
    Registry { reference: String, plain_http: bool },
}

impl Source {
    fn shown(&self) -> &str {
        match self {
            Source::Repository { url } => url,
            Source::Registry { reference, .. } => reference,
        }
    }
}

pub(super) async fn resolve(
    spec: &BaselineSpec,
    trial: &Trial,
    ctx: &SuiteContext,
) -> Result<Baseline, NoBaseline> {
    let chart = &trial.chart;
    let unavailable = |message: String| NoBaseline::Unavailable(Problem::new(message));
    let source = match spec {
        BaselineSpec::Repo(repo) if repo.starts_with("http://") || repo.starts_with("https://") => {
            Source::Repository { url: repo.clone() }
        }
        BaselineSpec::Repo(repo) => {
            let named = ctx
                .config
                .chart_repos
                .iter()
                .find(|known| known.name == *repo);
            match named {
                Some(known) => Source::Repository {
                    url: known.url.clone(),
                },
                None => {
                    let names: Vec<&str> = ctx
                        .config
                        .chart_repos
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    return Err(unavailable(format!(
                        "baseline `{spec}`: no chart repository is named `{repo}` in `chart-repos` (it has: {}); add `{repo}=<url>` there, or write the URL: repo:https://…",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
            }
        }
        BaselineSpec::Oci(prefix) => Source::Registry {
            reference: format!("{prefix}/{}", chart.name),
            plain_http: spec
                .registry_host()
                .is_some_and(|host| ctx.config.plain_http_registries.iter().any(|h| h == host)),
        },
        BaselineSpec::Git | BaselineSpec::GitRef(_) => {
            unreachable!("git baselines are resolved by baseline.rs")
        }
    };
    let candidate = chart
        .chart_file
        .get()
        .as_ref()
        .ok()
        .and_then(|file| file.version.clone())
        .ok_or_else(|| {
            unavailable(format!(
                "baseline `{spec}`: {}/Chart.yaml has no readable `version` to look below",
                chart.rel_dir.display()
            ))
        })?;
    let dir = scratch_dir(
        &ctx.config.report_dir,
        spec,
        &trial.id.chart,
        &trial.id.case,
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|error| {
        unavailable(format!(
            "cannot create {}: {error}; check that the report directory is writable",
            dir.display()
        ))
    })?;
    let constraint = format!("<{candidate}");
    let helm = &ctx.tools.helm;
    let timeout = ctx.config.trial_timeout;
    let pulled = match &source {
        Source::Repository { url } => {
            helm.pull_from_repo(&chart.name, url, &constraint, &dir, timeout)
                .await
        }
        Source::Registry {
            reference,
            plain_http,
        } => {
            helm.pull_from_registry(reference, &constraint, *plain_http, &dir, timeout)
                .await
        }
    }
    .map_err(|error| unavailable(error.to_string()))?;
    if !pulled.success() {
        let said = pulled.stderr.trim();
        let shown = source.shown();
        // helm's words when nothing below ours is published (a repository's index
        // without such a version, a registry without such a tag or repository).
        let nothing_published = (said.contains("not found") && !said.contains("404 page"))
            || said.contains("name unknown")
            || said.contains("could not locate a version matching");
        if nothing_published {
            return Err(NoBaseline::NewChart(format!(
                "{shown} publishes no version of {} below {candidate}, so there is nothing to upgrade from (helm: {said})",
                chart.name
            )));
        }
        let hint = match &source {
            Source::Repository { .. } => {
                "check the repository's URL and that it serves index.yaml".to_string()
            }
            Source::Registry { .. } if said.contains("HTTP response to HTTPS client") => format!(
                "the registry serves plain HTTP: list `{}` in `plain-http-registries` in the config",
                spec.registry_host().unwrap_or_default()
            ),
            Source::Registry { .. } => {
                "check the registry's address and path, and `helm registry login` if it needs credentials".to_string()
            }
        };
        return Err(unavailable(format!(
            "baseline `{spec}`: helm pull of {} from {shown} (version {constraint}) failed: {said}; {hint}",
            chart.name
        )));
    }
    let package = package_in(&dir).ok_or_else(|| {
        unavailable(format!(
            "baseline `{spec}`: helm pull wrote no chart package into {}",
            dir.display()
        ))
    })?;
    let bytes = std::fs::read(&package)
        .map_err(|error| unavailable(format!("cannot read {}: {error}", package.display())))?;
    let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
    let unpacked = dir.join("unpacked");
    tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
        .unpack(&unpacked)
        .map_err(|error| unavailable(format!("cannot unpack {}: {error}", package.display())))?;
    let chart_dir = unpacked.join(&chart.name);
    let version = crate::chartfile::ChartFile::read(&chart_dir)
        .ok()
        .and_then(|file| file.version)
        .ok_or_else(|| {
            unavailable(format!(
                "baseline `{spec}`: {} holds no chart `{}` with a version",
                package.display(),
                chart.name
            ))
        })?;
    let shown = format!("{spec} ({}, {} {version})", source.shown(), chart.name);
    baseline::ready(chart_dir, trial, ctx, shown, version, digest).await
}

/// Where a trial's pulled baseline goes: its own directory, so trials never share one.
fn scratch_dir(report_dir: &Path, spec: &BaselineSpec, chart: &str, case: &str) -> PathBuf {
    report_dir
        .join("baselines")
        .join("pulled")
        .join(chart)
        .join(case)
        .join(spec.path_segment())
}

/// The one `.tgz` helm pulled into `dir`.
fn package_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "tgz"))
}
