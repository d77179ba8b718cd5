//! `chart-harness report annotations`: GitHub workflow commands (`::error file=…`) for
//! the problems of a report that name a chart file, so they show on the pull request's
//! diff. GitHub keeps at most 10 error annotations per step (and 50 per job), so the
//! files the pull request changed come first, and a final notice says how many were
//! left out.

use std::collections::BTreeMap;

use super::document::ReportDocument;
use crate::suites::PhaseStatus;

/// GitHub's limit of error annotations per step.
pub const PER_STEP: usize = 10;

/// One problem at a place in a file; the same problem in several trials (every case of
/// a chart) is one annotation, titled by the first. `same` is the message with the
/// trial's case name taken out, since messages name the case they were found in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Located {
    file: String,
    line: Option<u64>,
    column: Option<u64>,
    same: String,
}

/// The first trial's message, and every trial that found it.
type Found = (String, Vec<String>);

/// The workflow commands for `report`: at most `limit` errors, those in `changed`
/// files (paths relative to the repository root) first, then a notice when some
/// were left out.
pub fn workflow_commands(report: &ReportDocument, changed: &[String], limit: usize) -> Vec<String> {
    let mut found: BTreeMap<Located, Found> = BTreeMap::new();
    for trial in &report.trials {
        if !trial.outcome.status.is_failure() {
            continue;
        }
        for phase in &trial.outcome.phases {
            if phase.status != PhaseStatus::Failed {
                continue;
            }
            for problem in &phase.problems {
                // GitHub attaches annotations to files; a chart directory gets none.
                let Some(file) = problem.file.as_ref().filter(|file| !file.is_dir()) else {
                    continue;
                };
                // The case as a word: `ha` must not match inside `chart`.
                let case =
                    regex::Regex::new(&format!(r"\b{}\b", regex::escape(&trial.outcome.id.case)))
                        .expect("an escaped name is a pattern");
                found
                    .entry(Located {
                        file: file.display().to_string(),
                        line: problem.line,
                        column: problem.column,
                        same: case.replace_all(&problem.message, "\u{0}").into_owned(),
                    })
                    .or_insert_with(|| (problem.message.clone(), Vec::new()))
                    .1
                    .push(trial.outcome.id.to_string());
            }
        }
    }
    let (mut first, rest): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|(located, _)| changed.iter().any(|file| file == &located.file));
    first.extend(rest);
    let left_out = first.len().saturating_sub(limit);
    let mut lines: Vec<String> = first
        .iter()
        .take(limit)
        .map(|(located, (message, trials))| command(located, message, trials))
        .collect();
    if left_out > 0 {
        lines.push(format!(
            "::notice title=chart-harness::{}",
            escape_data(&format!(
                "{left_out} more problem(s) in chart files were not annotated: at most {limit} a step (GitHub shows {PER_STEP} error annotations per step); the step summary and report.json list them all"
            ))
        ));
    }
    lines
}

fn command(located: &Located, message: &str, trials: &[String]) -> String {
    let title = match trials {
        [one] => format!("chart-harness {one}"),
        [first, rest @ ..] => format!("chart-harness {first} (and {} more)", rest.len()),
        [] => "chart-harness".to_string(),
    };
    let mut properties = vec![format!("file={}", escape_property(&located.file))];
    if let Some(line) = located.line {
        properties.push(format!("line={line}"));
        if let Some(column) = located.column {
            properties.push(format!("col={column}"));
        }
    }
    properties.push(format!("title={}", escape_property(&title)));
    format!("::error {}::{}", properties.join(","), escape_data(message))
}

/// A workflow command's message: `%`, CR and LF encoded, as the runner decodes them.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as data, plus `:` and `,`, which would end it.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::percent("100% sure", "100%25 sure")]
    #[case::lines("one\r\ntwo", "one%0D%0Atwo")]
    #[case::colon_stays("a: b, c", "a: b, c")]
    fn data_is_escaped_as_the_runner_decodes_it(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(escape_data(text), expected);
    }

    #[rstest]
    #[case::colon_and_comma("charts/a,b:c.yaml", "charts/a%2Cb%3Ac.yaml")]
    #[case::all("50%\n:,", "50%25%0A%3A%2C")]
    fn properties_also_escape_colon_and_comma(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(escape_property(text), expected);
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn changed_files_come_first_and_a_notice_counts_the_rest() {
        let report = crate::report::github_summary::tests::failed_report(15);
        let changed = vec!["charts/chart-0012/Chart.yaml".to_string()];
        let lines = workflow_commands(&report, &changed, PER_STEP);
        assert_eq!(lines.len(), PER_STEP + 1);
        assert!(
            lines[0].starts_with(
                "::error file=charts/chart-0012/Chart.yaml,line=3,title=chart-harness lint%3A%3Achart-0012%3A%3Adefault::"
            ),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("chart-0000"), "{}", lines[1]);
        assert!(
            lines[PER_STEP].starts_with("::notice title=chart-harness::5 more problem(s)"),
            "{}",
            lines[PER_STEP]
        );
    }
}

#[cfg(test)]
mod same_problem_tests {
    use super::*;

    #[test]
    fn a_problem_every_case_finds_is_one_annotation() {
        let mut report = crate::report::github_summary::tests::failed_report(3);
        for (trial, case) in report.trials.iter_mut().zip(["default", "ha", "tls"]) {
            trial.outcome.id.chart = "web".into();
            trial.outcome.id.case = case.into();
            let problem = &mut trial.outcome.phases[0].problems[0];
            problem.file = Some("charts/web/templates/deployment.yaml".into());
            problem.message = format!("the pod sets `hostNetwork: true` [chart web, case {case}]");
        }
        let lines = workflow_commands(&report, &[], PER_STEP);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].contains("title=chart-harness lint%3A%3Aweb%3A%3Adefault (and 2 more)::"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("case default]"), "{}", lines[0]);
    }
}
