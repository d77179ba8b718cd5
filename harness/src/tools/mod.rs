//! Every external process the harness runs: helm, git, go and the cluster tools.
//!
//! Versions are pinned in `ci/tools.toml` ([`pins`]); [`install`] puts them into
//! `.tools/bin` and the machine-wide cache; resolution ([`Toolbox::resolve`], [`check`])
//! finds them, or the user's own helm, and refuses a version the harness cannot run
//! with; [`process`] runs them.

mod download;
mod gobuild;
pub mod helm;
mod helm_pull;
pub mod install;
pub mod pins;
pub mod process;
pub mod resolve;

use std::path::{Path, PathBuf};

pub use helm::{
    Helm, HelmLintMessage, HelmLintReport, HelmMajor, RenderFailure, RenderRequest, WantedMajor,
};
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
    /// Where helm was found, for the run's header.
    pub helm_origin: ToolOrigin,
    /// Said once per run: a helm that is not the pinned release.
    pub warnings: Vec<String>,
    pub git: PathBuf,
    /// Why this major, for the run's header: what asked for it, or how the default
    /// was found.
    pub major_reason: String,
}

impl Toolbox {
    /// Finds helm of the wanted major (see [`locate`] for the order), checks its version
    /// against the pins, and finds git. `state_dir` holds helm's isolated config, cache
    /// and data directories.
    pub async fn resolve(
        repo_root: &Path,
        helm_major: HelmMajor,
        state_dir: &Path,
    ) -> Result<Toolbox, ToolError> {
        let wanted = WantedMajor {
            major: helm_major,
            asked_by: "the caller".to_string(),
        };
        Toolbox::resolve_with(repo_root, Some(wanted), state_dir, None).await
    }

    /// [`Toolbox::resolve`] where no major may be asked for (then the major of the
    /// user's own helm, `$HELM` or the first `helm` on PATH, as ct runs that one; else
    /// helm 4 if one is found, else helm 3 if one is), and with an explicit helm binary
    /// (a `--helm` flag), which takes precedence over `$HELM3`/`$HELM4` and `$HELM`.
    pub async fn resolve_with(
        repo_root: &Path,
        helm_major: Option<WantedMajor>,
        state_dir: &Path,
        helm_flag: Option<&Path>,
    ) -> Result<Toolbox, ToolError> {
        let env = ToolEnv::from_process();
        Toolbox::resolve_in(repo_root, helm_major, state_dir, helm_flag, &env).await
    }

    async fn resolve_in(
        repo_root: &Path,
        helm_major: Option<WantedMajor>,
        state_dir: &Path,
        helm_flag: Option<&Path>,
        env: &ToolEnv,
    ) -> Result<Toolbox, ToolError> {
        let pins = Pins::load(repo_root)?;
        let find = |major: HelmMajor| {
            let tool = major.tool_name();
            let mut explicit: Vec<ExplicitChoice> = helm_flag
                .map(|path| ExplicitChoice {
                    source: "--helm".into(),
                    path: path.to_path_buf(),
                })
                .into_iter()
                .collect();
            explicit.extend(explicit_from_env(tool, env, true));
            let pins = &pins;
            async move { locate(repo_root, pins, tool, &explicit, env).await }
        };
        let users_helm = match helm_major {
            Some(_) => None,
            None => users_helm_major(repo_root, &pins, env).await,
        };
        let (major, found, major_reason) = match (helm_major, users_helm) {
            (Some(wanted), _) => (
                wanted.major,
                find(wanted.major).await?,
                format!("asked for by {}", wanted.asked_by),
            ),
            (None, Some((major, reason))) => (major, find(major).await?, reason),
            (None, None) => match find(HelmMajor::V4).await {
                Ok(found) => (
                    HelmMajor::V4,
                    found,
                    "no helm on PATH, so the newest major installed".to_string(),
                ),
                Err(no_helm4) => match find(HelmMajor::V3).await {
                    Ok(found) => (
                        HelmMajor::V3,
                        found,
                        "no helm on PATH, and helm 3 is the only major installed".to_string(),
                    ),
                    // Neither: the default major's error says what to install.
                    Err(_) => return Err(no_helm4),
                },
            },
        };
        let tool = major.tool_name();
        let state_dir = std::path::absolute(state_dir).map_err(|source| ToolError::Io {
            action: "resolve the state directory".into(),
            path: state_dir.to_path_buf(),
            source,
        })?;
        let helm = Helm {
            path: found.path.clone(),
            version: found.version.clone(),
            major,
            home: state_dir.join(tool),
            go_threads: None,
        };
        let warning = found.warning(tool).map(|warning| {
            if helm.lint_takes_kube_version() {
                warning
            } else {
                format!(
                    "{warning}. helm before v3.14.0 has no `helm lint --kube-version`, so lint checks charts against helm's own default Kubernetes version"
                )
            }
        });
        Ok(Toolbox {
            warnings: warning.into_iter().collect(),
            helm_origin: found.origin,
            helm,
            git: locate_git(env)?,
            major_reason,
        })
    }

    /// The helm a run uses, for its header:
    /// `helm v3.14.0 (/usr/bin/helm, from PATH; the major of the helm on PATH, ...)`.
    pub fn helm_description(&self) -> String {
        format!(
            "helm v{} ({}, from {}; {})",
            self.helm.version,
            self.helm.path.display(),
            self.helm_origin,
            self.major_reason
        )
    }
}

/// The major of the user's own helm, which ct would run: `$HELM`, else the first `helm`
/// on PATH (not `.tools/bin`'s), when it reports a major chart-harness supports. With
/// it, a ct user's CI (helm 3 from setup-helm) keeps its major even on a machine whose
/// tool cache also holds helm 4.
async fn users_helm_major(
    repo_root: &Path,
    pins: &Pins,
    env: &ToolEnv,
) -> Option<(HelmMajor, String)> {
    let pin = pins.tool(HelmMajor::V4.tool_name())?;
    let (path, said) = match env.var("HELM") {
        Some(helm) => (PathBuf::from(helm), "$HELM"),
        None => (
            env.find_on_path("helm", Some(&resolve::tools_bin_dir(repo_root)))
                .into_iter()
                .next()?,
            "the helm on PATH",
        ),
    };
    let version = resolve::probe_version(&path, pin).await.version?;
    let major = [HelmMajor::V3, HelmMajor::V4]
        .into_iter()
        .find(|major| major.number() == version.major)?;
    Some((
        major,
        format!(
            "the major of {said} ({}, v{version}), as ct runs that helm; pass --helm to choose",
            path.display()
        ),
    ))
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

/// Where `tools install` put the pinned tools for a repository: its `.tools`, else the
/// machine-wide cache an install in any clone filled, so a chart repository needs no
/// `.tools` of its own. Files only, no version probe: both places hold only binaries
/// the installer checked against these pins.
pub struct Installed {
    pins: Pins,
    tools_dir: PathBuf,
    cache_dir: PathBuf,
}

impl Installed {
    pub fn open(repo_root: &Path) -> Result<Installed, ToolError> {
        Installed::open_in(repo_root, &ToolEnv::from_process())
    }

    pub(crate) fn open_in(repo_root: &Path, env: &ToolEnv) -> Result<Installed, ToolError> {
        Ok(Installed {
            pins: Pins::load(repo_root)?,
            tools_dir: repo_root.join(".tools"),
            cache_dir: install::default_cache_dir(env),
        })
    }

    /// The pinned binary `name`: `.tools/bin/<binary>`, else its machine-cache entry,
    /// else the `.tools/bin` path it would have, so a missing-tool error names it.
    pub fn binary(&self, name: &str) -> Result<PathBuf, ToolError> {
        let pin = self
            .pins
            .tool(name)
            .ok_or_else(|| unknown_tool(&self.pins, name))?;
        let local = self.tools_dir.join("bin").join(&pin.binary);
        let cached = install::cache_entry(&self.cache_dir, &self.pins, name, pin);
        Ok(
            if !resolve::is_executable(&local) && resolve::is_executable(&cached) {
                cached
            } else {
                local
            },
        )
    }

    /// The directory holding tool `name`'s data files (`stages/`): `.tools/share/<name>`,
    /// else its machine-cache entry, else the `.tools` one.
    pub fn data_dir(&self, name: &str) -> Result<PathBuf, ToolError> {
        let pin = self
            .pins
            .tool(name)
            .ok_or_else(|| unknown_tool(&self.pins, name))?;
        let local = self.tools_dir.join("share").join(name);
        Ok(match install::cached_data(&self.cache_dir, name, pin) {
            Some(cached) if !local.is_dir() && cached.is_dir() => cached,
            _ => local,
        })
    }
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

/// Every pinned tool against what resolution finds (its own env var, PATH,
/// `.tools/bin`, the machine-wide cache), for `tools list`. `$HELM` is not consulted: it means the helm of whichever
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
            found: locate(repo_root, &pins, name, &explicit, env).await,
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

    fn fake(dir: &Path, name: &str, prints: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho {prints}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// git through `$GIT`, nothing on PATH, the machine cache inside `repo`.
    fn isolated_env(repo: &Path, extra: &[(&str, &Path)]) -> ToolEnv {
        let git = fake(&repo.join("git-bin"), "git", "git version 2");
        let mut vars: Vec<(String, PathBuf)> = vec![
            ("GIT".into(), git),
            ("PATH".into(), repo.join("nothing")),
            ("XDG_CACHE_HOME".into(), repo.join("xdg")),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_path_buf())));
        ToolEnv::from_vars(vars)
    }

    /// With no major asked for, the user's helm on PATH decides it (ct runs that one),
    /// even where `.tools/bin` holds the other major; without one, the newest installed.
    #[tokio::test]
    async fn the_helm_on_path_decides_the_default_major() {
        let repo = tempfile::tempdir().unwrap();
        fake(&tools_bin_dir(repo.path()), "helm4", "v4.3.1");
        let users = repo.path().join("users-bin");
        fake(&users, "helm", "v3.10.3");
        let env = isolated_env(repo.path(), &[("PATH", &users)]);
        let toolbox = Toolbox::resolve_in(repo.path(), None, Path::new("s"), None, &env)
            .await
            .unwrap();
        assert_eq!(toolbox.helm.major, HelmMajor::V3);
        assert_eq!(toolbox.helm.path, users.join("helm"));
        assert_eq!(
            toolbox.major_reason,
            format!(
                "the major of the helm on PATH ({}, v3.10.3), as ct runs that helm; pass --helm to choose",
                users.join("helm").display()
            )
        );

        let env = isolated_env(repo.path(), &[]);
        let toolbox = Toolbox::resolve_in(repo.path(), None, Path::new("s"), None, &env)
            .await
            .unwrap();
        assert_eq!(toolbox.helm.major, HelmMajor::V4);
        assert_eq!(
            toolbox.major_reason,
            "no helm on PATH, so the newest major installed"
        );
    }

    fn asked(major: HelmMajor) -> WantedMajor {
        WantedMajor {
            major,
            asked_by: "the caller".to_string(),
        }
    }

    #[tokio::test]
    async fn resolve_gives_helm_an_absolute_isolated_home_per_major() {
        let repo = tempfile::tempdir().unwrap();
        let bin = tools_bin_dir(repo.path());
        fake(&bin, "helm3", "v3.22.0");
        let env = isolated_env(repo.path(), &[]);
        let state = Path::new("state");
        let toolbox =
            Toolbox::resolve_in(repo.path(), Some(asked(HelmMajor::V3)), state, None, &env)
                .await
                .unwrap();
        assert_eq!(toolbox.helm.path, bin.join("helm3"));
        assert_eq!(toolbox.helm.version, semver::Version::new(3, 22, 0));
        assert!(toolbox.helm.home.is_absolute());
        assert!(toolbox.helm.home.ends_with("state/helm3"));
        assert_eq!(toolbox.warnings, Vec::<String>::new());
        assert_eq!(
            toolbox.helm_description(),
            format!(
                "helm v3.22.0 ({}, from .tools/bin; asked for by the caller)",
                bin.join("helm3").display()
            )
        );

        let error = Toolbox::resolve_in(repo.path(), Some(asked(HelmMajor::V4)), state, None, &env)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("helm4 v4.3.1 (or any helm 4) is not installed"),
            "{error}"
        );
    }

    /// With no major asked for (flag, `CHART_HARNESS_HELM`, config), the one major that
    /// is installed is used; with both, helm 4.
    #[tokio::test]
    async fn without_a_chosen_major_the_installed_major_is_the_default() {
        let repo = tempfile::tempdir().unwrap();
        let bin = tools_bin_dir(repo.path());
        let state = Path::new("state");
        let env = isolated_env(repo.path(), &[]);
        let error = Toolbox::resolve_in(repo.path(), None, state, None, &env)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ToolError::Missing { ref tool, .. } if tool == "helm4"),
            "{error}"
        );

        fake(&bin, "helm3", "v3.22.0");
        let toolbox = Toolbox::resolve_in(repo.path(), None, state, None, &env)
            .await
            .unwrap();
        assert_eq!(toolbox.helm.major, HelmMajor::V3);
        assert!(toolbox.helm.home.ends_with("state/helm3"));

        fake(&bin, "helm4", "v4.3.1");
        let toolbox = Toolbox::resolve_in(repo.path(), None, state, None, &env)
            .await
            .unwrap();
        assert_eq!(toolbox.helm.major, HelmMajor::V4);

        // `$HELM` names the user's helm 3: its major is the run's, with the warning.
        let theirs = fake(&repo.path().join("theirs"), "helm", "v3.14.0");
        let env = isolated_env(repo.path(), &[("HELM", &theirs)]);
        let toolbox = Toolbox::resolve_in(repo.path(), None, state, None, &env)
            .await
            .unwrap();
        assert_eq!(
            (toolbox.helm.major, toolbox.helm.path.clone()),
            (HelmMajor::V3, theirs)
        );
        assert_eq!(toolbox.warnings.len(), 1, "{:?}", toolbox.warnings);
        assert!(
            toolbox.warnings[0].contains("v3.14.0") && toolbox.warnings[0].contains("v3.22.0"),
            "{:?}",
            toolbox.warnings
        );
    }

    /// A repository with no `.tools` gets the pinned tools another clone installed
    /// into the machine-wide cache; its own `.tools` wins when it has one.
    #[test]
    fn installed_tools_come_from_the_repository_then_the_machine_cache() {
        let repo = tempfile::tempdir().unwrap();
        let env = isolated_env(repo.path(), &[]);
        let installed = Installed::open_in(repo.path(), &env).unwrap();
        let pins = Pins::embedded().unwrap();
        let cache = install::default_cache_dir(&env);
        assert!(cache.starts_with(repo.path().join("xdg")));
        let local = tools_bin_dir(repo.path()).join("etcd");
        assert_eq!(
            installed.binary("etcd").unwrap(),
            local,
            "missing: named in .tools"
        );

        let cached = install::cache_entry(&cache, &pins, "etcd", pins.tool("etcd").unwrap());
        fake(cached.parent().unwrap(), "etcd", "etcd Version: 3.6.16");
        assert_eq!(installed.binary("etcd").unwrap(), cached);
        fake(local.parent().unwrap(), "etcd", "etcd Version: 3.6.16");
        assert_eq!(installed.binary("etcd").unwrap(), local);

        let kwok = pins.tool("kwok").unwrap();
        let cached_data = install::cached_data(&cache, "kwok", kwok).unwrap();
        std::fs::create_dir_all(&cached_data).unwrap();
        assert_eq!(installed.data_dir("kwok").unwrap(), cached_data);
        let message = installed.binary("kwokct").unwrap_err().to_string();
        assert!(message.contains("did you mean `kwokctl`"), "{message}");
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
