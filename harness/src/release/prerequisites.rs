//! What a chart needs in the cluster before it installs (`prerequisites` in
//! ci/harness.yaml): CRDs applied and Established, then charts installed into the
//! trial's namespace, in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use serde_json::Value;

use super::helm_steps::HelmError;
use super::{CLEANUP_TIMEOUT, ReleaseUnderTest, Timed, text_at, timed};
use crate::config::chart_settings::Prerequisites;
use crate::k8s::{self, ApplyOutcome, KubeError, Settlement, WaitPolicy, naming, readiness};
use crate::manifest;
use crate::problem::Problem;

/// One prerequisite that could not be put in place, on the file that names it.
#[derive(Debug, thiserror::Error)]
pub enum PrerequisiteError {
    #[error(
        "cannot read this CRD file: {source}; check its path under `prerequisites.crds` in ci/harness.yaml"
    )]
    Unreadable {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{message}")]
    Malformed {
        file: PathBuf,
        line: Option<u64>,
        message: String,
    },
    #[error("{kind} `{name}`: the cluster does not serve this kind")]
    UnknownKind {
        file: PathBuf,
        kind: String,
        name: String,
    },
    #[error("{kind} `{name}` was rejected by the API server: {message}")]
    Rejected {
        file: PathBuf,
        kind: String,
        name: String,
        message: String,
    },
    #[error("{source}")]
    Cluster { file: PathBuf, source: KubeError },
    #[error(
        "CustomResourceDefinition `{name}` was not Established within {timeout:?}; check its schema"
    )]
    NotEstablished {
        file: PathBuf,
        name: String,
        timeout: Duration,
    },
    #[error(
        "cannot write the values of prerequisite {}: {source}; check that the temporary directory is writable",
        chart.display()
    )]
    ValuesFile {
        chart: PathBuf,
        source: std::io::Error,
    },
    /// The install failed; the helm error is on ci/harness.yaml, which names the chart.
    #[error(transparent)]
    Chart(HelmError),
}

impl From<PrerequisiteError> for Problem {
    fn from(error: PrerequisiteError) -> Problem {
        let message = error.to_string();
        match error {
            PrerequisiteError::Unreadable { file, .. }
            | PrerequisiteError::UnknownKind { file, .. }
            | PrerequisiteError::Rejected { file, .. }
            | PrerequisiteError::Cluster { file, .. }
            | PrerequisiteError::NotEstablished { file, .. } => Problem::in_file(file, message),
            PrerequisiteError::Malformed { file, line, .. } => {
                Problem::in_file(file, message).at_line(line)
            }
            PrerequisiteError::ValuesFile { .. } => Problem::new(message),
            PrerequisiteError::Chart(helm) => helm.into(),
        }
    }
}

/// The prerequisite releases installed (to uninstall later, also when one failed) and
/// what went wrong.
#[derive(Debug, Default)]
pub struct PrerequisiteReleases {
    pub releases: Vec<String>,
    pub errors: Vec<PrerequisiteError>,
}

impl ReleaseUnderTest<'_> {
    /// Applies the CRDs and waits until they are Established; then, only if all are,
    /// installs the charts in order and stops at the first that fails.
    pub async fn install_prerequisites(
        &self,
        wanted: &Prerequisites,
    ) -> Timed<PrerequisiteReleases> {
        timed(async {
            let mut installed = PrerequisiteReleases {
                errors: self.apply_crds(&wanted.crds).await,
                ..PrerequisiteReleases::default()
            };
            if !installed.errors.is_empty() {
                return installed;
            }
            let settings_file = self.chart.rel_dir.join("ci/harness.yaml");
            for prerequisite in &wanted.charts {
                let dir = self.chart.dir.join(&prerequisite.chart);
                let release = naming::label_value(
                    &dir.file_name()
                        .map(|n| n.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_else(|| "prerequisite".into()),
                );
                let values_file = match write_values(&prerequisite.values) {
                    Ok(file) => file,
                    Err(source) => {
                        installed.errors.push(PrerequisiteError::ValuesFile {
                            chart: prerequisite.chart.clone(),
                            source,
                        });
                        break;
                    }
                };
                let files = vec![values_file.path().to_path_buf()];
                let outcome = self
                    .helm
                    .install(&self.target(&release), &dir, &files, &[], self.timeout)
                    .await;
                installed.releases.push(release);
                let what = format!(
                    "installing prerequisite chart {}",
                    prerequisite.chart.display()
                );
                if let Err(error) = HelmError::check(what, Some(&settings_file), outcome) {
                    installed.errors.push(PrerequisiteError::Chart(error));
                    break;
                }
            }
            installed
        })
        .await
    }

    async fn apply_crds(&self, files: &[PathBuf]) -> Vec<PrerequisiteError> {
        let mut errors = Vec::new();
        let mut crds = Vec::new();
        for file in files {
            let shown = self.chart.rel_dir.join(file);
            let text = match crate::files::read_to_string(&self.chart.dir.join(file)) {
                Ok(text) => text,
                Err(source) => {
                    errors.push(PrerequisiteError::Unreadable {
                        file: shown,
                        source,
                    });
                    continue;
                }
            };
            let (documents, parse_problems) = manifest::parse(&text, Path::new(""));
            errors.extend(
                parse_problems
                    .into_iter()
                    .map(|p| PrerequisiteError::Malformed {
                        file: shown.clone(),
                        line: p.line,
                        message: p.message,
                    }),
            );
            for document in documents {
                let name = text_at(&document.value, "/metadata/name")
                    .unwrap_or_default()
                    .to_string();
                let kind = text_at(&document.value, "/kind")
                    .unwrap_or_default()
                    .to_string();
                let file = shown.clone();
                match self
                    .kube
                    .apply(&document.value, &self.namespace, false)
                    .await
                {
                    Ok(ApplyOutcome::Applied) if kind == "CustomResourceDefinition" => {
                        crds.push((file, name));
                    }
                    Ok(ApplyOutcome::Applied) => {}
                    Ok(ApplyOutcome::UnknownKind) => {
                        errors.push(PrerequisiteError::UnknownKind { file, kind, name })
                    }
                    Ok(ApplyOutcome::Rejected(message)) => {
                        errors.push(PrerequisiteError::Rejected {
                            file,
                            kind,
                            name,
                            message,
                        })
                    }
                    Err(source) => errors.push(PrerequisiteError::Cluster { file, source }),
                }
            }
        }
        let api: Api<CustomResourceDefinition> = Api::all(self.kube.client());
        for (file, name) in crds {
            let policy = WaitPolicy::within(CLEANUP_TIMEOUT);
            match k8s::await_condition(&api, &name, policy, readiness::crd_established).await {
                Settlement::Ready => {}
                _ => errors.push(PrerequisiteError::NotEstablished {
                    file,
                    name,
                    timeout: CLEANUP_TIMEOUT,
                }),
            }
        }
        errors
    }
}

fn write_values(values: &BTreeMap<String, Value>) -> std::io::Result<tempfile::NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix("chart-harness-prerequisite-")
        .suffix(".yaml")
        .tempfile()?;
    // JSON is YAML, so helm reads it as it is.
    std::fs::write(
        file.path(),
        serde_json::to_string_pretty(values).expect("JSON values serialize"),
    )?;
    Ok(file)
}
