//! A hand-built run shared by the reporter tests: four trials over two charts, one
//! passing per suite, one failing with problems in two phases, one timed out. Every
//! duration is fixed so snapshots do not depend on the machine.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Event, Reporter, RunInfo, RunSummary};
use crate::plan::{Suite, TrialId};
use crate::problem::Problem;
use crate::suites::{PhaseRecord, PhaseStatus, TrialOutcome, TrialStatus};

pub fn id(suite: Suite, chart: &str, case: &str) -> TrialId {
    TrialId {
        suite,
        chart: chart.into(),
        case: case.into(),
    }
}

pub fn phase(name: &str, millis: u64, problems: Vec<Problem>) -> PhaseRecord {
    PhaseRecord {
        name: name.into(),
        status: if problems.is_empty() {
            PhaseStatus::Passed
        } else {
            PhaseStatus::Failed
        },
        duration: Duration::from_millis(millis),
        problems,
    }
}

pub fn outcome(
    id: TrialId,
    status: TrialStatus,
    millis: u64,
    phases: Vec<PhaseRecord>,
) -> TrialOutcome {
    TrialOutcome {
        chart_dir: PathBuf::from("charts").join(&id.chart),
        id,
        status,
        phases,
        duration: Duration::from_millis(millis),
        reason: None,
        findings: Vec::new(),
        upgrade: None,
        backup_restore: None,
    }
}

/// In plan order: suite, then chart, then case.
pub fn planned_ids() -> Vec<TrialId> {
    vec![
        id(Suite::Lint, "db", "ci-prod"),
        id(Suite::Lint, "web", "default"),
        id(Suite::Template, "db", "ci-prod"),
        id(Suite::Template, "web", "default"),
    ]
}

pub fn passing_lint() -> TrialOutcome {
    outcome(
        id(Suite::Lint, "web", "default"),
        TrialStatus::Passed,
        410,
        vec![
            phase("dependency-build", 100, vec![]),
            phase("helm-lint", 300, vec![]),
            phase("chart-yaml", 10, vec![]),
        ],
    )
}

/// Fails in two phases; one problem has a file and line, one only a file, one neither.
pub fn failing_lint() -> TrialOutcome {
    outcome(
        id(Suite::Lint, "db", "ci-prod"),
        TrialStatus::Failed,
        1250,
        vec![
            phase("dependency-build", 120, vec![]),
            phase(
                "helm-lint",
                450,
                vec![
                    Problem::in_file(
                        "charts/db/templates/statefulset.yaml",
                        "function \"tpl2\" not defined",
                    )
                    .at_line(Some(12)),
                ],
            ),
            phase(
                "chart-yaml",
                5,
                vec![
                    Problem::in_file(
                        "charts/db/Chart.yaml",
                        "version `1.0` is not semver: use MAJOR.MINOR.PATCH, for example 1.0.0",
                    ),
                    Problem::new("the chart has no maintainers: add at least one to Chart.yaml"),
                ],
            ),
            PhaseRecord {
                name: "values-schema".into(),
                status: PhaseStatus::NotRun("the chart has no values.schema.json".into()),
                duration: Duration::ZERO,
                problems: vec![],
            },
        ],
    )
}

pub fn passing_template() -> TrialOutcome {
    outcome(
        id(Suite::Template, "web", "default"),
        TrialStatus::Passed,
        950,
        vec![
            phase("dependency-build", 90, vec![]),
            phase("render", 800, vec![]),
            phase("snapshot", 50, vec![]),
        ],
    )
}

pub fn timed_out_template() -> TrialOutcome {
    outcome(
        id(Suite::Template, "db", "ci-prod"),
        TrialStatus::TimedOut,
        30_000,
        vec![phase("dependency-build", 110, vec![])],
    )
}

/// A trial that did not run: `status` is skipped or not run.
pub fn did_not_run(id: TrialId, status: TrialStatus, reason: &str) -> TrialOutcome {
    TrialOutcome {
        reason: Some(reason.into()),
        ..outcome(id, status, 0, Vec::new())
    }
}

/// The sample run interrupted after the passing lint trial finished, while the
/// passing template trial ran: every listed trial has an outcome.
pub fn interrupted_outcomes() -> Vec<Arc<TrialOutcome>> {
    let mut cancelled = passing_template();
    cancelled.status = TrialStatus::Cancelled;
    cancelled.reason = Some("the run was interrupted while this trial ran".into());
    let not_run = |id| {
        Arc::new(did_not_run(
            id,
            TrialStatus::NotRun,
            "the run was interrupted before this trial started",
        ))
    };
    vec![
        Arc::new(passing_lint()),
        Arc::new(cancelled),
        not_run(id(Suite::Lint, "db", "ci-prod")),
        not_run(id(Suite::Template, "db", "ci-prod")),
    ]
}

/// In the order the trials finish in [`sample_events`].
pub fn sample_outcomes() -> Vec<Arc<TrialOutcome>> {
    vec![
        Arc::new(passing_lint()),
        Arc::new(failing_lint()),
        Arc::new(passing_template()),
        Arc::new(timed_out_template()),
    ]
}

pub fn sample_info() -> RunInfo {
    RunInfo {
        trials: planned_ids(),
        jobs: 2,
        helm: "helm v3.22.0".into(),
        config_source: "ct.yaml".into(),
        warnings: vec![
            "ct.yaml: key `namespace` has no meaning for chart-harness and is ignored".into(),
        ],
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        kube_version: "1.37.2".into(),
        cell: None,
    }
}

/// A whole run as the runner would emit it with two jobs: trials overlap and finish
/// out of plan order.
pub fn sample_events() -> Vec<Event> {
    let [web_lint, db_lint, web_template, db_template]: [Arc<TrialOutcome>; 4] =
        sample_outcomes().try_into().expect("four outcomes");
    // Two jobs: each template trial takes the slot its lint trial left.
    let run_start = Instant::now();
    let started =
        |outcome: &Arc<TrialOutcome>, after: Option<&Arc<TrialOutcome>>| Event::TrialStarted {
            id: outcome.id.clone(),
            at: run_start + after.map_or(Duration::ZERO, |previous| previous.duration),
        };
    let finished = |outcome: &Arc<TrialOutcome>| Event::TrialFinished {
        outcome: Arc::clone(outcome),
    };
    vec![
        Event::RunStarted(sample_info()),
        started(&web_lint, None),
        started(&db_lint, None),
        finished(&web_lint),
        started(&web_template, Some(&web_lint)),
        finished(&db_lint),
        started(&db_template, Some(&db_lint)),
        finished(&web_template),
        finished(&db_template),
        Event::RunFinished(RunSummary {
            outcomes: sample_outcomes(),
            elapsed: Duration::from_millis(31_500),
            interrupted: false,
            cluster: None,
        }),
    ]
}

pub fn feed(reporter: &mut dyn Reporter, events: &[Event]) {
    for event in events {
        reporter.handle(event).expect("reporter handles the event");
    }
}

/// A writer whose contents the test can read after handing it to a reporter.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("reporters write UTF-8")
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
