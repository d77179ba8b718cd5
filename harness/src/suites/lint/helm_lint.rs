//! The `helm-lint` check: `helm lint --strict` with exactly the values a case renders
//! with, each message helm prints becoming a problem in the file helm names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::config::{ChartSettings, HarnessConfig};
use crate::discovery::Chart;
use crate::suites::Problem;
use crate::tools::{Helm, HelmLintReport, RenderRequest};

/// The values files of a case, in helm's `-f` order: the case file, the settings'
/// values files, then a temporary file holding the settings' inline `values`. The
/// temporary directory lives as long as this value.
pub struct LintValues {
    pub files: Vec<PathBuf>,
    _inline_dir: Option<TempDir>,
}

impl LintValues {
    pub fn new(
        chart_dir: &Path,
        case_file: Option<&Path>,
        settings: &ChartSettings,
    ) -> std::io::Result<LintValues> {
        let mut files: Vec<PathBuf> = case_file.map(Path::to_path_buf).into_iter().collect();
        files.extend(
            settings
                .values_files
                .iter()
                .map(|file| chart_dir.join(file)),
        );
        let inline_dir = if settings.values.is_empty() {
            None
        } else {
            let dir = tempfile::Builder::new()
                .prefix("chart-harness-values-")
                .tempdir()?;
            let path = dir.path().join("harness-values.yaml");
            // JSON is YAML, so helm reads this file as it is.
            let text = serde_json::to_string_pretty(&settings.values)
                .expect("a map of JSON values always serializes");
            std::fs::write(&path, text)?;
            files.push(path);
            Some(dir)
        };
        Ok(LintValues {
            files,
            _inline_dir: inline_dir,
        })
    }
}

/// Runs `helm lint --strict` for one case and turns its report into problems.
pub async fn lint_case(
    helm: &Helm,
    config: &HarnessConfig,
    chart: &Chart,
    case_file: Option<&Path>,
    settings: &ChartSettings,
    timeout: Duration,
) -> Vec<Problem> {
    let values = match LintValues::new(&chart.dir, case_file, settings) {
        Ok(values) => values,
        Err(err) => {
            return vec![Problem::in_file(
                chart.rel_dir.join("ci/harness.yaml"),
                format!(
                    "cannot write the inline `values` to a temporary file ({err}); \
                     check that the temporary directory is writable"
                ),
            )];
        }
    };
    let kube_version = settings
        .kube_versions
        .first()
        .or(config.kube_version.as_ref());
    let request = RenderRequest {
        chart_dir: &chart.dir,
        release: &chart.name,
        namespace: "default",
        values_files: &values.files,
        kube_version: kube_version.map(String::as_str),
        extra_args: &config.helm_lint_extra_args,
        timeout,
    };
    match helm.lint(&request).await {
        Ok(report) => lint_problems(&report, &chart.rel_dir),
        Err(err) => vec![Problem::in_file(
            &chart.rel_dir,
            format!("helm lint could not run: {err}"),
        )],
    }
}

/// One problem per `[ERROR]` or `[WARNING]` (both fail `--strict`), in the file helm
/// names; a failed lint that names nothing still fails, with helm's output.
pub fn lint_problems(report: &HelmLintReport, rel_dir: &Path) -> Vec<Problem> {
    let mut problems: Vec<Problem> = report
        .messages
        .iter()
        .filter(|message| matches!(message.severity.as_str(), "ERROR" | "WARNING"))
        .map(|message| {
            let file = message
                .path
                .as_deref()
                .map_or_else(|| rel_dir.to_path_buf(), |path| rel_dir.join(path));
            Problem::in_file(
                file,
                format!(
                    "helm lint {}: {}",
                    message.severity.to_ascii_lowercase(),
                    message.message
                ),
            )
        })
        .collect();
    if problems.is_empty() && !report.passed {
        let output = [&report.output.stderr, &report.output.stdout]
            .into_iter()
            .map(|text| text.trim())
            .find(|text| !text.is_empty())
            .unwrap_or("(no output)");
        problems.push(Problem::in_file(
            rel_dir,
            format!("helm lint failed without naming a problem; its output:\n{output}"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::tools::{HelmLintMessage, ProcessOutput};

    fn report(
        passed: bool,
        messages: &[(&str, Option<&str>, &str)],
        stderr: &str,
    ) -> HelmLintReport {
        HelmLintReport {
            passed,
            messages: messages
                .iter()
                .map(|(severity, path, message)| HelmLintMessage {
                    severity: severity.to_string(),
                    path: path.map(str::to_string),
                    message: message.to_string(),
                })
                .collect(),
            output: ProcessOutput {
                status: ExitStatus::from_raw(if passed { 0 } else { 1 << 8 }),
                stdout: String::new(),
                stderr: stderr.to_string(),
                elapsed: Duration::ZERO,
            },
        }
    }

    #[test]
    fn errors_and_warnings_become_problems_in_the_named_file() {
        let report = report(
            false,
            &[
                ("INFO", Some("Chart.yaml"), "icon is recommended"),
                ("WARNING", Some("templates/"), "directory not found"),
                (
                    "ERROR",
                    Some("templates/deployment.yaml"),
                    "unable to parse YAML",
                ),
                ("ERROR", None, "chart metadata is missing"),
            ],
            "",
        );
        let problems = lint_problems(&report, Path::new("charts/web"));
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "charts/web/templates/: helm lint warning: directory not found",
                "charts/web/templates/deployment.yaml: helm lint error: unable to parse YAML",
                "charts/web: helm lint error: chart metadata is missing",
            ]
        );
    }

    #[rstest]
    #[case::passed_with_info(true, &[("INFO", Some("Chart.yaml"), "icon is recommended")], 0)]
    #[case::passed_clean(true, &[], 0)]
    #[case::failed_silently(false, &[], 1)]
    fn a_failure_never_passes_silently(
        #[case] passed: bool,
        #[case] messages: &[(&str, Option<&str>, &str)],
        #[case] expected: usize,
    ) {
        let report = report(
            passed,
            messages,
            "Error: 1 chart(s) linted, 1 chart(s) failed\n",
        );
        let problems = lint_problems(&report, Path::new("charts/web"));
        assert_eq!(problems.len(), expected, "{problems:#?}");
        if expected == 1 {
            assert!(
                problems[0].message.contains("1 chart(s) failed"),
                "{}",
                problems[0]
            );
        }
    }

    #[test]
    fn values_files_follow_helm_order_and_inline_values_become_a_file() {
        let chart_dir = Path::new("/repo/charts/web");
        let settings = ChartSettings {
            values_files: vec![PathBuf::from("ci/extra.yaml")],
            values: BTreeMap::from([("replicas".to_string(), json!(3))]),
            ..ChartSettings::default()
        };
        let case_file = chart_dir.join("ci/big-values.yaml");
        let values = LintValues::new(chart_dir, Some(&case_file), &settings).unwrap();
        assert_eq!(values.files.len(), 3);
        assert_eq!(values.files[0], case_file);
        assert_eq!(values.files[1], chart_dir.join("ci/extra.yaml"));
        let inline: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&values.files[2]).unwrap()).unwrap();
        assert_eq!(inline, json!({"replicas": 3}));
        let inline_path = values.files[2].clone();
        drop(values);
        assert!(
            !inline_path.exists(),
            "the temporary values file is removed"
        );
    }

    #[test]
    fn no_values_means_no_files() {
        let values = LintValues::new(Path::new("/c"), None, &ChartSettings::default()).unwrap();
        assert!(values.files.is_empty());
    }
}
