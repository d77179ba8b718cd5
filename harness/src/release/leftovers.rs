//! After uninstall and namespace deletion: is anything of the release still in the
//! cluster? Namespaced objects died with the namespace; cluster-scoped ones do not.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{ReleaseUnderTest, Timed, text_at, timed};
use crate::k8s::{self, KubeError};
use crate::manifest::Manifest;
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum LeftoverError {
    #[error(
        "{kind} `{name}` is still in the cluster after uninstall; the release must remove what it creates (drop `helm.sh/resource-policy: keep`, or delete it in a post-delete hook)"
    )]
    Rendered {
        file: PathBuf,
        kind: String,
        name: String,
    },
    #[error(
        "{object} (created by the release, but not in its rendered manifest, e.g. by a hook) is still in the cluster after uninstall; delete it in a post-delete hook"
    )]
    Unrendered { chart_dir: PathBuf, object: String },
    #[error(transparent)]
    Cluster(#[from] KubeError),
}

impl From<LeftoverError> for Problem {
    fn from(error: LeftoverError) -> Problem {
        let message = error.to_string();
        match error {
            LeftoverError::Rendered { file, .. } => Problem::in_file(file, message),
            LeftoverError::Unrendered { chart_dir, .. } => Problem::in_file(chart_dir, message),
            LeftoverError::Cluster(_) => Problem::new(message),
        }
    }
}

impl ReleaseUnderTest<'_> {
    /// Cluster-scoped objects of the release still present: every one `rendered`
    /// (except CRDs from `crds/`, which helm never deletes by design) and every one
    /// helm's ownership annotation ties to this namespace.
    pub async fn leftovers(&self, rendered: &[Manifest]) -> Timed<Vec<LeftoverError>> {
        timed(async {
            let mut errors = Vec::new();
            let mut reported = BTreeSet::new();
            for manifest in rendered {
                if manifest
                    .source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("crds/"))
                {
                    continue;
                }
                let Some(gvk) = k8s::gvk_of(&manifest.value) else {
                    continue;
                };
                let resolved = match self.kube.resolve(&gvk).await {
                    Ok(Some(resolved)) if resolved.1.scope == kube::discovery::Scope::Cluster => {
                        resolved
                    }
                    Ok(_) => continue,
                    Err(error) => {
                        errors.push(error.into());
                        continue;
                    }
                };
                let name = text_at(&manifest.value, "/metadata/name").unwrap_or_default();
                let api = self.kube.api_for(&resolved, &self.namespace);
                match k8s::request(format!("get {} {name}", gvk.kind), api.get_opt(name)).await {
                    Ok(Some(_)) => {
                        reported.insert(format!("{}/{name}", gvk.kind));
                        errors.push(LeftoverError::Rendered {
                            file: self.chart_file(manifest.source.as_deref()),
                            kind: gvk.kind.clone(),
                            name: name.to_string(),
                        });
                    }
                    Ok(None) => {}
                    Err(error) => errors.push(error.into()),
                }
            }
            match self
                .kube
                .cluster_objects_of_release_namespace(&self.namespace)
                .await
            {
                Ok(objects) => {
                    errors.extend(objects.into_iter().filter(|o| !reported.contains(o)).map(
                        |object| LeftoverError::Unrendered {
                            chart_dir: self.chart.rel_dir.clone(),
                            object,
                        },
                    ))
                }
                Err(error) => errors.push(error.into()),
            }
            errors
        })
        .await
    }
}
