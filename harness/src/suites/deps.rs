//! `helm dependency build`, once per chart and cached by content, never in the user's tree.
//!
//! helm writes `Chart.lock` and `charts/*.tgz` into the chart it builds, and those files
//! would be left untracked in the user's repository. So a chart with dependencies is
//! copied to a scratch directory under the report directory, built there, and every
//! helm command of its trials (lint, template, install) is pointed at the copy.
//! Restoring the user's files after the run instead would race with the trials (and
//! nextest processes) still rendering from them, and leave the tree dirty after a crash.
//!
//! The copy sits at the chart's absolute path mirrored under the scratch root, and each
//! `file://` dependency is copied to where its relative path leads from there, so
//! `file://../../subcharts/cart` resolves from the copy as it does from the chart. Paths
//! in helm's messages are mapped back to the user's files.
//!
//! Every case of a chart needs the same build, and nextest runs each trial in its own
//! process, so the build is guarded by a file lock and skipped when a stamp records the
//! digest of its inputs: the chart's files and those of every `file://` dependency. A
//! repeated run over unchanged charts therefore fetches nothing.

use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{PhaseRecorder, SuiteContext};
use crate::chartfile::ChartFile;
use crate::discovery::Chart;
use crate::problem::Problem;

pub const PHASE: &str = "dependency-build";

/// Fetching dependencies from a slow chart repository can take a while; a hang must not.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Makes sure the chart's dependencies are built. Records the `dependency-build` phase
/// when the chart has dependencies. Returns the directory helm must be pointed at (the
/// chart's own when it has no dependencies, else the built scratch copy), or `None`
/// when the build failed and the chart cannot render.
pub async fn ensure_built(
    chart: &Chart,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) -> Option<PathBuf> {
    let has_dependencies = chart
        .chart_file
        .get()
        .as_ref()
        .is_ok_and(|chart_file| !chart_file.dependencies.is_empty());
    if !has_dependencies {
        return Some(chart.dir.clone());
    }
    let started = recorder.begin(PHASE);
    let (built, problems) = match built_dir(chart, ctx).await {
        Ok(dir) => (Some(dir), Vec::new()),
        Err(problem) => (None, vec![problem]),
    };
    recorder.record(PHASE, started.elapsed(), problems);
    built
}

/// The directory helm must be pointed at for `chart`: its own without dependencies,
/// else the built scratch copy. Records nothing, for callers that report the build
/// in a phase of their own (the previous revision of the upgrade test).
pub async fn built_dir(chart: &Chart, ctx: &SuiteContext) -> Result<PathBuf, Problem> {
    match chart.chart_file.get() {
        // The lint suite reports an unreadable Chart.yaml; helm will fail on it too.
        Ok(chart_file) if !chart_file.dependencies.is_empty() => {
            build_if_stale(chart, chart_file, ctx).await
        }
        _ => Ok(chart.dir.clone()),
    }
}

/// Where one chart's scratch copies live, keyed by the chart's directory.
struct Scratch {
    /// Every copy of this chart; only the current digest's is kept.
    key_dir: PathBuf,
    /// The copy for the current digest's root; the chart sits at its mirrored path.
    root: PathBuf,
    /// The chart's copy, which helm builds and renders.
    chart_dir: PathBuf,
    stamp: PathBuf,
    lock: PathBuf,
}

impl Scratch {
    fn new(cache_dir: &Path, chart_dir: &Path, digest: &str) -> Scratch {
        let key = hex(&Sha256::digest(chart_dir.as_os_str().as_encoded_bytes()))[..16].to_string();
        let key_dir = cache_dir.join(&key);
        let root = key_dir.join(&digest[..16]);
        let chart_dir = lexical_join(&root, &root, chart_dir);
        Scratch {
            stamp: cache_dir.join(format!("{key}.stamp")),
            lock: cache_dir.join(format!("{key}.lock")),
            key_dir,
            root,
            chart_dir,
        }
    }
}

async fn build_if_stale(
    chart: &Chart,
    chart_file: &ChartFile,
    ctx: &SuiteContext,
) -> Result<PathBuf, Problem> {
    let digest = input_digest(
        &chart.dir,
        chart_file,
        &ctx.config.report_dir,
        &ctx.config.helm_dependency_extra_args,
    )
    .map_err(|e| {
        Problem::in_file(
            chart.rel_dir.join("Chart.yaml"),
            format!("cannot read the chart's dependency inputs: {e}"),
        )
    })?;
    let cache_dir = ctx.config.report_dir.join("deps");
    std::fs::create_dir_all(&cache_dir).map_err(|e| {
        Problem::new(format!(
            "cannot create the dependency cache {}: {e}; check that the report directory is writable",
            cache_dir.display()
        ))
    })?;
    let scratch = Scratch::new(&cache_dir, &chart.dir, &digest);

    // Other processes (nextest) and other cases of this chart wait here; the first
    // one builds, the rest find the stamp.
    let lock_path = scratch.lock.clone();
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
        let file = File::create(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .expect("lock task does not panic")
    .map_err(|e| {
        Problem::new(format!(
            "cannot lock the dependency cache for {}: {e}",
            chart.name
        ))
    })?;

    let result = if is_fresh(&scratch.stamp, &digest, &scratch.chart_dir, chart_file) {
        Ok(())
    } else {
        build(chart, chart_file, ctx, &scratch, &digest).await
    };
    drop(lock);
    result.map(|()| scratch.chart_dir)
}

async fn build(
    chart: &Chart,
    chart_file: &ChartFile,
    ctx: &SuiteContext,
    scratch: &Scratch,
    digest: &str,
) -> Result<(), Problem> {
    copy_with_local_dependencies(chart, chart_file, scratch, &ctx.config.report_dir).map_err(|e| {
        Problem::new(format!(
            "cannot copy chart {} to {} to build its dependencies there: {e}; check that the report directory is writable",
            chart.name,
            scratch.root.display()
        ))
    })?;
    if chart_file
        .dependencies
        .iter()
        .any(|dep| dep.local_path().is_none())
    {
        add_chart_repos(chart, ctx).await?;
    }
    let output = ctx
        .tools
        .helm
        .dependency_build(
            &scratch.chart_dir,
            &ctx.config.helm_dependency_extra_args,
            BUILD_TIMEOUT,
        )
        .await
        .map_err(|e| Problem::new(e.to_string()))?;
    if !output.success() {
        // helm names paths in the copy; the user knows their own files.
        let stderr = output
            .stderr
            .trim()
            .replace(&*scratch.root.to_string_lossy(), "");
        let stderr = stderr.strip_prefix("Error: ").unwrap_or(&stderr);
        let next_step = if stderr.contains("no repository definition") {
            "add the repository to `chart-repos` (name=url) in the config, or vendor the dependency into charts/"
        } else if stderr.contains("directory") && stderr.contains("not found") {
            "fix the dependency's `repository: file://...` path, which is relative to the chart directory"
        } else {
            "vendor the dependencies into charts/ or make the repository reachable"
        };
        return Err(Problem::in_file(
            chart.rel_dir.join("Chart.yaml"),
            format!(
                "`helm dependency build` could not fetch this chart's dependencies: {stderr}; {next_step} (every trial of chart {} fails until then)",
                chart.name
            ),
        ));
    }
    std::fs::write(&scratch.stamp, digest).map_err(|e| {
        Problem::new(format!(
            "cannot write the dependency stamp {}: {e}",
            scratch.stamp.display()
        ))
    })
}

/// Replaces this chart's earlier copies with a fresh one: the chart at its mirrored
/// path, and each `file://` dependency where its relative path leads from there (unless
/// it lies inside the chart, and so was copied with it).
fn copy_with_local_dependencies(
    chart: &Chart,
    chart_file: &ChartFile,
    scratch: &Scratch,
    report_dir: &Path,
) -> std::io::Result<()> {
    match std::fs::remove_dir_all(&scratch.key_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    copy_tree(&chart.dir, &scratch.chart_dir, report_dir)?;
    for dep in &chart_file.dependencies {
        let Some(local) = dep.local_path() else {
            continue;
        };
        let target = lexical_join(&scratch.root, &scratch.chart_dir, Path::new(local));
        let source = lexical_join(Path::new("/"), &chart.dir, Path::new(local));
        // A missing dependency is left for helm to report, naming the path it tried.
        if source.exists() && !target.exists() {
            copy_tree(&source, &target, report_dir)?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, report_dir: &Path) -> std::io::Result<()> {
    for entry in chart_files(from, report_dir) {
        let entry = entry.map_err(std::io::Error::other)?;
        let dest = to.join(
            entry
                .path()
                .strip_prefix(from)
                .expect("walkdir stays under its root"),
        );
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else {
            // Copying a FIFO would wait for a writer forever.
            crate::files::ensure_regular(entry.path()).map_err(|error| {
                std::io::Error::new(error.kind(), format!("{}: {error}", entry.path().display()))
            })?;
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// The entries under `root` a chart is made of. A chart at the repository root would
/// otherwise hold the report directory (and so its own copies) and `.git`. Snapshots
/// are left out too: helm never reads them, and `INSTA_UPDATE=always` rewrites them
/// mid-run, which must not make the chart's other trials rebuild the copy they render.
fn chart_files(
    root: &Path,
    report_dir: &Path,
) -> impl Iterator<Item = walkdir::Result<walkdir::DirEntry>> {
    let report_dir = report_dir.to_path_buf();
    walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(move |e| {
            e.path() != report_dir
                && e.file_name() != ".git"
                && !e.path().ends_with("ci/__snapshots__")
        })
}

/// `base` joined with `path` and cleaned the way helm (Go's `filepath.Join`) resolves a
/// `file://` path: lexically, `..` removing the previous component but never going
/// above `floor`, as `..` never goes above `/`.
fn lexical_join(floor: &Path, base: &Path, path: &Path) -> PathBuf {
    let mut joined = floor.to_path_buf();
    let relative = base.strip_prefix(floor).unwrap_or(base);
    for component in relative.components().chain(path.components()) {
        match component {
            Component::Normal(part) => joined.push(part),
            Component::ParentDir => {
                if joined != floor {
                    joined.pop();
                }
            }
            Component::RootDir => joined = floor.to_path_buf(),
            Component::CurDir | Component::Prefix(_) => {}
        }
    }
    joined
}

/// Registers the configured `chart-repos` in helm's isolated home, as ct does before
/// building dependencies. Only runs when a build is needed, so cached runs stay offline.
async fn add_chart_repos(chart: &Chart, ctx: &SuiteContext) -> Result<(), Problem> {
    for repo in &ctx.config.chart_repos {
        let spec = ctx
            .tools
            .helm
            .command(BUILD_TIMEOUT)
            .args(["repo", "add", "--force-update", &repo.name, &repo.url])
            .args(&repo.extra_args);
        let failure = match crate::tools::process::run(&spec).await {
            Ok(output) if output.success() => continue,
            Ok(output) => output.stderr.trim().to_string(),
            Err(error) => error.to_string(),
        };
        return Err(Problem::in_file(
            chart.rel_dir.join("Chart.yaml"),
            format!(
                "cannot add chart repository `{}` ({}) from `chart-repos`: {failure}; fix or remove it in the config",
                repo.name, repo.url
            ),
        ));
    }
    Ok(())
}

/// The stamp matches and every dependency's archive is still in `charts/`.
fn is_fresh(stamp: &Path, digest: &str, chart_dir: &Path, chart_file: &ChartFile) -> bool {
    if std::fs::read_to_string(stamp).ok().as_deref() != Some(digest) {
        return false;
    }
    let archives: Vec<String> = std::fs::read_dir(chart_dir.join("charts"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    chart_file.dependencies.iter().all(|dep| {
        archives
            .iter()
            .any(|name| name == &dep.name || name.starts_with(&format!("{}-", dep.name)))
    })
}

/// Digest of everything the scratch copy is made of: the chart's files (the copy is
/// what helm renders, so an edited template needs a fresh one), every `file://`
/// dependency's, and `helm-dependency-extra-args` (`--verify`, say, must not be
/// skipped because a build without it is cached).
fn input_digest(
    chart_dir: &Path,
    chart_file: &ChartFile,
    report_dir: &Path,
    extra_args: &[String],
) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    for arg in extra_args {
        hasher.update(arg.as_bytes());
        hasher.update([0]);
    }
    hash_tree(&mut hasher, chart_dir, report_dir)?;
    for dep in &chart_file.dependencies {
        if let Some(local) = dep.local_path() {
            let dep_dir = lexical_join(Path::new("/"), chart_dir, Path::new(local));
            hash_tree(&mut hasher, &dep_dir, report_dir)?;
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Hashes a directory's files, names and contents, in a stable order.
fn hash_tree(hasher: &mut Sha256, root: &Path, report_dir: &Path) -> std::io::Result<()> {
    let mut files: Vec<PathBuf> = chart_files(root, report_dir)
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for file in files {
        hasher.update(
            file.strip_prefix(root)
                .unwrap_or(&file)
                .as_os_str()
                .as_encoded_bytes(),
        );
        hasher.update(std::fs::read(&file)?);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const APP: &str = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: file://../lib\n";

    #[test]
    fn digest_changes_when_the_chart_or_a_local_dependency_changes() {
        let root = tempfile::tempdir().unwrap();
        let chart = root.path().join("app");
        let report_dir = root.path().join("app/target");
        write(&chart, "Chart.yaml", APP);
        write(
            &root.path().join("lib"),
            "Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 1.0.0\n",
        );
        let chart_file = ChartFile::read(&chart).unwrap();
        let digest = || input_digest(&chart, &chart_file, &report_dir, &[]).unwrap();
        let before = digest();
        let with_args = input_digest(&chart, &chart_file, &report_dir, &["--verify".into()]);
        assert_ne!(before, with_args.unwrap(), "extra args make another build");
        // The report directory's contents (the copies themselves) and snapshots are not
        // inputs.
        write(&report_dir, "deps/x.stamp", "abc");
        write(&chart, "ci/__snapshots__/app__default.snap", "---\n---\n");
        assert_eq!(before, digest());
        write(
            &root.path().join("lib"),
            "templates/_x.tpl",
            "{{- define \"x\" }}{{ end }}",
        );
        let with_lib_change = digest();
        assert_ne!(before, with_lib_change);
        write(&chart, "templates/cm.yaml", "kind: ConfigMap\n");
        assert_ne!(with_lib_change, digest());
    }

    #[test]
    fn stamp_is_stale_when_an_archive_is_missing() {
        let root = tempfile::tempdir().unwrap();
        let chart = root.path().join("app");
        write(&chart, "Chart.yaml", APP);
        let chart_file = ChartFile::read(&chart).unwrap();
        let stamp = root.path().join("stamp");
        std::fs::write(&stamp, "abc").unwrap();
        assert!(!is_fresh(&stamp, "abc", &chart, &chart_file));
        write(&chart, "charts/lib-1.0.0.tgz", "");
        assert!(is_fresh(&stamp, "abc", &chart, &chart_file));
        assert!(!is_fresh(&stamp, "other", &chart, &chart_file));
    }

    #[rstest::rstest]
    #[case(
        "/s",
        "/s/repo/charts/shop",
        "../../subcharts/cart",
        "/s/repo/subcharts/cart"
    )]
    #[case("/s", "/s/repo/shop", "./vendor/lib", "/s/repo/shop/vendor/lib")]
    // More `..` than the path is deep stops at the floor, as `/..` is `/`.
    #[case("/s", "/s/a", "../../../b", "/s/b")]
    #[case(
        "/",
        "/repo/charts/shop",
        "../../subcharts/cart",
        "/repo/subcharts/cart"
    )]
    fn file_paths_resolve_lexically_under_the_floor(
        #[case] floor: &str,
        #[case] base: &str,
        #[case] path: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(
            lexical_join(Path::new(floor), Path::new(base), Path::new(path)),
            PathBuf::from(expected)
        );
    }

    #[test]
    fn the_copy_mirrors_the_chart_path_under_the_scratch_root() {
        let scratch = Scratch::new(
            Path::new("/r/deps"),
            Path::new("/repo/charts/shop"),
            "0123456789abcdef0123",
        );
        assert!(scratch.root.starts_with("/r/deps"));
        assert_eq!(scratch.chart_dir, scratch.root.join("repo/charts/shop"));
    }
}
