//! The `additional-commands` check: chart-testing's `additional-commands`, the user's
//! own shell lines (often `helm unittest {{ .Path }}`), run once per chart.
//!
//! These are the one place the harness uses a shell: the lines are written for `sh`,
//! exactly as ct runs them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::problem::Problem;
use crate::tools::{ProcessSpec, process};

/// Replaces ct's `{{ .Path }}` (with any spacing inside the braces) by the chart path.
///
/// ct pastes the path in verbatim; a path with spaces or shell metacharacters is
/// single-quoted instead, so the line still means what its author meant. Plain paths
/// stay verbatim so lines that already quote `"{{ .Path }}"` keep working.
pub fn substitute_path(line: &str, chart_path: &Path) -> String {
    let path = shell_word(&chart_path.to_string_lossy());
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        if inner.trim() == ".Path" {
            out.push_str(&path);
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@,=".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A directory holding `helm`, a link to the run's helm, for the front of the lines'
/// PATH: ct runs them with the user's helm on PATH (`helm unittest ...`), while ours may
/// come from `.tools/bin` or the machine cache under another name (`helm4`). One
/// directory per helm version, so runs with helm 3 and helm 4 never swap it under
/// each other; the link is replaced atomically.
pub fn helm_link_dir(report_dir: &Path, helm: &Path, version: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = report_dir.join("bin").join(format!("helm-v{version}"));
    let link = dir.join("helm");
    if std::fs::read_link(&link).is_ok_and(|target| target == helm) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let temp = dir.join(format!(
        ".helm-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::os::unix::fs::symlink(helm, &temp)?;
    std::fs::rename(&temp, &link)?;
    Ok(dir)
}

/// Runs every line with `sh -c` in `repo_root` (so relative chart paths resolve), with
/// `helm_dir` first on PATH, and reports each failing one with its command and output.
/// All lines run even after a failure, so one run shows every problem.
pub async fn run_additional_commands(
    commands: &[String],
    repo_root: &Path,
    rel_dir: &Path,
    helm_dir: &Path,
    timeout: Duration,
) -> Vec<Problem> {
    let mut path = OsString::from(helm_dir);
    if let Some(inherited) = std::env::var_os("PATH") {
        path.push(":");
        path.push(inherited);
    }
    let mut problems = Vec::new();
    for line in commands {
        let command = substitute_path(line, rel_dir);
        let spec = ProcessSpec::new("sh", timeout)
            .arg("-c")
            .arg(&command)
            .env("PATH", &path)
            .current_dir(repo_root);
        let message = match process::run(&spec).await {
            Ok(output) if output.success() => continue,
            Ok(output) => {
                let said = [&output.stderr, &output.stdout]
                    .into_iter()
                    .map(|text| text.trim())
                    .find(|text| !text.is_empty())
                    .unwrap_or("(no output)");
                format!(
                    "additional command `{command}` failed ({}):\n{said}",
                    output.status
                )
            }
            Err(err) => format!("additional command `{command}` could not finish: {err}"),
        };
        problems.push(Problem::in_file(
            rel_dir,
            format!("{message}\nfix the chart, or the line in additional-commands"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::spaced("helm unittest {{ .Path }}", "charts/web", "helm unittest charts/web")]
    #[case::compact("helm unittest {{.Path}}", "charts/web", "helm unittest charts/web")]
    #[case::twice(
        "ls {{ .Path }} {{ .Path }}/ci",
        "charts/web",
        "ls charts/web charts/web/ci"
    )]
    #[case::already_quoted("ls \"{{ .Path }}\"", "charts/web", "ls \"charts/web\"")]
    #[case::other_template_kept("echo {{ .Other }} {{ .Path }}", "c", "echo {{ .Other }} c")]
    #[case::unclosed_kept("echo {{ .Path", "c", "echo {{ .Path")]
    #[case::spaces_quoted("ls {{ .Path }}", "charts/my chart", "ls 'charts/my chart'")]
    #[case::metacharacters_quoted(
        "ls {{ .Path }}",
        "charts/a;b$(x)'q",
        "ls 'charts/a;b$(x)'\\''q'"
    )]
    fn substitutes_the_chart_path(#[case] line: &str, #[case] path: &str, #[case] expected: &str) {
        assert_eq!(substitute_path(line, Path::new(path)), expected);
    }

    fn repo_with_chart(rel_dir: &str) -> tempfile::TempDir {
        let root = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(root.path().join(rel_dir)).unwrap();
        std::fs::write(root.path().join(rel_dir).join("Chart.yaml"), "name: x\n").unwrap();
        root
    }

    #[tokio::test]
    async fn passing_lines_are_no_problem_even_with_shell_metacharacters_in_the_path() {
        let rel_dir = Path::new("charts/my chart;$(touch pwned)");
        let root = repo_with_chart(rel_dir.to_str().unwrap());
        let commands = vec![
            "test -f {{ .Path }}/Chart.yaml".to_string(),
            "true".to_string(),
        ];
        let problems = run_additional_commands(
            &commands,
            root.path(),
            rel_dir,
            root.path(),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(problems, vec![]);
        assert!(!root.path().join("pwned").exists());
    }

    #[tokio::test]
    async fn every_failing_line_is_reported_with_its_output() {
        let rel_dir = Path::new("charts/web");
        let root = repo_with_chart("charts/web");
        let commands = vec![
            "echo broken template >&2; exit 3".to_string(),
            "true".to_string(),
            "echo only stdout; false".to_string(),
        ];
        let problems = run_additional_commands(
            &commands,
            root.path(),
            rel_dir,
            root.path(),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0]
                .message
                .contains("`echo broken template >&2; exit 3`")
        );
        assert!(
            problems[0].message.contains("exit status: 3"),
            "{}",
            problems[0]
        );
        assert!(problems[0].message.contains("broken template"));
        assert!(
            problems[1].message.contains("only stdout"),
            "{}",
            problems[1]
        );
        assert_eq!(problems[0].file.as_deref(), Some(rel_dir));
    }

    #[tokio::test]
    async fn a_line_that_hangs_is_killed_at_the_timeout() {
        let root = repo_with_chart("charts/web");
        let commands = vec!["sleep 30".to_string()];
        let started = std::time::Instant::now();
        let problems = run_additional_commands(
            &commands,
            root.path(),
            Path::new("charts/web"),
            root.path(),
            Duration::from_millis(300),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains("could not finish"),
            "{}",
            problems[0]
        );
    }
}
