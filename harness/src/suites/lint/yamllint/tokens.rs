//! yamllint's token and comment rules: `document-start`, `colons`, `hyphens`, `commas`,
//! `braces`, `brackets`, `truthy`, `key-duplicates` and `comments`, each a port of its
//! yamllint 1.35 `check`. yamllint walks PyYAML's token stream with the previous and
//! next token at hand and finds comments in the gaps between tokens; this walks the
//! tokens of granit-parser (a libyaml-style scanner like PyYAML's) the same way.

use std::collections::BTreeSet;

pub use granit_parser::ScalarStyle;
use granit_parser::{Marker, Scanner, StrInput, TokenType};

use super::Finding;
use super::config::{RuleConf, YamllintConfig};

/// A position as PyYAML's `Mark`: 0-based line and column, `index` in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
    pub index: usize,
}

impl From<Marker> for Mark {
    fn from(marker: Marker) -> Mark {
        Mark {
            line: marker.line().saturating_sub(1),
            column: marker.col(),
            index: marker.index(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    StreamStart,
    StreamEnd,
    /// `%YAML 1.2` and the like; `yaml_1_2` is true for that version.
    Directive {
        yaml_1_2: bool,
    },
    OtherDirective,
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias,
    Anchor,
    Tag,
    Scalar {
        style: ScalarStyle,
        value: String,
    },
}

#[derive(Clone, Debug)]
pub struct Token {
    pub kind: Kind,
    pub start: Mark,
    pub end: Mark,
}

impl Token {
    pub fn is(&self, kind: Kind) -> bool {
        self.kind == kind
    }

    pub fn is_scalar(&self) -> bool {
        matches!(self.kind, Kind::Scalar { .. })
    }
}

/// The tokens of `text` (comments left out: yamllint finds those itself), up to the
/// first scanner error; then those tokens and the character index it stopped at.
pub fn scan(text: &str) -> Result<Vec<Token>, (Vec<Token>, usize)> {
    let buffer: Vec<char> = text.chars().collect();
    let starts = LineStarts::new(&buffer);
    let mut tokens = Vec::new();
    let result = scan_into(text, &mut tokens);
    align_with_pyyaml(&mut tokens, &buffer, &starts);
    match result {
        Ok(()) => Ok(tokens),
        Err(stop) => Err((tokens, stop)),
    }
}

fn scan_into(text: &str, tokens: &mut Vec<Token>) -> Result<(), usize> {
    for item in Scanner::new(StrInput::new(text)) {
        let (span, token) = match item {
            Ok(token) => token.into_parts(),
            Err(err) => return Err(err.marker().index()),
        };
        let kind = match token {
            TokenType::StreamStart => Kind::StreamStart,
            TokenType::StreamEnd => Kind::StreamEnd,
            TokenType::VersionDirective(major, minor) => Kind::Directive {
                yaml_1_2: (major, minor) == (1, 2),
            },
            TokenType::TagDirective(..) | TokenType::ReservedDirective(..) => Kind::OtherDirective,
            TokenType::DocumentStart => Kind::DocumentStart,
            TokenType::DocumentEnd => Kind::DocumentEnd,
            TokenType::BlockSequenceStart => Kind::BlockSequenceStart,
            TokenType::BlockMappingStart => Kind::BlockMappingStart,
            TokenType::BlockEnd => Kind::BlockEnd,
            TokenType::FlowSequenceStart => Kind::FlowSequenceStart,
            TokenType::FlowSequenceEnd => Kind::FlowSequenceEnd,
            TokenType::FlowMappingStart => Kind::FlowMappingStart,
            TokenType::FlowMappingEnd => Kind::FlowMappingEnd,
            TokenType::BlockEntry => Kind::BlockEntry,
            TokenType::FlowEntry => Kind::FlowEntry,
            TokenType::Key => Kind::Key,
            TokenType::Value => Kind::Value,
            TokenType::Alias(_) => Kind::Alias,
            TokenType::Anchor(_) => Kind::Anchor,
            TokenType::Tag(..) => Kind::Tag,
            TokenType::Scalar(style, value) => Kind::Scalar {
                style,
                value: value.into_owned(),
            },
            // Comments: yamllint finds them in the gaps between tokens itself. The enum
            // is non-exhaustive; PyYAML has no other token kinds.
            _ => continue,
        };
        tokens.push(Token {
            kind,
            start: span.start.into(),
            end: span.end.into(),
        });
    }
    Ok(())
}

/// Moves the marks where granit-parser places them differently from PyYAML, whose
/// marks yamllint's columns and distances are computed from:
/// - `:` and `-` are one character wide (granit: zero-width), and a `-` starts at the
///   dash (granit: at the entry's content);
/// - an explicit key starts at its `?` and is one character wide;
/// - a block scalar (`|`, `>`) starts at its indicator (granit: at its first content line)
///   and ends at the start of the line after it (granit: after that line's indentation).
fn align_with_pyyaml(tokens: &mut [Token], buffer: &[char], starts: &LineStarts) {
    // The end of the last token that covers text: where the gap before a token begins.
    let mut covered = 0;
    for token in tokens.iter_mut() {
        match token.kind {
            Kind::Value | Kind::Key
                if buffer.get(token.start.index) == Some(&':')
                    || (token.kind == Kind::Key && buffer.get(token.start.index) == Some(&'?')) =>
            {
                token.end = starts.mark(token.start.index + 1);
            }
            Kind::BlockEntry => {
                if let Some(dash) = first_after_gap(buffer, covered, token.start.index)
                    .filter(|&index| buffer[index] == '-')
                {
                    token.start = starts.mark(dash);
                    token.end = starts.mark(dash + 1);
                }
            }
            Kind::Scalar { style, .. } if style != ScalarStyle::Plain => {
                if let Some(indicator) = first_after_gap(buffer, covered, token.start.index)
                    .filter(|&index| matches!(buffer[index], '|' | '>'))
                {
                    token.start = starts.mark(indicator);
                    // PyYAML ends a block scalar before the indentation of the line
                    // that follows it (granit: after it), so a comment starting that
                    // line is not inline.
                    let mut end = token.end.index;
                    while end > 0 && buffer[end - 1] == ' ' {
                        end -= 1;
                    }
                    if end < token.end.index && (end == 0 || buffer[end - 1] == '\n') {
                        token.end = starts.mark(end);
                    }
                }
            }
            _ => {}
        }
        if token.end.index > token.start.index {
            covered = covered.max(token.end.index);
        }
    }
}

/// The first character in `from..until` that is neither white space nor in a comment.
fn first_after_gap(buffer: &[char], from: usize, until: usize) -> Option<usize> {
    let mut index = from;
    let mut in_comment = false;
    while index < until {
        match buffer[index] {
            '\n' => in_comment = false,
            ' ' | '\t' | '\r' => {}
            '#' if !in_comment
                && (index == 0 || matches!(buffer[index - 1], ' ' | '\t' | '\n')) =>
            {
                in_comment = true;
            }
            _ if in_comment => {}
            _ => return Some(index),
        }
        index += 1;
    }
    None
}

/// The index of each line's first character, to turn a character index into a mark.
pub struct LineStarts(Vec<usize>);

impl LineStarts {
    pub fn new(buffer: &[char]) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(
            buffer
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == '\n')
                .map(|(index, _)| index + 1),
        );
        LineStarts(starts)
    }

    pub fn mark(&self, index: usize) -> Mark {
        let line = self.0.partition_point(|start| *start <= index) - 1;
        Mark {
            line,
            column: index - self.0[line],
            index,
        }
    }
}

/// Runs the enabled token and comment rules over `tokens` of `buffer`.
pub fn check(config: &YamllintConfig, buffer: &[char], tokens: &[Token], out: &mut Vec<Finding>) {
    let rules = &config.rules;
    let mut keys = KeyStack::default();
    let mut yaml_1_2 = false;
    for (index, token) in tokens.iter().enumerate() {
        let prev = index.checked_sub(1).map(|i| &tokens[i]);
        let next = tokens.get(index + 1);
        let mut emit = |rule: &'static str, conf: &RuleConf, problem: Option<(Mark1, String)>| {
            if let Some(((line, column), message)) = problem {
                out.push(Finding {
                    line,
                    column,
                    level: conf.level,
                    message,
                    rule,
                    directive_line: line,
                });
            }
        };
        if let Some(conf) = rules.get("document-start") {
            emit("document-start", conf, document_start(conf, token, prev));
        }
        if let Some(conf) = rules.get("colons") {
            for problem in colons(conf, buffer, token, prev, next) {
                emit("colons", conf, Some(problem));
            }
        }
        if let Some(conf) = rules.get("hyphens")
            && token.kind == Kind::BlockEntry
        {
            let max = conf.int("max-spaces-after");
            let problem = spaces_after(token, next, -1, max, "", "too many spaces after hyphen");
            emit("hyphens", conf, problem);
        }
        if let Some(conf) = rules.get("commas") {
            for problem in commas(conf, buffer, token, prev, next) {
                emit("commas", conf, Some(problem));
            }
        }
        for (rule, open, close, name) in [
            (
                "braces",
                Kind::FlowMappingStart,
                Kind::FlowMappingEnd,
                ("braces", "flow mapping"),
            ),
            (
                "brackets",
                Kind::FlowSequenceStart,
                Kind::FlowSequenceEnd,
                ("brackets", "flow sequence"),
            ),
        ] {
            if let Some(conf) = rules.get(rule) {
                let problem = flow(conf, buffer, token, prev, next, (&open, &close), name);
                emit(rule, conf, problem);
            }
        }
        match token.kind {
            Kind::Directive { yaml_1_2: version } => yaml_1_2 = version,
            Kind::DocumentEnd => yaml_1_2 = false,
            _ => {}
        }
        if let Some(conf) = rules.get("truthy") {
            emit("truthy", conf, truthy(conf, token, prev, yaml_1_2));
        }
        if let Some(conf) = rules.get("key-duplicates") {
            emit("key-duplicates", conf, keys.check(conf, token, next));
        }
    }
    if let Some(conf) = rules.get("comments") {
        for comment in all_comments(buffer, tokens) {
            for ((line, column), message) in comments(conf, buffer, &comment) {
                out.push(Finding {
                    line,
                    column,
                    level: conf.level,
                    message,
                    rule: "comments",
                    directive_line: line,
                });
            }
        }
    }
}

/// A 1-based line and column, as yamllint reports them.
type Mark1 = (usize, usize);

/// yamllint's `spaces_after` (rules/common.py).
fn spaces_after(
    token: &Token,
    next: Option<&Token>,
    min: i64,
    max: i64,
    min_desc: &str,
    max_desc: &str,
) -> Option<(Mark1, String)> {
    let next = next.filter(|next| token.end.line == next.start.line)?;
    let spaces = next.start.index as i64 - token.end.index as i64;
    judge_spaces(
        spaces,
        (min, min_desc),
        (max, max_desc),
        token.start.line + 1,
        next.start.column,
    )
}

/// yamllint's `spaces_before` (rules/common.py).
fn spaces_before(
    buffer: &[char],
    token: &Token,
    prev: Option<&Token>,
    min: i64,
    max: i64,
    min_desc: &str,
    max_desc: &str,
) -> Option<(Mark1, String)> {
    // A token that ends at the start of the next line (a block scalar) is not before.
    let prev = prev.filter(|prev| {
        prev.end.line == token.start.line
            && (prev.end.index == 0 || buffer[prev.end.index - 1] != '\n')
    })?;
    let spaces = token.start.index as i64 - prev.end.index as i64;
    judge_spaces(
        spaces,
        (min, min_desc),
        (max, max_desc),
        token.start.line + 1,
        token.start.column,
    )
}

/// The verdict both `spaces_after` and `spaces_before` share: too many spaces is
/// reported at `column` (0-based, where the spaces end), too few one column later, as
/// yamllint reports them; -1 turns a limit off.
fn judge_spaces(
    spaces: i64,
    (min, min_desc): (i64, &str),
    (max, max_desc): (i64, &str),
    line: usize,
    column: usize,
) -> Option<(Mark1, String)> {
    if max != -1 && spaces > max {
        Some(((line, column), max_desc.into()))
    } else if min != -1 && spaces < min {
        Some(((line, column + 1), min_desc.into()))
    } else {
        None
    }
}

fn document_start(conf: &RuleConf, token: &Token, prev: Option<&Token>) -> Option<(Mark1, String)> {
    if conf.flag("present") {
        let after_start = prev.is_some_and(|prev| {
            matches!(
                prev.kind,
                Kind::StreamStart
                    | Kind::DocumentEnd
                    | Kind::Directive { .. }
                    | Kind::OtherDirective
            )
        });
        let starts = matches!(
            token.kind,
            Kind::DocumentStart | Kind::Directive { .. } | Kind::OtherDirective | Kind::StreamEnd
        );
        (after_start && !starts).then(|| {
            (
                (token.start.line + 1, 1),
                "missing document start \"---\"".into(),
            )
        })
    } else {
        (token.kind == Kind::DocumentStart).then(|| {
            (
                (token.start.line + 1, token.start.column + 1),
                "found forbidden document start \"---\"".into(),
            )
        })
    }
}

fn colons(
    conf: &RuleConf,
    buffer: &[char],
    token: &Token,
    prev: Option<&Token>,
    next: Option<&Token>,
) -> Vec<(Mark1, String)> {
    let mut problems = Vec::new();
    let after_alias = prev.is_some_and(|prev| {
        prev.kind == Kind::Alias && token.start.index as i64 - prev.end.index as i64 == 1
    });
    if token.kind == Kind::Value && !after_alias {
        problems.extend(spaces_before(
            buffer,
            token,
            prev,
            -1,
            conf.int("max-spaces-before"),
            "",
            "too many spaces before colon",
        ));
        problems.extend(spaces_after(
            token,
            next,
            -1,
            conf.int("max-spaces-after"),
            "",
            "too many spaces after colon",
        ));
    }
    // An explicit key (`? key`) is a key token that covers its `?`.
    if token.kind == Kind::Key
        && token.start.index < token.end.index
        && buffer[token.start.index] == '?'
    {
        problems.extend(spaces_after(
            token,
            next,
            -1,
            conf.int("max-spaces-after"),
            "",
            "too many spaces after question mark",
        ));
    }
    problems
}

fn commas(
    conf: &RuleConf,
    buffer: &[char],
    token: &Token,
    prev: Option<&Token>,
    next: Option<&Token>,
) -> Vec<(Mark1, String)> {
    if token.kind != Kind::FlowEntry {
        return Vec::new();
    }
    let mut problems = Vec::new();
    let max_before = conf.int("max-spaces-before");
    if let Some(prev) = prev
        && max_before != -1
        && prev.end.line < token.start.line
    {
        problems.push((
            (token.start.line + 1, token.start.column.max(1)),
            "too many spaces before comma".into(),
        ));
    } else {
        problems.extend(spaces_before(
            buffer,
            token,
            prev,
            -1,
            max_before,
            "",
            "too many spaces before comma",
        ));
    }
    problems.extend(spaces_after(
        token,
        next,
        conf.int("min-spaces-after"),
        conf.int("max-spaces-after"),
        "too few spaces after comma",
        "too many spaces after comma",
    ));
    problems
}

/// `braces` and `brackets`, which differ only in their tokens and words.
fn flow(
    conf: &RuleConf,
    buffer: &[char],
    token: &Token,
    prev: Option<&Token>,
    next: Option<&Token>,
    (open, close): (&Kind, &Kind),
    (word, collection): (&str, &str),
) -> Option<(Mark1, String)> {
    let forbid = conf.value("forbid");
    let next_closes = next.is_some_and(|next| &next.kind == close);
    if &token.kind == open && (forbid == true || (forbid == "non-empty" && !next_closes)) {
        return Some((
            (token.start.line + 1, token.end.column + 1),
            format!("forbidden {collection}"),
        ));
    }
    let min = conf.int("min-spaces-inside");
    let max = conf.int("max-spaces-inside");
    if &token.kind == open && next_closes {
        let min_empty = conf.int("min-spaces-inside-empty");
        let max_empty = conf.int("max-spaces-inside-empty");
        spaces_after(
            token,
            next,
            if min_empty != -1 { min_empty } else { min },
            if max_empty != -1 { max_empty } else { max },
            &format!("too few spaces inside empty {word}"),
            &format!("too many spaces inside empty {word}"),
        )
    } else if &token.kind == open {
        spaces_after(
            token,
            next,
            min,
            max,
            &format!("too few spaces inside {word}"),
            &format!("too many spaces inside {word}"),
        )
    } else if &token.kind == close && !prev.is_some_and(|prev| &prev.kind == open) {
        spaces_before(
            buffer,
            token,
            prev,
            min,
            max,
            &format!("too few spaces inside {word}"),
            &format!("too many spaces inside {word}"),
        )
    } else {
        None
    }
}

/// YAML 1.1's booleans (yamllint's `TRUTHY_1_1`); YAML 1.2 has only the true/false ones.
const TRUTHY_1_1: [&str; 18] = [
    "YES", "Yes", "yes", "NO", "No", "no", "TRUE", "True", "true", "FALSE", "False", "false", "ON",
    "On", "on", "OFF", "Off", "off",
];

fn truthy(
    conf: &RuleConf,
    token: &Token,
    prev: Option<&Token>,
    yaml_1_2: bool,
) -> Option<(Mark1, String)> {
    let prev_kind = prev.map(|prev| &prev.kind);
    if prev_kind == Some(&Kind::Tag) {
        return None;
    }
    let Kind::Scalar {
        style: ScalarStyle::Plain,
        value,
    } = &token.kind
    else {
        return None;
    };
    if !conf.flag("check-keys") && prev_kind == Some(&Kind::Key) {
        return None;
    }
    let allowed: BTreeSet<&str> = conf
        .value("allowed-values")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let known = if yaml_1_2 {
        &TRUTHY_1_1[6..12]
    } else {
        &TRUTHY_1_1[..]
    };
    (known.contains(&value.as_str()) && !allowed.contains(value.as_str())).then(|| {
        let listed: Vec<&str> = allowed.into_iter().collect();
        (
            (token.start.line + 1, token.start.column + 1),
            format!("truthy value should be one of [{}]", listed.join(", ")),
        )
    })
}

/// The keys seen in each open mapping (`None` for a sequence), as yamllint's
/// `key-duplicates` keeps them, but in a set: yamllint's list makes a mapping of n keys
/// cost n² (a minute for 300,000 keys).
#[derive(Default)]
struct KeyStack(Vec<Option<std::collections::HashSet<String>>>);

impl KeyStack {
    fn check(
        &mut self,
        conf: &RuleConf,
        token: &Token,
        next: Option<&Token>,
    ) -> Option<(Mark1, String)> {
        match &token.kind {
            Kind::BlockMappingStart | Kind::FlowMappingStart => {
                self.0.push(Some(Default::default()))
            }
            Kind::BlockSequenceStart | Kind::FlowSequenceStart => self.0.push(None),
            Kind::BlockEnd | Kind::FlowMappingEnd | Kind::FlowSequenceEnd => {
                self.0.pop();
            }
            Kind::Key => {
                let next = next?;
                let Kind::Scalar { value, .. } = &next.kind else {
                    return None;
                };
                let keys = self.0.last_mut()?.as_mut()?;
                // `<<` is the merge key, which may repeat unless the config forbids it.
                if keys.contains(value)
                    && (value != "<<" || conf.flag("forbid-duplicated-merge-keys"))
                {
                    return Some((
                        (next.start.line + 1, next.start.column + 1),
                        format!("duplication of key \"{value}\" in mapping"),
                    ));
                }
                keys.insert(value.clone());
            }
            _ => {}
        }
        None
    }
}

/// A comment as yamllint's parser finds it: the `#` at `pointer`, 1-based line and
/// column, the tokens around the gap it lies in, and the comment before it in that gap.
pub struct Comment<'a> {
    pub line: usize,
    pub column: usize,
    pointer: usize,
    pub before: &'a Token,
    /// `None` only after the stream's last token.
    pub after: Option<&'a Token>,
    /// The line and column of the previous comment between the same two tokens.
    pub earlier: Option<(usize, usize)>,
}

impl Comment<'_> {
    /// yamllint's `Comment.is_inline`: on the line of the content before it.
    pub fn is_inline(&self, buffer: &[char]) -> bool {
        inline_after(self.before, self.line, buffer)
    }

    /// Whether the previous comment in the same gap is inline (it can only be the first).
    pub fn earlier_is_inline(&self, buffer: &[char]) -> bool {
        self.earlier
            .is_some_and(|(line, _)| inline_after(self.before, line, buffer))
    }

    /// The comment from its `#` to the end of its line, as yamllint's `str(comment)`.
    pub fn text(&self, buffer: &[char]) -> String {
        buffer[self.pointer..]
            .iter()
            .take_while(|c| !matches!(c, '\n' | '\0'))
            .collect()
    }
}

/// Whether a comment on 1-based `line` after `before` shares that token's last line
/// (a token that ends at the start of a line, as a block scalar does, is not on it).
fn inline_after(before: &Token, line: usize, buffer: &[char]) -> bool {
    before.kind != Kind::StreamStart
        && line == before.end.line + 1
        && before.end.index > 0
        && buffer[before.end.index - 1] != '\n'
}

/// Every comment of the file, in order, found as yamllint finds them.
pub fn all_comments<'a>(buffer: &[char], tokens: &'a [Token]) -> Vec<Comment<'a>> {
    tokens
        .iter()
        .enumerate()
        .flat_map(|(index, token)| comments_between(buffer, token, tokens.get(index + 1)))
        .collect()
}

/// yamllint's `comments_between_tokens`: every `#` in the gap between two tokens that
/// are not on the same line starts a comment.
fn comments_between<'a>(
    buffer: &[char],
    token: &'a Token,
    next: Option<&'a Token>,
) -> Vec<Comment<'a>> {
    let end = match next {
        None => buffer.len(),
        Some(next)
            if token.end.line == next.start.line
                && token.kind != Kind::StreamStart
                && next.kind != Kind::StreamEnd =>
        {
            return Vec::new();
        }
        Some(next) => next.start.index,
    };
    let mut found = Vec::new();
    let mut column = token.end.column + 1;
    let mut pointer = token.end.index;
    let gap = buffer.get(token.end.index..end).unwrap_or_default();
    let mut earlier = None;
    for (line, part) in (token.end.line + 1..).zip(gap.split(|c| *c == '\n')) {
        if let Some(pos) = part.iter().position(|c| *c == '#') {
            found.push(Comment {
                line,
                column: column + pos,
                pointer: pointer + pos,
                before: token,
                after: next,
                earlier,
            });
            earlier = Some((line, column + pos));
        }
        pointer += part.len() + 1;
        column = 1;
    }
    found
}

fn comments(conf: &RuleConf, buffer: &[char], comment: &Comment) -> Vec<(Mark1, String)> {
    let mut problems = Vec::new();
    let before = comment.before;
    let inline = comment.is_inline(buffer);
    let min_spaces = conf.int("min-spaces-from-content");
    if min_spaces != -1 && inline && (comment.pointer as i64 - before.end.index as i64) < min_spaces
    {
        problems.push((
            (comment.line, comment.column),
            "too few spaces before comment".into(),
        ));
    }
    if conf.flag("require-starting-space") {
        let mut text_start = comment.pointer + 1;
        while text_start < buffer.len() && buffer[text_start] == '#' {
            text_start += 1;
        }
        if let Some(&first) = buffer.get(text_start) {
            let shebang = conf.flag("ignore-shebangs")
                && comment.line == 1
                && comment.column == 1
                && first == '!';
            if !shebang && !matches!(first, ' ' | '\n' | '\r' | '\0') {
                problems.push((
                    (comment.line, comment.column + text_start - comment.pointer),
                    "missing starting space in comment".into(),
                ));
            }
        }
    }
    problems
}
