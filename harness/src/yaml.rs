//! One YAML parser configuration for everything the harness reads.
//!
//! Charts are Kubernetes YAML: it allows YAML 1.1 octal literals (`0644`), so
//! `legacy_octal_numbers` is on. Duplicate keys are an error rather than "last wins",
//! because a silently dropped key is exactly the kind of bug a chart linter must catch.
//! The alias budget stays at serde-saphyr's defaults, which stop alias bombs early.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_saphyr::DuplicateKeyPolicy;

/// A YAML document that could not be read or parsed, with the file and line it came from.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct YamlError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
}

fn to_yaml_error(path: &Path, err: serde_saphyr::Error) -> YamlError {
    let line = err.location().map(|l| l.line());
    YamlError {
        path: path.to_path_buf(),
        line,
        message: first_line(&err.to_string()),
    }
}

/// serde-saphyr appends location details on following lines; the file:line prefix
/// already carries them.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

/// Parses one YAML document from `text`; `path` only labels errors.
pub fn parse_str<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| to_yaml_error(path, e))
}

/// Parses every document of a multi-document YAML stream (`---` separated).
pub fn parse_multi<T: DeserializeOwned>(text: &str, path: &Path) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| to_yaml_error(path, e))
}

/// Reads and parses a YAML file.
pub fn read_file<T: DeserializeOwned>(path: &Path) -> Result<T, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|e| YamlError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    parse_str(&text, path)
}
