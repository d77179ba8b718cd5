//! yamllint's configuration format (`extends`, `rules: {name: enable|disable|{level, ...}}`),
//! read the way yamllint 1.35 reads it: `enable` keeps what an extended config set,
//! a mapping is merged over it, every option not given takes the rule's default, and an
//! unknown rule or option is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::yaml;

/// ct's default yamllint configuration, used when a repository has no `lintconf.yaml`
/// and sets no `lint-conf`. The settings of chart-testing v3.14's `etc/lintconf.yaml`
/// (which ct's release images install as `/etc/ct/lintconf.yaml`), restated here.
pub const CT_DEFAULT_LINTCONF: &str = "\
rules:
  braces:
    min-spaces-inside: 0
    max-spaces-inside: 0
    min-spaces-inside-empty: -1
    max-spaces-inside-empty: -1
  brackets:
    min-spaces-inside: 0
    max-spaces-inside: 0
    min-spaces-inside-empty: -1
    max-spaces-inside-empty: -1
  colons:
    max-spaces-before: 0
    max-spaces-after: 1
  commas:
    max-spaces-before: 0
    min-spaces-after: 1
    max-spaces-after: 1
  comments:
    require-starting-space: true
    min-spaces-from-content: 2
  document-end: disable
  document-start: disable
  empty-lines:
    max: 2
    max-start: 0
    max-end: 0
  hyphens:
    max-spaces-after: 1
  indentation:
    spaces: consistent
    indent-sequences: whatever
    check-multi-line-strings: false
  key-duplicates: enable
  line-length: disable
  new-line-at-end-of-file: enable
  new-lines:
    type: unix
  trailing-spaces: enable
  truthy:
    level: warning
";

/// How messages name [`CT_DEFAULT_LINTCONF`].
pub const CT_DEFAULT_SOURCE: &str = "ct's default lintconf";

/// yamllint's own `default` preset (yamllint 1.35.1, `yamllint/conf/default.yaml`), for
/// configs that say `extends: default`.
const PRESET_DEFAULT: &str = "\
rules:
  anchors: enable
  braces: enable
  brackets: enable
  colons: enable
  commas: enable
  comments: {level: warning}
  comments-indentation: {level: warning}
  document-end: disable
  document-start: {level: warning}
  empty-lines: enable
  empty-values: disable
  float-values: disable
  hyphens: enable
  indentation: enable
  key-duplicates: enable
  key-ordering: disable
  line-length: enable
  new-line-at-end-of-file: enable
  new-lines: enable
  octal-values: disable
  quoted-strings: disable
  trailing-spaces: enable
  truthy: {level: warning}
";

/// yamllint's `relaxed` preset (yamllint 1.35.1, `yamllint/conf/relaxed.yaml`).
const PRESET_RELAXED: &str = "\
extends: default
rules:
  braces: {level: warning, max-spaces-inside: 1}
  brackets: {level: warning, max-spaces-inside: 1}
  colons: {level: warning}
  commas: {level: warning}
  comments: disable
  comments-indentation: disable
  document-start: disable
  empty-lines: {level: warning}
  hyphens: {level: warning}
  indentation: {level: warning, indent-sequences: consistent}
  line-length: {level: warning, allow-non-breakable-inline-mappings: true}
  truthy: disable
";

/// Every rule of yamllint 1.35.1 with its options' defaults (`DEFAULT` in each rule's
/// module). A rule or option missing here is unknown to yamllint too.
const RULE_DEFAULTS: &[(&str, &str)] = &[
    (
        "anchors",
        r#"{"forbid-undeclared-aliases": true, "forbid-duplicated-anchors": false, "forbid-unused-anchors": false}"#,
    ),
    (
        "braces",
        r#"{"forbid": false, "min-spaces-inside": 0, "max-spaces-inside": 0, "min-spaces-inside-empty": -1, "max-spaces-inside-empty": -1}"#,
    ),
    (
        "brackets",
        r#"{"forbid": false, "min-spaces-inside": 0, "max-spaces-inside": 0, "min-spaces-inside-empty": -1, "max-spaces-inside-empty": -1}"#,
    ),
    (
        "colons",
        r#"{"max-spaces-before": 0, "max-spaces-after": 1}"#,
    ),
    (
        "commas",
        r#"{"max-spaces-before": 0, "min-spaces-after": 1, "max-spaces-after": 1}"#,
    ),
    (
        "comments",
        r#"{"require-starting-space": true, "ignore-shebangs": true, "min-spaces-from-content": 2}"#,
    ),
    ("comments-indentation", "{}"),
    ("document-end", r#"{"present": true}"#),
    ("document-start", r#"{"present": true}"#),
    ("empty-lines", r#"{"max": 2, "max-start": 0, "max-end": 0}"#),
    (
        "empty-values",
        r#"{"forbid-in-block-mappings": true, "forbid-in-flow-mappings": true, "forbid-in-block-sequences": true}"#,
    ),
    (
        "float-values",
        r#"{"require-numeral-before-decimal": false, "forbid-scientific-notation": false, "forbid-nan": false, "forbid-inf": false}"#,
    ),
    ("hyphens", r#"{"max-spaces-after": 1}"#),
    (
        "indentation",
        r#"{"spaces": "consistent", "indent-sequences": true, "check-multi-line-strings": false}"#,
    ),
    (
        "key-duplicates",
        r#"{"forbid-duplicated-merge-keys": false}"#,
    ),
    ("key-ordering", "{}"),
    (
        "line-length",
        r#"{"max": 80, "allow-non-breakable-words": true, "allow-non-breakable-inline-mappings": false}"#,
    ),
    ("new-line-at-end-of-file", "{}"),
    ("new-lines", r#"{"type": "unix"}"#),
    (
        "octal-values",
        r#"{"forbid-implicit-octal": true, "forbid-explicit-octal": true}"#,
    ),
    (
        "quoted-strings",
        r#"{"quote-type": "any", "required": true, "extra-required": [], "extra-allowed": [], "allow-quoted-quotes": false, "check-keys": false}"#,
    ),
    ("trailing-spaces", "{}"),
    (
        "truthy",
        r#"{"allowed-values": ["true", "false"], "check-keys": true}"#,
    ),
];

/// How bad a finding is; only errors fail a chart, as only errors make yamllint exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One enabled rule: its level and every option, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleConf {
    pub level: Level,
    options: Map<String, Value>,
    /// The rule's own `ignore` patterns (gitwildmatch, against the linted path).
    pub ignore: Vec<String>,
}

impl RuleConf {
    pub fn int(&self, key: &str) -> i64 {
        self.options[key].as_i64().expect("validated as an integer")
    }

    pub fn flag(&self, key: &str) -> bool {
        self.options[key].as_bool().expect("validated as a boolean")
    }

    pub fn value(&self, key: &str) -> &Value {
        &self.options[key]
    }
}

/// The enabled rules of a yamllint configuration, by rule name.
#[derive(Clone, Debug, PartialEq)]
pub struct YamllintConfig {
    /// Where the configuration came from, for messages: a path or "ct's default lintconf".
    pub source: String,
    pub rules: BTreeMap<String, RuleConf>,
    /// The top-level `ignore` patterns: files that match are not linted at all.
    pub ignore: Vec<String>,
    /// Settings this configuration uses that the harness does not apply
    /// (`ignore-from-file`), named in the run's warning with the unimplemented rules.
    pub unsupported: Vec<String>,
}

/// Whether gitwildmatch `patterns` (yamllint's pathspec) match `path`, a path relative
/// to the repository root as ct passes it to yamllint.
pub fn ignores(patterns: &[String], path: &std::path::Path) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let mut builder = ignore::gitignore::GitignoreBuilder::new("");
    for pattern in patterns {
        // An invalid pattern matches nothing, as in pathspec.
        let _ = builder.add_line(None, pattern);
    }
    builder
        .build()
        .is_ok_and(|set| set.matched_path_or_any_parents(path, false).is_ignore())
}

/// Why a yamllint configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("yamllint configuration {source_name}: {message}")]
pub struct YamllintConfigError {
    pub source_name: String,
    pub message: String,
}

/// ct's default lintconf: what runs when a repository has no yamllint configuration.
impl Default for YamllintConfig {
    fn default() -> YamllintConfig {
        YamllintConfig::ct_default()
    }
}

impl YamllintConfig {
    /// ct's default lintconf ([`CT_DEFAULT_LINTCONF`]).
    pub fn ct_default() -> YamllintConfig {
        YamllintConfig::parse(CT_DEFAULT_LINTCONF, CT_DEFAULT_SOURCE, None)
            .expect("ct's default lintconf is valid")
    }

    /// Reads the configuration file at `path` (`extends` of a relative path is resolved
    /// against its directory, as yamllint does).
    pub fn read(path: &Path, shown: &Path) -> Result<YamllintConfig, YamllintConfigError> {
        let text = crate::files::read_to_string(path).map_err(|err| YamllintConfigError {
            source_name: shown.display().to_string(),
            message: format!("cannot read it ({err}); check the path and its permissions"),
        })?;
        YamllintConfig::parse(&text, &shown.display().to_string(), path.parent())
    }

    /// Parses configuration `text`; `source` labels it in messages.
    pub fn parse(
        text: &str,
        source: &str,
        dir: Option<&Path>,
    ) -> Result<YamllintConfig, YamllintConfigError> {
        let fail = |message: String| YamllintConfigError {
            source_name: source.to_string(),
            message,
        };
        let merged = raw_rules(text, source, dir, 0)?;
        let mut unsupported = Vec::new();
        let mut rules = BTreeMap::new();
        for (name, conf) in merged {
            let Some(conf) = conf else { continue };
            if conf.contains_key("ignore-from-file") {
                unsupported.push(format!("`ignore-from-file` of rule `{name}`"));
            }
            rules.insert(name.clone(), validate(&name, conf).map_err(fail)?);
        }
        // Only the file's own top-level `ignore` counts: yamllint does not inherit it.
        let top: Option<Value> = yaml::parse_str(text, Path::new(source)).unwrap_or(None);
        let top = top.unwrap_or(Value::Null);
        if top.get("ignore").is_some() && top.get("ignore-from-file").is_some() {
            return Err(fail(
                "invalid config: ignore and ignore-from-file keys cannot be used together".into(),
            ));
        }
        if top.get("ignore-from-file").is_some() {
            unsupported.push("the top-level `ignore-from-file`".into());
        }
        let ignore = match top.get("ignore") {
            None => Vec::new(),
            Some(value) => patterns(value).ok_or_else(|| {
                fail("invalid config: ignore should contain file patterns".into())
            })?,
        };
        Ok(YamllintConfig {
            source: source.to_string(),
            rules,
            ignore,
            unsupported,
        })
    }
}

/// A rule as written, after `extends` was applied: `None` when disabled.
type RawRules = BTreeMap<String, Option<Map<String, Value>>>;

/// yamllint's `YamlLintConfig.parse` and `extend`: `enable` is an empty mapping, a
/// mapping is merged key by key over an enabled base rule, anything else replaces it.
fn raw_rules(
    text: &str,
    source: &str,
    dir: Option<&Path>,
    depth: usize,
) -> Result<RawRules, YamllintConfigError> {
    let fail = |message: String| YamllintConfigError {
        source_name: source.to_string(),
        message,
    };
    if depth > 8 {
        return Err(fail(
            "`extends` nests more than 8 configurations deep; look for a cycle".into(),
        ));
    }
    let value: Option<Value> = yaml::parse_str(text, Path::new(source))
        .map_err(|err| fail(format!("not valid YAML: {err}")))?;
    let value = value.unwrap_or(Value::Object(Map::new()));
    let Value::Object(top) = value else {
        return Err(fail(
            "invalid config: not a mapping; write `rules:` and optionally `extends:`".into(),
        ));
    };
    let mut own = RawRules::new();
    match top.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Object(rules)) => {
            for (name, conf) in rules {
                let parsed = match conf {
                    Value::String(word) if word == "enable" => Some(Map::new()),
                    Value::String(word) if word == "disable" => None,
                    Value::Object(options) => Some(options.clone()),
                    _ => {
                        return Err(fail(format!(
                            "invalid config: rule \"{name}\": should be either \"enable\", \"disable\" or a dict"
                        )));
                    }
                };
                own.insert(name.clone(), parsed);
            }
        }
        Some(_) => {
            return Err(fail("invalid config: rules should be a dict".into()));
        }
    }
    let Some(extends) = top.get("extends") else {
        return Ok(own);
    };
    let Value::String(base_name) = extends else {
        return Err(fail(
            "invalid config: extends should be a preset name or a file path".into(),
        ));
    };
    let mut base = match base_name.as_str() {
        "default" => raw_rules(PRESET_DEFAULT, "yamllint's default preset", None, depth + 1)?,
        "relaxed" => raw_rules(PRESET_RELAXED, "yamllint's relaxed preset", None, depth + 1)?,
        file => {
            let path: PathBuf = dir.map(|d| d.join(file)).unwrap_or_else(|| file.into());
            let base_text = crate::files::read_to_string(&path).map_err(|err| {
                fail(format!(
                    "cannot read `extends: {file}` ({err}); name `default`, `relaxed` or a readable file"
                ))
            })?;
            raw_rules(
                &base_text,
                &path.display().to_string(),
                path.parent(),
                depth + 1,
            )?
        }
    };
    for (name, conf) in own {
        match (conf, base.get_mut(&name)) {
            (Some(options), Some(Some(base_options))) => base_options.extend(options),
            (conf, _) => {
                base.insert(name, conf);
            }
        }
    }
    Ok(base)
}

/// yamllint's `validate_rule_conf`: the level, then every option known and well typed,
/// then the defaults of the options not given.
fn validate(name: &str, mut conf: Map<String, Value>) -> Result<RuleConf, String> {
    let Some((_, defaults)) = RULE_DEFAULTS.iter().find(|(rule, _)| *rule == name) else {
        return Err(format!("invalid config: no such rule: \"{name}\""));
    };
    let Value::Object(defaults) = serde_json::from_str(defaults).expect("defaults are JSON") else {
        unreachable!("rule defaults are JSON objects")
    };
    let level = match conf.remove("level") {
        None => Level::Error,
        Some(Value::String(level)) if level == "error" => Level::Error,
        Some(Value::String(level)) if level == "warning" => Level::Warning,
        Some(_) => {
            return Err("invalid config: level should be \"error\" or \"warning\"".into());
        }
    };
    let ignore = match conf.remove("ignore") {
        None => Vec::new(),
        Some(value) => patterns(&value).ok_or_else(|| {
            format!("invalid config: ignore of rule \"{name}\" should contain file patterns")
        })?,
    };
    // Named in the run's warning (see `YamllintConfig::parse`).
    conf.remove("ignore-from-file");
    for (key, value) in &conf {
        let Some(default) = defaults.get(key) else {
            return Err(format!(
                "invalid config: unknown option \"{key}\" for rule \"{name}\""
            ));
        };
        if !same_type(default, value) && !is_enum_choice(name, key, value) {
            return Err(format!(
                "invalid config: option \"{key}\" of \"{name}\" has the wrong type ({value}); \
                 yamllint's default is {default}"
            ));
        }
    }
    for (key, default) in defaults {
        conf.entry(key).or_insert(default);
    }
    Ok(RuleConf {
        level,
        options: conf,
        ignore,
    })
}

/// yamllint's `ignore`: a block of lines or a list of patterns.
fn patterns(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(text) => Some(text.lines().map(str::to_string).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::Bool(_), Value::Bool(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_))
    ) || (a.is_i64() && b.is_i64())
}

/// Options whose value is one of several types in yamllint's `CONF` (for example
/// `indentation.spaces`: an integer or `consistent`).
fn is_enum_choice(rule: &str, key: &str, value: &Value) -> bool {
    match (rule, key) {
        ("braces" | "brackets", "forbid") => value == "non-empty",
        ("indentation", "spaces") => value.is_i64() || value == "consistent",
        ("indentation", "indent-sequences") => {
            value.is_boolean() || value == "whatever" || value == "consistent"
        }
        ("quoted-strings", "required") => value.is_boolean() || value == "only-when-needed",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_default_enables_its_rules_with_its_levels() {
        let conf = YamllintConfig::ct_default();
        assert!(!conf.rules.contains_key("line-length"));
        assert!(!conf.rules.contains_key("document-start"));
        assert_eq!(conf.rules["truthy"].level, Level::Warning);
        assert_eq!(conf.rules["trailing-spaces"].level, Level::Error);
        assert_eq!(conf.rules["empty-lines"].int("max"), 2);
        assert!(conf.rules["comments"].flag("ignore-shebangs"));
    }

    #[test]
    fn extends_merges_options_and_keeps_the_base_level() {
        let conf = YamllintConfig::parse(
            "extends: default\nrules:\n  line-length: {max: 120}\n  comments: enable\n  truthy: disable\n",
            "t.yaml",
            None,
        )
        .unwrap();
        assert_eq!(conf.rules["line-length"].int("max"), 120);
        assert_eq!(conf.rules["line-length"].level, Level::Error);
        assert_eq!(conf.rules["comments"].level, Level::Warning);
        assert!(!conf.rules.contains_key("truthy"));
        assert_eq!(conf.rules["document-start"].level, Level::Warning);
    }

    #[test]
    fn relaxed_preset_extends_default() {
        let conf = YamllintConfig::parse("extends: relaxed\n", "t.yaml", None).unwrap();
        assert_eq!(conf.rules["braces"].int("max-spaces-inside"), 1);
        assert!(!conf.rules.contains_key("document-start"));
        assert!(conf.rules.contains_key("trailing-spaces"));
    }

    #[rstest::rstest]
    #[case::unknown_rule("rules:\n  no-tabs: enable\n", "no such rule: \"no-tabs\"")]
    #[case::unknown_option(
        "rules:\n  colons: {max: 1}\n",
        "unknown option \"max\" for rule \"colons\""
    )]
    #[case::bad_level("rules:\n  colons: {level: info}\n", "level should be")]
    #[case::bad_type(
        "rules:\n  empty-lines: {max: many}\n",
        "option \"max\" of \"empty-lines\""
    )]
    #[case::bad_word("rules:\n  colons: on\n", "should be either \"enable\", \"disable\"")]
    fn invalid_configs_name_the_problem(#[case] text: &str, #[case] fragment: &str) {
        let err = YamllintConfig::parse(text, "lintconf.yaml", None).unwrap_err();
        assert!(err.to_string().contains(fragment), "{err}");
        assert!(err.to_string().contains("lintconf.yaml"), "{err}");
    }
}
