//! Where the configuration comes from, as ct looks it up: the `--config` file, else
//! `chart-harness.yaml` at the root, else the first `ct.*` in the root and then in ct's
//! directories ([`LoadOptions`]), else defaults.

use std::fmt;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Our own configuration file, at the repository root.
pub const HARNESS_FILE: &str = "chart-harness.yaml";

/// Where chart-testing looks for its configuration inside a repository, in its order
/// (viper tries these extensions in this order in each directory). JSON is valid YAML,
/// so the one YAML parser reads all of them.
const CT_CANDIDATES: [&str; 6] = [
    "ct.json",
    "ct.yaml",
    "ct.yml",
    ".ct/ct.json",
    ".ct/ct.yaml",
    ".ct/ct.yml",
];

/// Where the configuration came from; reports and warnings name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    Harness(PathBuf),
    ChartTesting(PathBuf),
    Defaults,
}

impl ConfigSource {
    /// The file the configuration was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigSource::Harness(path) | ConfigSource::ChartTesting(path) => Some(path),
            ConfigSource::Defaults => None,
        }
    }

    /// `ct.yaml (ct)`: the file relative to the repository root when inside it, and
    /// which key set it was read with.
    pub fn describe(&self, repo_root: &Path) -> String {
        match self {
            ConfigSource::Harness(path) => {
                format!("{} (chart-harness)", shown_path(path, repo_root).display())
            }
            ConfigSource::ChartTesting(path) => {
                format!("{} (ct)", shown_path(path, repo_root).display())
            }
            ConfigSource::Defaults => {
                "none found, using ct's defaults (no chart-harness.yaml or ct.yaml)".to_string()
            }
        }
    }
}

/// How a front end asks for the configuration beyond the repository's own files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--config PATH`: this file and no other; a missing one is an error.
    pub file: Option<PathBuf>,
    /// Directories searched for `ct.*` after the repository root, in order: ct's
    /// `$HOME/.ct`, `/usr/local/etc/ct` and `/etc/ct`, or `CT_CONFIG_DIR` alone.
    pub search_dirs: Vec<PathBuf>,
    /// `CT_CONFIG_DIR`: where ct takes `lintconf.yaml` and `chart_schema.yaml` from,
    /// and nowhere else, when it is set.
    pub ct_config_dir: Option<PathBuf>,
    /// `CT_*` variables, as (name, value); they override the file.
    pub env: Vec<(String, String)>,
    /// Values of ct's flags by key (`target-branch`), as JSON values in the file's
    /// forms; they override the file and the environment.
    pub flags: Vec<(String, serde_json::Value)>,
}

impl LoadOptions {
    /// ct's lookup on this machine: `CT_CONFIG_DIR`, else `$HOME/.ct`,
    /// `/usr/local/etc/ct` and `/etc/ct`; and every `CT_*` variable.
    pub fn from_environment() -> LoadOptions {
        let ct_config_dir = std::env::var_os("CT_CONFIG_DIR").map(PathBuf::from);
        let search_dirs = match &ct_config_dir {
            Some(dir) => vec![dir.clone()],
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".ct"))
                .into_iter()
                .chain(["/usr/local/etc/ct", "/etc/ct"].map(PathBuf::from))
                .collect(),
        };
        LoadOptions {
            file: None,
            search_dirs,
            ct_config_dir,
            env: std::env::vars()
                .filter(|(name, _)| name.starts_with(CT_ENV_PREFIX))
                .collect(),
            flags: Vec::new(),
        }
    }
}

/// viper's prefix: `target-branch` is `CT_TARGET_BRANCH`.
const CT_ENV_PREFIX: &str = "CT_";

/// The key a `CT_*` variable names, as viper maps them: `CT_TARGET_BRANCH` is
/// `target-branch`. `None` for any other variable.
pub(super) fn key_of_variable(name: &str) -> Option<String> {
    name.strip_prefix(CT_ENV_PREFIX)
        .map(|suffix| suffix.to_ascii_lowercase().replace('_', "-"))
}

pub(super) fn find_source(
    repo_root: &Path,
    options: &LoadOptions,
) -> Result<ConfigSource, ConfigError> {
    if let Some(file) = &options.file {
        if !file.is_file() {
            return Err(ConfigError::MissingFile(file.clone()));
        }
        return Ok(if file.file_name() == Some(HARNESS_FILE.as_ref()) {
            ConfigSource::Harness(file.clone())
        } else {
            ConfigSource::ChartTesting(file.clone())
        });
    }
    let harness = repo_root.join(HARNESS_FILE);
    if harness.is_file() {
        return Ok(ConfigSource::Harness(harness));
    }
    let in_root = CT_CANDIDATES.iter().map(|name| repo_root.join(name));
    let elsewhere = options.search_dirs.iter().flat_map(|dir| {
        CT_CANDIDATES
            .iter()
            .filter(|name| !name.starts_with(".ct/"))
            .map(move |name| dir.join(name))
    });
    Ok(in_root
        .chain(elsewhere)
        .find(|path| path.is_file())
        .map_or(ConfigSource::Defaults, ConfigSource::ChartTesting))
}

/// The path to show in messages: relative to the repository root when inside it.
pub(super) fn shown_path(path: &Path, repo_root: &Path) -> PathBuf {
    path.strip_prefix(repo_root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Harness(path) | ConfigSource::ChartTesting(path) => {
                write!(f, "{}", path.display())
            }
            ConfigSource::Defaults => f.write_str("defaults (no chart-harness.yaml or ct.yaml)"),
        }
    }
}
