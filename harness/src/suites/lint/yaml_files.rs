//! The `yaml` check: the chart's own YAML files parse, with no duplicate keys.
//!
//! helm itself keeps the last of two duplicate keys without a word, so a value the
//! author set can silently vanish; that is why this check exists beside `helm lint`.

use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;

use crate::problem::Problem;
use crate::yaml;

/// The files the check reads, relative to the chart directory, in report order:
/// `Chart.yaml`, `values.yaml` and `Chart.lock` when present, then every `ci/*.yaml`
/// (case files and `harness.yaml`) sorted by name.
pub fn yaml_files(chart_dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("Chart.yaml")];
    for optional in ["values.yaml", "Chart.lock"] {
        if chart_dir.join(optional).exists() {
            files.push(PathBuf::from(optional));
        }
    }
    let mut ci_files: Vec<PathBuf> = std::fs::read_dir(chart_dir.join("ci"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| !kind.is_dir()))
        .map(|entry| PathBuf::from("ci").join(entry.file_name()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    ci_files.sort();
    files.extend(ci_files);
    files
}

/// Checks every file of [`yaml_files`]; one problem per broken file, located at the
/// line the parser stopped on. Paths in problems are `rel_dir`-prefixed, so they are
/// relative to the repository root.
pub fn check_yaml_files(chart_dir: &Path, rel_dir: &Path) -> Vec<Problem> {
    yaml_files(chart_dir)
        .into_iter()
        .filter_map(|file| check_yaml_file(chart_dir, rel_dir, &file))
        .collect()
}

fn check_yaml_file(chart_dir: &Path, rel_dir: &Path, file: &Path) -> Option<Problem> {
    let shown = rel_dir.join(file);
    let text = match crate::files::read_to_string(&chart_dir.join(file)) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Some(Problem::in_file(
                shown,
                "the file is missing; every chart needs a Chart.yaml",
            ));
        }
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
            return Some(Problem::in_file(shown, format!("cannot be read: {err}")));
        }
        Err(err) => {
            return Some(Problem::in_file(
                shown,
                format!("cannot read the file ({err}); check that it exists and is readable"),
            ));
        }
    };
    // Every stream is accepted, including empty values files and a leading `---`.
    let err = yaml::parse_multi::<IgnoredAny>(&text, file).err()?;
    if err.over_limit {
        // Well-formed perhaps, but too large to check: the message says which limit.
        return Some(Problem::in_file(shown, err.message).at_line(err.line));
    }
    let advice = if err.message.to_ascii_lowercase().contains("duplicate") {
        "remove or rename one of the duplicate keys (helm would silently keep only the last)"
    } else {
        "fix the YAML syntax"
    };
    Some(
        Problem::in_file(
            shown,
            format!("not well-formed YAML: {}; {advice}", err.message.clone()),
        )
        .at_line(err.line),
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::suites::lint::testing::{GOOD_CHART_YAML, TestChart};

    #[test]
    fn lists_chart_files_then_sorted_ci_files() {
        let chart = TestChart::good("web");
        chart.write("Chart.lock", "dependencies: []\n");
        chart.write("ci/b-values.yaml", "a: 1\n");
        chart.write("ci/a-values.yml", "a: 1\n");
        chart.write("ci/harness.yaml", "skip: []\n");
        chart.write("ci/notes.txt", "not yaml: [\n");
        chart.write("ci/__snapshots__/web__default.snap", "x");
        let files: Vec<String> = yaml_files(chart.dir())
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "Chart.yaml",
                "values.yaml",
                "Chart.lock",
                "ci/a-values.yml",
                "ci/b-values.yaml",
                "ci/harness.yaml"
            ]
        );
    }

    #[rstest]
    #[case::empty_values("values.yaml", "")]
    #[case::comment_only_case("ci/small-values.yaml", "# nothing to override\n")]
    #[case::leading_document_marker("values.yaml", "---\nreplicas: 1\n")]
    #[case::legacy_octal("values.yaml", "mode: 0644\n")]
    #[case::anchors("values.yaml", "base: &b {a: 1}\nother: *b\n")]
    fn accepts_well_formed_files(#[case] file: &str, #[case] text: &str) {
        let chart = TestChart::good("web");
        chart.write(file, text);
        assert_eq!(check_yaml_files(chart.dir(), chart.rel_dir()), vec![]);
    }

    #[rstest]
    #[case::duplicate_in_values("values.yaml", "a: 1\nb: 2\na: 3\n", 3, "duplicate")]
    #[case::duplicate_nested("ci/x-values.yaml", "image:\n  tag: a\n  tag: b\n", 3, "duplicate")]
    #[case::unclosed_flow("values.yaml", "list: [a, b\nother: 1\n", 2, "fix the YAML syntax")]
    #[case::bad_indent(
        "Chart.lock",
        "dependencies:\n- name: a\n  version: 1\n bad: x\n",
        4,
        ""
    )]
    #[case::duplicate_in_settings("ci/harness.yaml", "skip: []\nskip: []\n", 2, "duplicate")]
    fn reports_broken_files_with_their_line(
        #[case] file: &str,
        #[case] text: &str,
        #[case] line: u64,
        #[case] fragment: &str,
    ) {
        let chart = TestChart::good("web");
        chart.write(file, text);
        let problems = check_yaml_files(chart.dir(), chart.rel_dir());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let problem = &problems[0];
        assert_eq!(problem.file, Some(chart.rel_dir().join(file)));
        assert_eq!(problem.line, Some(line), "{problem}");
        assert!(problem.message.contains(fragment), "{problem}");
        assert!(
            problem.message.starts_with("not well-formed YAML"),
            "{problem}"
        );
    }

    #[test]
    fn reports_every_broken_file_at_once() {
        let chart = TestChart::good("web");
        chart.write("Chart.yaml", &format!("{GOOD_CHART_YAML}name: again\n"));
        chart.write("values.yaml", "a: [\n");
        chart.write("ci/one-values.yaml", "x: 1\nx: 2\n");
        let problems = check_yaml_files(chart.dir(), chart.rel_dir());
        let files: Vec<_> = problems.iter().map(|p| p.file.clone().unwrap()).collect();
        assert_eq!(
            files,
            [
                chart.rel_dir().join("Chart.yaml"),
                chart.rel_dir().join("values.yaml"),
                chart.rel_dir().join("ci/one-values.yaml"),
            ]
        );
    }

    #[test]
    fn a_missing_chart_yaml_is_a_problem() {
        let chart = TestChart::good("web");
        std::fs::remove_file(chart.dir().join("Chart.yaml")).unwrap();
        let problems = check_yaml_files(chart.dir(), chart.rel_dir());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("missing"), "{}", problems[0]);
    }
}
