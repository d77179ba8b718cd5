//! The repository's files as the backup-restore suite's host commands meet them.
//!
//! A backup target writes where it likes: into `$BACKUP_DIR`, but also to paths of its
//! own relative to where it runs (`tmp/redis-backups/...`), which the repository's
//! `.gitignore` hides from `git status`. So `run` steps execute in a [`scratch_copy`] of
//! the files git sees, and a [`Fingerprint`] of the real tree, ignored files included,
//! taken before and after, names anything a step changed there anyway.
//!
//! The copy is a copy, not hard links: a step that appends to a linked file would
//! change the user's. `std::fs::copy` clones the data where the filesystem can
//! (copy_file_range, a reflink on btrfs and xfs), so it stays cheap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::tools::ProcessSpec;

/// How long `git ls-files` may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The files git sees in `root` (tracked, and untracked ones it does not ignore), or
/// every file but `.git` when `root` is not a git work tree; none under `skip` (the
/// report directory, which holds the scratch copies themselves).
pub async fn visible_files(root: &Path, skip: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let spec = ProcessSpec::new("git", GIT_TIMEOUT)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root);
    let files: Vec<PathBuf> = match crate::tools::process::run(&spec).await {
        Ok(output) if output.success() => output
            .stdout
            .split('\0')
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => Fingerprint::take(root, skip)?.files.into_keys().collect(),
    };
    Ok(files
        .into_iter()
        .filter(|file| !skip.iter().any(|dir| root.join(file).starts_with(dir)))
        .collect())
}

/// Copies `files` (relative to `root`) into `dest`, symlinks as symlinks; a file git
/// lists but the tree lacks (deleted, not yet committed) is left out.
pub fn scratch_copy(root: &Path, files: &[PathBuf], dest: &Path) -> Result<(), String> {
    for file in files {
        let from = root.join(file);
        let to = dest.join(file);
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        let copied = if meta.file_type().is_symlink() {
            std::fs::read_link(&from).and_then(|target| std::os::unix::fs::symlink(target, &to))
        } else if meta.is_file() {
            std::fs::copy(&from, &to).map(drop)
        } else {
            Ok(())
        };
        copied.map_err(|error| {
            format!(
                "cannot copy {} to {}: {error}",
                from.display(),
                to.display()
            )
        })?;
    }
    Ok(())
}

/// Every file under a root with its size and modification time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fingerprint {
    files: BTreeMap<PathBuf, (u64, Option<SystemTime>)>,
}

impl Fingerprint {
    /// Walks `root`, ignored files included, but not `.git`, the directories in
    /// `skip` (the report directory, where the harness itself writes) or cache
    /// directories (those holding a `CACHEDIR.TAG`, such as cargo's `target`).
    pub fn take(root: &Path, skip: &[PathBuf]) -> Result<Fingerprint, String> {
        let mut files = BTreeMap::new();
        let walk = walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|entry| {
                let path = entry.path();
                let git = entry.depth() == 1 && entry.file_name() == ".git";
                let cache = entry.file_type().is_dir() && path.join("CACHEDIR.TAG").is_file();
                !git && !cache && !skip.iter().any(|dir| path == dir)
            });
        for entry in walk {
            let entry =
                entry.map_err(|error| format!("cannot read {}: {error}", root.display()))?;
            if entry.file_type().is_dir() {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|error| format!("cannot read {}: {error}", entry.path().display()))?;
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_path_buf();
            files.insert(rel, (meta.len(), meta.modified().ok()));
        }
        Ok(Fingerprint { files })
    }

    /// What differs in `after`: `appeared: x`, `changed: y`, `removed: z`.
    pub fn changes(&self, after: &Fingerprint) -> Vec<String> {
        let mut changes = Vec::new();
        for (path, seen) in &after.files {
            match self.files.get(path) {
                None => changes.push(format!("appeared: {}", path.display())),
                Some(before) if before != seen => {
                    changes.push(format!("changed: {}", path.display()))
                }
                Some(_) => {}
            }
        }
        for path in self.files.keys() {
            if !after.files.contains_key(path) {
                changes.push(format!("removed: {}", path.display()));
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scratch_copy_holds_what_git_sees_and_the_fingerprint_sees_the_rest() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(args)
                .current_dir(root)
                .output()
                .unwrap();
            assert!(status.status.success(), "{status:?}");
        };
        git(&["init", "-q"]);
        std::fs::create_dir_all(root.join("make/ops")).unwrap();
        std::fs::write(root.join("make/ops/redis.mk"), "all:\n").unwrap();
        std::fs::write(root.join(".gitignore"), "tmp/\ntarget/\n").unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::write(root.join("tmp/old-backup"), "x").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/CACHEDIR.TAG"), "Signature").unwrap();
        git(&["add", ".gitignore"]);
        git(&["commit", "-qm", "one"]);

        std::fs::create_dir_all(root.join("reports/tree")).unwrap();
        std::fs::write(root.join("reports/tree/copy"), "").unwrap();
        let mut files = visible_files(root, &[root.join("reports")]).await.unwrap();
        files.sort();
        assert_eq!(
            files,
            [
                PathBuf::from(".gitignore"),
                PathBuf::from("make/ops/redis.mk")
            ],
            "tracked and untracked-visible, not ignored, not the report directory"
        );
        let scratch = tempfile::tempdir().unwrap();
        scratch_copy(root, &files, scratch.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(scratch.path().join("make/ops/redis.mk")).unwrap(),
            "all:\n"
        );
        // Writing in the copy leaves the original alone.
        std::fs::write(scratch.path().join("make/ops/redis.mk"), "changed\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("make/ops/redis.mk")).unwrap(),
            "all:\n"
        );

        let report = root.join("reports");
        std::fs::remove_dir_all(&report).unwrap();
        let before = Fingerprint::take(root, std::slice::from_ref(&report)).unwrap();
        std::fs::write(root.join("tmp/leaked.rdb"), "dump").unwrap();
        std::fs::write(root.join("tmp/old-backup"), "longer").unwrap();
        std::fs::remove_file(root.join(".gitignore")).unwrap();
        std::fs::create_dir_all(&report).unwrap();
        std::fs::write(report.join("report.json"), "{}").unwrap();
        std::fs::write(root.join("target/debug/built"), "").unwrap();
        let after = Fingerprint::take(root, &[report]).unwrap();
        assert_eq!(
            before.changes(&after),
            [
                "appeared: tmp/leaked.rdb",
                "changed: tmp/old-backup",
                "removed: .gitignore"
            ]
        );
    }
}
