//! The suite's phase sequence on charts that never reach helm, so they run without it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{ChartSettings, HarnessConfig};
use crate::discovery::{Case, Chart};
use crate::plan::{Suite, TrialId};
use crate::suites::{PhaseRecord, PhaseStatus};
use crate::tools::{Helm, HelmMajor, Toolbox};
use testing::TestChart;

fn config(repo_root: &Path) -> HarnessConfig {
    HarnessConfig {
        check_version_increment: false,
        trial_timeout: Duration::from_secs(30),
        ..HarnessConfig::defaults(repo_root)
    }
}

fn context(chart: &TestChart, config: HarnessConfig) -> SuiteContext {
    SuiteContext {
        repo_root: chart.repo_root().to_path_buf(),
        config: Arc::new(config),
        tools: Arc::new(Toolbox {
            // Never started: every trial here stops before helm.
            helm: Helm {
                path: PathBuf::from("/nonexistent/helm"),
                version: semver::Version::new(4, 3, 0),
                major: HelmMajor::V4,
                home: chart.repo_root().join("helm-home"),
                go_threads: None,
            },
            helm_origin: crate::tools::ToolOrigin::ToolsBin,
            warnings: Vec::new(),
            git: PathBuf::from("git"),
            major_reason: "helm 4 was asked for".to_string(),
        }),
        kube_version: "1.37.2".to_string(),
        snapshot_mode: crate::suites::SnapshotMode::Check,
        cluster: None,
        claims: Default::default(),
        shared: Default::default(),
    }
}

fn trial(chart: &TestChart, case: &str, settings: Result<ChartSettings, String>) -> Trial {
    let values_file =
        (case != "default").then(|| chart.dir().join(format!("ci/{case}-values.yaml")));
    let case = Case {
        name: case.to_string(),
        values_file,
    };
    Trial {
        id: TrialId {
            suite: Suite::Lint,
            chart: "web".to_string(),
            case: case.name.clone(),
        },
        chart: Arc::new(Chart {
            name: "web".to_string(),
            dir: chart.dir().to_path_buf(),
            rel_dir: chart.rel_dir().to_path_buf(),
            cases: vec![case.clone()],
            settings,
            chart_file: crate::chartfile::ChartYaml::of(chart.dir()),
        }),
        case,
        skipped: None,
    }
}

async fn phases(trial: &Trial, ctx: &SuiteContext) -> Vec<PhaseRecord> {
    let mut recorder = PhaseRecorder::new();
    let inputs = TrialInputs::prepare(trial, ctx).expect("the test's values can be written");
    run(trial, &inputs, ctx, &mut recorder).await;
    recorder.finish().phases
}

fn summary(phases: &[PhaseRecord]) -> Vec<(String, String, usize)> {
    phases
        .iter()
        .map(|phase| {
            let status = match &phase.status {
                PhaseStatus::Passed => "passed".to_string(),
                PhaseStatus::Failed => "failed".to_string(),
                PhaseStatus::NotRun(reason) => format!("not run: {reason}"),
                PhaseStatus::Context => "context".to_string(),
            };
            (phase.name.clone(), status, phase.problems.len())
        })
        .collect()
}

fn row(name: &str, status: &str, problems: usize) -> (String, String, usize) {
    (name.to_string(), status.to_string(), problems)
}

#[tokio::test]
async fn reports_every_phase_of_a_chart_with_many_problems() {
    let chart = TestChart::good("web");
    chart.write(
        "Chart.yaml",
        "apiVersion: v2\nname: other\nversion: 1.0.0\ndescription: d\n\
         dependencies:\n- {name: redis, version: 17.x, repository: https://r}\n",
    );
    chart.write("ci/fast-values.yaml", "replicas: 1\nreplicas: 2\n");
    chart.write("values.schema.json", "{\"type\": \"object\"}");
    let mut config = config(chart.repo_root());
    config.additional_commands = vec![
        "test -d {{ .Path }}/templates".to_string(),
        "echo unittest failed >&2; exit 1".to_string(),
    ];
    let ctx = context(&chart, config);
    let trial = trial(
        &chart,
        "fast",
        Err("unknown key `skp`; did you mean `skip`?".to_string()),
    );

    let phases = phases(&trial, &ctx).await;

    assert_eq!(
        summary(&phases),
        [
            row("yaml", "failed", 1),
            // The case file is malformed (the `yaml` phase's report); the others are clean.
            row("yamllint", "passed", 0),
            row("chart-yaml", "failed", 1),
            row("dependencies", "failed", 1),
            row(
                "values-schema",
                "not run: charts/web/ci/fast-values.yaml could not be read; fix the problems above first",
                0
            ),
            row(
                "version-increment",
                "not run: check-version-increment is off",
                0
            ),
            row("helm-lint", "not run: fix the problems above first", 0),
            row("additional-commands", "failed", 1),
        ]
    );
    let problem =
        |name: &str| phases.iter().find(|p| p.name == name).unwrap().problems[0].to_string();
    assert!(problem("yaml").starts_with("charts/web/ci/fast-values.yaml:2: "));
    assert!(problem("chart-yaml").contains("name \"other\" does not match"));
    assert!(problem("dependencies").contains("no Chart.lock"));
    assert!(problem("additional-commands").contains("unittest failed"));
}

/// ct runs additional commands with the user's helm on PATH (`helm unittest ...`); the
/// run's helm, wherever it came from and whatever its file is called, is the `helm`
/// those lines find first.
#[tokio::test]
async fn additional_commands_find_the_runs_helm_first_on_path() {
    use std::os::unix::fs::PermissionsExt;
    let chart = TestChart::good("web");
    // The run's helm under another name, as `.tools/bin/helm4` is.
    let runs_helm = chart.repo_root().join("tools/helm-of-this-run");
    std::fs::create_dir_all(runs_helm.parent().unwrap()).unwrap();
    std::fs::write(&runs_helm, "#!/bin/sh\necho this-runs-helm\n").unwrap();
    std::fs::set_permissions(&runs_helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = config(chart.repo_root());
    config.additional_commands = vec!["test \"$(helm version)\" = this-runs-helm".to_string()];
    let mut ctx = context(&chart, config);
    Arc::make_mut(&mut ctx.tools).helm.path = runs_helm;
    let phases = phases(
        &trial(&chart, "default", Ok(ChartSettings::default())),
        &ctx,
    )
    .await;
    let commands = phases
        .iter()
        .find(|p| p.name == "additional-commands")
        .unwrap();
    assert_eq!(
        commands.status,
        PhaseStatus::Passed,
        "{:?}",
        commands.problems
    );
}

#[tokio::test]
async fn broken_chart_yaml_stops_the_checks_that_read_it() {
    let chart = TestChart::good("web");
    chart.write("Chart.yaml", "apiVersion: v2\nname: web\nname: web\n");
    let ctx = context(&chart, config(chart.repo_root()));
    let phases = phases(
        &trial(&chart, "default", Ok(ChartSettings::default())),
        &ctx,
    )
    .await;
    let reason = "not run: charts/web/Chart.yaml could not be read; fix the problems above first";
    assert_eq!(
        summary(&phases),
        [
            row("yaml", "failed", 1),
            row("yamllint", "passed", 0),
            row("chart-yaml", reason, 0),
            row("dependencies", reason, 0),
            row(
                "values-schema",
                "not run: the chart has no values.schema.json",
                0
            ),
            row(
                "version-increment",
                "not run: check-version-increment is off",
                0
            ),
            row("helm-lint", "not run: fix the problems above first", 0),
        ]
    );
}

#[tokio::test]
async fn switched_off_checks_say_why_and_the_rest_still_run() {
    let chart = TestChart::good("web");
    chart.write("values.yaml", "a: 1\na: 2\n");
    chart.write("values.schema.json", "{\"required\": [\"b\"]}");
    let mut config = config(chart.repo_root());
    config.validate_yaml = false;
    config.validate_chart_schema = false;
    let ctx = context(&chart, config);
    let phases = phases(
        &trial(&chart, "default", Ok(ChartSettings::default())),
        &ctx,
    )
    .await;
    let rows = summary(&phases);
    assert_eq!(rows[0], row("yaml", "not run: validate-yaml is off", 0));
    assert_eq!(rows[1], row("yamllint", "not run: validate-yaml is off", 0));
    assert_eq!(
        rows[2],
        row("chart-yaml", "not run: validate-chart-schema is off", 0)
    );
    assert_eq!(rows[3], row("dependencies", "passed", 0));
    // With the YAML check off, the schema check is where the broken values surface.
    assert_eq!(rows[4], row("values-schema", "failed", 1));
    assert!(
        phases[4].problems[0].message.contains("duplicate"),
        "{}",
        phases[4].problems[0]
    );
    assert_eq!(
        rows[6],
        row("helm-lint", "not run: fix the problems above first", 0)
    );
}

fn yamllint_phase(phases: &[PhaseRecord]) -> (&PhaseStatus, Vec<String>) {
    let phase = phases
        .iter()
        .find(|phase| phase.name == phase::YAMLLINT)
        .expect("a yamllint phase");
    (
        &phase.status,
        phase.problems.iter().map(ToString::to_string).collect(),
    )
}

#[tokio::test]
async fn yamllint_errors_fail_and_its_warnings_are_kept_beside_them() {
    let chart = TestChart::good("web");
    chart.write("values.yaml", "enabled: yes  \n");
    chart.write("ci/x-values.yaml", "on: 1\n");
    // Not this trial's case file, so not linted here (its own trial lints it).
    chart.write("ci/other-values.yaml", "a: 1   \n");
    let ctx = context(&chart, config(chart.repo_root()));
    let phases = phases(&trial(&chart, "x", Ok(ChartSettings::default())), &ctx).await;
    let (status, problems) = yamllint_phase(&phases);
    assert_eq!(status, &PhaseStatus::Failed);
    assert_eq!(
        problems,
        [
            "charts/web/values.yaml:1:10: [warning] truthy value should be one of [false, true] (truthy)",
            "charts/web/values.yaml:1:13: [error] trailing spaces (trailing-spaces)",
            "charts/web/ci/x-values.yaml:1:1: [warning] truthy value should be one of [false, true] (truthy)",
            "fix the yamllint errors above, or change their rules in a `lintconf.yaml` at the repository root (ct's default lintconf is in use)",
        ]
    );
}

#[tokio::test]
async fn yamllint_warnings_alone_pass_as_they_do_in_ct() {
    let chart = TestChart::good("web");
    chart.write("values.yaml", "enabled: yes\n");
    let ctx = context(&chart, config(chart.repo_root()));
    let phases = phases(
        &trial(&chart, "default", Ok(ChartSettings::default())),
        &ctx,
    )
    .await;
    let (status, problems) = yamllint_phase(&phases);
    assert_eq!(status, &PhaseStatus::Passed);
    assert_eq!(
        problems,
        [
            "charts/web/values.yaml:1:10: [warning] truthy value should be one of [false, true] (truthy)"
        ]
    );
}
