//! Building a pinned tool from source with the Go toolchain, through the module proxy.
//! The Go build cache is the user's own, so a rebuild after the first mostly links.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ToolError;
use super::pins::{BuildRecipe, ToolPin};
use super::process::{self, ProcessSpec};

/// Generous: Kubernetes binaries take many minutes on two cores with a cold cache.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `go mod download` and `go mod tidy`: network-bound.
const MODULE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// What a build needs besides the pin.
pub(crate) struct GoBuild<'a> {
    pub go: &'a Path,
    pub tool: &'a str,
    pub pin: &'a ToolPin,
    /// `-X` assignments, placeholders filled.
    pub x: &'a BTreeMap<String, String>,
    /// An empty scratch directory the build may fill.
    pub work: &'a Path,
}

impl GoBuild<'_> {
    /// Builds the tool and returns the path of the binary inside `work`.
    pub async fn run(&self) -> Result<PathBuf, ToolError> {
        // Every go command runs inside it, before anything else creates it.
        create_dir(self.work)?;
        let out = self.work.join("out").join(&self.pin.binary);
        match &self.pin.build {
            BuildRecipe::GoInstall { package, .. } => self.go_install(package, &out).await?,
            BuildRecipe::GoModule { .. } | BuildRecipe::GoMainWrapper { .. } => {
                let (dir, package) = self.prepare_module().await?;
                self.go_build(&dir, &package, &out).await?;
            }
        }
        Ok(out)
    }

    /// Writes and tidies the throwaway module of a module recipe; returns its directory
    /// and the package to build there.
    async fn prepare_module(&self) -> Result<(PathBuf, String), ToolError> {
        let (module, main_go, package) = match &self.pin.build {
            BuildRecipe::GoModule {
                require,
                package,
                replace_staging,
                ..
            } => {
                let replaces = match replace_staging {
                    Some(staging_version) => staging_modules(&self.upstream_go_mod(require).await?)
                        .into_iter()
                        .map(|module| (module, staging_version.clone()))
                        .collect(),
                    None => Vec::new(),
                };
                let module = ThrowawayModule {
                    tool: self.tool,
                    require,
                    version: &self.pin.version,
                    replaces,
                    tool_package: Some(package),
                };
                (module, None, package.clone())
            }
            BuildRecipe::GoMainWrapper {
                require,
                main_package,
                ..
            } => {
                let module = ThrowawayModule {
                    tool: self.tool,
                    require,
                    version: &self.pin.version,
                    replaces: Vec::new(),
                    tool_package: None,
                };
                (
                    module,
                    Some(wrapper_main(self.tool, main_package)),
                    ".".to_string(),
                )
            }
            BuildRecipe::GoInstall { .. } => {
                return Err(self.failure("a `go-install` recipe has no module to prepare".into()));
            }
        };
        let dir = self.work.join("module");
        create_dir(&dir)?;
        write(&dir.join("go.mod"), &module.go_mod())?;
        if let Some(main_go) = main_go {
            write(&dir.join("main.go"), &main_go)?;
        }
        let tidy = self
            .go(MODULE_TIMEOUT)
            .current_dir(&dir)
            .env("GOFLAGS", "-mod=mod")
            .args(["mod", "tidy"]);
        process::run_checked(&tidy).await?;
        Ok((dir, package))
    }

    fn go(&self, timeout: Duration) -> ProcessSpec {
        ProcessSpec::new(self.go, timeout)
            // A go.work above the scratch directory must not join the build.
            .env("GOWORK", "off")
            // Static binaries: they run on any Linux and need no C toolchain to build.
            .env("CGO_ENABLED", "0")
    }

    /// `go install <package>@<version>` into a private GOBIN, then moved to `out`.
    async fn go_install(&self, package: &str, out: &Path) -> Result<(), ToolError> {
        let gobin = self.work.join("gobin");
        create_dir(&gobin)?;
        let spec = self
            .go(BUILD_TIMEOUT)
            .current_dir(self.work)
            .env("GOBIN", &gobin)
            // The user's GOFLAGS (say -mod=vendor) would break a build outside any module.
            .env("GOFLAGS", "")
            .arg("install")
            .arg(format!("-ldflags={}", ldflags(self.x)))
            .arg(format!("{package}@{}", self.pin.version));
        process::run_checked(&spec).await?;
        let built = single_file(&gobin).ok_or_else(|| {
            self.failure(format!(
                "`go install` left no single binary in {}",
                gobin.display()
            ))
        })?;
        create_dir(out.parent().unwrap_or(self.work))?;
        std::fs::rename(&built, out).map_err(|source| ToolError::Io {
            action: "move the built binary to".into(),
            path: out.to_path_buf(),
            source,
        })
    }

    /// The required module's own go.mod, from the module cache (downloaded if needed).
    async fn upstream_go_mod(&self, module: &str) -> Result<String, ToolError> {
        let spec = self
            .go(MODULE_TIMEOUT)
            .current_dir(self.work)
            .env("GOFLAGS", "-mod=mod")
            .args(["mod", "download", "-json"])
            .arg(format!("{module}@{}", self.pin.version));
        let output = process::run_checked(&spec).await?;
        let info: serde_json::Value = serde_json::from_str(&output.stdout)
            .map_err(|e| self.failure(format!("`go mod download -json` printed no JSON: {e}")))?;
        let go_mod = info["GoMod"].as_str().ok_or_else(|| {
            self.failure(format!(
                "`go mod download -json` named no go.mod: {}",
                output.stdout.trim()
            ))
        })?;
        std::fs::read_to_string(go_mod).map_err(|source| ToolError::Io {
            action: "read".into(),
            path: PathBuf::from(go_mod),
            source,
        })
    }

    async fn go_build(
        &self,
        module_dir: &Path,
        package: &str,
        out: &Path,
    ) -> Result<(), ToolError> {
        let build = self
            .go(BUILD_TIMEOUT)
            .current_dir(module_dir)
            .env("GOFLAGS", "-mod=mod")
            .arg("build")
            .arg(format!("-ldflags={}", ldflags(self.x)))
            .arg("-o")
            .arg(out)
            .arg(package);
        process::run_checked(&build).await?;
        Ok(())
    }

    fn failure(&self, message: String) -> ToolError {
        ToolError::Install {
            tool: self.tool.to_string(),
            version: self.pin.version.clone(),
            message,
        }
    }
}

/// The go.mod of a module that exists only to build one pinned tool.
pub(crate) struct ThrowawayModule<'a> {
    pub tool: &'a str,
    pub require: &'a str,
    pub version: &'a str,
    /// `module => module version` replaces.
    pub replaces: Vec<(String, String)>,
    /// Declared with a `tool` directive so `go mod tidy` keeps what it needs.
    pub tool_package: Option<&'a str>,
}

impl ThrowawayModule<'_> {
    pub fn go_mod(&self) -> String {
        let mut text = format!(
            "// Generated by chart-harness to build {tool} {version}; deleted after the build.\n\
             module chart-harness.local/build/{tool}\n\n\
             // The lowest version with `tool` directives; `go mod tidy` raises it as the\n\
             // requirements demand.\n\
             go 1.24\n\n\
             require {require} {version}\n",
            tool = self.tool,
            version = self.version,
            require = self.require,
        );
        if !self.replaces.is_empty() {
            text.push_str("\nreplace (\n");
            for (module, version) in &self.replaces {
                text.push_str(&format!("\t{module} => {module} {version}\n"));
            }
            text.push_str(")\n");
        }
        if let Some(package) = self.tool_package {
            text.push_str(&format!("\ntool {package}\n"));
        }
        text
    }
}

/// A main package that runs `<main_package>.Main(os.Args)`.
pub(crate) fn wrapper_main(tool: &str, main_package: &str) -> String {
    let alias = main_package.rsplit('/').next().unwrap_or(main_package);
    format!(
        "// Generated by chart-harness: the {tool} command, from its pinned module.\n\
         package main\n\n\
         import (\n\t\"os\"\n\n\t{alias} \"{main_package}\"\n)\n\n\
         func main() {{\n\t{alias}.Main(os.Args)\n}}\n"
    )
}

/// Modules a go.mod replaces with a directory under `./staging/` (Kubernetes publishes
/// each as its own module, versioned `v0.<minor>.<patch>`).
pub(crate) fn staging_modules(go_mod: &str) -> Vec<String> {
    go_mod
        .lines()
        .map(|line| line.trim().trim_start_matches("replace").trim())
        .filter_map(|line| {
            let (module, target) = line.split_once("=>")?;
            let target = target.trim();
            (target.starts_with("./staging/") || target.starts_with("staging/")).then(|| {
                module
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
        .filter(|module| !module.is_empty())
        .collect()
}

/// `-s -w` (no symbol tables: smaller binaries, faster copies) and the `-X` variables.
pub(crate) fn ldflags(x: &BTreeMap<String, String>) -> String {
    std::iter::once("-s -w".to_string())
        .chain(x.iter().map(|(key, value)| format!("-X {key}={value}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn single_file(dir: &Path) -> Option<PathBuf> {
    let mut files = std::fs::read_dir(dir).ok()?.filter_map(Result::ok);
    let first = files.next()?.path();
    files.next().is_none().then_some(first)
}

fn create_dir(dir: &Path) -> Result<(), ToolError> {
    std::fs::create_dir_all(dir).map_err(|source| ToolError::Io {
        action: "create".into(),
        path: dir.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), ToolError> {
    std::fs::write(path, text).map_err(|source| ToolError::Io {
        action: "write".into(),
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::pins::Pins;
    use rstest::rstest;

    const KUBERNETES_GO_MOD: &str = "module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/example/fork => github.com/example/fork v1.2.3
)

replace k8s.io/kubectl => ./staging/src/k8s.io/kubectl
";

    #[test]
    fn staging_replaces_are_found_in_blocks_and_single_lines() {
        assert_eq!(
            staging_modules(KUBERNETES_GO_MOD),
            vec!["k8s.io/api", "k8s.io/client-go", "k8s.io/kubectl"]
        );
    }

    #[test]
    fn the_kubernetes_throwaway_module_pins_staging_and_declares_the_tool() {
        let replaces = vec![
            ("k8s.io/api".to_string(), "v0.37.2".to_string()),
            ("k8s.io/client-go".to_string(), "v0.37.2".to_string()),
        ];
        let text = ThrowawayModule {
            tool: "kube-apiserver",
            require: "k8s.io/kubernetes",
            version: "v1.37.2",
            replaces,
            tool_package: Some("k8s.io/kubernetes/cmd/kube-apiserver"),
        }
        .go_mod();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("//")).collect();
        assert_eq!(
            lines,
            vec![
                "module chart-harness.local/build/kube-apiserver",
                "",
                "go 1.24",
                "",
                "require k8s.io/kubernetes v1.37.2",
                "",
                "replace (",
                "\tk8s.io/api => k8s.io/api v0.37.2",
                "\tk8s.io/client-go => k8s.io/client-go v0.37.2",
                ")",
                "",
                "tool k8s.io/kubernetes/cmd/kube-apiserver",
            ]
        );
    }

    #[test]
    fn the_etcd_wrapper_requires_the_server_module_and_calls_its_main() {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool("etcd").unwrap();
        let BuildRecipe::GoMainWrapper {
            require,
            main_package,
            ..
        } = &pin.build
        else {
            panic!(
                "etcd is built through a main wrapper, found {:?}",
                pin.build
            );
        };
        let go_mod = ThrowawayModule {
            tool: "etcd",
            require,
            version: &pin.version,
            replaces: Vec::new(),
            tool_package: None,
        }
        .go_mod();
        assert!(
            go_mod.contains("\nrequire go.etcd.io/etcd/server/v3 v3.6.16\n"),
            "{go_mod}"
        );
        assert!(
            !go_mod.contains("replace") && !go_mod.contains("\ntool "),
            "{go_mod}"
        );
        let main = wrapper_main("etcd", main_package);
        assert!(
            main.contains("etcdmain \"go.etcd.io/etcd/server/v3/etcdmain\""),
            "{main}"
        );
        assert!(main.contains("etcdmain.Main(os.Args)"), "{main}");
    }

    #[rstest]
    #[case::helm3("helm3", &[
        "-X helm.sh/helm/v3/internal/version.version=v3.22.0",
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37",
        "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1",
        "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37",
    ])]
    #[case::helm4("helm4", &["-X helm.sh/helm/v4/internal/version.version=v4.3.1"])]
    #[case::kube_scheduler("kube-scheduler", &[
        "-X k8s.io/component-base/version.gitVersion=v1.37.2",
        "-X k8s.io/component-base/version.gitMajor=1",
        "-X k8s.io/component-base/version.gitMinor=37",
        "-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2",
    ])]
    fn ldflags_strip_and_set_the_pinned_variables(#[case] tool: &str, #[case] expected: &[&str]) {
        let pins = Pins::embedded().unwrap();
        let flags = ldflags(&pins.x_assignments(pins.tool(tool).unwrap()));
        assert!(flags.starts_with("-s -w "), "{flags}");
        for assignment in expected {
            assert!(
                flags.contains(assignment),
                "`{assignment}` missing from {flags}"
            );
        }
    }

    /// Resolves the throwaway modules of the heavy tools for real (`go mod tidy` through
    /// the module proxy, then `go list` of the main package) without compiling them.
    #[rstest]
    #[case::etcd("etcd")]
    #[case::kube_apiserver("kube-apiserver")]
    #[ignore = "downloads the etcd or Kubernetes module graph through the Go proxy"]
    #[tokio::test]
    async fn throwaway_modules_resolve_with_go(#[case] tool: &str) {
        let pins = Pins::embedded().unwrap();
        let pin = pins.tool(tool).unwrap();
        let x = pins.x_assignments(pin);
        let work = tempfile::tempdir().unwrap();
        let go = crate::tools::ToolEnv::from_process()
            .find_on_path("go", None)
            .into_iter()
            .next()
            .expect("go on PATH");
        let build = GoBuild {
            go: &go,
            tool,
            pin,
            x: &x,
            work: work.path(),
        };
        let (dir, package) = build.prepare_module().await.unwrap();
        let go_mod = std::fs::read_to_string(dir.join("go.mod")).unwrap();
        assert!(dir.join("go.sum").is_file(), "{go_mod}");
        let list = build
            .go(MODULE_TIMEOUT)
            .current_dir(&dir)
            .env("GOFLAGS", "-mod=mod")
            .args([
                "list",
                "-f",
                "{{.Name}} {{.Module.Path}}@{{.Module.Version}}",
            ])
            .arg(&package);
        let output = process::run_checked(&list).await.unwrap();
        let listed = output.stdout.trim();
        assert!(listed.starts_with("main "), "{listed}");
        if tool == "kube-apiserver" {
            assert!(listed.ends_with("k8s.io/kubernetes@v1.37.2"), "{listed}");
            assert!(
                go_mod.contains("k8s.io/client-go => k8s.io/client-go v0.37.2"),
                "{go_mod}"
            );
        }
    }

    #[test]
    fn tools_without_variables_only_strip() {
        assert_eq!(ldflags(&BTreeMap::new()), "-s -w");
    }
}
