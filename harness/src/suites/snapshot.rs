//! Rendered-manifest snapshots in insta's file format, stored beside each chart in
//! `ci/__snapshots__/<chart>__<case>.snap` and reviewed with `cargo insta review`.
//!
//! insta's assertion macros panic and print, which a suite must not do, and they
//! place files relative to the calling crate, not the chart. So the harness reads
//! snapshots with insta's own parser and compares with its normalisation, and writes
//! pending `.snap.new` files in the format `cargo insta review` picks up. It follows
//! insta's `INSTA_UPDATE` and `CI` conventions, so CI never writes a snapshot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use insta::internals::TextSnapshotContents;
use insta::{Snapshot, TextSnapshotKind};

use crate::problem::Problem;

/// What to do when a snapshot is missing or differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Fail and write nothing (CI, or `INSTA_UPDATE=no`).
    Check,
    /// Fail and write a pending `.snap.new` for `cargo insta review` (the local default).
    Review,
    /// Overwrite the snapshot and pass (`INSTA_UPDATE=always`).
    Overwrite,
}

impl SnapshotMode {
    pub fn from_env() -> Self {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        match std::env::var("INSTA_UPDATE").as_deref() {
            Ok("always") if !ci => SnapshotMode::Overwrite,
            Ok("no") => SnapshotMode::Check,
            _ if ci => SnapshotMode::Check,
            _ => SnapshotMode::Review,
        }
    }
}

/// Where a chart's snapshot lives.
pub fn snapshot_path(chart_dir: &Path, name: &str) -> PathBuf {
    chart_dir
        .join("ci")
        .join("__snapshots__")
        .join(format!("{name}.snap"))
}

/// Compares `contents` with the stored snapshot `name` of the chart.
pub fn compare(
    chart_dir: &Path,
    chart_rel_dir: &Path,
    name: &str,
    contents: &str,
    mode: SnapshotMode,
) -> Result<(), Problem> {
    let path = snapshot_path(chart_dir, name);
    let rel_path = chart_rel_dir
        .join("ci")
        .join("__snapshots__")
        .join(format!("{name}.snap"));
    let new = TextSnapshotContents::new(contents.to_string(), TextSnapshotKind::File);
    let old = if path.exists() {
        let snapshot = Snapshot::from_file(&path).map_err(|e| {
            Problem::in_file(
                &rel_path,
                format!("cannot read snapshot: {e}; delete it and review a new one"),
            )
        })?;
        snapshot.contents().as_text().map(|text| text.to_string())
    } else {
        None
    };
    if let Some(old) = &old
        && TextSnapshotContents::new(old.clone(), TextSnapshotKind::File).matches_latest(&new)
    {
        let _ = std::fs::remove_file(pending_path(&path));
        return Ok(());
    }
    let wrote = match mode {
        SnapshotMode::Check => None,
        SnapshotMode::Review => Some(pending_path(&path)),
        SnapshotMode::Overwrite => Some(path.clone()),
    };
    if let Some(target) = &wrote {
        write_snapshot(target, name, contents).map_err(|e| {
            Problem::in_file(
                &rel_path,
                format!("cannot write snapshot {}: {e}", target.display()),
            )
        })?;
        if mode == SnapshotMode::Overwrite {
            let _ = std::fs::remove_file(pending_path(&path));
            return Ok(());
        }
    }
    let next_step = if wrote.is_some() {
        "review it with `cargo insta review` and commit the accepted .snap"
    } else {
        "run the template suite locally, review with `cargo insta review`, and commit the accepted .snap (CI never writes snapshots)"
    };
    let message = match &old {
        None => format!("no snapshot of the rendered manifests yet; {next_step}"),
        Some(old) => format!(
            "rendered manifests differ from the snapshot; if the change is intended, {next_step}\n{}",
            diff(&new.to_string(), old)
        ),
    };
    Err(Problem::in_file(rel_path, message))
}

fn pending_path(path: &Path) -> PathBuf {
    path.with_extension("snap.new")
}

/// insta's file format: a YAML metadata block between `---` lines, then the contents.
fn write_snapshot(path: &Path, name: &str, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = format!(
        "---\nsource: chart-harness template suite\nexpression: rendered manifests of {name}\n---\n{}\n",
        contents.trim_end_matches('\n')
    );
    std::fs::write(path, text)
}

/// A unified diff of at most `MAX_DIFF_LINES` lines, `-` for the snapshot and `+` for
/// the new render.
fn diff(new: &str, old: &str) -> String {
    const MAX_DIFF_LINES: usize = 60;
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    let mut lines = 0;
    for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
        for line in hunk.to_string().lines() {
            if lines == MAX_DIFF_LINES {
                let _ = writeln!(out, "    ... diff truncated");
                return out;
            }
            let _ = writeln!(out, "    {line}");
            lines += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_snapshot_in_check_mode_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = compare(
            dir.path(),
            Path::new("c"),
            "c__default",
            "a: 1\n",
            SnapshotMode::Check,
        )
        .unwrap_err();
        assert!(err.message.contains("no snapshot"), "{}", err.message);
        assert!(!dir.path().join("ci/__snapshots__").exists());
    }

    #[test]
    fn review_mode_writes_pending_file_that_insta_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            compare(
                dir.path(),
                Path::new("c"),
                "c__default",
                "a: 1\n",
                SnapshotMode::Review
            )
            .is_err()
        );
        let pending = snapshot_path(dir.path(), "c__default").with_extension("snap.new");
        let snapshot = Snapshot::from_file(&pending).unwrap();
        assert_eq!(snapshot.contents().as_text().unwrap().to_string(), "a: 1");
    }

    #[test]
    fn overwrite_then_match_then_differ() {
        let dir = tempfile::tempdir().unwrap();
        compare(
            dir.path(),
            Path::new("c"),
            "n",
            "a: 1\nb: 2\n",
            SnapshotMode::Overwrite,
        )
        .unwrap();
        compare(
            dir.path(),
            Path::new("c"),
            "n",
            "a: 1\nb: 2\n",
            SnapshotMode::Check,
        )
        .unwrap();
        let err = compare(
            dir.path(),
            Path::new("c"),
            "n",
            "a: 1\nb: 3\n",
            SnapshotMode::Check,
        )
        .unwrap_err();
        assert!(
            err.message.contains("-b: 2") && err.message.contains("+b: 3"),
            "{}",
            err.message
        );
        assert_eq!(
            err.file.as_deref(),
            Some(Path::new("c/ci/__snapshots__/n.snap"))
        );
    }
}
