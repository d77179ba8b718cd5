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
    assert_eq!(c.helm_extra_args, vec!["--timeout", "600s", "--wait"]);
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
    assert!(c.upgrade && c.skip_missing_values && c.use_helmignore && c.github_groups);
    assert_eq!(c.additional_commands, vec!["helm unittest {{ .Path }}"]);
    assert_eq!(c.config_file.as_deref(), Some(Path::new("ct.yaml")));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
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
    assert!(!c.use_helmignore && !c.upgrade);
    assert_eq!(c.report_dir, repo.path().join("target/chart-harness"));
    assert_eq!(c.helm_major, HelmMajor::V4);
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
    assert_eq!(loaded.config.helm_major, HelmMajor::V3);
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
    assert_eq!(c.helm_major, HelmMajor::V4);
    assert_eq!(c.kube_version.as_deref(), Some("1.31.2"));
    assert_eq!(c.trial_timeout, Duration::from_secs(90));
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
