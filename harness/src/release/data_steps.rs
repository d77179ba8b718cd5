//! Runs the data steps of `ci/harness.yaml` (`config::data_steps`) against a release:
//! `exec` in the one running pod a selector picks, `job` to completion, `run` on the
//! host with a kubeconfig whose namespace is the trial's. The upgrade suite seeds and
//! verifies with them, and declares its pre-upgrade steps in them; backup-restore will
//! do the same.
//!
//! Only a transient error is retried, until the step's timeout: no ready pod matches
//! yet, an exec that could not start, a refused connection. A definite error (a
//! command that failed, output that differs from `expect`) fails at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::{ExecError, JobError, ReleaseUnderTest, Timed, bounded, timed};
use crate::config::data_steps::{
    DEFAULT_STEP_TIMEOUT, DataStep, ExecStep, JobStep, Stdin, StepAction,
};
use crate::k8s::readiness;
use crate::problem::Problem;
use crate::tools::ProcessSpec;

/// How long to wait after the first attempt of a step that failed transiently; it
/// doubles with each attempt, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(4);

/// The back-off after attempt `number` (from 1): soon at first, since a server that
/// refused a connection is often a moment from listening, then less often.
fn retry_delay(number: u32) -> Duration {
    FIRST_RETRY_DELAY
        .saturating_mul(2u32.saturating_pow(number.saturating_sub(1)))
        .min(MAX_RETRY_DELAY)
}

/// Most characters of a step's output quoted in a message.
const MAX_OUTPUT: usize = 2000;

/// What steps run with besides the release: where files are and what they may take.
pub struct StepEnv<'a> {
    /// Where `run` commands start: the repository root, or a scratch copy of it.
    pub run_dir: &'a Path,
    /// The chart's own directory (the user's), for `stdin-file` and `CHART_DIR`.
    pub chart_dir: &'a Path,
    /// A directory of the trial's own, under the report directory (`WORK_DIR`); the
    /// namespaced kubeconfig for `run` steps is written there.
    pub work_dir: &'a Path,
    /// `data.timeout` of the chart, when set.
    pub chart_timeout: Option<Duration>,
    /// The chart's `ci/harness.yaml`, relative to the repository root, for messages.
    pub settings_file: PathBuf,
    /// More variables for `run` commands (the backup-restore suite's `BACKUP_DIR`).
    pub extra_env: Vec<(String, PathBuf)>,
}

impl StepEnv<'_> {
    /// The step's timeout, and the setting that gave it (for the timed-out message).
    fn timeout_of(&self, step: &DataStep) -> (Duration, String) {
        match (step.timeout, self.chart_timeout) {
            (Some(timeout), _) => (
                timeout,
                format!(
                    "the step's `timeout`; raise it there if `{}` is only slow",
                    step.label
                ),
            ),
            (None, Some(timeout)) => (
                timeout,
                "`data.timeout`; raise it, or set `timeout` on the step".to_string(),
            ),
            (None, None) => (
                DEFAULT_STEP_TIMEOUT,
                "the default step timeout; set `timeout` on the step or `data.timeout`".to_string(),
            ),
        }
    }
}

/// Why a step failed, on the chart's `ci/harness.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(
        "`{label}`: {selector} matches {} running pods ({}); an exec step runs in exactly one: narrow `pod`, for example with statefulset.kubernetes.io/pod-name",
        pods.len(),
        pods.join(", ")
    )]
    SeveralPods {
        label: String,
        selector: String,
        pods: Vec<String>,
    },
    #[error("`{label}`: {message}")]
    Container { label: String, message: String },
    #[error("`{label}`: {source}")]
    Exec { label: String, source: ExecError },
    #[error("`{label}`: {source}")]
    Job { label: String, source: JobError },
    #[error("`{label}`: {message}")]
    CronJob { label: String, message: String },
    #[error(
        "`{label}`: `{command}` exited with {exit}; stdout: {}; stderr: {}",
        shown(stdout),
        shown(stderr)
    )]
    Run {
        label: String,
        command: String,
        exit: String,
        stdout: String,
        stderr: String,
    },
    #[error("`{label}`: cannot prepare the step: {message}")]
    Setup { label: String, message: String },
    #[error("`{label}` did not succeed within {timeout:?} ({which}); the last attempt: {last}")]
    TimedOut {
        label: String,
        timeout: Duration,
        which: String,
        last: String,
    },
    #[error(
        "`{label}`: the output differs:\n  expected: {wanted}\n  got: {}",
        shown(output)
    )]
    Mismatch {
        label: String,
        wanted: String,
        output: String,
    },
}

impl StepError {
    /// The step ran and its check failed, so what it looks for is not there: output
    /// other than expected, a command or a Job that failed. Not a step that could not
    /// run (no ready pod in time, a bad selector).
    pub fn is_definite_check_failure(&self) -> bool {
        matches!(
            self,
            StepError::Mismatch { .. }
                | StepError::Run { .. }
                | StepError::Exec {
                    source: ExecError::Failed { .. },
                    ..
                }
                | StepError::Job {
                    source: JobError::Failed { .. },
                    ..
                }
        )
    }
}

fn shown(text: &str) -> String {
    let text = text.trim_end();
    if text.is_empty() {
        "(empty)".to_string()
    } else {
        format!("{:?}", bounded(text, MAX_OUTPUT))
    }
}

/// One attempt's failure: retried until the timeout, or final.
enum Attempt {
    Transient(String),
    Definite(StepError),
}

impl ReleaseUnderTest<'_> {
    /// Runs `step` until it succeeds, fails definitely or runs out of its timeout;
    /// returns its output (stdout, or a Job's logs), checked against its `expect`.
    pub async fn run_step(
        &self,
        step: &DataStep,
        env: &StepEnv<'_>,
    ) -> Timed<Result<String, Problem>> {
        let ran = self.attempt_step(step, env).await;
        Timed {
            value: ran
                .value
                .map_err(|error| Problem::in_file(&env.settings_file, error.to_string())),
            elapsed: ran.elapsed,
        }
    }

    /// [`Self::run_step`] with the error as it is, for a caller that tells a definite
    /// failure (the data is not there) from a step that could not run.
    pub async fn attempt_step(
        &self,
        step: &DataStep,
        env: &StepEnv<'_>,
    ) -> Timed<Result<String, StepError>> {
        timed(self.run_step_unrecorded(step, env)).await
    }

    async fn run_step_unrecorded(
        &self,
        step: &DataStep,
        env: &StepEnv<'_>,
    ) -> Result<String, StepError> {
        let (timeout, which) = env.timeout_of(step);
        let deadline = Instant::now() + timeout;
        let mut attempt_number = 0u32;
        let output = loop {
            attempt_number += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            // Boxed: each attempt's future is large (an exec's streams, a Job's wait),
            // and a debug build's worker stack is not.
            let attempt = match &step.action {
                StepAction::Exec(exec) => Box::pin(self.exec_step(step, exec, env, left)).await,
                StepAction::Job(job) => {
                    Box::pin(self.job_step(step, job, attempt_number, left)).await
                }
                StepAction::Run(command) => Box::pin(self.run_host(step, command, env, left)).await,
            };
            match attempt {
                Ok(output) => break output,
                Err(Attempt::Definite(error)) => return Err(error),
                Err(Attempt::Transient(last)) => {
                    let delay = retry_delay(attempt_number);
                    if Instant::now() + delay >= deadline {
                        return Err(StepError::TimedOut {
                            label: step.label.clone(),
                            timeout,
                            which,
                            last,
                        });
                    }
                    crate::activity::waiting_for(|| format!("{}: {last}", step.label));
                    tokio::time::sleep(delay).await;
                }
            }
        };
        match step
            .expect
            .as_ref()
            .and_then(|expect| expect.mismatch(&output))
        {
            Some(wanted) => Err(StepError::Mismatch {
                label: step.label.clone(),
                wanted,
                output,
            }),
            None => Ok(output),
        }
    }

    async fn exec_step(
        &self,
        step: &DataStep,
        exec: &ExecStep,
        env: &StepEnv<'_>,
        left: Duration,
    ) -> Result<String, Attempt> {
        let label = &step.label;
        let selector = exec.pod.label_selector();
        let api: Api<Pod> = Api::namespaced(self.kube.client(), &self.namespace);
        let pods = crate::k8s::request(
            format!("list pods {selector}"),
            api.list(&ListParams::default().labels(&selector)),
        )
        .await
        .map_err(|error| Attempt::Transient(error.to_string()))?;
        let live: Vec<&Pod> = pods
            .items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .collect();
        let ready: Vec<&Pod> = live
            .iter()
            .copied()
            .filter(|pod| {
                pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    && readiness::pod(pod).is_ready()
            })
            .collect();
        let pod = match ready.as_slice() {
            [pod] => *pod,
            [] => {
                let seen: Vec<String> = live
                    .iter()
                    .map(|pod| {
                        let phase = pod
                            .status
                            .as_ref()
                            .and_then(|status| status.phase.clone())
                            .unwrap_or_default();
                        format!("{} ({phase}, not ready)", name_of(pod))
                    })
                    .collect();
                return Err(Attempt::Transient(format!(
                    "no ready pod matches `{selector}` in namespace {} (found: {})",
                    self.namespace,
                    if seen.is_empty() {
                        "none".to_string()
                    } else {
                        seen.join(", ")
                    }
                )));
            }
            several => {
                return Err(Attempt::Definite(StepError::SeveralPods {
                    label: label.clone(),
                    selector: format!("`{selector}`"),
                    pods: several.iter().map(|pod| name_of(pod)).collect(),
                }));
            }
        };
        let containers: Vec<String> = pod
            .spec
            .iter()
            .flat_map(|spec| spec.containers.iter().map(|c| c.name.clone()))
            .collect();
        let container = match (&exec.container, containers.as_slice()) {
            (Some(name), names) if names.contains(name) => name.clone(),
            (Some(name), names) => {
                return Err(Attempt::Definite(StepError::Container {
                    label: label.clone(),
                    message: format!(
                        "pod {} has no container `{name}`; its containers: {}",
                        name_of(pod),
                        names.join(", ")
                    ),
                }));
            }
            (None, [only]) => only.clone(),
            (None, names) => {
                return Err(Attempt::Definite(StepError::Container {
                    label: label.clone(),
                    message: format!(
                        "pod {} has {} containers ({}); name one with `container`",
                        name_of(pod),
                        names.len(),
                        names.join(", ")
                    ),
                }));
            }
        };
        let stdin = match &exec.stdin {
            Stdin::None => Vec::new(),
            Stdin::Text(text) => text.clone().into_bytes(),
            Stdin::File(file) => std::fs::read(env.chart_dir.join(file)).map_err(|error| {
                Attempt::Definite(StepError::Setup {
                    label: label.clone(),
                    message: format!("cannot read `stdin-file` {}: {error}", file.display()),
                })
            })?,
        };
        let argv: Vec<&str> = exec.command.iter().map(String::as_str).collect();
        let ran = self
            .exec(&name_of(pod), &container, &argv, &stdin, left)
            .await;
        match ran.value {
            Ok(output) => Ok(output.stdout),
            Err(error @ ExecError::Start { .. }) => Err(Attempt::Transient(error.to_string())),
            Err(ExecError::Failed { ref output, .. })
                if refused_connection(&output.stdout) || refused_connection(&output.stderr) =>
            {
                Err(Attempt::Transient(ran.value.unwrap_err().to_string()))
            }
            Err(error) => Err(Attempt::Definite(StepError::Exec {
                label: label.clone(),
                source: error,
            })),
        }
    }

    async fn job_step(
        &self,
        step: &DataStep,
        job: &JobStep,
        attempt_number: u32,
        left: Duration,
    ) -> Result<String, Attempt> {
        let label = &step.label;
        let definite = |message: String| {
            Attempt::Definite(StepError::CronJob {
                label: label.clone(),
                message,
            })
        };
        let (base_name, mut manifest) = match job {
            JobStep::Manifest(value) => {
                let job: Job = serde_json::from_value(value.clone()).map_err(|error| {
                    definite(format!("`job.manifest` is not a valid Job: {error}"))
                })?;
                (job.metadata.name.clone().unwrap_or_default(), job)
            }
            JobStep::FromCronJob(name) => {
                let name = name.replace("$RELEASE_NAME", &self.name);
                let api: Api<CronJob> = Api::namespaced(self.kube.client(), &self.namespace);
                let cron = crate::k8s::request(format!("get CronJob {name}"), api.get_opt(&name))
                    .await
                    .map_err(|error| Attempt::Transient(error.to_string()))?;
                let Some(cron) = cron else {
                    let all =
                        crate::k8s::request("list CronJobs", api.list(&ListParams::default()))
                            .await
                            .map(|list| {
                                list.items
                                    .iter()
                                    .filter_map(|c| c.metadata.name.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default();
                    return Err(definite(format!(
                        "the release has no CronJob `{name}` in namespace {} (it has: {}); `$RELEASE_NAME` in `from-cronjob` stands for the release name",
                        self.namespace,
                        if all.is_empty() {
                            "none".to_string()
                        } else {
                            all
                        }
                    )));
                };
                let template = cron.spec.job_template;
                let mut job = Job {
                    spec: template.spec,
                    ..Job::default()
                };
                job.metadata.labels = template.metadata.and_then(|meta| meta.labels);
                (name, job)
            }
        };
        // Unique per step and attempt, since seed and verify may run the same Job and a
        // verify runs more than once per trial.
        let suffix = format!("{}{attempt_number}", unique_suffix());
        let keep = 63usize
            .saturating_sub(suffix.len() + 1)
            .min(base_name.len());
        manifest.metadata.name = Some(format!(
            "{}-{suffix}",
            base_name[..keep].trim_end_matches('-')
        ));
        manifest.metadata.namespace = Some(self.namespace.clone());
        match self.run_job_within(&manifest, left).await.value {
            Ok(run) => Ok(run.logs),
            Err(error) => Err(Attempt::Definite(StepError::Job {
                label: label.clone(),
                source: error,
            })),
        }
    }

    async fn run_host(
        &self,
        step: &DataStep,
        command: &str,
        env: &StepEnv<'_>,
        left: Duration,
    ) -> Result<String, Attempt> {
        let label = &step.label;
        let setup = |message: String| {
            Attempt::Definite(StepError::Setup {
                label: label.clone(),
                message,
            })
        };
        let kubeconfig = self.namespaced_kubeconfig(env.work_dir).map_err(setup)?;
        let mut spec = ProcessSpec::new("sh", left)
            .args(["-c", command])
            .current_dir(env.run_dir)
            .env("KUBECONFIG", &kubeconfig)
            .env("NAMESPACE", &self.namespace)
            .env("RELEASE_NAME", &self.name)
            .env("CHART_NAME", &self.chart.name)
            .env("CHART_DIR", env.chart_dir)
            .env("WORK_DIR", env.work_dir);
        for (name, value) in &env.extra_env {
            spec = spec.env(name, value);
        }
        let output = crate::tools::process::run(&spec)
            .await
            .map_err(|error| match error {
                // The step's deadline: the loop reports it with its setting.
                crate::tools::ToolError::TimedOut { .. } => Attempt::Transient(format!(
                    "`{command}` was still running at the step's deadline and was killed with its process group"
                )),
                error => Attempt::Transient(error.to_string()),
            })?;
        if output.success() {
            return Ok(output.stdout);
        }
        if refused_connection(&output.stderr) || refused_connection(&output.stdout) {
            return Err(Attempt::Transient(format!(
                "`{command}` could not connect: {}",
                output.stderr.trim()
            )));
        }
        Err(Attempt::Definite(StepError::Run {
            label: label.clone(),
            command: command.to_string(),
            exit: output.status.code().map_or_else(
                || "a signal".to_string(),
                |code| format!("exit code {code}"),
            ),
            stdout: output.stdout,
            stderr: output.stderr,
        }))
    }

    /// The cluster's kubeconfig with its context's namespace set to the trial's, written
    /// once into `dir`, so plain `kubectl` in a `run` step acts on the trial's namespace.
    fn namespaced_kubeconfig(&self, dir: &Path) -> Result<PathBuf, String> {
        let path = dir.join("kubeconfig");
        if path.is_file() {
            return Ok(path);
        }
        let mut config =
            kube::config::Kubeconfig::read_from(&self.cluster.kubeconfig).map_err(|error| {
                format!("cannot read {}: {error}", self.cluster.kubeconfig.display())
            })?;
        let current = self
            .cluster
            .context
            .clone()
            .or_else(|| config.current_context.clone())
            .ok_or_else(|| "the cluster's kubeconfig has no current context".to_string())?;
        for named in &mut config.contexts {
            if named.name == current
                && let Some(context) = named.context.as_mut()
            {
                context.namespace = Some(self.namespace.clone());
            }
        }
        config.current_context = Some(current);
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        // JSON is YAML, and kubectl reads either.
        let text = serde_json::to_string(&config).map_err(|error| error.to_string())?;
        write_private(&path, &text)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        Ok(path)
    }
}

/// Written readable by the user alone: a kubeconfig holds credentials.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// A refused connection is the server not listening yet: worth another attempt.
fn refused_connection(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("connection refused") || lower.contains("could not connect")
}

/// A few base-36 digits from the clock, so Jobs of one trial get distinct names.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut n = (nanos % 36u128.pow(5)) as u64;
    let mut out = String::new();
    for _ in 0..5 {
        let digit = (n % 36) as u32;
        out.push(char::from_digit(digit, 36).unwrap_or('0'));
        n /= 36;
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(
        "Could not connect to Redis at 127.0.0.1:6379: Connection refused",
        true
    )]
    #[case("dial tcp 10.0.0.1:5432: connect: connection refused", true)]
    #[case("ERR unknown command 'GETT'", false)]
    fn only_a_refused_connection_is_transient(#[case] text: &str, #[case] transient: bool) {
        assert_eq!(refused_connection(text), transient);
    }

    #[rstest]
    #[case(1, 500)]
    #[case(2, 1000)]
    #[case(3, 2000)]
    #[case(4, 4000)]
    #[case(40, 4000)]
    fn retries_back_off_to_a_ceiling(#[case] attempt: u32, #[case] millis: u64) {
        assert_eq!(retry_delay(attempt), Duration::from_millis(millis));
    }

    #[test]
    fn output_is_quoted_or_called_empty() {
        assert_eq!(shown("  \n"), "(empty)");
        assert_eq!(shown("hello\n"), "\"hello\"");
    }
}
