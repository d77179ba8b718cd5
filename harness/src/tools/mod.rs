//! Every external process the harness runs: helm, git, go and the cluster tools.
//!
//! Versions are pinned in `ci/tools.toml` ([`pins`]); [`install`] puts them into
//! `.tools/bin`; resolution ([`Toolbox::resolve`], [`check`]) finds them again and refuses
//! any binary of another version; [`process`] runs them.

mod download;
mod gobuild;
pub mod helm;
pub mod install;
pub mod pins;
pub mod process;
pub mod resolve;

use std::path::{Path, PathBuf};

pub use helm::{Helm, HelmLintMessage, HelmLintReport, HelmMajor, RenderFailure, RenderRequest};
pub use pins::Pins;
pub use process::{ProcessOutput, ProcessSpec};
pub use resolve::{FoundTool, ToolEnv, ToolOrigin, tools_bin_dir};

use resolve::{ExplicitChoice, explicit_from_env, locate, locate_git};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {timeout:?} and was killed")]
    TimedOut {
        command: String,
        timeout: std::time::Duration,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{tool} {needed} is not installed (looked at {searched}); install it with {install}")]
    Missing {
        tool: String,
        needed: String,
        searched: String,
        install: String,
    },
    #[error("{tool} {needed} is needed, but {found}; install the pinned version with {install}")]
    WrongVersion {
        tool: String,
        needed: String,
        /// Each binary looked at and the version it reported.
        found: String,
        install: String,
    },
    #[error("the tool pins in {origin} are invalid: {message}")]
    Pins { origin: String, message: String },
    #[error("no tool `{name}` is pinned in {origin}{suggestion}; pinned tools: {known}")]
    UnknownTool {
        name: String,
        origin: String,
        /// `; did you mean `x`?` or empty.
        suggestion: String,
        known: String,
    },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot download {url}: {message}")]
    Download { url: String, message: String },
    #[error(
        "checksum mismatch for {url}: {checksum_url} publishes sha256 {expected} but the download hashes to {actual}; nothing was installed. Retry later, or report the mirror if it persists"
    )]
    ChecksumMismatch {
        url: String,
        checksum_url: String,
        expected: String,
        actual: String,
    },
    #[error("installing {tool} {version} failed: {message}")]
    Install {
        tool: String,
        version: String,
        message: String,
    },
}

/// The resolved tools of one run.
#[derive(Clone, Debug)]
pub struct Toolbox {
    pub helm: Helm,
    pub git: PathBuf,
}

impl Toolbox {
    /// Finds helm of the wanted major (flag/env, then `.tools/bin`, then PATH), checks
    /// its version against the pins, and finds git. `state_dir` holds helm's isolated
    /// config, cache and data directories.
    pub async fn resolve(
        repo_root: &Path,
        helm_major: HelmMajor,
        state_dir: &Path,
    ) -> Result<Toolbox, ToolError> {
        Toolbox::resolve_with(repo_root, helm_major, state_dir, None).await
    }

    /// [`Toolbox::resolve`] with an explicit helm binary (a `--helm` flag), which takes
    /// precedence over `$HELM3`/`$HELM4` and `$HELM`.
    pub async fn resolve_with(
        repo_root: &Path,
        helm_major: HelmMajor,
        state_dir: &Path,
        helm_flag: Option<&Path>,
    ) -> Result<Toolbox, ToolError> {
        let env = ToolEnv::from_process();
        Toolbox::resolve_in(repo_root, helm_major, state_dir, helm_flag, &env).await
    }

    async fn resolve_in(
        repo_root: &Path,
        helm_major: HelmMajor,
        state_dir: &Path,
        helm_flag: Option<&Path>,
        env: &ToolEnv,
    ) -> Result<Toolbox, ToolError> {
        let pins = Pins::load(repo_root)?;
        let tool = helm_major.tool_name();
        let pin = pins.tool(tool).ok_or_else(|| unknown_tool(&pins, tool))?;
        let mut explicit: Vec<ExplicitChoice> = helm_flag
            .map(|path| ExplicitChoice {
                source: "--helm".into(),
                path: path.to_path_buf(),
            })
            .into_iter()
            .collect();
        explicit.extend(explicit_from_env(tool, env, true));
        let found = locate(repo_root, tool, pin, &explicit, env).await?;
        let state_dir = std::path::absolute(state_dir).map_err(|source| ToolError::Io {
            action: "resolve the state directory".into(),
            path: state_dir.to_path_buf(),
            source,
        })?;
        Ok(Toolbox {
            helm: Helm {
                path: found.path,
                version: found.version,
                major: helm_major,
                home: state_dir.join(tool),
                go_threads: None,
            },
            git: locate_git(env)?,
        })
    }
}

/// Go threads per helm process when `jobs` trials run at once on this machine: the
/// cores divided among the jobs. `None` when the user set `GOMAXPROCS` (theirs wins)
/// or a single job may use every core.
pub fn go_threads_for(jobs: usize) -> Option<usize> {
    if std::env::var_os("GOMAXPROCS").is_some() || jobs <= 1 {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some((cores / jobs).max(1))
}

/// git from `$GIT` or PATH, for commands that need nothing else (`list-changed`).
pub fn find_git() -> Result<PathBuf, ToolError> {
    locate_git(&ToolEnv::from_process())
}

/// The Kubernetes version pinned in `ci/tools.toml`, which rendering targets by default.
pub fn pinned_kube_version(repo_root: &Path) -> Result<String, ToolError> {
    Ok(Pins::load(repo_root)?.kubernetes_version().to_string())
}

/// One pinned tool as `tools list` shows it.
#[derive(Debug)]
pub struct ToolStatus {
    pub name: String,
    pub pinned: String,
    /// Installed by a plain `tools install`.
    pub default: bool,
    /// The binary resolution picks, or why there is none.
    pub found: Result<FoundTool, ToolError>,
}

/// Every pinned tool against what resolution finds (its own env var, `.tools/bin`,
/// PATH), for `tools list`. `$HELM` is not consulted: it means the helm of whichever
/// major a run selects, which a listing does not have.
pub async fn check(repo_root: &Path) -> Result<Vec<ToolStatus>, ToolError> {
    check_in(repo_root, &ToolEnv::from_process()).await
}

async fn check_in(repo_root: &Path, env: &ToolEnv) -> Result<Vec<ToolStatus>, ToolError> {
    let pins = Pins::load(repo_root)?;
    let mut statuses = Vec::new();
    for (name, pin) in pins.tools() {
        let explicit = explicit_from_env(name, env, false);
        statuses.push(ToolStatus {
            name: name.to_string(),
            pinned: pin.version.clone(),
            default: pin.default,
            found: locate(repo_root, name, pin, &explicit, env).await,
        });
    }
    Ok(statuses)
}

fn unknown_tool(pins: &Pins, name: &str) -> ToolError {
    let known: Vec<&str> = pins.tools().map(|(name, _)| name).collect();
    let suggestion = known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default();
    ToolError::UnknownTool {
        name: name.to_string(),
        origin: pins.origin.clone(),
        suggestion,
        known: known.join(", "),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn parallel_helms_share_the_cores() {
        if std::env::var_os("GOMAXPROCS").is_some() {
            assert_eq!(go_threads_for(8), None, "the user's GOMAXPROCS wins");
            return;
        }
        assert_eq!(go_threads_for(1), None, "one job may use every core");
        assert_eq!(
            go_threads_for(usize::MAX),
            Some(1),
            "never below one thread"
        );
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(go_threads_for(2), Some((cores / 2).max(1)));
    }

    use super::*;

    /// The repository root of chart-harness itself, where `tools install` puts the
    /// pinned helms the real-helm tests use.
    pub(crate) fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    #[tokio::test]
    async fn check_reports_every_pinned_tool_with_what_it_found() {
        let repo = tempfile::tempdir().unwrap();
        let bin = tools_bin_dir(repo.path());
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("kind");
        std::fs::write(&script, "#!/bin/sh\necho kind v0.33.0 go1.26 linux/amd64\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = ToolEnv::from_vars([("PATH", repo.path().join("nothing"))]);

        let statuses = check_in(repo.path(), &env).await.unwrap();
        let pins = Pins::embedded().unwrap();
        assert_eq!(statuses.len(), pins.tools().count());
        let kind = statuses.iter().find(|s| s.name == "kind").unwrap();
        let found = kind.found.as_ref().expect("kind is found");
        assert_eq!(
            (found.origin.clone(), found.path.clone()),
            (ToolOrigin::ToolsBin, script)
        );
        let helm3 = statuses.iter().find(|s| s.name == "helm3").unwrap();
        assert!(helm3.default);
        assert!(matches!(helm3.found, Err(ToolError::Missing { .. })));
    }

    #[tokio::test]
    async fn resolve_gives_helm_an_absolute_isolated_home_per_major() {
        let repo = tempfile::tempdir().unwrap();
        let bin = tools_bin_dir(repo.path());
        std::fs::create_dir_all(&bin).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for (name, prints) in [("helm3", "v3.22.0"), ("git", "git version 2")] {
            std::fs::write(bin.join(name), format!("#!/bin/sh\necho {prints}\n")).unwrap();
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let env = ToolEnv::from_vars([("GIT", bin.join("git"))]);
        let toolbox =
            Toolbox::resolve_in(repo.path(), HelmMajor::V3, Path::new("state"), None, &env)
                .await
                .unwrap();
        assert_eq!(toolbox.helm.path, bin.join("helm3"));
        assert_eq!(toolbox.helm.version, semver::Version::new(3, 22, 0));
        assert!(toolbox.helm.home.is_absolute());
        assert!(toolbox.helm.home.ends_with("state/helm3"));

        let error = Toolbox::resolve_in(repo.path(), HelmMajor::V4, Path::new("state"), None, &env)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("helm4 v4.3.1 is not installed"),
            "{error}"
        );
    }

    #[test]
    fn unknown_tools_get_the_nearest_pinned_name() {
        let pins = Pins::embedded().unwrap();
        let message = unknown_tool(&pins, "kwokct").to_string();
        assert!(message.contains("did you mean `kwokctl`?"), "{message}");
        assert!(message.contains("helm3"), "{message}");
    }

    #[test]
    fn the_pinned_kubernetes_version_has_no_v_prefix() {
        assert_eq!(pinned_kube_version(&repo_root()).unwrap(), "1.37.2");
    }
}
