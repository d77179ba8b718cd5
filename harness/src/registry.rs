//! The suites, each declared once in `registered_suites!`. A leaf module: config,
//! discovery and the plan name suites through it without importing the suites
//! themselves, and the suites bind their run functions to the same declaration
//! (`suites::run_registered`).
//!
//! Everything else is derived: the [`Suite`] enum and its names, the CLI's run
//! subcommands, the plan's trial shape and library-chart rule, the cluster lease, the
//! hidden `chart-harness suites` list that `ci/test.sh` runs, and the tests that guard
//! the `suites/<name>.rs` entry points and the nextest setup-script filter.
//! `docs/architecture.md` has the checklist for adding a suite.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Calls `$then! { ... }` with the declaration of every suite, in run order.
///
/// Each entry: the enum variant, then its name (trial prefix, subcommand and `--test`
/// target), a one-line description for `--help`, whether it needs a cluster, whether
/// it also runs over library charts, its trial shape, the key of `ci/harness.yaml` a
/// chart must declare for the suite to have trials (the plan skips the others), and
/// whether nothing of it can run where pods are simulated, and the function that runs one
/// trial (`async fn run(&Trial, &TrialInputs, &SuiteContext, &mut PhaseRecorder)`, a path resolved
/// inside `suites/`). Two macros consume this list, `declare_suites` below and
/// `dispatch_suites` in `suites/mod.rs`; a new key goes into both matchers.
macro_rules! registered_suites {
    ($then:ident) => {
        $then! {
            Lint {
                name: "lint",
                about: "Run the lint suite",
                needs_cluster: false,
                library_charts: true,
                shape: PerChartCase,
                opt_in: None,
                needs_containers: false,
                run: lint::run,
            }
            Template {
                name: "template",
                about: "Run the template suite",
                needs_cluster: false,
                library_charts: false,
                shape: PerChartCase,
                opt_in: None,
                needs_containers: false,
                run: template::run,
            }
            Policy {
                name: "policy",
                about: "Run the policy suite: security and reliability rules over the rendered manifests",
                needs_cluster: false,
                library_charts: false,
                shape: PerChartCase,
                opt_in: None,
                needs_containers: false,
                run: policy::run,
            }
            Integration {
                name: "integration",
                about: "Run the integration suite: install, ready, helm test and uninstall on a cluster",
                needs_cluster: true,
                library_charts: false,
                shape: PerChartCase,
                opt_in: None,
                needs_containers: false,
                run: integration::run,
            }
            Upgrade {
                name: "upgrade",
                about: "Run the upgrade suite: upgrade from a baseline with data checked, immutable-field breaks predicted, and roll back",
                needs_cluster: true,
                library_charts: false,
                shape: PerChartCase,
                opt_in: None,
                needs_containers: false,
                run: upgrade::run,
            }
            BackupRestore {
                name: "backup-restore",
                about: "Run the backup-restore suite: back up, make a real disaster, restore, verify both ways and measure the RTO",
                needs_cluster: true,
                library_charts: false,
                shape: PerChartCase,
                opt_in: Some("backup-restore"),
                needs_containers: true,
                run: backup_restore::run,
            }
        }
    };
}
pub(crate) use registered_suites;

/// Which trials a suite has for a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrialShape {
    /// One trial per case of every chart: `suite::chart::case`.
    PerChartCase,
}

/// What the registry says about one suite.
#[derive(Debug)]
pub struct SuiteSpec {
    pub name: &'static str,
    /// The subcommand's one-line help.
    pub about: &'static str,
    /// The run leases a cluster when a planned trial's suite needs one.
    pub needs_cluster: bool,
    /// Library charts render and install nothing on their own; suites without this
    /// skip them, and the charts that use them are tested instead.
    pub library_charts: bool,
    pub shape: TrialShape,
    /// The key of a chart's `ci/harness.yaml` the suite needs (`backup-restore`): a
    /// chart without it has nothing to test, and its trials are listed as skipped.
    pub opt_in: Option<&'static str>,
    /// Nothing of the suite can run without real containers: on the local control
    /// plane its trials are "not run", and `list` says so.
    pub needs_containers: bool,
}

macro_rules! declare_suites {
    ($(
        $variant:ident {
            name: $name:literal,
            about: $about:literal,
            needs_cluster: $cluster:literal,
            library_charts: $library:literal,
            shape: $shape:ident,
            opt_in: $opt_in:expr,
            needs_containers: $containers:literal,
            run: $run:path,
        }
    )*) => {
        /// One test suite, as registered in `registered_suites!`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Suite {
            $($variant,)*
        }

        impl Suite {
            /// Every registered suite, in run order.
            pub const ALL: &'static [Suite] = &[$(Suite::$variant,)*];

            pub fn spec(self) -> &'static SuiteSpec {
                match self {
                    $(Suite::$variant => &SuiteSpec {
                        name: $name,
                        about: $about,
                        needs_cluster: $cluster,
                        library_charts: $library,
                        shape: TrialShape::$shape,
                        opt_in: $opt_in,
                        needs_containers: $containers,
                    },)*
                }
            }
        }
    };
}
registered_suites!(declare_suites);

impl Suite {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Its libtest target in `suites/`: the name, `-` written `_` as Rust's file and
    /// crate names want (`cargo test --test backup_restore`).
    pub fn test_target(self) -> String {
        self.name().replace('-', "_")
    }

    /// Suites that install into a cluster; the run leases one for them.
    pub fn needs_cluster(self) -> bool {
        self.spec().needs_cluster
    }

    /// The registered suites that need a cluster, in run order.
    pub fn cluster_suites() -> impl Iterator<Item = Suite> {
        Suite::ALL
            .iter()
            .copied()
            .filter(|suite| suite.needs_cluster())
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .iter()
            .copied()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Suite::ALL.iter().map(|s| s.name()).collect();
                format!("unknown suite `{s}`; known suites: {}", known.join(", "))
            })
    }
}

impl Serialize for Suite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Suite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The `main` of a libtest-mimic target `suites/<name>.rs`:
/// `chart_harness::suite_main!("lint");`.
#[macro_export]
macro_rules! suite_main {
    ($name:literal) => {
        fn main() -> std::process::ExitCode {
            $crate::libtest::main($name, env!("CARGO_MANIFEST_DIR"))
        }
    };
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("harness/ lives in the workspace")
            .to_path_buf()
    }

    fn entry_point_line(suite: Suite) -> String {
        format!("chart_harness::suite_main!(\"{suite}\");")
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Suite::ALL.iter().map(|s| s.name()).collect();
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>(), Ok(*suite));
            assert_eq!(
                serde_json::to_value(suite).unwrap(),
                serde_json::json!(suite.name())
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Suite::ALL.len(), "two suites share a name");
        assert!(
            "lnt"
                .parse::<Suite>()
                .unwrap_err()
                .contains("known suites: lint, template, policy, integration")
        );
    }

    /// A registered suite without a libtest entry point would be missing from
    /// `cargo test` and nextest without anyone noticing.
    #[test]
    fn every_registered_suite_has_an_entry_point_and_a_test_target() {
        let root = workspace_root();
        let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let targets = manifest
            .get("test")
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_default();
        let mut missing = Vec::new();
        for suite in Suite::ALL {
            let target = suite.test_target();
            let path = format!("suites/{target}.rs");
            let line = entry_point_line(*suite);
            let entry = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
            if !entry.lines().any(|l| l.trim() == line) {
                missing.push(format!("{path} containing `{line}`"));
            }
            let registered = targets.iter().any(|entry| {
                entry.get("name").and_then(|v| v.as_str()) == Some(target.as_str())
                    && entry.get("path").and_then(|v| v.as_str()) == Some(path.as_str())
                    && entry.get("harness").and_then(|v| v.as_bool()) == Some(false)
            });
            if !registered {
                missing.push(format!(
                    "in the root Cargo.toml: [[test]] name = \"{target}\", path = \"{path}\", harness = false"
                ));
            }
        }
        assert!(
            missing.is_empty(),
            "registered suites lack their entry points; add:\n  {}",
            missing.join("\n  ")
        );
    }

    /// nextest runs each trial in its own process; the cluster suites share the
    /// cluster its setup script starts only if the filter names every one of them.
    #[test]
    fn the_nextest_setup_script_filter_names_every_cluster_suite() {
        let path = workspace_root().join(".config/nextest.toml");
        let config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let expected = Suite::cluster_suites()
            .map(|suite| format!("binary({})", suite.test_target()))
            .collect::<Vec<_>>()
            .join(" | ");
        let filter = config
            .get("profile")
            .and_then(|p| p.get("default"))
            .and_then(|p| p.get("scripts"))
            .and_then(|s| s.as_array())
            .and_then(|scripts| {
                scripts
                    .iter()
                    .find(|s| s.get("setup").and_then(|v| v.as_str()) == Some("shared-cluster"))
            })
            .and_then(|script| script.get("filter"))
            .and_then(|f| f.as_str());
        assert_eq!(
            filter,
            Some(expected.as_str()),
            "in {}, the [[profile.default.scripts]] entry with setup = \"shared-cluster\" must read:\nfilter = \"{expected}\"",
            path.display()
        );
    }
}
