//! The `helm-lint` check: `helm lint` with exactly the values a case renders with, as
//! ct runs it (warnings fail it only under `--strict` in `helm-lint-extra-args`), each
//! message helm prints becoming a problem in the file helm names.

use std::path::Path;

use crate::config::HarnessConfig;
use crate::plan::Trial;
use crate::problem::Problem;
use crate::suites::TrialInputs;
use crate::suites::render::RenderTarget;
use crate::tools::{Helm, HelmLintReport};

/// helm lint renders into a namespace too; nothing it checks depends on which.
const LINT_NAMESPACE: &str = "default";

/// Runs `helm lint` for the trial's case against its primary Kubernetes version and
/// turns its report into problems, and whether helm failed the lint: warnings of a lint
/// helm passed are shown without failing the phase.
pub async fn lint_case(
    helm: &Helm,
    config: &HarnessConfig,
    trial: &Trial,
    inputs: &TrialInputs,
) -> (Vec<Problem>, bool) {
    let target = RenderTarget {
        namespace: LINT_NAMESPACE,
        kube_version: inputs.primary_kube_version(),
        extra_args: &config.helm_lint_extra_args,
        timeout: inputs.timeout,
    };
    match helm.lint(&inputs.render_request(trial, &target)).await {
        Ok(report) => (lint_problems(&report, &trial.chart.rel_dir), !report.passed),
        Err(err) => (
            vec![Problem::in_file(
                &trial.chart.rel_dir,
                format!("helm lint could not run: {err}"),
            )],
            true,
        ),
    }
}

/// One problem per `[ERROR]` or `[WARNING]` (warnings fail only `--strict`), in the file
/// helm names; a failed lint that names nothing still fails, with helm's output.
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
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::time::Duration;

    use rstest::rstest;

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
}
