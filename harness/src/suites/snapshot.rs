//! Rendered-manifest snapshots in insta's file format, stored beside each chart in
//! `ci/__snapshots__/<chart>__<case>.snap` and reviewed with `cargo insta review`.
//!
//! insta's assertion macros panic and print, which a suite must not do, and they
//! place files relative to the calling crate, not the chart. So the harness reads and
//! writes the file format itself (`snap_file`), compares the way insta does, and
//! writes pending `.snap.new` files that `cargo insta review` picks up. It follows
//! insta's `INSTA_UPDATE` and `CI` conventions, so CI never writes a snapshot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    let new = snap_file::normalize(contents);
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => Some(snap_file::contents(&text).map_err(|e| {
            Problem::in_file(
                &rel_path,
                format!("cannot read snapshot: {e}; delete it and review a new one"),
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Problem::in_file(
                &rel_path,
                format!("cannot read snapshot: {e}; fix its permissions"),
            ));
        }
    };
    if old.as_deref() == Some(new.as_str()) {
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
            diff(&new, old)
        ),
    };
    Err(Problem::in_file(rel_path, message))
}

fn pending_path(path: &Path) -> PathBuf {
    path.with_extension("snap.new")
}

fn write_snapshot(path: &Path, name: &str, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = snap_file::render(
        "chart-harness template suite",
        &format!("rendered manifests of {name}"),
        contents,
    );
    std::fs::write(path, text)
}

/// insta's `.snap` file format, as insta 1.x reads and writes it: a `---` line, YAML
/// metadata (`source:`, `expression:`), a `---` line, then the contents. Contents
/// compare after insta's normalisation, so a snapshot insta wrote and one written here
/// compare equal.
mod snap_file {
    /// The file for `contents`, with the metadata `cargo insta review` shows.
    pub fn render(source: &str, expression: &str, contents: &str) -> String {
        format!(
            "---\nsource: {}\nexpression: {}\n---\n{}\n",
            yaml_scalar(source),
            yaml_scalar(expression),
            normalize(contents)
        )
    }

    /// The normalised contents of a snapshot file's text. Like insta, the contents are
    /// the lines after the metadata's closing `---`, joined with `\n`.
    pub fn contents(text: &str) -> Result<String, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim_end) != Some("---") {
            return Err(
                "it does not start with a `---` line, so it is not in insta's snapshot format"
                    .to_string(),
            );
        }
        if !lines.by_ref().any(|line| line.trim_end() == "---") {
            return Err("its metadata has no closing `---` line".to_string());
        }
        Ok(normalize(&lines.collect::<Vec<_>>().join("\n")))
    }

    /// insta's normalisation of file snapshots: trailing whitespace dropped, Windows
    /// line ends made `\n`.
    pub fn normalize(contents: &str) -> String {
        contents.trim_end().replace("\r\n", "\n")
    }

    /// `value` as a YAML scalar: plain when it cannot be misread (as our usual names
    /// cannot), else double-quoted (JSON strings are YAML), so a chart or case name with
    /// `:` or `#` still gives metadata `cargo insta review` can parse.
    fn yaml_scalar(value: &str) -> String {
        let plain = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !value.ends_with(' ');
        if plain {
            value.to_string()
        } else {
            serde_json::to_string(value).expect("a string always serializes")
        }
    }
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
    use insta::Snapshot;
    use rstest::rstest;

    use super::*;

    /// Every snapshot committed under `fixtures/`.
    fn committed_snapshots() -> Vec<PathBuf> {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let snapshots: Vec<PathBuf> = walkdir::WalkDir::new(fixtures)
            .into_iter()
            .map(|entry| entry.unwrap().into_path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "snap"))
            .collect();
        assert!(!snapshots.is_empty(), "the fixtures hold snapshots");
        snapshots
    }

    #[test]
    fn committed_snapshots_read_as_insta_reads_them() {
        for path in committed_snapshots() {
            let ours = snap_file::contents(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let insta = Snapshot::from_file(&path).unwrap();
            let theirs = insta.contents().as_text().unwrap().to_string();
            assert_eq!(ours, theirs, "{}", path.display());
        }
    }

    #[test]
    fn committed_snapshots_are_written_again_byte_for_byte() {
        for path in committed_snapshots() {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_str().unwrap();
            let contents = snap_file::contents(&text).unwrap();
            let written = snap_file::render(
                "chart-harness template suite",
                &format!("rendered manifests of {name}"),
                &contents,
            );
            assert_eq!(written, text, "{}", path.display());
        }
    }

    #[rstest]
    #[case::plain("rendered manifests of web__default")]
    #[case::yaml_specials("rendered manifests of a: b # c__default")]
    #[case::shell_specials("rendered manifests of we b;$(rm -rf x)&__a b")]
    #[case::quotes("rendered manifests of \"it's\"")]
    #[case::leading_symbol("- [x]")]
    fn insta_reads_the_metadata_and_contents_we_write(#[case] expression: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c__default.snap.new");
        let contents = "---\n# Source: templates/cm.yaml\nkind: ConfigMap\n\n";
        std::fs::write(
            &path,
            snap_file::render("source: here", expression, contents),
        )
        .unwrap();
        let snapshot = Snapshot::from_file(&path).unwrap();
        assert_eq!(snapshot.metadata().expression(), Some(expression));
        assert_eq!(snapshot.metadata().source(), Some("source: here"));
        assert_eq!(
            snapshot.contents().as_text().unwrap().to_string(),
            snap_file::normalize(contents)
        );
    }

    #[rstest]
    #[case::legacy_format("expression: x\n\na: 1\n", "not in insta's snapshot format")]
    #[case::unclosed_metadata("---\nsource: x\na: 1\n", "no closing `---`")]
    #[case::empty("", "not in insta's snapshot format")]
    fn unreadable_snapshot_files_say_why(#[case] text: &str, #[case] expected: &str) {
        let error = snap_file::contents(text).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn contents_compare_after_insta_normalisation() {
        let text = "---\nsource: s\n---\n---\na: 1\r\nb: 2   \n\n";
        assert_eq!(snap_file::contents(text).unwrap(), "---\na: 1\nb: 2");
        assert_eq!(snap_file::normalize("a: 1\r\nb: 2\n\n"), "a: 1\nb: 2");
    }

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
