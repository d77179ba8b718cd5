//! Which files and charts changed since the merge-base with the target branch. Used by
//! `list-changed`/`--changed` and by lint's version-increment check
//! (`suites::lint::version_increment`), which gets the run's answer through
//! [`RunChanges`] so git is asked once per run.
//!
//! "Changed" is what ct's `git diff <merge-base> -- <dirs>` reports: tracked files that
//! differ between the merge-base and the working tree. Untracked files never count, so
//! files a tool leaves in a chart (a `Chart.lock`, `charts/*.tgz`, editor backups) do
//! not make it "changed"; a new chart counts once it is added to git. Renames count as
//! a deletion plus an addition, so a file moved between charts marks both.
//!
//! A file belongs to the deepest chart directory that contains it. A changed chart also
//! marks every chart that depends on it through a `file://` dependency, transitively,
//! because their rendered output changes with it (the library chart case).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use tokio::sync::OnceCell;

use crate::config::{HarnessConfig, normalize};
use crate::discovery::{CHART_OWN_DIRS, Chart};
use crate::tools::ToolError;
use crate::tools::process::{self, ProcessOutput, ProcessSpec};

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
    #[error(
        "cannot unpack the chart's previous revision into {}: {source}; check that the report directory is writable",
        path.display()
    )]
    Scratch {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The commit changes are measured from, and what it was derived from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeBase {
    pub commit: String,
    /// `origin/main`, or the `--since` ref when the remote branch does not exist.
    pub against: String,
}

/// What changed since the merge-base: the base, and every tracked file changed between
/// it and the working tree, relative to the repository root. Sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSet {
    pub base: MergeBase,
    pub files: Vec<PathBuf>,
}

impl ChangeSet {
    /// The changed files that belong to `chart` (not to a chart nested in it), leaving
    /// out those its `.helmignore` excludes when `use_helmignore` is on.
    pub fn files_of(
        &self,
        chart: &Chart,
        use_helmignore: bool,
    ) -> Result<Vec<&Path>, ChangedError> {
        let matcher = if use_helmignore {
            helmignore(chart)?
        } else {
            None
        };
        Ok(self
            .files
            .iter()
            .filter(|file| {
                owning_chart(std::slice::from_ref(chart), file).is_some()
                    && !is_helmignored(matcher.as_ref(), chart, file)
            })
            .map(PathBuf::as_path)
            .collect())
    }
}

/// The changes since the merge-base of HEAD with `<remote>/<target-branch>`, or with
/// `since` (else `config.since`) when that remote branch does not exist.
pub async fn change_set(
    repo_root: &Path,
    config: &HarnessConfig,
    since: Option<&str>,
    git: &Path,
) -> Result<ChangeSet, ChangedError> {
    let git = Git { git, repo_root };
    let base = merge_base(&git, config, since).await?;
    let files = changed_files(&git, &base.commit).await?;
    Ok(ChangeSet { base, files })
}

/// The run's [`ChangeSet`] (against the configured base), asked for by every lint
/// trial and computed by git once, by whichever trial asks first.
#[derive(Debug, Default)]
pub struct RunChanges {
    /// The error as its message: every trial that asks reports it.
    cell: OnceCell<Result<ChangeSet, String>>,
}

impl RunChanges {
    pub async fn get(
        &self,
        repo_root: &Path,
        config: &HarnessConfig,
        git: &Path,
    ) -> Result<&ChangeSet, &str> {
        self.cell
            .get_or_init(|| async {
                change_set(repo_root, config, None, git)
                    .await
                    .map_err(|error| error.to_string())
            })
            .await
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Names of the charts (from `charts`) that changed since the merge-base (see
/// [`change_set`]), plus their `file://` dependents. Sorted.
pub async fn changed_charts(
    repo_root: &Path,
    config: &HarnessConfig,
    charts: &[Chart],
    since: Option<&str>,
    git: &Path,
) -> Result<Vec<String>, ChangedError> {
    let changes = change_set(repo_root, config, since, git).await?;
    let mut ignores: HashMap<&str, Option<Gitignore>> = HashMap::new();
    let mut changed = BTreeSet::new();
    for file in &changes.files {
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

/// The text of `path` (relative to the repository root) at `commit`; `None` when the
/// file does not exist there.
pub async fn file_at(
    repo_root: &Path,
    git: &Path,
    commit: &str,
    path: &Path,
) -> Result<Option<String>, ChangedError> {
    let git = Git { git, repo_root };
    let spec = format!("{commit}:./{}", path.display());
    if !git.run(["cat-file", "-e", spec.as_str()]).await?.success() {
        return Ok(None);
    }
    Ok(Some(git.checked(["show", spec.as_str()]).await?.stdout))
}

/// The commit `reference` (a tag, branch or commit) names; `None` when it names none.
pub async fn commit_of(
    repo_root: &Path,
    git: &Path,
    reference: &str,
) -> Result<Option<String>, ChangedError> {
    let git = Git { git, repo_root };
    let output = git
        .run([
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{reference}^{{commit}}"),
        ])
        .await?;
    Ok(output
        .success()
        .then(|| output.stdout.trim().to_string())
        .filter(|commit| !commit.is_empty()))
}

/// The tags matching the glob `pattern` (`kvstore-*`), each with the commit it names.
pub async fn tags(
    repo_root: &Path,
    git: &Path,
    pattern: &str,
) -> Result<Vec<(String, String)>, ChangedError> {
    let git = Git { git, repo_root };
    // `%(*objectname)` is an annotated tag's commit; a lightweight tag names it itself.
    let output = git
        .checked([
            "tag",
            "--list",
            "--format=%(refname:strip=2) %(objectname) %(*objectname)",
            pattern,
        ])
        .await?;
    Ok(output
        .stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (tag, object) = (fields.next()?, fields.next()?);
            let commit = fields.next().unwrap_or(object);
            Some((tag.to_string(), commit.to_string()))
        })
        .collect())
}

/// The git tree id of `path` at `commit`: a digest of the chart's files as committed.
pub async fn tree_of(
    repo_root: &Path,
    git: &Path,
    commit: &str,
    path: &Path,
) -> Result<String, ChangedError> {
    let git = Git { git, repo_root };
    let spec = format!("{commit}:./{}", path.display());
    Ok(git
        .checked(["rev-parse", spec.as_str()])
        .await?
        .stdout
        .trim()
        .to_string())
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

/// Tracked files changed between `base` and the working tree, relative to the
/// repository root; untracked files are not asked for (see the module comment).
async fn changed_files(git: &Git<'_>, base: &str) -> Result<Vec<PathBuf>, ChangedError> {
    let diff = [
        "diff",
        "--name-only",
        "--no-renames",
        "--relative",
        "-z",
        base,
        "--",
    ];
    let output = git.checked(diff).await?;
    let files: BTreeSet<PathBuf> = output
        .stdout
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .collect();
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
        let Ok(chart_file) = chart.chart_file.get() else {
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

/// The first 12 characters of a commit id, enough to name it in a message.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn non_empty_or(text: &str, fallback: &str) -> String {
    if text.is_empty() { fallback } else { text }.to_string()
}

pub mod previous;

#[cfg(test)]
pub(crate) mod git_fixture;

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::git_fixture::fixture;
    use super::*;

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
    async fn uncommitted_changes_to_tracked_files_count() {
        let f = fixture(true).await;
        f.write("charts/web/values.yaml", "replicas: 5\n");
        assert_eq!(f.changed(&f.config(), None).await, ["site", "web"]);
    }

    #[tokio::test]
    async fn untracked_files_never_make_a_chart_changed() {
        let f = fixture(true).await;
        // What `helm dependency build` or an editor leaves behind, and a chart not yet
        // added to git: ct's `git diff` sees none of them.
        f.write("charts/web/Chart.lock", "dependencies: []\n");
        f.write("charts/web/charts/lib-1.0.0.tgz", "not a real archive");
        f.chart("charts/brand-new", "0.1.0", &[]);
        assert!(f.changed(&f.config(), None).await.is_empty());
        f.git(&["add", "charts/brand-new"]).await;
        assert_eq!(f.changed(&f.config(), None).await, ["brand-new"]);
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
        let changes = change_set(&f.work(), &config, None, &f.git).await.unwrap();
        let charts = f.charts(&config);
        let docs = charts.iter().find(|c| c.name == "docs").unwrap();
        assert!(changes.files_of(docs, true).unwrap().is_empty());
        assert_eq!(changes.files_of(docs, false).unwrap().len(), 2);
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
    async fn the_run_asks_git_for_the_changes_once() {
        let f = fixture(true).await;
        f.write("charts/web/values.yaml", "replicas: 5\n");
        let config = f.config();
        let changes = RunChanges::default();
        let first = changes.get(&f.work(), &config, &f.git).await.unwrap();
        assert_eq!(first.files, [PathBuf::from("charts/web/values.yaml")]);
        // A later change is not seen: every trial of a run compares the same changes.
        f.write("charts/site/values.yaml", "replicas: 5\n");
        let again = changes.get(&f.work(), &config, &f.git).await.unwrap();
        assert!(std::ptr::eq(first, again));
        assert_eq!(again.files, [PathBuf::from("charts/web/values.yaml")]);
    }
}
