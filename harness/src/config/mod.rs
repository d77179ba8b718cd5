//! Run configuration: `chart-harness.yaml`, or chart-testing's `ct.yaml` when that is absent.
//!
//! A ct user must be able to switch without rewriting anything, so both files share one
//! key set: every chart-testing key is either supported or acknowledged with a warning,
//! and chart-harness adds a few keys of its own. A key that is neither is an error,
//! because a typo that silently falls back to a default is worse than a failed run.
//!
//! The command line looks the file up as ct does (`--config`, the working directory,
//! `$HOME/.ct`, `/etc/ct`) and lets `CT_*` variables and flags override its keys, flag
//! over variable over file ([`LoadOptions::from_environment`]). The library's own
//! front ends (libtest, benches) read only the repository, so a test's result does not
//! depend on the machine it runs on ([`load`]).

pub mod backup_restore_settings;
pub use backup_restore_settings::BackupObjectivePaths;
pub mod chart_settings;
pub mod data_steps;
mod keys;
pub mod policy;
pub mod release_settings;
pub use release_settings::ReleaseGateSettings;
mod source;
pub mod support_files;
pub mod upgrade_settings;
mod values;
use values::{non_empty, set, split_args, take_timeout};
pub use values::{normalize, normalize_kube_version, parse_duration, resolve};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

pub use chart_settings::{ChartSettings, load_chart_settings};
pub(crate) use keys::{line_of_key, nearest, struct_fields};
pub use policy::{PolicyConfig, Severity, Suppression};
pub use source::{ConfigSource, HARNESS_FILE, LoadOptions};
use source::{find_source, key_of_variable, shown_path};
pub use support_files::{SupportFile, SupportFileLookup};
pub use upgrade_settings::{BaselineFailure, BaselineSpec};

use crate::tools::HelmMajor;
use crate::yaml::{self, YamlError};

/// A chart repository that `helm dependency build` may need (`name=url` in ct).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartRepo {
    pub name: String,
    pub url: String,
    /// Extra `helm repo add` arguments for this repository (ct's `helm-repo-extra-args`,
    /// for example credentials), split on whitespace.
    pub extra_args: Vec<String>,
}

/// The effective configuration of one run. Paths are absolute.
#[derive(Clone, Debug)]
pub struct HarnessConfig {
    pub chart_dirs: Vec<PathBuf>,
    /// Chart directory names (as ct) or chart paths relative to the repository root.
    pub excluded_charts: Vec<String>,
    pub target_branch: String,
    pub remote: String,
    /// The ref that `list-changed` and the version check compare against when
    /// `<remote>/<target-branch>` does not exist.
    pub since: Option<String>,
    pub check_version_increment: bool,
    /// Account lookups are not done; when on, lint requires every maintainer to have a name.
    pub validate_maintainers: bool,
    pub validate_chart_schema: bool,
    pub validate_yaml: bool,
    /// The yamllint configuration file `validate-yaml` uses (ct's `lint-conf`); `None`:
    /// `lintconf.yaml` at the repository root, else ct's default lintconf.
    pub lint_conf: Option<PathBuf>,
    /// ct's `helm-extra-args` without its `--timeout`: given to `helm install`,
    /// `upgrade` and `test`.
    pub helm_extra_args: Vec<String>,
    /// The `--timeout` of `helm-extra-args`: replaces the default readiness and helm
    /// timeout of install, upgrade and test.
    pub helm_timeout: Option<Duration>,
    /// ct's `helm-extra-set-args` (`--set=a=b ...`): given to `helm install` and
    /// `upgrade`, and to the render the integration dry-run checks.
    pub helm_extra_set_args: Vec<String>,
    pub helm_lint_extra_args: Vec<String>,
    /// Extra arguments for `helm dependency build` (ct's `helm-dependency-extra-args`).
    pub helm_dependency_extra_args: Vec<String>,
    pub chart_repos: Vec<ChartRepo>,
    /// ct's `upgrade`: the integration suite first installs the chart's revision at the
    /// merge-base and upgrades it to this one, then upgrades this one in place.
    pub upgrade: bool,
    /// ct's `skip-missing-values`: with `upgrade`, a values file of the previous revision
    /// that this revision no longer has is not upgrade-tested.
    pub skip_missing_values: bool,
    pub additional_commands: Vec<String>,
    pub use_helmignore: bool,
    pub github_groups: bool,
    /// Where JUnit, JSON and caches go (default `target/chart-harness`).
    pub report_dir: PathBuf,
    pub jobs: Option<usize>,
    /// The config's `helm`; `None` lets the run pick the installed major.
    pub helm_major: Option<HelmMajor>,
    /// Kubernetes version that `helm template` and `helm lint` target when a chart sets none.
    pub kube_version: Option<String>,
    /// Per-trial timeout when a chart sets none.
    pub trial_timeout: Duration,
    /// The cluster provider (`local`, `kind` or `existing`); `None` picks kind where
    /// Docker and kind work and the kind node image is present or can be pulled, and the
    /// local control plane otherwise (`cluster::detect_default`).
    pub cluster: Option<crate::cluster::ProviderKind>,
    /// `kind-config`: the config kind clusters are created from (`single-node`,
    /// `multi-node` or the repository's own file); `None`: the built-in single node.
    pub kind_config: Option<crate::cluster::KindConfigChoice>,
    /// `kind-node-image`: the node image kind clusters run, used as given (a local tag
    /// is fine); `None`: the built-in map's image for the Kubernetes minor. The
    /// command line and `CHART_HARNESS_KIND_NODE_IMAGE` override it.
    pub kind_node_image: Option<String>,
    /// `images`: the repository's own locally built images, loaded into a kind cluster
    /// before charts are installed.
    pub images: Vec<String>,
    /// `yaml-limits`: size limits for the YAML files charts are made of, raised above
    /// the parser's defaults.
    pub yaml_limits: crate::yaml::YamlLimits,
    /// `snapshots: true`: every chart's renders are compared with snapshots. Without it,
    /// only charts that already have `ci/__snapshots__` are.
    pub snapshots: bool,
    /// `values-files`: a glob of file names at each chart's root that are its cases
    /// (`values-*.yaml`); `None` keeps ct's `ci/*-values.yaml`.
    pub values_files: Option<String>,
    /// `policy`: the policy suite's gate and the findings the repository accepts.
    pub policy: PolicyConfig,
    /// The upgrade suite's baseline(s) for every chart without its own (`baseline`).
    pub baseline: Vec<BaselineSpec>,
    /// What a baseline that cannot be fetched or does not install means.
    pub baseline_failure: BaselineFailure,
    /// OCI registries (`host[:port]`) that serve plain HTTP: helm pulls `oci://`
    /// baselines from them with `--plain-http`.
    pub plain_http_registries: Vec<String>,
    /// `backup-objectives`: where charts document their RTO and RPO in their values.
    pub backup_objectives: BackupObjectivePaths,
    /// `kube-versions`: the Kubernetes versions a matrix plan covers (`chart-harness
    /// plan`); empty: the run's one version.
    pub kube_versions: Vec<String>,
    /// `kind-node-images`: the kind node image of each of those versions, over the
    /// built-in map.
    pub kind_node_images: BTreeMap<String, String>,
    /// `release-gate`: what `chart-harness gate` requires of a chart's release.
    pub release_gate: ReleaseGateSettings,
    /// `--baseline`: the baseline(s) of every chart, over the charts' own.
    pub baseline_override: Option<Vec<BaselineSpec>>,
    /// The upgrade suite runs its offline prediction alone, with no cluster
    /// (`--predict-only`; a command-line choice, not a key).
    pub predict_only: bool,
    /// The file this configuration came from, so messages about a configured value can
    /// say where to change it; `None` when no file exists.
    pub config_file: Option<PathBuf>,
}

impl HarnessConfig {
    /// The configuration of a repository without a config file. The defaults are
    /// chart-testing's, so a ct user sees the same behaviour with or without a ct.yaml.
    pub fn defaults(repo_root: &Path) -> HarnessConfig {
        HarnessConfig {
            chart_dirs: vec![repo_root.join("charts")],
            excluded_charts: Vec::new(),
            target_branch: "main".to_string(),
            remote: "origin".to_string(),
            since: None,
            check_version_increment: true,
            validate_maintainers: true,
            validate_chart_schema: true,
            validate_yaml: true,
            lint_conf: None,
            helm_extra_args: Vec::new(),
            helm_timeout: None,
            helm_extra_set_args: Vec::new(),
            helm_lint_extra_args: Vec::new(),
            helm_dependency_extra_args: Vec::new(),
            chart_repos: Vec::new(),
            upgrade: false,
            skip_missing_values: false,
            additional_commands: Vec::new(),
            use_helmignore: false,
            github_groups: false,
            report_dir: repo_root.join("target").join("chart-harness"),
            jobs: None,
            helm_major: None,
            kube_version: None,
            trial_timeout: DEFAULT_TRIAL_TIMEOUT,
            cluster: None,
            kind_config: None,
            kind_node_image: None,
            images: Vec::new(),
            yaml_limits: Default::default(),
            snapshots: false,
            values_files: None,
            policy: PolicyConfig::default(),
            baseline: vec![BaselineSpec::Git],
            baseline_failure: BaselineFailure::Fail,
            plain_http_registries: Vec::new(),
            backup_objectives: BackupObjectivePaths::default(),
            kube_versions: Vec::new(),
            kind_node_images: BTreeMap::new(),
            release_gate: ReleaseGateSettings::default(),
            baseline_override: None,
            predict_only: false,
            config_file: None,
        }
    }

    /// Names the setting `key` for messages: `chart-dirs in ct.yaml`, or the default.
    pub fn describe_key(&self, key: &str) -> String {
        match &self.config_file {
            Some(file) => format!("`{key}` in {}", file.display()),
            None => format!(
                "the default `{key}` (there is no {HARNESS_FILE} or ct.yaml; create one to change it)"
            ),
        }
    }
}

/// A loaded configuration plus the warnings loading produced (for example ct keys
/// that have no meaning here), each to be shown once.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub repo_root: PathBuf,
    pub source: ConfigSource,
    pub config: HarnessConfig,
    pub warnings: Vec<String>,
    /// The yamllint configuration ct would use, looked up but not read: only a run
    /// with a lint trial reads it.
    pub lintconf: SupportFile,
    /// The Chart.yaml schema ct would use; never read (see `validate-chart-schema`).
    pub chart_schema: SupportFile,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}; check that the file is readable", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the config file {} given with --config does not exist; check the path (relative paths are from the working directory)",
        .0.display()
    )]
    MissingFile(PathBuf),
    #[error("invalid configuration file {0}")]
    Yaml(#[from] YamlError),
    #[error(
        "{}{}: unknown key `{key}`: it is neither a chart-harness key nor a chart-testing (ct) key{}",
        path.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownKey {
        path: PathBuf,
        line: Option<u64>,
        key: String,
        suggestion: Option<String>,
    },
    #[error(
        "{}{}: invalid `{key}`: {message}",
        path.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    Invalid {
        path: PathBuf,
        line: Option<u64>,
        key: &'static str,
        message: String,
    },
}

/// ct keys that mean nothing to chart-harness, each with the reason given in its warning.
const IGNORED_CT_KEYS: &[(&str, &str)] = &[
    (
        "all",
        "chart-harness tests every chart unless `--changed` or chart names are given",
    ),
    (
        "charts",
        "pass `--charts` or chart names on the command line instead",
    ),
    (
        "build-id",
        "chart-harness names namespaces itself, one per trial",
    ),
    (
        "chart-yaml-schema",
        "chart-harness checks Chart.yaml fields itself and does not run Yamale",
    ),
    ("debug", "set RUST_LOG=debug to see every external command"),
    (
        "namespace",
        "chart-harness installs every trial into its own namespace",
    ),
    (
        "release-label",
        "chart-harness installs every trial into its own namespace",
    ),
    (
        "release-name",
        "chart-harness names releases after the chart and case",
    ),
    (
        "exclude-deprecated",
        "list deprecated charts in `excluded-charts` instead",
    ),
    (
        "kubectl-timeout",
        "chart-harness does not run kubectl; use `trial-timeout` or a chart's ci/harness.yaml `timeout`",
    ),
    (
        "print-logs",
        "chart-harness puts diagnostics into its reports",
    ),
    (
        "print-config",
        "chart-harness names the file it read on its first line and in its reports",
    ),
    (
        "skip-clean-up",
        "chart-harness tears its cluster down at the end of the run",
    ),
    ("timeout", "a chart-testing 2 key; use `trial-timeout`"),
    ("tiller-namespace", "a chart-testing 2 key for Helm 2"),
];

/// The keys of both files, as they appear in YAML. The struct's field list is the key
/// list (see [`struct_fields`]), so adding a key is adding a field.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    // chart-testing keys
    #[serde(default, deserialize_with = "keys::string_list")]
    chart_dirs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "keys::string_list")]
    excluded_charts: Option<Vec<String>>,
    target_branch: Option<String>,
    remote: Option<String>,
    since: Option<String>,
    #[serde(default, deserialize_with = "keys::flag")]
    check_version_increment: Option<bool>,
    #[serde(default, deserialize_with = "keys::flag")]
    validate_maintainers: Option<bool>,
    #[serde(default, deserialize_with = "keys::flag")]
    validate_chart_schema: Option<bool>,
    #[serde(default, deserialize_with = "keys::flag")]
    validate_yaml: Option<bool>,
    lint_conf: Option<PathBuf>,
    helm_extra_args: Option<String>,
    helm_extra_set_args: Option<String>,
    helm_lint_extra_args: Option<String>,
    #[serde(default, deserialize_with = "keys::string_list")]
    helm_repo_extra_args: Option<Vec<String>>,
    #[serde(default, deserialize_with = "keys::string_list")]
    helm_dependency_extra_args: Option<Vec<String>>,
    #[serde(default, deserialize_with = "keys::string_list")]
    chart_repos: Option<Vec<String>>,
    #[serde(default, deserialize_with = "keys::flag")]
    upgrade: Option<bool>,
    #[serde(default, deserialize_with = "keys::flag")]
    skip_missing_values: Option<bool>,
    #[serde(default, deserialize_with = "keys::string_list")]
    additional_commands: Option<Vec<String>>,
    #[serde(default, deserialize_with = "keys::flag")]
    use_helmignore: Option<bool>,
    #[serde(default, deserialize_with = "keys::flag")]
    github_groups: Option<bool>,
    // chart-harness keys
    report_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "keys::count")]
    jobs: Option<usize>,
    #[serde(default, deserialize_with = "keys::helm_major")]
    helm: Option<HelmMajor>,
    #[serde(default, deserialize_with = "keys::text")]
    kube_version: Option<String>,
    trial_timeout: Option<String>,
    #[serde(default, deserialize_with = "keys::text")]
    cluster: Option<String>,
    #[serde(default, deserialize_with = "keys::text")]
    kind_config: Option<String>,
    #[serde(default, deserialize_with = "keys::text")]
    kind_node_image: Option<String>,
    #[serde(default, deserialize_with = "keys::string_list")]
    images: Option<Vec<String>>,
    yaml_limits: Option<crate::yaml::YamlLimits>,
    #[serde(default, deserialize_with = "keys::flag")]
    snapshots: Option<bool>,
    #[serde(default, deserialize_with = "keys::text")]
    values_files: Option<String>,
    policy: Option<policy::PolicyFile>,
    #[serde(default, deserialize_with = "upgrade_settings::baselines")]
    baseline: Option<Vec<BaselineSpec>>,
    #[serde(default, deserialize_with = "keys::text")]
    baseline_failure: Option<String>,
    #[serde(default, deserialize_with = "keys::string_list")]
    plain_http_registries: Option<Vec<String>>,
    backup_objectives: Option<BackupObjectivePaths>,
    #[serde(default, deserialize_with = "keys::string_list")]
    kube_versions: Option<Vec<String>>,
    kind_node_images: Option<BTreeMap<String, String>>,
    release_gate: Option<release_settings::ReleaseGateFile>,
}

/// `CT_*` variables that configure ct itself rather than name a key.
const CT_ENV_NOT_KEYS: &[&str] = &["CT_CONFIG_DIR"];

/// Our own keys: ct has no variable for them, so `CT_JOBS` and the like are not read.
const HARNESS_ONLY_KEYS: &[&str] = &[
    "report-dir",
    "jobs",
    "helm",
    "kube-version",
    "trial-timeout",
    "cluster",
    "kind-config",
    "kind-node-image",
    "images",
    "yaml-limits",
    // A mapping, which no variable could hold.
    "policy",
    "baseline",
    "baseline-failure",
    "plain-http-registries",
    "backup-objectives",
    "kube-versions",
    "kind-node-images",
    "release-gate",
];

/// Loads `chart-harness.yaml`, else `ct.yaml`, else defaults, from `repo_root`.
pub fn load(repo_root: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with(repo_root, &LoadOptions::default())
}

/// Loads the configuration as ct does: the `--config` file, else `chart-harness.yaml`
/// at the root, else the first `ct.*` in the root and then in `options.search_dirs`,
/// else defaults; then the `CT_*` variables, then the flags, each overriding the last.
pub fn load_with(repo_root: &Path, options: &LoadOptions) -> Result<LoadedConfig, ConfigError> {
    let source = find_source(repo_root, options)?;
    let mut config = HarnessConfig::defaults(repo_root);
    let mut warnings = Vec::new();
    if let Some(path) = source.file() {
        let text = crate::files::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let shown = shown_path(path, repo_root);
        let file = parse_file(&text, &shown, &mut warnings)?;
        apply(file, &text, &shown, repo_root, &mut config, &mut warnings)?;
        config.config_file = Some(shown);
    }
    let env = env_overrides(&options.env, &mut warnings);
    for (origin, values) in [
        ("the CT_* environment", env),
        ("the command line", options.flags.clone()),
    ] {
        if values.is_empty() {
            continue;
        }
        // One line of JSON, which the YAML parser reads: the values go through exactly
        // the checks a file's keys do, and no line number is claimed for them.
        let text = serde_json::Value::Object(values.into_iter().collect()).to_string();
        let shown = Path::new(origin);
        let overrides = parse_file(&text, shown, &mut warnings)?;
        apply(
            overrides,
            &text,
            shown,
            repo_root,
            &mut config,
            &mut warnings,
        )?;
    }
    fit_trial_timeout(&mut config, &mut warnings);
    // A key set in the file and again by a variable or flag warns once, under the
    // first place that set it: the messages differ only in that `<origin>: ` prefix.
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|warning| {
        let message = warning
            .split_once(": ")
            .map_or(warning.as_str(), |(_, m)| m);
        seen.insert(message.to_string())
    });
    let (lintconf, chart_schema) = support_files::for_config(repo_root, options, &config);
    Ok(LoadedConfig {
        repo_root: repo_root.to_path_buf(),
        source,
        config,
        warnings,
        lintconf,
        chart_schema,
    })
}

/// `trial-timeout` when none is configured.
const DEFAULT_TRIAL_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// A trial installs, waits for readiness and runs `helm test`, each allowed helm's
/// `--timeout` from `helm-extra-args`; the default trial timeout grows to fit that, and a
/// configured one that is shorter gets a warning. (A `trial-timeout` written as exactly
/// the default is indistinguishable from none and grows too.)
fn fit_trial_timeout(config: &mut HarnessConfig, warnings: &mut Vec<String>) {
    let Some(helm) = config.helm_timeout else {
        return;
    };
    let needed = helm * 3;
    if config.trial_timeout >= needed {
        return;
    }
    if config.trial_timeout == DEFAULT_TRIAL_TIMEOUT {
        config.trial_timeout = needed;
    } else {
        warnings.push(format!(
            "`trial-timeout` ({}s) is shorter than 3 × the `--timeout` of `helm-extra-args` ({}s): \
             a trial whose install, readiness wait and helm test each take that long is cut off; \
             raise `trial-timeout` to at least {}s",
            config.trial_timeout.as_secs(),
            helm.as_secs(),
            needed.as_secs()
        ));
    }
}

/// The `CT_*` variables that name a key, as that key's value. viper reads a variable
/// for every key, so a variable for a key ct has and we ignore gets the same warning
/// as the key in a file; variables that match no key are not ours to judge.
fn env_overrides(
    env: &[(String, String)],
    warnings: &mut Vec<String>,
) -> Vec<(String, serde_json::Value)> {
    let supported = struct_fields::<FileConfig>();
    let mut values = Vec::new();
    for (name, value) in env {
        let Some(key) = key_of_variable(name) else {
            continue;
        };
        if CT_ENV_NOT_KEYS.contains(&name.as_str()) {
            continue;
        }
        if supported.contains(&key.as_str()) && !HARNESS_ONLY_KEYS.contains(&key.as_str()) {
            values.push((key, serde_json::Value::String(value.clone())));
        } else if let Some(reason) = ignored_reason(&key) {
            warnings.push(format!("{name} is ignored: {reason}"));
        }
    }
    values
}

/// Why ct's `key` means nothing here, when it is one of those keys.
pub fn ignored_reason(key: &str) -> Option<&'static str> {
    IGNORED_CT_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, reason)| *reason)
}

/// Checks every top-level key before typed parsing, so an unknown key is reported by
/// name with a suggestion instead of being silently dropped.
fn parse_file(
    text: &str,
    shown: &Path,
    warnings: &mut Vec<String>,
) -> Result<FileConfig, ConfigError> {
    let raw: Option<BTreeMap<String, IgnoredAny>> = yaml::parse_str(text, shown)?;
    let supported = struct_fields::<FileConfig>();
    for key in raw.unwrap_or_default().keys() {
        if supported.contains(&key.as_str()) {
            continue;
        }
        if let Some(reason) = ignored_reason(key) {
            warnings.push(format!("{}: `{key}` is ignored: {reason}", shown.display()));
            continue;
        }
        let known = supported
            .iter()
            .copied()
            .chain(IGNORED_CT_KEYS.iter().map(|(k, _)| *k));
        return Err(ConfigError::UnknownKey {
            path: shown.to_path_buf(),
            line: line_of_key(text, key),
            key: key.clone(),
            suggestion: nearest(key, known).map(str::to_string),
        });
    }
    let file: Option<FileConfig> = yaml::parse_str(text, shown)?;
    Ok(file.unwrap_or_default())
}

fn apply(
    file: FileConfig,
    text: &str,
    shown: &Path,
    repo_root: &Path,
    config: &mut HarnessConfig,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let invalid = |key: &'static str, message: String| ConfigError::Invalid {
        path: shown.to_path_buf(),
        line: line_of_key(text, key),
        key,
        message,
    };
    if let Some(dirs) = file.chart_dirs {
        if dirs.is_empty() {
            return Err(invalid(
                "chart-dirs",
                "the list is empty; name at least one directory that holds charts".into(),
            ));
        }
        config.chart_dirs = dirs
            .iter()
            .map(|d| resolve(repo_root, Path::new(d)))
            .collect();
    }
    if let Some(excluded) = file.excluded_charts {
        config.excluded_charts = excluded;
    }
    if let Some(branch) = file.target_branch {
        config.target_branch = non_empty(branch).ok_or_else(|| {
            invalid(
                "target-branch",
                "it is empty; name the branch pull requests target".into(),
            )
        })?;
    }
    if let Some(remote) = file.remote {
        config.remote = non_empty(remote)
            .ok_or_else(|| invalid("remote", "it is empty; name a git remote".into()))?;
    }
    config.since = file.since.and_then(non_empty).or(config.since.take());
    set(
        &mut config.check_version_increment,
        file.check_version_increment,
    );
    set(
        &mut config.validate_chart_schema,
        file.validate_chart_schema,
    );
    set(&mut config.validate_yaml, file.validate_yaml);
    if let Some(path) = file.lint_conf {
        config.lint_conf = Some(resolve(repo_root, &path));
    }
    set(&mut config.use_helmignore, file.use_helmignore);
    set(&mut config.upgrade, file.upgrade);
    set(&mut config.skip_missing_values, file.skip_missing_values);
    set(&mut config.github_groups, file.github_groups);
    if let Some(validate) = file.validate_maintainers {
        config.validate_maintainers = validate;
        if validate {
            warnings.push(format!(
                "{}: `validate-maintainers` does not look maintainer accounts up on GitHub, \
                 GitLab or Bitbucket (chart-harness makes no network calls); lint only \
                 requires every maintainer to have a name",
                shown.display()
            ));
        }
    }
    // ct splits these single strings on whitespace (Go's strings.Fields), so do we.
    if let Some(args) = file.helm_extra_args {
        let (timeout, rest) = take_timeout(split_args(&args))
            .map_err(|message| invalid("helm-extra-args", message))?;
        config.helm_timeout = timeout;
        config.helm_extra_args = rest;
    }
    if let Some(args) = file.helm_extra_set_args {
        config.helm_extra_set_args = split_args(&args);
    }
    if let Some(args) = file.helm_lint_extra_args {
        config.helm_lint_extra_args = split_args(&args);
    }
    if let Some(args) = file.helm_dependency_extra_args {
        config.helm_dependency_extra_args = args;
    }
    if let Some(commands) = file.additional_commands {
        config.additional_commands = commands;
    }
    if let Some(repos) = file.chart_repos {
        config.chart_repos = repos
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, url)) if !name.trim().is_empty() && !url.trim().is_empty() => {
                    Ok(ChartRepo {
                        name: name.trim().to_string(),
                        url: url.trim().to_string(),
                        extra_args: Vec::new(),
                    })
                }
                _ => Err(invalid(
                    "chart-repos",
                    format!("entry `{entry}` is not `name=url` (for example `bitnami=https://charts.bitnami.com/bitnami`)"),
                )),
            })
            .collect::<Result<_, _>>()?;
    }
    for entry in file.helm_repo_extra_args.unwrap_or_default() {
        let Some((name, args)) = entry.split_once('=') else {
            return Err(invalid(
                "helm-repo-extra-args",
                format!("entry `{entry}` is not `repo-name=arguments`"),
            ));
        };
        match config.chart_repos.iter_mut().find(|r| r.name == name.trim()) {
            Some(repo) => repo.extra_args = split_args(args),
            None => warnings.push(format!(
                "{}: `helm-repo-extra-args` names repository `{}`, which is not in `chart-repos`; its arguments are ignored",
                shown.display(),
                name.trim()
            )),
        }
    }
    if let Some(dir) = file.report_dir {
        config.report_dir = resolve(repo_root, &dir);
    }
    if let Some(jobs) = file.jobs {
        if jobs == 0 {
            return Err(invalid(
                "jobs",
                "must be at least 1; leave it out to use one job per CPU".into(),
            ));
        }
        config.jobs = Some(jobs);
    }
    config.helm_major = file.helm;
    if let Some(version) = file.kube_version {
        config.kube_version = Some(
            normalize_kube_version(&version).map_err(|message| invalid("kube-version", message))?,
        );
    }
    if let Some(timeout) = file.trial_timeout {
        let timeout =
            parse_duration(&timeout).map_err(|message| invalid("trial-timeout", message))?;
        if timeout.is_zero() {
            return Err(invalid("trial-timeout", "must be greater than zero".into()));
        }
        config.trial_timeout = timeout;
    }
    if let Some(snapshots) = file.snapshots {
        config.snapshots = snapshots;
    }
    if let Some(pattern) = file.values_files {
        // Cases are files at the chart's root; a `/` would never match a file name.
        if pattern.contains('/') {
            return Err(invalid(
                "values-files",
                format!(
                    "`{pattern}` has a `/`; it matches file names at each chart's root, like `values-*.yaml`"
                ),
            ));
        }
        globset::Glob::new(&pattern).map_err(|error| {
            invalid(
                "values-files",
                format!("`{pattern}` is not a glob ({error}); write one like `values-*.yaml`"),
            )
        })?;
        config.values_files = Some(pattern);
    }
    if let Some(cluster) = file.cluster {
        config.cluster = Some(
            cluster
                .parse()
                .map_err(|error: crate::cluster::ClusterError| {
                    invalid("cluster", error.to_string())
                })?,
        );
    }
    if let Some(limits) = file.yaml_limits {
        config.yaml_limits = limits;
    }
    if let Some(baseline) = file.baseline {
        config.baseline = baseline;
    }
    if let Some(paths) = file.backup_objectives {
        config.backup_objectives = paths;
    }
    if let Some(versions) = file.kube_versions {
        config.kube_versions = release_settings::kube_versions(versions)
            .map_err(|message| invalid("kube-versions", message))?;
    }
    if let Some(images) = file.kind_node_images {
        config.kind_node_images = release_settings::node_images(images)
            .map_err(|message| invalid("kind-node-images", message))?;
    }
    if let Some(gate) = file.release_gate {
        config.release_gate = gate
            .into_settings(repo_root)
            .map_err(|message| invalid("release-gate", message))?;
    }
    if let Some(registries) = file.plain_http_registries {
        config.plain_http_registries = registries;
    }
    if let Some(failure) = file.baseline_failure {
        config.baseline_failure = failure
            .parse()
            .map_err(|message| invalid("baseline-failure", message))?;
    }
    if let Some(policy) = file.policy {
        config.policy = policy
            .into_config()
            .map_err(|message| invalid("policy", message))?;
    }
    if let Some(kind_config) = file.kind_config {
        config.kind_config = Some(crate::cluster::KindConfigChoice::parse(
            &kind_config,
            repo_root,
        ));
    }
    if let Some(image) = file.kind_node_image {
        let image = image.trim().to_string();
        crate::cluster::docker::check_reference(&image)
            .map_err(|message| invalid("kind-node-image", format!("`{image}`: {message}")))?;
        config.kind_node_image = Some(image);
    }
    if let Some(images) = file.images {
        let mut checked: Vec<String> = Vec::new();
        for image in images.iter().map(|i| i.trim()) {
            crate::cluster::docker::check_reference(image)
                .map_err(|message| invalid("images", format!("entry `{image}`: {message}")))?;
            // Loading one image twice only costs time; say so rather than fail.
            if checked.iter().any(|seen| seen == image) {
                warnings.push(format!(
                    "{}: `images` lists `{image}` twice; it is loaded once",
                    shown.display()
                ));
                continue;
            }
            checked.push(image.to_string());
        }
        config.images = checked;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
