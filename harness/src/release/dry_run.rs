//! Has the API server validate every object of the release, as rendered for the trial's
//! namespace, with a server-side dry-run apply (schema, admission, immutable fields), so
//! a chart the cluster would refuse fails before anything is installed. Rendering is
//! the suites' shared render step; this layer only talks to the cluster.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{ReleaseUnderTest, Timed, text_at, timed};
use crate::deprecations::{ApiStatus, Deprecations};
use crate::k8s::{self, ApplyOutcome, KubeError};
use crate::manifest::Manifest;
use crate::problem::Problem;

/// One object (or the whole render) the dry-run refused, on its template.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error(
        "{kind} `{name}` ({api_version}): the cluster does not serve this kind; the CRD that defines it must be installed first: add it to `prerequisites.crds` in ci/harness.yaml (or ship it in the chart's crds/ directory)"
    )]
    UnknownKind {
        file: PathBuf,
        kind: String,
        name: String,
        api_version: String,
    },
    /// A Kubernetes API the cluster's release no longer serves: no CRD brings it back.
    #[error(
        "{kind} `{name}`: {api_version} {kind} was removed in Kubernetes {removed_in}, so this cluster ({cluster}) does not serve it; {advice}"
    )]
    RemovedApi {
        file: PathBuf,
        kind: String,
        name: String,
        api_version: String,
        /// `1.25`.
        removed_in: String,
        cluster: String,
        /// `use policy/v1`, or what to do when Kubernetes names no replacement.
        advice: String,
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
            DryRunError::UnknownKind { file, .. }
            | DryRunError::RemovedApi { file, .. }
            | DryRunError::Rejected { file, .. }
            | DryRunError::Cluster { file, .. } => Problem::in_file(file, message),
        }
    }
}

impl ReleaseUnderTest<'_> {
    /// Dry-runs every object of `rendered` (the release rendered for this namespace,
    /// CRDs included) and returns what the API server refused. A kind the cluster does
    /// not serve is told apart, by Kubernetes' API `lifecycle` at the cluster's version,
    /// as a removed API (use the replacement) or a missing CRD (install it).
    pub async fn dry_run(
        &self,
        rendered: &[Manifest],
        lifecycle: Option<(&Deprecations, &semver::Version)>,
    ) -> Timed<Vec<DryRunError>> {
        timed(async {
            let mut errors = Vec::new();
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
            for manifest in rendered {
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
                    Ok(ApplyOutcome::UnknownKind) => errors.push(not_served(
                        file,
                        kind,
                        name,
                        text_at(&manifest.value, "/apiVersion")
                            .unwrap_or_default()
                            .to_string(),
                        lifecycle,
                    )),
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
            errors
        })
        .await
    }
}

/// Why the cluster does not serve `api_version` `kind`: removed by Kubernetes at or
/// before the cluster's release, else (or without the lifecycle data) a kind only a
/// CRD defines.
fn not_served(
    file: PathBuf,
    kind: String,
    name: String,
    api_version: String,
    lifecycle: Option<(&Deprecations, &semver::Version)>,
) -> DryRunError {
    let removed = lifecycle.and_then(|(lifecycle, cluster)| {
        match lifecycle.status(&api_version, &kind, cluster) {
            ApiStatus::Removed { since, replacement } => Some((since, replacement, cluster)),
            ApiStatus::Current | ApiStatus::Deprecated { .. } => None,
        }
    });
    match removed {
        Some((since, replacement, cluster)) => {
            let advice = match replacement {
                Some(new) if new.kind == kind => format!("use {}", new.api_version),
                Some(new) => format!("use {new}"),
                None => "render it with an API version the cluster serves (`kubectl api-resources` lists them)".to_string(),
            };
            DryRunError::RemovedApi {
                file,
                kind,
                name,
                api_version,
                removed_in: format!("{}.{}", since.major, since.minor),
                cluster: format!("Kubernetes {cluster}"),
                advice,
            }
        }
        None => DryRunError::UnknownKind {
            file,
            kind,
            name,
            api_version,
        },
    }
}
