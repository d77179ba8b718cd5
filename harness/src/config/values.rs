//! The value forms configuration keys share: paths resolved against the repository
//! root, Kubernetes versions, Go-style durations, helm argument strings.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Splits helm's `--timeout 600s` (or `--timeout=600s`) off `args`: the harness passes
/// its own `--timeout` to every release command and sizes its process timeouts by it.
pub(super) fn take_timeout(args: Vec<String>) -> Result<(Option<Duration>, Vec<String>), String> {
    let mut timeout = None;
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--timeout") {
            Some("") => args
                .next()
                .ok_or("`--timeout` has no value; write it like `--timeout 600s`")?,
            Some(value) if value.starts_with('=') => value[1..].to_string(),
            _ => {
                rest.push(arg);
                continue;
            }
        };
        timeout = Some(parse_duration(&value)?);
    }
    Ok((timeout, rest))
}

pub(super) fn set(target: &mut bool, value: Option<bool>) {
    if let Some(value) = value {
        *target = value;
    }
}

pub(super) fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

pub(super) fn split_args(args: &str) -> Vec<String> {
    args.split_whitespace().map(str::to_string).collect()
}

/// Resolves a configured path against the repository root and removes `.` and `..`
/// lexically, so `./charts` and `charts` name the same directory in messages and in
/// prefix comparisons.
pub fn resolve(repo_root: &Path, path: &Path) -> PathBuf {
    normalize(&repo_root.join(path))
}

/// Removes `.` components and folds `..` into its parent without touching the disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Accepts `1.31`, `1.31.2` and `v1.31.2` and returns the `v`-less form helm's
/// `--kube-version` takes.
pub fn normalize_kube_version(version: &str) -> Result<String, String> {
    let bare = version.trim().trim_start_matches('v');
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if (2..=3).contains(&parts.len()) && numeric {
        Ok(bare.to_string())
    } else {
        Err(format!(
            "`{version}` is not a Kubernetes version; write it like \"1.31\" or \"1.31.2\" (quoted)"
        ))
    }
}

/// A span of time in Go's notation (`90s`, `5m`, `1h30m`, `1.5m`, `500ms`), which is what
/// ct users write for helm timeouts.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("`{text}` is not a duration; write a number with a unit, like 90s, 5m or 1h30m");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}
