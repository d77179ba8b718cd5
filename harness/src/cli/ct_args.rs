//! chart-testing's command line: the flags `lint`, `install`, `lint-and-install`,
//! `list` and `list-changed` take with ct's meanings, turned into the configuration
//! lookup and overrides they ask for.

use std::path::PathBuf;

use clap::Args;

use crate::config::{self, LoadOptions};

/// chart-testing's (ct v3.14) flags for lint, install, lint-and-install and list-changed,
/// with ct's meanings. A flag overrides its `CT_*` variable, which overrides the config
/// file, as in ct (viper). Booleans take ct's forms: `--validate-yaml` or
/// `--validate-yaml=false`.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "chart-testing (ct) options")]
pub(super) struct CtArgs {
    /// Config file [default: chart-harness.yaml at the root, else ct.json/ct.yaml/ct.yml in
    /// the root, $HOME/.ct, /usr/local/etc/ct, /etc/ct (or $CT_CONFIG_DIR)]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Every chart except the excluded ones (also the default without --changed); as in
    /// ct, disables the version-increment check
    #[arg(long, conflicts_with = "ct_charts")]
    all: bool,
    /// Charts by name or directory (`charts/foo`), comma-separated or repeated; as in ct,
    /// disables the version-increment check
    #[arg(
        long = "charts",
        id = "ct_charts",
        value_delimiter = ',',
        value_name = "CHART"
    )]
    charts: Vec<String>,
    /// Git ref to compare with for changed charts; implies --changed
    #[arg(long, value_name = "REF")]
    since: Option<String>,
    /// Directories containing charts, comma-separated or repeated
    #[arg(long, value_delimiter = ',', value_name = "DIR")]
    chart_dirs: Vec<String>,
    /// Charts to skip, comma-separated or repeated
    #[arg(long, value_delimiter = ',', value_name = "CHART")]
    excluded_charts: Vec<String>,
    /// Target branch for changed charts and the version-increment check
    #[arg(long, value_name = "BRANCH")]
    target_branch: Option<String>,
    /// Git remote for changed charts and the version-increment check
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// Chart repositories for dependencies, `name=url`, comma-separated or repeated
    #[arg(long, value_delimiter = ',', value_name = "NAME=URL")]
    chart_repos: Vec<String>,
    /// Extra `helm repo add` arguments per repository, `name=ARGS`
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAME=ARGS",
        allow_hyphen_values = true
    )]
    helm_repo_extra_args: Vec<String>,
    /// Extra `helm dependency build` arguments
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    helm_dependency_extra_args: Vec<String>,
    /// Extra arguments for helm install, upgrade and test, one quoted string
    /// ("--timeout 600s"); its --timeout replaces the trial's helm timeout there
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    helm_extra_args: Option<String>,
    /// Extra arguments for helm lint, one quoted string
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    helm_lint_extra_args: Option<String>,
    /// `--set` arguments for helm install and upgrade and the dry-run's render, one quoted
    /// string ("--set=a=b --set=c=d")
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    helm_extra_set_args: Option<String>,
    /// Commands run per chart through `sh -c`, `{{ .Path }}` is the chart directory
    #[arg(long, value_delimiter = ',', value_name = "COMMAND")]
    additional_commands: Vec<String>,
    /// Check that a changed chart's version was increased
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    check_version_increment: Option<bool>,
    /// Require every maintainer to have a name (accounts are not looked up)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    validate_maintainers: Option<bool>,
    /// Check Chart.yaml's fields
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    validate_chart_schema: Option<bool>,
    /// Check that YAML files are well-formed
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    validate_yaml: Option<bool>,
    /// Ignore files matched by .helmignore when deciding what changed
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    use_helmignore: Option<bool>,
    /// Group output in collapsible GitHub Actions groups
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    github_groups: Option<bool>,
    /// Before the install test, install the chart's revision at the merge-base and upgrade
    /// it to this one, then upgrade this one in place (skipped on a breaking version bump)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    upgrade: Option<bool>,
    /// With --upgrade, do not upgrade-test a values file of the previous revision that
    /// this revision no longer has
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    skip_missing_values: Option<bool>,
    /// Accepted for ct compatibility and ignored with a warning that says why
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    debug: Option<bool>,
    /// Accepted for ct compatibility and ignored with a warning (the first line names the
    /// config file)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    print_config: Option<bool>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    print_logs: Option<bool>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    exclude_deprecated: Option<bool>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    skip_clean_up: Option<bool>,
    /// The yamllint configuration `validate-yaml` uses [default: lintconf.yaml at the
    /// repository root, else ct's default lintconf]
    #[arg(long, value_name = "FILE")]
    lint_conf: Option<String>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "FILE")]
    chart_yaml_schema: Option<String>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "LABEL")]
    release_label: Option<String>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,
    /// Accepted for ct compatibility and ignored with a warning
    #[arg(long, value_name = "DURATION")]
    kubectl_timeout: Option<String>,
}

impl CtArgs {
    /// Only `--config FILE`: what `run-cell` takes over from the plan's command line.
    pub fn with_config(config: Option<PathBuf>) -> CtArgs {
        CtArgs {
            config,
            ..CtArgs::default()
        }
    }

    /// The `--config` given, to hand on to the commands a plan's cells run.
    pub fn config_file(&self) -> Option<&std::path::Path> {
        self.config.as_deref()
    }

    /// The charts `--charts` names.
    pub(super) fn charts(&self) -> &[String] {
        &self.charts
    }

    /// Whether a run takes only the changed charts: `--changed` or `--since` (which names
    /// the ref to compare with, so it means `--changed`), unless `--all` or `--charts`
    /// turn change detection off, as in ct.
    pub(super) fn only_changed(&self, changed: bool) -> bool {
        (changed || self.since.is_some()) && !self.all && self.charts.is_empty()
    }

    /// The configuration lookup these flags ask for: ct's search path and `CT_*`
    /// variables, the `--config` file (relative to the working directory, as in ct), and
    /// every flag given as an override of its key. Flags with no meaning here become
    /// warnings, one each.
    pub(super) fn load_options(&self) -> anyhow::Result<(LoadOptions, Vec<String>)> {
        use serde_json::Value;
        let mut options = LoadOptions::from_environment();
        options.file = match &self.config {
            Some(file) if file.is_relative() => Some(std::env::current_dir()?.join(file)),
            other => other.clone(),
        };
        let list = |values: &[String]| {
            (!values.is_empty())
                .then(|| Value::Array(values.iter().cloned().map(Value::String).collect()))
        };
        let text = |value: &Option<String>| value.clone().map(Value::String);
        let flag = |value: &Option<bool>| value.map(Value::Bool);
        let mut flags = vec![
            ("chart-dirs", list(&self.chart_dirs)),
            ("excluded-charts", list(&self.excluded_charts)),
            ("chart-repos", list(&self.chart_repos)),
            ("helm-repo-extra-args", list(&self.helm_repo_extra_args)),
            (
                "helm-dependency-extra-args",
                list(&self.helm_dependency_extra_args),
            ),
            ("additional-commands", list(&self.additional_commands)),
            ("target-branch", text(&self.target_branch)),
            ("remote", text(&self.remote)),
            ("lint-conf", text(&self.lint_conf)),
            ("since", text(&self.since)),
            ("helm-extra-args", text(&self.helm_extra_args)),
            ("helm-lint-extra-args", text(&self.helm_lint_extra_args)),
            ("helm-extra-set-args", text(&self.helm_extra_set_args)),
            (
                "check-version-increment",
                flag(&self.check_version_increment),
            ),
            ("validate-maintainers", flag(&self.validate_maintainers)),
            ("validate-chart-schema", flag(&self.validate_chart_schema)),
            ("validate-yaml", flag(&self.validate_yaml)),
            ("use-helmignore", flag(&self.use_helmignore)),
            ("github-groups", flag(&self.github_groups)),
            ("upgrade", flag(&self.upgrade)),
            ("skip-missing-values", flag(&self.skip_missing_values)),
        ];
        let mut notes = Vec::new();
        if self.all || !self.charts.is_empty() {
            // ct: "--all/--charts ... disables changed charts detection and version
            // increment checking", whatever else says otherwise.
            flags.push(("check-version-increment", Some(Value::Bool(false))));
            notes.push(
                "version increment checking disabled (--all or --charts, as in ct)".to_string(),
            );
        }
        options.flags = flags
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_string(), value?)))
            .collect();
        let ignored = [
            ("debug", self.debug.is_some()),
            ("print-config", self.print_config.is_some()),
            ("print-logs", self.print_logs.is_some()),
            ("exclude-deprecated", self.exclude_deprecated.is_some()),
            ("skip-clean-up", self.skip_clean_up.is_some()),
            ("chart-yaml-schema", self.chart_yaml_schema.is_some()),
            ("namespace", self.namespace.is_some()),
            ("release-label", self.release_label.is_some()),
            ("build-id", self.build_id.is_some()),
            ("kubectl-timeout", self.kubectl_timeout.is_some()),
        ];
        for (key, _) in ignored.iter().filter(|(_, given)| *given) {
            let reason = config::ignored_reason(key).unwrap_or("it has no meaning here");
            notes.push(format!("--{key} is ignored: {reason}"));
        }
        Ok((options, notes))
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        ct: CtArgs,
    }

    /// The flags the README says "are accepted and have no effect here".
    fn readme_ignored_flags() -> Vec<String> {
        let readme = include_str!("../../../README.md");
        let end = readme
            .find("are accepted and have no effect here")
            .expect("the README lists the flags that have no effect");
        let start = readme[..end].rfind("\n- ").expect("a list item");
        readme[start..end]
            .split('`')
            .filter(|part| part.starts_with("--"))
            .map(|flag| flag.trim_start_matches("--").to_string())
            .collect()
    }

    /// The flag given alone (`--all`, `--debug`) or with a value.
    fn parse_with(flag: &str) -> CtArgs {
        Line::try_parse_from(["ct", &format!("--{flag}")])
            .or_else(|_| Line::try_parse_from(["ct", &format!("--{flag}=x")]))
            .unwrap_or_else(|error| panic!("--{flag}: {error}"))
            .ct
    }

    /// A flag is in the README's list exactly when it leaves the configuration lookup and
    /// its overrides as they were and says, once, that it is ignored. A flag that starts
    /// to change the run, or one added with no effect and no mention, fails here.
    #[test]
    fn the_readme_lists_exactly_the_flags_that_change_nothing() {
        let listed = readme_ignored_flags();
        assert!(listed.contains(&"debug".to_string()), "{listed:?}");
        let (unchanged, _) = CtArgs::default().load_options().unwrap();
        let mut ignored = Vec::new();
        for arg in Line::command().get_arguments() {
            let Some(flag) = arg.get_long() else { continue };
            let (options, notes) = parse_with(flag).load_options().unwrap();
            let changes_nothing =
                options.flags == unchanged.flags && options.file == unchanged.file;
            let said = notes
                .iter()
                .filter(|note| note.starts_with(&format!("--{flag} is ignored")))
                .count();
            assert_eq!(
                changes_nothing,
                said == 1,
                "--{flag}: changes nothing: {changes_nothing}, warnings: {notes:?}"
            );
            if changes_nothing {
                ignored.push(flag.to_string());
            }
        }
        ignored.sort();
        let mut listed = listed;
        listed.sort();
        assert_eq!(ignored, listed, "README.md's list of flags with no effect");
    }
}
