//! `ci/tools.toml`: the one file pinning every external tool and the default Kubernetes
//! version. Resolution, `tools install` and `tools list` all read it through [`Pins`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ToolError;

/// Where the pins live inside a repository.
pub const PINS_FILE: &str = "ci/tools.toml";

/// The pins chart-harness was built with, so a chart repository without its own
/// `ci/tools.toml` still gets exact versions.
const EMBEDDED_PINS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/tools.toml"));

/// Placeholders a build's `-X` values may use.
const BUILD_PLACEHOLDERS: &[&str] = &[
    "version",
    "major",
    "minor",
    "kube_version",
    "kube_major",
    "kube_minor",
];

/// Placeholders a release's file names may use.
const RELEASE_PLACEHOLDERS: &[&str] = &["version", "os", "arch"];

/// The parsed, validated pins.
#[derive(Clone, Debug)]
pub struct Pins {
    /// Where they came from, for messages: a file path or "built-in".
    pub origin: String,
    kubernetes_version: semver::Version,
    tools: BTreeMap<String, ToolPin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinsFile {
    kubernetes: KubernetesPin,
    tools: BTreeMap<String, ToolPin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KubernetesPin {
    version: String,
}

/// One pinned tool.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ToolPin {
    /// The version as upstream tags it, e.g. `v3.22.0`.
    pub version: String,
    /// File name in `.tools/bin`.
    pub binary: String,
    /// Installed by a plain `tools install`.
    #[serde(default)]
    pub default: bool,
    /// Names tried on PATH after `binary`.
    #[serde(default)]
    pub path_names: Vec<String>,
    /// Arguments that make the binary print its version.
    pub version_args: Vec<String>,
    pub build: BuildRecipe,
    #[serde(default)]
    pub release: Option<ReleaseAsset>,
    /// Files from the tool's Go module installed next to the binary.
    #[serde(default)]
    pub data: Option<ToolData>,
}

/// Files the harness needs from a tool's Go module besides its binary, copied into
/// `.tools/share/<tool>/` so nothing of upstream's text lives in this repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ToolData {
    /// The Go module holding the files.
    pub module: String,
    /// The module's versions, oldest first, when they are not the tool's own:
    /// Kubernetes publishes its API types as `k8s.io/api` v0.37.2 for Kubernetes
    /// v1.37.2, and an older one still holds types a newer one dropped. `files` come
    /// from every version, stages from the last.
    #[serde(default)]
    pub versions: Vec<String>,
    /// kwok Stage manifests, relative to the module root; installed flat into
    /// `.tools/share/<tool>/stages/` under their file names.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Plain data files, relative to the module root; installed under
    /// `.tools/share/<tool>/files/<module>/<module version>/` at the same relative path. A
    /// directory component may be `*` (any one directory), so a pin follows upstream
    /// adding a directory.
    #[serde(default)]
    pub files: Vec<String>,
    /// Further modules whose `files` are installed the same way.
    #[serde(default)]
    pub also: Vec<ModuleFiles>,
}

/// Plain data files of one more module (`[[tools.<tool>.data.also]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModuleFiles {
    pub module: String,
    /// Oldest first; the tool's version when empty.
    #[serde(default)]
    pub versions: Vec<String>,
    pub files: Vec<String>,
}

/// One module `files` come from: its path, its versions oldest first, the patterns.
pub type FileModule<'a> = (&'a str, Vec<&'a str>, &'a [String]);

impl ToolData {
    /// The directory under `.tools/share/<tool>` the stage files go to.
    pub const STAGES_DIR: &'static str = "stages";
    /// The directory under `.tools/share/<tool>` the plain data files go to.
    pub const FILES_DIR: &'static str = "files";

    /// The installed file name of each stage, in pin order.
    pub fn stage_file_names(&self) -> Vec<&str> {
        self.stages
            .iter()
            .map(|path| path.rsplit('/').next().unwrap_or(path))
            .collect()
    }

    /// The module versions the files come from, oldest first: [`ToolData::versions`],
    /// else the tool's.
    pub fn module_versions<'a>(&'a self, pin: &'a ToolPin) -> Vec<&'a str> {
        versions_or_tools(&self.versions, pin)
    }

    /// Every module with `files`: this one, then those of `also`.
    pub fn file_modules<'a>(&'a self, pin: &'a ToolPin) -> Vec<FileModule<'a>> {
        std::iter::once((
            self.module.as_str(),
            self.module_versions(pin),
            self.files.as_slice(),
        ))
        .chain(self.also.iter().map(|more| {
            (
                more.module.as_str(),
                versions_or_tools(&more.versions, pin),
                more.files.as_slice(),
            )
        }))
        .filter(|(_, _, files)| !files.is_empty())
        .collect()
    }

    /// Whether any module has `files` (and so a `files.list`).
    pub fn has_files(&self) -> bool {
        !self.files.is_empty() || self.also.iter().any(|more| !more.files.is_empty())
    }
}

fn versions_or_tools<'a>(versions: &'a [String], pin: &'a ToolPin) -> Vec<&'a str> {
    if versions.is_empty() {
        vec![pin.version.as_str()]
    } else {
        versions.iter().map(String::as_str).collect()
    }
}

/// How a tool is built from source through the Go module proxy. Serialized only into
/// the install fingerprint, so a changed recipe invalidates installed binaries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "recipe", rename_all = "kebab-case", deny_unknown_fields)]
pub enum BuildRecipe {
    /// `go install <package>@<version>`: for modules without `replace` directives.
    #[serde(rename_all = "kebab-case")]
    GoInstall {
        package: String,
        #[serde(default)]
        x: BTreeMap<String, String>,
    },
    /// A throwaway module requiring `require@version`, then `go build <package>`: for
    /// modules whose own `replace` directives make `go install` refuse them.
    #[serde(rename_all = "kebab-case")]
    GoModule {
        require: String,
        package: String,
        /// Rewrites the required module's `=> ./staging/...` replaces to this version of
        /// the published staging modules (Kubernetes).
        #[serde(default)]
        replace_staging: Option<String>,
        #[serde(default)]
        x: BTreeMap<String, String>,
    },
    /// A throwaway module whose `main` calls `<main_package>.Main(os.Args)`: for tools
    /// whose main package lives in a module that cannot be required (etcd).
    #[serde(rename_all = "kebab-case")]
    GoMainWrapper {
        require: String,
        main_package: String,
        #[serde(default)]
        x: BTreeMap<String, String>,
    },
}

impl BuildRecipe {
    /// The `-X` variables of the recipe, values still holding placeholders.
    pub fn x_vars(&self) -> &BTreeMap<String, String> {
        match self {
            BuildRecipe::GoInstall { x, .. }
            | BuildRecipe::GoModule { x, .. }
            | BuildRecipe::GoMainWrapper { x, .. } => x,
        }
    }
}

/// An official release: `<base>/<file>` checked against `<base>/<checksum_file>`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleaseAsset {
    pub base: String,
    pub file: String,
    /// The published sha256 list or digest. Absent when upstream publishes none: such a
    /// release is never installed, since nothing could check it.
    #[serde(default)]
    pub checksum_file: Option<String>,
    /// The binary inside a `.tar.gz`; absent when the download is the binary itself.
    #[serde(default)]
    pub archive_path: Option<String>,
}

impl Pins {
    /// The repository's `ci/tools.toml` when it has one, else the built-in pins.
    pub fn load(repo_root: &Path) -> Result<Pins, ToolError> {
        let path = repo_root.join(PINS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Pins::parse(&text, &path.display().to_string()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Pins::embedded(),
            Err(source) => Err(ToolError::Io {
                action: "read the tool pins".into(),
                path,
                source,
            }),
        }
    }

    /// The pins compiled into this binary.
    pub fn embedded() -> Result<Pins, ToolError> {
        Pins::parse(EMBEDDED_PINS, "built-in ci/tools.toml")
    }

    /// Parses and validates pins; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Pins, ToolError> {
        let invalid = |message: String| ToolError::Pins {
            origin: origin.to_string(),
            message,
        };
        let file: PinsFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let kubernetes_version = parse_version(&file.kubernetes.version).ok_or_else(|| {
            invalid(format!(
                "kubernetes.version `{}` is not a semver version such as 1.37.2",
                file.kubernetes.version
            ))
        })?;
        for (name, pin) in &file.tools {
            validate_tool(name, pin)
                .map_err(|message| invalid(format!("tools.{name}: {message}")))?;
        }
        Ok(Pins {
            origin: origin.to_string(),
            kubernetes_version,
            tools: file.tools,
        })
    }

    /// The Kubernetes version rendering targets by default.
    pub fn kubernetes_version(&self) -> &semver::Version {
        &self.kubernetes_version
    }

    pub fn tool(&self, name: &str) -> Option<&ToolPin> {
        self.tools.get(name)
    }

    /// Every pinned tool, by name.
    pub fn tools(&self) -> impl Iterator<Item = (&str, &ToolPin)> {
        self.tools.iter().map(|(name, pin)| (name.as_str(), pin))
    }

    /// The tools a plain `tools install` installs.
    pub fn default_tools(&self) -> Vec<&str> {
        self.tools()
            .filter(|(_, pin)| pin.default)
            .map(|(name, _)| name)
            .collect()
    }

    /// The `-ldflags` `-X` assignments for `tool`, placeholders filled in.
    pub fn x_assignments(&self, tool: &ToolPin) -> BTreeMap<String, String> {
        let vars = self.build_vars(tool);
        tool.build
            .x_vars()
            .iter()
            .map(|(key, value)| (key.clone(), fill(value, &vars)))
            .collect()
    }

    fn build_vars(&self, tool: &ToolPin) -> Vec<(&'static str, String)> {
        let own = tool.semver();
        let kube = &self.kubernetes_version;
        vec![
            ("version", tool.version.clone()),
            ("major", own.major.to_string()),
            ("minor", own.minor.to_string()),
            ("kube_version", kube.to_string()),
            ("kube_major", kube.major.to_string()),
            ("kube_minor", kube.minor.to_string()),
        ]
    }
}

impl ToolPin {
    /// The pinned version as semver; validated when the pins were parsed.
    pub fn semver(&self) -> semver::Version {
        parse_version(&self.version).unwrap_or(semver::Version::new(0, 0, 0))
    }

    /// The env var that points at an explicit binary for `tool` (`kube-apiserver` →
    /// `KUBE_APISERVER`).
    pub fn env_var(tool: &str) -> String {
        tool.to_ascii_uppercase().replace('-', "_")
    }
}

impl ReleaseAsset {
    /// The download and checksum URLs and the archive path for this platform. With a
    /// `mirror`, the URLs keep the official host and path under it
    /// (`<mirror>/dl.k8s.io/release/...`), the layout `wget --force-directories` makes,
    /// so releases of different projects never collide in one mirror.
    pub fn locate(&self, version: &str, mirror: Option<&str>) -> ReleaseLocation {
        let vars = [
            ("version", version.to_string()),
            ("os", go_os().to_string()),
            ("arch", go_arch().to_string()),
        ];
        let official = self.base.trim_end_matches('/');
        let base = match mirror {
            Some(mirror) => {
                let host_and_path = official
                    .split_once("://")
                    .map_or(official, |(_, rest)| rest);
                format!("{}/{host_and_path}", mirror.trim_end_matches('/'))
            }
            None => official.to_string(),
        };
        ReleaseLocation {
            url: format!("{base}/{}", fill(&self.file, &vars)),
            checksum_url: self
                .checksum_file
                .as_ref()
                .map(|file| format!("{base}/{}", fill(file, &vars))),
            archive_path: self
                .archive_path
                .as_ref()
                .map(|p| PathBuf::from(fill(p, &vars))),
        }
    }
}

/// A release asset resolved for this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseLocation {
    pub url: String,
    /// None when upstream publishes no checksum for the release.
    pub checksum_url: Option<String>,
    pub archive_path: Option<PathBuf>,
}

/// Go's name for this operating system, as release file names use it.
pub fn go_os() -> &'static str {
    std::env::consts::OS
}

/// Go's name for this architecture, as release file names use it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Parses `v1.2.3` or `1.2.3`.
pub fn parse_version(text: &str) -> Option<semver::Version> {
    semver::Version::parse(text.trim().strip_prefix('v').unwrap_or(text.trim())).ok()
}

fn validate_tool(name: &str, pin: &ToolPin) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("a tool name may only hold letters, digits and `-`".into());
    }
    if parse_version(&pin.version).is_none() {
        return Err(format!(
            "version `{}` is not a semver version such as v1.2.3",
            pin.version
        ));
    }
    for file_name in std::iter::once(&pin.binary).chain(&pin.path_names) {
        if file_name.is_empty() || file_name.contains('/') {
            return Err(format!("`{file_name}` is not a plain file name"));
        }
    }
    if pin.version_args.is_empty() {
        return Err("version-args is empty: the harness could not check the version".into());
    }
    for (key, value) in pin.build.x_vars() {
        check_placeholders(value, BUILD_PLACEHOLDERS).map_err(|p| format!("build.x.{key}: {p}"))?;
        if value.contains(char::is_whitespace) || key.contains(char::is_whitespace) {
            return Err(format!("build.x.{key}: -X values cannot hold whitespace"));
        }
    }
    if let Some(data) = &pin.data {
        validate_data(data)?;
    }
    if let Some(release) = &pin.release {
        for template in std::iter::once(&release.file)
            .chain(&release.checksum_file)
            .chain(&release.archive_path)
        {
            check_placeholders(template, RELEASE_PLACEHOLDERS)
                .map_err(|p| format!("release: {p}"))?;
        }
    }
    Ok(())
}

/// Stage paths must name single YAML manifests inside the module: no kustomization
/// (kwok cannot read one), no test data, and distinct file names since they are
/// installed into one directory. File paths must be plain relative paths whose only
/// pattern is a whole `*` directory component.
fn validate_data(data: &ToolData) -> Result<(), String> {
    validate_module(&data.module, &data.versions, &data.files)?;
    let mut seen = std::collections::BTreeSet::new();
    for path in &data.stages {
        let components: Vec<&str> = path.split('/').collect();
        let file_name = components.last().copied().unwrap_or_default();
        let problem = if !is_plain_relative(&components) {
            Some("is not a plain path relative to the module root")
        } else if !(file_name.ends_with(".yaml") || file_name.ends_with(".yml")) {
            Some("is not a YAML file")
        } else if file_name == "kustomization.yaml" || file_name == "kustomization.yml" {
            Some("is a kustomization, not a Stage; list the stage files it names")
        } else if components.contains(&"testdata") {
            Some("is test data, not a Stage")
        } else if !seen.insert(file_name) {
            Some("has the same file name as an earlier stage; they share one directory")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!("data.stages: `{path}` {problem}"));
        }
    }
    for more in &data.also {
        validate_module(&more.module, &more.versions, &more.files)
            .map_err(|message| format!("data.also `{}`: {message}", more.module))?;
    }
    Ok(())
}

/// A module path, its versions (semver, oldest first) and its `files` patterns.
fn validate_module(module: &str, versions: &[String], files: &[String]) -> Result<(), String> {
    if module.is_empty() || module.contains(char::is_whitespace) {
        return Err(format!("data.module `{module}` is not a Go module path"));
    }
    let mut previous: Option<semver::Version> = None;
    for version in versions {
        let parsed = parse_version(version).ok_or_else(|| {
            format!("data.versions: `{version}` is not a semver version such as v0.37.2")
        })?;
        if previous.as_ref().is_some_and(|p| *p >= parsed) {
            return Err(format!(
                "data.versions: `{version}` is not newer than the one before; list them oldest first"
            ));
        }
        previous = Some(parsed);
    }
    for path in files {
        let components: Vec<&str> = path.split('/').collect();
        let (file_name, dirs) = components.split_last().unwrap_or((&"", &[]));
        let problem = if !is_plain_relative(&components) {
            Some("is not a plain path relative to the module root")
        } else if file_name.contains('*') {
            Some("has a pattern in its file name; only a whole directory may be `*`")
        } else if dirs.iter().any(|d| d.contains('*') && *d != "*") {
            Some("has a partial pattern; a directory is either named or `*`")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!("data.files: `{path}` {problem}"));
        }
    }
    Ok(())
}

fn is_plain_relative(components: &[&str]) -> bool {
    components
        .iter()
        .all(|c| !c.is_empty() && *c != "." && *c != "..")
}

/// Every `{name}` in `template` must be one of `known`.
fn check_placeholders(template: &str, known: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        let name = &after[..close];
        if !known.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} in `{template}`; known: {}",
                known.join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Replaces `{name}` placeholders (already validated) with their values.
fn fill(template: &str, vars: &[(&str, String)]) -> String {
    vars.iter()
        .fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const MINIMAL: &str = r#"
[kubernetes]
version = "1.31.4"

[tools.helm3]
version = "v3.16.2"
binary = "helm3"
default = true
path-names = ["helm"]
version-args = ["version"]

[tools.helm3.build]
recipe = "go-install"
package = "helm.sh/helm/v3/cmd/helm"

[tools.helm3.build.x]
"helm.sh/helm/v3/internal/version.version" = "{version}"
"helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor" = "{kube_minor}"

[tools.helm3.release]
base = "https://example.invalid/dl/"
file = "helm-{version}-{os}-{arch}.tar.gz"
checksum-file = "helm-{version}-{os}-{arch}.tar.gz.sha256sum"
archive-path = "{os}-{arch}/helm"
"#;

    #[test]
    fn embedded_pins_parse_and_name_every_tool_the_issue_needs() {
        let pins = Pins::embedded().expect("ci/tools.toml is valid");
        for tool in [
            "helm3",
            "helm4",
            "kind",
            "actionlint",
            "kwok",
            "kwokctl",
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            assert!(pins.tool(tool).is_some(), "{tool} is not pinned");
        }
        assert_eq!(pins.default_tools(), vec!["helm3", "helm4"]);
        assert_eq!(pins.kubernetes_version().to_string(), "1.37.2");
    }

    #[test]
    fn helm3_ldflags_carry_the_pinned_kubernetes_version() {
        let pins = Pins::embedded().unwrap();
        let x = pins.x_assignments(pins.tool("helm3").unwrap());
        assert_eq!(x["helm.sh/helm/v3/internal/version.version"], "v3.22.0");
        for package in ["pkg/chartutil", "pkg/lint/rules"] {
            assert_eq!(
                x[&format!("helm.sh/helm/v3/{package}.k8sVersionMajor")],
                "1"
            );
            assert_eq!(
                x[&format!("helm.sh/helm/v3/{package}.k8sVersionMinor")],
                "37"
            );
        }
    }

    #[test]
    fn kubernetes_ldflags_use_the_tool_version() {
        let pins = Pins::embedded().unwrap();
        let x = pins.x_assignments(pins.tool("kube-apiserver").unwrap());
        assert_eq!(x["k8s.io/component-base/version.gitVersion"], "v1.37.2");
        assert_eq!(x["k8s.io/client-go/pkg/version.gitMajor"], "1");
        assert_eq!(x["k8s.io/client-go/pkg/version.gitMinor"], "37");
    }

    #[test]
    fn placeholders_are_filled_from_tool_and_kubernetes_versions() {
        let pins = Pins::parse(MINIMAL, "test").unwrap();
        let x = pins.x_assignments(pins.tool("helm3").unwrap());
        assert_eq!(x["helm.sh/helm/v3/internal/version.version"], "v3.16.2");
        assert_eq!(x["helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor"], "31");
    }

    #[test]
    fn release_locations_use_the_platform_and_an_optional_mirror() {
        let pins = Pins::parse(MINIMAL, "test").unwrap();
        let release = pins.tool("helm3").unwrap().release.clone().unwrap();
        let platform = format!("{}-{}", go_os(), go_arch());
        let official = release.locate("v3.16.2", None);
        assert_eq!(
            official.url,
            format!("https://example.invalid/dl/helm-v3.16.2-{platform}.tar.gz")
        );
        assert_eq!(
            official.checksum_url,
            Some(format!("{}.sha256sum", official.url))
        );
        assert_eq!(
            official.archive_path,
            Some(PathBuf::from(format!("{platform}/helm")))
        );
        let mirror = release.locate("v3.16.2", Some("http://127.0.0.1:9/"));
        assert_eq!(
            mirror.url,
            format!("http://127.0.0.1:9/example.invalid/dl/helm-v3.16.2-{platform}.tar.gz")
        );
        assert_eq!(
            mirror.checksum_url,
            Some(format!("{}.sha256sum", mirror.url))
        );
    }

    /// The official layouts, as each project's release tooling publishes them.
    #[rstest]
    #[case::kubernetes_bare_digest(
        "kube-apiserver",
        "https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kube-apiserver",
        Some("https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kube-apiserver.sha256"),
        None
    )]
    #[case::kubectl(
        "kubectl",
        "https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kubectl",
        Some("https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kubectl.sha256"),
        None
    )]
    #[case::etcd_sha256sums_and_tarball(
        "etcd",
        "https://github.com/etcd-io/etcd/releases/download/{version}/etcd-{version}-{os}-{arch}.tar.gz",
        Some("https://github.com/etcd-io/etcd/releases/download/{version}/SHA256SUMS"),
        Some("etcd-{version}-{os}-{arch}/etcd")
    )]
    #[case::kind_sha256sum_with_name(
        "kind",
        "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{os}-{arch}",
        Some(
            "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{os}-{arch}.sha256sum"
        ),
        None
    )]
    #[case::kwok_publishes_no_checksum(
        "kwokctl",
        "https://github.com/kubernetes-sigs/kwok/releases/download/{version}/kwokctl-{os}-{arch}",
        None,
        None
    )]
    fn embedded_releases_point_at_the_official_layouts(
        #[case] tool: &str,
        #[case] url: &str,
        #[case] checksum_url: Option<&str>,
        #[case] archive_path: Option<&str>,
    ) {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool(tool).unwrap();
        let platform = |text: &str| {
            text.replace("{version}", &pin.version)
                .replace("{os}", go_os())
                .replace("{arch}", go_arch())
        };
        let location = pin.release.as_ref().unwrap().locate(&pin.version, None);
        assert_eq!(location.url, platform(url));
        assert_eq!(location.checksum_url, checksum_url.map(platform));
        assert_eq!(
            location.archive_path,
            archive_path.map(|p| PathBuf::from(platform(p)))
        );
    }

    #[rstest]
    #[case::unknown_top_level_key("", "[extra]\na = 1", "unknown field `extra`")]
    #[case::unknown_tool_key("[tools.helm3]", "flavour = \"x\"", "unknown field `flavour`")]
    #[case::unknown_recipe_key(
        "[tools.helm3.build]",
        "ldflags = \"-s\"",
        "unknown field `ldflags`"
    )]
    #[case::unknown_release_key("[tools.helm3.release]", "sha = \"x\"", "unknown field `sha`")]
    fn unknown_keys_are_rejected(#[case] table: &str, #[case] line: &str, #[case] expected: &str) {
        let text = if table.is_empty() {
            format!("{MINIMAL}\n{line}\n")
        } else {
            let header = format!("\n{table}\n");
            assert!(MINIMAL.contains(&header), "{table} is in the base text");
            MINIMAL.replacen(&header, &format!("{header}{line}\n"), 1)
        };
        let error = Pins::parse(&text, "ci/tools.toml").unwrap_err().to_string();
        assert!(error.contains("ci/tools.toml"), "{error}");
        assert!(error.contains(expected), "{error}");
    }

    #[rstest]
    #[case::bad_tool_version("v3.16.2", "three", "version `three` is not a semver")]
    #[case::unknown_recipe("go-install", "make", "unknown variant `make`")]
    #[case::bad_kube_version("1.31.4", "1.31", "kubernetes.version `1.31`")]
    #[case::unknown_placeholder("{kube_minor}", "{kube_patch}", "unknown placeholder {kube_patch}")]
    #[case::path_in_binary(
        "binary = \"helm3\"",
        "binary = \"bin/helm3\"",
        "not a plain file name"
    )]
    #[case::unclosed_placeholder(
        "{os}-{arch}/helm",
        "{os-{arch}/helm",
        "unknown placeholder {os-{arch}"
    )]
    fn invalid_values_are_rejected(#[case] from: &str, #[case] to: &str, #[case] expected: &str) {
        let text = MINIMAL.replacen(from, to, 1);
        assert_ne!(text, MINIMAL, "the case must change the input");
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }

    fn with_data(module: &str, stages: &[&str]) -> String {
        let quoted: Vec<String> = stages.iter().map(|s| format!("{s:?}")).collect();
        format!(
            "{MINIMAL}\n[tools.helm3.data]\nmodule = {module:?}\nstages = [{}]\n",
            quoted.join(", ")
        )
    }

    #[rstest]
    #[case::kustomization(&["a/kustomization.yaml"], "is a kustomization")]
    #[case::test_data(&["stage/pod/fast/testdata/pod.yaml"], "is test data")]
    #[case::not_yaml(&["stage/pod/fast/embed.go"], "is not a YAML file")]
    #[case::absolute(&["/etc/stage.yaml"], "is not a plain path")]
    #[case::parent(&["../other/stage.yaml"], "is not a plain path")]
    #[case::same_file_name(&["pod/fast/pod-ready.yaml", "pod/general/pod-ready.yaml"], "same file name")]
    fn bad_stage_paths_are_rejected(#[case] stages: &[&str], #[case] expected: &str) {
        let error = Pins::parse(&with_data("sigs.k8s.io/kwok", stages), "test")
            .unwrap_err()
            .to_string();
        assert!(error.contains("tools.helm3: data.stages"), "{error}");
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn data_needs_a_module_and_known_keys() {
        let error = Pins::parse(&with_data("", &[]), "test")
            .unwrap_err()
            .to_string();
        assert!(error.contains("data.module ``"), "{error}");
        let text = with_data("m", &[]) + "glob = []\n";
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains("unknown field `glob`"), "{error}");
        let text = with_data("m", &[]) + "versions = [\"latest\"]\n";
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains("data.versions: `latest`"), "{error}");
        let text = with_data("m", &[]) + "versions = [\"v0.37.2\", \"v0.25.2\"]\n";
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains("list them oldest first"), "{error}");
        let pins = Pins::parse(&with_data("m", &["a/b/x.yml"]), "test").unwrap();
        let data = pins.tool("helm3").unwrap().data.clone().unwrap();
        assert_eq!(data.stage_file_names(), vec!["x.yml"]);
    }

    #[rstest]
    #[case::plain("versions.yaml")]
    #[case::nested("pkg/api/versions.yaml")]
    #[case::any_directory("*/*/register.go")]
    fn plain_and_patterned_file_paths_are_accepted(#[case] path: &str) {
        let text = with_data("m", &[])
            + &format!("files = [{path:?}]\nversions = [\"v0.25.2\", \"v0.37.2\"]\n");
        let pins = Pins::parse(&text, "test").unwrap();
        let pin = pins.tool("helm3").unwrap();
        let data = pin.data.as_ref().unwrap();
        assert_eq!(data.files, vec![path.to_string()]);
        assert_eq!(data.module_versions(pin), vec!["v0.25.2", "v0.37.2"]);
    }

    #[rstest]
    #[case::absolute("/etc/versions.yaml", "is not a plain path")]
    #[case::parent("../versions.yaml", "is not a plain path")]
    #[case::empty_component("pkg//versions.yaml", "is not a plain path")]
    #[case::pattern_in_file_name("pkg/*.yaml", "pattern in its file name")]
    #[case::partial_pattern("pkg/v1*/register.go", "partial pattern")]
    fn bad_file_paths_are_rejected(#[case] path: &str, #[case] expected: &str) {
        let text = with_data("m", &[]) + &format!("files = [{path:?}]\n");
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains("tools.helm3: data.files"), "{error}");
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn further_modules_are_checked_like_the_first() {
        let text = with_data("m", &[])
            + "files = [\"a.go\"]\n\n[[tools.helm3.data.also]]\nmodule = \"n\"\nfiles = [\"x/*.go\"]\n";
        let error = Pins::parse(&text, "test").unwrap_err().to_string();
        assert!(
            error.contains("data.also `n`: data.files: `x/*.go` has a pattern in its file name"),
            "{error}"
        );
        let text = text.replace("x/*.go", "*/x.go");
        let pins = Pins::parse(&text, "test").unwrap();
        let pin = pins.tool("helm3").unwrap();
        let data = pin.data.as_ref().unwrap();
        assert!(data.has_files());
        let modules = data.file_modules(pin);
        assert_eq!(modules.len(), 2);
        assert_eq!(modules[1].0, "n");
        assert_eq!(modules[1].1, vec!["v3.16.2"]);
    }

    #[test]
    fn data_of_another_version_defaults_to_the_tools() {
        let pins = Pins::parse(&with_data("m", &["a/x.yaml"]), "test").unwrap();
        let pin = pins.tool("helm3").unwrap();
        assert_eq!(
            pin.data.as_ref().unwrap().module_versions(pin),
            vec!["v3.16.2"]
        );
    }

    /// The deprecation data: k8s.io/api of the pinned Kubernetes release (v0.x.y for
    /// v1.x.y) and older ones, with each group version's lifecycle and group name.
    #[test]
    fn kube_apiserver_brings_the_api_lifecycle_of_its_release() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("kube-apiserver").unwrap();
        assert!(!pin.default);
        let data = pin.data.as_ref().expect("kube-apiserver has data");
        assert_eq!(data.module, "k8s.io/api");
        let kube = pins.kubernetes_version();
        let versions = data.module_versions(pin);
        assert_eq!(
            versions.last().copied(),
            Some(format!("v0.{}.{}", kube.minor, kube.patch).as_str())
        );
        assert!(versions.len() > 1, "older k8s.io/api for dropped types");
        let modules: Vec<&str> = data.file_modules(pin).iter().map(|m| m.0).collect();
        assert_eq!(
            modules,
            vec![
                "k8s.io/api",
                "k8s.io/apiextensions-apiserver",
                "k8s.io/kube-aggregator"
            ]
        );
        assert_eq!(
            data.files,
            vec![
                "*/*/zz_generated.prerelease-lifecycle.go",
                "*/*/register.go"
            ]
        );
        assert!(data.stages.is_empty());
    }

    #[test]
    fn kwok_brings_its_default_stages_and_the_volume_stages() {
        let pins = Pins::embedded().unwrap();
        let data = pins
            .tool("kwok")
            .unwrap()
            .data
            .clone()
            .expect("kwok has data");
        assert_eq!(data.module, "sigs.k8s.io/kwok");
        let names = data.stage_file_names();
        for expected in [
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-ready.yaml",
            "pod-complete.yaml",
            "pod-delete.yaml",
            "pvc-provision.yaml",
            "pv-bind.yaml",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let with_data: Vec<&str> = pins
            .tools()
            .filter(|(_, pin)| pin.data.is_some())
            .map(|(name, _)| name)
            .collect();
        assert_eq!(with_data, vec!["kube-apiserver", "kwok"]);
    }

    #[rstest]
    #[case("helm3", "HELM3")]
    #[case("kube-apiserver", "KUBE_APISERVER")]
    fn env_var_names_follow_the_tool_name(#[case] tool: &str, #[case] expected: &str) {
        assert_eq!(ToolPin::env_var(tool), expected);
    }

    #[rstest]
    #[case("v3.22.0", Some((3, 22, 0)))]
    #[case("1.37.2", Some((1, 37, 2)))]
    #[case("v3.22", None)]
    #[case("", None)]
    fn versions_parse_with_or_without_v(
        #[case] text: &str,
        #[case] expected: Option<(u64, u64, u64)>,
    ) {
        let parsed = parse_version(text).map(|v| (v.major, v.minor, v.patch));
        assert_eq!(parsed, expected);
    }

    #[test]
    fn a_repository_without_pins_gets_the_built_in_ones() {
        let repo = tempfile::tempdir().unwrap();
        let pins = Pins::load(repo.path()).unwrap();
        assert_eq!(pins.origin, "built-in ci/tools.toml");
        std::fs::create_dir(repo.path().join("ci")).unwrap();
        std::fs::write(repo.path().join(PINS_FILE), MINIMAL).unwrap();
        let pins = Pins::load(repo.path()).unwrap();
        assert_eq!(pins.tool("helm3").unwrap().version, "v3.16.2");
        assert!(pins.tool("helm4").is_none());
    }
}
