//! Deprecated and removed Kubernetes APIs in every target Kubernetes version of the case,
//! from Kubernetes' own API lifecycle data ([`crate::deprecations`], installed with the
//! pinned kube-apiserver). One finding per object: removed (error) in the first target
//! that no longer serves it, else deprecated (warning).

use super::finding::Finding;
use super::rules::{API_DEPRECATED, API_REMOVED};
use crate::deprecations::{ApiStatus, Deprecations};
use crate::manifest::Manifest;

pub fn check(
    manifests: &[Manifest],
    lifecycle: &Deprecations,
    targets: &[semver::Version],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for manifest in manifests {
        let (Some(api_version), Some(kind)) = (
            manifest.value["apiVersion"].as_str(),
            manifest.value["kind"].as_str(),
        ) else {
            continue;
        };
        let statuses: Vec<(&semver::Version, ApiStatus)> = targets
            .iter()
            .map(|target| (target, lifecycle.status(api_version, kind, target)))
            .collect();
        let removed = statuses
            .iter()
            .find(|(_, status)| matches!(status, ApiStatus::Removed { .. }));
        let deprecated = statuses
            .iter()
            .find(|(_, status)| matches!(status, ApiStatus::Deprecated { .. }));
        if let Some((target, ApiStatus::Removed { since, replacement })) = removed {
            findings.push(Finding::on(
                &API_REMOVED,
                manifest,
                format!(
                    "{api_version} {kind} is not served by Kubernetes {target} (removed in {}.{}){}",
                    since.major,
                    since.minor,
                    use_instead(replacement.as_ref())
                ),
            ));
        } else if let Some((target, ApiStatus::Deprecated { since, replacement })) = deprecated {
            findings.push(Finding::on(
                &API_DEPRECATED,
                manifest,
                format!(
                    "{api_version} {kind} is deprecated in Kubernetes {target} (since {}.{}){}",
                    since.major,
                    since.minor,
                    use_instead(replacement.as_ref())
                ),
            ));
        }
    }
    findings
}

fn use_instead(replacement: Option<&crate::deprecations::Replacement>) -> String {
    replacement.map_or_else(String::new, |r| format!("; use {r}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use serde_json::json;

    fn object(api_version: &str, kind: &str) -> Manifest {
        Manifest {
            source: Some("templates/x.yaml".into()),
            value: json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}),
        }
    }

    fn version(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    /// The real data `tools install kube-apiserver` placed (CI installs it with `--all`).
    fn installed() -> &'static Deprecations {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Deprecations::installed_once(&root)
            .expect("run `chart-harness tools install kube-apiserver`")
    }

    #[test]
    fn a_removed_api_is_an_error_naming_the_first_target_without_it_and_the_replacement() {
        let findings = check(
            &[object("policy/v1beta1", "PodDisruptionBudget")],
            installed(),
            &[version("1.24.0"), version("1.37.2")],
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "api-removed");
        assert_eq!(
            findings[0].message,
            "policy/v1beta1 PodDisruptionBudget is not served by Kubernetes 1.37.2 (removed in 1.25); use policy/v1 PodDisruptionBudget"
        );
    }

    #[test]
    fn a_deprecated_api_is_a_warning_and_a_current_one_nothing() {
        let findings = check(
            &[
                object("resource.k8s.io/v1beta2", "ResourceClaim"),
                object("apps/v1", "Deployment"),
                object("example.com/v1", "Widget"),
            ],
            installed(),
            &[version("1.37.2")],
        );
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["api-deprecated"], "{findings:?}");
    }
}
