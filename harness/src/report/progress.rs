//! What a person watches while the run goes: a live display on a terminal, plain
//! lines everywhere else (logs, CI), with GitHub Actions groups and annotations when
//! running there.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, ReportError, Reporter, RunCounts, RunInfo, seconds};
use crate::plan::TrialId;
use crate::suites::{TrialOutcome, TrialStatus};

/// How progress is shown. The caller decides, usually with [`ProgressMode::detect`].
pub enum ProgressMode {
    /// An indicatif display on stderr, redrawn in place. Only for terminals.
    Live,
    /// One line per event, for logs and captured output.
    Plain {
        out: Box<dyn Write + Send>,
        /// Wrap failure details in `::group::` and emit `::error` annotations.
        github_groups: bool,
    },
}

impl ProgressMode {
    /// Live when stderr is a terminal; otherwise plain lines on stderr, with GitHub
    /// groups when configured or when running under GitHub Actions.
    pub fn detect(github_groups_configured: bool) -> Self {
        if std::io::stderr().is_terminal() {
            ProgressMode::Live
        } else {
            ProgressMode::Plain {
                out: Box::new(std::io::stderr()),
                github_groups: github_annotations_wanted(github_groups_configured),
            }
        }
    }
}

/// GitHub groups and annotations are on when the config asks for them (ct's
/// `github-groups`) or when GitHub Actions runs us, which sets `GITHUB_ACTIONS=true`.
pub fn github_annotations_wanted(configured: bool) -> bool {
    configured || std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true")
}

pub struct ProgressReporter {
    display: Display,
}

enum Display {
    Live(LiveDisplay),
    Plain(PlainLines),
}

impl ProgressReporter {
    pub fn new(mode: ProgressMode) -> Self {
        let display = match mode {
            ProgressMode::Live => Display::Live(LiveDisplay::new(ProgressDrawTarget::stderr())),
            ProgressMode::Plain { out, github_groups } => {
                Display::Plain(PlainLines { out, github_groups })
            }
        };
        ProgressReporter { display }
    }
}

impl Reporter for ProgressReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        let result = match &mut self.display {
            Display::Live(live) => live.handle(event),
            Display::Plain(plain) => plain.handle(event),
        };
        result.map_err(|source| ReportError::Output {
            what: "progress output",
            source,
        })
    }
}

/// `RUN   4 trials on 2 jobs with helm v3.22.0 (/repo/.tools/bin/helm3, from .tools/bin), config from ct.yaml`
fn run_header(info: &RunInfo) -> String {
    format!(
        "RUN   {} trial{} on {} job{} with {}, config from {}",
        info.trials.len(),
        if info.trials.len() == 1 { "" } else { "s" },
        info.jobs,
        if info.jobs == 1 { "" } else { "s" },
        info.helm,
        info.config_source
    )
}

/// `PASS  lint::web::default 0.41s`; the label is padded to five columns so trial
/// names line up, and longer labels simply push the name right. A trial that did not
/// run shows why instead of a duration: `SKIP  template::lib::default (reason)`.
fn finished_line(outcome: &TrialOutcome) -> String {
    let label = match outcome.status {
        TrialStatus::Passed => "PASS",
        TrialStatus::Failed => "FAIL",
        TrialStatus::TimedOut => "TIMEOUT",
        TrialStatus::Cancelled => "CANCEL",
        TrialStatus::Skipped => "SKIP",
        TrialStatus::NotRun => "NOTRUN",
    };
    match (&outcome.reason, outcome.status) {
        (Some(reason), TrialStatus::Skipped | TrialStatus::NotRun) => {
            format!("{label:<5} {} ({reason})", outcome.id)
        }
        _ => format!("{label:<5} {} {}", outcome.id, seconds(outcome.duration)),
    }
}

/// `CLUSTER creating local control plane: Kubernetes v1.37.2, 2 simulated nodes; ...`
fn cluster_starting_line(intent: &str) -> String {
    format!("CLUSTER creating {intent}")
}

/// `CLUSTER ready after 4.62s: local control plane ...`
fn cluster_ready_line(description: &str, took: Duration) -> String {
    format!("CLUSTER ready after {}: {description}", seconds(took))
}

/// `CLUSTER failed after 0.02s: ...`, the one place the error is printed; the trials
/// that need the cluster fail referring to this line (`cluster::ANNOUNCED_FAILURE`).
fn cluster_failed_line(error: &str, took: Duration) -> String {
    format!("CLUSTER failed after {}: {error}", seconds(took))
}

/// `SLOW  integration::kvstore::default still in ready after 20s: waiting for
/// StatefulSet/kvstore: 0 of 1 replicas ready`. Whole seconds: the heartbeat comes
/// every few seconds, so hundredths would only look precise.
fn heartbeat_line(
    id: &TrialId,
    phase: &str,
    elapsed: Duration,
    waiting_for: Option<&str>,
) -> String {
    let mut line = format!("SLOW  {id} still in {phase} after {}s", elapsed.as_secs());
    if let Some(what) = waiting_for {
        let _ = write!(line, ": waiting for {what}");
    }
    line
}

/// The failure message, indented under its status line.
fn indented_failure(outcome: &TrialOutcome) -> String {
    let mut out = String::new();
    for line in outcome.failure_message().lines() {
        let _ = writeln!(out, "    {line}");
    }
    out
}

struct PlainLines {
    out: Box<dyn Write + Send>,
    github_groups: bool,
}

impl PlainLines {
    fn handle(&mut self, event: &Event) -> std::io::Result<()> {
        let mut text = String::new();
        match event {
            Event::RunStarted(info) => {
                let _ = writeln!(text, "{}", run_header(info));
                for warning in &info.warnings {
                    if self.github_groups {
                        let _ = writeln!(text, "::warning::{}", escape_data(warning));
                    } else {
                        let _ = writeln!(text, "WARN  {warning}");
                    }
                }
            }
            Event::TrialStarted { id, .. } => {
                let _ = writeln!(text, "START {id}");
            }
            Event::TrialFinished { outcome } => self.finished(outcome, &mut text),
            Event::ClusterStarting { intent } => {
                let _ = writeln!(text, "{}", cluster_starting_line(intent));
            }
            Event::ClusterReady { description, took } => {
                let _ = writeln!(text, "{}", cluster_ready_line(description, *took));
            }
            Event::ClusterFailed { error, took } => {
                let _ = writeln!(text, "{}", cluster_failed_line(error, *took));
            }
            Event::TrialHeartbeat {
                id,
                phase,
                elapsed,
                waiting_for,
            } => {
                let _ = writeln!(
                    text,
                    "{}",
                    heartbeat_line(id, phase, *elapsed, waiting_for.as_deref())
                );
            }
            // The summary reporter owns the end of the run.
            Event::RunFinished(_) => {}
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }

    fn finished(&self, outcome: &TrialOutcome, text: &mut String) {
        let failed = outcome.status.is_failure();
        if !failed {
            let _ = writeln!(text, "{}", finished_line(outcome));
        } else if self.github_groups {
            let _ = writeln!(text, "::group::{}", finished_line(outcome));
            text.push_str(&indented_failure(outcome));
            text.push_str("::endgroup::\n");
            text.push_str(&annotations(outcome));
        } else {
            let _ = writeln!(text, "{}", finished_line(outcome));
            text.push_str(&indented_failure(outcome));
        }
    }
}

/// One `::error` annotation per problem, placed on the file and line when known so
/// GitHub shows it in the pull request diff. A failure without problems (a timeout,
/// a check that failed without saying why) still gets one annotation.
///
/// An annotation carries only the first line of its problem: GitHub prints each
/// `::error` in full in the log, right after the group that already holds the
/// details, so a multi-line problem (helm's output of a failed `helm test`) would
/// otherwise be printed twice.
fn annotations(outcome: &TrialOutcome) -> String {
    let title = outcome.id.to_string();
    let mut out = String::new();
    let mut annotate =
        |file: Option<String>, line: Option<u64>, column: Option<u64>, message: &str| {
            let mut properties = Vec::new();
            if let Some(file) = file {
                properties.push(format!("file={}", escape_property(&file)));
            }
            if let Some(line) = line {
                properties.push(format!("line={line}"));
            }
            if let Some(column) = column {
                properties.push(format!("col={column}"));
            }
            properties.push(format!("title={}", escape_property(&title)));
            let _ = writeln!(
                out,
                "::error {}::{}",
                properties.join(","),
                escape_data(message)
            );
        };
    let mut annotated = false;
    for phase in outcome.failed_phases() {
        if phase.problems.is_empty() {
            annotate(None, None, None, &format!("[{}] failed", phase.name));
        }
        for problem in &phase.problems {
            annotate(
                problem
                    .file
                    .as_ref()
                    .map(|file| file.to_string_lossy().into_owned()),
                problem.line,
                problem.column,
                &format!("[{}] {}", phase.name, headline(&problem.message)),
            );
        }
        annotated = true;
    }
    if !annotated {
        let message = outcome.failure_message();
        annotate(None, None, None, message.lines().next().unwrap_or_default());
    }
    out
}

/// The first non-empty line of a problem, which says what is wrong; the rest is detail.
fn headline(message: &str) -> &str {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

/// Escaping for the message part of a workflow command, as GitHub's toolkit does it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values additionally cannot hold the `:` and `,` that delimit them.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The terminal display: an overall bar, and one spinner line per running trial.
struct LiveDisplay {
    multi: MultiProgress,
    overall: ProgressBar,
    running: HashMap<TrialId, ProgressBar>,
    planned: Vec<TrialId>,
    /// Trials not yet finished per chart, to count charts that are done.
    trials_left: HashMap<String, usize>,
    charts_done: usize,
    failed: usize,
}

const TICK: Duration = Duration::from_millis(100);

impl LiveDisplay {
    fn new(target: ProgressDrawTarget) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{spinner:.green} {elapsed_precise} [{wide_bar:.cyan/blue}] {pos}/{len} trials  {msg}",
            )
            .expect("the overall progress template is valid")
            .progress_chars("=> "),
        ));
        overall.enable_steady_tick(TICK);
        LiveDisplay {
            multi,
            overall,
            running: HashMap::new(),
            planned: Vec::new(),
            trials_left: HashMap::new(),
            charts_done: 0,
            failed: 0,
        }
    }

    fn handle(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::RunStarted(info) => {
                self.planned = info.trials.clone();
                self.trials_left.clear();
                for id in &info.trials {
                    *self.trials_left.entry(id.chart.clone()).or_default() += 1;
                }
                self.overall.set_length(info.trials.len() as u64);
                self.overall.reset_elapsed();
                self.multi.println(run_header(info))?;
                for warning in &info.warnings {
                    self.multi.println(format!("WARN  {warning}"))?;
                }
            }
            Event::TrialStarted { id, .. } => {
                let spinner = self.multi.add(
                    ProgressBar::new_spinner()
                        .with_style(
                            ProgressStyle::with_template("  {spinner:.dim} {msg} {elapsed:.dim}")
                                .expect("the running-trial template is valid"),
                        )
                        .with_message(id.to_string()),
                );
                spinner.enable_steady_tick(TICK);
                self.running.insert(id.clone(), spinner);
            }
            Event::TrialFinished { outcome } => {
                if let Some(spinner) = self.running.remove(&outcome.id) {
                    spinner.finish_and_clear();
                    self.multi.remove(&spinner);
                }
                self.overall.inc(1);
                if let Some(left) = self.trials_left.get_mut(&outcome.id.chart) {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        self.charts_done += 1;
                    }
                }
                let mut text = finished_line(outcome);
                if outcome.status.is_failure() {
                    self.failed += 1;
                    text.push('\n');
                    text.push_str(indented_failure(outcome).trim_end());
                }
                self.multi.println(text)?;
            }
            Event::ClusterStarting { intent } => {
                self.multi.println(cluster_starting_line(intent))?;
            }
            Event::ClusterReady { description, took } => {
                self.multi.println(cluster_ready_line(description, *took))?;
            }
            Event::ClusterFailed { error, took } => {
                self.multi.println(cluster_failed_line(error, *took))?;
            }
            // On the trial's own spinner line. It stays until the next beat or the end
            // of the trial, so it says how long the phase had run when it was true.
            Event::TrialHeartbeat {
                id,
                phase,
                elapsed,
                waiting_for,
            } => {
                if let Some(spinner) = self.running.get(id) {
                    let mut message = format!("{id}  {phase} after {}s", elapsed.as_secs());
                    if let Some(what) = waiting_for {
                        let _ = write!(message, ": waiting for {what}");
                    }
                    spinner.set_message(message);
                }
            }
            Event::RunFinished(summary) => {
                for (_, spinner) in self.running.drain() {
                    spinner.finish_and_clear();
                    self.multi.remove(&spinner);
                }
                self.overall.finish_with_message(
                    RunCounts::tally(&self.planned, &summary.outcomes).to_string(),
                );
                return Ok(());
            }
        }
        self.overall.set_message(format!(
            "{}/{} charts done, {} running, {} failed",
            self.charts_done,
            self.trials_left.len(),
            self.running.len(),
            self.failed
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::testing::{SharedBuffer, failing_lint, feed, sample_events};
    use super::*;
    use crate::problem::Problem;
    use crate::suites::PhaseStatus;
    use std::sync::Arc;

    fn plain_output(github_groups: bool) -> String {
        let buffer = SharedBuffer::default();
        let mut reporter = ProgressReporter::new(ProgressMode::Plain {
            out: Box::new(buffer.clone()),
            github_groups,
        });
        feed(&mut reporter, &sample_events());
        buffer.contents()
    }

    #[test]
    fn plain_progress_prints_a_line_per_event_and_failures_indented() {
        let text = plain_output(false);
        insta::assert_snapshot!(text);
        assert!(text.starts_with("RUN   4 trials on 2 jobs"));
        assert!(text.contains("\nPASS  lint::web::default 0.41s\n"));
        assert_eq!(text.matches("WARN  ").count(), 1);
        assert!(
            !text.lines().any(|line| line.starts_with("::")),
            "no workflow commands outside GitHub:\n{text}"
        );
    }

    #[test]
    fn github_progress_groups_failures_and_annotates_each_problem() {
        let text = plain_output(true);
        insta::assert_snapshot!(text);
        assert_eq!(text.matches("::group::").count(), 2);
        assert_eq!(text.matches("::endgroup::").count(), 2);
        // Three problems in the failing lint, one annotation for the timeout.
        assert_eq!(text.matches("::error ").count(), 4);
        assert!(text.contains(
            "::error file=charts/db/templates/statefulset.yaml,line=12,title=lint%3A%3Adb%3A%3Aci-prod::[helm-lint] function \"tpl2\" not defined\n"
        ));
    }

    #[rstest]
    #[case::waiting(
        Some("StatefulSet/kvstore: 0 of 1 replicas ready"),
        20_400,
        "SLOW  integration::kvstore::default still in ready after 20s: waiting for StatefulSet/kvstore: 0 of 1 replicas ready"
    )]
    #[case::busy_without_a_condition(
        None,
        10_000,
        "SLOW  integration::kvstore::default still in ready after 10s"
    )]
    fn a_heartbeat_names_trial_phase_time_and_the_pending_condition(
        #[case] waiting_for: Option<&str>,
        #[case] millis: u64,
        #[case] expected: &str,
    ) {
        let id = TrialId {
            suite: crate::plan::Suite::Integration,
            chart: "kvstore".into(),
            case: "default".into(),
        };
        assert_eq!(
            heartbeat_line(&id, "ready", Duration::from_millis(millis), waiting_for),
            expected
        );
    }

    /// Cluster and heartbeat events are plain lines, in order, between the trials'
    /// lines; GitHub mode adds no workflow command to them.
    #[rstest]
    fn plain_progress_prints_cluster_and_heartbeat_lines(#[values(false, true)] github: bool) {
        let id = TrialId {
            suite: crate::plan::Suite::Integration,
            chart: "web".into(),
            case: "default".into(),
        };
        let buffer = SharedBuffer::default();
        let mut reporter = ProgressReporter::new(ProgressMode::Plain {
            out: Box::new(buffer.clone()),
            github_groups: github,
        });
        feed(
            &mut reporter,
            &[
                Event::ClusterStarting {
                    intent: "local control plane: Kubernetes v1.37.2; pods are simulated by kwok"
                        .into(),
                },
                Event::TrialHeartbeat {
                    id: id.clone(),
                    phase: "cluster".into(),
                    elapsed: Duration::from_secs(10),
                    waiting_for: Some("the run's cluster".into()),
                },
                Event::ClusterReady {
                    description: "local control plane `c`".into(),
                    took: Duration::from_millis(12_345),
                },
            ],
        );
        assert_eq!(
            buffer.contents(),
            "CLUSTER creating local control plane: Kubernetes v1.37.2; pods are simulated by kwok\n\
             SLOW  integration::web::default still in cluster after 10s: waiting for the run's cluster\n\
             CLUSTER ready after 12.35s: local control plane `c`\n"
        );
    }

    #[test]
    fn live_display_shows_a_heartbeat_on_the_trials_spinner() {
        let id = TrialId {
            suite: crate::plan::Suite::Integration,
            chart: "web".into(),
            case: "default".into(),
        };
        let mut live = LiveDisplay::new(ProgressDrawTarget::hidden());
        live.handle(&Event::TrialStarted {
            id: id.clone(),
            at: std::time::Instant::now(),
        })
        .unwrap();
        live.handle(&Event::TrialHeartbeat {
            id: id.clone(),
            phase: "helm-test".into(),
            elapsed: Duration::from_secs(10),
            waiting_for: Some("`helm test` to run Job/web-test".into()),
        })
        .unwrap();
        assert_eq!(
            live.running[&id].message(),
            "integration::web::default  helm-test after 10s: waiting for `helm test` to run Job/web-test"
        );
    }

    #[rstest]
    #[case::percent("100% done", "100%25 done")]
    #[case::newlines("first\r\nsecond", "first%0D%0Asecond")]
    fn workflow_command_data_is_escaped(#[case] raw: &str, #[case] escaped: &str) {
        assert_eq!(escape_data(raw), escaped);
    }

    #[test]
    fn annotation_properties_escape_their_delimiters() {
        let mut outcome = failing_lint();
        outcome.phases.truncate(2);
        outcome.phases[1].problems =
            vec![Problem::in_file("charts/a,b/x:y.yaml", "100% wrong").at_line(Some(3))];
        assert_eq!(
            annotations(&outcome),
            "::error file=charts/a%2Cb/x%3Ay.yaml,line=3,title=lint%3A%3Adb%3A%3Aci-prod::[helm-lint] 100%25 wrong\n"
        );
    }

    #[test]
    fn a_problem_with_a_column_is_annotated_at_it() {
        let mut outcome = failing_lint();
        outcome.phases.truncate(2);
        outcome.phases[1].problems = vec![
            Problem::in_file(
                "charts/db/values.yaml",
                "[error] trailing spaces (trailing-spaces)",
            )
            .at_line(Some(3))
            .at_column(Some(16)),
        ];
        assert!(
            annotations(&outcome).starts_with("::error file=charts/db/values.yaml,line=3,col=16,"),
            "{}",
            annotations(&outcome)
        );
    }

    /// helm test's output is several lines; under `github-groups` it is printed once, in
    /// the group, and the annotation after the group names only its first line.
    #[test]
    fn github_groups_print_a_multi_line_failure_once() {
        let mut outcome = failing_lint();
        outcome.phases.truncate(2);
        outcome.phases[1].name = "helm-test".into();
        outcome.phases[1].problems = vec![Problem::in_file(
            "charts/db/templates/tests/test.yaml",
            "helm test failed (exit status: 1): Error: job db-test failed\nNAME: db\nPhase:          Failed",
        )];
        let buffer = SharedBuffer::default();
        let mut reporter = ProgressReporter::new(ProgressMode::Plain {
            out: Box::new(buffer.clone()),
            github_groups: true,
        });
        feed(
            &mut reporter,
            &[Event::TrialFinished {
                outcome: Arc::new(outcome),
            }],
        );
        // As GitHub shows the log: workflow-command data decoded.
        let shown = buffer.contents().replace("%0A", "\n");
        for detail in ["NAME: db", "Phase:          Failed"] {
            assert_eq!(shown.matches(detail).count(), 1, "{detail}:\n{shown}");
        }
        assert_eq!(shown.matches("::error ").count(), 1, "{shown}");
        assert_eq!(
            shown.matches("helm test failed (exit status: 1)").count(),
            2,
            "in the group and in its annotation:\n{shown}"
        );
        let annotation = shown.lines().find(|l| l.starts_with("::error ")).unwrap();
        assert!(
            annotation.ends_with(
                "::[helm-test] helm test failed (exit status: 1): Error: job db-test failed"
            ),
            "{annotation}"
        );
    }

    #[test]
    fn a_failed_phase_without_problems_still_gets_an_annotation() {
        let mut outcome = failing_lint();
        outcome.phases.truncate(2);
        outcome.phases[1].problems.clear();
        outcome.phases[1].status = PhaseStatus::Failed;
        assert_eq!(
            annotations(&outcome),
            "::error title=lint%3A%3Adb%3A%3Aci-prod::[helm-lint] failed\n"
        );
    }

    #[test]
    fn live_display_tracks_done_running_and_failed() {
        let events = sample_events();
        let mut live = LiveDisplay::new(ProgressDrawTarget::hidden());
        // Up to and including the failing lint trial's finish.
        for event in &events[..6] {
            live.handle(event).unwrap();
        }
        assert_eq!(live.overall.length(), Some(4));
        assert_eq!(live.overall.position(), 2);
        assert_eq!(live.running.len(), 1);
        assert_eq!(
            live.overall.message(),
            "0/2 charts done, 1 running, 1 failed"
        );

        for event in &events[6..9] {
            live.handle(event).unwrap();
        }
        assert_eq!(live.overall.position(), 4);
        assert!(live.running.is_empty());
        assert_eq!(
            live.overall.message(),
            "2/2 charts done, 0 running, 2 failed"
        );

        live.handle(&events[9]).unwrap();
        assert!(live.overall.is_finished());
        assert_eq!(live.overall.message(), "2 passed, 1 failed, 1 timed out");
    }
}
