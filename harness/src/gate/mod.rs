//! The release gate (`chart-harness gate`): whether a chart's release is proven. Each
//! condition is a pure function of facts `facts.rs` gathers (tags, Chart.yaml, the
//! merged reports, pending snapshots, `helm verify`), so every verdict and its reason is
//! tested as data; `render.rs` prints the table a release manager reads.

pub mod facts;
pub mod render;

use serde::Serialize;

use crate::plan::Suite;
use crate::report::document::ReportedTrial;
use crate::suites::TrialStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    Passed,
    Failed,
    /// The repository does not ask for it (signing without a keyring).
    NotConfigured,
}

/// One condition of one release, with why it holds or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub state: CheckState,
    pub reason: String,
}

impl Check {
    fn passed(name: &'static str, reason: impl Into<String>) -> Check {
        Check {
            name,
            state: CheckState::Passed,
            reason: reason.into(),
        }
    }

    fn failed(name: &'static str, reason: impl Into<String>) -> Check {
        Check {
            name,
            state: CheckState::Failed,
            reason: reason.into(),
        }
    }

    fn not_configured(name: &'static str, reason: impl Into<String>) -> Check {
        Check {
            name,
            state: CheckState::NotConfigured,
            reason: reason.into(),
        }
    }
}

/// One chart's release and its conditions.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub chart: String,
    pub version: String,
    pub tag: String,
    pub previous_tag: Option<String>,
    /// The commit being released: the tag's, else HEAD.
    pub commit: String,
    pub checks: Vec<Check>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.state != CheckState::Failed)
    }
}

/// Every release the gate was asked about.
#[derive(Clone, Debug, Serialize)]
pub struct GateReport {
    pub passed: bool,
    pub releases: Vec<Verdict>,
}

/// The version is higher than the previous release's, and no release of it exists at
/// another commit. `existing` is the commit a tag of this version names, if any.
pub fn version_check(
    version: &semver::Version,
    previous: Option<(&str, &semver::Version)>,
    existing: Option<(&str, &str)>,
    commit: &str,
) -> Check {
    const NAME: &str = "new-version";
    if let Some((tag, at)) = existing
        && at != commit
    {
        return Check::failed(
            NAME,
            format!(
                "{tag} already exists at commit {}, so {version} was released; bump `version` in Chart.yaml",
                crate::changed::short(at)
            ),
        );
    }
    match previous {
        None => Check::passed(NAME, format!("{version} is the chart's first release")),
        Some((tag, previous)) if version > previous => {
            Check::passed(NAME, format!("{version} > {previous} ({tag})"))
        }
        Some((tag, previous)) => Check::failed(
            NAME,
            format!(
                "{version} is not higher than {previous}, released as {tag}; bump `version` in Chart.yaml"
            ),
        ),
    }
}

/// What the tests must show for one suite: passed on each of these Kubernetes
/// versions (none: on any, for a cluster-free suite).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Required {
    pub suite: Suite,
    pub kube_versions: Vec<String>,
}

/// Every required suite passed on every required version, in reports of `commit`.
pub fn tests_check(
    required: &[Required],
    trials: &[&ReportedTrial],
    reports_commit: &str,
    commit: &str,
) -> Check {
    const NAME: &str = "tests";
    if reports_commit != commit {
        return Check::failed(
            NAME,
            format!(
                "the reports are of commit {}, and the release is commit {}; gate the reports of a run at the released commit",
                crate::changed::short(reports_commit),
                crate::changed::short(commit)
            ),
        );
    }
    if required.is_empty() {
        return Check::failed(
            NAME,
            "no suite is required of the chart (every one is skipped), so nothing proves the release; name them in release-gate.required-suites",
        );
    }
    let mut missing = Vec::new();
    let mut proven = 0;
    for need in required {
        let versions: Vec<Option<&str>> = if need.kube_versions.is_empty() {
            vec![None]
        } else {
            need.kube_versions
                .iter()
                .map(|v| Some(v.as_str()))
                .collect()
        };
        for version in versions {
            let of: Vec<&&ReportedTrial> = trials
                .iter()
                .filter(|t| t.outcome.id.suite == need.suite)
                .filter(|t| version.is_none() || t.kube_version.as_deref() == version)
                .collect();
            let on = version
                .map(|v| format!(" on Kubernetes {v}"))
                .unwrap_or_default();
            if of.is_empty() {
                missing.push(format!("{}{on}: no trial in the reports", need.suite));
                continue;
            }
            let bad: Vec<&&&ReportedTrial> = of
                .iter()
                .filter(|t| t.outcome.status != TrialStatus::Passed)
                .collect();
            let Some(first) = bad.first() else {
                proven += 1;
                continue;
            };
            // One line per suite and version, however many cases: the first says why.
            let why = match first.outcome.status {
                TrialStatus::Failed | TrialStatus::TimedOut => first
                    .outcome
                    .failed_phases()
                    .flat_map(|p| p.problems.first())
                    .next()
                    .map(|p| p.message.lines().next().unwrap_or_default().to_string())
                    .or_else(|| first.outcome.reason.clone())
                    .unwrap_or_default(),
                _ => first.outcome.reason.clone().unwrap_or_default(),
            };
            missing.push(format!(
                "{}{on}: {} of {} case(s) not passed; {} {}: {}",
                need.suite,
                bad.len(),
                of.len(),
                first.outcome.id.case,
                status_word(first.outcome.status),
                first_chars(&why, 240)
            ));
        }
    }
    if missing.is_empty() {
        Check::passed(
            NAME,
            format!(
                "{} suite × version pair(s) passed: {}",
                proven,
                required
                    .iter()
                    .map(|r| r.suite.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        // One line each: the table's reader scans them.
        Check::failed(NAME, missing.join("\n"))
    }
}

fn status_word(status: TrialStatus) -> &'static str {
    match status {
        TrialStatus::Passed => "passed",
        TrialStatus::Failed => "failed",
        TrialStatus::TimedOut => "timed out",
        TrialStatus::Cancelled => "was cancelled",
        TrialStatus::Skipped => "was skipped",
        TrialStatus::NotRun => "did not run",
    }
}

fn first_chars(text: &str, count: usize) -> String {
    let mut cut: String = text.chars().take(count).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// No snapshot of the chart is pending review.
pub fn snapshots_check(pending: &[String]) -> Check {
    const NAME: &str = "snapshots";
    if pending.is_empty() {
        Check::passed(NAME, "none pending")
    } else {
        Check::failed(
            NAME,
            format!(
                "pending: {}; review them with `chart-harness snapshots review`, accept and commit",
                pending.join(", ")
            ),
        )
    }
}

/// What the chart says of this version's changes.
pub struct ChangelogFacts<'a> {
    pub source: &'a crate::config::release_settings::ChangelogSource,
    /// `artifacthub.io/changes` from Chart.yaml, when set.
    pub annotation: Option<&'a str>,
    /// The changelog file's name, and its text when it exists.
    pub file: (&'a str, Option<&'a str>),
}

/// A changelog entry exists for `version`.
pub fn changelog_check(version: &str, facts: &ChangelogFacts) -> Check {
    use crate::config::release_settings::ChangelogSource;
    const NAME: &str = "changelog";
    const ANNOTATION: &str = "artifacthub.io/changes";
    let annotation = facts.annotation.filter(|text| !text.trim().is_empty());
    let (file_name, file_text) = facts.file;
    let heading = file_text
        .filter(|text| has_heading(text, version))
        .map(|_| file_name);
    let (annotation_counts, file_counts) = match facts.source {
        ChangelogSource::None => {
            return Check::not_configured(NAME, "release-gate.changelog is `none`");
        }
        ChangelogSource::Either => (true, true),
        ChangelogSource::Annotation => (true, false),
        ChangelogSource::File(_) => (false, true),
    };
    if annotation_counts && annotation.is_some() {
        return Check::passed(NAME, format!("Chart.yaml's `{ANNOTATION}` annotation"));
    }
    if file_counts && let Some(name) = heading {
        return Check::passed(NAME, format!("`## {version}` in {name}"));
    }
    let wanted = match (annotation_counts, file_counts) {
        (true, true) => format!(
            "an `{ANNOTATION}` annotation in Chart.yaml or a `## {version}` heading in {file_name}"
        ),
        (true, false) => format!("an `{ANNOTATION}` annotation in Chart.yaml"),
        _ => format!("a `## {version}` heading in {file_name}"),
    };
    Check::failed(NAME, format!("no entry for {version}: add {wanted}"))
}

/// `## 1.2.0`, `## [1.2.0]`, `## v1.2.0 - 2026-12-07` all head 1.2.0's entry.
fn has_heading(text: &str, version: &str) -> bool {
    text.lines().any(|line| {
        let Some(rest) = line.trim_start().strip_prefix("## ") else {
            return false;
        };
        let rest = rest
            .trim_start()
            .trim_start_matches('[')
            .trim_start_matches('v');
        rest.strip_prefix(version)
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', ']', '\t', '(']))
    })
}

#[cfg(test)]
mod tests;
