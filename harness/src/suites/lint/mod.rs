//! The lint suite: every static check of one chart × case, each a named, timed phase.
//!
//! Every check runs and reports all it finds, so one run shows everything wrong with
//! a chart (chart-testing stops at the first problem). A check is skipped, as
//! `NotRun` with the reason, only when it would re-report what an earlier phase
//! already found, for example when the file it reads is not well-formed YAML.
//!
//! Phase names are stable identifiers used in messages, reports and snapshots:
//! `chart-settings`, `yaml`, `yamllint`, `chart-yaml`, `dependencies`, `values-schema`,
//! `version-increment`, `helm-lint`, `additional-commands`.

mod chart_yaml;
mod commands;
mod dependencies;
mod helm_lint;
#[cfg(test)]
mod testing;
mod values_schema;
mod version_increment;
mod yaml_files;
pub mod yamllint;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use chart_yaml::{ChartYamlOptions, check_chart_yaml};
pub use commands::{run_additional_commands, substitute_path};
pub use dependencies::check_dependencies;
pub use helm_lint::{lint_case, lint_problems};
pub use values_schema::{CaseValues, check_values_schema, merge_values};
pub use version_increment::check_version_increment;
pub use yaml_files::{check_yaml_files, yaml_files};

use super::{PhaseRecorder, SuiteContext, TrialInputs, off_runtime};
use crate::plan::Trial;
use crate::problem::Problem;

/// Stable phase names.
pub mod phase {
    pub const YAML: &str = "yaml";
    pub const YAMLLINT: &str = "yamllint";
    pub const CHART_YAML: &str = "chart-yaml";
    pub const DEPENDENCIES: &str = "dependencies";
    pub const VALUES_SCHEMA: &str = "values-schema";
    pub const VERSION_INCREMENT: &str = "version-increment";
    pub const HELM_LINT: &str = "helm-lint";
    pub const ADDITIONAL_COMMANDS: &str = "additional-commands";
}

const FIX_ABOVE_FIRST: &str = "fix the problems above first";

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let chart = &trial.chart;
    let config = &ctx.config;
    // An invalid ci/harness.yaml is reported once for every suite by `run_trial`;
    // the checks go on with the defaults the inputs hold then.
    let settings = &inputs.settings;
    let timeout = inputs.timeout;
    let case_file = trial.case.values_file.as_deref();
    let shown = |file: &str| chart.rel_dir.join(file);

    // Files an earlier phase already reported as unreadable; later phases that read
    // them step aside instead of repeating the same problem.
    let mut unreadable: BTreeSet<PathBuf> = BTreeSet::new();

    let yaml_passed = if config.validate_yaml {
        let (dir, rel_dir) = (chart.dir.clone(), chart.rel_dir.clone());
        recorder
            .run(phase::YAML, async {
                let problems = off_runtime(move || check_yaml_files(&dir, &rel_dir)).await;
                unreadable.extend(problems.iter().filter_map(|p| p.file.clone()));
                problems
            })
            .await
    } else {
        recorder.not_run(phase::YAML, "validate-yaml is off");
        true
    };

    // yamllint's rules over the files ct lints, as ct does when `validate-yaml` is on.
    // Only errors fail (yamllint exits 0 on warnings); a file the `yaml` phase found
    // malformed is left to that phase's report.
    if !config.validate_yaml {
        recorder.not_run(phase::YAMLLINT, "validate-yaml is off");
    } else {
        let started = recorder.begin(phase::YAMLLINT);
        let files = yamllint::case_files(&chart.dir, case_file);
        let (dir, rel_dir, skip) = (chart.dir.clone(), chart.rel_dir.clone(), unreadable.clone());
        let yamllint_config = ctx.shared.yamllint.clone();
        let found = off_runtime(move || {
            yamllint::check_files(&dir, &rel_dir, &files, &skip, &yamllint_config)
        })
        .await;
        let mut problems = found.problems;
        if found.has_errors {
            problems.push(Problem::new(format!(
                "fix the yamllint errors above, or change their rules in {}",
                yamllint_source_hint(&ctx.shared.yamllint.source)
            )));
        }
        recorder.record_findings(
            phase::YAMLLINT,
            started.elapsed(),
            problems,
            found.has_errors,
        );
    }

    let chart_yaml_passed = if !config.validate_chart_schema {
        recorder.not_run(phase::CHART_YAML, "validate-chart-schema is off");
        true
    } else if unreadable.contains(&shown("Chart.yaml")) {
        recorder.not_run(phase::CHART_YAML, unreadable_reason(&shown("Chart.yaml")));
        false
    } else {
        let options = ChartYamlOptions {
            validate_maintainers: config.validate_maintainers,
        };
        let passed = recorder
            .run(phase::CHART_YAML, async {
                check_chart_yaml(
                    chart.chart_file.get(),
                    &chart.dir,
                    &chart.rel_dir,
                    &chart.name,
                    options,
                )
            })
            .await;
        if chart.chart_file.get().is_err() {
            unreadable.insert(shown("Chart.yaml"));
        }
        passed
    };

    if let Some(file) = ["Chart.yaml", "Chart.lock"]
        .into_iter()
        .find(|file| unreadable.contains(&shown(file)))
    {
        recorder.not_run(phase::DEPENDENCIES, unreadable_reason(&shown(file)));
    } else {
        recorder
            .run(phase::DEPENDENCIES, async {
                check_dependencies(chart.chart_file.get(), &chart.dir, &chart.rel_dir)
            })
            .await;
    }

    let case_files: Vec<PathBuf> = std::iter::once(shown("values.yaml"))
        .chain(case_file.map(|file| shown_path(&chart.dir, &chart.rel_dir, file)))
        .collect();
    let values_schema_passed = if let Some(file) =
        case_files.iter().find(|f| unreadable.contains(*f))
    {
        recorder.not_run(phase::VALUES_SCHEMA, unreadable_reason(file));
        false
    } else {
        let (dir, rel_dir) = (chart.dir.clone(), chart.rel_dir.clone());
        let (case_name, case_path, case_settings) = (
            trial.case.name.clone(),
            case_file.map(Path::to_path_buf),
            settings.clone(),
        );
        let started = recorder.begin(phase::VALUES_SCHEMA);
        let checked = off_runtime(move || {
            let case = CaseValues {
                case_name: &case_name,
                case_file: case_path.as_deref(),
                settings: &case_settings,
            };
            check_values_schema(&dir, &rel_dir, &case)
        })
        .await;
        match checked {
            Some(problems) => recorder.record(phase::VALUES_SCHEMA, started.elapsed(), problems),
            None => {
                recorder.not_run(phase::VALUES_SCHEMA, "the chart has no values.schema.json");
                true
            }
        }
    };

    if config.check_version_increment {
        recorder
            .run(phase::VERSION_INCREMENT, async {
                let changes = ctx
                    .shared
                    .changes
                    .get(&ctx.repo_root, config, &ctx.tools.git)
                    .await;
                check_version_increment(&ctx.repo_root, config, chart, &ctx.tools.git, changes)
                    .await
            })
            .await;
    } else {
        recorder.not_run(phase::VERSION_INCREMENT, "check-version-increment is off");
    }

    if yaml_passed && chart_yaml_passed && values_schema_passed {
        let started = recorder.begin(phase::HELM_LINT);
        let (problems, failed) = lint_case(&ctx.tools.helm, config, trial, inputs).await;
        recorder.record_findings(phase::HELM_LINT, started.elapsed(), problems, failed);
    } else {
        recorder.not_run(phase::HELM_LINT, FIX_ABOVE_FIRST);
    }

    if !config.additional_commands.is_empty() {
        let helm = &ctx.tools.helm;
        recorder
            .run(phase::ADDITIONAL_COMMANDS, async {
                let version = helm.version.to_string();
                match commands::helm_link_dir(&config.report_dir, &helm.path, &version) {
                    Ok(helm_dir) => {
                        run_additional_commands(
                            &config.additional_commands,
                            &ctx.repo_root,
                            &chart.rel_dir,
                            &helm_dir,
                            timeout,
                        )
                        .await
                    }
                    Err(error) => vec![Problem::new(format!(
                        "cannot put the run's helm on the additional commands' PATH under {}: {error}; check that the report directory is writable",
                        config.report_dir.join("bin").display()
                    ))],
                }
            })
            .await;
    }
}

/// Where to change a yamllint rule: the configuration file, or how to create one.
fn yamllint_source_hint(source: &str) -> String {
    if source == yamllint::CT_DEFAULT_SOURCE {
        format!(
            "a `{}` at the repository root (ct's default lintconf is in use)",
            crate::config::support_files::LINTCONF_FILE
        )
    } else {
        source.to_string()
    }
}

fn unreadable_reason(file: &Path) -> String {
    format!("{} could not be read; {FIX_ABOVE_FIRST}", file.display())
}

/// `path` relative to the repository root when it lies in the chart, else as given.
fn shown_path(chart_dir: &Path, rel_dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(chart_dir)
        .map(|inner| rel_dir.join(inner))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests;
