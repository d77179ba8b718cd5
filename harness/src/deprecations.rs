//! Which Kubernetes API versions are deprecated or removed at a target Kubernetes version,
//! from Kubernetes' own record of them.
//!
//! The record is the `prerelease-lifecycle` functions Kubernetes generates into every
//! group version of `k8s.io/api` (`APILifecycleDeprecated`, `APILifecycleRemoved`,
//! `APILifecycleReplacement` per kind), with each directory's `register.go` naming the
//! API group. `tools install kube-apiserver` installs them from `k8s.io/api` at the pinned
//! Kubernetes release into `.tools/share/kube-apiserver/files/` (`[tools.kube-apiserver.data]`
//! in `ci/tools.toml`); [`Deprecations::installed`] finds them there or in the machine-wide
//! tool cache.
//!
//! The API, for a rule over rendered manifests:
//!
//! ```no_run
//! # fn main() -> Result<(), chart_harness::deprecations::DeprecationsError> {
//! use chart_harness::deprecations::{ApiStatus, Deprecations};
//! let apis = Deprecations::installed(std::path::Path::new("."))?;
//! let target = semver::Version::new(1, 37, 2);
//! match apis.status("policy/v1beta1", "PodDisruptionBudget", &target) {
//!     ApiStatus::Removed { since, replacement } => { /* a problem */ }
//!     ApiStatus::Deprecated { since, replacement } => { /* a warning */ }
//!     ApiStatus::Current => {}
//! }
//! # Ok(()) }
//! ```
//!
//! Only Kubernetes' own APIs are known: a custom resource's group is someone else's to
//! deprecate, and nothing in a chart says which version of that operator a cluster runs,
//! so its objects are [`ApiStatus::Current`]. `k8s.io/api` drops a removed API's types
//! (and their lifecycle) some releases after the removal, so the pins take it at older
//! versions too (v0.25 for PodSecurityPolicy, v0.35 for `autoscaling/v2beta1` and
//! `v2beta2`); APIs dropped before v0.25 (alpha versions such as `settings.k8s.io/v1alpha1`)
//! and APIs that never had lifecycle functions (those gone before Kubernetes 1.19
//! generated them) are unknown, and so Current. The two groups the API server serves
//! from other modules come from those: `apiextensions.k8s.io`
//! (`k8s.io/apiextensions-apiserver`) and `apiregistration.k8s.io` (`k8s.io/kube-aggregator`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::tools::pins::ToolData;
use crate::tools::{Installed, ToolError};

/// The pinned tool whose data holds the API lifecycle.
pub const LIFECYCLE_TOOL: &str = "kube-apiserver";

/// The generated lifecycle file of one group version.
const LIFECYCLE_FILE: &str = "zz_generated.prerelease-lifecycle.go";

/// What a target Kubernetes version does with an API version and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiStatus {
    /// Served and not deprecated (or not a Kubernetes API at all).
    Current,
    /// Still served, deprecated since this release.
    Deprecated {
        since: semver::Version,
        replacement: Option<Replacement>,
    },
    /// No longer served since this release: applying the object fails.
    Removed {
        since: semver::Version,
        replacement: Option<Replacement>,
    },
}

/// The API version and kind to move to, as Kubernetes names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub api_version: String,
    pub kind: String,
}

impl fmt::Display for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version, self.kind)
    }
}

/// The lifecycle data could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum DeprecationsError {
    #[error(
        "the Kubernetes API lifecycle data is not installed ({dir} is missing); run `chart-harness tools install {LIFECYCLE_TOOL}`"
    )]
    NotInstalled { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: {message}; expected k8s.io/api's generated form, reinstall it with `chart-harness tools install --force {LIFECYCLE_TOOL}`"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// One kind's lifecycle, as its group version's generated functions say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Lifecycle {
    deprecated: Option<semver::Version>,
    removed: Option<semver::Version>,
    replacement: Option<Replacement>,
}

/// Every known Kubernetes API version and kind with its lifecycle.
#[derive(Clone, Debug)]
pub struct Deprecations {
    /// (apiVersion, kind) → lifecycle.
    kinds: BTreeMap<(String, String), Lifecycle>,
}

impl Deprecations {
    /// The lifecycle data `tools install kube-apiserver` placed for the repository at
    /// `repo_root` (its `.tools`, else the machine-wide cache).
    pub fn installed(repo_root: &Path) -> Result<Deprecations, DeprecationsError> {
        let data_dir = Installed::open(repo_root)?.data_dir(LIFECYCLE_TOOL)?;
        Deprecations::read_dir(&data_dir.join(ToolData::FILES_DIR))
    }

    /// [`Deprecations::installed`], read once per process: it is the same for every
    /// trial, and reading it parses a few hundred generated Go files. The error is kept
    /// as text, for every trial that asks to say.
    pub fn installed_once(repo_root: &Path) -> Result<&'static Deprecations, String> {
        static DATA: std::sync::OnceLock<Result<Deprecations, String>> = std::sync::OnceLock::new();
        DATA.get_or_init(|| Deprecations::installed(repo_root).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads every group version directory under `dir` (`tools install` lays them out
    /// as `<module>/<module version>/<path in the module>/<group>/<version>/`): its
    /// lifecycle file and `register.go`. Directories are read oldest module version
    /// first, so a newer one's word on a kind wins and an older one keeps the kinds a
    /// newer one dropped.
    pub fn read_dir(dir: &Path) -> Result<Deprecations, DeprecationsError> {
        if !dir.is_dir() {
            return Err(DeprecationsError::NotInstalled {
                dir: dir.to_path_buf(),
            });
        }
        let mut group_versions = Vec::new();
        collect_group_versions(dir, None, &mut group_versions)?;
        group_versions.sort();
        let mut kinds = BTreeMap::new();
        for (_, version_dir) in group_versions {
            read_group_version(&version_dir, &mut kinds)?;
        }
        if kinds.is_empty() {
            return Err(DeprecationsError::NotInstalled {
                dir: dir.join(format!("<module>/<version>/.../{LIFECYCLE_FILE}")),
            });
        }
        Ok(Deprecations { kinds })
    }

    /// What Kubernetes `target` does with objects of `api_version` and `kind`. Releases
    /// compare by major and minor: 1.25.0-rc.1 has the removals of 1.25.
    pub fn status(&self, api_version: &str, kind: &str, target: &semver::Version) -> ApiStatus {
        let Some(lifecycle) = self.kinds.get(&(api_version.to_string(), kind.to_string())) else {
            return ApiStatus::Current;
        };
        let reached = |release: &Option<semver::Version>| {
            release
                .as_ref()
                .filter(|r| (target.major, target.minor) >= (r.major, r.minor))
                .cloned()
        };
        let replacement = lifecycle.replacement.clone();
        if let Some(since) = reached(&lifecycle.removed) {
            ApiStatus::Removed { since, replacement }
        } else if let Some(since) = reached(&lifecycle.deprecated) {
            ApiStatus::Deprecated { since, replacement }
        } else {
            ApiStatus::Current
        }
    }
}

fn read(path: &Path) -> Result<String, DeprecationsError> {
    crate::files::read_to_string(path).map_err(|source| DeprecationsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every directory under `dir` holding a lifecycle file, with the module version it
/// lies under (the first directory named like `v0.37.2` on the way down).
fn collect_group_versions(
    dir: &Path,
    module_version: Option<&semver::Version>,
    found: &mut Vec<(Option<semver::Version>, PathBuf)>,
) -> Result<(), DeprecationsError> {
    if dir.join(LIFECYCLE_FILE).is_file() {
        found.push((module_version.cloned(), dir.to_path_buf()));
    }
    for sub in subdirs(dir)? {
        let named = sub
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(crate::tools::pins::parse_version);
        collect_group_versions(&sub, module_version.or(named.as_ref()), found)?;
    }
    Ok(())
}

/// Adds the kinds of one group version directory (`apps/v1beta1`) to `kinds`; a
/// directory without a lifecycle file (a GA version of old) adds none.
fn read_group_version(
    version_dir: &Path,
    kinds: &mut BTreeMap<(String, String), Lifecycle>,
) -> Result<(), DeprecationsError> {
    let lifecycle_path = version_dir.join(LIFECYCLE_FILE);
    if !lifecycle_path.is_file() {
        return Ok(());
    }
    let register_path = version_dir.join("register.go");
    let group = group_name(&read(&register_path)?, &register_path)?;
    let version = version_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let api_version = if group.is_empty() {
        version
    } else {
        format!("{group}/{version}")
    };
    for (kind, lifecycle) in parse_lifecycle(&read(&lifecycle_path)?, &lifecycle_path)? {
        kinds.insert((api_version.clone(), kind), lifecycle);
    }
    Ok(())
}

/// The directories in `dir`, sorted.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, DeprecationsError> {
    let io = |source| DeprecationsError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// `const GroupName = "apps"` in a `register.go` (empty for the core group).
fn group_name(text: &str, path: &Path) -> Result<String, DeprecationsError> {
    text.lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("const GroupName = \"")?;
            Some(rest.split('"').next().unwrap_or_default().to_string())
        })
        .ok_or_else(|| DeprecationsError::Parse {
            path: path.to_path_buf(),
            line: 1,
            message: "no `const GroupName = \"...\"` line".into(),
        })
}

/// The lifecycle of each kind in a generated file: every
/// `func (in *Kind) APILifecycle<What>() ... {` followed by a `return` line.
fn parse_lifecycle(
    text: &str,
    path: &Path,
) -> Result<BTreeMap<String, Lifecycle>, DeprecationsError> {
    let mut kinds: BTreeMap<String, Lifecycle> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("func (in *") else {
            continue;
        };
        let parse_error = |message: String| DeprecationsError::Parse {
            path: path.to_path_buf(),
            line: index + 2,
            message,
        };
        let Some((kind, rest)) = rest.split_once(") APILifecycle") else {
            continue;
        };
        let what = rest.split('(').next().unwrap_or_default();
        let returned = lines
            .get(index + 1)
            .and_then(|l| l.trim().strip_prefix("return "))
            .ok_or_else(|| {
                parse_error(format!("{kind}.APILifecycle{what} has no `return` line"))
            })?;
        let entry = kinds.entry(kind.to_string()).or_default();
        match what {
            "Introduced" => {}
            "Deprecated" => {
                entry.deprecated = Some(release(returned).ok_or_else(|| {
                    parse_error(format!(
                        "`return {returned}` is not `return <major>, <minor>`"
                    ))
                })?)
            }
            "Removed" => {
                entry.removed = Some(release(returned).ok_or_else(|| {
                    parse_error(format!(
                        "`return {returned}` is not `return <major>, <minor>`"
                    ))
                })?)
            }
            "Replacement" => {
                entry.replacement = Some(replacement(returned).ok_or_else(|| {
                    parse_error(format!(
                        "`return {returned}` is not a schema.GroupVersionKind literal"
                    ))
                })?)
            }
            other => {
                return Err(parse_error(format!(
                    "unknown lifecycle function APILifecycle{other}"
                )));
            }
        }
    }
    // k8s.io/api names IngressClassList as networking.k8s.io/v1beta1 IngressClass's
    // replacement (a typo in its generator tag): an object is never replaced by a list
    // of itself, so such a replacement means the kind itself.
    for (kind, lifecycle) in &mut kinds {
        if let Some(replacement) = &mut lifecycle.replacement
            && !kind.ends_with("List")
            && replacement.kind.strip_suffix("List") == Some(kind.as_str())
        {
            replacement.kind = kind.clone();
        }
    }
    Ok(kinds)
}

/// `1, 25` → 1.25.0.
fn release(returned: &str) -> Option<semver::Version> {
    let (major, minor) = returned.split_once(',')?;
    Some(semver::Version::new(
        major.trim().parse().ok()?,
        minor.trim().parse().ok()?,
        0,
    ))
}

/// `schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}`.
fn replacement(returned: &str) -> Option<Replacement> {
    let fields = returned
        .strip_prefix("schema.GroupVersionKind{")?
        .strip_suffix('}')?;
    let field = |name: &str| -> Option<String> {
        fields.split(',').find_map(|f| {
            let value = f.trim().strip_prefix(name)?.trim().strip_prefix(':')?;
            Some(value.trim().trim_matches('"').to_string())
        })
    };
    let (group, version, kind) = (field("Group")?, field("Version")?, field("Kind")?);
    Some(Replacement {
        api_version: if group.is_empty() {
            version
        } else {
            format!("{group}/{version}")
        },
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The real data `tools install kube-apiserver` installed for this repository.
    fn installed() -> Deprecations {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Deprecations::installed(&root).unwrap_or_else(|e| panic!("{e}"))
    }

    fn version(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    fn removed(since: &str, replacement: Option<(&str, &str)>) -> ApiStatus {
        ApiStatus::Removed {
            since: version(since),
            replacement: replacement.map(|(api_version, kind)| Replacement {
                api_version: api_version.into(),
                kind: kind.into(),
            }),
        }
    }

    fn deprecated(since: &str, replacement: Option<(&str, &str)>) -> ApiStatus {
        ApiStatus::Deprecated {
            since: version(since),
            replacement: replacement.map(|(api_version, kind)| Replacement {
                api_version: api_version.into(),
                kind: kind.into(),
            }),
        }
    }

    #[rstest]
    #[case::extensions_deployment("extensions/v1beta1", "Deployment", "1.37.2", removed("1.16.0", Some(("apps/v1", "Deployment"))))]
    #[case::extensions_deployment_before("extensions/v1beta1", "Deployment", "1.15.0", deprecated("1.8.0", Some(("apps/v1", "Deployment"))))]
    #[case::extensions_ingress("extensions/v1beta1", "Ingress", "1.22.0", removed("1.22.0", Some(("networking.k8s.io/v1", "Ingress"))))]
    #[case::pdb_deprecated("policy/v1beta1", "PodDisruptionBudget", "1.21.0", deprecated("1.21.0", Some(("policy/v1", "PodDisruptionBudget"))))]
    #[case::pdb_removed("policy/v1beta1", "PodDisruptionBudget", "1.25.0", removed("1.25.0", Some(("policy/v1", "PodDisruptionBudget"))))]
    #[case::pdb_current_before(
        "policy/v1beta1",
        "PodDisruptionBudget",
        "1.20.5",
        ApiStatus::Current
    )]
    #[case::psp_has_no_replacement(
        "policy/v1beta1",
        "PodSecurityPolicy",
        "1.25.0",
        removed("1.25.0", None)
    )]
    #[case::cronjob("batch/v1beta1", "CronJob", "1.25.0", removed("1.25.0", Some(("batch/v1", "CronJob"))))]
    #[case::cronjob_deprecated("batch/v1beta1", "CronJob", "1.21.0", deprecated("1.21.0", Some(("batch/v1", "CronJob"))))]
    #[case::flowcontrol_v1beta3("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32.0", removed("1.32.0", Some(("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"))))]
    #[case::flowcontrol_v1beta3_deprecated("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.29.0", deprecated("1.29.0", Some(("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"))))]
    #[case::release_candidate("policy/v1beta1", "PodDisruptionBudget", "1.25.0-rc.1", removed("1.25.0", Some(("policy/v1", "PodDisruptionBudget"))))]
    #[case::ingress_class_list_typo("networking.k8s.io/v1beta1", "IngressClass", "1.22.0", removed("1.22.0", Some(("networking.k8s.io/v1", "IngressClass"))))]
    #[case::list_kind_keeps_its_list("networking.k8s.io/v1beta1", "IngressClassList", "1.22.0", removed("1.22.0", Some(("networking.k8s.io/v1", "IngressClassList"))))]
    #[case::crd_v1beta1("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "1.22.0", removed("1.22.0", Some(("apiextensions.k8s.io/v1", "CustomResourceDefinition"))))]
    #[case::apiservice_v1beta1("apiregistration.k8s.io/v1beta1", "APIService", "1.37.2", removed("1.22.0", Some(("apiregistration.k8s.io/v1", "APIService"))))]
    #[case::apiservice_v1beta1_before("apiregistration.k8s.io/v1beta1", "APIService", "1.21.0", deprecated("1.19.0", Some(("apiregistration.k8s.io/v1", "APIService"))))]
    #[case::apps_v1("apps/v1", "Deployment", "1.37.2", ApiStatus::Current)]
    #[case::core_v1("v1", "Service", "1.37.2", ApiStatus::Current)]
    #[case::custom_resource(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "1.37.2",
        ApiStatus::Current
    )]
    // A known gap: gone from k8s.io/api before the oldest pinned version.
    #[case::dropped_before_the_oldest_module(
        "settings.k8s.io/v1alpha1",
        "PodPreset",
        "1.37.2",
        ApiStatus::Current
    )]
    fn status_follows_kubernetes_lifecycle(
        #[case] api_version: &str,
        #[case] kind: &str,
        #[case] target: &str,
        #[case] expected: ApiStatus,
    ) {
        assert_eq!(
            installed().status(api_version, kind, &version(target)),
            expected
        );
    }

    /// The data covers every release from 1.16 (the first big removal) to 1.37: each
    /// minor in between deprecates or removes something, or is covered by the range.
    #[test]
    fn the_data_spans_the_removals_from_1_16_to_recent_releases() {
        let apis = installed();
        let removals: std::collections::BTreeSet<u64> = apis
            .kinds
            .values()
            .filter_map(|l| l.removed.as_ref().map(|r| r.minor))
            .collect();
        for minor in [16, 22, 25, 26, 27, 29, 32] {
            assert!(
                removals.contains(&minor),
                "nothing removed in 1.{minor}: {removals:?}"
            );
        }
        let deprecations: std::collections::BTreeSet<u64> = apis
            .kinds
            .values()
            .filter_map(|l| l.deprecated.as_ref().map(|r| r.minor))
            .collect();
        assert!(deprecations.iter().any(|m| *m >= 33), "{deprecations:?}");
        // Every target from 1.16 to 1.37 answers, and a removal never un-happens.
        let mut removed_before = 0;
        for minor in 16..=37 {
            let target = semver::Version::new(1, minor, 0);
            let removed = apis
                .kinds
                .keys()
                .filter(|(v, k)| matches!(apis.status(v, k, &target), ApiStatus::Removed { .. }))
                .count();
            assert!(removed >= removed_before, "1.{minor}");
            removed_before = removed;
        }
    }

    #[test]
    fn generated_functions_parse_and_others_are_errors() {
        let text = "package v1beta1\n\nfunc (in *Widget) APILifecycleIntroduced() (major, minor int) {\n\treturn 1, 2\n}\n\nfunc (in *Widget) APILifecycleDeprecated() (major, minor int) {\n\treturn 1, 5\n}\n\nfunc (in *Widget) APILifecycleReplacement() schema.GroupVersionKind {\n\treturn schema.GroupVersionKind{Group: \"\", Version: \"v1\", Kind: \"Gadget\"}\n}\n\nfunc (in *Widget) APILifecycleRemoved() (major, minor int) {\n\treturn 1, 8\n}\n";
        let kinds = parse_lifecycle(text, Path::new("w.go")).unwrap();
        assert_eq!(
            kinds["Widget"],
            Lifecycle {
                deprecated: Some(version("1.5.0")),
                removed: Some(version("1.8.0")),
                replacement: Some(Replacement {
                    api_version: "v1".into(),
                    kind: "Gadget".into()
                }),
            }
        );
        let broken = text.replace("return 1, 8", "return removed");
        let error = parse_lifecycle(&broken, Path::new("w.go"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("w.go:16: `return removed` is not"),
            "{error}"
        );
        assert!(
            error.contains("tools install --force kube-apiserver"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_install_names_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let error = Deprecations::read_dir(&dir.path().join("files"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("chart-harness tools install kube-apiserver"),
            "{error}"
        );
        assert!(error.contains("files"), "{error}");
    }

    #[test]
    fn the_group_comes_from_register_go() {
        let path = Path::new("register.go");
        assert_eq!(
            group_name("package v1\n\nconst GroupName = \"policy\"\n", path).unwrap(),
            "policy"
        );
        assert_eq!(group_name("const GroupName = \"\"\n", path).unwrap(), "");
        assert!(
            group_name("package v1\n", path)
                .unwrap_err()
                .to_string()
                .contains("register.go:1")
        );
    }
}
