//! The chart's own files: `Chart.yaml` and `Chart.lock`.
//!
//! Fields are optional here on purpose: a chart with a missing field must still load,
//! so the lint suite can report every missing field at once instead of stopping at
//! the first.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::yaml::{self, YamlError};

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChartFile {
    pub api_version: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub kube_version: Option<String>,
    pub description: Option<String>,
    /// `application` (the default) or `library`.
    #[serde(rename = "type")]
    pub chart_type: Option<String>,
    /// Any scalar; charts write `appVersion: 1.2` as often as `"1.2"`.
    pub app_version: Option<serde_json::Value>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    #[serde(default)]
    pub maintainers: Vec<Maintainer>,
    /// Any scalar or list: `artifacthub.io/changes` is a YAML list written as a string.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, serde_json::Value>,
}

impl ChartFile {
    pub fn is_library(&self) -> bool {
        self.chart_type.as_deref() == Some("library")
    }

    pub fn read(chart_dir: &Path) -> Result<ChartFile, YamlError> {
        yaml::read_file(&chart_dir.join("Chart.yaml"))
    }
}

/// A chart's `Chart.yaml`, parsed the first time anything asks and then kept: once per
/// chart per run, however many trials and checks read it, and never while only listing.
/// A parse error is kept too, for the lint suite's `chart-yaml` phase to report.
#[derive(Clone, Debug)]
pub struct ChartYaml {
    chart_dir: PathBuf,
    parsed: OnceLock<Result<ChartFile, YamlError>>,
}

impl ChartYaml {
    /// The `Chart.yaml` of `chart_dir`, not read yet.
    pub fn of(chart_dir: &Path) -> ChartYaml {
        ChartYaml {
            chart_dir: chart_dir.to_path_buf(),
            parsed: OnceLock::new(),
        }
    }

    pub fn get(&self) -> &Result<ChartFile, YamlError> {
        self.parsed.get_or_init(|| ChartFile::read(&self.chart_dir))
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    /// A semver constraint, for example `~1.2.0`.
    pub version: Option<String>,
    /// A repository URL, `file://<path>`, `@alias` or `oci://...`.
    pub repository: Option<String>,
    pub alias: Option<String>,
}

impl Dependency {
    /// The path of a `file://` dependency, relative to the chart directory.
    pub fn local_path(&self) -> Option<&str> {
        self.repository.as_deref()?.strip_prefix("file://")
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Maintainer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ChartLock {
    #[serde(default)]
    pub dependencies: Vec<LockedDependency>,
    pub digest: Option<String>,
}

impl ChartLock {
    /// `Ok(None)` when the chart has no `Chart.lock`.
    pub fn read(chart_dir: &Path) -> Result<Option<ChartLock>, YamlError> {
        let path = chart_dir.join("Chart.lock");
        if !path.exists() {
            return Ok(None);
        }
        yaml::read_file(&path).map(Some)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct LockedDependency {
    pub name: String,
    pub version: String,
    pub repository: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_version(dir: &Path, version: &str) {
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: web\nversion: {version}\n"),
        )
        .unwrap();
    }

    #[test]
    fn chart_yaml_is_read_when_first_asked_for_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let chart_yaml = ChartYaml::of(dir.path());
        // Nothing is read when the chart is found, so the file may appear later.
        write_version(dir.path(), "1.0.0");
        let version = |c: &ChartYaml| c.get().as_ref().unwrap().version.clone();
        assert_eq!(version(&chart_yaml).as_deref(), Some("1.0.0"));
        write_version(dir.path(), "2.0.0");
        assert_eq!(version(&chart_yaml).as_deref(), Some("1.0.0"));
    }
}
