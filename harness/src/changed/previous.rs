//! A chart as it was at a commit (ct's "previous revision", the merge-base), for the
//! integration suite's upgrade test.
//!
//! ct checks the merge-base out as a git worktree inside the user's repository. We
//! write nothing there: `git archive` of the chart, and of the `file://` dependencies
//! that revision names (transitively), is unpacked into a scratch directory under the
//! report directory at the same repository-relative paths, so relative dependency
//! paths resolve as they did in the repository.
//!
//! A commit's content never changes, so an unpacked revision is reused. Unpacking goes
//! to a temporary directory that is renamed into place, so trials running at the same
//! time (or nextest processes) never see half a tree.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{ChangedError, Git, file_at, short};
use crate::chartfile::ChartFile;
use crate::config::normalize;
use crate::yaml;

/// `chart_rel` (relative to the repository root) as it was at `commit`, unpacked under
/// `scratch_root`; returns the unpacked chart's directory, or `None` when the chart
/// has no `Chart.yaml` at `commit` (it is new since).
pub async fn materialise(
    repo_root: &Path,
    git: &Path,
    commit: &str,
    chart_rel: &Path,
    scratch_root: &Path,
) -> Result<Option<PathBuf>, ChangedError> {
    let chart_rel = normalize(chart_rel);
    let dest = scratch_root.join(format!("{}-{}", short(commit), path_key(&chart_rel)));
    let chart_dir = dest.join(&chart_rel);
    if chart_dir.join("Chart.yaml").is_file() {
        return Ok(Some(chart_dir));
    }
    let paths = chart_and_local_dependencies(repo_root, git, commit, &chart_rel).await?;
    if paths.is_empty() {
        return Ok(None);
    }

    let scratch_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ChangedError::Scratch { path, source }
    };
    std::fs::create_dir_all(scratch_root).map_err(scratch_error(scratch_root))?;
    let unpacking = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(scratch_root)
        .map_err(scratch_error(scratch_root))?;
    let archive = unpacking.path().join("revision.tar");
    let tree = unpacking.path().join("tree");
    let archive_arg = archive.to_string_lossy().into_owned();
    let path_args: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let git = Git { git, repo_root };
    git.checked(
        [
            "archive",
            "--format=tar",
            "--output",
            archive_arg.as_str(),
            commit,
            "--",
        ]
        .into_iter()
        .chain(path_args.iter().map(String::as_str)),
    )
    .await?;
    let unpack_to = tree.clone();
    tokio::task::spawn_blocking(move || {
        tar::Archive::new(std::fs::File::open(&archive)?).unpack(&unpack_to)
    })
    .await
    .expect("unpacking does not panic")
    .map_err(scratch_error(&tree))?;
    // Another trial may have renamed its copy into place first: same commit, same
    // files, so either is fine.
    if let Err(source) = std::fs::rename(&tree, &dest)
        && !dest.join(&chart_rel).join("Chart.yaml").is_file()
    {
        return Err(ChangedError::Scratch { path: dest, source });
    }
    Ok(Some(chart_dir))
}

/// The chart directory and, transitively, every `file://` dependency directory inside
/// the repository, as the revision at `commit` names them; empty when the chart has
/// no `Chart.yaml` there. A dependency missing at `commit` is left for helm to report.
async fn chart_and_local_dependencies(
    repo_root: &Path,
    git: &Path,
    commit: &str,
    chart_rel: &Path,
) -> Result<Vec<PathBuf>, ChangedError> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut queue = VecDeque::from([chart_rel.to_path_buf()]);
    while let Some(dir) = queue.pop_front() {
        if found.iter().any(|known| dir.starts_with(known)) {
            continue;
        }
        let chart_yaml = dir.join("Chart.yaml");
        let Some(text) = file_at(repo_root, git, commit, &chart_yaml).await? else {
            continue;
        };
        if let Ok(chart_file) = yaml::parse_str::<ChartFile>(&text, &chart_yaml) {
            queue.extend(
                chart_file
                    .dependencies
                    .iter()
                    .filter_map(|dep| dep.local_path())
                    .map(|local| normalize(&dir.join(local)))
                    .filter(|path| !path.starts_with("..") && !path.is_absolute()),
            );
        }
        found.push(dir);
    }
    Ok(found)
}

/// A short, stable directory name for a chart path.
fn path_key(chart_rel: &Path) -> String {
    Sha256::digest(chart_rel.as_os_str().as_encoded_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::git_fixture::fixture;
    use super::*;

    #[tokio::test]
    async fn a_chart_and_its_local_dependencies_are_unpacked_as_they_were_at_the_commit() {
        let fixture = fixture(false).await;
        let base = fixture.git(&["rev-parse", "base"]).await.trim().to_string();
        // Changed after `base`: the unpacked revision must not see these.
        fixture.write("charts/web/values.yaml", "replicas: 3\n");
        fixture.write("charts/common/templates/_helpers.tpl", "{{/* new */}}\n");
        fixture.commit_all("change web and common").await;
        fixture.chart("charts/added", "0.1.0", &[]);
        fixture.commit_all("add a chart").await;
        let status_before = fixture.git(&["status", "--porcelain"]).await;
        let scratch = tempfile::tempdir().unwrap();

        let site = materialise(
            &fixture.work(),
            &fixture.git,
            &base,
            Path::new("charts/site"),
            scratch.path(),
        )
        .await
        .unwrap()
        .expect("site exists at base");
        assert!(site.ends_with("charts/site"));
        // site → web → common, each where the relative paths lead.
        let root = site.parent().unwrap().parent().unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("charts/web/values.yaml")).unwrap(),
            "replicas: 1\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("charts/common/templates/_helpers.tpl")).unwrap(),
            "{{/* helpers */}}\n"
        );
        // Charts it does not depend on are left out.
        assert!(!root.join("charts/docs").exists());

        // Asked again, the same tree is reused.
        let again = materialise(
            &fixture.work(),
            &fixture.git,
            &base,
            Path::new("charts/site"),
            scratch.path(),
        )
        .await
        .unwrap();
        assert_eq!(again.as_deref(), Some(site.as_path()));

        let added = materialise(
            &fixture.work(),
            &fixture.git,
            &base,
            Path::new("charts/added"),
            scratch.path(),
        )
        .await
        .unwrap();
        assert_eq!(added, None, "a chart new since the commit has no revision");
        assert_eq!(
            fixture.git(&["status", "--porcelain"]).await,
            status_before,
            "the work tree is untouched"
        );
        assert_eq!(fixture.git(&["worktree", "list"]).await.lines().count(), 1);
    }
}
