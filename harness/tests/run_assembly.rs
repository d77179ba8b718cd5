//! The run assembly every front end uses: when it leases a cluster, and the accounting
//! of an interrupted run (every listed trial counted once, as passed, failed, timed
//! out, cancelled, skipped or not run, in the summary line, the JSON report and JUnit
//! alike).

mod testing;

use chart_harness::cluster::ProviderKind;
use chart_harness::plan::Suite;
use chart_harness::report::{
    Event, JsonReporter, JunitReporter, ProgressMode, ProgressReporter, ReportError, Reporter,
    SummaryReporter,
};
use chart_harness::run::{self, ClusterChoice, Run, RunOptions};
use chart_harness::runner::Interruption;
use chart_harness::session::Session;
use chart_harness::suites::TrialStatus;
use testing::{SharedBuffer, TempRepo};
use tokio::sync::watch;

/// Signals when the first trial that ran has finished (skipped trials finish at once).
struct FirstFinished(watch::Sender<bool>);

impl Reporter for FirstFinished {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        if let Event::TrialFinished { outcome } = event
            && outcome.status != TrialStatus::Skipped
        {
            self.0.send_replace(true);
        }
        Ok(())
    }
}

/// `N label` parts of the verdict line, for example `2 passed`.
fn verdict_count(line: &str, label: &str) -> usize {
    line.split(", ")
        .find_map(|part| part.strip_suffix(&format!(" {label}")))
        .map_or(0, |n| n.parse().unwrap())
}

/// The value of `name="..."` in the first `<tag ` element.
fn xml_attribute(xml: &str, tag: &str, name: &str) -> usize {
    let element = &xml[xml.find(&format!("<{tag} ")).unwrap()..];
    let element = &element[..element.find('>').unwrap()];
    let start = element.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    element[start..][..element[start..].find('"').unwrap()]
        .parse()
        .unwrap()
}

#[test]
fn an_interrupted_run_accounts_for_every_listed_trial() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "web");
    // A library chart: its template trial is skipped by the plan.
    repo.add_chart("charts", "common-lib");
    // A chart's `skip:`: its template trials are skipped too.
    let kvstore = repo.add_chart("charts", "kvstore");
    std::fs::write(kvstore.join("ci/harness.yaml"), "skip: [template]\n").unwrap();

    let listed = {
        let session = Session::open(repo.root()).unwrap();
        session
            .plan(&session.charts, &[Suite::Lint, Suite::Template])
            .len()
    };
    // web and kvstore have 3 cases each, common-lib one: 7 per suite.
    assert_eq!(listed, 14);

    let (finished, mut first_finished) = watch::channel(false);
    let summary_text = SharedBuffer::default();
    let report_dir = repo.root().join("report");
    let mut reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(FirstFinished(finished)),
        Box::new(SummaryReporter::new(Box::new(summary_text.clone()))),
        Box::new(JunitReporter::new(report_dir.join("junit.xml"))),
        Box::new(JsonReporter::new(report_dir.join("report.json"))),
    ];
    let interrupt = async move {
        first_finished.wait_for(|done| *done).await.unwrap();
        Interruption::Signal
    };
    let summary = repo.run_with(
        &[Suite::Lint, Suite::Template],
        1,
        &mut reporters,
        interrupt,
    );
    assert!(summary.interrupted);
    assert_eq!(
        summary.outcomes.len(),
        listed,
        "one outcome per listed trial"
    );

    // The summary's verdict line.
    let text = summary_text.text();
    let verdict = text.lines().last().unwrap();
    let count = |label| verdict_count(verdict, label);
    assert!(verdict.starts_with(&format!(
        "{} passed, {} failed",
        count("passed"),
        count("failed")
    )));
    assert_eq!(count("skipped"), 4, "{text}");
    assert!(count("passed") + count("failed") >= 1, "{text}");
    assert!(count("not run") >= 1, "{text}");
    assert_eq!(
        [
            "passed",
            "failed",
            "timed out",
            "cancelled",
            "skipped",
            "not run"
        ]
        .map(count)
        .iter()
        .sum::<usize>(),
        listed,
        "{text}"
    );
    assert!(text.contains(&format!("of {listed} trials")), "{text}");

    // The JSON report.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let counts = &json["summary"];
    let field = |name: &str| counts[name].as_u64().unwrap() as usize;
    assert_eq!(field("listed"), listed);
    assert_eq!(
        [
            "passed",
            "failed",
            "timed_out",
            "cancelled",
            "skipped",
            "not_run"
        ]
        .map(field)
        .iter()
        .sum::<usize>(),
        listed,
        "{counts}"
    );
    assert_eq!(field("skipped"), count("skipped"));
    assert_eq!(field("not_run"), count("not run"));
    assert_eq!(json["trials"].as_array().unwrap().len(), listed);
    assert_eq!(json["not_run"].as_array().unwrap().len(), field("not_run"));
    for trial in json["trials"].as_array().unwrap() {
        if matches!(trial["status"].as_str(), Some("skipped" | "not-run")) {
            assert!(trial["reason"].is_string(), "{trial}");
        }
    }

    // JUnit: every listed trial is a case; skipped, cancelled and not run are skipped.
    let junit = std::fs::read_to_string(report_dir.join("junit.xml")).unwrap();
    assert_eq!(xml_attribute(&junit, "testsuites", "tests"), listed);
    assert_eq!(
        xml_attribute(&junit, "testsuites", "failures"),
        field("failed") + field("timed_out")
    );
    assert_eq!(
        xml_attribute(&junit, "testsuites", "skipped"),
        field("skipped") + field("cancelled") + field("not_run")
    );
    assert!(
        junit.contains("message=\"not run: the run was interrupted before this trial started\"")
    );
    assert!(junit.contains("message=\"skipped: library charts render"));
    assert!(junit.contains(
        "message=\"skipped: fixtures/charts/kvstore/ci/harness.yaml skips the template suite\""
    ));
}

/// Assembling never starts a cluster, and leases one only for trials that will run.
#[test]
fn a_cluster_is_leased_only_when_a_trial_that_runs_needs_one() {
    let repo = TempRepo::new();
    repo.add_chart("charts", "common-lib");
    let leased = |repo: &TempRepo| {
        let session = Session::open(repo.root()).unwrap();
        let trials = session.plan(&session.charts, &[Suite::Lint, Suite::Integration]);
        let local = RunOptions {
            cluster: ClusterChoice::Provider(Some(ProviderKind::Local)),
            ..RunOptions::default()
        };
        let run = run::runtime()
            .unwrap()
            .block_on(Run::assemble(&session, trials, local))
            .expect("the tools resolve; run `chart-harness tools install`");
        run.ctx.cluster.is_some()
    };
    // The library chart's integration trial is skipped, so nothing needs a cluster.
    assert!(!leased(&repo));
    repo.add_chart("charts", "web");
    assert!(leased(&repo));
}

/// What a person watching a cluster run sees: the cluster announced (with what it
/// simulates) when it starts being created and when it is ready, before any trial's
/// result, and a heartbeat while a phase runs longer than the interval, naming the
/// trial, the phase, the time so far and the condition it waits for. The interval is
/// shortened to 1 s; `slow-to-ready` waits 10 s for a Deployment that never becomes available.
#[test]
fn progress_announces_the_cluster_and_beats_during_long_phases() {
    let repo = TempRepo::new();
    repo.add_chart("broken", "slow-to-ready");
    let progress = SharedBuffer::default();
    let mut reporters: Vec<Box<dyn Reporter>> =
        vec![Box::new(ProgressReporter::new(ProgressMode::Plain {
            out: Box::new(progress.clone()),
            github_groups: false,
        }))];
    let summary = repo.run_with_heartbeat(
        &[Suite::Integration],
        1,
        std::time::Duration::from_secs(1),
        &mut reporters,
        std::future::pending(),
    );
    assert_eq!(summary.outcomes[0].status, TrialStatus::Failed);
    let text = progress.text();
    let lines: Vec<&str> = text.lines().collect();
    let position = |prefix: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{text}"))
    };
    let creating = position("CLUSTER creating local control plane");
    let ready = position("CLUSTER ready after ");
    let result = position("FAIL  integration::slow-to-ready::default");
    assert!(creating < ready && ready < result, "{text}");
    for line in [lines[creating], lines[ready]] {
        assert!(line.contains("pods are simulated by kwok"), "{line}");
    }
    let kube_version = chart_harness::tools::pinned_kube_version(&testing::workspace_root())
        .unwrap()
        .to_string();
    assert!(lines[creating].contains(&kube_version), "{text}");

    let waiting_for_ready: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| {
            line.starts_with("SLOW  integration::slow-to-ready::default still in ready after ")
        })
        .collect();
    assert!(
        waiting_for_ready.len() >= 5,
        "a beat a second of the 10 s wait:\n{text}"
    );
    assert!(
        waiting_for_ready.iter().any(|line| line
            .contains("s: waiting for Deployment/slow-to-ready-slow-to-ready: 1 of 1 replicas ready, 0 available")),
        "{text}"
    );
    let last_beat = lines
        .iter()
        .rposition(|line| line.starts_with("SLOW  "))
        .unwrap();
    assert!(
        last_beat < result,
        "no beat after the trial finished:\n{text}"
    );
}
