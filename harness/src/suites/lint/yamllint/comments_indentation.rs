//! yamllint's `comments-indentation` rule: a comment on a line of its own must be
//! indented like the content before it or the content after it, as yamllint 1.35 judges.

use super::Finding;
use super::config::YamllintConfig;
use super::tokens::{Comment, Kind, Token};

const RULE: &str = "comments-indentation";

/// Checks every comment of the file when the configuration enables the rule.
pub fn check(
    config: &YamllintConfig,
    buffer: &[char],
    comments: &[Comment],
    out: &mut Vec<Finding>,
) {
    let Some(conf) = config.rules.get(RULE) else {
        return;
    };
    for comment in comments {
        if misindented(buffer, comment) {
            out.push(Finding {
                line: comment.line,
                column: comment.column,
                level: conf.level,
                message: "comment not indented like content".into(),
                rule: RULE,
                directive_line: comment.line,
            });
        }
    }
}

fn misindented(buffer: &[char], comment: &Comment) -> bool {
    let before = comment.before;
    // A comment on the line where the content before it ends is not a block comment;
    // unlike `is_inline`, yamllint does not look at where that content's end mark sits.
    if before.kind != Kind::StreamStart && before.end.line + 1 == comment.line {
        return false;
    }
    let next_indent = match comment.after {
        Some(after) if after.kind != Kind::StreamEnd => after.start.column,
        _ => 0,
    };
    let previous_indent = if before.kind == Kind::StreamStart {
        0
    } else {
        line_indent(buffer, before)
    };
    // Under a key whose content is indented further, only the deeper indent is right.
    let mut previous_indent = previous_indent.max(next_indent);
    // Once a block comment went back to one of the indents, the next ones follow it.
    if let Some((_, column)) = comment.earlier
        && !comment.earlier_is_inline(buffer)
    {
        previous_indent = column - 1;
    }
    let found = comment.column - 1;
    found != previous_indent && found != next_indent
}

/// The number of spaces that start the line `token` starts on.
fn line_indent(buffer: &[char], token: &Token) -> usize {
    let line_start = buffer[..token.start.index]
        .iter()
        .rposition(|c| *c == '\n')
        .map_or(0, |newline| newline + 1);
    buffer[line_start..]
        .iter()
        .take_while(|c| **c == ' ')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suites::lint::yamllint::tokens;

    fn findings(text: &str) -> Vec<(usize, usize)> {
        let config =
            YamllintConfig::parse("rules:\n  comments-indentation: enable\n", "t.yaml", None)
                .unwrap();
        let buffer: Vec<char> = text.chars().collect();
        let tokens = tokens::scan(text).unwrap();
        let comments = tokens::all_comments(&buffer, &tokens);
        let mut out = Vec::new();
        check(&config, &buffer, &comments, &mut out);
        out.iter()
            .inspect(|f| assert_eq!(f.message, "comment not indented like content"))
            .map(|f| (f.line, f.column))
            .collect()
    }

    #[rstest::rstest]
    #[case::like_the_next_line("a:\n  # c\n  b: 1\n", vec![])]
    #[case::like_the_previous_line("a:\n  b: 1\n  # c\nd: 2\n", vec![])]
    #[case::like_the_next_outer_line("a:\n  b: 1\n# c\nd: 2\n", vec![])]
    #[case::deeper_than_both("a: 1\n  # c\nb: 2\n", vec![(2, 3)])]
    #[case::between_both("a:\n    b: 1\n  # c\nd: 2\n", vec![(3, 3)])]
    #[case::back_to_outer_then_inner("a:\n  b: 1\n# c\n  # d\ne: 2\n", vec![(4, 3)])]
    #[case::inline_comments_are_not_judged("a: 1  # c\nb: 2\n", vec![])]
    #[case::first_line_must_start_at_zero(" # c\na: 1\n", vec![(1, 2)])]
    #[case::last_line_may_follow_the_content("a:\n  b: 1\n  # c\n", vec![])]
    fn block_comments_follow_the_content(
        #[case] text: &str,
        #[case] expected: Vec<(usize, usize)>,
    ) {
        assert_eq!(findings(text), expected);
    }
}
