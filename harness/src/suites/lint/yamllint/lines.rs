//! yamllint's line rules: `trailing-spaces`, `new-line-at-end-of-file`, `new-lines`,
//! `line-length` and `empty-lines`, each a port of its yamllint 1.35 `check(conf, line)`.
//! Offsets are in characters, as in yamllint's Python strings, so columns agree on
//! non-ASCII text.

use super::Finding;
use super::config::{RuleConf, YamllintConfig};

/// One line of the buffer, as yamllint's `line_generator` yields it: `start..end`
/// excludes the line break (and a `\r` before it). The last line is always yielded,
/// even when it is empty.
pub struct Line {
    /// 1-based.
    pub number: usize,
    pub start: usize,
    pub end: usize,
}

pub fn lines(buffer: &[char]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 1;
    for (index, &c) in buffer.iter().enumerate() {
        if c == '\n' {
            let end = if index > 0 && buffer[index - 1] == '\r' {
                index - 1
            } else {
                index
            };
            out.push(Line { number, start, end });
            start = index + 1;
            number += 1;
        }
    }
    out.push(Line {
        number,
        start,
        end: buffer.len(),
    });
    out
}

pub fn check(config: &YamllintConfig, buffer: &[char], line: &Line, out: &mut Vec<Finding>) {
    let rules = &config.rules;
    let mut emit = |rule: &'static str, conf: &RuleConf, column: usize, message: String| {
        out.push(Finding {
            line: line.number,
            column,
            level: conf.level,
            message,
            rule,
            directive_line: line.number,
        });
    };
    if let Some(conf) = rules.get("trailing-spaces")
        && let Some(column) = trailing_spaces(buffer, line)
    {
        emit("trailing-spaces", conf, column, "trailing spaces".into());
    }
    if let Some(conf) = rules.get("new-line-at-end-of-file")
        && line.end == buffer.len()
        && line.end > line.start
    {
        emit(
            "new-line-at-end-of-file",
            conf,
            line.end - line.start + 1,
            "no new line character at the end of file".into(),
        );
    }
    if let Some(conf) = rules.get("new-lines")
        && let Some(message) = new_lines(conf, buffer, line)
    {
        emit("new-lines", conf, line.end - line.start + 1, message);
    }
    if let Some(conf) = rules.get("line-length")
        && let Some((column, message)) = line_length(conf, buffer, line)
    {
        emit("line-length", conf, column, message);
    }
    if let Some(conf) = rules.get("empty-lines")
        && let Some(message) = empty_lines(conf, buffer, line)
    {
        emit("empty-lines", conf, 1, message);
    }
}

fn trailing_spaces(buffer: &[char], line: &Line) -> Option<usize> {
    if line.end == 0 {
        return None;
    }
    // Python's string.whitespace
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let mut pos = line.end;
    while pos > line.start && is_space(buffer[pos - 1]) {
        pos -= 1;
    }
    (pos != line.end && matches!(buffer[pos], ' ' | '\t')).then_some(pos - line.start + 1)
}

fn new_lines(conf: &RuleConf, buffer: &[char], line: &Line) -> Option<String> {
    if line.start != 0 || buffer.len() <= line.end {
        return None;
    }
    // `platform` is the platform yamllint runs on; ct runs it on Linux.
    let (expected, shown): (&[char], &str) = match conf.value("type").as_str() {
        Some("dos") => (&['\r', '\n'], "\\r\\n"),
        _ => (&['\n'], "\\n"),
    };
    let actual = &buffer[line.end..(line.end + expected.len()).min(buffer.len())];
    (actual != expected).then(|| format!("wrong new line character: expected {shown}"))
}

fn line_length(conf: &RuleConf, buffer: &[char], line: &Line) -> Option<(usize, String)> {
    let max = usize::try_from(conf.int("max")).unwrap_or(0);
    let length = line.end - line.start;
    if length <= max {
        return None;
    }
    let inline_mappings = conf.flag("allow-non-breakable-inline-mappings");
    if conf.flag("allow-non-breakable-words") || inline_mappings {
        let mut start = line.start;
        while start < line.end && buffer[start] == ' ' {
            start += 1;
        }
        if start != line.end {
            if buffer[start] == '#' {
                while start < buffer.len() && buffer[start] == '#' {
                    start += 1;
                }
                start += 1;
            } else if buffer[start] == '-' {
                start += 2;
            }
            if !buffer[start.min(line.end)..line.end].contains(&' ') {
                return None;
            }
            if inline_mappings && non_breakable_inline_mapping(&buffer[line.start..line.end]) {
                return None;
            }
        }
    }
    Some((
        max + 1,
        format!("line too long ({length} > {max} characters)"),
    ))
}

/// yamllint's `check_inline_mapping`: the line alone is `key: value` whose value, a
/// scalar, has no space in it.
fn non_breakable_inline_mapping(content: &[char]) -> bool {
    let text: String = content.iter().collect();
    let tokens = match super::tokens::scan(&text) {
        Ok(tokens) => tokens,
        // granit-parser stops at a `,` outside a flow collection, where PyYAML's scanner
        // reads a flow entry and goes on (a JSON line in a block scalar ends with one):
        // PyYAML's tokens up to there are those of the text before it.
        Err((_, stop)) => {
            let before: String = content[..stop.min(content.len())].iter().collect();
            match super::tokens::scan(&before) {
                Ok(tokens) => tokens,
                Err(_) => return false,
            }
        }
    };
    let mut rest = tokens
        .iter()
        .skip_while(|t| !t.is(super::tokens::Kind::BlockMappingStart));
    if rest.next().is_none() {
        return false;
    }
    let mut rest = rest.skip_while(|t| !t.is(super::tokens::Kind::Value));
    if rest.next().is_none() {
        return false;
    }
    match rest.next() {
        Some(token) if token.is_scalar() => !content[token.start.column..].contains(&' '),
        _ => false,
    }
}

fn empty_lines(conf: &RuleConf, buffer: &[char], line: &Line) -> Option<String> {
    if line.start != line.end || line.end >= buffer.len() {
        return None;
    }
    let at = |from: usize, text: &str| {
        let text: Vec<char> = text.chars().collect();
        buffer.get(from..from + text.len()) == Some(&text[..])
    };
    // Only the last blank line of a series is reported.
    if at(line.end, "\n\n") || at(line.end, "\r\n\r\n") {
        return None;
    }
    let mut blank = 0i64;
    let mut start = line.start;
    while start >= 2 && at(start - 2, "\r\n") {
        blank += 1;
        start -= 2;
    }
    while start >= 1 && buffer[start - 1] == '\n' {
        blank += 1;
        start -= 1;
    }
    let mut max = conf.int("max");
    if start == 0 {
        // The first line has no line break before it.
        blank += 1;
        max = conf.int("max-start");
    }
    let last = (line.end + 1 == buffer.len() && buffer[line.end] == '\n')
        || (line.end + 2 == buffer.len() && at(line.end, "\r\n"));
    if last {
        // A file that is a single line break is allowed.
        if line.end == 0 {
            return None;
        }
        max = conf.int("max-end");
    }
    (blank > max).then(|| format!("too many blank lines ({blank} > {max})"))
}
