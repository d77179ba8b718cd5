//! Rendered-manifest snapshots in insta's file format, stored beside each chart in
//! `ci/__snapshots__/<chart>__<case>.snap`.
//!
//! insta's assertion macros panic and print, which a suite must not do, and they
//! place files relative to the calling crate, not the chart. So the harness reads and
//! writes the file format itself (`snap_file`) and compares the way insta does. A
//! pending snapshot (`.snap.new`) goes to the report directory, never into the user's
//! chart, at `<report-dir>/snapshots/<chart dir>/`; `chart-harness snapshots review`
//! shows and `snapshots accept` moves them, so chart authors need no Rust tooling. It
//! follows insta's `INSTA_UPDATE` and `CI` conventions, so CI never writes a snapshot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::problem::Problem;

/// What to do when a snapshot is missing or differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Fail and write nothing (CI, or `INSTA_UPDATE=no`).
    Check,
    /// Fail and write a pending `.snap.new` to the report directory for `chart-harness
    /// snapshots review` (the local default).
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

/// Where a chart's snapshots live; its existence opts the chart in.
pub fn snapshot_dir(chart_dir: &Path) -> PathBuf {
    chart_dir.join("ci").join("__snapshots__")
}

/// Where a chart's snapshot lives.
pub fn snapshot_path(chart_dir: &Path, name: &str) -> PathBuf {
    snapshot_dir(chart_dir).join(format!("{name}.snap"))
}

/// Where pending snapshots go: `<report-dir>/snapshots`.
pub fn pending_root(report_dir: &Path) -> PathBuf {
    report_dir.join("snapshots")
}

/// A chart's pending snapshot `name` under `pending_root`.
fn pending_path(pending_root: &Path, chart_rel_dir: &Path, name: &str) -> PathBuf {
    pending_root
        .join(chart_rel_dir)
        .join(format!("{name}.{PENDING_EXTENSION}"))
}

const PENDING_EXTENSION: &str = "snap.new";

/// Compares `contents` with the stored snapshot `name` of the chart; a pending one
/// goes under `pending_root`.
pub fn compare(
    chart_dir: &Path,
    chart_rel_dir: &Path,
    pending_root: &Path,
    name: &str,
    contents: &str,
    mode: SnapshotMode,
) -> Result<(), Problem> {
    let path = snapshot_path(chart_dir, name);
    let pending = pending_path(pending_root, chart_rel_dir, name);
    let rel_path = snapshot_path(chart_rel_dir, name);
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
        let _ = std::fs::remove_file(&pending);
        return Ok(());
    }
    let wrote = match mode {
        SnapshotMode::Check => None,
        SnapshotMode::Review => Some(pending.clone()),
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
            let _ = std::fs::remove_file(&pending);
            return Ok(());
        }
    }
    let chart = chart_rel_dir
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let next_step = if wrote.is_some() {
        format!(
            "review it with `chart-harness snapshots review {chart}`, accept it with `chart-harness snapshots accept {chart}`, and commit the .snap"
        )
    } else {
        format!(
            "run the template suite locally, then `chart-harness snapshots review {chart}` and `chart-harness snapshots accept {chart}`, and commit the .snap (CI never writes snapshots)"
        )
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

/// A snapshot written by a run and waiting under the report directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The chart's directory relative to the repository root.
    pub chart_rel_dir: PathBuf,
    /// `<chart>__<case>`, the snapshot's file stem.
    pub name: String,
    /// The `.snap.new` file.
    pub path: PathBuf,
}

impl Pending {
    /// The chart's name, which is its directory's.
    pub fn chart(&self) -> String {
        self.chart_rel_dir
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    }

    /// Where `accept` puts it, relative to the repository root.
    pub fn target(&self) -> PathBuf {
        snapshot_path(&self.chart_rel_dir, &self.name)
    }

    /// A unified diff from the committed snapshot (empty when there is none) to this
    /// one, with both files named.
    pub fn review(&self, repo_root: &Path) -> Result<String, String> {
        let read = |path: &Path| -> Result<String, String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            snap_file::contents(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let target = self.target();
        let old = match repo_root.join(&target).exists() {
            true => read(&repo_root.join(&target))?,
            false => String::new(),
        };
        let new = read(&self.path)?;
        let old = format!("{old}\n");
        let new = format!("{new}\n");
        Ok(similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(
                &target.display().to_string(),
                &format!("{} (pending)", target.display()),
            )
            .to_string())
    }

    /// Moves it into the chart's `ci/__snapshots__/`; returns where, from the root.
    pub fn accept(&self, repo_root: &Path) -> std::io::Result<PathBuf> {
        let target = self.target();
        let absolute = repo_root.join(&target);
        if let Some(dir) = absolute.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // The report directory may be on another filesystem, where rename fails.
        if std::fs::rename(&self.path, &absolute).is_err() {
            std::fs::copy(&self.path, &absolute)?;
            std::fs::remove_file(&self.path)?;
        }
        Ok(target)
    }
}

/// Every pending snapshot under `pending_root`, sorted, of the charts named in
/// `charts` (all when empty).
pub fn pending(pending_root: &Path, charts: &[String]) -> Vec<Pending> {
    let mut found: Vec<Pending> = walkdir::WalkDir::new(pending_root)
        .into_iter()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let file = entry.file_name().to_str()?;
            let name = file.strip_suffix(&format!(".{PENDING_EXTENSION}"))?;
            let chart_rel_dir = entry.path().parent()?.strip_prefix(pending_root).ok()?;
            Some(Pending {
                chart_rel_dir: chart_rel_dir.to_path_buf(),
                name: name.to_string(),
                path: entry.path().to_path_buf(),
            })
        })
        .filter(|pending| charts.is_empty() || charts.contains(&pending.chart()))
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
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
        let report = tempfile::tempdir().unwrap();
        let err = compare(
            dir.path(),
            Path::new("c"),
            report.path(),
            "c__default",
            "a: 1\n",
            SnapshotMode::Check,
        )
        .unwrap_err();
        assert!(err.message.contains("no snapshot"), "{}", err.message);
        assert!(
            err.message.contains("chart-harness snapshots accept c")
                && !err.message.contains("cargo insta"),
            "{}",
            err.message
        );
        assert!(!dir.path().join("ci/__snapshots__").exists());
        assert!(pending(report.path(), &[]).is_empty());
    }

    #[test]
    fn review_mode_writes_the_pending_file_to_the_report_dir_not_the_chart() {
        let repo = tempfile::tempdir().unwrap();
        let chart = repo.path().join("charts/c");
        let root = pending_root(&repo.path().join("report"));
        assert!(
            compare(
                &chart,
                Path::new("charts/c"),
                &root,
                "c__default",
                "a: 1\n",
                SnapshotMode::Review
            )
            .is_err()
        );
        assert!(!chart.exists(), "nothing is written beside the chart");
        let found = pending(&root, &[]);
        assert_eq!(
            found,
            [Pending {
                chart_rel_dir: "charts/c".into(),
                name: "c__default".into(),
                path: root.join("charts/c/c__default.snap.new"),
            }]
        );
        // insta reads it back, so `cargo insta review` users lose nothing.
        let snapshot = Snapshot::from_file(&found[0].path).unwrap();
        assert_eq!(snapshot.contents().as_text().unwrap().to_string(), "a: 1");
        assert!(pending(&root, &["other".into()]).is_empty());
    }

    #[test]
    fn review_shows_a_diff_and_accept_moves_the_snapshot_into_the_chart() {
        let repo = tempfile::tempdir().unwrap();
        let chart = repo.path().join("charts/c");
        let root = pending_root(&repo.path().join("report"));
        let rel = Path::new("charts/c");
        compare(
            &chart,
            rel,
            &root,
            "n",
            "a: 1\nb: 2\n",
            SnapshotMode::Overwrite,
        )
        .unwrap();
        compare(
            &chart,
            rel,
            &root,
            "n",
            "a: 1\nb: 3\n",
            SnapshotMode::Review,
        )
        .unwrap_err();

        let found = pending(&root, &["c".into()]);
        assert_eq!(found.len(), 1);
        let diff = found[0].review(repo.path()).unwrap();
        assert!(diff.contains("-b: 2") && diff.contains("+b: 3"), "{diff}");
        assert!(diff.contains("charts/c/ci/__snapshots__/n.snap"), "{diff}");

        let accepted = found[0].accept(repo.path()).unwrap();
        assert_eq!(accepted, Path::new("charts/c/ci/__snapshots__/n.snap"));
        assert!(pending(&root, &[]).is_empty());
        compare(&chart, rel, &root, "n", "a: 1\nb: 3\n", SnapshotMode::Check).unwrap();
    }

    #[test]
    fn overwrite_then_match_then_differ() {
        let dir = tempfile::tempdir().unwrap();
        let report = tempfile::tempdir().unwrap();
        let run = |contents: &str, mode| {
            compare(
                dir.path(),
                Path::new("c"),
                report.path(),
                "n",
                contents,
                mode,
            )
        };
        run("a: 1\nb: 2\n", SnapshotMode::Overwrite).unwrap();
        run("a: 1\nb: 2\n", SnapshotMode::Check).unwrap();
        let err = run("a: 1\nb: 3\n", SnapshotMode::Check).unwrap_err();
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
