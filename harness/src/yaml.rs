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
        message: user_message(&err.to_string()),
    }
}

/// The parser's message without what the file:line prefix already says (serde-saphyr
/// appends ` at line N, column M` and sometimes more lines) and without advice meant
/// for programmers configuring the parser.
fn user_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let mut text = first.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    if let Some(at) = text.rfind(" at line ") {
        let location = &text[at + " at line ".len()..];
        let is_location = location
            .split_once(", column ")
            .is_some_and(|(line, column)| {
                [line, column]
                    .iter()
                    .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            });
        if is_location {
            text.truncate(at);
        }
    }
    text
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
    let text = crate::files::read_to_string(path).map_err(|e| YamlError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    parse_str(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::duplicate(
        "duplicate mapping key: replicas, set DuplicateKeyPolicy in Options if acceptable at line 2, column 1",
        "duplicate mapping key: replicas"
    )]
    #[case::plain_location(
        "did not find expected ',' at line 3, column 7",
        "did not find expected ','"
    )]
    #[case::no_location("cannot read file: denied", "cannot read file: denied")]
    #[case::words_after_at_line("value at line noise", "value at line noise")]
    #[case::later_lines_dropped(
        "bad indentation at line 1, column 2\n  --> here",
        "bad indentation"
    )]
    fn parser_messages_lose_location_and_programmer_advice(
        #[case] raw: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(user_message(raw), expected);
    }

    #[test]
    fn duplicate_keys_and_octal() {
        let err = parse_str::<serde_json::Value>("a: 1\na: 2\n", Path::new("v.yaml")).unwrap_err();
        assert_eq!(err.to_string(), "v.yaml:2: duplicate mapping key: a");
        let value: serde_json::Value = parse_str("mode: 0644\n", Path::new("v.yaml")).unwrap();
        assert_eq!(value["mode"], 420);
    }
}
