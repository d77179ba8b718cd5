//! A command in a container of one of the release's pods, through the API server's
//! `exec` subresource (WebSocket), with stdin fed and stdout and stderr captured
//! separately: what backup-restore uses to dump and load data.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ReleaseUnderTest, Timed, timed};
use crate::problem::Problem;

/// What the command wrote, when it exited 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(
        "cannot run `{command}` in container {container} of pod {pod} (namespace {namespace}): {message}; {}",
        if *simulated { SIMULATED_EXEC } else { "check that the pod is Running and the container exists" }
    )]
    Start {
        namespace: String,
        pod: String,
        container: String,
        command: String,
        message: String,
        simulated: bool,
    },
    #[error(
        "`{command}` in container {container} of pod {pod} failed ({exit}){}; stderr: {}",
        hint.map(|hint| format!("; {hint}")).unwrap_or_default(),
        if output.stderr.trim().is_empty() { "(empty)" } else { output.stderr.trim() }
    )]
    Failed {
        pod: String,
        container: String,
        command: String,
        exit: String,
        /// Why there may be no exit code: the command never ran (pods are simulated).
        hint: Option<&'static str>,
        output: ExecOutput,
    },
    #[error(
        "`{command}` in container {container} of pod {pod} did not finish within {timeout:?}; it may wait for more stdin or hang"
    )]
    TimedOut {
        pod: String,
        container: String,
        command: String,
        timeout: Duration,
    },
}

/// Why exec cannot work in a pod kwok simulates (unless a kwok `ClusterExec` maps it).
const SIMULATED_EXEC: &str = "pods are simulated on the local control plane (kwok), so no container exists to run it in: run this check with --cluster kind";

impl From<ExecError> for Problem {
    fn from(error: ExecError) -> Problem {
        Problem::new(error.to_string())
    }
}

impl ReleaseUnderTest<'_> {
    /// Runs `command` in `container` of `pod`, writes `stdin` to it and closes it, and
    /// waits up to `timeout` for it to exit. A non-zero exit is an error that carries
    /// what it wrote.
    pub async fn exec(
        &self,
        pod: &str,
        container: &str,
        command: &[&str],
        stdin: &[u8],
        timeout: Duration,
    ) -> Timed<Result<ExecOutput, ExecError>> {
        let shown = command.join(" ");
        timed(async {
            match tokio::time::timeout(timeout, self.exec_unbounded(pod, container, command, stdin))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(ExecError::TimedOut {
                    pod: pod.to_string(),
                    container: container.to_string(),
                    command: shown,
                    timeout,
                }),
            }
        })
        .await
    }

    async fn exec_unbounded(
        &self,
        pod: &str,
        container: &str,
        command: &[&str],
        stdin: &[u8],
    ) -> Result<ExecOutput, ExecError> {
        let shown = command.join(" ");
        let start_error = |message: String| ExecError::Start {
            namespace: self.namespace.clone(),
            pod: pod.to_string(),
            container: container.to_string(),
            command: shown.clone(),
            message,
            simulated: self.pods_simulated(),
        };
        let api: Api<Pod> = Api::namespaced(self.kube.client(), &self.namespace);
        let params = AttachParams::default()
            .container(container)
            .stdin(true)
            .stdout(true)
            .stderr(true);
        let mut process = api
            .exec(pod, command.to_vec(), &params)
            .await
            .map_err(|error| start_error(crate::k8s::api_message(&error)))?;
        let (Some(mut writer), Some(mut out), Some(mut err), Some(status)) = (
            process.stdin(),
            process.stdout(),
            process.stderr(),
            process.take_status(),
        ) else {
            return Err(start_error(
                "the API server did not attach stdin, stdout and stderr".into(),
            ));
        };
        // Written while the output is read: a command that echoes as it reads would
        // otherwise block on a full pipe.
        let feed = async move {
            writer.write_all(stdin).await?;
            // The command sees EOF on its stdin only after a shutdown: the writer is
            // half of a pipe kube keeps, so dropping it alone closes nothing.
            writer.shutdown().await
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let (fed, read_out, read_err, status) = tokio::join!(
            feed,
            out.read_to_end(&mut stdout),
            err.read_to_end(&mut stderr),
            status
        );
        for io in [fed.map(drop), read_out.map(drop), read_err.map(drop)] {
            io.map_err(|error| start_error(format!("the stream broke: {error}")))?;
        }
        let _ = process.join().await;
        let output = ExecOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        match exit_of(status.as_ref()) {
            Exit::Success => Ok(output),
            Exit::Code(code) => Err(ExecError::Failed {
                pod: pod.to_string(),
                container: container.to_string(),
                command: shown,
                exit: format!("exit code {code}"),
                hint: None,
                output,
            }),
            Exit::Other(message) => Err(ExecError::Failed {
                pod: pod.to_string(),
                container: container.to_string(),
                command: shown,
                exit: message,
                hint: self.pods_simulated().then_some(SIMULATED_EXEC),
                output,
            }),
        }
    }
}

/// How the command ended, by the `Status` the API server sends last.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    Success,
    Code(i32),
    /// No exit code: the command could not start, or the stream ended without a status.
    Other(String),
}

fn exit_of(status: Option<&Status>) -> Exit {
    let Some(status) = status else {
        return Exit::Other("the connection closed without an exit status".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Exit::Success;
    }
    let code = status
        .details
        .as_ref()
        .and_then(|details| details.causes.as_ref())
        .into_iter()
        .flatten()
        .find(|cause| cause.reason.as_deref() == Some("ExitCode"))
        .and_then(|cause| cause.message.as_deref()?.trim().parse().ok());
    match code {
        Some(code) => Exit::Code(code),
        None => Exit::Other(
            status
                .message
                .clone()
                .unwrap_or_else(|| "failed, no message".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};
    use rstest::rstest;

    fn status(outcome: &str, exit_code: Option<&str>, message: Option<&str>) -> Status {
        Status {
            status: Some(outcome.into()),
            message: message.map(str::to_string),
            details: exit_code.map(|code| StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some(code.into()),
                    ..StatusCause::default()
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        }
    }

    #[rstest]
    #[case::success(Some(status("Success", None, None)), Exit::Success)]
    #[case::non_zero(
        Some(status(
            "Failure",
            Some("3"),
            Some("command terminated with non-zero exit code")
        )),
        Exit::Code(3)
    )]
    #[case::not_started(
        Some(status("Failure", None, Some("executable file not found in $PATH"))),
        Exit::Other("executable file not found in $PATH".into())
    )]
    #[case::no_status(None, Exit::Other("the connection closed without an exit status".into()))]
    fn the_exit_is_read_from_the_final_status(
        #[case] status: Option<Status>,
        #[case] expected: Exit,
    ) {
        assert_eq!(exit_of(status.as_ref()), expected);
    }
}
