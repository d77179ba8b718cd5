//! Renders the chart for the trial's namespace and has the API server validate every
//! object with a server-side dry-run apply (schema, admission, immutable fields), so a
//! chart the cluster would refuse fails before anything is installed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{ReleaseUnderTest, Timed, text_at, timed};
use crate::k8s::{self, ApplyOutcome, KubeError};
use crate::manifest::{self, Manifest};
use crate::problem::Problem;
use crate::tools::{RenderRequest, ToolError};

/// One object (or the whole render) the dry-run refused, on its template.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("helm cannot render the chart: {message}")]
    Render {
        file: PathBuf,
        line: Option<u64>,
        message: String,
    },
    #[error(transparent)]
    Helm(#[from] ToolError),
    /// A rendered document that is not a usable object; the problem names the file.
    #[error("{0}")]
    Malformed(Problem),
    #[error(
        "{kind} `{name}` ({api_version}): the cluster does not serve this kind; the CRD that defines it must be installed first: add it to `prerequisites.crds` in ci/harness.yaml (or ship it in the chart's crds/ directory)"
    )]
    UnknownKind {
        file: PathBuf,
        kind: String,
        name: String,
        api_version: String,
    },
    #[error("{kind} `{name}` was rejected by the API server: {message}")]
    Rejected {
        file: PathBuf,
        kind: String,
        name: String,
        message: String,
    },
    #[error("{kind} `{name}`: {source}")]
    Cluster {
        file: PathBuf,
        kind: String,
        name: String,
        source: KubeError,
    },
}

impl From<DryRunError> for Problem {
    fn from(error: DryRunError) -> Problem {
        let message = error.to_string();
        match error {
            DryRunError::Render { file, line, .. } => Problem::in_file(file, message).at_line(line),
            DryRunError::Helm(_) => Problem::new(message),
            DryRunError::Malformed(problem) => problem,
            DryRunError::UnknownKind { file, .. }
            | DryRunError::Rejected { file, .. }
            | DryRunError::Cluster { file, .. } => Problem::in_file(file, message),
        }
    }
}

/// The chart as rendered for this namespace (with CRDs), and what the API server refused.
#[derive(Debug, Default)]
pub struct DryRun {
    pub rendered: Vec<Manifest>,
    pub errors: Vec<DryRunError>,
}

impl ReleaseUnderTest<'_> {
    pub async fn dry_run(&self) -> Timed<DryRun> {
        timed(async {
            let rendered = match self.render().await {
                Ok(rendered) => rendered,
                Err(error) => {
                    return DryRun {
                        rendered: Vec::new(),
                        errors: vec![error],
                    };
                }
            };
            let (rendered, problems) = manifest::parse(&rendered, &self.chart.rel_dir);
            let mut errors: Vec<DryRunError> =
                problems.into_iter().map(DryRunError::Malformed).collect();
            // Custom resources of a CRD the chart itself brings cannot be validated
            // before that CRD exists; a dry-run never creates it.
            let own_kinds: BTreeSet<(&str, &str)> = rendered
                .iter()
                .filter(|m| text_at(&m.value, "/kind") == Some("CustomResourceDefinition"))
                .filter_map(|m| {
                    Some((
                        text_at(&m.value, "/spec/group")?,
                        text_at(&m.value, "/spec/names/kind")?,
                    ))
                })
                .collect();
            for manifest in &rendered {
                let Some(gvk) = k8s::gvk_of(&manifest.value) else {
                    continue;
                };
                if own_kinds.contains(&(gvk.group.as_str(), gvk.kind.as_str())) {
                    continue;
                }
                let name = text_at(&manifest.value, "/metadata/name")
                    .unwrap_or_default()
                    .to_string();
                let file = self.chart_file(manifest.source.as_deref());
                let kind = gvk.kind.clone();
                match self
                    .kube
                    .apply(&manifest.value, &self.namespace, true)
                    .await
                {
                    Ok(ApplyOutcome::Applied) => {}
                    Ok(ApplyOutcome::UnknownKind) => errors.push(DryRunError::UnknownKind {
                        file,
                        kind,
                        name,
                        api_version: text_at(&manifest.value, "/apiVersion")
                            .unwrap_or_default()
                            .to_string(),
                    }),
                    Ok(ApplyOutcome::Rejected(message)) => errors.push(DryRunError::Rejected {
                        file,
                        kind,
                        name,
                        message,
                    }),
                    Err(source) => errors.push(DryRunError::Cluster {
                        file,
                        kind,
                        name,
                        source,
                    }),
                }
            }
            DryRun { rendered, errors }
        })
        .await
    }

    /// `helm template --include-crds` of the release for this namespace: the one
    /// place the lifecycle renders, so it can move to the shared render step.
    async fn render(&self) -> Result<String, DryRunError> {
        let extra = ["--include-crds".to_string()];
        let request = RenderRequest {
            chart_dir: &self.chart.dir,
            release: &self.name,
            namespace: &self.namespace,
            values_files: &self.values_files,
            kube_version: Some(self.kube_version),
            extra_args: &extra,
            timeout: self.timeout,
        };
        self.helm
            .template(&request)
            .await?
            .map_err(|failure| DryRunError::Render {
                file: self.chart_file(failure.template.as_deref()),
                line: failure.line,
                message: failure.message,
            })
    }
}
