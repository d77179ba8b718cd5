//! One YAML parser configuration for everything the harness reads.
//!
//! Charts are Kubernetes YAML: it allows YAML 1.1 octal literals (`0644`), so
//! `legacy_octal_numbers` is on. Duplicate keys are an error rather than "last wins",
//! because a silently dropped key is exactly the kind of bug a chart linter must catch.
//! The alias budget stays at serde-saphyr's defaults, which stop alias bombs early. The
//! size limits (events, nodes, depth, documents, scalar bytes) are serde-saphyr's too,
//! unless the configuration's `yaml-limits` raises them for a repository with huge
//! values files; a file over a limit is told apart from a malformed one.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy};

/// A YAML document that could not be read or parsed, with the file and line it came from.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct YamlError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
    /// The file is over a size limit (`yaml-limits`), not malformed.
    pub over_limit: bool,
}

/// `yaml-limits` in the configuration: size limits raised above the parser's defaults
/// (a value below a default leaves the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct YamlLimits {
    pub max_events: Option<usize>,
    pub max_nodes: Option<usize>,
    pub max_depth: Option<usize>,
    pub max_documents: Option<usize>,
    pub max_total_scalar_bytes: Option<usize>,
}

/// Process-wide, as the rest of the parser configuration: the run sets it once from its
/// configuration, before any file of a chart is read.
static LIMITS: RwLock<YamlLimits> = RwLock::new(YamlLimits {
    max_events: None,
    max_nodes: None,
    max_depth: None,
    max_documents: None,
    max_total_scalar_bytes: None,
});

pub fn set_limits(limits: YamlLimits) {
    *LIMITS.write().unwrap_or_else(|e| e.into_inner()) = limits;
}

/// The parser's defaults, raised where the configuration raises them. Only raised: the
/// harness parses its own built-in files (ct's lintconf, kind configs) with the same
/// parser, and those must never fail on a repository's setting.
fn budget() -> Budget {
    let limits = *LIMITS.read().unwrap_or_else(|e| e.into_inner());
    let raise = |default: usize, configured: Option<usize>| configured.unwrap_or(0).max(default);
    let mut budget = Budget::default();
    budget.max_events = raise(budget.max_events, limits.max_events);
    budget.max_nodes = raise(budget.max_nodes, limits.max_nodes);
    budget.max_depth = raise(budget.max_depth, limits.max_depth);
    budget.max_documents = raise(budget.max_documents, limits.max_documents);
    budget.max_total_scalar_bytes =
        raise(budget.max_total_scalar_bytes, limits.max_total_scalar_bytes);
    budget
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
        budget: Some(budget()),
    }
}

fn to_yaml_error(path: &Path, err: serde_saphyr::Error) -> YamlError {
    let line = err.location().map(|l| l.line());
    let (message, over_limit) = match &err {
        serde_saphyr::Error::Budget { breach, .. } => (limit_message(breach, &budget()), true),
        _ => (user_message(&err.to_string()), false),
    };
    YamlError {
        path: path.to_path_buf(),
        line,
        message,
        over_limit,
    }
}

/// Which limit a file went over, and how to raise it when raising it is reasonable.
fn limit_message(breach: &BudgetBreach, budget: &Budget) -> String {
    let raisable = |what: &str, limit: usize, key: &str| {
        format!(
            "the file is larger than chart-harness parses: more than {limit} {what} (limit `{key}`); if it is meant to be this large, raise it with `yaml-limits: {{{key}: {}}}` in the configuration",
            limit.saturating_mul(2)
        )
    };
    match breach {
        BudgetBreach::Events { .. } => raisable("parser events", budget.max_events, "max-events"),
        BudgetBreach::Nodes { .. } => raisable("nodes", budget.max_nodes, "max-nodes"),
        BudgetBreach::Depth { .. } => raisable("levels of nesting", budget.max_depth, "max-depth"),
        BudgetBreach::Documents { .. } => {
            raisable("documents", budget.max_documents, "max-documents")
        }
        BudgetBreach::ScalarBytes { .. } => raisable(
            "bytes of scalar values",
            budget.max_total_scalar_bytes,
            "max-total-scalar-bytes",
        ),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::MergeKeys { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. } => {
            "its aliases expand beyond what chart-harness parses (an alias bomb?); reduce the aliases and anchors".to_string()
        }
        other => format!("the file is over a parser limit ({other:?})"),
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
        over_limit: false,
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

    #[test]
    fn a_file_over_a_size_limit_names_the_limit_and_how_to_raise_it() {
        let budget = Budget::default();
        let message = limit_message(&BudgetBreach::Events { events: 1 }, &budget);
        assert!(
            message.contains(&format!("more than {} parser events", budget.max_events))
                && message.contains("yaml-limits: {max-events: "),
            "{message}"
        );
        let nodes: String = (0..budget.max_nodes + 1)
            .map(|i| format!("k{i}: 1\n"))
            .collect();
        let err = parse_str::<serde_json::Value>(&nodes, Path::new("values.yaml")).unwrap_err();
        assert!(err.over_limit, "{err}");
        assert!(err.message.contains("(limit `max-"), "{err}");
        assert!(
            !user_message(&err.message).contains("budget breached"),
            "{err}"
        );
    }
}
