//! The `chart-yaml` check: the fields helm and chart-testing rely on are present and
//! well-formed, all reported together.

use std::path::Path;

use crate::chartfile::ChartFile;
use crate::kube_version;
use crate::problem::Problem;
use crate::yaml::YamlError;

/// Which optional rules apply (from the run configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChartYamlOptions {
    /// ct's `validate-maintainers`: every maintainer needs a name.
    pub validate_maintainers: bool,
}

/// Checks the chart's `Chart.yaml`, parsed once for the run (`chart_file`). `dir_name` is
/// the chart's directory name, which the chart's `name` must equal (helm packages and ct
/// look charts up by it).
pub fn check_chart_yaml(
    chart_file: &Result<ChartFile, YamlError>,
    chart_dir: &Path,
    rel_dir: &Path,
    dir_name: &str,
    options: ChartYamlOptions,
) -> Vec<Problem> {
    let shown = rel_dir.join("Chart.yaml");
    let chart = match chart_file {
        Ok(chart) => chart,
        Err(err) => {
            return vec![
                Problem::in_file(
                    shown,
                    format!(
                        "Chart.yaml cannot be read: {}; fix the file",
                        err.message.clone()
                    ),
                )
                .at_line(err.line),
            ];
        }
    };
    // Read only to point problems at their line; the fields come from `chart_file`.
    let text = crate::files::read_to_string(&chart_dir.join("Chart.yaml")).unwrap_or_default();
    let problem = |key: &str, message: String| {
        Problem::in_file(&shown, message).at_line(top_level_key_line(&text, key))
    };
    let mut problems = Vec::new();

    match present(&chart.api_version) {
        None => problems.push(problem(
            "apiVersion",
            "apiVersion is missing; add `apiVersion: v2`".to_string(),
        )),
        // helm 3 and 4 still read v1 charts (helm 2's format), and so does ct.
        Some("v1" | "v2") => {}
        Some(other) => problems.push(problem(
            "apiVersion",
            format!(
                "apiVersion is \"{other}\" but helm reads only \"v2\" (and the older \"v1\"); \
                 set `apiVersion: v2`"
            ),
        )),
    }

    match present(&chart.name) {
        None => problems.push(problem(
            "name",
            format!("name is missing; add `name: {dir_name}`"),
        )),
        Some(name) if name != dir_name => problems.push(problem(
            "name",
            format!(
                "name \"{name}\" does not match the chart directory \"{dir_name}\"; \
                 rename one so they agree"
            ),
        )),
        Some(_) => {}
    }

    match present(&chart.version) {
        None => problems.push(problem(
            "version",
            "version is missing; add a SemVer 2 version such as `version: 0.1.0`".to_string(),
        )),
        Some(version) => {
            if let Err(err) = semver::Version::parse(version) {
                problems.push(problem(
                    "version",
                    format!(
                        "version \"{version}\" is not valid SemVer 2 ({err}); \
                         use MAJOR.MINOR.PATCH, e.g. 1.0.0"
                    ),
                ));
            }
        }
    }

    if present(&chart.description).is_none() {
        problems.push(problem(
            "description",
            "description is missing; add a one-line `description:` (chart-testing requires it)"
                .to_string(),
        ));
    }

    if options.validate_maintainers {
        for (index, maintainer) in chart.maintainers.iter().enumerate() {
            if present(&maintainer.name).is_none() {
                problems.push(problem(
                    "maintainers",
                    format!(
                        "maintainers[{index}] has no name; add `name:` to it \
                         (validate-maintainers is on)"
                    ),
                ));
            }
        }
    }

    // helm treats a blank kubeVersion as unset.
    if let Some(constraint) = present(&chart.kube_version)
        && let Err(err) = kube_version::parse(constraint)
    {
        problems.push(problem(
            "kubeVersion",
            format!(
                "kubeVersion \"{constraint}\" is not a valid constraint: {err}; \
                 use helm's syntax, e.g. \">= 1.25.0-0\""
            ),
        ));
    }

    problems
}

/// A field's value when it is set to something other than blanks.
fn present(field: &Option<String>) -> Option<&str> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The 1-based line of a top-level `key:` in a YAML text, so problems point at the
/// field; `None` when the key is absent (the problem is then about the whole file).
pub(super) fn top_level_key_line(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index as u64 + 1)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::suites::lint::testing::{GOOD_CHART_YAML, TestChart};

    const CHECK_MAINTAINERS: ChartYamlOptions = ChartYamlOptions {
        validate_maintainers: true,
    };

    fn check(chart: &TestChart, options: ChartYamlOptions) -> Vec<Problem> {
        let chart_file = ChartFile::read(chart.dir());
        check_chart_yaml(&chart_file, chart.dir(), chart.rel_dir(), "web", options)
    }

    fn with_chart_yaml(text: &str) -> TestChart {
        let chart = TestChart::good("web");
        chart.write("Chart.yaml", text);
        chart
    }

    #[rstest]
    #[case::full(GOOD_CHART_YAML)]
    #[case::prerelease_version(&GOOD_CHART_YAML.replace("1.2.3", "2.0.0-rc.1+build.5"))]
    #[case::no_kube_version(&GOOD_CHART_YAML.replace("kubeVersion: \">= 1.25.0-0\"\n", ""))]
    #[case::range_kube_version(&GOOD_CHART_YAML.replace("\">= 1.25.0-0\"", "\">=1.22.0-0 <1.30.0\""))]
    #[case::blank_kube_version(&GOOD_CHART_YAML.replace("\">= 1.25.0-0\"", "\"\""))]
    #[case::no_maintainers("apiVersion: v2\nname: web\ndescription: d\nversion: 0.1.0\n")]
    #[case::library("apiVersion: v2\nname: web\ndescription: d\nversion: 0.1.0\ntype: library\n")]
    // helm 2's format, which helm 3 and 4 and ct still accept.
    #[case::api_v1(
        "apiVersion: v1\nname: web\ndescription: d\nversion: 0.1.0\nmaintainers: [{name: a}]\n"
    )]
    fn accepts_good_chart_yaml(#[case] text: &str) {
        let chart = with_chart_yaml(text);
        assert_eq!(check(&chart, CHECK_MAINTAINERS), vec![]);
    }

    #[rstest]
    #[case::api_v3(
        "apiVersion: v2",
        "apiVersion: v3",
        1,
        "apiVersion is \"v3\" but helm reads only \"v2\""
    )]
    #[case::api_missing("apiVersion: v2\n", "", 0, "apiVersion is missing")]
    #[case::name_mismatch(
        "name: web",
        "name: foo",
        2,
        "name \"foo\" does not match the chart directory \"web\"; rename one so they agree"
    )]
    #[case::name_missing("name: web\n", "", 0, "name is missing; add `name: web`")]
    #[case::name_blank("name: web", "name: \"  \"", 2, "name is missing")]
    #[case::version_two_parts(
        "version: 1.2.3",
        "version: \"1.2\"",
        4,
        "version \"1.2\" is not valid SemVer 2"
    )]
    #[case::version_v_prefix("version: 1.2.3", "version: v1.2.3", 4, "is not valid SemVer 2")]
    #[case::version_leading_zero("version: 1.2.3", "version: 01.2.3", 4, "is not valid SemVer 2")]
    #[case::version_missing("version: 1.2.3\n", "", 0, "version is missing")]
    #[case::description_missing(
        "description: A web application\n",
        "",
        0,
        "description is missing"
    )]
    #[case::description_empty(
        "description: A web application",
        "description: \"\"",
        3,
        "description is missing"
    )]
    #[case::maintainer_without_name(
        "  - name: Platform Team\n",
        "  - url: https://example.com\n",
        6,
        "maintainers[0] has no name"
    )]
    #[case::kube_version_garbage(
        "\">= 1.25.0-0\"",
        "\">= one.25\"",
        5,
        "kubeVersion \">= one.25\" is not a valid constraint"
    )]
    #[case::kube_version_dangling_operator("\">= 1.25.0-0\"", "\">=\"", 5, "has no version")]
    fn reports_each_broken_rule(
        #[case] from: &str,
        #[case] to: &str,
        #[case] line: u64,
        #[case] fragment: &str,
    ) {
        let text = GOOD_CHART_YAML.replacen(from, to, 1);
        assert_ne!(text, GOOD_CHART_YAML, "the case must change the chart");
        let chart = with_chart_yaml(&text);
        let problems = check(&chart, CHECK_MAINTAINERS);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let problem = &problems[0];
        assert!(problem.message.contains(fragment), "{problem}");
        assert_eq!(problem.file, Some(chart.rel_dir().join("Chart.yaml")));
        assert_eq!(problem.line, (line > 0).then_some(line), "{problem}");
    }

    #[test]
    fn maintainers_without_names_pass_when_validation_is_off() {
        let chart = with_chart_yaml(&GOOD_CHART_YAML.replace("- name: Platform Team", "- url: x"));
        assert_eq!(check(&chart, ChartYamlOptions::default()), vec![]);
        assert_eq!(check(&chart, CHECK_MAINTAINERS).len(), 1);
    }

    #[test]
    fn reports_all_problems_at_once() {
        let chart = with_chart_yaml(
            "apiVersion: v3\nname: foo\nversion: \"1.0\"\nkubeVersion: \"~> banana\"\n",
        );
        let messages: Vec<String> = check(&chart, CHECK_MAINTAINERS)
            .into_iter()
            .map(|p| p.message)
            .collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        for fragment in [
            "apiVersion is \"v3\"",
            "name \"foo\"",
            "version \"1.0\"",
            "description is missing",
            "kubeVersion \"~> banana\"",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(fragment)),
                "{fragment:?} missing from {messages:#?}"
            );
        }
    }

    #[test]
    fn an_unreadable_chart_yaml_is_one_problem_with_its_line() {
        let chart = with_chart_yaml("apiVersion: v2\nmaintainers: nobody\n");
        let problems = check(&chart, CHECK_MAINTAINERS);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].message.contains("cannot be read"),
            "{}",
            problems[0]
        );
        assert_eq!(problems[0].line, Some(2));
    }

    #[rstest]
    #[case::first("name: a\nversion: 1\n", "name", Some(1))]
    #[case::spaced_colon("name: a\nversion : 1\n", "version", Some(2))]
    #[case::nested_is_not_top_level("deps:\n  version: 1\n", "version", None)]
    #[case::prefix_is_not_key("versions: 1\n", "version", None)]
    fn finds_top_level_key_lines(#[case] text: &str, #[case] key: &str, #[case] line: Option<u64>) {
        assert_eq!(top_level_key_line(text, key), line);
    }
}
