//! The end-of-run summary: a table per chart, what failed and why, and the verdict line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use super::{Event, ReportError, Reporter, RunCounts, RunSummary, seconds, sorted_by_id};
use crate::plan::{Suite, TrialId};
use crate::suites::{TrialOutcome, TrialStatus};

/// Writes the summary to `out` when the run finishes. The last line is always the
/// verdict (see [`RunCounts`]'s `Display`), which CI scripts grep for.
pub struct SummaryReporter {
    out: Box<dyn Write + Send>,
    planned: Vec<TrialId>,
}

impl SummaryReporter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        SummaryReporter {
            out,
            planned: Vec::new(),
        }
    }
}

impl Reporter for SummaryReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(info) => self.planned = info.trials.clone(),
            Event::RunFinished(summary) => {
                let text = render(&self.planned, summary);
                let output_error = |source| ReportError::Output {
                    what: "run summary",
                    source,
                };
                self.out.write_all(text.as_bytes()).map_err(output_error)?;
                self.out.flush().map_err(output_error)?;
            }
            // The end of the run repeats the cluster's description; the rest is progress.
            Event::TrialStarted { .. }
            | Event::TrialFinished { .. }
            | Event::ClusterStarting { .. }
            | Event::ClusterReady { .. }
            | Event::ClusterFailed { .. }
            | Event::TrialHeartbeat { .. } => {}
        }
        Ok(())
    }
}

/// Trials of one suite over one chart; `total` leaves out the skipped ones, so a cell
/// with every trial skipped says so.
#[derive(Default)]
struct SuiteCell {
    total: usize,
    passed: usize,
    failed: usize,
}

impl SuiteCell {
    fn text(&self) -> String {
        if self.total == 0 {
            return "skipped".to_string();
        }
        let verdict = if self.failed > 0 {
            "FAILED"
        } else if self.passed < self.total {
            "incomplete"
        } else {
            "passed"
        };
        format!("{}/{} {verdict}", self.passed, self.total)
    }
}

#[derive(Default)]
struct ChartRow<'a> {
    suites: BTreeMap<Suite, SuiteCell>,
    slowest: Option<(Duration, &'a str, &'a TrialId)>,
}

fn render(planned: &[TrialId], summary: &RunSummary) -> String {
    let outcomes = sorted_by_id(&summary.outcomes);
    let counts = RunCounts::tally(planned, &summary.outcomes);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "\nRan {} of {} trial{} in {}",
        counts.ran(),
        counts.listed,
        if counts.listed == 1 { "" } else { "s" },
        seconds(summary.elapsed)
    );
    if let Some(cluster) = &summary.cluster {
        let _ = writeln!(out, "Cluster: {cluster}");
    }
    if !outcomes.is_empty() {
        out.push('\n');
        out.push_str(&chart_table(&outcomes));
    }

    if let Some(line) = upgrade_line(&outcomes) {
        let _ = writeln!(out, "\n{line}");
    }
    let recoveries = backup_restore_lines(&outcomes);
    if !recoveries.is_empty() {
        let _ = writeln!(out, "\nBackup-restore:");
        for line in recoveries {
            let _ = writeln!(out, "  {line}");
        }
    }

    let failures: Vec<&TrialOutcome> = outcomes
        .iter()
        .copied()
        .filter(|outcome| outcome.status.is_failure())
        .collect();
    if !failures.is_empty() {
        out.push_str("\nFailures:\n");
        for outcome in failures {
            let _ = writeln!(out, "  {}", failure_line(outcome));
        }
    }

    if summary.interrupted {
        let _ = writeln!(
            out,
            "\nThe run was interrupted: {} trial{} did not finish.",
            counts.cancelled + counts.not_run,
            if counts.cancelled + counts.not_run == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    let _ = writeln!(out, "\n{counts}");
    out
}

/// One line per backup-restore trial that ran: the measured RTO and the RPO its
/// schedule keeps, each beside the objective it was held to.
fn backup_restore_lines(outcomes: &[&TrialOutcome]) -> Vec<String> {
    let shown = crate::backup_objectives::shown;
    let objective = |record: Option<&crate::suites::ObjectiveRecord>| {
        record.map_or_else(
            || "no objective".to_string(),
            |objective| format!("objective {}", objective.text),
        )
    };
    let several_cases = |chart: &str| {
        outcomes
            .iter()
            .filter(|o| o.id.suite == Suite::BackupRestore && o.id.chart == chart)
            .count()
            > 1
    };
    outcomes
        .iter()
        .filter(|outcome| outcome.id.suite == Suite::BackupRestore)
        .filter_map(|outcome| Some((outcome, outcome.backup_restore.as_ref()?)))
        .map(|(outcome, record)| {
            let name = if several_cases(&outcome.id.chart) {
                format!("{} ({})", outcome.id.chart, outcome.id.case)
            } else {
                outcome.id.chart.clone()
            };
            let rto = match record.rto_seconds {
                Some(seconds) => format!(
                    "RTO {} ({})",
                    shown(std::time::Duration::from_secs_f64(seconds)),
                    objective(record.rto_objective.as_ref())
                ),
                None => "RTO not measured".to_string(),
            };
            let rpo = match (record.rpo_schedule_seconds, &record.rpo_note) {
                (Some(seconds), _) => format!(
                    "RPO schedule {} ({})",
                    shown(std::time::Duration::from_secs_f64(seconds)),
                    objective(record.rpo_objective.as_ref())
                ),
                (None, Some(note)) => format!("RPO {note}"),
                (None, None) => "RPO not measured".to_string(),
            };
            format!("{name}: {rto}, {rpo}")
        })
        .collect()
}

/// What the upgrade trials proved: how many checked data, and why the others that did
/// not run did not, counted apart (an ignored baseline failure is never a pass).
fn upgrade_line(outcomes: &[&TrialOutcome]) -> Option<String> {
    let upgrades: Vec<&TrialOutcome> = outcomes
        .iter()
        .copied()
        .filter(|outcome| {
            outcome.id.suite == Suite::Upgrade
                && !matches!(outcome.status, TrialStatus::Skipped | TrialStatus::Cancelled)
                // Not run with no phase: the run stopped before the trial started.
                && !(outcome.status == TrialStatus::NotRun && outcome.phases.is_empty())
        })
        .collect();
    if upgrades.is_empty() {
        return None;
    }
    let checked = upgrades
        .iter()
        .filter(|outcome| outcome.upgrade.as_ref().is_some_and(|u| u.data_checked))
        .count();
    let mut not_run: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in &upgrades {
        if outcome.status != TrialStatus::NotRun {
            continue;
        }
        let reason = outcome.reason.as_deref().unwrap_or_default();
        let kind = if reason.contains("baseline-failure: ignore") {
            "baseline failed, ignored"
        } else if reason.starts_with("baseline identical") {
            "baseline identical"
        } else if reason.contains("is new since the baseline") {
            "new since the baseline"
        } else if reason.starts_with("major version bump") {
            "major bump, upgrade not attempted"
        } else {
            "other"
        };
        *not_run.entry(kind).or_default() += 1;
    }
    let mut line = format!(
        "Upgrades: data checked in {checked}/{} upgrade trial{}",
        upgrades.len(),
        if upgrades.len() == 1 { "" } else { "s" }
    );
    if !not_run.is_empty() {
        let parts: Vec<String> = not_run
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let _ = write!(line, "; not run: {}", parts.join(", "));
    }
    Some(line)
}

/// One row per chart: each suite's passed/total, and the phase that took longest,
/// which is where to look first when a run is slow.
fn chart_table(outcomes: &[&TrialOutcome]) -> String {
    let mut charts: BTreeMap<&str, ChartRow> = BTreeMap::new();
    for outcome in outcomes {
        let row = charts.entry(outcome.id.chart.as_str()).or_default();
        let cell = row.suites.entry(outcome.id.suite).or_default();
        match outcome.status {
            TrialStatus::Skipped => {}
            TrialStatus::Passed => cell.passed += 1,
            TrialStatus::Failed | TrialStatus::TimedOut => cell.failed += 1,
            TrialStatus::Cancelled | TrialStatus::NotRun => {}
        }
        if outcome.status != TrialStatus::Skipped {
            cell.total += 1;
        }
        for phase in &outcome.phases {
            if row
                .slowest
                .is_none_or(|(longest, _, _)| phase.duration > longest)
            {
                row.slowest = Some((phase.duration, phase.name.as_str(), &outcome.id));
            }
        }
    }
    let suites: BTreeSet<Suite> = charts
        .values()
        .flat_map(|row| row.suites.keys().copied())
        .collect();

    let mut header = vec!["CHART".to_string()];
    header.extend(suites.iter().map(|suite| suite.name().to_uppercase()));
    header.push("SLOWEST PHASE".into());
    let mut rows = vec![header];
    for (chart, row) in &charts {
        let mut cells = vec![chart.to_string()];
        cells.extend(suites.iter().map(|suite| {
            row.suites
                .get(suite)
                .map_or_else(|| "-".to_string(), SuiteCell::text)
        }));
        cells.push(match row.slowest {
            Some((duration, phase, id)) => {
                format!("{phase} {} ({}::{})", seconds(duration), id.suite, id.case)
            }
            None => "-".into(),
        });
        rows.push(cells);
    }
    align(&rows)
}

/// Left-aligns columns two spaces apart.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Which chart, which suite and case, and which checks failed, in one line.
fn failure_line(outcome: &TrialOutcome) -> String {
    let failed_checks: Vec<&str> = outcome
        .failed_phases()
        .map(|phase| phase.name.as_str())
        .collect();
    let mut line = format!(
        "chart {} ({}): {}, case {}: ",
        outcome.id.chart,
        outcome.chart_dir.display(),
        outcome.id.suite,
        outcome.id.case
    );
    if outcome.status == TrialStatus::TimedOut {
        let _ = write!(line, "timed out after {}", seconds(outcome.duration));
        if !failed_checks.is_empty() {
            line.push_str("; ");
        }
    }
    if !failed_checks.is_empty() {
        let _ = write!(line, "failed checks: {}", failed_checks.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::{
        SharedBuffer, did_not_run, feed, id, interrupted_outcomes, outcome, passing_lint, phase,
        planned_ids, sample_events,
    };
    use super::*;
    use crate::problem::Problem;
    use crate::suites::{PhaseRecord, PhaseStatus};

    #[test]
    fn summary_shows_charts_failures_and_the_verdict_last() {
        let buffer = SharedBuffer::default();
        let mut reporter = SummaryReporter::new(Box::new(buffer.clone()));
        feed(&mut reporter, &sample_events());
        let text = buffer.contents();
        insta::assert_snapshot!(text);
        assert_eq!(text.lines().last(), Some("2 passed, 1 failed, 1 timed out"));
    }

    #[test]
    fn interrupted_summary_counts_what_did_not_run() {
        let summary = RunSummary {
            outcomes: interrupted_outcomes(),
            elapsed: Duration::from_millis(2_000),
            interrupted: true,
            cluster: None,
        };
        let text = render(&planned_ids(), &summary);
        insta::assert_snapshot!(text);
        assert!(!text.contains("Failures:"), "nothing failed:\n{text}");
        assert_eq!(
            text.lines().last(),
            Some("1 passed, 0 failed, 1 cancelled, 2 not run")
        );
    }

    #[test]
    fn skipped_trials_are_listed_and_counted_but_not_run() {
        let skipped = did_not_run(
            id(Suite::Template, "web", "default"),
            TrialStatus::Skipped,
            "charts/web/ci/harness.yaml skips the template suite",
        );
        let summary = RunSummary {
            outcomes: vec![Arc::new(passing_lint()), Arc::new(skipped)],
            elapsed: Duration::from_millis(500),
            interrupted: false,
            cluster: None,
        };
        let planned = [
            id(Suite::Lint, "web", "default"),
            id(Suite::Template, "web", "default"),
        ];
        let text = render(&planned, &summary);
        assert!(text.contains("Ran 1 of 2 trials"), "{text}");
        assert!(
            text.lines()
                .any(|line| line.starts_with("web") && line.contains("1/1 passed  skipped")),
            "{text}"
        );
        assert_eq!(text.lines().last(), Some("1 passed, 0 failed, 1 skipped"));
    }

    #[test]
    fn each_backup_restore_trial_says_its_rto_and_rpo_beside_their_objectives() {
        let objective = |text: &str, seconds: f64| crate::suites::ObjectiveRecord {
            text: text.into(),
            source: "values: backup.documentation.targets.rto".into(),
            seconds,
        };
        let mut redis = outcome(
            id(Suite::BackupRestore, "redis", "default"),
            TrialStatus::Passed,
            50_000,
            vec![],
        );
        redis.backup_restore = Some(crate::suites::BackupRestoreRecord {
            disaster: "uninstall".into(),
            rto_seconds: Some(41.2),
            rto_objective: Some(objective("< 1 hour", 3600.0)),
            rpo_schedule_seconds: Some(86_400.0),
            rpo_objective: Some(objective("24 hours", 86_400.0)),
            ..Default::default()
        });
        let mut files = outcome(
            id(Suite::BackupRestore, "files", "default"),
            TrialStatus::Failed,
            9_000,
            vec![],
        );
        files.backup_restore = Some(crate::suites::BackupRestoreRecord {
            disaster: "delete-namespace".into(),
            rpo_note: Some("not measurable: no schedule".into()),
            ..Default::default()
        });
        let refs = [&redis, &files];
        assert_eq!(
            backup_restore_lines(&refs),
            [
                "redis: RTO 41 s (objective < 1 hour), RPO schedule 24 h (objective 24 hours)",
                "files: RTO not measured, RPO not measurable: no schedule",
            ]
        );
    }

    #[test]
    fn upgrades_say_how_many_checked_data_and_why_others_did_not_run() {
        let mut checked = outcome(
            id(Suite::Upgrade, "db", "default"),
            TrialStatus::Passed,
            9_000,
            Vec::new(),
        );
        checked.upgrade = Some(crate::suites::UpgradeRecord {
            data_checked: true,
            ..Default::default()
        });
        let unchecked = outcome(
            id(Suite::Upgrade, "web", "default"),
            TrialStatus::Passed,
            4_000,
            Vec::new(),
        );
        let not_run = |chart: &str, reason: &str| TrialOutcome {
            phases: vec![phase("baseline", 1, Vec::new())],
            ..did_not_run(
                id(Suite::Upgrade, chart, "default"),
                TrialStatus::NotRun,
                reason,
            )
        };
        let outcomes = [
            checked,
            unchecked,
            not_run(
                "same",
                "baseline identical: git (1a2b) renders the same objects",
            ),
            not_run(
                "gone",
                "baseline git:v1 failed and `baseline-failure: ignore` lets it pass untested: ...",
            ),
            not_run(
                "new",
                "the chart is new since the baseline git (1a2b): charts/new did not exist there",
            ),
            did_not_run(
                id(Suite::Upgrade, "later", "default"),
                TrialStatus::NotRun,
                "the run was interrupted before this trial started",
            ),
        ];
        let refs: Vec<&TrialOutcome> = outcomes.iter().collect();
        assert_eq!(
            upgrade_line(&refs).as_deref(),
            Some(
                "Upgrades: data checked in 1/5 upgrade trials; not run: 1 baseline failed, ignored, 1 baseline identical, 1 new since the baseline"
            )
        );
        assert_eq!(
            upgrade_line(&[&passing_lint()]),
            None,
            "no upgrade trial, no line"
        );
    }

    #[test]
    fn diagnostics_are_shown_as_context_not_as_a_failed_check() {
        let mut failed = outcome(
            id(Suite::Integration, "web", "default"),
            TrialStatus::Failed,
            3_000,
            vec![phase(
                "ready:Deployment/web",
                2_000,
                vec![Problem::new("0 of 1 replicas ready")],
            )],
        );
        failed.phases.push(PhaseRecord {
            name: "diagnostics".into(),
            status: PhaseStatus::Context,
            duration: Duration::from_millis(300),
            problems: vec![Problem::new("events: FailedScheduling 0/1 nodes available")],
        });
        let summary = RunSummary {
            outcomes: vec![Arc::new(failed.clone())],
            elapsed: Duration::from_secs(3),
            interrupted: false,
            cluster: None,
        };
        let text = render(&[failed.id.clone()], &summary);
        let line = failure_line(&failed);
        assert!(
            line.ends_with("failed checks: ready:Deployment/web"),
            "{line}"
        );
        assert!(text.contains(&line), "{text}");
        let message = failed.failure_message();
        assert!(message.contains("failed with 1 problem"), "{message}");
        assert!(
            message.contains("  [diagnostics] events: FailedScheduling"),
            "{message}"
        );
    }

    #[test]
    fn empty_run_still_ends_with_the_verdict() {
        let summary = RunSummary {
            outcomes: Vec::new(),
            elapsed: Duration::ZERO,
            interrupted: false,
            cluster: None,
        };
        let text = render(&[], &summary);
        assert_eq!(text, "\nRan 0 of 0 trials in 0.00s\n\n0 passed, 0 failed\n");
    }
}
