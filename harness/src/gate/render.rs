//! The gate's verdict for a person: a table with a column per condition, then the
//! reason of each that failed; the same as Markdown for a step summary.

use std::fmt::Write as _;

use super::{CheckState, GateReport};

/// The condition columns, in the order the gate decides them.
const COLUMNS: [&str; 6] = [
    "new-version",
    "tests",
    "snapshots",
    "changelog",
    "signature",
    "cosign",
];

fn mark(state: CheckState) -> &'static str {
    match state {
        CheckState::Passed => "✅",
        CheckState::Failed => "❌",
        CheckState::NotConfigured => "➖",
    }
}

/// Rows of cells, the header first.
fn rows(report: &GateReport) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["chart", "version", "previous tag"]
            .iter()
            .chain(COLUMNS.iter())
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    ];
    for release in &report.releases {
        let mut row = vec![
            release.chart.clone(),
            release.version.clone(),
            release
                .previous_tag
                .clone()
                .unwrap_or_else(|| "(none)".into()),
        ];
        for column in COLUMNS {
            let state = release
                .checks
                .iter()
                .find(|check| check.name == column)
                .map_or("", |check| mark(check.state));
            row.push(state.to_string());
        }
        rows.push(row);
    }
    rows
}

/// The reasons worth reading: every failed condition, `chart version: condition: why`,
/// a reason of several lines (one per suite) as an indented list under it.
fn reasons(report: &GateReport, indent: &str) -> Vec<String> {
    report
        .releases
        .iter()
        .flat_map(|release| {
            release
                .checks
                .iter()
                .filter(|check| check.state == CheckState::Failed)
                .map(move |check| {
                    let reason = if check.reason.contains('\n') {
                        check
                            .reason
                            .lines()
                            .map(|line| format!("\n{indent}{line}"))
                            .collect()
                    } else {
                        format!(" {}", check.reason)
                    };
                    format!(
                        "{} {}: {}:{reason}",
                        release.chart, release.version, check.name
                    )
                })
        })
        .collect()
}

/// Columns a terminal gives `text`: the marks are emoji, two columns each.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if matches!(c, '✅' | '❌' | '➖') {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The terminal table, columns padded to the marks' display width.
pub fn text(report: &GateReport) -> String {
    let rows = rows(report);
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| {
            rows.iter()
                .map(|row| width(&row[column]))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| {
                let pad = width.saturating_sub(self::width(cell));
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let reasons = reasons(report, "   - ");
    if !reasons.is_empty() {
        out.push('\n');
        for reason in reasons {
            let _ = writeln!(out, "❌ {reason}");
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if report.passed {
            "gate: passed; the release may be published"
        } else {
            "gate: refused; fix what is marked ❌, then run the gate again"
        }
    );
    out
}

/// The same as GitHub Markdown.
pub fn markdown(report: &GateReport) -> String {
    let rows = rows(report);
    let mut out = format!(
        "## Release gate {}\n\n",
        if report.passed {
            "✅ passed"
        } else {
            "❌ refused"
        }
    );
    for (index, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "| {} |", row.join(" | "));
        if index == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
    let reasons = reasons(report, "  - ");
    if !reasons.is_empty() {
        out.push('\n');
        for reason in reasons {
            let _ = writeln!(out, "- ❌ {}", reason.replace('<', "&lt;"));
        }
    }
    out
}
