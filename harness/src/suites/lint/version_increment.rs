//! The `version-increment` check: a chart with changes since the merge-base (ignoring
//! files `.helmignore` excludes when `use-helmignore` is on) must have a version greater
//! than the target branch's. A chart that does not exist at the merge-base is new and
//! passes. A missing or non-semver version is left to the `chart-yaml` check, which
//! reports it.
//!
//! What changed is [`crate::changed`]'s answer, computed once per run and shared by
//! every lint trial.

use std::path::{Path, PathBuf};

use crate::changed::{self, ChangeSet, ChangedError};
use crate::chartfile::ChartFile;
use crate::config::{HarnessConfig, normalize};
use crate::discovery::Chart;
use crate::problem::Problem;
use crate::yaml;

/// Checks `chart` against the run's changes. `changes` is the run's shared answer, or
/// the message of why there is none (no base to compare against).
pub async fn check_version_increment(
    repo_root: &Path,
    config: &HarnessConfig,
    chart: &Chart,
    git: &Path,
    changes: Result<&ChangeSet, &str>,
) -> Vec<Problem> {
    let chart_yaml = normalize(&chart.rel_dir.join("Chart.yaml"));
    let cannot = |e: &dyn std::fmt::Display| {
        vec![Problem::in_file(
            &chart_yaml,
            format!(
                "cannot check the version increment: {e} (or set check-version-increment: false)"
            ),
        )]
    };
    let changes = match changes {
        Ok(changes) => changes,
        Err(message) => return cannot(&message),
    };
    let relevant = match changes.files_of(chart, config.use_helmignore) {
        Ok(files) => files,
        Err(error @ ChangedError::Helmignore { .. }) => {
            return vec![Problem::new(error.to_string())];
        }
        Err(error) => return cannot(&error),
    };
    if relevant.is_empty() {
        return Vec::new();
    }

    let old_text = match changed::file_at(repo_root, git, &changes.base.commit, &chart_yaml).await {
        Ok(Some(text)) => text,
        Ok(None) => return Vec::new(), // new on this branch
        Err(error) => return cannot(&error),
    };
    let shown_old = PathBuf::from(format!("{}:{}", changes.base.against, chart_yaml.display()));
    let old = yaml::parse_str::<ChartFile>(&old_text, &shown_old)
        .ok()
        .and_then(|c| c.version)
        .and_then(|v| semver::Version::parse(v.trim()).ok());
    let new = chart
        .chart_file
        .get()
        .as_ref()
        .ok()
        .and_then(|c| c.version.as_deref())
        .and_then(|v| semver::Version::parse(v.trim()).ok());
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    if new > old {
        return Vec::new();
    }
    let mut suggested = semver::Version::new(old.major, old.minor, old.patch + 1);
    if !old.pre.is_empty() {
        suggested = semver::Version::new(old.major, old.minor, old.patch);
    }
    let shown_files: Vec<String> = relevant
        .iter()
        .take(5)
        .map(|f| f.display().to_string())
        .collect();
    let more = relevant.len().saturating_sub(shown_files.len());
    let line = std::fs::read_to_string(chart.dir.join("Chart.yaml"))
        .ok()
        .and_then(|text| crate::config::line_of_key(&text, "version"));
    vec![
        Problem::in_file(
            &chart_yaml,
            format!(
                "version {new} is not greater than {old} on {} (merge-base {}), but the chart changed ({}{}); bump `version`, for example to {suggested}",
                changes.base.against,
                changed::short(&changes.base.commit),
                shown_files.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() },
            ),
        )
        .at_line(line),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::changed::RunChanges;
    use crate::changed::git_fixture::{Fixture, fixture};

    /// The check as a lint trial runs it, with the changes of a run of its own.
    async fn version_problems(f: &Fixture, config: &HarnessConfig, chart: &str) -> Vec<Problem> {
        let charts = f.charts(config);
        let chart = charts.iter().find(|c| c.name == chart).unwrap();
        let changes = RunChanges::default();
        let changes = changes.get(&f.work(), config, &f.git).await;
        check_version_increment(&f.work(), config, chart, &f.git, changes).await
    }

    #[tokio::test]
    async fn an_unbumped_changed_chart_is_a_version_problem() {
        let f = fixture(true).await;
        f.write("charts/web/templates/deployment.yaml", "kind: Deployment\n");
        f.commit_all("web").await;
        let problems = version_problems(&f, &f.config(), "web").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert_eq!(
            problem.file.as_deref(),
            Some(Path::new("charts/web/Chart.yaml"))
        );
        assert_eq!(problem.line, Some(3));
        for expected in [
            "version 1.0.0 is not greater than 1.0.0 on origin/main",
            "charts/web/templates/deployment.yaml",
            "bump `version`, for example to 1.0.1",
        ] {
            assert!(problem.message.contains(expected), "{}", problem.message);
        }
        // An unchanged chart needs no bump.
        assert!(version_problems(&f, &f.config(), "site").await.is_empty());
    }

    #[tokio::test]
    async fn untracked_files_in_a_chart_need_no_bump() {
        let f = fixture(true).await;
        // What `helm dependency build` leaves in a chart when run by hand.
        f.write("charts/web/Chart.lock", "dependencies: []\n");
        f.write("charts/web/charts/common-1.0.0.tgz", "archive");
        assert!(version_problems(&f, &f.config(), "web").await.is_empty());
        // Once committed, the same file is a change that needs one.
        f.commit_all("lock").await;
        assert_eq!(version_problems(&f, &f.config(), "web").await.len(), 1);
    }

    #[tokio::test]
    async fn a_lowered_version_is_a_problem_and_a_bump_passes() {
        let f = fixture(true).await;
        f.chart("charts/site", "1.9.0", &["../web"]);
        let problems = version_problems(&f, &f.config(), "site").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains("1.9.0 is not greater than 2.0.0")
        );

        f.chart("charts/site", "2.1.0", &["../web"]);
        assert!(version_problems(&f, &f.config(), "site").await.is_empty());
    }

    #[tokio::test]
    async fn new_charts_and_parents_of_changed_nested_charts_pass() {
        let f = fixture(true).await;
        f.chart("charts/brand-new", "0.1.0", &[]);
        f.write(
            "charts/platform/addons/metrics/values.yaml",
            "replicas: 3\n",
        );
        f.commit_all("changes").await;
        let config = f.config();
        assert!(version_problems(&f, &config, "brand-new").await.is_empty());
        // Only the nested chart changed; the parent needs no bump.
        assert!(version_problems(&f, &config, "platform").await.is_empty());
        assert_eq!(version_problems(&f, &config, "metrics").await.len(), 1);
    }

    #[tokio::test]
    async fn without_a_base_the_version_check_explains_what_to_do() {
        let f = fixture(false).await;
        let problems = version_problems(&f, &f.config(), "web").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        let message = &problems[0].message;
        assert!(
            message.contains("`origin/main` does not exist"),
            "{message}"
        );
        assert!(
            message.contains("check-version-increment: false"),
            "{message}"
        );
    }
}
