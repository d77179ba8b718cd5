//! `chart-harness report merge`: the reports of a plan's cells, one per matrix job,
//! into one report with one verdict. Reports of another plan or commit are refused;
//! a cell run twice (a rerun of a failed job) counts once, by its latest attempt; a
//! planned cell with no report fails every trial it listed, as "planned, never
//! reported". Every listed trial is accounted for, as in a single run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::RunCounts;
use super::document::{CellRecord, ReportDocument, ReportedTrial};
use super::json::FORMAT_VERSION;
use crate::matrix::{CellKind, Plan};
use crate::plan::TrialId;
use crate::problem::Problem;
use crate::suites::{PhaseRecord, PhaseStatus, TrialOutcome, TrialStatus};

/// The phase a never-reported trial fails in.
pub const NEVER_REPORTED_PHASE: &str = "reported";

/// Merges `reports` (each read from the path beside it) by `plan`.
pub fn merge(
    plan: &Plan,
    reports: Vec<(PathBuf, ReportDocument)>,
) -> Result<ReportDocument, String> {
    let mut refused = Vec::new();
    let mut by_cell: BTreeMap<String, Vec<(u32, PathBuf, ReportDocument)>> = BTreeMap::new();
    for (path, report) in reports {
        let Some(cell) = report.cell.clone() else {
            refused.push(format!(
                "{} is not a cell's report{}; merge takes the reports `chart-harness run-cell` writes",
                path.display(),
                if report.merged { " (it is a merged one)" } else { " (no `cell`)" }
            ));
            continue;
        };
        if cell.plan_hash != plan.hash {
            refused.push(format!(
                "{} is from plan {}, not from this plan {}",
                path.display(),
                cell.plan_hash,
                plan.hash
            ));
            continue;
        }
        if report.commit.as_deref() != Some(plan.commit.as_str()) {
            refused.push(format!(
                "{} is of commit {}, and the plan of commit {}",
                path.display(),
                report
                    .commit
                    .as_deref()
                    .map_or("(none)", crate::changed::short),
                crate::changed::short(&plan.commit)
            ));
            continue;
        }
        if plan.cell(&cell.id).is_err() {
            refused.push(format!(
                "{} is of cell `{}`, which plan {} does not list",
                path.display(),
                cell.id,
                plan.hash
            ));
            continue;
        }
        by_cell
            .entry(cell.id.clone())
            .or_default()
            .push((cell.attempt, path, report));
    }
    if !refused.is_empty() {
        return Err(format!(
            "refusing to merge {} report(s) that are not of this plan and commit:\n  {}\nmerge the reports of one plan's run; download only its artifacts (chart-harness-{}-*)",
            refused.len(),
            refused.join("\n  "),
            plan.hash
        ));
    }
    let mut merged = ReportDocument {
        version: FORMAT_VERSION,
        merged: true,
        commit: Some(plan.commit.clone()),
        plan_hash: Some(plan.hash.clone()),
        cell: None,
        kube_version: None,
        complete: true,
        cluster: None,
        summary: RunCounts::default(),
        cells: Vec::new(),
        trials: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
    };
    for cell in &plan.cells {
        let kube_version = (cell.kind == CellKind::Cluster).then(|| cell.kube_version.clone());
        let mut attempts = by_cell.remove(&cell.id).unwrap_or_default();
        attempts.sort_by_key(|(attempt, path, _)| (*attempt, path.clone()));
        let Some((attempt, path, report)) = attempts.pop() else {
            merged.complete = false;
            merged.notes.push(format!(
                "cell `{}` was planned and never reported: no artifact {}-<attempt> held its report",
                cell.id, cell.artifact
            ));
            for trial in &cell.trials {
                merged.trials.push(ReportedTrial {
                    outcome: never_reported(trial, &cell.id, &cell.artifact)?,
                    cell: Some(cell.id.clone()),
                    kube_version: kube_version.clone(),
                });
            }
            merged.cells.push(CellRecord {
                id: cell.id.clone(),
                kube_version,
                status: "never-reported".into(),
                attempt: None,
                superseded: Vec::new(),
                report: None,
                cluster: None,
            });
            continue;
        };
        let superseded: Vec<u32> = attempts.iter().map(|(attempt, ..)| *attempt).collect();
        if !superseded.is_empty() {
            merged.notes.push(format!(
                "cell `{}`: kept attempt {attempt}, the latest; left out attempt(s) {}",
                cell.id,
                superseded
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        merged.complete &= report.complete;
        for warning in report.warnings {
            if !merged.warnings.contains(&warning) {
                merged.warnings.push(warning);
            }
        }
        for mut trial in report.trials {
            trial.cell = Some(cell.id.clone());
            trial.kube_version.clone_from(&kube_version);
            merged.trials.push(trial);
        }
        merged.cells.push(CellRecord {
            id: cell.id.clone(),
            kube_version,
            status: "reported".into(),
            attempt: Some(attempt),
            superseded,
            report: Some(path),
            cluster: report.cluster,
        });
    }
    for skipped in &plan.skipped {
        let id: TrialId = skipped.trial.parse()?;
        merged.trials.push(ReportedTrial {
            outcome: TrialOutcome {
                chart_dir: PathBuf::new(),
                status: TrialStatus::Skipped,
                phases: Vec::new(),
                duration: Duration::ZERO,
                reason: Some(skipped.reason.clone()),
                findings: Vec::new(),
                upgrade: None,
                backup_restore: None,
                id,
            },
            cell: None,
            kube_version: None,
        });
    }
    merged
        .trials
        .sort_by(|a, b| (&a.outcome.id, &a.kube_version).cmp(&(&b.outcome.id, &b.kube_version)));
    let outcomes: Vec<Arc<TrialOutcome>> = merged
        .trials
        .iter()
        .map(|trial| Arc::new(trial.outcome.clone()))
        .collect();
    let listed: Vec<TrialId> = outcomes.iter().map(|o| o.id.clone()).collect();
    merged.summary = RunCounts::tally(&listed, &outcomes);
    Ok(merged)
}

/// The failed outcome of a trial whose cell never reported.
fn never_reported(trial: &str, cell: &str, artifact: &str) -> Result<TrialOutcome, String> {
    let message = format!(
        "planned, never reported: no report of cell `{cell}` (artifact {artifact}-<attempt>); its job failed before uploading, was cancelled, or its artifact was not downloaded"
    );
    Ok(TrialOutcome {
        id: trial.parse()?,
        chart_dir: PathBuf::new(),
        status: TrialStatus::Failed,
        phases: vec![PhaseRecord {
            name: NEVER_REPORTED_PHASE.into(),
            status: PhaseStatus::Failed,
            duration: Duration::ZERO,
            problems: vec![Problem::new(message.clone())],
        }],
        duration: Duration::ZERO,
        reason: Some(message),
        findings: Vec::new(),
        upgrade: None,
        backup_restore: None,
    })
}

/// The merged report's trials as a run's outcomes, for the JUnit report: a cluster
/// trial's case names its Kubernetes version, so one trial on two versions is two
/// test cases.
pub fn junit_outcomes(merged: &ReportDocument) -> Vec<Arc<TrialOutcome>> {
    merged
        .trials
        .iter()
        .map(|trial| {
            let mut outcome = trial.outcome.clone();
            if let Some(version) = &trial.kube_version {
                outcome.id.case = format!("{} (Kubernetes {version})", outcome.id.case);
            }
            Arc::new(outcome)
        })
        .collect()
}
