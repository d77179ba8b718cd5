//! The `yamllint` check: yamllint's rules, with yamllint's semantics and messages, over
//! the files chart-testing hands to yamllint (`Chart.yaml`, `values.yaml` and the case's
//! `ci/*-values.yaml`), configured by the repository's yamllint config.
//!
//! ct runs `yamllint --config-file <lintconf> <file>` and fails the chart when yamllint
//! exits 1, which it does for errors only: warnings are printed and pass (yamllint's
//! `--strict`, which would fail them, is not used by ct). So here errors are problems
//! that fail the phase, and warnings are kept as the phase's notes.
//!
//! The configuration is, as in ct: the file named by `lint-conf`, else `lintconf.yaml`
//! at the repository root, else ct's default lintconf ([`config::CT_DEFAULT_LINTCONF`]).
//! Rules the configuration enables that are not implemented here are named once per run
//! ([`YamllintConfig::unimplemented`]), never skipped silently.

mod config;
mod lines;
mod tokens;

use std::fmt;
use std::path::{Path, PathBuf};

pub use config::{CT_DEFAULT_LINTCONF, Level, YamllintConfig, YamllintConfigError};

/// The rules implemented here. Every other rule of yamllint 1.35 is reported as not
/// implemented when a configuration enables it.
pub const IMPLEMENTED_RULES: &[&str] = &[
    "braces",
    "brackets",
    "colons",
    "commas",
    "comments",
    "document-start",
    "empty-lines",
    "hyphens",
    "key-duplicates",
    "line-length",
    "new-line-at-end-of-file",
    "new-lines",
    "trailing-spaces",
    "truthy",
];

/// The configuration file a repository uses in place of ct's default, as ct looks for it.
pub const LINTCONF_FILE: &str = "lintconf.yaml";

/// One finding, as yamllint reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub level: Level,
    pub message: String,
    pub rule: &'static str,
}

impl fmt::Display for Finding {
    /// yamllint's `parsable` format without the file: `line:col: [level] message (rule)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {} ({})",
            self.line,
            self.column,
            self.level.as_str(),
            self.message,
            self.rule
        )
    }
}

impl YamllintConfig {
    /// The configuration a run uses: `lint_conf` when set (ct's `--lint-conf`), else
    /// `lintconf.yaml` at the repository root, else ct's default.
    pub fn for_repository(
        repo_root: &Path,
        lint_conf: Option<&Path>,
    ) -> Result<YamllintConfig, YamllintConfigError> {
        let path: Option<PathBuf> = match lint_conf {
            Some(path) => Some(repo_root.join(path)),
            None => Some(repo_root.join(LINTCONF_FILE)).filter(|path| path.is_file()),
        };
        match path {
            Some(path) => {
                let shown = path.strip_prefix(repo_root).unwrap_or(&path).to_path_buf();
                YamllintConfig::read(&path, &shown)
            }
            None => Ok(YamllintConfig::ct_default()),
        }
    }

    /// The rules this configuration enables that the harness does not implement, sorted.
    pub fn unimplemented(&self) -> Vec<&str> {
        self.rules
            .keys()
            .map(String::as_str)
            .filter(|rule| !IMPLEMENTED_RULES.contains(rule))
            .collect()
    }

    /// The run's one warning about unimplemented rules, if any.
    pub fn unimplemented_warning(&self) -> Option<String> {
        let missing = self.unimplemented();
        (!missing.is_empty()).then(|| {
            format!(
                "yamllint configuration {}: chart-harness does not implement yamllint's rule(s) {}; \
                 they are not checked (run yamllint itself for them, or disable them in the \
                 configuration to silence this warning)",
                self.source,
                missing
                    .iter()
                    .map(|rule| format!("`{rule}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// Lints `text` as yamllint does one file; findings are sorted by line, then column.
/// A file that the YAML scanner rejects gets only the line rules and the token rules up
/// to the error, as yamllint does; the syntax error itself is the `yaml` phase's report.
pub fn lint(text: &str, config: &YamllintConfig) -> Vec<Finding> {
    let buffer: Vec<char> = text.chars().collect();
    let lines = lines::lines(&buffer);
    // yamllint skips a file whose first line is this directive.
    if let Some(first) = lines.first() {
        let first: String = buffer[first.start..first.end].iter().collect();
        let disabled = first
            .strip_prefix('#')
            .and_then(|rest| rest.trim_start().strip_prefix("yamllint disable-file"))
            .is_some_and(|rest| rest.trim().is_empty());
        if disabled {
            return Vec::new();
        }
    }
    let tokens = tokens::scan(text).unwrap_or_else(|(partial, _)| partial);
    let mut findings = Vec::new();
    tokens::check(config, &buffer, &tokens, &mut findings);
    for line in &lines {
        lines::check(config, &buffer, line, &mut findings);
    }
    findings.sort_by_key(|finding| (finding.line, finding.column));
    findings
}
