//! `tools install`: puts every selected pinned tool into `.tools/bin`.
//!
//! Cheapest source first: a version stamp that says it is already there (no process
//! runs at all, so a repeated install is instant), the machine-wide cache of binaries
//! built or downloaded before (a fresh clone copies instead of rebuilding), a binary of
//! the pinned version on PATH, then the official release or a Go build from source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ToolError;
use super::download::{fetch_verified_binary, hex};
use super::gobuild::GoBuild;
use super::pins::{Pins, ReleaseLocation, ToolData, ToolPin, go_arch, go_os};
use super::process::{self, ProcessSpec};
use super::resolve::{
    ToolEnv, VersionProbe, is_executable, probe_version, tools_bin_dir, version_matches,
};

/// Which tools to install.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ToolSelection {
    /// The tools pinned with `default = true` (helm 3 and helm 4).
    #[default]
    Default,
    /// Every pinned tool.
    All,
    /// These tools, by their names in `ci/tools.toml`.
    Named(Vec<String>),
}

/// Where a tool missing from every cache comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstallFrom {
    /// Build it with Go through the module proxy.
    Source,
    /// Download the official release and check its sha256; fail without one.
    Release,
    /// The release where the tool has one and it downloads, else a source build.
    #[default]
    Auto,
}

#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    pub tools: ToolSelection,
    pub from: InstallFrom,
    /// Reinstall even when the stamp says the tool is present.
    pub force: bool,
    /// Machine-wide cache of installed binaries; default
    /// `${XDG_CACHE_HOME:-~/.cache}/chart-harness/tools`.
    pub cache_dir: Option<PathBuf>,
    /// Downloads releases from this mirror, which holds each official URL's host and
    /// path under it (`<mirror>/dl.k8s.io/release/v1.37.2/bin/linux/amd64/kubectl`).
    pub release_mirror: Option<String>,
}

/// What `install` did for each tool.
#[derive(Clone, Debug)]
pub struct InstallReport {
    pub tools: Vec<InstalledTool>,
    pub elapsed: Duration,
}

#[derive(Clone, Debug)]
pub struct InstalledTool {
    pub name: String,
    pub version: String,
    /// The binary in `.tools/bin`.
    pub path: PathBuf,
    pub action: InstallAction,
    /// Why a cheaper source was not used, e.g. a release download that failed.
    pub note: Option<String>,
    pub elapsed: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallAction {
    /// The stamp matched and the binary was there; nothing ran.
    AlreadyInstalled,
    CopiedFromCache(PathBuf),
    CopiedFromPath(PathBuf),
    Downloaded(String),
    Built,
}

impl std::fmt::Display for InstallAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallAction::AlreadyInstalled => write!(f, "already installed"),
            InstallAction::CopiedFromCache(dir) => {
                write!(f, "copied from the cache {}", dir.display())
            }
            InstallAction::CopiedFromPath(path) => write!(f, "copied from {}", path.display()),
            InstallAction::Downloaded(url) => write!(f, "downloaded {url}"),
            InstallAction::Built => write!(f, "built from source"),
        }
    }
}

/// Installs the selected tools into `<repo_root>/.tools/bin` and records them in
/// `.tools/stamp.json`. Tools are installed one after another: builds use every core.
pub async fn install(
    repo_root: &Path,
    options: &InstallOptions,
) -> Result<InstallReport, ToolError> {
    install_in(repo_root, options, &ToolEnv::from_process()).await
}

pub(crate) async fn install_in(
    repo_root: &Path,
    options: &InstallOptions,
    env: &ToolEnv,
) -> Result<InstallReport, ToolError> {
    let started = Instant::now();
    let pins = Pins::load(repo_root)?;
    let selected = select(&pins, &options.tools)?;
    let installer = Installer {
        pins: &pins,
        options,
        env,
        bin_dir: tools_bin_dir(repo_root),
        tools_dir: repo_root.join(".tools"),
        cache_dir: options
            .cache_dir
            .clone()
            .unwrap_or_else(|| default_cache_dir(env)),
    };
    let mut stamp = Stamp::read(&installer.stamp_path());
    let mut tools = Vec::new();
    for name in selected {
        let pin = pins
            .tool(&name)
            .ok_or_else(|| super::unknown_tool(&pins, &name))?;
        let installed = installer.install_one(&name, pin, &stamp).await?;
        let data_fingerprint = match &pin.data {
            Some(data) => Some(installer.install_data(&name, pin, data, &stamp).await?),
            None => None,
        };
        let entry = StampEntry {
            version: pin.version.clone(),
            fingerprint: fingerprint(&pins, &name, pin),
            data: data_fingerprint,
        };
        if stamp.tools.get(&name) != Some(&entry) {
            stamp.tools.insert(name.clone(), entry);
            stamp.write(&installer.stamp_path())?;
        }
        tools.push(installed);
    }
    Ok(InstallReport {
        tools,
        elapsed: started.elapsed(),
    })
}

fn select(pins: &Pins, selection: &ToolSelection) -> Result<Vec<String>, ToolError> {
    let names: Vec<String> = match selection {
        ToolSelection::Default => pins.default_tools().into_iter().map(String::from).collect(),
        ToolSelection::All => pins.tools().map(|(name, _)| name.to_string()).collect(),
        ToolSelection::Named(names) => names.clone(),
    };
    for name in &names {
        if pins.tool(name).is_none() {
            return Err(super::unknown_tool(pins, name));
        }
    }
    Ok(names)
}

/// How long `go mod download` of one module may take (a cold proxy download).
const MODULE_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Identifies the binary a pin produces: name, version, recipe, resolved `-X` values
/// and platform. A change to any of them (say the pinned Kubernetes version, which
/// helm 3 bakes in) makes the stamp and the cache entry stale.
fn fingerprint(pins: &Pins, name: &str, pin: &ToolPin) -> String {
    let identity = serde_json::json!({
        "name": name,
        "version": pin.version,
        "binary": pin.binary,
        "build": pin.build,
        "x": pins.x_assignments(pin),
        "platform": format!("{}-{}", go_os(), go_arch()),
    });
    hex(&Sha256::digest(identity.to_string().as_bytes()))[..16].to_string()
}

/// Identifies a tool's data files: module, version and the listed paths.
fn data_fingerprint(name: &str, pin: &ToolPin, data: &ToolData) -> String {
    let identity = serde_json::json!({
        "name": name,
        "version": pin.version,
        "data": data,
    });
    hex(&Sha256::digest(identity.to_string().as_bytes()))[..16].to_string()
}

/// The binary of exactly this pin in the machine-wide cache:
/// `<cache>/<name>-<version>-<fingerprint>/<binary>`. Resolution looks here too, so a
/// chart repository needs no `.tools` of its own once any clone on the machine
/// installed the tool.
pub(crate) fn cache_entry(cache_dir: &Path, pins: &Pins, name: &str, pin: &ToolPin) -> PathBuf {
    cache_dir
        .join(format!(
            "{name}-{}-{}",
            pin.version,
            fingerprint(pins, name, pin)
        ))
        .join(&pin.binary)
}

/// A tool's data files in the machine-wide cache: `<cache>/<name>-<version>-data-<fingerprint>`.
fn cached_data_dir(cache_dir: &Path, name: &str, pin: &ToolPin, fingerprint: &str) -> PathBuf {
    cache_dir.join(format!("{name}-{}-data-{fingerprint}", pin.version))
}

/// The cached data directory of a pinned tool's data, if it has any.
pub(crate) fn cached_data(cache_dir: &Path, name: &str, pin: &ToolPin) -> Option<PathBuf> {
    let data = pin.data.as_ref()?;
    Some(cached_data_dir(
        cache_dir,
        name,
        pin,
        &data_fingerprint(name, pin, data),
    ))
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/chart-harness/tools`.
pub(crate) fn default_cache_dir(env: &ToolEnv) -> PathBuf {
    let base = env
        .var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env.var("HOME").map(|home| Path::new(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("chart-harness").join("tools")
}

struct Installer<'a> {
    pins: &'a Pins,
    options: &'a InstallOptions,
    env: &'a ToolEnv,
    bin_dir: PathBuf,
    tools_dir: PathBuf,
    cache_dir: PathBuf,
}

impl Installer<'_> {
    /// Where a tool's data files are installed: `.tools/share/<tool>`, the sibling of
    /// `.tools/bin` where the local cluster provider looks for them.
    fn share_dir(&self, tool: &str) -> PathBuf {
        self.tools_dir.join("share").join(tool)
    }

    fn stamp_path(&self) -> PathBuf {
        self.tools_dir.join("stamp.json")
    }

    /// Installs the tool's data files into `.tools/share/<tool>/` and returns their
    /// fingerprint for the stamp. A matching stamp with every file present does
    /// nothing; otherwise the files come from the machine-wide cache, else from the Go
    /// module cache (`go mod download`), and are then stored in the machine cache.
    async fn install_data(
        &self,
        name: &str,
        pin: &ToolPin,
        data: &ToolData,
        stamp: &Stamp,
    ) -> Result<String, ToolError> {
        let fingerprint = data_fingerprint(name, pin, data);
        let share = self.share_dir(name);
        let stamped = stamp
            .tools
            .get(name)
            .is_some_and(|entry| entry.data.as_deref() == Some(fingerprint.as_str()));
        if stamped && !self.options.force && installed_data(&share, data).is_some() {
            return Ok(fingerprint);
        }
        let cached = cached_data_dir(&self.cache_dir, name, pin, &fingerprint);
        let cached_files = (!self.options.force)
            .then(|| installed_data(&cached, data))
            .flatten();
        let from_cache = cached_files.is_some();
        // (source, path under the share directory) for every file.
        let placements: Vec<(PathBuf, PathBuf)> = match cached_files {
            Some(files) => files
                .into_iter()
                .map(|rel| (cached.join(&rel), rel))
                .collect(),
            None => {
                let mut placements = Vec::new();
                let not_in_module = |module: &str, version: &str| {
                    let (tool, pinned) = (name.to_string(), pin.version.clone());
                    let module = format!("{module}@{version}");
                    move |message: String| ToolError::Install {
                        tool: tool.clone(),
                        version: pinned,
                        message: format!(
                            "{message} in the module {module}; fix tools.{tool}.data in ci/tools.toml"
                        ),
                    }
                };
                for (module, versions, patterns) in data.file_modules(pin) {
                    for version in versions {
                        let module_dir = self.module_dir(name, pin, module, version).await?;
                        placements.extend(
                            file_placements(&module_dir, module, version, patterns)
                                .map_err(not_in_module(module, version))?,
                        );
                    }
                }
                if !data.stages.is_empty() {
                    let versions = data.module_versions(pin);
                    let newest = versions.last().copied().unwrap_or(&pin.version);
                    let module_dir = self.module_dir(name, pin, &data.module, newest).await?;
                    placements.extend(
                        stage_placements(&module_dir, data)
                            .map_err(not_in_module(&data.module, newest))?,
                    );
                }
                placements
            }
        };
        // Files of an older list must not linger: kwokctl is given every stage there,
        // and readers of `files/` take every file the list names.
        for dir in [ToolData::STAGES_DIR, ToolData::FILES_DIR, FILES_LIST] {
            let old = share.join(dir);
            let removed = if old.is_dir() {
                std::fs::remove_dir_all(&old)
            } else if old.exists() {
                std::fs::remove_file(&old)
            } else {
                Ok(())
            };
            removed.map_err(|source| io_error("remove the old", &old, source))?;
        }
        for (source, rel) in &placements {
            self.place(source, &share.join(rel)).await?;
        }
        let list = files_list(&placements);
        if data.has_files() {
            std::fs::write(share.join(FILES_LIST), &list)
                .map_err(|source| io_error("write", &share.join(FILES_LIST), source))?;
        }
        if !from_cache {
            for (source, rel) in &placements {
                self.store_in_cache(source, &cached.join(rel)).await;
            }
            // Written last: a cache entry with its list is a complete one.
            if data.has_files()
                && let Err(error) = std::fs::write(cached.join(FILES_LIST), &list)
            {
                tracing::warn!(%error, "cannot store the file list in the machine-wide tool cache");
            }
        }
        tracing::info!(tool = name, dir = %share.display(), from_cache, "installed the data files");
        Ok(fingerprint)
    }

    /// The module's directory in the Go module cache, downloading it if needed.
    async fn module_dir(
        &self,
        name: &str,
        pin: &ToolPin,
        module: &str,
        version: &str,
    ) -> Result<PathBuf, ToolError> {
        let go = self.go(name, pin)?;
        let scratch = self.scratch_dir()?;
        let spec = ProcessSpec::new(go, MODULE_DOWNLOAD_TIMEOUT)
            .current_dir(scratch.path())
            .env("GOWORK", "off")
            .env("GOFLAGS", "-mod=mod")
            .args(["mod", "download", "-json"])
            .arg(format!("{module}@{version}"));
        let output = process::run_checked(&spec).await?;
        let info: serde_json::Value =
            serde_json::from_str(&output.stdout).map_err(|e| ToolError::Install {
                tool: name.to_string(),
                version: pin.version.clone(),
                message: format!("`{}` printed no JSON: {e}", spec.display()),
            })?;
        info["Dir"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| ToolError::Install {
                tool: name.to_string(),
                version: pin.version.clone(),
                message: format!(
                    "`{}` named no module directory: {}",
                    spec.display(),
                    output.stdout.trim()
                ),
            })
    }

    async fn install_one(
        &self,
        name: &str,
        pin: &ToolPin,
        stamp: &Stamp,
    ) -> Result<InstalledTool, ToolError> {
        let started = Instant::now();
        let dest = self.bin_dir.join(&pin.binary);
        let fingerprint = fingerprint(self.pins, name, pin);
        let done = |action: InstallAction, note: Option<String>| InstalledTool {
            name: name.to_string(),
            version: pin.version.clone(),
            path: dest.clone(),
            action,
            note,
            elapsed: started.elapsed(),
        };
        let stamped = stamp
            .tools
            .get(name)
            .is_some_and(|entry| entry.version == pin.version && entry.fingerprint == fingerprint);
        if stamped && !self.options.force && is_executable(&dest) {
            return Ok(done(InstallAction::AlreadyInstalled, None));
        }
        // Put there by hand or before stamps existed: one version probe decides. A stamp
        // for another fingerprint means the pin changed in a way the version does not
        // show (helm 3's Kubernetes ldflags), so that binary is replaced.
        let unstamped = !stamp.tools.contains_key(name);
        if unstamped
            && !self.options.force
            && is_executable(&dest)
            && self.is_pinned(&dest, pin).await
        {
            return Ok(done(InstallAction::AlreadyInstalled, None));
        }

        let cache_entry = cache_entry(&self.cache_dir, self.pins, name, pin);
        if !self.options.force
            && is_executable(&cache_entry)
            && self.is_pinned(&cache_entry, pin).await
        {
            self.place(&cache_entry, &dest).await?;
            return Ok(done(InstallAction::CopiedFromCache(cache_entry), None));
        }
        if !self.options.force
            && let Some(found) = self.pinned_on_path(pin).await
        {
            self.place(&found, &dest).await?;
            return Ok(done(InstallAction::CopiedFromPath(found), None));
        }

        let scratch = self.scratch_dir()?;
        let (binary, action, note) = self.fetch(name, pin, scratch.path()).await?;
        let probe = probe_version(&binary, pin).await;
        if !probe_matches(&probe, pin) {
            return Err(ToolError::Install {
                tool: name.to_string(),
                version: pin.version.clone(),
                message: format!(
                    "the new binary reports {} (asked with `{}`); check build.x in ci/tools.toml",
                    probe.reported,
                    pin.version_args.join(" ")
                ),
            });
        }
        self.store_in_cache(&binary, &cache_entry).await;
        self.place(&binary, &dest).await?;
        Ok(done(action, note))
    }

    /// A release download or a source build, as the options say, into `scratch`.
    async fn fetch(
        &self,
        name: &str,
        pin: &ToolPin,
        scratch: &Path,
    ) -> Result<(PathBuf, InstallAction, Option<String>), ToolError> {
        let release = match (&pin.release, self.options.from) {
            (_, InstallFrom::Source) => None,
            (Some(release), _) => Some(release),
            (None, InstallFrom::Release) => {
                return Err(ToolError::Install {
                    tool: name.to_string(),
                    version: pin.version.clone(),
                    message: "ci/tools.toml names no official release for it; install it with `--from source`".into(),
                });
            }
            (None, InstallFrom::Auto) => None,
        };
        let mut note = None;
        if let Some(release) = release {
            let location = release.locate(&pin.version, self.options.release_mirror.as_deref());
            match location.checksum_url.clone() {
                None => {
                    let unverifiable = format!(
                        "its official release {} comes without a published checksum, and chart-harness never installs a download it cannot check",
                        location.url
                    );
                    if self.options.from == InstallFrom::Release {
                        return Err(ToolError::Install {
                            tool: name.to_string(),
                            version: pin.version.clone(),
                            message: format!(
                                "{unverifiable}; install it with `--from source` (or `--from auto`)"
                            ),
                        });
                    }
                    tracing::info!(tool = name, "{unverifiable}; building from source");
                    note = Some(format!("{unverifiable}; built from source instead"));
                }
                Some(checksum_url) => {
                    match self
                        .download(name, pin, &location, checksum_url, scratch)
                        .await
                    {
                        Ok(binary) => {
                            return Ok((binary, InstallAction::Downloaded(location.url), None));
                        }
                        Err(error @ ToolError::Download { .. })
                            if self.options.from == InstallFrom::Auto =>
                        {
                            tracing::warn!(tool = name, %error, "release download failed; building from source");
                            note = Some(format!("{error}; built from source instead"));
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
        }
        let go = self.go(name, pin)?;
        tracing::info!(tool = name, version = %pin.version, "building from source with go (minutes on a cold Go cache)");
        let work = scratch.join("build");
        let x = self.pins.x_assignments(pin);
        let binary = GoBuild {
            go: &go,
            tool: name,
            pin,
            x: &x,
            work: &work,
        }
        .run()
        .await?;
        Ok((binary, InstallAction::Built, note))
    }

    /// Downloads the release at `location` into `scratch` once its sha256 matches the
    /// one published at `checksum_url`; returns the binary.
    async fn download(
        &self,
        name: &str,
        pin: &ToolPin,
        location: &ReleaseLocation,
        checksum_url: String,
        scratch: &Path,
    ) -> Result<PathBuf, ToolError> {
        tracing::info!(tool = name, url = %location.url, "downloading the official release");
        let binary = scratch.join(&pin.binary);
        let (download_dir, target) = (scratch.to_path_buf(), binary.clone());
        let task_location = location.clone();
        tokio::task::spawn_blocking(move || {
            fetch_verified_binary(&task_location, &checksum_url, &download_dir, &target)
        })
        .await
        .map_err(|e| ToolError::Download {
            url: location.url.clone(),
            message: format!("the download task failed: {e}"),
        })??;
        Ok(binary)
    }

    fn go(&self, name: &str, pin: &ToolPin) -> Result<PathBuf, ToolError> {
        if let Some(go) = self.env.var("GO") {
            return Ok(PathBuf::from(go));
        }
        self.env
            .find_on_path("go", None)
            .into_iter()
            .next()
            .ok_or_else(|| ToolError::Install {
                tool: name.to_string(),
                version: pin.version.clone(),
                message: "building it needs Go (1.26 or newer) on PATH or in $GO; install Go, or on a machine with internet use `tools install --from release` for tools with official releases".into(),
            })
    }

    async fn is_pinned(&self, binary: &Path, pin: &ToolPin) -> bool {
        probe_matches(&probe_version(binary, pin).await, pin)
    }

    /// The first binary of the pinned version on PATH (outside `.tools/bin`).
    async fn pinned_on_path(&self, pin: &ToolPin) -> Option<PathBuf> {
        for name in std::iter::once(&pin.binary).chain(&pin.path_names) {
            for candidate in self.env.find_on_path(name, Some(&self.bin_dir)) {
                if self.is_pinned(&candidate, pin).await {
                    return Some(candidate);
                }
            }
        }
        None
    }

    fn scratch_dir(&self) -> Result<tempfile::TempDir, ToolError> {
        let tmp = self.tools_dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|source| io_error("create", &tmp, source))?;
        tempfile::Builder::new()
            .prefix("install-")
            .tempdir_in(&tmp)
            .map_err(|source| io_error("create a scratch directory in", &tmp, source))
    }

    /// Copies `binary` to `dest` through a temporary name, so `dest` is never half written.
    async fn place(&self, binary: &Path, dest: &Path) -> Result<(), ToolError> {
        let dir = dest.parent().unwrap_or(&self.bin_dir);
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| io_error("create", dir, source))?;
        copy_atomically(binary, dest).await
    }

    /// Best effort: a cache that cannot be written only costs a rebuild next time.
    async fn store_in_cache(&self, binary: &Path, entry: &Path) {
        let stored = async {
            let dir = entry.parent().unwrap_or(&self.cache_dir);
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| io_error("create", dir, source))?;
            copy_atomically(binary, entry).await
        };
        if let Err(error) = stored.await {
            tracing::warn!(%error, "cannot store the binary in the machine-wide tool cache");
        }
    }
}

/// Lists the `files` installed under a share (or cache) directory, one path under
/// `files/` a line: a pattern's matches are known only when the module is read, and
/// this is how a later install knows they are all still there.
const FILES_LIST: &str = "files.list";

/// Every data file under `root` (a share or cache directory) as paths relative to it,
/// when all of them are there: every stage, and every file `files.list` names.
fn installed_data(root: &Path, data: &ToolData) -> Option<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = data
        .stage_file_names()
        .iter()
        .map(|file| Path::new(ToolData::STAGES_DIR).join(file))
        .collect();
    if data.has_files() {
        let list = std::fs::read_to_string(root.join(FILES_LIST)).ok()?;
        let listed: Vec<PathBuf> = list
            .lines()
            .map(|line| Path::new(ToolData::FILES_DIR).join(line))
            .collect();
        if listed.is_empty() {
            return None;
        }
        paths.extend(listed);
    }
    paths
        .iter()
        .all(|rel| root.join(rel).is_file())
        .then_some(paths)
}

/// (source in the module, path under the share directory) for every stage. A stage
/// that is not there is an error.
fn stage_placements(module_dir: &Path, data: &ToolData) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut placements = Vec::new();
    for (stage, file_name) in data.stages.iter().zip(data.stage_file_names()) {
        let source = module_dir.join(stage);
        if !source.is_file() {
            return Err(format!("the stage {stage} is not"));
        }
        placements.push((source, Path::new(ToolData::STAGES_DIR).join(file_name)));
    }
    Ok(placements)
}

/// (source in the module, path under the share directory) for every file a `files`
/// pattern matches in `module` at `version`, under `files/<module>/<version>/`. A
/// pattern that matches nothing is an error.
fn file_placements(
    module_dir: &Path,
    module: &str,
    version: &str,
    patterns: &[String],
) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut placements = Vec::new();
    for pattern in patterns {
        let matched = matching_files(module_dir, pattern);
        if matched.is_empty() {
            return Err(format!("the file pattern {pattern} matches nothing"));
        }
        let under = Path::new(ToolData::FILES_DIR).join(module).join(version);
        placements.extend(
            matched
                .into_iter()
                .map(|rel| (module_dir.join(&rel), under.join(rel))),
        );
    }
    Ok(placements)
}

/// The files under `root` a `files` pattern matches, relative to `root`, sorted.
fn matching_files(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.split('/') {
        candidates = candidates
            .into_iter()
            .flat_map(|dir| -> Vec<PathBuf> {
                if component != "*" {
                    return vec![dir.join(component)];
                }
                let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
                    return Vec::new();
                };
                let mut names: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.path().is_dir())
                    .map(|entry| dir.join(entry.file_name()))
                    .collect();
                names.sort();
                names
            })
            .collect();
    }
    candidates.retain(|rel| root.join(rel).is_file());
    candidates
}

/// The `files.list` text for these placements: the paths under `files/`.
fn files_list(placements: &[(PathBuf, PathBuf)]) -> String {
    placements
        .iter()
        .filter_map(|(_, rel)| rel.strip_prefix(ToolData::FILES_DIR).ok())
        .map(|rel| format!("{}\n", rel.display()))
        .collect()
}

fn probe_matches(probe: &VersionProbe, pin: &ToolPin) -> bool {
    probe
        .version
        .as_ref()
        .is_some_and(|version| version_matches(version, &pin.semver()))
}

async fn copy_atomically(from: &Path, to: &Path) -> Result<(), ToolError> {
    let file_name = to.file_name().unwrap_or_default().to_string_lossy();
    let staged = to.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
    let copied = async {
        tokio::fs::copy(from, &staged)
            .await
            .map_err(|source| io_error("copy the binary to", &staged, source))?;
        tokio::fs::rename(&staged, to)
            .await
            .map_err(|source| io_error("install the binary as", to, source))
    };
    let result = copied.await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&staged).await;
    }
    result
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> ToolError {
    ToolError::Io {
        action: action.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

/// `.tools/stamp.json`: which pin each binary in `.tools/bin` was installed for.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stamp {
    tools: BTreeMap<String, StampEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct StampEntry {
    version: String,
    fingerprint: String,
    /// Fingerprint of the data files installed with the tool, if it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

impl Stamp {
    /// A missing or unreadable stamp is an empty one: everything gets checked again.
    fn read(path: &Path) -> Stamp {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn write(&self, path: &Path) -> Result<(), ToolError> {
        let text = serde_json::to_string_pretty(self).expect("the stamp serializes");
        let staged = path.with_extension("json.partial");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| io_error("create", dir, source))?;
        }
        std::fs::write(&staged, text + "\n")
            .map_err(|source| io_error("write", &staged, source))?;
        std::fs::rename(&staged, path).map_err(|source| io_error("write", path, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::pins::Pins;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Serves `files` over HTTP on 127.0.0.1 until the test process ends; returns the base URL.
    fn serve(files: HashMap<String, Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match files.get(path.trim_start_matches('/')) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        base
    }

    /// How a stand-in release publishes its sha256, as the real ones do.
    #[derive(Clone, Copy)]
    enum Published {
        /// Kubernetes' `<binary>.sha256`: the digest alone.
        BareDigest,
        /// helm's and kind's `.sha256sum`: `<digest>  <file>`.
        NamedLine,
        /// etcd's `SHA256SUMS`: one line per asset of the release.
        List,
    }

    /// `tool`'s official release as a mirror serves it (keyed by the path under the
    /// mirror): an asset holding a script that prints `version_output`, at the pinned
    /// file name, inside a .tar.gz when the pin names an archive path, and the checksum
    /// file in the `published` format with the asset's digest, or `wrong_digest`.
    fn mirrored_release(
        tool: &str,
        version_output: &str,
        published: Published,
        wrong_digest: Option<&str>,
    ) -> HashMap<String, Vec<u8>> {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool(tool).unwrap();
        let location = pin.release.as_ref().unwrap().locate(&pin.version, Some(""));
        let script = format!("#!/bin/sh\necho '{version_output}'\n");
        let asset = match &location.archive_path {
            Some(inner) => {
                let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                    Vec::new(),
                    flate2::Compression::fast(),
                ));
                let decoy = inner.with_file_name("README.md");
                for (path, body) in [(&decoy, "not the binary"), (inner, script.as_str())] {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(body.len() as u64);
                    header.set_mode(0o755);
                    header.set_cksum();
                    builder
                        .append_data(&mut header, path, body.as_bytes())
                        .unwrap();
                }
                builder.into_inner().unwrap().finish().unwrap()
            }
            None => script.into_bytes(),
        };
        let asset_name = location.url.rsplit('/').next().unwrap().to_string();
        let digest = wrong_digest
            .map(String::from)
            .unwrap_or_else(|| hex(&Sha256::digest(&asset)));
        let checksum_text = match published {
            Published::BareDigest => format!("{digest}\n"),
            Published::NamedLine => format!("{digest}  {asset_name}\n"),
            Published::List => format!(
                "{}  {}\n{digest}  {asset_name}\n{}  {}.zip\n",
                "1".repeat(64),
                asset_name.replace(go_arch(), "ppc64le"),
                "2".repeat(64),
                asset_name.trim_end_matches(".tar.gz"),
            ),
        };
        let key = |url: &str| url.trim_start_matches('/').to_string();
        HashMap::from([
            (key(&location.url), asset),
            (
                key(location.checksum_url.as_deref().unwrap()),
                checksum_text.into_bytes(),
            ),
        ])
    }

    fn helm_release(version_output: &str, wrong_digest: Option<&str>) -> HashMap<String, Vec<u8>> {
        mirrored_release("helm3", version_output, Published::NamedLine, wrong_digest)
    }

    /// An environment where no helm is on PATH and no Go exists, so only the path under
    /// test can succeed.
    fn bare_env() -> ToolEnv {
        ToolEnv::from_vars([("PATH", "/nonexistent"), ("GO", "/nonexistent/go")])
    }

    fn options(
        tools: &[&str],
        from: InstallFrom,
        cache: &Path,
        base: Option<String>,
    ) -> InstallOptions {
        InstallOptions {
            tools: ToolSelection::Named(tools.iter().map(|t| t.to_string()).collect()),
            from,
            force: false,
            cache_dir: Some(cache.to_path_buf()),
            release_mirror: base,
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|read| {
                read.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_verified_release_installs_then_stamps_then_feeds_other_clones() {
        let base = serve(helm_release("v3.22.0", None));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(
            &["helm3"],
            InstallFrom::Release,
            cache.path(),
            Some(base.clone()),
        );

        let report = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        let installed = &report.tools[0];
        let InstallAction::Downloaded(url) = &installed.action else {
            panic!("expected a download, got {}", installed.action);
        };
        assert!(url.starts_with(&base) && url.ends_with(".tar.gz"), "{url}");
        let binary = tools_bin_dir(repo.path()).join("helm3");
        assert_eq!(installed.path, binary);
        let output = std::process::Command::new(&binary).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "v3.22.0\n");
        assert!(repo.path().join(".tools/stamp.json").is_file());
        assert_eq!(
            entries(&repo.path().join(".tools/tmp")),
            Vec::<String>::new()
        );

        // Present and stamped: nothing runs, not even the binary (no Go exists here).
        let again = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert_eq!(again.tools[0].action, InstallAction::AlreadyInstalled);
        assert!(
            again.elapsed < Duration::from_secs(2),
            "{:?}",
            again.elapsed
        );

        // A fresh clone on this machine copies from the cache, without the server.
        let clone = tempfile::tempdir().unwrap();
        let offline = InstallOptions {
            release_mirror: Some("http://127.0.0.1:1".into()),
            ..options.clone()
        };
        let copied = install_in(clone.path(), &offline, &bare_env())
            .await
            .unwrap();
        assert!(
            matches!(&copied.tools[0].action, InstallAction::CopiedFromCache(entry) if entry.starts_with(cache.path())),
            "{}",
            copied.tools[0].action
        );
        assert!(is_executable(&tools_bin_dir(clone.path()).join("helm3")));
    }

    #[tokio::test]
    async fn a_checksum_mismatch_is_an_error_and_leaves_no_binary() {
        let wrong = "0".repeat(64);
        let base = serve(helm_release("v3.22.0", Some(&wrong)));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(&["helm3"], InstallFrom::Auto, cache.path(), Some(base));

        let error = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ToolError::ChecksumMismatch { .. }),
            "{message}"
        );
        assert!(
            message.contains(&wrong) && message.contains(".tar.gz"),
            "{message}"
        );
        assert!(!tools_bin_dir(repo.path()).join("helm3").exists());
        assert_eq!(
            entries(&repo.path().join(".tools/tmp")),
            Vec::<String>::new()
        );
        assert_eq!(entries(cache.path()), Vec::<String>::new());
        assert!(!repo.path().join(".tools/stamp.json").exists());
    }

    #[tokio::test]
    async fn a_release_with_the_wrong_binary_inside_is_refused() {
        let base = serve(helm_release("v3.21.0", None));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(&["helm3"], InstallFrom::Release, cache.path(), Some(base));
        let message = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("v3.21.0") && message.contains("helm3 v3.22.0"),
            "{message}"
        );
        assert!(!tools_bin_dir(repo.path()).join("helm3").exists());
    }

    #[tokio::test]
    async fn auto_falls_back_to_a_source_build_when_the_release_is_unreachable() {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(
            &["helm3"],
            InstallFrom::Auto,
            cache.path(),
            Some("http://127.0.0.1:1".into()),
        );
        let error = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err();
        // The build was attempted with the (absent) Go named in the environment.
        assert!(
            matches!(&error, ToolError::Spawn { command, .. } if command.starts_with("/nonexistent/go install")),
            "{error}"
        );
    }

    /// What each stand-in prints for its version, as the real release binaries do.
    fn version_output(tool: &str) -> String {
        let pins = Pins::embedded().unwrap();
        let version = &pins.tool(tool).unwrap().version;
        match tool {
            "kubectl" => format!("Client Version: {version}\nKustomize Version: v5.7.1"),
            "etcd" => format!(
                "etcd Version: {}\nGit SHA: 0000000\nGo Version: go1.26",
                version.trim_start_matches('v')
            ),
            "kind" => format!("kind {version} go1.26 {}/{}", go_os(), go_arch()),
            _ => format!("Kubernetes {version}"),
        }
    }

    /// Each official layout installs from a local mirror and the binary lands in
    /// `.tools/bin`, runs, and reports the pinned version.
    #[rstest::rstest]
    #[case::kube_apiserver_bare_digest(
        "kube-apiserver",
        Published::BareDigest,
        "/dl.k8s.io/release/"
    )]
    #[case::kube_controller_manager_bare_digest(
        "kube-controller-manager",
        Published::BareDigest,
        "/dl.k8s.io/release/"
    )]
    #[case::kube_scheduler_bare_digest(
        "kube-scheduler",
        Published::BareDigest,
        "/dl.k8s.io/release/"
    )]
    #[case::kubectl_bare_digest("kubectl", Published::BareDigest, "/dl.k8s.io/release/")]
    #[case::kind_named_line("kind", Published::NamedLine, "/github.com/kubernetes-sigs/kind/")]
    #[case::etcd_list_and_tarball("etcd", Published::List, "/github.com/etcd-io/etcd/")]
    #[tokio::test]
    async fn official_layouts_install_from_a_mirror(
        #[case] tool: &str,
        #[case] published: Published,
        #[case] mirrored_under: &str,
    ) {
        let output = version_output(tool);
        let base = serve(mirrored_release(tool, &output, published, None));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        // kube-apiserver's data comes from a Go module, not its release: here from the
        // machine cache, as after any earlier install, so this machine needs no Go.
        let pins = Pins::embedded().unwrap();
        if let Some(cached) = cached_data(cache.path(), tool, pins.tool(tool).unwrap()) {
            let file = cached.join("files/k8s.io/api/v0.37.2/g/v1/register.go");
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, "package v1\n").unwrap();
            std::fs::write(
                cached.join(FILES_LIST),
                "k8s.io/api/v0.37.2/g/v1/register.go\n",
            )
            .unwrap();
        }
        let options = options(
            &[tool],
            InstallFrom::Release,
            cache.path(),
            Some(base.clone()),
        );

        let report = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        let InstallAction::Downloaded(url) = &report.tools[0].action else {
            panic!("expected a download, got {}", report.tools[0].action);
        };
        assert!(url.starts_with(&format!("{base}{mirrored_under}")), "{url}");
        let binary = &report.tools[0].path;
        let ran = std::process::Command::new(binary).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&ran.stdout), format!("{output}\n"));
        let stamp = Stamp::read(&repo.path().join(".tools/stamp.json"));
        assert!(stamp.tools.contains_key(tool));
    }

    #[rstest::rstest]
    #[case::bare_digest("kube-apiserver", Published::BareDigest)]
    #[case::named_line("kind", Published::NamedLine)]
    #[case::list("etcd", Published::List)]
    #[tokio::test]
    async fn a_wrong_published_digest_is_refused_even_under_auto(
        #[case] tool: &str,
        #[case] published: Published,
    ) {
        let wrong = "ab".repeat(32);
        let base = serve(mirrored_release(
            tool,
            &version_output(tool),
            published,
            Some(&wrong),
        ));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(&[tool], InstallFrom::Auto, cache.path(), Some(base));

        let error = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err();
        let ToolError::ChecksumMismatch {
            url,
            checksum_url,
            expected,
            ..
        } = &error
        else {
            panic!("expected a checksum mismatch, got {error}");
        };
        assert_eq!(expected, &wrong);
        let pins = Pins::embedded().unwrap();
        let checksum_file = pins
            .tool(tool)
            .unwrap()
            .release
            .as_ref()
            .unwrap()
            .checksum_file
            .clone()
            .unwrap();
        let checksum_name = checksum_file.rsplit('/').next().unwrap();
        let checksum_name = checksum_name
            .replace("{os}", go_os())
            .replace("{arch}", go_arch());
        assert!(checksum_url.ends_with(&checksum_name), "{checksum_url}");
        assert!(error.to_string().contains(url.as_str()), "{error}");
        let pinned_binary = &pins.tool(tool).unwrap().binary;
        assert!(!tools_bin_dir(repo.path()).join(pinned_binary).exists());
        assert_eq!(entries(cache.path()), Vec::<String>::new());
    }

    /// etcd's SHA256SUMS lists every asset of the release; one that lacks ours is a
    /// broken pin or mirror: `release` stops naming the list, `auto` builds instead.
    #[tokio::test]
    async fn an_asset_missing_from_the_checksum_list_is_named() {
        let mut files = mirrored_release("etcd", &version_output("etcd"), Published::List, None);
        let sums_key = files
            .keys()
            .find(|k| k.ends_with("/SHA256SUMS"))
            .unwrap()
            .clone();
        let sums = String::from_utf8(files[&sums_key].clone()).unwrap();
        let version = &Pins::embedded()
            .unwrap()
            .tool("etcd")
            .unwrap()
            .version
            .clone();
        let asset = format!("etcd-{version}-{}-{}.tar.gz", go_os(), go_arch());
        let without_ours: String = sums
            .lines()
            .filter(|l| !l.ends_with(&asset))
            .map(|l| format!("{l}\n"))
            .collect();
        files.insert(sums_key, without_ours.into_bytes());
        let base = serve(files);
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();

        let release = options(
            &["etcd"],
            InstallFrom::Release,
            cache.path(),
            Some(base.clone()),
        );
        let message = install_in(repo.path(), &release, &bare_env())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/SHA256SUMS") && message.contains(&format!("but not for {asset}")),
            "{message}"
        );

        let auto = options(&["etcd"], InstallFrom::Auto, cache.path(), Some(base));
        let error = install_in(repo.path(), &auto, &bare_env())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ToolError::Spawn { command, .. } if command.starts_with("/nonexistent/go")),
            "{error}"
        );
    }

    /// kwok publishes no checksum: its release is never downloaded, whatever a mirror
    /// holds. `release` says so and how to install it; `auto` builds from source.
    #[tokio::test]
    async fn a_release_without_a_published_checksum_is_never_downloaded() {
        let pins = Pins::embedded().unwrap();
        let kwokctl = pins.tool("kwokctl").unwrap();
        let location = kwokctl
            .release
            .as_ref()
            .unwrap()
            .locate(&kwokctl.version, Some(""));
        let base = serve(HashMap::from([(
            location.url.trim_start_matches('/').to_string(),
            format!("#!/bin/sh\necho {}\n", kwokctl.version).into_bytes(),
        )]));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();

        let release = options(
            &["kwokctl"],
            InstallFrom::Release,
            cache.path(),
            Some(base.clone()),
        );
        let message = install_in(repo.path(), &release, &bare_env())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("kwokctl {}", kwokctl.version))
                && message.contains("without a published checksum")
                && message.contains("--from source"),
            "{message}"
        );
        assert!(!tools_bin_dir(repo.path()).join("kwokctl").exists());

        let auto = options(&["kwokctl"], InstallFrom::Auto, cache.path(), Some(base));
        let error = install_in(repo.path(), &auto, &bare_env())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ToolError::Spawn { command, .. } if command.starts_with("/nonexistent/go install") && command.contains("sigs.k8s.io/kwok/cmd/kwokctl@")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_pinned_binary_on_path_is_copied_instead_of_built() {
        use std::os::unix::fs::PermissionsExt;
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("usr-bin");
        std::fs::create_dir_all(&path_dir).unwrap();
        for (name, prints) in [("helm3", "v3.21.0"), ("helm", "v4.3.1")] {
            std::fs::write(path_dir.join(name), format!("#!/bin/sh\necho {prints}\n")).unwrap();
            std::fs::set_permissions(path_dir.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let env = ToolEnv::from_vars([
            ("PATH", path_dir.as_os_str()),
            ("GO", "/nonexistent/go".as_ref()),
        ]);
        let options = options(&["helm4"], InstallFrom::Source, cache.path(), None);
        let report = install_in(repo.path(), &options, &env).await.unwrap();
        assert_eq!(
            report.tools[0].action,
            InstallAction::CopiedFromPath(path_dir.join("helm"))
        );
        assert!(is_executable(&tools_bin_dir(repo.path()).join("helm4")));
    }

    #[tokio::test]
    async fn an_unstamped_binary_of_the_pinned_version_is_kept_and_stamped() {
        use std::os::unix::fs::PermissionsExt;
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let bin = tools_bin_dir(repo.path());
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("helm4"), "#!/bin/sh\necho v4.3.1\n").unwrap();
        std::fs::set_permissions(bin.join("helm4"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let options = options(&["helm4"], InstallFrom::Source, cache.path(), None);
        let report = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert_eq!(report.tools[0].action, InstallAction::AlreadyInstalled);
        let stamp = Stamp::read(&repo.path().join(".tools/stamp.json"));
        assert_eq!(stamp.tools["helm4"].version, "v4.3.1");
    }

    #[tokio::test]
    async fn a_changed_pin_makes_the_stamp_stale() {
        let base = serve(helm_release("v3.22.0", None));
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(&["helm3"], InstallFrom::Release, cache.path(), Some(base));
        install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();

        // Another Kubernetes pin changes helm 3's ldflags, so its binary must be redone.
        let pins = Pins::embedded().unwrap();
        std::fs::create_dir_all(repo.path().join("ci")).unwrap();
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/tools.toml"))
                .unwrap();
        let old = format!("version = \"{}\"", pins.kubernetes_version());
        assert!(text.contains(&old));
        std::fs::write(
            repo.path().join("ci/tools.toml"),
            text.replacen(&old, "version = \"1.36.0\"", 1),
        )
        .unwrap();
        let report = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert!(
            matches!(report.tools[0].action, InstallAction::Downloaded(_)),
            "{}",
            report.tools[0].action
        );
    }

    #[tokio::test]
    async fn selections_name_pinned_tools_only() {
        let repo = tempfile::tempdir().unwrap();
        let options = InstallOptions {
            tools: ToolSelection::Named(vec!["hlem3".into()]),
            ..InstallOptions::default()
        };
        let message = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains("did you mean `helm3`?"), "{message}");

        let pins = Pins::embedded().unwrap();
        assert_eq!(
            select(&pins, &ToolSelection::Default).unwrap(),
            vec!["helm3", "helm4"]
        );
        assert_eq!(
            select(&pins, &ToolSelection::All).unwrap().len(),
            pins.tools().count()
        );
    }

    #[tokio::test]
    async fn release_mode_needs_a_pinned_release() {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let options = options(&["actionlint"], InstallFrom::Release, cache.path(), None);
        let message = install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("actionlint v1.7.12") && message.contains("--from source"),
            "{message}"
        );
    }

    /// Installs kwok (a stand-in binary on PATH reporting the pinned version) with its
    /// stage files from the real Go module cache, through the real `go`.
    #[tokio::test]
    async fn kwok_stages_come_from_the_module_then_the_stamp_then_the_machine_cache() {
        use std::os::unix::fs::PermissionsExt;
        let Some(go) = ToolEnv::from_process()
            .find_on_path("go", None)
            .into_iter()
            .next()
        else {
            panic!("this test needs Go on PATH to download sigs.k8s.io/kwok");
        };
        let pins = Pins::embedded().unwrap();
        let kwok = pins.tool("kwok").unwrap();
        let data = kwok.data.clone().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("usr-bin");
        std::fs::create_dir_all(&path_dir).unwrap();
        let stand_in = path_dir.join("kwok");
        std::fs::write(&stand_in, format!("#!/bin/sh\necho {}\n", kwok.version)).unwrap();
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
        let with_go = ToolEnv::from_vars([("PATH", path_dir.as_os_str()), ("GO", go.as_os_str())]);
        let options = options(&["kwok"], InstallFrom::Source, cache.path(), None);

        install_in(repo.path(), &options, &with_go).await.unwrap();
        let stages = repo.path().join(".tools/share/kwok/stages");
        let mut installed = entries(&stages);
        installed.sort();
        let mut expected: Vec<String> = data
            .stage_file_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        expected.sort();
        assert_eq!(installed, expected);
        let pvc_provision = std::fs::read_to_string(stages.join("pvc-provision.yaml")).unwrap();
        assert!(pvc_provision.contains("kind: Stage"), "{pvc_provision}");

        // Stamped: a second run needs neither Go nor the binary on PATH.
        let stamp_before = std::fs::read_to_string(repo.path().join(".tools/stamp.json")).unwrap();
        assert!(stamp_before.contains("\"data\""), "{stamp_before}");
        install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert_eq!(entries(&stages).len(), expected.len());

        // A removed file is put back, from the machine cache (no Go here either).
        std::fs::remove_file(stages.join("pv-bind.yaml")).unwrap();
        install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert!(stages.join("pv-bind.yaml").is_file());

        // A fresh clone copies the binary from PATH again and the stages from the
        // machine cache: Go is absent.
        let clone = tempfile::tempdir().unwrap();
        let without_go = ToolEnv::from_vars([
            ("PATH", path_dir.as_os_str()),
            ("GO", "/nonexistent/go".as_ref()),
        ]);
        install_in(clone.path(), &options, &without_go)
            .await
            .unwrap();
        assert_eq!(
            entries(&clone.path().join(".tools/share/kwok/stages")).len(),
            expected.len()
        );
    }

    /// Installs kube-apiserver (a stand-in on PATH reporting the pinned version) with
    /// its `files` from the real k8s.io/api module through the real `go`: every match of
    /// the patterns at its module path, then the stamp, then the machine cache.
    #[tokio::test]
    async fn data_files_come_from_the_module_then_the_stamp_then_the_machine_cache() {
        use std::os::unix::fs::PermissionsExt;
        let Some(go) = ToolEnv::from_process()
            .find_on_path("go", None)
            .into_iter()
            .next()
        else {
            panic!("this test needs Go on PATH to download k8s.io/api");
        };
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("kube-apiserver").unwrap();
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let path_dir = repo.path().join("usr-bin");
        std::fs::create_dir_all(&path_dir).unwrap();
        let stand_in = path_dir.join("kube-apiserver");
        std::fs::write(
            &stand_in,
            format!("#!/bin/sh\necho Kubernetes {}\n", pin.version),
        )
        .unwrap();
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
        let with_go = ToolEnv::from_vars([("PATH", path_dir.as_os_str()), ("GO", go.as_os_str())]);
        let options = options(&["kube-apiserver"], InstallFrom::Source, cache.path(), None);

        install_in(repo.path(), &options, &with_go).await.unwrap();
        let share = repo.path().join(".tools/share/kube-apiserver");
        let data = pin.data.as_ref().unwrap();
        let versions = data.module_versions(pin);
        let api = share.join("files").join(&data.module);
        let files = api.join(versions.last().unwrap());
        let lifecycle = files.join("extensions/v1beta1/zz_generated.prerelease-lifecycle.go");
        let text = std::fs::read_to_string(&lifecycle).unwrap();
        assert!(text.contains("APILifecycleRemoved"), "{text}");
        assert!(files.join("core/v1/register.go").is_file());
        // Only the matches: no other file of the module.
        assert!(!files.join("apps/v1/types.go").exists());
        let list = std::fs::read_to_string(share.join("files.list")).unwrap();
        for version in &versions {
            let policy = format!(
                "{}/{version}/policy/v1beta1/zz_generated.prerelease-lifecycle.go",
                data.module
            );
            assert!(list.lines().any(|l| l == policy), "{policy} not in {list}");
        }
        assert!(
            list.lines().all(|l| share.join("files").join(l).is_file()),
            "{list}"
        );

        // Stamped: a second run needs neither Go nor the binary on PATH.
        install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert!(lifecycle.is_file());

        // A removed file is put back, from the machine cache (no Go here either).
        std::fs::remove_file(&lifecycle).unwrap();
        install_in(repo.path(), &options, &bare_env())
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&lifecycle).unwrap(), text);

        // A fresh clone copies the binary from PATH and the files from the machine
        // cache: Go is absent.
        let clone = tempfile::tempdir().unwrap();
        let without_go = ToolEnv::from_vars([
            ("PATH", path_dir.as_os_str()),
            ("GO", "/nonexistent/go".as_ref()),
        ]);
        install_in(clone.path(), &options, &without_go)
            .await
            .unwrap();
        let clone_share = clone.path().join(".tools/share/kube-apiserver");
        assert_eq!(
            std::fs::read_to_string(clone_share.join("files.list")).unwrap(),
            list
        );
        assert!(
            clone_share
                .join("files")
                .join(&data.module)
                .join(versions[0])
                .join("extensions/v1beta1/zz_generated.prerelease-lifecycle.go")
                .is_file()
        );
        // The further modules' files are there too.
        for (module, versions, _) in data.file_modules(pin).into_iter().skip(1) {
            let dir = clone_share.join("files").join(module).join(versions[0]);
            assert!(dir.is_dir(), "{}", dir.display());
        }
    }

    #[test]
    fn module_patterns_match_whole_directories_only() {
        let module = tempfile::tempdir().unwrap();
        for path in ["a/v1/x.go", "a/v2/x.go", "b/v1/x.go", "a/v1/y.go", "c/x.go"] {
            let file = module.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "").unwrap();
        }
        let as_text = |paths: Vec<PathBuf>| -> Vec<String> {
            paths.iter().map(|p| p.display().to_string()).collect()
        };
        assert_eq!(
            as_text(matching_files(module.path(), "*/*/x.go")),
            vec!["a/v1/x.go", "a/v2/x.go", "b/v1/x.go"]
        );
        assert_eq!(
            as_text(matching_files(module.path(), "a/*/y.go")),
            vec!["a/v1/y.go"]
        );
        assert!(matching_files(module.path(), "*/x.go/z").is_empty());
        let placed = file_placements(
            module.path(),
            "example.com/m",
            "v1.0.0",
            &["a/*/x.go".into()],
        )
        .unwrap();
        let under = Path::new("files/example.com/m/v1.0.0");
        assert_eq!(
            placed,
            vec![
                (module.path().join("a/v1/x.go"), under.join("a/v1/x.go")),
                (module.path().join("a/v2/x.go"), under.join("a/v2/x.go")),
            ]
        );
        let error =
            file_placements(module.path(), "m", "v1.0.0", &["*/*/missing.go".into()]).unwrap_err();
        assert!(error.contains("*/*/missing.go matches nothing"), "{error}");
    }

    #[test]
    fn the_machine_cache_follows_xdg() {
        let env = ToolEnv::from_vars([("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")]);
        assert_eq!(
            default_cache_dir(&env),
            Path::new("/xdg/chart-harness/tools")
        );
        let env = ToolEnv::from_vars([("HOME", "/home/u")]);
        assert_eq!(
            default_cache_dir(&env),
            Path::new("/home/u/.cache/chart-harness/tools")
        );
    }
}
