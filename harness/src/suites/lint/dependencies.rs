//! The `dependencies` check: Chart.lock records exactly the dependencies Chart.yaml
//! declares. A stale lock makes `helm dependency build` fetch something other than
//! what the chart asks for, or fail far from the cause.

use std::path::Path;

use crate::chartfile::{ChartFile, ChartLock, Dependency, LockedDependency};
use crate::kube_version;
use crate::problem::Problem;
use crate::yaml::YamlError;

/// Compares the dependencies of the chart's `Chart.yaml`, parsed once for the run
/// (`chart_file`), with `<chart_dir>/Chart.lock`.
pub fn check_dependencies(
    chart_file: &Result<ChartFile, YamlError>,
    chart_dir: &Path,
    rel_dir: &Path,
) -> Vec<Problem> {
    let chart_yaml = rel_dir.join("Chart.yaml");
    let chart_lock = rel_dir.join("Chart.lock");
    let update = format!(
        "run `helm dependency update {}` and commit Chart.lock",
        rel_dir.display()
    );
    let chart = match chart_file {
        Ok(chart) => chart,
        Err(err) => {
            return vec![
                Problem::in_file(
                    chart_yaml,
                    format!(
                        "cannot read the dependencies: {}; fix Chart.yaml",
                        err.message.clone()
                    ),
                )
                .at_line(err.line),
            ];
        }
    };
    let lock = match ChartLock::read(chart_dir) {
        Ok(lock) => lock,
        Err(err) => {
            return vec![
                Problem::in_file(
                    chart_lock,
                    format!("cannot read Chart.lock: {}; {update}", err.message.clone()),
                )
                .at_line(err.line),
            ];
        }
    };
    let Some(lock) = lock else {
        // A dependency without a repository is vendored in `charts/`: helm needs no
        // lock for it (prometheus-community's prometheus-operator-crds is one).
        let locked: Vec<&str> = chart
            .dependencies
            .iter()
            .filter(|d| {
                d.repository
                    .as_deref()
                    .is_some_and(|r| !r.trim().is_empty())
            })
            .map(|d| d.name.as_str())
            .collect();
        if locked.is_empty() {
            return Vec::new();
        }
        let names = locked;
        return vec![Problem::in_file(
            chart_yaml,
            format!(
                "Chart.yaml declares dependencies ({}) but there is no Chart.lock; {update}",
                names.join(", ")
            ),
        )];
    };

    let mut problems = Vec::new();
    let mut unmatched: Vec<Option<&LockedDependency>> =
        lock.dependencies.iter().map(Some).collect();
    for dependency in &chart.dependencies {
        match take_locked(&mut unmatched, dependency) {
            None => problems.push(Problem::in_file(
                &chart_lock,
                format!(
                    "dependency \"{}\" from Chart.yaml is not in Chart.lock; {update}",
                    dependency.name
                ),
            )),
            Some(locked) => problems.extend(
                compare(dependency, locked, &update)
                    .map(|message| Problem::in_file(&chart_lock, message)),
            ),
        }
    }
    for extra in unmatched.into_iter().flatten() {
        problems.push(Problem::in_file(
            &chart_lock,
            format!(
                "Chart.lock locks \"{}\" {} which Chart.yaml does not declare; {update}",
                extra.name, extra.version
            ),
        ));
    }
    problems
}

/// Takes the lock entry for `dependency`: the first unused entry with the same name
/// and repository, else the first with the same name (whose repository then differs).
/// A chart may depend on one chart twice under different aliases; the lock then
/// holds one entry per dependency.
fn take_locked<'a>(
    unmatched: &mut [Option<&'a LockedDependency>],
    dependency: &Dependency,
) -> Option<&'a LockedDependency> {
    let same_name = |entry: &&LockedDependency| entry.name == dependency.name;
    let position = unmatched
        .iter()
        .position(|entry| {
            entry.is_some_and(|entry| {
                same_name(&entry)
                    && same_repository(
                        entry.repository.as_deref(),
                        dependency.repository.as_deref(),
                    )
            })
        })
        .or_else(|| {
            unmatched
                .iter()
                .position(|entry| entry.is_some_and(|e| same_name(&e)))
        })?;
    unmatched[position].take()
}

fn same_repository(locked: Option<&str>, declared: Option<&str>) -> bool {
    let normalize =
        |repository: Option<&str>| repository.unwrap_or("").trim_end_matches('/').to_string();
    normalize(locked) == normalize(declared)
}

/// What disagrees between a declared dependency and its lock entry.
fn compare<'a>(
    dependency: &'a Dependency,
    locked: &'a LockedDependency,
    update: &'a str,
) -> impl Iterator<Item = String> + 'a {
    let name = &dependency.name;
    let repository = (!same_repository(
        locked.repository.as_deref(),
        dependency.repository.as_deref(),
    ))
    .then(|| {
        format!(
            "dependency \"{name}\" comes from \"{}\" in Chart.yaml but from \"{}\" in Chart.lock; {update}",
            dependency.repository.as_deref().unwrap_or(""),
            locked.repository.as_deref().unwrap_or("")
        )
    });
    let version = dependency
        .version
        .as_deref()
        .and_then(|constraint| version_problem(name, constraint, &locked.version, update));
    repository.into_iter().chain(version)
}

fn version_problem(name: &str, constraint: &str, locked: &str, update: &str) -> Option<String> {
    let parsed = match kube_version::parse(constraint) {
        Ok(parsed) => parsed,
        Err(err) => {
            return Some(format!(
                "dependency \"{name}\" has version \"{constraint}\" in Chart.yaml, which is not a valid constraint: {err}; \
                 use helm's syntax, e.g. \"~1.2.0\""
            ));
        }
    };
    match kube_version::parse_version(locked) {
        Err(err) => Some(format!(
            "dependency \"{name}\" is locked at \"{locked}\", which is not a version: {err}; {update}"
        )),
        Ok(version) if !parsed.matches_chart_version(&version) => Some(format!(
            "dependency \"{name}\" is locked at {locked}, which does not satisfy \"{constraint}\" from Chart.yaml; {update}"
        )),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::suites::lint::testing::{GOOD_CHART_YAML, TestChart};

    const DEPENDENCIES: &str = "\
dependencies:
  - name: common
    version: ~1.2.0
    repository: file://../common
  - name: redis
    version: \">= 17.0.0\"
    repository: https://charts.example.com/
    alias: cache
";

    const LOCK: &str = "\
dependencies:
- name: common
  repository: file://../common
  version: 1.2.7
- name: redis
  repository: https://charts.example.com
  version: 17.3.1
digest: sha256:0000
generated: \"2024-01-01T00:00:00Z\"
";

    fn chart(dependencies: &str, lock: Option<&str>) -> TestChart {
        let chart = TestChart::good("web");
        chart.write("Chart.yaml", &format!("{GOOD_CHART_YAML}{dependencies}"));
        if let Some(lock) = lock {
            chart.write("Chart.lock", lock);
        }
        chart
    }

    fn check(chart: &TestChart) -> Vec<Problem> {
        check_dependencies(&ChartFile::read(chart.dir()), chart.dir(), chart.rel_dir())
    }

    fn messages(chart: &TestChart) -> Vec<String> {
        check(chart)
            .into_iter()
            .map(|problem| problem.message)
            .collect()
    }

    #[rstest]
    #[case::no_dependencies_no_lock("", None)]
    #[case::vendored_without_repository_needs_no_lock(
        "dependencies:\n- {name: crds, version: 0.0.0}\n",
        None
    )]
    #[case::in_sync(DEPENDENCIES, Some(LOCK))]
    #[case::same_chart_twice(
        "dependencies:\n- {name: redis, version: 17.x, repository: https://r, alias: a}\n- {name: redis, version: 17.x, repository: https://r, alias: b}\n",
        Some(
            "dependencies:\n- {name: redis, version: 17.1.0, repository: https://r}\n- {name: redis, version: 17.2.0, repository: https://r}\n"
        )
    )]
    #[case::prerelease_allowed_by_constraint(
        "dependencies:\n- {name: a, version: \">=1.0.0-0\", repository: https://r}\n",
        Some("dependencies:\n- {name: a, version: 1.1.0-beta.1, repository: https://r}\n")
    )]
    fn accepts_dependencies_in_sync(#[case] dependencies: &str, #[case] lock: Option<&str>) {
        assert_eq!(messages(&chart(dependencies, lock)), Vec::<String>::new());
    }

    #[rstest]
    #[case::no_lock(
        DEPENDENCIES,
        None,
        "declares dependencies (common, redis) but there is no Chart.lock; run `helm dependency update charts/web`"
    )]
    #[case::missing_entry(
        DEPENDENCIES,
        Some(LOCK.replace("- name: common\n  repository: file://../common\n  version: 1.2.7\n", "")),
        "dependency \"common\" from Chart.yaml is not in Chart.lock"
    )]
    #[case::extra_entry(
        &DEPENDENCIES[..DEPENDENCIES.find("  - name: redis").unwrap()],
        Some(LOCK.to_string()),
        "Chart.lock locks \"redis\" 17.3.1 which Chart.yaml does not declare"
    )]
    #[case::other_repository(
        DEPENDENCIES,
        Some(LOCK.replace("file://../common", "file://../old-common")),
        "dependency \"common\" comes from \"file://../common\" in Chart.yaml but from \"file://../old-common\" in Chart.lock"
    )]
    #[case::version_outside_constraint(
        DEPENDENCIES,
        Some(LOCK.replace("1.2.7", "1.3.0")),
        "dependency \"common\" is locked at 1.3.0, which does not satisfy \"~1.2.0\""
    )]
    #[case::invalid_constraint(
        &DEPENDENCIES.replace("~1.2.0", "one"),
        Some(LOCK.to_string()),
        "has version \"one\" in Chart.yaml, which is not a valid constraint"
    )]
    #[case::invalid_locked_version(
        DEPENDENCIES,
        Some(LOCK.replace("1.2.7", "latest")),
        "is locked at \"latest\", which is not a version"
    )]
    fn reports_a_lock_out_of_sync(
        #[case] dependencies: &str,
        #[case] lock: Option<String>,
        #[case] expected: &str,
    ) {
        let chart = chart(dependencies, lock.as_deref());
        let problems = check(&chart);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].message.contains(expected), "{}", problems[0]);
        assert!(problems[0].message.contains("helm"), "{}", problems[0]);
    }

    #[test]
    fn reports_every_disagreement_at_once() {
        let lock = "\
dependencies:
- name: common
  repository: file://../common
  version: 2.0.0
- name: redis
  repository: https://elsewhere.example.com
  version: 17.3.1
- name: stray
  repository: https://r
  version: 0.1.0
";
        let found = messages(&chart(DEPENDENCIES, Some(lock)));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("\"common\" is locked at 2.0.0"),
            "{found:#?}"
        );
        assert!(found[1].contains("\"redis\" comes from"), "{found:#?}");
        assert!(found[2].contains("\"stray\""), "{found:#?}");
    }

    #[test]
    fn problems_name_chart_lock() {
        let chart = chart(DEPENDENCIES, Some(&LOCK.replace("1.2.7", "1.3.0")));
        let problems = check(&chart);
        assert_eq!(problems[0].file, Some(chart.rel_dir().join("Chart.lock")));
    }
}
