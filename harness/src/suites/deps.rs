//! `helm dependency build`, once per chart and cached by content.
//!
//! Every case of a chart needs the same `charts/*.tgz`, and nextest runs each trial in
//! its own process, so the build is guarded by a file lock and skipped when a stamp
//! records the digest of the inputs it was built from: `Chart.yaml`, `Chart.lock` and
//! the files of every `file://` dependency. A repeated run therefore fetches nothing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{PhaseRecorder, SuiteContext};
use crate::chartfile::ChartFile;
use crate::discovery::Chart;
use crate::problem::Problem;

pub const PHASE: &str = "dependency-build";

/// Fetching dependencies from a slow chart repository can take a while; a hang must not.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Makes sure the chart's dependencies are in its `charts/` directory. Records the
/// `dependency-build` phase when the chart has dependencies; returns whether the chart
/// is ready to render.
pub async fn ensure_built(chart: &Chart, ctx: &SuiteContext, recorder: &mut PhaseRecorder) -> bool {
    let Ok(chart_file) = chart.chart_file.get() else {
        // The lint suite reports an unreadable Chart.yaml; helm will fail on it too.
        return true;
    };
    if chart_file.dependencies.is_empty() {
        return true;
    }
    let started = Instant::now();
    let problems = match build_if_stale(chart, chart_file, ctx).await {
        Ok(()) => Vec::new(),
        Err(problem) => vec![problem],
    };
    recorder.record(PHASE, started.elapsed(), problems)
}

async fn build_if_stale(
    chart: &Chart,
    chart_file: &ChartFile,
    ctx: &SuiteContext,
) -> Result<(), Problem> {
    let digest = input_digest(&chart.dir, chart_file).map_err(|e| {
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
    let key = hex(&Sha256::digest(chart.dir.as_os_str().as_encoded_bytes()))[..16].to_string();
    let stamp = cache_dir.join(format!("{key}.stamp"));
    let lock_path = cache_dir.join(format!("{key}.lock"));

    // Other processes (nextest) and other cases of this chart wait here; the first
    // one builds, the rest find the stamp.
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

    let result = if is_fresh(&stamp, &digest, &chart.dir, chart_file) {
        Ok(())
    } else {
        build(chart, chart_file, ctx, &stamp, &digest).await
    };
    drop(lock);
    result
}

async fn build(
    chart: &Chart,
    chart_file: &ChartFile,
    ctx: &SuiteContext,
    stamp: &Path,
    digest: &str,
) -> Result<(), Problem> {
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
            &chart.dir,
            &ctx.config.helm_dependency_extra_args,
            BUILD_TIMEOUT,
        )
        .await
        .map_err(|e| Problem::new(e.to_string()))?;
    if !output.success() {
        let stderr = output.stderr.trim();
        let stderr = stderr.strip_prefix("Error: ").unwrap_or(stderr);
        let next_step = if stderr.contains("no repository definition") {
            "add the repository to `chart-repos` (name=url) in the config, or vendor the dependency into charts/"
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
    std::fs::write(stamp, digest).map_err(|e| {
        Problem::new(format!(
            "cannot write the dependency stamp {}: {e}",
            stamp.display()
        ))
    })
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

/// Digest of everything `helm dependency build` reads.
fn input_digest(chart_dir: &Path, chart_file: &ChartFile) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    for name in ["Chart.yaml", "Chart.lock"] {
        let path = chart_dir.join(name);
        if path.exists() {
            hasher.update(name.as_bytes());
            hasher.update(std::fs::read(&path)?);
        }
    }
    for dep in &chart_file.dependencies {
        if let Some(local) = dep.local_path() {
            hash_tree(&mut hasher, &chart_dir.join(local))?;
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Hashes a `file://` dependency's files in a stable order. Its own `charts/*.tgz`
/// are build outputs, so they are left out.
fn hash_tree(hasher: &mut Sha256, root: &Path) -> std::io::Result<()> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_none_or(|ext| ext != "tgz"))
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

    #[test]
    fn digest_changes_when_a_local_dependency_changes() {
        let root = tempfile::tempdir().unwrap();
        let chart = root.path().join("app");
        write(
            &chart,
            "Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: file://../lib\n",
        );
        write(
            &root.path().join("lib"),
            "Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 1.0.0\n",
        );
        let chart_file = ChartFile::read(&chart).unwrap();
        let before = input_digest(&chart, &chart_file).unwrap();
        assert_eq!(before, input_digest(&chart, &chart_file).unwrap());
        write(
            &root.path().join("lib"),
            "templates/_x.tpl",
            "{{- define \"x\" }}{{ end }}",
        );
        assert_ne!(before, input_digest(&chart, &chart_file).unwrap());
    }

    #[test]
    fn stamp_is_stale_when_an_archive_is_missing() {
        let root = tempfile::tempdir().unwrap();
        let chart = root.path().join("app");
        write(
            &chart,
            "Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  repository: file://../lib\n",
        );
        let chart_file = ChartFile::read(&chart).unwrap();
        let stamp = root.path().join("stamp");
        std::fs::write(&stamp, "abc").unwrap();
        assert!(!is_fresh(&stamp, "abc", &chart, &chart_file));
        write(&chart, "charts/lib-1.0.0.tgz", "");
        assert!(is_fresh(&stamp, "abc", &chart, &chart_file));
        assert!(!is_fresh(&stamp, "other", &chart, &chart_file));
    }
}
