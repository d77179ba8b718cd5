//! Which charts changed since the merge-base with the target branch, and whether a
//! changed chart bumped its version.
//!
//! "Changed" compares the merge-base with the working tree, and counts untracked files
//! (those git does not ignore) too: a chart added but not yet committed is as changed
//! as one committed on the branch, and a local run should agree with the CI run that
//! follows the commit. Renames count as a deletion plus an addition, so a file moved
//! between charts marks both.
//!
//! A file belongs to the deepest chart directory that contains it. A changed chart also
//! marks every chart that depends on it through a `file://` dependency, transitively,
//! because their rendered output changes with it (the library chart case).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::chartfile::ChartFile;
use crate::config::{HarnessConfig, normalize};
use crate::discovery::{CHART_OWN_DIRS, Chart};
use crate::problem::Problem;
use crate::tools::ToolError;
use crate::tools::process::{self, ProcessOutput, ProcessSpec};
use crate::yaml;

/// git answers these in milliseconds; the limit only guards against a hung filesystem.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ChangedError {
    #[error(
        "no base to compare changes against: `{remote_ref}` does not exist and no `--since` ref (or `since` setting) was given; run `git fetch {remote} {branch}` or pass `--since <ref>`"
    )]
    NoBase {
        remote_ref: String,
        remote: String,
        branch: String,
    },
    #[error(
        "no base to compare changes against: `{remote_ref}` does not exist and the since ref `{since}` is not usable: {stderr}; pass an existing ref with `--since`"
    )]
    BadSince {
        remote_ref: String,
        since: String,
        stderr: String,
    },
    #[error("git failed while looking for changes: {0}")]
    Git(#[from] ToolError),
    #[error("{}: {message}; fix the pattern or turn use-helmignore off", path.display())]
    Helmignore { path: PathBuf, message: String },
}

/// The commit changes are measured from, and what it was derived from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeBase {
    pub commit: String,
    /// `origin/main`, or the `--since` ref when the remote branch does not exist.
    pub against: String,
}

/// Names of the charts (from `charts`) that changed since the merge-base of HEAD with
/// `<remote>/<target-branch>`, or with `since` (else `config.since`) when that remote
/// branch does not exist, plus their `file://` dependents. Sorted.
pub async fn changed_charts(
    repo_root: &Path,
    config: &HarnessConfig,
    charts: &[Chart],
    since: Option<&str>,
    git: &Path,
) -> Result<Vec<String>, ChangedError> {
    let git = Git { git, repo_root };
    let base = merge_base(&git, config, since).await?;
    let files = changed_files(&git, &base.commit, None).await?;
    let mut ignores: HashMap<&str, Option<Gitignore>> = HashMap::new();
    let mut changed = BTreeSet::new();
    for file in &files {
        let Some(chart) = owning_chart(charts, file) else {
            continue;
        };
        if config.use_helmignore {
            let matcher = match ignores.get(chart.name.as_str()) {
                Some(matcher) => matcher,
                None => ignores
                    .entry(chart.name.as_str())
                    .or_insert(helmignore(chart)?),
            };
            if is_helmignored(matcher.as_ref(), chart, file) {
                continue;
            }
        }
        changed.insert(chart.name.clone());
    }
    Ok(with_dependents(charts, changed).into_iter().collect())
}

/// The `version-increment` lint check: when `check-version-increment` is on and the
/// chart has changes since the merge-base (ignoring files `.helmignore` excludes when
/// `use-helmignore` is on), its version must be greater than the target branch's.
/// A chart that does not exist at the merge-base is new and passes. A missing or
/// non-semver version is left to the Chart.yaml check, which reports it.
pub async fn check_version_increment(
    repo_root: &Path,
    config: &HarnessConfig,
    chart: &Chart,
    git: &Path,
) -> Vec<Problem> {
    if !config.check_version_increment {
        return Vec::new();
    }
    let chart_yaml = normalize(&chart.rel_dir.join("Chart.yaml"));
    let cannot = |e: &dyn std::fmt::Display| {
        vec![Problem::in_file(
            &chart_yaml,
            format!(
                "cannot check the version increment: {e} (or set check-version-increment: false)"
            ),
        )]
    };
    let git = Git { git, repo_root };
    let base = match merge_base(&git, config, None).await {
        Ok(base) => base,
        Err(e) => return cannot(&e),
    };
    let files = match changed_files(&git, &base.commit, Some(&chart.rel_dir)).await {
        Ok(files) => files,
        Err(e) => return cannot(&e),
    };
    let matcher = if config.use_helmignore {
        match helmignore(chart) {
            Ok(matcher) => matcher,
            Err(e) => return vec![Problem::new(e.to_string())],
        }
    } else {
        None
    };
    let relevant: Vec<&PathBuf> = files
        .iter()
        .filter(|file| {
            owning_chart(std::slice::from_ref(chart), file).is_some()
                && !is_helmignored(matcher.as_ref(), chart, file)
        })
        .collect();
    if relevant.is_empty() {
        return Vec::new();
    }

    let spec = format!("{}:./{}", base.commit, chart_yaml.display());
    match git.run(["cat-file", "-e", spec.as_str()]).await {
        Ok(output) if !output.success() => return Vec::new(), // new on this branch
        Ok(_) => {}
        Err(e) => return cannot(&e),
    }
    let old_text = match git.checked(["show", spec.as_str()]).await {
        Ok(output) => output.stdout,
        Err(e) => return cannot(&e),
    };
    let shown_old = PathBuf::from(format!("{}:{}", base.against, chart_yaml.display()));
    let old = yaml::parse_str::<ChartFile>(&old_text, &shown_old)
        .ok()
        .and_then(|c| c.version)
        .and_then(|v| semver::Version::parse(v.trim()).ok());
    let new = ChartFile::read(&chart.dir)
        .ok()
        .and_then(|c| c.version)
        .and_then(|v| semver::Version::parse(v.trim()).ok());
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    if new > old {
        return Vec::new();
    }
    let mut suggested = semver::Version::new(old.major, old.minor, old.patch + 1);
    if !old.pre.is_empty() {
        suggested = semver::Version::new(old.major, old.minor, old.patch);
    }
    let shown_files: Vec<String> = relevant
        .iter()
        .take(5)
        .map(|f| f.display().to_string())
        .collect();
    let more = relevant.len().saturating_sub(shown_files.len());
    let line = std::fs::read_to_string(chart.dir.join("Chart.yaml"))
        .ok()
        .and_then(|text| crate::config::line_of_key(&text, "version"));
    vec![
        Problem::in_file(
            &chart_yaml,
            format!(
                "version {new} is not greater than {old} on {} (merge-base {}), but the chart changed ({}{}); bump `version`, for example to {suggested}",
                base.against,
                short(&base.commit),
                shown_files.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() },
            ),
        )
        .at_line(line),
    ]
}

struct Git<'a> {
    git: &'a Path,
    repo_root: &'a Path,
}

impl Git<'_> {
    fn spec<'s>(&self, args: impl IntoIterator<Item = &'s str>) -> ProcessSpec {
        ProcessSpec::new(self.git, GIT_TIMEOUT)
            .current_dir(self.repo_root)
            .args(args)
            // Many trials may ask git at once; optional locks (index refresh) would
            // make them fail on each other's index.lock.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
    }

    async fn run<'s>(
        &self,
        args: impl IntoIterator<Item = &'s str>,
    ) -> Result<ProcessOutput, ToolError> {
        process::run(&self.spec(args)).await
    }

    async fn checked<'s>(
        &self,
        args: impl IntoIterator<Item = &'s str>,
    ) -> Result<ProcessOutput, ToolError> {
        process::run_checked(&self.spec(args)).await
    }
}

async fn merge_base(
    git: &Git<'_>,
    config: &HarnessConfig,
    since: Option<&str>,
) -> Result<MergeBase, ChangedError> {
    let remote_ref = format!("{}/{}", config.remote, config.target_branch);
    let full_ref = format!("refs/remotes/{remote_ref}");
    let exists = git
        .run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{full_ref}^{{commit}}"),
        ])
        .await?
        .success();
    if exists {
        let output = git
            .checked(["merge-base", "HEAD", full_ref.as_str()])
            .await?;
        return Ok(MergeBase {
            commit: output.stdout.trim().to_string(),
            against: remote_ref,
        });
    }
    let Some(since) = since.or(config.since.as_deref()) else {
        return Err(ChangedError::NoBase {
            remote_ref,
            remote: config.remote.clone(),
            branch: config.target_branch.clone(),
        });
    };
    let output = git.run(["merge-base", "HEAD", since]).await?;
    if !output.success() {
        return Err(ChangedError::BadSince {
            remote_ref,
            since: since.to_string(),
            stderr: non_empty_or(output.stderr.trim(), "no common ancestor with HEAD"),
        });
    }
    Ok(MergeBase {
        commit: output.stdout.trim().to_string(),
        against: since.to_string(),
    })
}

/// Files changed between `base` and the working tree, plus untracked files, relative
/// to the repository root; limited to `within` when given.
async fn changed_files(
    git: &Git<'_>,
    base: &str,
    within: Option<&Path>,
) -> Result<Vec<PathBuf>, ChangedError> {
    let pathspec = within.map(|p| normalize(p).to_string_lossy().into_owned());
    let mut diff = vec![
        "diff",
        "--name-only",
        "--no-renames",
        "--relative",
        "-z",
        base,
        "--",
    ];
    let mut untracked = vec!["ls-files", "--others", "--exclude-standard", "-z", "--"];
    if let Some(pathspec) = &pathspec {
        diff.push(pathspec);
        untracked.push(pathspec);
    }
    let mut files = BTreeSet::new();
    for args in [diff, untracked] {
        let output = git.checked(args).await?;
        files.extend(
            output
                .stdout
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
        );
    }
    Ok(files.into_iter().collect())
}

/// The deepest chart of `charts` whose directory holds `file` (relative to the
/// repository root), unless the file sits in a nested chart that is not in `charts`
/// (an excluded one). Subcharts under a chart's `charts/` belong to that chart.
fn owning_chart<'c>(charts: &'c [Chart], file: &Path) -> Option<&'c Chart> {
    let (chart, rest) = charts
        .iter()
        .filter_map(|chart| within(&chart.rel_dir, file).map(|rest| (chart, rest)))
        .max_by_key(|(chart, _)| depth(&chart.rel_dir))?;
    let components: Vec<_> = rest.components().collect();
    let first_is_own_dir = components
        .first()
        .is_some_and(|c| CHART_OWN_DIRS.iter().any(|d| c.as_os_str() == *d));
    if !first_is_own_dir {
        let mut dir = chart.dir.clone();
        for component in components.iter().take(components.len().saturating_sub(1)) {
            dir.push(component);
            if dir.join("Chart.yaml").is_file() {
                return None;
            }
        }
    }
    Some(chart)
}

/// `file` relative to `chart_rel` when the chart directory contains it.
fn within<'f>(chart_rel: &Path, file: &'f Path) -> Option<&'f Path> {
    if chart_rel == Path::new(".") {
        return Some(file);
    }
    file.strip_prefix(chart_rel)
        .ok()
        .filter(|rest| !rest.as_os_str().is_empty())
}

fn depth(rel: &Path) -> usize {
    if rel == Path::new(".") {
        0
    } else {
        rel.components().count()
    }
}

/// The chart's `.helmignore` as a matcher; `None` when the chart has none. helm's
/// syntax (globs, `!` negation, trailing `/` for directories, `#` comments) is a subset
/// of gitignore's, so the gitignore matcher applies it.
fn helmignore(chart: &Chart) -> Result<Option<Gitignore>, ChangedError> {
    let path = chart.dir.join(".helmignore");
    if !path.is_file() {
        return Ok(None);
    }
    let shown = normalize(&chart.rel_dir.join(".helmignore"));
    let mut builder = GitignoreBuilder::new(&chart.dir);
    if let Some(err) = builder.add(&path) {
        return Err(ChangedError::Helmignore {
            path: shown,
            message: err.to_string(),
        });
    }
    builder
        .build()
        .map(Some)
        .map_err(|err| ChangedError::Helmignore {
            path: shown,
            message: err.to_string(),
        })
}

fn is_helmignored(matcher: Option<&Gitignore>, chart: &Chart, file: &Path) -> bool {
    let (Some(matcher), Some(rest)) = (matcher, within(&chart.rel_dir, file)) else {
        return false;
    };
    matcher
        .matched_path_or_any_parents(chart.dir.join(rest), false)
        .is_ignore()
}

/// Adds every chart that depends (through `file://`, transitively) on a changed chart.
fn with_dependents(charts: &[Chart], changed: BTreeSet<String>) -> BTreeSet<String> {
    let by_dir: HashMap<PathBuf, &str> = charts
        .iter()
        .map(|chart| (identity(&chart.dir), chart.name.as_str()))
        .collect();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for chart in charts {
        let Ok(chart_file) = ChartFile::read(&chart.dir) else {
            continue; // the lint suite reports a broken Chart.yaml
        };
        for dependency in &chart_file.dependencies {
            let Some(local) = dependency.local_path() else {
                continue;
            };
            if let Some(&target) = by_dir.get(&identity(&chart.dir.join(local))) {
                dependents
                    .entry(target)
                    .or_default()
                    .push(chart.name.as_str());
            }
        }
    }
    let mut result = changed.clone();
    let mut queue: VecDeque<String> = changed.into_iter().collect();
    while let Some(name) = queue.pop_front() {
        for dependent in dependents.get(name.as_str()).into_iter().flatten() {
            if result.insert(dependent.to_string()) {
                queue.push_back(dependent.to_string());
            }
        }
    }
    result
}

/// A directory's identity for comparing `file://` targets: canonical when it exists,
/// so symlinked chart directories still match, else lexical.
fn identity(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| normalize(dir))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn non_empty_or(text: &str, fallback: &str) -> String {
    if text.is_empty() { fallback } else { text }.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use rstest::rstest;

    use super::*;
    use crate::discovery::discover;

    fn git_binary() -> PathBuf {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("git"))
                    .find(|candidate| candidate.is_file())
            })
            .expect("git must be on PATH for these tests")
    }

    /// A work tree with a bare "remote" beside it, built with real git.
    struct Fixture {
        dir: tempfile::TempDir,
        git: PathBuf,
    }

    impl Fixture {
        fn work(&self) -> PathBuf {
            self.dir.path().join("work")
        }

        async fn git_in(&self, cwd: &Path, args: &[&str]) -> String {
            let spec = ProcessSpec::new(&self.git, Duration::from_secs(30))
                .current_dir(cwd)
                .args([
                    "-c",
                    "user.name=Chart Harness",
                    "-c",
                    "user.email=harness@example.invalid",
                    "-c",
                    "commit.gpgsign=false",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args.iter().copied())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1");
            process::run_checked(&spec)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .stdout
        }

        async fn git(&self, args: &[&str]) -> String {
            self.git_in(&self.work(), args).await
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.work().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn chart(&self, rel: &str, version: &str, dependencies: &[&str]) {
            let name = Path::new(rel).file_name().unwrap().to_string_lossy();
            let mut text = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
            if !dependencies.is_empty() {
                text.push_str("dependencies:\n");
                for dep in dependencies {
                    let dep_name = Path::new(dep).file_name().unwrap().to_string_lossy();
                    text.push_str(&format!(
                        "  - name: {dep_name}\n    version: \">=0.0.0\"\n    repository: \"file://{dep}\"\n"
                    ));
                }
            }
            self.write(&format!("{rel}/Chart.yaml"), &text);
            self.write(&format!("{rel}/values.yaml"), "replicas: 1\n");
        }

        async fn commit_all(&self, message: &str) {
            self.git(&["add", "-A"]).await;
            self.git(&["commit", "-q", "-m", message]).await;
        }

        fn config(&self) -> HarnessConfig {
            HarnessConfig::defaults(&self.work())
        }

        fn charts(&self, config: &HarnessConfig) -> Vec<Chart> {
            discover(config, &self.work()).unwrap()
        }

        async fn changed(&self, config: &HarnessConfig, since: Option<&str>) -> Vec<String> {
            let charts = self.charts(config);
            changed_charts(&self.work(), config, &charts, since, &self.git)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }

        async fn version_problems(&self, config: &HarnessConfig, chart: &str) -> Vec<Problem> {
            let charts = self.charts(config);
            let chart = charts.iter().find(|c| c.name == chart).unwrap();
            check_version_increment(&self.work(), config, chart, &self.git).await
        }
    }

    /// main (pushed to the remote): a library chart `common`, `web` using it, `site`
    /// using `web`, `platform` with a nested `metrics` chart, and `docs` with a
    /// .helmignore. The work tree is then on branch `feature`.
    async fn fixture(with_remote: bool) -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
            git: git_binary(),
        };
        std::fs::create_dir_all(fixture.work()).unwrap();
        fixture.git(&["init", "-q"]).await;
        fixture.chart("charts/common", "1.0.0", &[]);
        fixture.write(
            "charts/common/templates/_helpers.tpl",
            "{{/* helpers */}}\n",
        );
        fixture.chart("charts/web", "1.0.0", &["../common"]);
        fixture.chart("charts/site", "2.0.0", &["../web"]);
        fixture.chart("charts/platform", "0.3.0", &[]);
        fixture.chart("charts/platform/addons/metrics", "0.1.0", &[]);
        fixture.chart("charts/docs", "0.1.0", &[]);
        fixture.write(
            "charts/docs/.helmignore",
            "# docs are not packaged\n*.md\ndocs/\n",
        );
        fixture.write("charts/docs/README.md", "# docs\n");
        fixture.write("README.md", "# repo\n");
        fixture.commit_all("main").await;
        fixture.git(&["tag", "base"]).await;
        if with_remote {
            let dir = fixture.dir.path().to_path_buf();
            fixture
                .git_in(&dir, &["init", "-q", "--bare", "remote.git"])
                .await;
            fixture
                .git(&["remote", "add", "origin", "../remote.git"])
                .await;
            fixture.git(&["push", "-q", "origin", "HEAD:main"]).await;
            fixture.git(&["fetch", "-q", "origin"]).await;
        }
        fixture.git(&["checkout", "-q", "-b", "feature"]).await;
        fixture
    }

    #[tokio::test]
    async fn nothing_changed_lists_nothing() {
        let f = fixture(true).await;
        assert!(f.changed(&f.config(), None).await.is_empty());
    }

    #[rstest]
    #[case("charts/platform/addons/metrics/values.yaml", &["metrics"])]
    #[case("charts/platform/values.yaml", &["platform"])]
    #[case("charts/platform/addons/extra.txt", &["platform"])]
    #[case("README.md", &[])]
    #[tokio::test]
    async fn files_map_to_the_deepest_chart(#[case] file: &str, #[case] expected: &[&str]) {
        let f = fixture(true).await;
        f.write(file, "changed: true\n");
        f.commit_all("change").await;
        assert_eq!(f.changed(&f.config(), None).await, expected);
    }

    #[tokio::test]
    async fn an_excluded_nested_chart_does_not_mark_its_parent() {
        let f = fixture(true).await;
        f.write(
            "charts/platform/addons/metrics/values.yaml",
            "replicas: 2\n",
        );
        f.commit_all("metrics").await;
        let mut config = f.config();
        config.excluded_charts = vec!["metrics".into()];
        assert!(f.changed(&config, None).await.is_empty());
    }

    #[tokio::test]
    async fn a_changed_library_marks_its_dependents_transitively() {
        let f = fixture(true).await;
        f.write(
            "charts/common/templates/_helpers.tpl",
            "{{/* changed */}}\n",
        );
        f.commit_all("library").await;
        assert_eq!(
            f.changed(&f.config(), None).await,
            ["common", "site", "web"]
        );
    }

    #[tokio::test]
    async fn uncommitted_and_untracked_changes_count() {
        let f = fixture(true).await;
        f.write("charts/web/values.yaml", "replicas: 5\n");
        f.chart("charts/brand-new", "0.1.0", &[]);
        assert_eq!(
            f.changed(&f.config(), None).await,
            ["brand-new", "site", "web"]
        );
    }

    #[tokio::test]
    async fn docs_only_changes_are_ignored_with_use_helmignore() {
        let f = fixture(true).await;
        f.write("charts/docs/README.md", "# better docs\n");
        f.write("charts/docs/docs/guide.txt", "guide\n");
        f.commit_all("docs").await;
        let mut config = f.config();
        assert_eq!(f.changed(&config, None).await, ["docs"]);
        config.use_helmignore = true;
        assert!(f.changed(&config, None).await.is_empty());
        assert!(f.version_problems(&config, "docs").await.is_empty());
    }

    #[tokio::test]
    async fn without_a_remote_the_since_ref_is_used() {
        let f = fixture(false).await;
        f.write("charts/web/values.yaml", "replicas: 2\n");
        f.commit_all("web").await;
        let mut config = f.config();
        assert_eq!(f.changed(&config, Some("base")).await, ["site", "web"]);

        config.since = Some("base".into());
        assert_eq!(f.changed(&config, None).await, ["site", "web"]);

        config.since = None;
        let charts = f.charts(&config);
        let err = changed_charts(&f.work(), &config, &charts, None, &f.git)
            .await
            .unwrap_err();
        assert!(matches!(err, ChangedError::NoBase { .. }), "{err}");
        assert!(
            err.to_string().contains("`origin/main` does not exist"),
            "{err}"
        );
        assert!(err.to_string().contains("--since"), "{err}");

        let err = changed_charts(&f.work(), &config, &charts, Some("no-such-ref"), &f.git)
            .await
            .unwrap_err();
        assert!(matches!(err, ChangedError::BadSince { .. }), "{err}");
        assert!(err.to_string().contains("no-such-ref"), "{err}");
    }

    #[tokio::test]
    async fn an_unbumped_changed_chart_is_a_version_problem() {
        let f = fixture(true).await;
        f.write("charts/web/templates/deployment.yaml", "kind: Deployment\n");
        f.commit_all("web").await;
        let problems = f.version_problems(&f.config(), "web").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert_eq!(
            problem.file.as_deref(),
            Some(Path::new("charts/web/Chart.yaml"))
        );
        assert_eq!(problem.line, Some(3));
        for expected in [
            "version 1.0.0 is not greater than 1.0.0 on origin/main",
            "charts/web/templates/deployment.yaml",
            "bump `version`, for example to 1.0.1",
        ] {
            assert!(problem.message.contains(expected), "{}", problem.message);
        }
        // An unchanged chart needs no bump.
        assert!(f.version_problems(&f.config(), "site").await.is_empty());
    }

    #[tokio::test]
    async fn a_lowered_version_is_a_problem_and_a_bump_passes() {
        let f = fixture(true).await;
        f.chart("charts/site", "1.9.0", &["../web"]);
        let problems = f.version_problems(&f.config(), "site").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains("1.9.0 is not greater than 2.0.0")
        );

        f.chart("charts/site", "2.1.0", &["../web"]);
        assert!(f.version_problems(&f.config(), "site").await.is_empty());
    }

    #[tokio::test]
    async fn new_charts_nested_charts_and_disabled_checks_pass() {
        let f = fixture(true).await;
        f.chart("charts/brand-new", "0.1.0", &[]);
        f.write(
            "charts/platform/addons/metrics/values.yaml",
            "replicas: 3\n",
        );
        f.commit_all("changes").await;
        let mut config = f.config();
        assert!(f.version_problems(&config, "brand-new").await.is_empty());
        // Only the nested chart changed; the parent needs no bump.
        assert!(f.version_problems(&config, "platform").await.is_empty());
        assert_eq!(f.version_problems(&config, "metrics").await.len(), 1);
        config.check_version_increment = false;
        assert!(f.version_problems(&config, "metrics").await.is_empty());
    }

    #[tokio::test]
    async fn without_a_base_the_version_check_explains_what_to_do() {
        let f = fixture(false).await;
        let problems = f.version_problems(&f.config(), "web").await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        let message = &problems[0].message;
        assert!(
            message.contains("`origin/main` does not exist"),
            "{message}"
        );
        assert!(
            message.contains("check-version-increment: false"),
            "{message}"
        );
    }
}
