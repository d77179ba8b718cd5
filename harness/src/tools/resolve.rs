//! Finding a pinned tool: an explicit flag or env var, then `.tools/bin`, then PATH, and
//! refusing any binary whose version differs from the pin.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ToolError;
use super::pins::{ToolPin, parse_version};
use super::process::{self, ProcessSpec};

/// How long a binary may take to print its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory `tools install` fills and resolution searches second.
pub fn tools_bin_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".tools").join("bin")
}

/// The environment resolution reads, captured once so tests can supply their own
/// instead of changing the process environment.
#[derive(Clone, Debug, Default)]
pub struct ToolEnv {
    vars: BTreeMap<OsString, OsString>,
}

impl ToolEnv {
    pub fn from_process() -> ToolEnv {
        ToolEnv {
            vars: std::env::vars_os().collect(),
        }
    }

    pub fn from_vars<I, K, V>(vars: I) -> ToolEnv
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        ToolEnv {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value; empty counts as unset.
    pub fn var(&self, name: &str) -> Option<&OsStr> {
        self.vars
            .get(OsStr::new(name))
            .map(OsString::as_os_str)
            .filter(|value| !value.is_empty())
    }

    /// Executable files called `name` in PATH order, skipping `skip_dir`.
    pub fn find_on_path(&self, name: &str, skip_dir: Option<&Path>) -> Vec<PathBuf> {
        let Some(path) = self.var("PATH") else {
            return Vec::new();
        };
        std::env::split_paths(path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .filter(|dir| skip_dir.is_none_or(|skip| !same_dir(dir, skip)))
            .map(|dir| dir.join(name))
            .filter(|candidate| is_executable(candidate))
            .collect()
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where a resolved binary came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolOrigin {
    /// A command-line flag or env var, named.
    Explicit(String),
    ToolsBin,
    Path,
}

impl std::fmt::Display for ToolOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolOrigin::Explicit(source) => write!(f, "{source}"),
            ToolOrigin::ToolsBin => write!(f, ".tools/bin"),
            ToolOrigin::Path => write!(f, "PATH"),
        }
    }
}

/// A binary of the pinned version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundTool {
    pub path: PathBuf,
    pub version: semver::Version,
    pub origin: ToolOrigin,
}

/// A binary chosen explicitly, e.g. `--helm` or `$HELM3`.
#[derive(Clone, Debug)]
pub(crate) struct ExplicitChoice {
    /// `--helm`, `$HELM3`, ...
    pub source: String,
    pub path: PathBuf,
}

/// What a binary said when asked for its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VersionProbe {
    /// What it printed (the version token, or its first line), for messages.
    pub reported: String,
    pub version: Option<semver::Version>,
}

/// Asks the binary for its version with the pin's arguments.
///
/// A binary written a moment ago can be briefly "busy" (ETXTBSY) while a process forked
/// by another thread still holds its write handle, so that one error is retried.
pub(crate) async fn probe_version(path: &Path, pin: &ToolPin) -> VersionProbe {
    let spec = ProcessSpec::new(path, VERSION_TIMEOUT).args(&pin.version_args);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match process::run_checked(&spec).await {
            Ok(output) => return extract_version(&format!("{}\n{}", output.stdout, output.stderr)),
            Err(ToolError::Spawn { source, .. })
                if source.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 5 =>
            {
                tokio::time::sleep(Duration::from_millis(20 * attempts)).await;
            }
            Err(error) => {
                return VersionProbe {
                    reported: format!("unknown ({error})"),
                    version: None,
                };
            }
        }
    }
}

/// The first semver-looking token of a version output (`kind v0.33.0 go1.26 ...`,
/// `etcd Version: 3.6.16`, `v3.22.0`), else its first line.
pub(crate) fn extract_version(output: &str) -> VersionProbe {
    for token in output.split_whitespace() {
        let token = token.trim_matches(|c: char| "\"'(),;".contains(c));
        if let Some(version) = parse_version(token) {
            return VersionProbe {
                reported: token.to_string(),
                version: Some(version),
            };
        }
    }
    let first_line = output.lines().map(str::trim).find(|l| !l.is_empty());
    VersionProbe {
        reported: first_line
            .map(|line| line.chars().take(120).collect())
            .unwrap_or_else(|| "nothing".to_string()),
        version: None,
    }
}

/// Same release: build metadata (`+g1234`) does not count.
pub(crate) fn version_matches(found: &semver::Version, pinned: &semver::Version) -> bool {
    (found.major, found.minor, found.patch, &found.pre)
        == (pinned.major, pinned.minor, pinned.patch, &pinned.pre)
}

/// The command that installs `tool`, for error messages.
pub fn install_hint(tool: &str, pin: &ToolPin) -> String {
    let target = if pin.default {
        String::new()
    } else {
        format!(" {tool}")
    };
    format!(
        "`cargo run -p chart-harness -- tools install{target}` (or `chart-harness tools install{target}`)"
    )
}

/// Finds `tool`: the first explicit choice decides alone (a wrong one is an error, not
/// a reason to look elsewhere); otherwise `.tools/bin`, then PATH under the binary name
/// and the pin's other names, taking the first of the pinned version.
pub(crate) async fn locate(
    repo_root: &Path,
    tool: &str,
    pin: &ToolPin,
    explicit: &[ExplicitChoice],
    env: &ToolEnv,
) -> Result<FoundTool, ToolError> {
    let pinned = pin.semver();
    let wrong_version = |found: Vec<String>| ToolError::WrongVersion {
        tool: tool.to_string(),
        needed: pin.version.clone(),
        found: found.join(", "),
        install: install_hint(tool, pin),
    };
    if let Some(choice) = explicit.first() {
        if !is_executable(&choice.path) {
            return Err(ToolError::Missing {
                tool: tool.to_string(),
                needed: pin.version.clone(),
                searched: format!(
                    "{} = {}, which is not an executable file",
                    choice.source,
                    choice.path.display()
                ),
                install: install_hint(tool, pin),
            });
        }
        let probe = probe_version(&choice.path, pin).await;
        return match probe.version {
            Some(version) if version_matches(&version, &pinned) => Ok(FoundTool {
                path: choice.path.clone(),
                version,
                origin: ToolOrigin::Explicit(choice.source.clone()),
            }),
            _ => Err(wrong_version(vec![format!(
                "{} ({}) reports {}",
                choice.path.display(),
                choice.source,
                probe.reported
            )])),
        };
    }

    let bin_dir = tools_bin_dir(repo_root);
    let tools_bin = bin_dir.join(&pin.binary);
    let mut candidates: Vec<(PathBuf, ToolOrigin)> = Vec::new();
    if is_executable(&tools_bin) {
        candidates.push((tools_bin.clone(), ToolOrigin::ToolsBin));
    }
    let path_names = std::iter::once(&pin.binary).chain(&pin.path_names);
    for name in path_names {
        for found in env.find_on_path(name, Some(&bin_dir)) {
            if !candidates.iter().any(|(seen, _)| seen == &found) {
                candidates.push((found, ToolOrigin::Path));
            }
        }
    }

    let mut mismatches = Vec::new();
    for (path, origin) in candidates {
        let probe = probe_version(&path, pin).await;
        match probe.version {
            Some(version) if version_matches(&version, &pinned) => {
                return Ok(FoundTool {
                    path,
                    version,
                    origin,
                });
            }
            _ => mismatches.push(format!("{} reports {}", path.display(), probe.reported)),
        }
    }
    if !mismatches.is_empty() {
        return Err(wrong_version(mismatches));
    }
    let names: Vec<&str> = std::iter::once(pin.binary.as_str())
        .chain(pin.path_names.iter().map(String::as_str))
        .collect();
    Err(ToolError::Missing {
        tool: tool.to_string(),
        needed: pin.version.clone(),
        searched: format!(
            "{}, {} and PATH ({})",
            explicit_sources(tool),
            tools_bin.display(),
            names.join(", ")
        ),
        install: install_hint(tool, pin),
    })
}

fn explicit_sources(tool: &str) -> String {
    let own = format!("${}", ToolPin::env_var(tool));
    if tool.starts_with("helm") {
        format!("{own}, $HELM")
    } else {
        own
    }
}

/// The explicit choices for `tool` from the environment: its own variable (`HELM3`),
/// then, for the helm of the selected major, `HELM`.
pub(crate) fn explicit_from_env(
    tool: &str,
    env: &ToolEnv,
    generic_helm: bool,
) -> Vec<ExplicitChoice> {
    let own = ToolPin::env_var(tool);
    let mut names = vec![own.as_str()];
    if generic_helm {
        names.push("HELM");
    }
    names
        .into_iter()
        .filter_map(|name| {
            env.var(name).map(|value| ExplicitChoice {
                source: format!("${name}"),
                path: PathBuf::from(value),
            })
        })
        .collect()
}

/// git: `$GIT`, else the first `git` on PATH. Any version works.
pub(crate) fn locate_git(env: &ToolEnv) -> Result<PathBuf, ToolError> {
    if let Some(path) = env.var("GIT") {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Ok(path);
        }
        return Err(ToolError::Missing {
            tool: "git".into(),
            needed: "any version".into(),
            searched: format!("$GIT = {}, which is not an executable file", path.display()),
            install: "your system's package manager (e.g. `apt-get install git`)".into(),
        });
    }
    env.find_on_path("git", None)
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::Missing {
            tool: "git".into(),
            needed: "any version".into(),
            searched: "$GIT and PATH".into(),
            install: "your system's package manager (e.g. `apt-get install git`)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::pins::Pins;
    use rstest::rstest;

    #[rstest]
    #[case::helm_template("v3.22.0", Some("3.22.0"), "v3.22.0")]
    #[case::kind("kind v0.33.0 go1.26.8 linux/amd64\n", Some("0.33.0"), "v0.33.0")]
    #[case::etcd(
        "etcd Version: 3.6.16\nGit SHA: abc\nGo Version: go1.26.8\n",
        Some("3.6.16"),
        "3.6.16"
    )]
    #[case::kubernetes("Kubernetes v1.37.2\n", Some("1.37.2"), "v1.37.2")]
    #[case::kwok(
        "kwok version v0.8.0 go1.26.8 (linux/amd64)\n",
        Some("0.8.0"),
        "v0.8.0"
    )]
    #[case::helm_without_ldflag("v3.22", None, "v3.22")]
    #[case::silent("", None, "nothing")]
    fn versions_are_read_from_tool_output(
        #[case] output: &str,
        #[case] version: Option<&str>,
        #[case] reported: &str,
    ) {
        let probe = extract_version(output);
        assert_eq!(probe.version.map(|v| v.to_string()).as_deref(), version);
        assert_eq!(probe.reported, reported);
    }

    #[rstest]
    #[case("3.22.0", "3.22.0", true)]
    #[case("3.22.0+g1234", "3.22.0", true)]
    #[case("3.22.1", "3.22.0", false)]
    #[case("3.22.0-rc.1", "3.22.0", false)]
    fn version_match_ignores_only_build_metadata(
        #[case] found: &str,
        #[case] pinned: &str,
        #[case] matches: bool,
    ) {
        let found = semver::Version::parse(found).unwrap();
        let pinned = semver::Version::parse(pinned).unwrap();
        assert_eq!(version_matches(&found, &pinned), matches);
    }

    fn fake_tool(dir: &Path, name: &str, prints: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{prints}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn a_wrong_version_names_tool_found_needed_and_install_command() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("helm3").unwrap();
        let repo = tempfile::tempdir().unwrap();
        fake_tool(&tools_bin_dir(repo.path()), "helm3", "v3.21.0");
        let env = ToolEnv::from_vars([("PATH", "")]);
        let error = locate(repo.path(), "helm3", pin, &[], &env)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ToolError::WrongVersion { .. }), "{message}");
        for fact in ["helm3", "v3.21.0", "v3.22.0", "tools install"] {
            assert!(message.contains(fact), "`{fact}` missing from: {message}");
        }
    }

    #[tokio::test]
    async fn a_missing_tool_names_where_it_looked_and_the_install_command() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("kind").unwrap();
        let repo = tempfile::tempdir().unwrap();
        let env = ToolEnv::from_vars([("PATH", repo.path().join("empty"))]);
        let error = locate(repo.path(), "kind", pin, &[], &env)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ToolError::Missing { .. }), "{message}");
        for fact in [
            "kind",
            "v0.33.0",
            "not installed",
            ".tools/bin/kind",
            "tools install kind",
        ] {
            assert!(message.contains(fact), "`{fact}` missing from: {message}");
        }
    }

    #[tokio::test]
    async fn tools_bin_comes_before_path_and_path_accepts_the_generic_name() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("helm4").unwrap();
        let repo = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("path");
        let on_path = fake_tool(&path_dir, "helm", "v4.3.1");
        let env = ToolEnv::from_vars([("PATH", &path_dir)]);

        let found = locate(repo.path(), "helm4", pin, &[], &env).await.unwrap();
        assert_eq!((found.path, found.origin), (on_path, ToolOrigin::Path));

        let installed = fake_tool(&tools_bin_dir(repo.path()), "helm4", "v4.3.1");
        let found = locate(repo.path(), "helm4", pin, &[], &env).await.unwrap();
        assert_eq!(
            (found.path, found.origin),
            (installed, ToolOrigin::ToolsBin)
        );
    }

    #[tokio::test]
    async fn a_path_binary_of_another_major_is_skipped_for_a_matching_one() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("helm3").unwrap();
        let repo = tempfile::tempdir().unwrap();
        let first = repo.path().join("first");
        let second = repo.path().join("second");
        fake_tool(&first, "helm", "v4.3.1");
        let good = fake_tool(&second, "helm", "v3.22.0");
        let path = std::env::join_paths([&first, &second]).unwrap();
        let env = ToolEnv::from_vars([("PATH", path)]);
        let found = locate(repo.path(), "helm3", pin, &[], &env).await.unwrap();
        assert_eq!(found.path, good);
    }

    #[tokio::test]
    async fn an_explicit_choice_of_the_wrong_version_is_an_error_not_skipped() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("helm3").unwrap();
        let repo = tempfile::tempdir().unwrap();
        fake_tool(&tools_bin_dir(repo.path()), "helm3", "v3.22.0");
        let wrong = fake_tool(&repo.path().join("x"), "helm", "v4.3.1");
        let env = ToolEnv::from_vars([("HELM", &wrong)]);
        let explicit = explicit_from_env("helm3", &env, true);
        assert_eq!(explicit.len(), 1);
        let message = locate(repo.path(), "helm3", pin, &explicit, &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("$HELM") && message.contains("v4.3.1"),
            "{message}"
        );
    }

    #[test]
    fn the_tool_variable_comes_before_the_generic_helm_variable() {
        let env = ToolEnv::from_vars([("HELM", "/a/helm"), ("HELM4", "/b/helm4")]);
        let sources: Vec<String> = explicit_from_env("helm4", &env, true)
            .into_iter()
            .map(|c| c.source)
            .collect();
        assert_eq!(sources, vec!["$HELM4", "$HELM"]);
        assert!(explicit_from_env("helm4", &env, false).len() == 1);
    }

    #[test]
    fn git_is_found_on_path_or_through_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let git = fake_tool(dir.path(), "git", "git version 2.0.0");
        let env = ToolEnv::from_vars([("PATH", dir.path())]);
        assert_eq!(locate_git(&env).unwrap(), git);
        let env = ToolEnv::from_vars([("GIT", dir.path().join("nope"))]);
        let message = locate_git(&env).unwrap_err().to_string();
        assert!(
            message.contains("$GIT") && message.contains("nope"),
            "{message}"
        );
    }
}
