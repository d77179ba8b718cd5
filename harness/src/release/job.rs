//! A Job run to completion in the release's namespace, with its pods' logs: what
//! backup-restore uses to run a backup or restore tool next to the release.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};

use super::diagnostics::{self, SIMULATED_LOGS};
use super::{ReleaseUnderTest, Timed, timed};
use crate::k8s::readiness::{self, Readiness};
use crate::k8s::{self, KubeError, Settlement, WaitPolicy};
use crate::problem::Problem;

/// A Job that completed, and its logs (or why there are none).
#[derive(Clone, Debug)]
pub struct JobRun {
    pub name: String,
    pub logs: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot create Job `{name}` in namespace {namespace}: {source}")]
    Create {
        name: String,
        namespace: String,
        source: KubeError,
    },
    #[error("Job `{name}` failed: {reason}; its logs:\n{logs}")]
    Failed {
        name: String,
        reason: String,
        logs: String,
    },
    #[error(
        "Job `{name}` did not complete within {timeout:?}: {reason}; raise `readiness-timeout` in ci/harness.yaml if it is only slow; its logs:\n{logs}"
    )]
    TimedOut {
        name: String,
        timeout: Duration,
        reason: String,
        logs: String,
    },
}

impl From<JobError> for Problem {
    fn from(error: JobError) -> Problem {
        Problem::new(error.to_string())
    }
}

impl ReleaseUnderTest<'_> {
    /// Creates `job` in the namespace and waits, up to the readiness timeout, until it
    /// is Complete or Failed. The Job is left for the namespace deletion to remove, so
    /// diagnostics can still show it.
    pub async fn run_job(&self, job: &Job) -> Timed<Result<JobRun, JobError>> {
        self.run_job_within(job, self.timeout).await
    }

    /// [`Self::run_job`], waiting up to `timeout` (a data step's own).
    pub async fn run_job_within(
        &self,
        job: &Job,
        timeout: Duration,
    ) -> Timed<Result<JobRun, JobError>> {
        timed(async {
            let name = job.metadata.name.clone().unwrap_or_default();
            let api: Api<Job> = Api::namespaced(self.kube.client(), &self.namespace);
            k8s::request(
                format!("create Job {name}"),
                api.create(&PostParams::default(), job),
            )
            .await
            .map_err(|source| JobError::Create {
                name: name.clone(),
                namespace: self.namespace.clone(),
                source,
            })?;
            let completed = |job: Option<&Job>| {
                job.map_or_else(
                    || Readiness::Pending("not created yet".into()),
                    readiness::job,
                )
            };
            let settlement =
                k8s::await_condition(&api, &name, WaitPolicy::within(timeout), completed).await;
            let logs = self.job_logs(&name).await;
            match settlement {
                Settlement::Ready => Ok(JobRun { name, logs }),
                Settlement::Failed(reason) => Err(JobError::Failed { name, reason, logs }),
                Settlement::TimedOut(reason) => Err(JobError::TimedOut {
                    name,
                    timeout,
                    reason,
                    logs,
                }),
            }
        })
        .await
    }

    /// Logs of the Job's pods, which the Job controller names `<job>-<suffix>`.
    async fn job_logs(&self, job: &str) -> String {
        if self.pods_simulated() {
            return SIMULATED_LOGS.to_string();
        }
        let prefix = format!("{job}-");
        diagnostics::logs(self, |pod| pod.starts_with(&prefix)).await
    }
}
