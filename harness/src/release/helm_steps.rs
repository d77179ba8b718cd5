//! helm install, upgrade, rollback, uninstall and test of the release, with helm 3 or
//! 4 (the wrapper hides their differences). None waits for readiness: that is
//! [`ReleaseUnderTest::wait_ready`]'s job.

use std::path::{Path, PathBuf};

use super::diagnostics::{self, SIMULATED_LOGS};
use super::{CLEANUP_TIMEOUT, MAX_TOOL_OUTPUT, ReleaseUnderTest, Timed, bounded, text_at, timed};
use crate::manifest::Manifest;
use crate::problem::Problem;
use crate::tools::{ProcessOutput, ToolError};

/// A helm command that failed; the message quotes what helm said (bounded).
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("{what} failed ({status}): {said}")]
    Failed {
        /// Where the problem is: the chart directory, or the file that asked for it.
        file: Option<PathBuf>,
        what: String,
        status: std::process::ExitStatus,
        said: String,
    },
    #[error("{what}: {source}")]
    Tool {
        file: Option<PathBuf>,
        what: String,
        source: Box<ToolError>,
    },
}

impl HelmError {
    /// `Ok` with helm's output when it succeeded, else what it said.
    pub(crate) fn check(
        what: impl Into<String>,
        file: Option<&Path>,
        outcome: Result<ProcessOutput, ToolError>,
    ) -> Result<ProcessOutput, HelmError> {
        let file = file.map(Path::to_path_buf);
        match outcome {
            Ok(output) if output.success() => Ok(output),
            Ok(output) => {
                let said = format!("{}\n{}", output.stderr.trim(), output.stdout.trim());
                Err(HelmError::Failed {
                    file,
                    what: what.into(),
                    status: output.status,
                    said: bounded(said.trim(), MAX_TOOL_OUTPUT),
                })
            }
            Err(source) => Err(HelmError::Tool {
                file,
                what: what.into(),
                source: Box::new(source),
            }),
        }
    }

    /// helm found no such release (a failed install may leave none to uninstall).
    fn is_release_not_found(&self) -> bool {
        matches!(self, HelmError::Failed { said, .. } if said.contains("not found"))
    }
}

impl From<HelmError> for Problem {
    fn from(error: HelmError) -> Problem {
        let (HelmError::Failed { file, .. } | HelmError::Tool { file, .. }) = &error;
        match file.clone() {
            Some(file) => Problem::in_file(file, error.to_string()),
            None => Problem::new(error.to_string()),
        }
    }
}

/// What `helm test` did when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelmTestRun {
    /// The chart renders no `helm.sh/hook: test` object; nothing ran.
    NoHooks,
    Passed,
}

/// `helm test` failed: helm's message on the first test hook's template, and the
/// hooks' logs (or why there are none).
#[derive(Debug, thiserror::Error)]
#[error("{helm}")]
pub struct HelmTestError {
    pub helm: HelmError,
    pub logs: String,
}

impl From<HelmTestError> for Vec<Problem> {
    fn from(error: HelmTestError) -> Vec<Problem> {
        let mut problems = vec![Problem::from(error.helm)];
        if !error.logs.is_empty() {
            problems.push(Problem::new(bounded(
                &format!("test hook logs:\n{}", error.logs),
                diagnostics::MAX_SECTION,
            )));
        }
        problems
    }
}

impl ReleaseUnderTest<'_> {
    /// What install and upgrade get after the values files: ct's `helm-extra-args`,
    /// then its `helm-extra-set-args`.
    fn deploy_args(&self) -> Vec<String> {
        [self.helm_extra_args, self.helm_set_args].concat()
    }

    /// `helm install` of the chart with the release's values files.
    pub async fn install(&self) -> Timed<Result<(), HelmError>> {
        timed(async {
            crate::activity::waiting_for(|| format!("`helm install` of release {}", self.name));
            let outcome = self
                .helm
                .install(
                    &self.target(&self.name),
                    self.chart_dir,
                    &self.values_files,
                    &self.deploy_args(),
                    self.timeout,
                )
                .await;
            HelmError::check("helm install", Some(&self.chart.rel_dir), outcome).map(drop)
        })
        .await
    }

    /// `helm upgrade` of the release to the chart in `chart_dir` (another version of
    /// it, for the upgrade suite) with `values_files`.
    pub async fn upgrade(
        &self,
        chart_dir: &Path,
        values_files: &[PathBuf],
    ) -> Timed<Result<(), HelmError>> {
        timed(async {
            crate::activity::waiting_for(|| format!("`helm upgrade` of release {}", self.name));
            let outcome = self
                .helm
                .upgrade(
                    &self.target(&self.name),
                    chart_dir,
                    values_files,
                    &self.deploy_args(),
                    self.timeout,
                )
                .await;
            HelmError::check("helm upgrade", Some(&self.chart.rel_dir), outcome).map(drop)
        })
        .await
    }

    /// `helm rollback` of the release to `revision`.
    pub async fn rollback(&self, revision: u32) -> Timed<Result<(), HelmError>> {
        timed(async {
            crate::activity::waiting_for(|| {
                format!(
                    "`helm rollback` of release {} to revision {revision}",
                    self.name
                )
            });
            let outcome = self
                .helm
                .rollback(&self.target(&self.name), revision, self.timeout)
                .await;
            HelmError::check(
                format!("helm rollback to revision {revision}"),
                Some(&self.chart.rel_dir),
                outcome,
            )
            .map(drop)
        })
        .await
    }

    /// `helm uninstall` of each of `releases` in order (this one and prerequisites);
    /// a release helm does not know is no error, since a failed install may leave none.
    pub async fn uninstall(&self, releases: &[&str]) -> Timed<Vec<HelmError>> {
        timed(async {
            let mut errors = Vec::new();
            for release in releases {
                crate::activity::waiting_for(|| format!("`helm uninstall` of release {release}"));
                let outcome = self
                    .helm
                    .uninstall(&self.target(release), CLEANUP_TIMEOUT)
                    .await;
                match HelmError::check(format!("helm uninstall {release}"), None, outcome) {
                    Err(error) if !error.is_release_not_found() => errors.push(error),
                    _ => {}
                }
            }
            errors
        })
        .await
    }

    /// `helm test` when `rendered` has test hooks; on failure with the hooks' logs.
    pub async fn helm_test(
        &self,
        rendered: &[Manifest],
    ) -> Timed<Result<HelmTestRun, HelmTestError>> {
        timed(async {
            let hooks: Vec<&Manifest> = rendered.iter().filter(|m| is_test_hook(m)).collect();
            let Some(first) = hooks.first() else {
                return Ok(HelmTestRun::NoHooks);
            };
            crate::activity::waiting_for(|| {
                let names: Vec<String> = hooks.iter().map(|hook| hook_name(hook)).collect();
                format!("`helm test`: test hook {}", names.join(", "))
            });
            let outcome = self
                .helm
                .test(&self.target(&self.name), self.helm_extra_args, self.timeout)
                .await;
            let file = self.chart_file(first.source.as_deref());
            let Err(helm) = HelmError::check("helm test", Some(&file), outcome) else {
                return Ok(HelmTestRun::Passed);
            };
            let names: Vec<&str> = hooks
                .iter()
                .filter_map(|m| text_at(&m.value, "/metadata/name"))
                .collect();
            let logs = if self.pods_simulated() {
                SIMULATED_LOGS.to_string()
            } else {
                // A hook Job's pods are named after it.
                diagnostics::logs(self, |pod| names.iter().any(|hook| pod.starts_with(hook))).await
            };
            Err(HelmTestError { helm, logs })
        })
        .await
    }
}

/// `Job/kvstore-test`, as a person finds it with kubectl.
fn hook_name(manifest: &Manifest) -> String {
    format!(
        "{}/{}",
        text_at(&manifest.value, "/kind").unwrap_or("object"),
        text_at(&manifest.value, "/metadata/name").unwrap_or("(unnamed)")
    )
}

fn is_test_hook(manifest: &Manifest) -> bool {
    text_at(&manifest.value, "/metadata/annotations/helm.sh~1hook").is_some_and(|hooks| {
        hooks
            .split(',')
            .any(|h| h.trim() == "test" || h.trim() == "test-success")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    fn output(code: i32, stdout: &str, stderr: &str) -> ProcessOutput {
        ProcessOutput {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn a_failed_helm_command_quotes_both_streams_on_its_file() {
        let error = HelmError::check(
            "helm install",
            Some(Path::new("charts/web")),
            Ok(output(1, "partial\n", "Error: boom\n")),
        )
        .unwrap_err();
        let problem = Problem::from(error);
        assert_eq!(problem.file.as_deref(), Some(Path::new("charts/web")));
        assert_eq!(
            problem.message,
            "helm install failed (exit status: 1): Error: boom\npartial"
        );
    }

    #[test]
    fn success_passes_the_output_through() {
        let passed = HelmError::check("helm test", None, Ok(output(0, "ok", ""))).unwrap();
        assert_eq!(passed.stdout, "ok");
    }

    #[test]
    fn only_a_missing_release_is_tolerated_by_uninstall() {
        let missing = HelmError::check(
            "helm uninstall web",
            None,
            Ok(output(
                1,
                "",
                "Error: uninstall: Release not loaded: web: release: not found",
            )),
        )
        .unwrap_err();
        assert!(missing.is_release_not_found());
        let refused = HelmError::check(
            "helm uninstall web",
            None,
            Ok(output(1, "", "Error: timed out")),
        )
        .unwrap_err();
        assert!(!refused.is_release_not_found());
        assert_eq!(Problem::from(refused).file, None);
    }

    #[test]
    fn a_failed_test_reports_helm_then_the_hook_logs() {
        let helm = HelmError::check(
            "helm test",
            Some(Path::new("charts/web/templates/tests/t.yaml")),
            Ok(output(1, "", "Error: hook failed")),
        )
        .unwrap_err();
        let problems: Vec<Problem> = HelmTestError {
            helm,
            logs: "logs of web-test/c (current):\nconnection refused".into(),
        }
        .into();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.starts_with("helm test failed"));
        assert_eq!(
            problems[1].message,
            "test hook logs:\nlogs of web-test/c (current):\nconnection refused"
        );
    }
}
