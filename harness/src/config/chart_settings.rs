//! Per-chart settings from `<chart>/ci/harness.yaml`.
//!
//! The struct below is the schema: its fields are the valid keys (kebab-case), unknown
//! keys are rejected with the nearest valid key, and values are checked when loaded so a
//! bad setting fails that chart's trials with a message instead of misbehaving later.
//! To add a setting, add a field (with `#[serde(default)]`) and, if needed, a check in
//! [`ChartSettings::validate`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use super::backup_restore_settings::BackupRestoreSpec;
use super::data_steps::{self, DataStep, DataSteps, Stdin, StepAction};
use super::upgrade_settings::{BaselineSpec, UpgradeValues};
use super::{line_of_key, nearest, normalize_kube_version, parse_duration, struct_fields};
use crate::registry::Suite;
use crate::yaml;

/// Where a chart keeps its harness settings, relative to the chart directory.
pub const CHART_SETTINGS_FILE: &str = "ci/harness.yaml";

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChartSettings {
    /// Suites this chart opts out of, validated against the registry; the plan lists
    /// their trials as skipped.
    #[serde(default, deserialize_with = "suites")]
    pub skip: Vec<Suite>,
    /// Per-trial timeout for this chart.
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// Values merged into every case, after the case's own file.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// Extra values files, relative to the chart directory, applied after the case file.
    #[serde(default)]
    pub values_files: Vec<PathBuf>,
    /// Kubernetes versions to render against; the first one is snapshotted.
    #[serde(default)]
    pub kube_versions: Vec<String>,
    /// What the integration suite installs before the chart: CRDs, then other charts.
    #[serde(default)]
    pub prerequisites: Prerequisites,
    /// Opt-in chaos check of the integration suite: one pod of each workload is deleted
    /// after it is ready, and the workload must become ready again.
    #[serde(default)]
    pub chaos: bool,
    /// How long the integration suite waits for the chart's workloads to become ready.
    #[serde(default, deserialize_with = "readiness_duration")]
    pub readiness_timeout: Option<Duration>,
    /// The upgrade suite's baseline(s) for this chart, over the repository's `baseline`.
    #[serde(default, deserialize_with = "super::upgrade_settings::baselines")]
    pub baseline: Option<Vec<BaselineSpec>>,
    /// Values applied on the upgrade only, after the case's (a larger PVC, say).
    #[serde(default, deserialize_with = "super::upgrade_settings::upgrade_values")]
    pub upgrade_values: Vec<UpgradeValues>,
    /// Steps the upgrade needs before `helm upgrade` (the manual work of a major).
    #[serde(default, deserialize_with = "pre_upgrade")]
    pub pre_upgrade: Vec<DataStep>,
    /// How the upgrade (and backup-restore) suites seed and verify the chart's data.
    #[serde(default)]
    pub data: DataSteps,
    /// The backup-restore suite's round trip; a chart without one has no such trials.
    #[serde(default)]
    pub backup_restore: Option<BackupRestoreSpec>,
}

/// Things a chart needs in the cluster that it does not install itself.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Prerequisites {
    /// CRD manifests, relative to the chart directory, applied (and waited for until
    /// Established) before anything else.
    #[serde(default)]
    pub crds: Vec<PathBuf>,
    /// Charts installed into the trial's namespace before this one, in order.
    #[serde(default)]
    pub charts: Vec<PrerequisiteChart>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrerequisiteChart {
    /// The chart directory, relative to this chart's directory.
    pub chart: PathBuf,
    /// Values for that chart's install.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
}

impl ChartSettings {
    /// Whether the file sets `key`, for the suites a chart opts into
    /// (`SuiteSpec::opt_in`).
    pub fn declares(&self, key: &str) -> bool {
        match key {
            "backup-restore" => self.backup_restore.is_some(),
            _ => false,
        }
    }

    /// Checks what the types cannot: files exist, versions parse. Returns the key and
    /// the message of the first bad value.
    fn validate(&mut self, chart_dir: &Path) -> Result<(), (&'static str, String)> {
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(("timeout", "must be greater than zero".into()));
        }
        for file in &self.values_files {
            if file.is_absolute() {
                return Err((
                    "values-files",
                    format!(
                        "`{}` is absolute; give it relative to the chart directory",
                        file.display()
                    ),
                ));
            }
            if !chart_dir.join(file).is_file() {
                return Err((
                    "values-files",
                    format!("`{}` does not exist in the chart directory", file.display()),
                ));
            }
        }
        if self.readiness_timeout.is_some_and(|t| t.is_zero()) {
            return Err(("readiness-timeout", "must be greater than zero".into()));
        }
        let relative_paths = self
            .prerequisites
            .crds
            .iter()
            .chain(self.prerequisites.charts.iter().map(|c| &c.chart));
        for path in relative_paths {
            if path.is_absolute() {
                return Err((
                    "prerequisites",
                    format!(
                        "`{}` is absolute; give it relative to the chart directory",
                        path.display()
                    ),
                ));
            }
            if !chart_dir.join(path).exists() {
                return Err((
                    "prerequisites",
                    format!(
                        "`{}` does not exist relative to the chart directory",
                        path.display()
                    ),
                ));
            }
        }
        for file in self
            .upgrade_values
            .iter()
            .filter_map(|values| match values {
                UpgradeValues::File(file) => Some(file),
                UpgradeValues::Inline(_) => None,
            })
        {
            if file.is_absolute() || !chart_dir.join(file).is_file() {
                return Err((
                    "upgrade-values",
                    format!(
                        "`{}` is not a file relative to the chart directory",
                        file.display()
                    ),
                ));
            }
        }
        if let Some(spec) = &self.backup_restore {
            spec.check(&self.data)
                .map_err(|message| ("backup-restore", message))?;
        }
        let steps = self
            .pre_upgrade
            .iter()
            .map(|step| ("pre-upgrade", step))
            .chain(self.data.seed.iter().map(|step| ("data", step)))
            .chain(self.data.verify.iter().map(|step| ("data", step)))
            .chain(
                self.backup_restore
                    .iter()
                    .flat_map(|spec| spec.steps())
                    .map(|step| ("backup-restore", step)),
            );
        for (key, step) in steps {
            if let StepAction::Exec(exec) = &step.action
                && let Stdin::File(file) = &exec.stdin
                && (file.is_absolute() || !chart_dir.join(file).is_file())
            {
                return Err((
                    key,
                    format!(
                        "`{}`: `stdin-file` `{}` is not a file relative to the chart directory",
                        step.label,
                        file.display()
                    ),
                ));
            }
        }
        for version in &mut self.kube_versions {
            *version = normalize_kube_version(version).map_err(|m| ("kube-versions", m))?;
        }
        Ok(())
    }
}

/// Loads `<chart_dir>/ci/harness.yaml`; a missing file means default settings. The
/// error message names the file (relative to `repo_root`), the key and what to do.
pub fn load_chart_settings(chart_dir: &Path, repo_root: &Path) -> Result<ChartSettings, String> {
    let path = chart_dir.join(CHART_SETTINGS_FILE);
    let shown = path
        .strip_prefix(repo_root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.clone());
    let text = match crate::files::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ChartSettings::default()),
        Err(e) => {
            return Err(format!(
                "{}: cannot read file: {e}; check that it is readable",
                shown.display()
            ));
        }
    };
    let raw: Option<BTreeMap<String, IgnoredAny>> =
        yaml::parse_str(&text, &shown).map_err(|e| e.to_string())?;
    let valid = struct_fields::<ChartSettings>();
    if let Some(key) = raw
        .iter()
        .flat_map(|map| map.keys())
        .find(|key| !valid.contains(&key.as_str()))
    {
        let suggestion = nearest(key, valid.iter().copied())
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        return Err(format!(
            "{}{}: unknown key `{key}`; {suggestion}valid keys are: {}",
            shown.display(),
            line_suffix(line_of_key(&text, key)),
            valid.join(", ")
        ));
    }
    let settings: Option<ChartSettings> =
        yaml::parse_str(&text, &shown).map_err(|e| e.to_string())?;
    let mut settings = settings.unwrap_or_default();
    settings.validate(chart_dir).map_err(|(key, message)| {
        format!(
            "{}{}: invalid `{key}`: {message}",
            shown.display(),
            line_suffix(line_of_key(&text, key))
        )
    })?;
    Ok(settings)
}

fn line_suffix(line: Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

/// Suite names, with the nearest suite suggested for a typo.
fn suites<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Suite>, D::Error> {
    let names = Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default();
    names
        .iter()
        .map(|name| {
            name.parse::<Suite>().map_err(|message| {
                let hint = nearest(name, Suite::ALL.iter().map(|s| s.name()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                de::Error::custom(format!("`skip`: {message}{hint}"))
            })
        })
        .collect()
}

/// `pre-upgrade:`, a list of data steps.
fn pre_upgrade<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<DataStep>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    data_steps::parse_steps("pre-upgrade", &value).map_err(de::Error::custom)
}

/// A Go-style duration string such as `90s` or `5m`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_duration(&text)
            .map(Some)
            .map_err(|message| de::Error::custom(format!("`timeout`: {message}"))),
    }
}

/// [`duration`] for `readiness-timeout`, so the message names that key.
fn readiness_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_duration(&text)
            .map(Some)
            .map_err(|message| de::Error::custom(format!("`readiness-timeout`: {message}"))),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn chart_with_settings(text: &str) -> (tempfile::TempDir, PathBuf) {
        let repo = tempfile::tempdir().unwrap();
        let chart = repo.path().join("charts/web");
        std::fs::create_dir_all(chart.join("ci")).unwrap();
        std::fs::write(chart.join(CHART_SETTINGS_FILE), text).unwrap();
        (repo, chart)
    }

    #[test]
    fn missing_file_means_defaults() {
        let repo = tempfile::tempdir().unwrap();
        assert_eq!(
            load_chart_settings(repo.path(), repo.path()),
            Ok(ChartSettings::default())
        );
    }

    #[test]
    fn every_key_is_read() {
        let (repo, chart) = chart_with_settings(
            "skip: [template]\ntimeout: 90s\nvalues:\n  replicas: 2\n  image: {tag: \"1.0\"}\nvalues-files: [ci/extra.yaml]\nkube-versions: [\"1.31\", \"v1.30.4\"]\n",
        );
        std::fs::write(chart.join("ci/extra.yaml"), "a: 1\n").unwrap();
        let settings = load_chart_settings(&chart, repo.path()).unwrap();
        assert_eq!(settings.skip, vec![Suite::Template]);
        assert_eq!(settings.timeout, Some(Duration::from_secs(90)));
        assert_eq!(settings.values["replicas"], serde_json::json!(2));
        assert_eq!(settings.values["image"], serde_json::json!({"tag": "1.0"}));
        assert_eq!(settings.values_files, vec![PathBuf::from("ci/extra.yaml")]);
        assert_eq!(settings.kube_versions, vec!["1.31", "1.30.4"]);
    }

    #[test]
    fn integration_keys_are_read() {
        let (repo, chart) = chart_with_settings(
            "chaos: true\nreadiness-timeout: 45s\nprerequisites:\n  crds: [ci/crds/widget.yaml]\n  charts:\n    - chart: ../base\n      values: {replicas: 1}\n",
        );
        std::fs::create_dir_all(chart.join("ci/crds")).unwrap();
        std::fs::write(chart.join("ci/crds/widget.yaml"), "kind: X\n").unwrap();
        std::fs::create_dir_all(chart.join("../base")).unwrap();
        let settings = load_chart_settings(&chart, repo.path()).unwrap();
        assert!(settings.chaos);
        assert_eq!(settings.readiness_timeout, Some(Duration::from_secs(45)));
        assert_eq!(
            settings.prerequisites.crds,
            vec![PathBuf::from("ci/crds/widget.yaml")]
        );
        assert_eq!(settings.prerequisites.charts.len(), 1);
        assert_eq!(
            settings.prerequisites.charts[0].chart,
            PathBuf::from("../base")
        );
        assert_eq!(
            settings.prerequisites.charts[0].values["replicas"],
            serde_json::json!(1)
        );
    }

    #[rstest]
    #[case("skp: [lint]\n", "skp", Some("skip"))]
    #[case(
        "timeout: 5m\nvalue-files: [a.yaml]\n",
        "value-files",
        Some("values-files")
    )]
    #[case("kube-version: [\"1.31\"]\n", "kube-version", Some("kube-versions"))]
    #[case("color: blue\n", "color", None)]
    fn unknown_keys_are_rejected_with_a_suggestion(
        #[case] text: &str,
        #[case] key: &str,
        #[case] suggestion: Option<&str>,
    ) {
        let (repo, chart) = chart_with_settings(text);
        let err = load_chart_settings(&chart, repo.path()).unwrap_err();
        let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        assert!(
            err.starts_with(&format!(
                "charts/web/ci/harness.yaml:{line}: unknown key `{key}`"
            )),
            "{err}"
        );
        match suggestion {
            Some(s) => assert!(err.contains(&format!("did you mean `{s}`?")), "{err}"),
            None => assert!(!err.contains("did you mean"), "{err}"),
        }
        assert!(err.contains("valid keys are: skip, timeout, values, values-files, kube-versions"));
    }

    #[rstest]
    #[case("timeout: 5 minutes\n", "90s, 5m or 1h30m")]
    #[case("timeout: 0s\n", "greater than zero")]
    #[case("skip: [lnt]\n", "did you mean `lint`?")]
    #[case(
        "values-files: [ci/missing.yaml]\n",
        "`ci/missing.yaml` does not exist"
    )]
    #[case("kube-versions: [latest]\n", "not a Kubernetes version")]
    #[case("skip: [lint\n", "charts/web/ci/harness.yaml:")]
    #[case("readiness-timeout: soon\n", "`readiness-timeout`")]
    #[case("readiness-timeout: 0s\n", "greater than zero")]
    #[case(
        "prerequisites:\n  crds: [ci/absent.yaml]\n",
        "`ci/absent.yaml` does not exist"
    )]
    #[case("prerequisites:\n  crd: [a.yaml]\n", "crd")]
    #[case(
        "data:\n  seed:\n    - kubectl: get pods\n",
        "`data.seed[0]`: unknown step kind or key `kubectl`"
    )]
    #[case("baseline: svn\n", "`svn` is not a baseline")]
    #[case(
        "upgrade-values: [ci/absent.yaml]\n",
        "`ci/absent.yaml` is not a file relative to the chart directory"
    )]
    #[case(
        "pre-upgrade:\n  - exec: {component: db, command: [cat], stdin-file: ci/absent.sql}\n",
        "`stdin-file` `ci/absent.sql` is not a file"
    )]
    fn bad_values_are_explained(#[case] text: &str, #[case] expected: &str) {
        let (repo, chart) = chart_with_settings(text);
        let err = load_chart_settings(&chart, repo.path()).unwrap_err();
        assert!(err.contains(expected), "{err}");
        assert!(err.starts_with("charts/web/ci/harness.yaml"), "{err}");
    }
}
