use std::path::Path;
use std::time::Duration;

use rstest::rstest;
use tempfile::TempDir;

use super::*;

fn repo_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const FULL_CT_YAML: &str = r#"
remote: upstream
target-branch: develop
since: v1.0.0
chart-dirs:
  - stable
  - ./incubator
excluded-charts: [legacy]
check-version-increment: false
validate-maintainers: false
validate-chart-schema: "false"
validate-yaml: false
helm-extra-args: --timeout  600s --wait
helm-lint-extra-args: --quiet
helm-extra-set-args: --set=a=b  --set=c.d=e
helm-dependency-extra-args: ["--skip-refresh"]
chart-repos:
  - bitnami=https://charts.bitnami.com/bitnami
  - local=http://127.0.0.1:8879/charts
helm-repo-extra-args:
  - local=--username me --password secret
upgrade: true
skip-missing-values: true
additional-commands:
  - helm unittest {{ .Path }}
use-helmignore: true
github-groups: true
"#;

#[test]
fn ct_yaml_with_every_supported_key_is_read() {
    let repo = repo_with(&[("ct.yaml", FULL_CT_YAML)]);
    let loaded = load(repo.path()).unwrap();
    let root = repo.path();
    assert_eq!(
        loaded.source,
        ConfigSource::ChartTesting(root.join("ct.yaml"))
    );
    let c = &loaded.config;
    assert_eq!(c.remote, "upstream");
    assert_eq!(c.target_branch, "develop");
    assert_eq!(c.since.as_deref(), Some("v1.0.0"));
    assert_eq!(
        c.chart_dirs,
        vec![root.join("stable"), root.join("incubator")]
    );
    assert_eq!(c.excluded_charts, vec!["legacy"]);
    assert!(!c.check_version_increment);
    assert!(!c.validate_maintainers);
    assert!(!c.validate_chart_schema);
    assert!(!c.validate_yaml);
    assert_eq!(c.helm_extra_args, vec!["--wait"]);
    assert_eq!(c.helm_timeout, Some(Duration::from_secs(600)));
    assert_eq!(c.helm_lint_extra_args, vec!["--quiet"]);
    assert_eq!(c.helm_dependency_extra_args, vec!["--skip-refresh"]);
    assert_eq!(
        c.chart_repos,
        vec![
            ChartRepo {
                name: "bitnami".into(),
                url: "https://charts.bitnami.com/bitnami".into(),
                extra_args: vec![],
            },
            ChartRepo {
                name: "local".into(),
                url: "http://127.0.0.1:8879/charts".into(),
                extra_args: vec![
                    "--username".into(),
                    "me".into(),
                    "--password".into(),
                    "secret".into()
                ],
            },
        ]
    );
    assert!(c.use_helmignore && c.github_groups);
    assert_eq!(c.helm_extra_set_args, vec!["--set=a=b", "--set=c.d=e"]);
    assert_eq!(c.additional_commands, vec!["helm unittest {{ .Path }}"]);
    assert_eq!(c.config_file.as_deref(), Some(Path::new("ct.yaml")));
    assert!(c.upgrade && c.skip_missing_values);
    // Every key of this file is acted on, so none warns.
    assert_eq!(loaded.warnings, Vec::<String>::new());
}

#[test]
fn defaults_apply_without_any_file() {
    let repo = repo_with(&[]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(loaded.source, ConfigSource::Defaults);
    let c = &loaded.config;
    assert_eq!(c.chart_dirs, vec![repo.path().join("charts")]);
    assert_eq!(c.target_branch, "main");
    assert_eq!(c.remote, "origin");
    assert_eq!(c.since, None);
    assert!(c.check_version_increment && c.validate_maintainers);
    assert!(c.validate_chart_schema && c.validate_yaml);
    assert!(!c.use_helmignore && c.helm_extra_set_args.is_empty());
    assert_eq!(c.report_dir, repo.path().join("target/chart-harness"));
    assert_eq!(c.helm_major, None);
    assert_eq!(c.trial_timeout, Duration::from_secs(300));
    assert_eq!(c.jobs, None);
    assert_eq!(c.config_file, None);
    assert!(loaded.warnings.is_empty());
}

#[test]
fn chart_harness_yaml_takes_precedence_over_ct_yaml() {
    let repo = repo_with(&[
        ("chart-harness.yaml", "chart-dirs: [mine]\nhelm: 3\n"),
        ("ct.yaml", "chart-dirs: [theirs]\n"),
    ]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(
        loaded.source,
        ConfigSource::Harness(repo.path().join("chart-harness.yaml"))
    );
    assert_eq!(loaded.config.chart_dirs, vec![repo.path().join("mine")]);
    assert_eq!(loaded.config.helm_major, Some(HelmMajor::V3));
}

#[test]
fn ct_yaml_is_found_in_the_dot_ct_directory() {
    let repo = repo_with(&[(".ct/ct.yaml", "target-branch: trunk\n")]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(
        loaded.source,
        ConfigSource::ChartTesting(repo.path().join(".ct/ct.yaml"))
    );
    assert_eq!(loaded.config.target_branch, "trunk");
}

#[test]
fn harness_keys_are_read() {
    let repo = repo_with(&[(
        "chart-harness.yaml",
        "report-dir: out/reports\njobs: 3\nhelm: \"4\"\nkube-version: \"v1.31.2\"\ntrial-timeout: 1m30s\n",
    )]);
    let c = load(repo.path()).unwrap().config;
    assert_eq!(c.report_dir, repo.path().join("out/reports"));
    assert_eq!(c.jobs, Some(3));
    assert_eq!(c.helm_major, Some(HelmMajor::V4));
    assert_eq!(c.kube_version.as_deref(), Some("1.31.2"));
    assert_eq!(c.trial_timeout, Duration::from_secs(90));
}

#[test]
fn snapshots_and_values_files_are_read() {
    let defaults = HarnessConfig::defaults(Path::new("/repo"));
    assert!(!defaults.snapshots);
    assert_eq!(defaults.values_files, None);
    let repo = repo_with(&[(
        "chart-harness.yaml",
        "snapshots: true\nvalues-files: values-*.yaml\n",
    )]);
    let c = load(repo.path()).unwrap().config;
    assert!(c.snapshots);
    assert_eq!(c.values_files.as_deref(), Some("values-*.yaml"));
}

#[rstest]
#[case("values-files: ci/values-*.yaml\n", "has a `/`")]
#[case("values-files: values-[.yaml\n", "is not a glob")]
fn bad_values_files_globs_name_the_key(#[case] text: &str, #[case] expected: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let error = load(repo.path()).unwrap_err().to_string();
    assert!(
        error.contains("values-files") && error.contains(expected),
        "{error}"
    );
}

#[test]
fn comma_separated_lists_are_split_as_viper_does() {
    let repo = repo_with(&[("ct.yaml", "chart-dirs: charts, incubator\n")]);
    let c = load(repo.path()).unwrap().config;
    assert_eq!(
        c.chart_dirs,
        vec![repo.path().join("charts"), repo.path().join("incubator")]
    );
}

#[rstest]
#[case("chart-dir: [charts]\n", "chart-dir", Some("chart-dirs"))]
#[case("\ntarget-brnach: main\n", "target-brnach", Some("target-branch"))]
#[case("trial-timout: 5m\n", "trial-timout", Some("trial-timeout"))]
#[case("zzzz: 1\n", "zzzz", None)]
fn unknown_key_is_an_error_with_the_nearest_key(
    #[case] text: &str,
    #[case] key: &str,
    #[case] suggestion: Option<&str>,
) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err();
    let ConfigError::UnknownKey {
        path,
        key: found,
        suggestion: suggested,
        line,
    } = &err
    else {
        panic!("expected UnknownKey, got {err}");
    };
    assert_eq!(path, Path::new("chart-harness.yaml"));
    assert_eq!(found, key);
    assert_eq!(suggested.as_deref(), suggestion);
    let expected_line = text.lines().position(|l| l.starts_with(key)).unwrap() as u64 + 1;
    assert_eq!(*line, Some(expected_line));
    let message = err.to_string();
    assert!(
        message.contains(&format!("chart-harness.yaml:{expected_line}")),
        "{message}"
    );
    if let Some(s) = suggestion {
        assert!(
            message.contains(&format!("did you mean `{s}`")),
            "{message}"
        );
    }
}

#[test]
fn ignored_ct_keys_warn_once_each_and_name_the_key() {
    let repo = repo_with(&[(
        "ct.yaml",
        "print-logs: true\nnamespace: test\nrelease-label: app\nkubectl-timeout: 60s\nchart-dirs: [charts]\n",
    )]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
    for key in [
        "print-logs",
        "namespace",
        "release-label",
        "kubectl-timeout",
    ] {
        let hits = loaded
            .warnings
            .iter()
            .filter(|w| w.contains(&format!("`{key}` is ignored")))
            .count();
        assert_eq!(hits, 1, "{key}: {:?}", loaded.warnings);
    }
    assert!(loaded.warnings.iter().all(|w| w.starts_with("ct.yaml: ")));
}

#[test]
fn lint_conf_is_resolved_against_the_repository_root() {
    let repo = repo_with(&[("ct.yaml", "lint-conf: ./.github/lintconf.yaml\n")]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(
        loaded.config.lint_conf,
        Some(repo.path().join(".github/lintconf.yaml"))
    );
    assert_eq!(loaded.warnings, Vec::<String>::new());
}

#[test]
fn validate_maintainers_warns_that_accounts_are_not_looked_up() {
    let repo = repo_with(&[("ct.yaml", "validate-maintainers: true\n")]);
    let loaded = load(repo.path()).unwrap();
    assert!(loaded.config.validate_maintainers);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("validate-maintainers"));
    assert!(loaded.warnings[0].contains("name"));
}

#[rstest]
#[case("chart-repos: [bitnami]\n", "chart-repos")]
#[case("jobs: 0\n", "jobs")]
#[case("trial-timeout: forever\n", "trial-timeout")]
#[case("kube-version: \"one.two\"\n", "kube-version")]
#[case("chart-dirs: []\n", "chart-dirs")]
fn invalid_values_name_the_key(#[case] text: &str, #[case] key: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key: k, line: Some(1), .. } if *k == key),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("chart-harness.yaml:1: invalid"),
        "{err}"
    );
}

#[rstest]
#[case("kube-version: 1.30\n")]
#[case("helm: 5\n")]
#[case("jobs: many\n")]
#[case("jobs: -2\n")]
fn wrongly_typed_values_are_errors_with_a_line(#[case] text: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Yaml(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("chart-harness.yaml:1"), "{message}");
    let explains = ["quoted string", "3 or 4", "whole number"];
    assert!(explains.iter().any(|e| message.contains(e)), "{message}");
}

#[test]
fn malformed_yaml_is_an_error_with_file_and_line() {
    let repo = repo_with(&[("ct.yaml", "remote: origin\nchart-dirs: [charts\n")]);
    let err = load(repo.path()).unwrap_err();
    let ConfigError::Yaml(yaml) = &err else {
        panic!("expected a YAML error, got {err}");
    };
    assert_eq!(yaml.path, Path::new("ct.yaml"));
    assert!(yaml.line.is_some(), "{err}");
}

#[test]
fn duplicate_keys_are_an_error() {
    let repo = repo_with(&[("ct.yaml", "remote: a\nremote: b\n")]);
    let err = load(repo.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Yaml(_)), "{err}");
}

#[test]
fn alias_bomb_is_an_error_not_a_hang() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let repo = repo_with(&[("chart-harness.yaml", &text)]);
    let err = load(repo.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Yaml(_)), "{err}");
}

#[test]
fn empty_file_means_defaults() {
    let repo = repo_with(&[("chart-harness.yaml", "# nothing yet\n")]);
    let loaded = load(repo.path()).unwrap();
    assert!(matches!(loaded.source, ConfigSource::Harness(_)));
    assert_eq!(loaded.config.chart_dirs, vec![repo.path().join("charts")]);
}

#[test]
fn absolute_paths_are_kept() {
    let elsewhere = tempfile::tempdir().unwrap();
    let text = format!("chart-dirs: [\"{}\"]\n", elsewhere.path().display());
    let repo = repo_with(&[("chart-harness.yaml", &text)]);
    let c = load(repo.path()).unwrap().config;
    assert_eq!(c.chart_dirs, vec![elsewhere.path().to_path_buf()]);
}

#[rstest]
#[case("90s", 90_000)]
#[case("5m", 300_000)]
#[case("1h30m", 5_400_000)]
#[case("1.5m", 90_000)]
#[case("250ms", 250)]
fn durations_parse(#[case] text: &str, #[case] millis: u64) {
    assert_eq!(parse_duration(text), Ok(Duration::from_millis(millis)));
}

#[rstest]
#[case("")]
#[case("90")]
#[case("5 minutes")]
#[case("m5")]
#[case("1.2.3s")]
fn bad_durations_are_rejected(#[case] text: &str) {
    let err = parse_duration(text).unwrap_err();
    assert!(err.contains("90s, 5m or 1h30m"), "{err}");
}

#[rstest]
#[case("./charts/../stable/.", "stable")]
#[case("a/./b", "a/b")]
fn normalize_is_lexical(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(normalize(Path::new(input)), Path::new(expected));
}

#[test]
fn struct_fields_lists_kebab_case_keys() {
    let fields = struct_fields::<FileConfig>();
    assert!(fields.contains(&"chart-dirs"));
    assert!(fields.contains(&"trial-timeout"));
    assert!(!fields.contains(&"chart_dirs"));
    // No key is both supported and ignored.
    for (key, _) in IGNORED_CT_KEYS {
        assert!(!fields.contains(key), "{key}");
    }
}

/// ct's precedence, as viper applies it: flag over `CT_*` variable over file.
#[rstest]
#[case::file_only(None, None, "from-file")]
#[case::env_over_file(Some("from-env"), None, "from-env")]
#[case::flag_over_env(Some("from-env"), Some("from-flag"), "from-flag")]
#[case::flag_over_file(None, Some("from-flag"), "from-flag")]
fn flag_over_environment_over_file(
    #[case] env: Option<&str>,
    #[case] flag: Option<&str>,
    #[case] expected: &str,
) {
    let repo = repo_with(&[("ct.yaml", "target-branch: from-file\n")]);
    let options = LoadOptions {
        env: env
            .map(|value| ("CT_TARGET_BRANCH".to_string(), value.to_string()))
            .into_iter()
            .collect(),
        flags: flag
            .map(|value| ("target-branch".to_string(), serde_json::json!(value)))
            .into_iter()
            .collect(),
        ..LoadOptions::default()
    };
    let loaded = load_with(repo.path(), &options).unwrap();
    assert_eq!(loaded.config.target_branch, expected);
}

#[rstest]
#[case::bool_false("CT_CHECK_VERSION_INCREMENT", "false")]
#[case::list("CT_CHART_DIRS", "stable,incubator")]
#[case::extra_args("CT_HELM_EXTRA_ARGS", "--timeout 600s")]
fn environment_values_take_the_file_forms(#[case] name: &str, #[case] value: &str) {
    let repo = repo_with(&[]);
    let options = LoadOptions {
        env: vec![(name.to_string(), value.to_string())],
        ..LoadOptions::default()
    };
    let c = load_with(repo.path(), &options).unwrap().config;
    match name {
        "CT_CHECK_VERSION_INCREMENT" => assert!(!c.check_version_increment),
        "CT_CHART_DIRS" => assert_eq!(
            c.chart_dirs,
            vec![repo.path().join("stable"), repo.path().join("incubator")]
        ),
        _ => assert_eq!(c.helm_timeout, Some(Duration::from_secs(600))),
    }
}

#[test]
fn an_invalid_flag_value_names_the_command_line() {
    let repo = repo_with(&[]);
    let options = LoadOptions {
        flags: vec![("chart-repos".to_string(), serde_json::json!(["no-url"]))],
        ..LoadOptions::default()
    };
    let error = load_with(repo.path(), &options).unwrap_err().to_string();
    assert!(
        error.starts_with("the command line: invalid `chart-repos`"),
        "{error}"
    );
}

#[test]
fn ignored_keys_from_the_environment_warn_once_and_our_own_keys_are_not_read() {
    let repo = repo_with(&[("ct.yaml", "namespace: x\n")]);
    let options = LoadOptions {
        env: vec![
            ("CT_DEBUG".to_string(), "true".to_string()),
            ("CT_JOBS".to_string(), "not a number".to_string()),
            ("CT_CONFIG_DIR".to_string(), "/nowhere".to_string()),
        ],
        flags: vec![("upgrade".to_string(), serde_json::json!(true))],
        ..LoadOptions::default()
    };
    let loaded = load_with(repo.path(), &options).unwrap();
    assert_eq!(loaded.config.jobs, None);
    assert!(loaded.config.upgrade);
    assert_eq!(
        loaded.warnings,
        vec![
            "ct.yaml: `namespace` is ignored: chart-harness installs every trial into its own namespace",
            "CT_DEBUG is ignored: set RUST_LOG=debug to see every external command",
        ]
    );
}

/// ct's search order: `--config`, then the root, then `$HOME/.ct`, then `/etc/ct`;
/// our own chart-harness.yaml wins over the search but not over `--config`.
#[test]
fn config_lookup_follows_ct_order() {
    let repo = repo_with(&[]);
    let home = repo_with(&[(".ct/ct.yaml", "remote: home\n")]);
    let etc = repo_with(&[("ct.yml", "remote: etc\n")]);
    let options = LoadOptions {
        search_dirs: vec![home.path().join(".ct"), etc.path().to_path_buf()],
        ..LoadOptions::default()
    };
    let remote = |options: &LoadOptions| load_with(repo.path(), options).unwrap().config.remote;
    assert_eq!(remote(&options), "home");
    std::fs::remove_file(home.path().join(".ct/ct.yaml")).unwrap();
    assert_eq!(remote(&options), "etc");
    std::fs::write(repo.path().join("ct.json"), r#"{"remote": "root"}"#).unwrap();
    assert_eq!(remote(&options), "root");
    std::fs::write(repo.path().join(HARNESS_FILE), "remote: ours\n").unwrap();
    assert_eq!(remote(&options), "ours");
    let explicit = repo.path().join("linters/ct.yaml");
    std::fs::create_dir_all(explicit.parent().unwrap()).unwrap();
    std::fs::write(&explicit, "remote: explicit\n").unwrap();
    let given = LoadOptions {
        file: Some(explicit.clone()),
        ..options.clone()
    };
    let loaded = load_with(repo.path(), &given).unwrap();
    assert_eq!(loaded.config.remote, "explicit");
    assert_eq!(loaded.source.describe(repo.path()), "linters/ct.yaml (ct)");
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let repo = repo_with(&[]);
    let options = LoadOptions {
        file: Some(repo.path().join("nope.yaml")),
        ..LoadOptions::default()
    };
    let error = load_with(repo.path(), &options).unwrap_err().to_string();
    assert!(
        error.contains("nope.yaml given with --config does not exist"),
        "{error}"
    );
}

#[rstest]
#[case("--timeout 90s --atomic", Some(90), &["--atomic"])]
#[case("--timeout=2m", Some(120), &[])]
#[case("--wait", None, &["--wait"])]
fn helm_extra_args_timeout_is_taken_apart(
    #[case] args: &str,
    #[case] seconds: Option<u64>,
    #[case] rest: &[&str],
) {
    let repo = repo_with(&[("ct.yaml", &format!("helm-extra-args: \"{args}\"\n"))]);
    let c = load(repo.path()).unwrap().config;
    assert_eq!(c.helm_timeout, seconds.map(Duration::from_secs));
    assert_eq!(c.helm_extra_args, rest);
}

#[test]
fn a_helm_extra_args_timeout_without_a_value_is_an_error() {
    let repo = repo_with(&[("ct.yaml", "helm-extra-args: --timeout\n")]);
    let error = load(repo.path()).unwrap_err().to_string();
    assert!(
        error.contains("invalid `helm-extra-args`: `--timeout` has no value"),
        "{error}"
    );
}

#[rstest]
#[case::default_grows("", 1800, false)]
#[case::configured_longer_is_kept("trial-timeout: 1h\n", 3600, false)]
#[case::configured_shorter_warns("trial-timeout: 10m\n", 600, true)]
fn trial_timeout_leaves_room_for_helms_timeout(
    #[case] extra: &str,
    #[case] seconds: u64,
    #[case] warns: bool,
) {
    let repo = repo_with(&[(
        "chart-harness.yaml",
        &format!("helm-extra-args: --timeout 600s\n{extra}"),
    )]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(loaded.config.trial_timeout, Duration::from_secs(seconds));
    assert_eq!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("raise `trial-timeout` to at least 1800s")),
        warns,
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn a_key_warned_in_the_file_and_again_by_a_flag_warns_once() {
    let repo = repo_with(&[("ct.yaml", "validate-maintainers: true\n")]);
    let options = LoadOptions {
        env: vec![("CT_VALIDATE_MAINTAINERS".to_string(), "true".to_string())],
        flags: vec![("validate-maintainers".to_string(), serde_json::json!(true))],
        ..LoadOptions::default()
    };
    let warnings = load_with(repo.path(), &options).unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings.iter().all(|w| w.starts_with("ct.yaml: ")),
        "{warnings:?}"
    );
}

/// `upgrade` and `skip-missing-values` as ct layers them: flag over `CT_*` over the file.
#[rstest::rstest]
#[case::file_alone(&[], &[], (true, true))]
#[case::variable_over_file(&[("CT_UPGRADE", "false"), ("CT_SKIP_MISSING_VALUES", "false")], &[], (false, false))]
#[case::flag_over_variable(&[("CT_UPGRADE", "false")], &[("upgrade", true), ("skip-missing-values", false)], (true, false))]
fn upgrade_keys_layer_flag_over_variable_over_file(
    #[case] env: &[(&str, &str)],
    #[case] flags: &[(&str, bool)],
    #[case] expected: (bool, bool),
) {
    let repo = repo_with(&[("ct.yaml", "upgrade: true\nskip-missing-values: true\n")]);
    let options = LoadOptions {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        flags: flags
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect(),
        ..LoadOptions::default()
    };
    let loaded = load_with(repo.path(), &options).unwrap();
    let c = &loaded.config;
    assert_eq!((c.upgrade, c.skip_missing_values), expected);
    assert_eq!(loaded.warnings, Vec::<String>::new());
}

/// `kind-node-image` is used as given, a local tag without digest too, from either
/// file (ct ignores keys it does not know, so a ct.yaml may carry it).
#[rstest]
#[case("chart-harness.yaml")]
#[case("ct.yaml")]
fn kind_node_image_is_read_as_given(#[case] file: &str) {
    let repo = repo_with(&[(
        file,
        "kind-node-image: chart-harness.local/kind-node:v1.37.2-abc123\n",
    )]);
    let c = load(repo.path()).unwrap().config;
    assert_eq!(
        c.kind_node_image.as_deref(),
        Some("chart-harness.local/kind-node:v1.37.2-abc123")
    );
    assert_eq!(HarnessConfig::defaults(repo.path()).kind_node_image, None);
}

#[rstest]
#[case::sequence("images: [myapp:dev, registry.example/x:1.2]\n")]
#[case::comma_string("images: myapp:dev, registry.example/x:1.2\n")]
#[case::block("images:\n  - myapp:dev\n  - registry.example/x:1.2\n")]
fn images_are_read_in_order(#[case] text: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(
        loaded.config.images,
        ["myapp:dev", "registry.example/x:1.2"]
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(HarnessConfig::defaults(repo.path()).images.is_empty());
}

#[test]
fn an_image_listed_twice_is_loaded_once_with_a_warning() {
    let repo = repo_with(&[("chart-harness.yaml", "images: [a:1, b:2, a:1]\n")]);
    let loaded = load(repo.path()).unwrap();
    assert_eq!(loaded.config.images, ["a:1", "b:2"]);
    assert_eq!(
        loaded.warnings,
        ["chart-harness.yaml: `images` lists `a:1` twice; it is loaded once"]
    );
}

#[rstest]
#[case("images: [myapp:dev, \"my app\"]\n", "images", "entry `my app`")]
#[case("images: [\"--privileged\"]\n", "images", "starts with `-`")]
#[case("kind-node-image: \"\"\n", "kind-node-image", "empty")]
#[case("kind-node-image: \"node;rm\"\n", "kind-node-image", "';'")]
fn bad_image_references_name_the_key_and_entry(
    #[case] text: &str,
    #[case] key: &str,
    #[case] expected: &str,
) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key: k, line: Some(1), .. } if *k == key),
        "{err}"
    );
    assert!(err.to_string().contains(expected), "{err}");
}

/// Our own keys: ct has no variable for them, so `CT_IMAGES` is not read.
#[test]
fn image_keys_are_not_read_from_ct_variables() {
    let repo = repo_with(&[]);
    let options = LoadOptions {
        env: vec![
            ("CT_IMAGES".to_string(), "x:1".to_string()),
            ("CT_KIND_NODE_IMAGE".to_string(), "y:1".to_string()),
        ],
        ..LoadOptions::default()
    };
    let c = load_with(repo.path(), &options).unwrap().config;
    assert!(c.images.is_empty());
    assert_eq!(c.kind_node_image, None);
}

#[test]
fn policy_gate_and_suppressions_are_read() {
    let repo = repo_with(&[(
        "chart-harness.yaml",
        "policy:\n  fail-on: warning\n  suppress:\n    - rule: image-not-pinned-by-digest\n      reason: we pin by tag\n    - chart: web\n      object: Deployment/web\n      rule: read-only-root-filesystem\n      reason: nginx writes its cache\n",
    )]);
    let policy = load(repo.path()).unwrap().config.policy;
    assert_eq!(policy.fail_on, Some(Severity::Warning));
    assert_eq!(policy.suppress.len(), 2);
    assert_eq!(
        policy.suppress[1].describe(),
        "rule: read-only-root-filesystem, chart: web, object: Deployment/web"
    );
}

#[test]
fn policy_defaults_to_failing_on_errors_and_never_turns_the_gate_off() {
    let repo = repo_with(&[]);
    assert_eq!(
        load(repo.path()).unwrap().config.policy.fail_on,
        Some(Severity::Error)
    );
    let repo = repo_with(&[("chart-harness.yaml", "policy:\n  fail-on: never\n")]);
    assert_eq!(load(repo.path()).unwrap().config.policy.fail_on, None);
}

#[rstest]
#[case::missing_reason(
    "policy:\n  suppress:\n    - rule: privileged\n",
    "suppress entry 1 (rule: privileged) has no `reason`"
)]
#[case::blank_reason(
    "policy:\n  suppress:\n    - chart: web\n      reason: \" \"\n",
    "suppress entry 1 (chart: web) has no `reason`"
)]
#[case::nothing_to_match(
    "policy:\n  suppress:\n    - reason: why not\n",
    "suppress entry 1 (empty) names neither a `rule` nor a `chart`"
)]
#[case::bad_fail_on(
    "policy:\n  fail-on: critical\n",
    "`fail-on: critical` is not a gate; write one of error (the default), warning, info or never"
)]
fn invalid_policy_entries_name_the_file_and_entry(#[case] text: &str, #[case] expected: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::Invalid {
                key: "policy",
                line: Some(1),
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("chart-harness.yaml:1: invalid `policy`: "),
        "{message}"
    );
    assert!(message.contains(expected), "{message}");
}

#[rstest]
#[case::in_policy("policy:\n  fail_on: error\n", "fail_on")]
#[case::in_a_suppression(
    "policy:\n  suppress:\n    - rules: privileged\n      reason: x\n",
    "rules"
)]
fn unknown_policy_fields_are_errors_naming_the_field(#[case] text: &str, #[case] field: &str) {
    let repo = repo_with(&[("chart-harness.yaml", text)]);
    let err = load(repo.path()).unwrap_err().to_string();
    assert!(err.contains("chart-harness.yaml"), "{err}");
    assert!(err.contains(&format!("unknown field `{field}`")), "{err}");
}

/// `lint-conf` names what set it, flag over variable over file, as the value was chosen.
#[rstest::rstest]
#[case::file(&[], &[], "named by `lint-conf` in ct.yaml")]
#[case::variable(&[("CT_LINT_CONF", "env.yaml")], &[], "named by CT_LINT_CONF")]
#[case::flag(&[("CT_LINT_CONF", "env.yaml")], &["flag.yaml"], "named by --lint-conf")]
fn lint_conf_names_what_set_it(
    #[case] env: &[(&str, &str)],
    #[case] flag: &[&str],
    #[case] reason: &str,
) {
    let repo = repo_with(&[("ct.yaml", "lint-conf: file.yaml\n")]);
    let options = LoadOptions {
        env: env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        flags: flag
            .iter()
            .map(|value| ("lint-conf".to_string(), serde_json::json!(value)))
            .collect(),
        ..LoadOptions::default()
    };
    let loaded = load_with(repo.path(), &options).unwrap();
    assert_eq!(loaded.lintconf.reason(), reason);
}
