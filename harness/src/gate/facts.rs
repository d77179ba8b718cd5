//! What the gate's conditions are decided on, gathered from the repository (git tags,
//! Chart.yaml, the changelog), the reports, and `helm verify`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    ChangelogFacts, Check, GateReport, Required, Verdict, changelog_check, snapshots_check,
    tests_check, version_check,
};
use crate::config::release_settings::ChangelogSource;
use crate::discovery::Chart;
use crate::plan::{self, Suite};
use crate::report::document::{ReportDocument, ReportedTrial};
use crate::session::Session;
use crate::tools::{self, process};

/// What `helm verify` may take.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// What the command line asks the gate.
pub struct GateRequest {
    /// `--tag`: one release, named by its tag.
    pub tag: Option<String>,
    /// `--charts`: each at the version its Chart.yaml has.
    pub charts: Vec<String>,
    /// Where the (merged) reports are: files, or directories searched for report.json.
    pub reports: Vec<PathBuf>,
    /// Where the packaged charts (`<chart>-<version>.tgz` and `.prov`) are.
    pub packages: PathBuf,
    /// The plan the reports' cells ran: the Kubernetes versions it gave each chart are
    /// the required ones (else the config's `kube-versions`).
    pub plan: Option<crate::matrix::Plan>,
}

/// The gate's verdict on every release asked about. Bad input (a tag of another form,
/// an unknown chart, no reports, reports of two commits) is an error.
pub async fn evaluate(session: &Session, request: GateRequest) -> anyhow::Result<GateReport> {
    let settings = &session.loaded.config.release_gate;
    let git = tools::find_git()?;
    let root = session.repo_root();
    let head = crate::changed::commit_of(root, &git, "HEAD")
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} has no commit to release", root.display()))?;
    let releases: Vec<(std::sync::Arc<Chart>, String)> = match &request.tag {
        Some(tag) => {
            let (name, version) = settings.tag_format.split(tag).ok_or_else(|| {
                anyhow::anyhow!(
                    "tag `{tag}` does not have the form `{}` (release-gate.tag-format; chart-releaser's by default), with a semantic version",
                    settings.tag_format.text
                )
            })?;
            let chart = session.select(&[name])?.remove(0);
            // The gate reads Chart.yaml and the changelog from the checkout: it must be
            // the tag's commit.
            if let Some(at) =
                crate::changed::commit_of(root, &git, &format!("refs/tags/{tag}")).await?
                && at != head
            {
                anyhow::bail!(
                    "tag {tag} names commit {}, and {} is at {}; check out the tag (`git checkout {tag}`) and run the gate again",
                    crate::changed::short(&at),
                    root.display(),
                    crate::changed::short(&head)
                );
            }
            vec![(chart, version.to_string())]
        }
        None if request.charts.is_empty() => {
            anyhow::bail!("name the release: --tag <chart>-<version>, or --charts NAME...")
        }
        None => session
            .select(&request.charts)?
            .into_iter()
            .map(|chart| {
                let version = chart_version(&chart)?;
                Ok((chart, version))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let (reports_commit, trials) = read_reports(&request.reports)?;
    let mut verdicts = Vec::new();
    for (chart, version) in releases {
        let tag = settings.tag_format.tag(&chart.name, &version);
        let tags =
            crate::changed::tags(root, &git, &settings.tag_format.pattern(&chart.name)).await?;
        // A pushed tag names the commit it releases; otherwise the release is HEAD's.
        let commit = tags
            .iter()
            .find(|(name, _)| request.tag.as_ref() == Some(name))
            .map_or(head.clone(), |(_, commit)| commit.clone());
        let mut checks = Vec::new();
        let written = chart_version(&chart)?;
        let parsed = semver::Version::parse(&version)?;
        let mut previous: Option<(String, semver::Version)> = None;
        for (name, _) in &tags {
            if let Some((of, v)) = settings.tag_format.split(name)
                && of == chart.name
                && v != parsed
                && previous.as_ref().is_none_or(|(_, p)| &v > p)
            {
                previous = Some((name.clone(), v));
            }
        }
        if written != version {
            checks.push(Check::failed(
                "new-version",
                format!(
                    "{tag} names {version}, and {} says {written}; tag the commit whose Chart.yaml has {version}",
                    chart.rel_dir.join("Chart.yaml").display()
                ),
            ));
        } else {
            let existing = tags.iter().find(|(name, _)| name == &tag);
            checks.push(version_check(
                &parsed,
                previous.as_ref().map(|(tag, v)| (tag.as_str(), v)),
                existing.map(|(tag, commit)| (tag.as_str(), commit.as_str())),
                &commit,
            ));
        }
        let of_chart: Vec<&ReportedTrial> = trials
            .iter()
            .filter(|t| t.outcome.id.chart == chart.name)
            .collect();
        checks.push(tests_check(
            &required(session, &chart, request.plan.as_ref())?,
            &of_chart,
            &reports_commit,
            &commit,
        ));
        checks.push(snapshots_check(&pending_snapshots(
            &request.reports,
            &chart,
        )));
        checks.push(changelog(&chart, &version, &settings.changelog));
        checks.push(signature(session, &chart, &version, &request.packages).await);
        checks.push(match &settings.cosign_key {
            None => Check::not_configured("cosign", "no release-gate.cosign-key"),
            Some(key) => Check::failed(
                "cosign",
                format!(
                    "release-gate.cosign-key ({}) asks for cosign verification, and chart-harness pins no cosign, so it was not checked; verify with cosign in the workflow and remove the key here",
                    key.display()
                ),
            ),
        });
        verdicts.push(Verdict {
            chart: chart.name.clone(),
            version,
            tag,
            previous_tag: previous.map(|(tag, _)| tag),
            commit,
            checks,
        });
    }
    Ok(GateReport {
        passed: verdicts.iter().all(Verdict::passed),
        releases: verdicts,
    })
}

fn chart_version(chart: &Chart) -> anyhow::Result<String> {
    let file = chart.rel_dir.join("Chart.yaml");
    match chart.chart_file.get() {
        Ok(parsed) => parsed.version.clone().ok_or_else(|| {
            anyhow::anyhow!("{} has no `version`; a release needs one", file.display())
        }),
        Err(error) => anyhow::bail!("{}: {error}", file.display()),
    }
}

/// The reports' trials and the one commit they are of.
fn read_reports(roots: &[PathBuf]) -> anyhow::Result<(String, Vec<ReportedTrial>)> {
    let files = ReportDocument::find(roots);
    if files.is_empty() {
        anyhow::bail!(
            "no report.json under {}; pass the directory `chart-harness report merge --out` wrote",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut commits: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut trials = Vec::new();
    for file in files {
        let report = ReportDocument::read(&file).map_err(anyhow::Error::msg)?;
        let commit = report.commit.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "{} records no commit (the run was outside git); the gate needs reports of the released commit",
                file.display()
            )
        })?;
        commits
            .entry(commit)
            .or_default()
            .push(file.display().to_string());
        trials.extend(report.trials);
    }
    if commits.len() > 1 {
        // In the order of their files, which the reader passed, not of the hashes.
        let mut by_file: Vec<(&String, &Vec<String>)> = commits.iter().collect();
        by_file.sort_by_key(|(_, files)| files.first().cloned());
        anyhow::bail!(
            "the reports are of {} commits: {}; gate the reports of one run at the released commit",
            commits.len(),
            by_file
                .iter()
                .map(|(commit, files)| format!(
                    "{} ({})",
                    crate::changed::short(commit),
                    files.join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let commit = commits.into_keys().next().expect("one commit");
    Ok((commit, trials))
}

/// The suites the release must pass: `release-gate.required-suites`, else every
/// registered suite the plan does not skip for the chart; a cluster suite on every
/// Kubernetes version the matrix gives the chart.
fn required(
    session: &Session,
    chart: &std::sync::Arc<Chart>,
    plan: Option<&crate::matrix::Plan>,
) -> anyhow::Result<Vec<Required>> {
    let config = &session.loaded.config;
    let suites: Vec<Suite> = match &config.release_gate.required_suites {
        Some(suites) => suites.clone(),
        None => {
            let mut running: Vec<Suite> = plan::plan(std::slice::from_ref(chart), Suite::ALL)
                .into_iter()
                .filter(|trial| trial.skipped.is_none())
                .map(|trial| trial.id.suite)
                .collect();
            running.dedup();
            running
        }
    };
    let configured = if config.kube_versions.is_empty() {
        vec![session.kube_version()?]
    } else {
        config.kube_versions.clone()
    };
    let (mut versions, _) = crate::matrix::assemble::chart_versions(chart, &configured);
    if let Some(plan) = plan {
        versions = plan
            .cells
            .iter()
            .filter(|cell| {
                cell.kind == crate::matrix::CellKind::Cluster && cell.charts.contains(&chart.name)
            })
            .map(|cell| cell.kube_version.clone())
            .collect();
    }
    Ok(suites
        .into_iter()
        .map(|suite| Required {
            suite,
            kube_versions: if suite.needs_cluster() {
                versions.clone()
            } else {
                Vec::new()
            },
        })
        .collect())
}

/// Pending snapshots of the chart under the reports' directories (each cell's report
/// directory keeps the snapshots its run left for review).
fn pending_snapshots(roots: &[PathBuf], chart: &Chart) -> Vec<String> {
    let marker = Path::new("snapshots").join(&chart.rel_dir);
    let mut pending: Vec<String> = roots
        .iter()
        .flat_map(|root| {
            walkdir::WalkDir::new(root)
                .into_iter()
                .filter_map(Result::ok)
        })
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".snap.new"))
        .filter(|entry| {
            entry
                .path()
                .parent()
                .is_some_and(|parent| parent.ends_with(&marker))
        })
        .map(|entry| entry.path().display().to_string())
        .collect();
    pending.sort();
    pending
}

fn changelog(chart: &Chart, version: &str, source: &ChangelogSource) -> Check {
    let annotation = chart.chart_file.get().as_ref().ok().and_then(|file| {
        file.annotations
            .get("artifacthub.io/changes")
            .map(|value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
    });
    let name = match source {
        ChangelogSource::File(name) => name.clone(),
        _ => PathBuf::from(ChangelogSource::CHANGELOG_FILE),
    };
    let text = crate::files::read_to_string(&chart.dir.join(&name)).ok();
    let shown = chart.rel_dir.join(&name).display().to_string();
    changelog_check(
        version,
        &ChangelogFacts {
            source,
            annotation: annotation.as_deref(),
            file: (shown.as_str(), text.as_deref()),
        },
    )
}

/// `helm verify` of the packaged chart against `release-gate.keyring`.
async fn signature(session: &Session, chart: &Chart, version: &str, packages: &Path) -> Check {
    const NAME: &str = "signature";
    let Some(keyring) = &session.loaded.config.release_gate.keyring else {
        return Check::not_configured(NAME, "no release-gate.keyring");
    };
    let package = packages.join(format!("{}-{version}.tgz", chart.name));
    let provenance = package.with_extension("tgz.prov");
    for file in [&package, &provenance] {
        if !file.is_file() {
            return Check::failed(
                NAME,
                format!(
                    "{} is missing; package and sign the chart (`helm package --sign`) into {} before the gate",
                    file.display(),
                    packages.display()
                ),
            );
        }
    }
    let helm = match session.context(None).await {
        Ok(ctx) => ctx.tools.helm.clone(),
        Err(error) => return Check::failed(NAME, format!("no helm to verify with: {error}")),
    };
    let spec = helm
        .command(VERIFY_TIMEOUT)
        .arg("verify")
        .arg("--keyring")
        .arg(keyring)
        .arg(&package);
    match process::run(&spec).await {
        Ok(output) if output.success() => Check::passed(
            NAME,
            format!(
                "{} verifies against {}",
                provenance.display(),
                keyring.display()
            ),
        ),
        Ok(output) => Check::failed(
            NAME,
            format!(
                "`helm verify` refused {}: {}",
                package.display(),
                output
                    .stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("no reason given")
            ),
        ),
        Err(error) => Check::failed(NAME, format!("`helm verify` did not run: {error}")),
    }
}
