//! Finds charts under the configured chart directories and their test cases.
//!
//! Pure: it reads files, never runs helm or git, so listing trials stays fast; a chart's
//! `Chart.yaml` is parsed only when a trial first needs it.
//!
//! Unlike ct, which only looks at direct children of each chart directory, charts are
//! found at any depth. The walk does not descend into a chart's `charts/` (vendored
//! subcharts belong to their parent), `templates/` or `ci/`, nor into hidden
//! directories, the report directory or the repository's cargo `target/`, which may
//! hold copies of charts.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::chartfile::{ChartFile, ChartYaml};
use crate::config::{ChartSettings, HarnessConfig, load_chart_settings, normalize};

/// One test case of a chart: a `ci/*-values.yaml` file, or `default` when there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    /// Absolute path of the case's values file; `None` for the implicit `default` case.
    pub values_file: Option<PathBuf>,
}

/// A chart found on disk.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The chart's directory name, which is also its trial name.
    pub name: String,
    /// Absolute path of the chart directory.
    pub dir: PathBuf,
    /// The chart directory relative to the repository root, used in messages.
    pub rel_dir: PathBuf,
    pub cases: Vec<Case>,
    /// `ci/harness.yaml`, or the message that explains why it is invalid. An invalid
    /// file fails this chart's trials instead of the whole run.
    pub settings: Result<ChartSettings, String>,
    /// `Chart.yaml`, parsed once for the whole run when first asked for, or why it
    /// cannot be: a broken file is the lint suite's `chart-yaml` problem, not a reason
    /// to stop the run.
    pub chart_file: ChartYaml,
}

impl Chart {
    /// A library chart renders and installs nothing on its own.
    pub fn is_library(&self) -> bool {
        self.chart_file
            .get()
            .as_ref()
            .is_ok_and(ChartFile::is_library)
    }
}

/// Subdirectories of a chart that never hold charts of their own to test.
pub const CHART_OWN_DIRS: [&str; 3] = ["charts", "templates", "ci"];

/// The suffix that makes a `ci/` file a test case, as in ct.
const CASE_SUFFIX: &str = "-values.yaml";

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "chart directory `{}` does not exist; it comes from {origin}: create the directory or fix the setting",
        dir.display()
    )]
    MissingChartDir { dir: PathBuf, origin: String },
    #[error(
        "symlink loop under the chart directories: `{}` leads back to `{}`; remove the link or point chart-dirs elsewhere",
        path.display(),
        ancestor.display()
    )]
    SymlinkLoop { path: PathBuf, ancestor: PathBuf },
    #[error("cannot read `{}` while looking for charts: {source}; fix its permissions or exclude it from chart-dirs", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "two charts are named `{name}`: `{}` and `{}`; trials are named after the chart directory, so rename one or list one's path in excluded-charts",
        first.display(),
        second.display()
    )]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// Discovers every chart under `config.chart_dirs`, sorted by name. What is skipped with a
/// reason (a dangling symlink outside any chart) goes to `warnings`.
pub fn discover(
    config: &HarnessConfig,
    repo_root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Chart>, DiscoveryError> {
    let skipped_dirs = [
        normalize(&config.report_dir),
        normalize(&repo_root.join("target")),
    ];
    let mut chart_dirs: Vec<PathBuf> = Vec::new();
    let mut seen = HashSet::new();
    for root in &config.chart_dirs {
        if !root.is_dir() {
            return Err(DiscoveryError::MissingChartDir {
                dir: rel(root, repo_root),
                origin: config.describe_key("chart-dirs"),
            });
        }
        for dir in find_chart_dirs(root, &skipped_dirs, warnings)? {
            if seen.insert(dir.clone()) {
                chart_dirs.push(dir);
            }
        }
    }

    let mut charts: BTreeMap<String, Chart> = BTreeMap::new();
    for dir in chart_dirs {
        let rel_dir = rel(&dir, repo_root);
        let name = chart_name(&dir);
        if is_excluded(config, &name, &rel_dir) {
            continue;
        }
        if let Some(existing) = charts.get(&name) {
            let (first, second) = ordered(existing.rel_dir.clone(), rel_dir);
            return Err(DiscoveryError::DuplicateName {
                name,
                first,
                second,
            });
        }
        let cases = find_cases(&dir, config.values_files.as_deref())?;
        let settings = load_chart_settings(&dir, repo_root);
        let chart_file = ChartYaml::of(&dir);
        charts.insert(
            name.clone(),
            Chart {
                name,
                dir,
                rel_dir,
                cases,
                chart_file,
                settings,
            },
        );
    }
    Ok(charts.into_values().collect())
}

/// Every directory with a `Chart.yaml` under `root` (including `root` itself).
fn find_chart_dirs(
    root: &Path,
    skipped: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Result<Vec<PathBuf>, DiscoveryError> {
    let mut found = Vec::new();
    let mut walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            // A dangling symlink is no chart and holds none: say so and go on. (Inside a
            // chart, its own directories are not walked; helm reports it there.)
            Err(error) if dangling_symlink(&error) => {
                let path = error.path().map(Path::to_path_buf).unwrap_or_default();
                let target = std::fs::read_link(&path)
                    .map(|target| target.display().to_string())
                    .unwrap_or_default();
                warnings.push(format!(
                    "ignored `{}`: a symlink to `{target}`, which does not exist",
                    path.display()
                ));
                continue;
            }
            Err(error) => return Err(walk_error(error)),
        };
        if !entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        if entry.depth() > 0 {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let in_chart_own_dir = CHART_OWN_DIRS.iter().any(|d| entry.file_name() == *d)
                && path
                    .parent()
                    .is_some_and(|p| p.join("Chart.yaml").is_file());
            if hidden || in_chart_own_dir || skipped.iter().any(|s| normalize(path) == *s) {
                walker.skip_current_dir();
                continue;
            }
        }
        if path.join("Chart.yaml").is_file() {
            found.push(normalize(path));
        }
    }
    Ok(found)
}

fn dangling_symlink(error: &walkdir::Error) -> bool {
    error.io_error().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound)
        && error
            .path()
            .and_then(|path| std::fs::symlink_metadata(path).ok())
            .is_some_and(|meta| meta.file_type().is_symlink())
}

fn walk_error(err: walkdir::Error) -> DiscoveryError {
    if let Some(ancestor) = err.loop_ancestor() {
        return DiscoveryError::SymlinkLoop {
            path: err.path().map(Path::to_path_buf).unwrap_or_default(),
            ancestor: ancestor.to_path_buf(),
        };
    }
    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
    let source = err
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("unreadable directory"));
    DiscoveryError::Unreadable { path, source }
}

/// The chart's cases, sorted by name: the files at its root matching `values_files`
/// (the `values-files` glob) when it is set, else ct's `ci/*-values.yaml`; one `default`
/// case when there are none.
pub(crate) fn find_cases(
    chart_dir: &Path,
    values_files: Option<&str>,
) -> Result<Vec<Case>, DiscoveryError> {
    let files = match values_files {
        None => CaseFiles::Ci,
        Some(pattern) => CaseFiles::Glob {
            matcher: globset::Glob::new(pattern)
                .expect("the config checked the glob")
                .compile_matcher(),
            pattern,
        },
    };
    let dir = files.dir(chart_dir);
    let mut cases = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|source| DiscoveryError::Unreadable {
                    path: dir.clone(),
                    source,
                })?;
                let file_name = entry.file_name();
                let Some(name) = file_name.to_str().and_then(|file| files.case_name(file)) else {
                    continue;
                };
                // `ci/-values.yaml` would make a trial name with an empty case. A FIFO
                // or other special file stays a case, which then fails naming it.
                if name.is_empty() || entry.path().is_dir() {
                    continue;
                }
                cases.push(Case {
                    name,
                    values_file: Some(entry.path()),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(DiscoveryError::Unreadable { path: dir, source }),
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    if cases.is_empty() {
        cases.push(Case {
            name: "default".to_string(),
            values_file: None,
        });
    }
    Ok(cases)
}

/// Which files of a chart are its cases.
enum CaseFiles<'a> {
    /// ct's `ci/*-values.yaml`.
    Ci,
    /// Files at the chart's root matching the `values-files` glob.
    Glob {
        matcher: globset::GlobMatcher,
        pattern: &'a str,
    },
}

impl CaseFiles<'_> {
    fn dir(&self, chart_dir: &Path) -> PathBuf {
        match self {
            CaseFiles::Ci => chart_dir.join("ci"),
            CaseFiles::Glob { .. } => chart_dir.to_path_buf(),
        }
    }

    /// The case `file` (a name in [`CaseFiles::dir`]) is, if it is one.
    fn case_name(&self, file: &str) -> Option<String> {
        match self {
            CaseFiles::Ci => file.strip_suffix(CASE_SUFFIX).map(str::to_string),
            // The chart's own files are never a scenario, whatever the glob.
            CaseFiles::Glob { matcher, pattern } => (matcher.is_match(file)
                && !matches!(file, "values.yaml" | "Chart.yaml"))
            .then(|| glob_case_name(pattern, file)),
        }
    }
}

/// The case a file matched by the `values-files` glob is: the file name without the
/// glob's literal text before its first `*` and after its last (`values-ha.yaml` under
/// `values-*.yaml` is `ha`), or its stem when the glob has no `*`; a YAML extension
/// left over (`values-*`) is dropped too, since trial names should not carry it.
fn glob_case_name(pattern: &str, file: &str) -> String {
    let stripped = pattern.find('*').and_then(|first| {
        let last = pattern.rfind('*').expect("there is a first `*`");
        file.strip_prefix(&pattern[..first])?
            .strip_suffix(&pattern[last + 1..])
    });
    let stripped = stripped.map(|name| {
        name.strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"))
            .unwrap_or(name)
    });
    match stripped {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => Path::new(file).file_stem().map_or_else(
            || file.to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        ),
    }
}

fn chart_name(dir: &Path) -> String {
    dir.file_name()
        .unwrap_or_else(|| OsStr::new("chart"))
        .to_string_lossy()
        .into_owned()
}

/// ct excludes by directory name; a path relative to the repository root also works,
/// which is how one of two same-named charts can be excluded.
fn is_excluded(config: &HarnessConfig, name: &str, rel_dir: &Path) -> bool {
    config.excluded_charts.iter().any(|excluded| {
        let excluded = excluded.trim_end_matches('/');
        excluded == name || normalize(Path::new(excluded)) == rel_dir
    })
}

fn rel(path: &Path, repo_root: &Path) -> PathBuf {
    match normalize(path).strip_prefix(normalize(repo_root)) {
        Ok(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Ok(p) => p.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

fn ordered(a: PathBuf, b: PathBuf) -> (PathBuf, PathBuf) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use rstest::rstest;

    use super::*;

    struct Repo {
        dir: tempfile::TempDir,
    }

    impl Repo {
        fn new() -> Repo {
            Repo {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, rel: &str, text: &str) -> &Repo {
            let path = self.root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn chart(&self, rel: &str) -> &Repo {
            let name = Path::new(rel).file_name().unwrap().to_string_lossy();
            self.write(
                &format!("{rel}/Chart.yaml"),
                &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
            )
        }

        fn config(&self) -> HarnessConfig {
            HarnessConfig::defaults(self.root())
        }

        fn discover(&self, config: &HarnessConfig) -> Result<Vec<Chart>, DiscoveryError> {
            discover(config, self.root(), &mut Vec::new())
        }
    }

    fn names(charts: &[Chart]) -> Vec<&str> {
        charts.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn nested_charts_are_found_but_not_subcharts_templates_or_ci() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .chart("charts/team-a/api")
            .chart("charts/platform")
            .chart("charts/platform/addons/metrics")
            .chart("charts/platform/charts/vendored")
            .chart("charts/platform/templates/weird")
            .chart("charts/platform/ci/fake")
            .chart("charts/.hidden/secret")
            .write("charts/notes/README.md", "not a chart\n");
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(names(&charts), vec!["api", "metrics", "platform", "web"]);
        let metrics = &charts[1];
        assert_eq!(
            metrics.rel_dir,
            PathBuf::from("charts/platform/addons/metrics")
        );
        assert_eq!(
            metrics.dir,
            repo.root().join("charts/platform/addons/metrics")
        );
    }

    #[rstest]
    #[case("legacy")]
    #[case("charts/old/legacy")]
    #[case("charts/old/legacy/")]
    fn excluded_charts_are_left_out_by_name_or_path(#[case] excluded: &str) {
        let repo = Repo::new();
        repo.chart("charts/web").chart("charts/old/legacy");
        let mut config = repo.config();
        config.excluded_charts = vec![excluded.to_string()];
        assert_eq!(names(&repo.discover(&config).unwrap()), vec!["web"]);
    }

    #[test]
    fn cases_are_ci_values_files_sorted_by_name() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .write("charts/web/ci/tls-values.yaml", "tls: true\n")
            .write("charts/web/ci/ha-values.yaml", "replicas: 3\n")
            .write("charts/web/ci/harness.yaml", "timeout: 2m\n")
            .write("charts/web/ci/notes.yaml", "x: 1\n")
            .write("charts/web/ci/-values.yaml", "x: 1\n");
        let charts = repo.discover(&repo.config()).unwrap();
        let cases: Vec<(&str, Option<PathBuf>)> = charts[0]
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.values_file.clone()))
            .collect();
        let ci = repo.root().join("charts/web/ci");
        assert_eq!(
            cases,
            vec![
                ("ha", Some(ci.join("ha-values.yaml"))),
                ("tls", Some(ci.join("tls-values.yaml"))),
            ]
        );
        let settings = charts[0].settings.as_ref().unwrap();
        assert_eq!(settings.timeout, Some(std::time::Duration::from_secs(120)));
    }

    #[rstest]
    #[case("values-*.yaml", &["ha", "small"])]
    #[case("values-*", &["ha", "small"])]
    #[case("*.yaml", &["values-ha", "values-small"])]
    #[case("values-ha.yaml", &["values-ha"])]
    fn values_files_glob_makes_root_files_the_cases(#[case] glob: &str, #[case] expected: &[&str]) {
        let repo = Repo::new();
        repo.chart("charts/web")
            .write("charts/web/values.yaml", "replicas: 1\n")
            .write("charts/web/values-ha.yaml", "replicas: 3\n")
            .write("charts/web/values-small.yaml", "replicas: 1\n")
            // ct's default is replaced, not added to.
            .write("charts/web/ci/tls-values.yaml", "tls: true\n");
        let mut config = repo.config();
        config.values_files = Some(glob.to_string());
        let charts = repo.discover(&config).unwrap();
        let cases: Vec<&str> = charts[0].cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(cases, expected);
        let file = charts[0].cases[0].values_file.as_ref().unwrap();
        assert_eq!(file.parent().unwrap(), repo.root().join("charts/web"));
    }

    #[test]
    fn a_values_files_glob_matching_nothing_gives_the_default_case() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .write("charts/web/ci/tls-values.yaml", "tls: true\n");
        let mut config = repo.config();
        config.values_files = Some("values-*.yaml".into());
        let charts = repo.discover(&config).unwrap();
        assert_eq!(charts[0].cases.len(), 1);
        assert_eq!(charts[0].cases[0].name, "default");
        assert_eq!(charts[0].cases[0].values_file, None);
    }

    #[test]
    fn a_chart_without_cases_gets_the_default_case() {
        let repo = Repo::new();
        repo.chart("charts/web");
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(
            charts[0].cases,
            vec![Case {
                name: "default".into(),
                values_file: None
            }]
        );
        assert_eq!(charts[0].settings, Ok(ChartSettings::default()));
    }

    #[test]
    fn an_invalid_harness_yaml_fails_only_that_chart() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .chart("charts/api")
            .write("charts/web/ci/harness.yaml", "skipp: [lint]\n");
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(names(&charts), vec!["api", "web"]);
        assert!(charts[0].settings.is_ok());
        let err = charts[1].settings.as_ref().unwrap_err();
        assert!(
            err.contains("charts/web/ci/harness.yaml:1: unknown key `skipp`"),
            "{err}"
        );
    }

    #[test]
    fn chart_yaml_is_parsed_on_demand_and_a_broken_one_is_kept_as_its_error() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .write(
                "charts/common/Chart.yaml",
                "apiVersion: v2\nname: common\nversion: 1.0.0\ntype: library\n",
            )
            .write(
                "charts/broken/Chart.yaml",
                "apiVersion: v2\nmaintainers: nobody\n",
            );
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(names(&charts), vec!["broken", "common", "web"]);
        let error = charts[0].chart_file.get().as_ref().unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(!charts[0].is_library());
        assert!(charts[1].is_library());
        let web = charts[2].chart_file.get().as_ref().unwrap();
        assert_eq!(web.version.as_deref(), Some("0.1.0"));
        assert!(!charts[2].is_library());
    }

    #[test]
    fn alias_bomb_in_harness_yaml_is_an_error_not_a_hang() {
        let repo = Repo::new();
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        repo.chart("charts/web")
            .write("charts/web/ci/harness.yaml", &text);
        let charts = repo.discover(&repo.config()).unwrap();
        let err = charts[0].settings.as_ref().unwrap_err();
        assert!(err.starts_with("charts/web/ci/harness.yaml:"), "{err}");
    }

    #[test]
    fn duplicate_chart_names_are_an_error_naming_both_paths() {
        let repo = Repo::new();
        repo.chart("charts/team-a/web").chart("charts/team-b/web");
        let err = repo.discover(&repo.config()).unwrap_err();
        let DiscoveryError::DuplicateName {
            name,
            first,
            second,
        } = &err
        else {
            panic!("expected DuplicateName, got {err}");
        };
        assert_eq!(name, "web");
        assert_eq!(first, Path::new("charts/team-a/web"));
        assert_eq!(second, Path::new("charts/team-b/web"));
        let message = err.to_string();
        assert!(message.contains("charts/team-a/web") && message.contains("charts/team-b/web"));
    }

    #[test]
    fn overlapping_chart_dirs_find_each_chart_once() {
        let repo = Repo::new();
        repo.chart("charts/web").chart("charts/sub/api");
        let mut config = repo.config();
        config.chart_dirs = vec![repo.root().join("charts"), repo.root().join("charts/sub")];
        assert_eq!(names(&repo.discover(&config).unwrap()), vec!["api", "web"]);
    }

    #[test]
    fn a_chart_dir_may_be_the_repository_root_and_skips_target() {
        let repo = Repo::new();
        repo.chart("charts/web")
            .chart("target/chart-harness/cache/web-copy")
            .chart(".tools/helm-chart");
        let mut config = repo.config();
        config.chart_dirs = vec![repo.root().to_path_buf()];
        assert_eq!(names(&repo.discover(&config).unwrap()), vec!["web"]);
    }

    #[test]
    fn a_missing_chart_dir_names_the_dir_and_the_config_file() {
        let repo = Repo::new();
        let mut config = repo.config();
        config.chart_dirs = vec![repo.root().join("stable")];
        config.config_file = Some(PathBuf::from("ct.yaml"));
        let err = repo.discover(&config).unwrap_err();
        assert!(
            matches!(err, DiscoveryError::MissingChartDir { .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("`stable`"), "{message}");
        assert!(message.contains("`chart-dirs` in ct.yaml"), "{message}");
    }

    #[test]
    fn a_symlink_loop_is_a_clear_error() {
        let repo = Repo::new();
        repo.chart("charts/web");
        std::os::unix::fs::symlink(
            repo.root().join("charts"),
            repo.root().join("charts/web/loop"),
        )
        .unwrap();
        let err = repo.discover(&repo.config()).unwrap_err();
        let DiscoveryError::SymlinkLoop { path, ancestor } = &err else {
            panic!("expected SymlinkLoop, got {err}");
        };
        assert_eq!(path, &repo.root().join("charts/web/loop"));
        assert_eq!(ancestor, &repo.root().join("charts"));
        assert!(err.to_string().contains("symlink loop"));
    }

    /// It aborted every run, with a hint to fix its permissions.
    #[test]
    fn a_dangling_symlink_outside_any_chart_is_a_warning() {
        let repo = Repo::new();
        repo.chart("charts/web");
        std::os::unix::fs::symlink("/nonexistent/old-chart", repo.root().join("charts/gone"))
            .unwrap();
        let mut warnings = Vec::new();
        let charts = discover(&repo.config(), repo.root(), &mut warnings).unwrap();
        assert_eq!(names(&charts), ["web"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("charts/gone") && warnings[0].contains("/nonexistent/old-chart"),
            "{warnings:?}"
        );
    }

    #[test]
    fn symlinked_charts_are_followed() {
        let repo = Repo::new();
        repo.chart("elsewhere/web");
        std::fs::create_dir_all(repo.root().join("charts")).unwrap();
        std::os::unix::fs::symlink(
            repo.root().join("elsewhere/web"),
            repo.root().join("charts/web"),
        )
        .unwrap();
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(names(&charts), vec!["web"]);
        assert_eq!(charts[0].rel_dir, PathBuf::from("charts/web"));
    }

    #[test]
    fn paths_with_spaces_and_shell_metacharacters_are_plain_paths() {
        let repo = Repo::new();
        repo.chart("charts/we b;$(rm -rf x)&")
            .write("charts/we b;$(rm -rf x)&/ci/a b-values.yaml", "x: 1\n");
        let charts = repo.discover(&repo.config()).unwrap();
        assert_eq!(names(&charts), vec!["we b;$(rm -rf x)&"]);
        assert_eq!(charts[0].cases[0].name, "a b");
    }

    #[test]
    fn a_hundred_charts_are_discovered_sorted() {
        let repo = Repo::new();
        for i in (0..100).rev() {
            let rel = format!("charts/group-{}/chart-{i:03}", i % 7);
            repo.chart(&rel);
            if i % 3 == 0 {
                repo.write(&format!("{rel}/ci/small-values.yaml"), "a: 1\n")
                    .write(&format!("{rel}/ci/large-values.yaml"), "a: 2\n");
            }
        }
        let charts = repo.discover(&repo.config()).unwrap();
        let expected: Vec<String> = (0..100).map(|i| format!("chart-{i:03}")).collect();
        assert_eq!(names(&charts), expected);
        let case_count: usize = charts.iter().map(|c| c.cases.len()).sum();
        assert_eq!(case_count, 34 * 2 + 66);
        assert!(
            charts[0]
                .cases
                .iter()
                .map(|c| &c.name)
                .eq(["large", "small"].iter())
        );
    }
}
