//! The `yamllint` check: yamllint's rules, with yamllint's semantics and messages, over
//! the files chart-testing hands to yamllint (`Chart.yaml`, `values.yaml` and the case's
//! `ci/*-values.yaml`), configured by the repository's yamllint config.
//!
//! ct runs `yamllint --config-file <lintconf> <file>` and fails the chart when yamllint
//! exits 1, which it does for errors only: warnings are printed and pass (yamllint's
//! `--strict`, which would fail them, is not used by ct). So here errors are problems
//! that fail the phase, and warnings are kept beside them without failing it.
//!
//! The configuration is the `lintconf.yaml` ct's lookup chooses
//! ([`crate::config::support_files`]), else ct's default lintconf
//! ([`config::CT_DEFAULT_LINTCONF`]).
//! `# yamllint disable`, `enable`, `disable-line` and `disable-file` comments and the
//! `ignore` patterns act as in yamllint. Every rule ct's default lintconf enables is
//! implemented ([`IMPLEMENTED_RULES`]): the line rules in `lines`, the token and comment
//! rules in `tokens`, and `indentation` and `comments-indentation` in modules of their
//! own. Rules a configuration enables that are not implemented here are named once per
//! run ([`YamllintConfig::unimplemented`]), never skipped silently.

mod comments_indentation;
mod config;
mod indentation;
mod lines;
mod tokens;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::SupportFile;
use crate::problem::Problem;

pub use config::{
    CT_DEFAULT_LINTCONF, CT_DEFAULT_SOURCE, Level, YamllintConfig, YamllintConfigError,
};

/// The rules implemented here. Every other rule of yamllint 1.35 is reported as not
/// implemented when a configuration enables it.
pub const IMPLEMENTED_RULES: &[&str] = &[
    "braces",
    "brackets",
    "colons",
    "commas",
    "comments",
    "comments-indentation",
    "document-start",
    "empty-lines",
    "hyphens",
    "indentation",
    "key-duplicates",
    "line-length",
    "new-line-at-end-of-file",
    "new-lines",
    "trailing-spaces",
    "truthy",
];

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
    /// The 1-based line whose `# yamllint` directives decide whether the finding is
    /// shown. yamllint applies them at the line a finding's token starts on, which is
    /// not the finding's own line for a multi-line scalar's continuation lines.
    pub directive_line: usize,
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
    /// The configuration a run uses: the file ct's lookup chose (`lint-conf`, else
    /// `$CT_CONFIG_DIR/lintconf.yaml`, else the first of ct's search locations that has
    /// one; see [`SupportFile`]), else ct's default. An error names the file and why it
    /// was chosen.
    pub fn for_run(
        repo_root: &Path,
        lintconf: &SupportFile,
    ) -> Result<YamllintConfig, YamllintConfigError> {
        let (Some(path), Some(shown)) = (lintconf.path(), lintconf.shown(repo_root)) else {
            return Ok(YamllintConfig::ct_default());
        };
        let chosen = |mut error: YamllintConfigError| {
            error.source_name = format!("{} ({})", error.source_name, lintconf.reason());
            error
        };
        if matches!(lintconf, SupportFile::ConfigDir { .. }) && !path.exists() {
            return Err(chosen(YamllintConfigError {
                source_name: shown.display().to_string(),
                message: "it does not exist (ct would fail on it too)".to_string(),
            }));
        }
        YamllintConfig::read(path, &shown).map_err(chosen)
    }

    /// The rules this configuration enables that the harness does not implement, sorted.
    pub fn unimplemented(&self) -> Vec<&str> {
        self.rules
            .keys()
            .map(String::as_str)
            .filter(|rule| !IMPLEMENTED_RULES.contains(rule))
            .collect()
    }

    /// The run's one warning about unimplemented rules and settings, if any.
    pub fn unimplemented_warning(&self) -> Option<String> {
        let missing = self.unimplemented();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "chart-harness does not implement yamllint's rule(s) {}; they are not checked \
                 (run yamllint itself for them, or disable them in the configuration to \
                 silence this warning)",
                missing
                    .iter()
                    .map(|rule| format!("`{rule}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.unsupported.is_empty() {
            parts.push(format!(
                "{} is not applied, so files it would exclude are linted; use `ignore` patterns instead",
                self.unsupported.join(" and ")
            ));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "yamllint configuration {}: {}",
                self.source,
                parts.join("; ")
            )
        })
    }

    /// The configuration's rules for the file at `path` (relative to the repository root,
    /// as ct names it to yamllint): none when the top-level `ignore` matches it, else
    /// every enabled rule whose own `ignore` does not.
    pub fn for_file(&self, path: &Path) -> YamllintConfig {
        let mut rules = self.rules.clone();
        if config::ignores(&self.ignore, path) {
            rules.clear();
        }
        rules.retain(|_, rule| !config::ignores(&rule.ignore, path));
        YamllintConfig {
            rules,
            ..self.clone()
        }
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
    indentation::check(config, &buffer, &tokens, &mut findings);
    let comments = tokens::all_comments(&buffer, &tokens);
    comments_indentation::check(config, &buffer, &comments, &mut findings);
    for line in &lines {
        lines::check(config, &buffer, line, &mut findings);
    }
    let mut findings = apply_directives(config, &buffer, &comments, findings);
    findings.sort_by_key(|finding| (finding.line, finding.column));
    findings
}

/// yamllint's `# yamllint disable|enable [rule:ID ...]` (from that line on) and
/// `# yamllint disable-line [rule:ID ...]` (on its own line: the next line; after
/// content: that line) comments. As in yamllint, a directive takes effect for the
/// findings of the line it is on, and naming a rule that is not enabled does nothing.
fn apply_directives(
    config: &YamllintConfig,
    buffer: &[char],
    comments: &[tokens::Comment],
    findings: Vec<Finding>,
) -> Vec<Finding> {
    if comments.is_empty() {
        return findings;
    }
    let enabled: BTreeSet<&str> = config.rules.keys().map(String::as_str).collect();
    let last_line = findings.iter().map(|f| f.directive_line).max().unwrap_or(0);
    let mut disabled: BTreeSet<&str> = BTreeSet::new();
    let mut for_line: BTreeSet<&str> = BTreeSet::new();
    let mut for_next_line: BTreeSet<&str> = BTreeSet::new();
    let mut kept = Vec::new();
    let texts: Vec<(usize, bool, String)> = comments
        .iter()
        .map(|c| (c.line, c.is_inline(buffer), c.text(buffer)))
        .collect();
    let mut texts = texts.iter().peekable();
    for line in 1..=last_line {
        while let Some((_, inline, text)) = texts.next_if(|(at, _, _)| *at <= line) {
            if let Some(rules) = directive(text, "disable") {
                disabled.extend(
                    rules
                        .unwrap_or_else(|| enabled.clone())
                        .intersection(&enabled),
                );
            } else if let Some(rules) = directive(text, "enable") {
                match rules {
                    None => disabled.clear(),
                    Some(rules) => disabled.retain(|rule| !rules.contains(rule)),
                }
            }
            if let Some(rules) = directive(text, "disable-line") {
                let target = if *inline {
                    &mut for_line
                } else {
                    &mut for_next_line
                };
                target.extend(
                    rules
                        .unwrap_or_else(|| enabled.clone())
                        .intersection(&enabled),
                );
            }
        }
        kept.extend(
            findings
                .iter()
                .filter(|f| {
                    f.directive_line == line
                        && !disabled.contains(f.rule)
                        && !for_line.contains(f.rule)
                })
                .cloned(),
        );
        for_line = std::mem::take(&mut for_next_line);
    }
    kept
}

/// The rules a `# yamllint <word> rule:a rule:b` comment names (`None`: all), when
/// the comment is that directive exactly (yamllint's regular expressions).
fn directive<'t>(text: &'t str, word: &str) -> Option<Option<BTreeSet<&'t str>>> {
    let rest = text.strip_prefix("# yamllint ")?.strip_prefix(word)?;
    let rest = rest.trim_end();
    if rest.is_empty() {
        return Some(None);
    }
    // `# yamllint disabled` and the like are not directives, nor is an item other than
    // ` rule:ID` (single spaces, as yamllint's expression requires).
    let rules = rest
        .strip_prefix(' ')?
        .split(' ')
        .map(|item| item.strip_prefix("rule:").filter(|id| !id.is_empty()));
    Some(Some(rules.collect::<Option<BTreeSet<_>>>()?))
}

/// What the check found in one trial's files.
#[derive(Debug, Default)]
pub struct FileFindings {
    /// Every finding as a problem located at its file, line and column, errors and
    /// warnings alike, in file order.
    pub problems: Vec<Problem>,
    /// Whether any finding is an error, which fails the chart as it makes yamllint exit 1.
    pub has_errors: bool,
}

/// The files ct hands to yamllint for one case, relative to the chart directory:
/// `Chart.yaml`, `values.yaml` (when the chart has one) and the case's values file when
/// it lies in the chart (ct's `ci/*-values.yaml`).
pub fn case_files(chart_dir: &Path, case_file: Option<&Path>) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("Chart.yaml")];
    if chart_dir.join("values.yaml").is_file() {
        files.push(PathBuf::from("values.yaml"));
    }
    files.extend(
        case_file
            .and_then(|file| file.strip_prefix(chart_dir).ok())
            .map(Path::to_path_buf),
    );
    files
}

/// Lints `files` (relative to `chart_dir`) except those in `skip` (shown paths an
/// earlier phase found unreadable or malformed). Problems name files as `rel_dir/file`.
pub fn check_files(
    chart_dir: &Path,
    rel_dir: &Path,
    files: &[PathBuf],
    skip: &BTreeSet<PathBuf>,
    config: &YamllintConfig,
) -> FileFindings {
    let mut found = FileFindings::default();
    for file in files {
        let shown = rel_dir.join(file);
        if skip.contains(&shown) {
            continue;
        }
        let text = match crate::files::read_to_string(&chart_dir.join(file)) {
            Ok(text) => text,
            Err(err) => {
                found.has_errors = true;
                found.problems.push(Problem::in_file(
                    shown,
                    format!("cannot read the file for yamllint's rules ({err}); check that it is readable UTF-8"),
                ));
                continue;
            }
        };
        for finding in lint(&text, &config.for_file(&shown)) {
            found.has_errors |= finding.level == Level::Error;
            found.problems.push(
                Problem::in_file(
                    &shown,
                    format!(
                        "[{}] {} ({})",
                        finding.level.as_str(),
                        finding.message,
                        finding.rule
                    ),
                )
                .at_line(Some(finding.line as u64))
                .at_column(Some(finding.column as u64)),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::SupportFileLookup;
    use crate::config::support_files::LINTCONF_FILE;

    /// ct's lookup over the repository alone, `CT_CONFIG_DIR` unset.
    fn looked_up(repo: &Path, configured: Option<PathBuf>) -> SupportFile {
        SupportFileLookup::for_repository(repo, None, &[]).find(
            LINTCONF_FILE,
            configured.map(|path| (path, "--lint-conf".to_string())),
        )
    }

    #[test]
    fn a_repository_without_a_lintconf_gets_cts_default() {
        let repo = tempfile::tempdir().unwrap();
        let config = YamllintConfig::for_run(repo.path(), &looked_up(repo.path(), None)).unwrap();
        assert_eq!(config, YamllintConfig::ct_default());
        assert_eq!(config.source, CT_DEFAULT_SOURCE);
    }

    #[test]
    fn the_repositorys_lintconf_yaml_is_used() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(
            repo.path().join(LINTCONF_FILE),
            "rules:\n  truthy: enable\n",
        )
        .unwrap();
        let config = YamllintConfig::for_run(repo.path(), &looked_up(repo.path(), None)).unwrap();
        assert_eq!(config.source, "lintconf.yaml");
        assert_eq!(config.rules.keys().collect::<Vec<_>>(), ["truthy"]);
        assert_eq!(config.rules["truthy"].level, Level::Error);
    }

    #[test]
    fn lint_conf_wins_over_lintconf_yaml_and_a_missing_one_is_an_error() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join(LINTCONF_FILE), "rules: {}\n").unwrap();
        std::fs::create_dir(repo.path().join(".github")).unwrap();
        std::fs::write(
            repo.path().join(".github/yamllint.yaml"),
            "extends: default\nrules:\n  indentation: disable\n",
        )
        .unwrap();
        let chosen = repo.path().join(".github/yamllint.yaml");
        let config =
            YamllintConfig::for_run(repo.path(), &looked_up(repo.path(), Some(chosen))).unwrap();
        assert_eq!(config.source, ".github/yamllint.yaml");
        assert!(config.rules.contains_key("document-start"));

        let missing = repo.path().join("nope.yaml");
        let err = YamllintConfig::for_run(repo.path(), &looked_up(repo.path(), Some(missing)))
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "yamllint configuration nope.yaml (named by --lint-conf): cannot read it"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_lintconf_names_the_rule_the_file_and_the_lookup() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join(LINTCONF_FILE), "rules:\n  braces:\n").unwrap();
        let err = YamllintConfig::for_run(repo.path(), &looked_up(repo.path(), None)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "yamllint configuration lintconf.yaml (the first of ct's search locations"
            ),
            "{message}"
        );
        assert!(message.contains("rule \"braces\""), "{message}");
    }

    #[test]
    fn a_missing_lintconf_in_ct_config_dir_is_an_error_naming_the_path() {
        let repo = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join(LINTCONF_FILE), "extends: default\n").unwrap();
        let lookup =
            SupportFileLookup::for_repository(repo.path(), Some(etc.path().to_path_buf()), &[]);
        let err = YamllintConfig::for_run(repo.path(), &lookup.find(LINTCONF_FILE, None))
            .unwrap_err()
            .to_string();
        let expected = etc.path().join(LINTCONF_FILE).display().to_string();
        assert!(err.contains(&expected), "{err}");
        assert!(err.contains("from CT_CONFIG_DIR"), "{err}");
    }

    #[test]
    fn unimplemented_rules_are_named_in_one_warning() {
        // Every rule ct's default lintconf enables is implemented.
        let config = YamllintConfig::ct_default();
        assert_eq!(config.unimplemented(), Vec::<&str>::new());
        assert_eq!(config.unimplemented_warning(), None);

        let all = YamllintConfig::parse(
            "extends: default\nrules:\n  empty-values: enable\n",
            "d.yaml",
            None,
        )
        .unwrap();
        assert_eq!(all.unimplemented(), ["anchors", "empty-values"]);
        let warning = all.unimplemented_warning().unwrap();
        assert!(
            warning.starts_with("yamllint configuration d.yaml:"),
            "{warning}"
        );
        assert!(warning.contains("`anchors`, `empty-values`"), "{warning}");
        let none = YamllintConfig::parse("rules:\n  colons: enable\n", "c.yaml", None).unwrap();
        assert_eq!(none.unimplemented_warning(), None);
    }

    #[test]
    fn ignore_from_file_is_named_as_not_applied() {
        let config = YamllintConfig::parse(
            "ignore-from-file: .gitignore\nrules:\n  colons: {ignore-from-file: x}\n",
            "y.yaml",
            None,
        )
        .unwrap();
        let warning = config.unimplemented_warning().unwrap();
        assert!(
            warning.contains("`ignore-from-file` of rule `colons`"),
            "{warning}"
        );
        assert!(
            warning.contains("the top-level `ignore-from-file`"),
            "{warning}"
        );
        assert!(!warning.contains("does not implement"), "{warning}");
    }

    #[test]
    fn disable_file_on_the_first_line_skips_the_file() {
        let config = YamllintConfig::ct_default();
        assert_eq!(lint("# yamllint disable-file\na: 1   \n", &config), vec![]);
        assert_eq!(lint("a: 1   \n", &config).len(), 1);
    }
}
