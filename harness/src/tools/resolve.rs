//! Finding a pinned tool: an explicit flag or env var, then PATH, then `.tools/bin`,
//! then the machine-wide tool cache. The cluster tools must report their pinned
//! version; helm may be any release of its major from [`HelmMajor::oldest_supported`],
//! and one that is not the pinned release gets a warning ([`FoundTool::warning`]).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ToolError;
use super::helm::HelmMajor;
use super::install::{cache_entry, default_cache_dir};
use super::pins::{Pins, ToolPin, parse_version};
use super::process::{self, ProcessSpec};

/// How long a binary may take to print its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory `tools install` fills and resolution searches after PATH.
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
    Path,
    ToolsBin,
    /// The machine-wide cache `tools install` fills from any clone.
    MachineCache,
}

impl std::fmt::Display for ToolOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolOrigin::Explicit(source) => write!(f, "{source}"),
            ToolOrigin::Path => write!(f, "PATH"),
            ToolOrigin::ToolsBin => write!(f, ".tools/bin"),
            ToolOrigin::MachineCache => write!(f, "the machine-wide tool cache"),
        }
    }
}

/// A binary resolution accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundTool {
    pub path: PathBuf,
    pub version: semver::Version,
    pub origin: ToolOrigin,
    /// The pinned version, when this binary reports another (compatible) one.
    pub off_pin: Option<String>,
}

impl FoundTool {
    /// The run's one warning about a tool that is not the pinned release, naming both.
    pub fn warning(&self, tool: &str) -> Option<String> {
        let pinned = self.off_pin.as_ref()?;
        Some(format!(
            "using v{} at {} (from {}), not the pinned {tool} {pinned} chart-harness is tested with; if results differ, try the pinned one: `chart-harness tools install`, then set ${} to {}",
            self.version,
            self.path.display(),
            self.origin,
            ToolPin::env_var(tool),
            Path::new(".tools/bin").join(tool).display(),
        ))
    }
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
/// `etcd Version: 3.6.16`, `v3.22.0`, `CoreDNS-1.14.6`), else its first line.
pub(crate) fn extract_version(output: &str) -> VersionProbe {
    for token in output.split_whitespace() {
        let token = token.trim_matches(|c: char| "\"'(),;".contains(c));
        // `Name-1.2.3`: a version glued to the program's name.
        let token = match token.split_once('-') {
            Some((name, rest)) if name.chars().all(char::is_alphabetic) => rest,
            _ => token,
        };
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

/// How a binary's version stands against its tool's pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    Pinned,
    /// Another release the harness runs with: a helm of the pin's major, not older
    /// than [`HelmMajor::oldest_supported`]. Used with one warning.
    Compatible,
    Refused,
}

/// Only helm is accepted in other versions: users bring their own helm, as with ct,
/// while the cluster tools must match the pinned Kubernetes version and each other.
pub(crate) fn fit(tool: &str, version: &semver::Version, pinned: &semver::Version) -> Fit {
    if version_matches(version, pinned) {
        return Fit::Pinned;
    }
    let oldest = HelmMajor::of_tool(tool).map(HelmMajor::oldest_supported);
    match oldest {
        Some(oldest) if version.major == oldest.major && *version >= oldest => Fit::Compatible,
        _ => Fit::Refused,
    }
}

/// What `tool` must report, for messages: `v3.22.0 (or any helm 3 from v3.10.0)`.
fn needed(tool: &str, pin: &ToolPin) -> String {
    match HelmMajor::of_tool(tool) {
        Some(major) if major.oldest_supported().minor > 0 => format!(
            "{} (or any {major} from v{})",
            pin.version,
            major.oldest_supported()
        ),
        Some(major) => format!("{} (or any {major})", pin.version),
        None => pin.version.clone(),
    }
}

/// Finds `tool`: the first explicit choice decides alone (a refused one is an error,
/// not a reason to look elsewhere); otherwise the first acceptable binary of PATH
/// (under the binary name, then the pin's other names), `.tools/bin`, then the
/// machine-wide tool cache. PATH comes first so a user's own helm is used, as ct
/// does; where PATH has none (our CI), the pinned one from `.tools/bin` is.
pub(crate) async fn locate(
    repo_root: &Path,
    pins: &Pins,
    tool: &str,
    explicit: &[ExplicitChoice],
    env: &ToolEnv,
) -> Result<FoundTool, ToolError> {
    let pin = pins
        .tool(tool)
        .ok_or_else(|| super::unknown_tool(pins, tool))?;
    let pinned = pin.semver();
    let wrong_version = |found: Vec<String>| ToolError::WrongVersion {
        tool: tool.to_string(),
        needed: needed(tool, pin),
        found: found.join(", "),
        install: install_hint(tool, pin),
    };
    let accepted = |path: PathBuf, version: semver::Version, origin: ToolOrigin| {
        let fit = fit(tool, &version, &pinned);
        (fit != Fit::Refused).then(|| FoundTool {
            path,
            off_pin: (fit == Fit::Compatible).then(|| pin.version.clone()),
            version,
            origin,
        })
    };
    if let Some(choice) = explicit.first() {
        if !is_executable(&choice.path) {
            return Err(ToolError::Missing {
                tool: tool.to_string(),
                needed: needed(tool, pin),
                searched: format!(
                    "{} = {}, which is not an executable file",
                    choice.source,
                    choice.path.display()
                ),
                install: install_hint(tool, pin),
            });
        }
        let probe = probe_version(&choice.path, pin).await;
        let origin = ToolOrigin::Explicit(choice.source.clone());
        return probe
            .version
            .and_then(|version| accepted(choice.path.clone(), version, origin))
            .ok_or_else(|| {
                wrong_version(vec![format!(
                    "{} ({}) reports {}",
                    choice.path.display(),
                    choice.source,
                    probe.reported
                )])
            });
    }

    let bin_dir = tools_bin_dir(repo_root);
    let tools_bin = bin_dir.join(&pin.binary);
    let cached = cache_entry(&default_cache_dir(env), pins, tool, pin);
    let mut candidates: Vec<(PathBuf, ToolOrigin)> = Vec::new();
    let path_names = std::iter::once(&pin.binary).chain(&pin.path_names);
    for name in path_names {
        for found in env.find_on_path(name, Some(&bin_dir)) {
            candidates.push((found, ToolOrigin::Path));
        }
    }
    candidates.push((tools_bin.clone(), ToolOrigin::ToolsBin));
    candidates.push((cached.clone(), ToolOrigin::MachineCache));
    candidates.retain(|(path, _)| is_executable(path));
    let mut seen = Vec::new();
    candidates.retain(|(path, _)| {
        let new = !seen.contains(path);
        seen.push(path.clone());
        new
    });

    let mut mismatches = Vec::new();
    for (path, origin) in candidates {
        let probe = probe_version(&path, pin).await;
        match probe
            .version
            .and_then(|version| accepted(path.clone(), version, origin))
        {
            Some(found) => return Ok(found),
            None => mismatches.push(format!("{} reports {}", path.display(), probe.reported)),
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
        needed: needed(tool, pin),
        searched: format!(
            "{}, PATH ({}), {} and the machine-wide cache {}",
            explicit_sources(tool),
            names.join(", "),
            tools_bin.display(),
            cached.display()
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
    #[case::coredns("CoreDNS-1.14.6\nlinux/amd64, go1.26.8, \n", Some("1.14.6"), "1.14.6")]
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

    /// An environment with only `path` on PATH and the machine cache inside `repo`.
    fn env_in(repo: &Path, path: impl Into<OsString>) -> ToolEnv {
        ToolEnv::from_vars([
            ("PATH", path.into()),
            ("XDG_CACHE_HOME", repo.join("xdg").into_os_string()),
        ])
    }

    fn machine_cache_entry(repo: &Path, pins: &Pins, tool: &str) -> PathBuf {
        let env = env_in(repo, "");
        cache_entry(
            &default_cache_dir(&env),
            pins,
            tool,
            pins.tool(tool).unwrap(),
        )
    }

    #[rstest]
    #[case::pinned_helm3("helm3", "3.22.0", Fit::Pinned)]
    #[case::oldest_helm3("helm3", "3.10.0", Fit::Compatible)]
    #[case::ci_helm_of_repo_a("helm3", "3.14.0", Fit::Compatible)]
    #[case::newer_helm3("helm3", "3.23.1", Fit::Compatible)]
    #[case::too_old_helm3("helm3", "3.9.4", Fit::Refused)]
    #[case::helm4_for_helm3("helm3", "4.3.1", Fit::Refused)]
    #[case::any_helm4("helm4", "4.0.0", Fit::Compatible)]
    #[case::helm4_prerelease("helm4", "4.0.0-rc.1", Fit::Refused)]
    #[case::helm5("helm4", "5.0.0", Fit::Refused)]
    #[case::cluster_tools_are_exact("kind", "0.33.1", Fit::Refused)]
    fn helm_of_the_pinned_major_fits_from_its_oldest_supported_release(
        #[case] tool: &str,
        #[case] found: &str,
        #[case] expected: Fit,
    ) {
        let pins = Pins::embedded().unwrap();
        let pinned = pins.tool(tool).unwrap().semver();
        let found = semver::Version::parse(found).unwrap();
        assert_eq!(fit(tool, &found, &pinned), expected);
    }

    #[tokio::test]
    async fn a_helm_too_old_names_tool_found_needed_and_install_command() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        fake_tool(&tools_bin_dir(repo.path()), "helm3", "v3.9.4");
        let env = env_in(repo.path(), "");
        let error = locate(repo.path(), &pins, "helm3", &[], &env)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ToolError::WrongVersion { .. }), "{message}");
        for fact in [
            "helm3 v3.22.0 (or any helm 3 from v3.10.0) is needed",
            "reports v3.9.4",
            "tools install",
        ] {
            assert!(message.contains(fact), "`{fact}` missing from: {message}");
        }
    }

    #[tokio::test]
    async fn a_missing_tool_names_where_it_looked_and_the_install_command() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let env = env_in(repo.path(), repo.path().join("empty"));
        let error = locate(repo.path(), &pins, "kind", &[], &env)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ToolError::Missing { .. }), "{message}");
        let cached = machine_cache_entry(repo.path(), &pins, "kind");
        for fact in [
            "kind v0.33.0 is not installed",
            "PATH (kind)",
            ".tools/bin/kind",
            &format!("the machine-wide cache {}", cached.display()),
            "tools install kind",
        ] {
            assert!(message.contains(fact), "`{fact}` missing from: {message}");
        }
    }

    /// The user's helm on PATH first (as ct), then `.tools/bin` (our CI, where PATH
    /// has no helm), then the machine-wide cache (a chart repository with no `.tools`).
    #[tokio::test]
    async fn resolution_order_is_path_then_tools_bin_then_the_machine_cache() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("path");
        let env = env_in(repo.path(), &path_dir);
        let cached = machine_cache_entry(repo.path(), &pins, "helm4");
        fake_tool(cached.parent().unwrap(), "helm4", "v4.3.1");

        let found = locate(repo.path(), &pins, "helm4", &[], &env)
            .await
            .unwrap();
        assert_eq!(
            (found.path, found.origin, found.off_pin),
            (cached, ToolOrigin::MachineCache, None)
        );

        let installed = fake_tool(&tools_bin_dir(repo.path()), "helm4", "v4.3.1");
        let found = locate(repo.path(), &pins, "helm4", &[], &env)
            .await
            .unwrap();
        assert_eq!(
            (found.path, found.origin),
            (installed, ToolOrigin::ToolsBin)
        );

        let users = fake_tool(&path_dir, "helm", "v4.0.0");
        let found = locate(repo.path(), &pins, "helm4", &[], &env)
            .await
            .unwrap();
        assert_eq!(
            (found.path, found.origin, found.off_pin),
            (users, ToolOrigin::Path, Some("v4.3.1".to_string()))
        );
    }

    #[tokio::test]
    async fn a_cluster_tool_of_another_version_on_path_is_passed_over_for_the_pinned_one() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("path");
        fake_tool(&path_dir, "kind", "kind v0.20.0 go1.21 linux/amd64");
        let pinned = fake_tool(
            &tools_bin_dir(repo.path()),
            "kind",
            "kind v0.33.0 go1.26 linux/amd64",
        );
        let env = env_in(repo.path(), &path_dir);
        let found = locate(repo.path(), &pins, "kind", &[], &env).await.unwrap();
        assert_eq!((found.path, found.off_pin), (pinned, None));
    }

    #[tokio::test]
    async fn a_path_binary_of_another_major_is_skipped_for_a_matching_one() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let first = repo.path().join("first");
        let second = repo.path().join("second");
        fake_tool(&first, "helm", "v4.3.1");
        let good = fake_tool(&second, "helm", "v3.22.0");
        let env = env_in(
            repo.path(),
            std::env::join_paths([&first, &second]).unwrap(),
        );
        let found = locate(repo.path(), &pins, "helm3", &[], &env)
            .await
            .unwrap();
        assert_eq!(found.path, good);
    }

    #[tokio::test]
    async fn an_explicit_choice_of_the_wrong_major_is_an_error_not_skipped() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        fake_tool(&tools_bin_dir(repo.path()), "helm3", "v3.22.0");
        let wrong = fake_tool(&repo.path().join("x"), "helm", "v4.3.1");
        let env = ToolEnv::from_vars([("HELM", &wrong)]);
        let explicit = explicit_from_env("helm3", &env, true);
        assert_eq!(explicit.len(), 1);
        let message = locate(repo.path(), &pins, "helm3", &explicit, &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("$HELM") && message.contains("v4.3.1"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn another_helm_release_is_used_with_one_warning_naming_found_and_pinned() {
        let pins = Pins::embedded().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let theirs = fake_tool(&repo.path().join("x"), "helm", "v3.14.0");
        let env = ToolEnv::from_vars([("HELM3", &theirs)]);
        let explicit = explicit_from_env("helm3", &env, true);
        let found = locate(repo.path(), &pins, "helm3", &explicit, &env)
            .await
            .unwrap();
        assert_eq!(found.version, semver::Version::new(3, 14, 0));
        let warning = found.warning("helm3").expect("a warning");
        assert_eq!(
            warning,
            format!(
                "using v3.14.0 at {} (from $HELM3), not the pinned helm3 v3.22.0 chart-harness is tested with; if results differ, try the pinned one: `chart-harness tools install`, then set $HELM3 to .tools/bin/helm3",
                theirs.display()
            )
        );
        let pinned = FoundTool {
            off_pin: None,
            ..found
        };
        assert_eq!(pinned.warning("helm3"), None);
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
