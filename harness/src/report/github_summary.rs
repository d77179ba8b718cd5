//! `chart-harness report summary`: GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY`
//! from a (merged) report: the verdict, a table of chart × Kubernetes version × suite,
//! and each failure's first problem with its details folded. GitHub refuses a step
//! summary over 1 MiB, so the details are cut to fit, with a note saying how many were
//! left out and where the full report is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::document::{ReportDocument, ReportedTrial};
use crate::plan::Suite;
use crate::suites::{PhaseStatus, TrialStatus};

/// GitHub's limit on one step's summary.
pub const GITHUB_LIMIT: usize = 1024 * 1024;

/// The Markdown of `report`, at most `max_bytes` long. `full_report` says where the
/// whole report is, for the note when something was cut.
pub fn markdown(report: &ReportDocument, max_bytes: usize, full_report: &str) -> String {
    let verdict = if report.summary.failed + report.summary.timed_out > 0 {
        "❌"
    } else if report.complete {
        "✅"
    } else {
        "⚠️"
    };
    let mut head = format!(
        "## chart-harness {verdict} {} ({} listed)\n\n",
        report.summary, report.summary.listed
    );
    let mut facts = Vec::new();
    if let Some(commit) = &report.commit {
        facts.push(format!("commit `{}`", crate::changed::short(commit)));
    }
    if let Some(hash) = &report.plan_hash {
        facts.push(format!("plan `{hash}`"));
    }
    if !report.cells.is_empty() {
        let reported = report
            .cells
            .iter()
            .filter(|c| c.status == "reported")
            .count();
        facts.push(format!(
            "{reported} of {} cells reported",
            report.cells.len()
        ));
    }
    if !facts.is_empty() {
        let _ = writeln!(head, "{}\n", facts.join(" · "));
    }
    head.push_str(&table(report));
    for note in &report.notes {
        let _ = writeln!(head, "> {}", html(note));
    }
    if !report.notes.is_empty() {
        head.push('\n');
    }
    let failures: Vec<&ReportedTrial> = report
        .trials
        .iter()
        .filter(|trial| trial.outcome.status.is_failure())
        .collect();
    let mut out = head;
    if !failures.is_empty() {
        out.push_str("### Failures\n\n");
    }
    // Room for the note that says what was cut.
    let reserve = 400 + full_report.len();
    let mut left_out = 0;
    for trial in &failures {
        let entry = failure(trial);
        if left_out > 0 || out.len() + entry.len() + reserve > max_bytes {
            left_out += 1;
            continue;
        }
        out.push_str(&entry);
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n> {left_out} of {} failures left out to keep this summary under {} KiB (GitHub's step-summary limit is 1 MiB); every one is in {}.",
            failures.len(),
            max_bytes / 1024,
            html(full_report)
        );
    }
    if out.len() > max_bytes {
        // Only a table of many thousands of rows gets here: keep what fits, whole lines.
        let cut = out[..max_bytes.saturating_sub(reserve)]
            .rfind('\n')
            .unwrap_or(0);
        out.truncate(cut);
        let _ = writeln!(
            out,
            "\n\n> The table was cut to fit GitHub's 1 MiB step-summary limit; the whole report is {}.",
            html(full_report)
        );
    }
    out
}

/// One row per chart and Kubernetes version, one column per suite present.
fn table(report: &ReportDocument) -> String {
    let mut suites: Vec<Suite> = report.trials.iter().map(|t| t.outcome.id.suite).collect();
    suites.sort();
    suites.dedup();
    // A chart's cluster-free row (no version) sorts before its versions.
    let mut rows: BTreeMap<(String, Option<String>), BTreeMap<Suite, Vec<TrialStatus>>> =
        BTreeMap::new();
    for trial in &report.trials {
        rows.entry((trial.outcome.id.chart.clone(), trial.kube_version.clone()))
            .or_default()
            .entry(trial.outcome.id.suite)
            .or_default()
            .push(trial.outcome.status);
    }
    let mut out = String::from("| chart | Kubernetes |");
    for suite in &suites {
        let _ = write!(out, " {suite} |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(suites.len()));
    out.push('\n');
    for ((chart, version), by_suite) in &rows {
        let version = version.as_deref().unwrap_or("—");
        let _ = write!(out, "| {} | {version} |", html(chart));
        for suite in &suites {
            let mark = by_suite.get(suite).map_or("", |statuses| mark(statuses));
            let _ = write!(out, " {mark} |");
        }
        out.push('\n');
    }
    out.push_str(
        "\n✅ passed · ❌ failed or timed out · ⏭️ skipped · ⚪ not run · 🚫 cancelled\n\n",
    );
    out
}

/// A suite's mark over a chart's cases: the worst of them.
fn mark(statuses: &[TrialStatus]) -> &'static str {
    if statuses.iter().any(|s| s.is_failure()) {
        "❌"
    } else if statuses.contains(&TrialStatus::Cancelled) {
        "🚫"
    } else if statuses.contains(&TrialStatus::NotRun) {
        "⚪"
    } else if statuses.contains(&TrialStatus::Passed) {
        "✅"
    } else {
        "⏭️"
    }
}

fn failure(trial: &ReportedTrial) -> String {
    let outcome = &trial.outcome;
    let problems: Vec<String> = outcome
        .phases
        .iter()
        .filter(|phase| phase.status == PhaseStatus::Failed)
        .flat_map(|phase| {
            phase
                .problems
                .iter()
                .map(move |problem| format!("[{}] {problem}", phase.name))
        })
        .collect();
    let first = problems
        .first()
        .cloned()
        .or_else(|| outcome.reason.clone())
        .unwrap_or_else(|| format!("{:?}", outcome.status));
    let first_line: String = first
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(240)
        .collect();
    let on = trial
        .kube_version
        .as_deref()
        .map(|version| format!(" on Kubernetes {version}"))
        .unwrap_or_default();
    format!(
        "<details><summary>❌ <code>{}</code>{on}: {}</summary>\n\n<pre>{}</pre>\n\n</details>\n\n",
        html(&outcome.id.to_string()),
        html(&first_line),
        html(&problems.join("\n"))
    )
}

/// Text safe inside the summary's HTML and table cells.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "&#124;")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::plan::TrialId;
    use crate::problem::Problem;
    use crate::report::RunCounts;
    use crate::suites::{PhaseRecord, TrialOutcome};

    /// A merged report of `count` failed trials, each with a long problem.
    pub(crate) fn failed_report(count: usize) -> ReportDocument {
        let trials: Vec<ReportedTrial> = (0..count)
            .map(|index| ReportedTrial {
                outcome: TrialOutcome {
                    id: TrialId {
                        suite: Suite::Lint,
                        chart: format!("chart-{index:04}"),
                        case: "default".into(),
                    },
                    chart_dir: PathBuf::from(format!("charts/chart-{index:04}")),
                    status: TrialStatus::Failed,
                    phases: vec![PhaseRecord {
                        name: "chart-yaml".into(),
                        status: PhaseStatus::Failed,
                        duration: Duration::ZERO,
                        problems: vec![
                            Problem::in_file(
                                format!("charts/chart-{index:04}/Chart.yaml"),
                                format!("<version> is missing; {}", "x".repeat(400)),
                            )
                            .at_line(Some(3)),
                        ],
                    }],
                    duration: Duration::ZERO,
                    reason: None,
                    findings: Vec::new(),
                    upgrade: None,
                    backup_restore: None,
                },
                cell: Some("cluster-free".into()),
                kube_version: None,
            })
            .collect();
        ReportDocument {
            version: 6,
            merged: true,
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            plan_hash: Some("0011223344556677".into()),
            cell: None,
            kube_version: None,
            complete: true,
            cluster: None,
            summary: RunCounts {
                listed: count,
                failed: count,
                ..RunCounts::default()
            },
            cells: Vec::new(),
            trials,
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_summary_past_the_limit_leaves_failures_out_and_says_where_they_are() {
        let report = failed_report(2000);
        let markdown = markdown(&report, 64 * 1024, "chart-harness-merged/report.json");
        assert!(markdown.len() <= 64 * 1024, "{}", markdown.len());
        assert!(
            markdown.contains("| chart-1999 | — | ❌ |"),
            "the table is whole"
        );
        let note = markdown.lines().last().unwrap();
        assert!(note.contains("failures left out"), "{note}");
        assert!(note.contains("of 2000"), "{note}");
        assert!(note.contains("chart-harness-merged/report.json"), "{note}");
        // Escaped for HTML: the problem's `<version>` is text, not a tag.
        assert!(markdown.contains("&lt;version&gt; is missing"));
    }

    #[test]
    fn a_small_summary_folds_each_failure() {
        let markdown = markdown(&failed_report(2), GITHUB_LIMIT, "report.json");
        assert!(markdown.starts_with("## chart-harness ❌ 0 passed, 2 failed (2 listed)"));
        assert_eq!(markdown.matches("<details>").count(), 2);
        assert!(!markdown.contains("left out"));
    }
}
