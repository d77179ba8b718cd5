//! Where chart-testing (v3.14) finds its two support files, `lintconf.yaml` (yamllint's
//! configuration) and `chart_schema.yaml` (Yamale's schema for Chart.yaml), found the
//! same way here so a ct user's CI reads the same files:
//!
//! 1. the `--lint-conf` / `--chart-yaml-schema` flag, `CT_*` variable or config key;
//! 2. else, when `CT_CONFIG_DIR` is set, the file in that directory and nowhere else,
//!    whether or not it exists (chart-testing-action points it at ct's bundled `etc/`,
//!    so a repository's own root file is never read under the action);
//! 3. else the first of `.`, `.ct`, `$HOME/.ct`, `/usr/local/etc/ct` and `/etc/ct` that
//!    has it (ct's `.` is its working directory; here it is the repository root);
//! 4. else nothing: ct refuses to lint, chart-harness uses ct's default lintconf.
//!
//! Looking a file up reads nothing, so a run with no lint trial never parses it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{HarnessConfig, LoadOptions};

/// yamllint's configuration, as ct names it.
pub const LINTCONF_FILE: &str = "lintconf.yaml";

/// Yamale's schema for Chart.yaml, as ct names it.
pub const CHART_SCHEMA_FILE: &str = "chart_schema.yaml";

/// The directories ct searches, in its order, when `CT_CONFIG_DIR` is not set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SupportFileLookup {
    /// `CT_CONFIG_DIR`: the only directory looked in when set.
    pub config_dir: Option<PathBuf>,
    /// `.` and `.ct` under the repository root, then `$HOME/.ct`, `/usr/local/etc/ct`
    /// and `/etc/ct` (fewer for the library's own front ends, which read the repository
    /// alone).
    pub search: Vec<PathBuf>,
}

impl SupportFileLookup {
    /// ct's lookup for a repository: the root and its `.ct`, then `elsewhere` (the
    /// machine's directories, from [`super::LoadOptions`]).
    pub fn for_repository(
        repo_root: &Path,
        config_dir: Option<PathBuf>,
        elsewhere: &[PathBuf],
    ) -> SupportFileLookup {
        SupportFileLookup {
            config_dir,
            search: [repo_root.to_path_buf(), repo_root.join(".ct")]
                .into_iter()
                .chain(elsewhere.iter().cloned())
                .collect(),
        }
    }

    /// Which `name` ct would use: `configured` (the path and what set it) first, then
    /// `CT_CONFIG_DIR`, then the first search directory that has it.
    pub fn find(&self, name: &str, configured: Option<(PathBuf, String)>) -> SupportFile {
        if let Some((path, by)) = configured {
            return SupportFile::Configured { path, by };
        }
        if let Some(dir) = &self.config_dir {
            return SupportFile::ConfigDir {
                path: dir.join(name),
            };
        }
        match self
            .search
            .iter()
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
        {
            Some(path) => SupportFile::Found { path },
            None => SupportFile::NotFound {
                name: name.to_string(),
                searched: self.search.clone(),
            },
        }
    }
}

/// The support file a run uses, and why that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupportFile {
    /// Named by `by`: `--lint-conf`, `CT_LINT_CONF` or the config's key.
    Configured { path: PathBuf, by: String },
    /// `$CT_CONFIG_DIR/<name>`, which ct takes even when it does not exist.
    ConfigDir { path: PathBuf },
    /// The first search directory that has it.
    Found { path: PathBuf },
    /// No search directory has it.
    NotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
}

impl SupportFile {
    /// The file to read, if there is one to read.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SupportFile::Configured { path, .. }
            | SupportFile::ConfigDir { path }
            | SupportFile::Found { path } => Some(path),
            SupportFile::NotFound { .. } => None,
        }
    }

    /// Why this one: what named it, or where the lookup found it.
    pub fn reason(&self) -> String {
        match self {
            SupportFile::Configured { by, .. } => format!("named by {by}"),
            SupportFile::ConfigDir { .. } => {
                "from CT_CONFIG_DIR, the only place ct looks when it is set".to_string()
            }
            SupportFile::Found { .. } => {
                "the first of ct's search locations (., .ct, $HOME/.ct, /usr/local/etc/ct, /etc/ct) that has one".to_string()
            }
            SupportFile::NotFound { name, searched } => format!(
                "no {name} in {}, and CT_CONFIG_DIR is not set",
                searched
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The path as a person reads it: relative to `repo_root` when inside it.
    pub fn shown(&self, repo_root: &Path) -> Option<PathBuf> {
        self.path()
            .map(|path| path.strip_prefix(repo_root).unwrap_or(path).to_path_buf())
    }
}

impl fmt::Display for SupportFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => write!(f, "{} ({})", path.display(), self.reason()),
            None => f.write_str(&self.reason()),
        }
    }
}

/// ct's `lintconf.yaml` and `chart_schema.yaml` for this configuration (looked up, not
/// read). `lint-conf` names its setter: the flag over the variable over the file, as
/// the value itself was chosen.
pub(super) fn for_config(
    repo_root: &Path,
    options: &LoadOptions,
    config: &HarnessConfig,
) -> (SupportFile, SupportFile) {
    let elsewhere: &[PathBuf] = if options.ct_config_dir.is_some() {
        &[]
    } else {
        &options.search_dirs
    };
    let lookup =
        SupportFileLookup::for_repository(repo_root, options.ct_config_dir.clone(), elsewhere);
    let set_by = |key: &str| {
        if options.flags.iter().any(|(name, _)| name == key) {
            format!("--{key}")
        } else if let Some((name, _)) = options
            .env
            .iter()
            .find(|(name, _)| super::key_of_variable(name).as_deref() == Some(key))
        {
            name.clone()
        } else {
            config.describe_key(key)
        }
    };
    let lintconf = lookup.find(
        LINTCONF_FILE,
        config
            .lint_conf
            .clone()
            .map(|path| (path, set_by("lint-conf"))),
    );
    let chart_schema = lookup.find(CHART_SCHEMA_FILE, None);
    (lintconf, chart_schema)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// A repository and a home with `lintconf.yaml` where `files` say.
    fn lookup_with(files: &[&str], config_dir: bool) -> (tempfile::TempDir, SupportFileLookup) {
        let root = tempfile::tempdir().unwrap();
        for file in files {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "extends: default\n").unwrap();
        }
        let repo = root.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let lookup = SupportFileLookup::for_repository(
            &repo,
            config_dir.then(|| root.path().join("ct-etc")),
            &[root.path().join("home/.ct"), root.path().join("etc/ct")],
        );
        (root, lookup)
    }

    #[rstest]
    #[case::root_first(&["repo/lintconf.yaml", "repo/.ct/lintconf.yaml"], false, Some("repo/lintconf.yaml"))]
    #[case::then_dot_ct(&["repo/.ct/lintconf.yaml", "home/.ct/lintconf.yaml"], false, Some("repo/.ct/lintconf.yaml"))]
    #[case::then_home(&["home/.ct/lintconf.yaml", "etc/ct/lintconf.yaml"], false, Some("home/.ct/lintconf.yaml"))]
    #[case::then_etc(&["etc/ct/lintconf.yaml"], false, Some("etc/ct/lintconf.yaml"))]
    #[case::nowhere(&[], false, None)]
    #[case::config_dir_beats_the_root(&["repo/lintconf.yaml", "ct-etc/lintconf.yaml"], true, Some("ct-etc/lintconf.yaml"))]
    #[case::config_dir_even_when_missing(&["repo/lintconf.yaml"], true, Some("ct-etc/lintconf.yaml"))]
    fn the_lookup_follows_ct(
        #[case] files: &[&str],
        #[case] config_dir: bool,
        #[case] expected: Option<&str>,
    ) {
        let (root, lookup) = lookup_with(files, config_dir);
        let found = lookup.find(LINTCONF_FILE, None);
        assert_eq!(
            found.path().map(Path::to_path_buf),
            expected.map(|p| root.path().join(p)),
            "{found}"
        );
    }

    #[test]
    fn a_configured_file_wins_over_ct_config_dir() {
        let (root, lookup) = lookup_with(&["ct-etc/lintconf.yaml"], true);
        let mine = root.path().join("mine.yaml");
        let found = lookup.find(LINTCONF_FILE, Some((mine.clone(), "--lint-conf".into())));
        assert_eq!(found.path(), Some(mine.as_path()));
        assert_eq!(found.reason(), "named by --lint-conf");
    }

    #[test]
    fn each_choice_says_why() {
        let (_root, lookup) = lookup_with(&[], true);
        assert!(lookup.find(LINTCONF_FILE, None).to_string().ends_with(
            "lintconf.yaml (from CT_CONFIG_DIR, the only place ct looks when it is set)"
        ));
        let (_root, lookup) = lookup_with(&[], false);
        let none = lookup.find(CHART_SCHEMA_FILE, None).to_string();
        assert!(none.starts_with("no chart_schema.yaml in "), "{none}");
        assert!(none.ends_with("and CT_CONFIG_DIR is not set"), "{none}");
    }
}
