//! Our yamllint rules against real yamllint: the same files, the same configuration,
//! the same findings.
//!
//! yamllint comes from PyPI at a pinned version, installed once into
//! `target/yamllint-<version>` (pip with a timeout). A machine where that fails fails
//! this test: the comparison is the only proof that the findings match.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chart_harness::suites::lint::yamllint::{
    CT_DEFAULT_LINTCONF, IMPLEMENTED_RULES, YamllintConfig, lint,
};

const YAMLLINT_VERSION: &str = "1.35.1";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// The directory holding the pinned yamllint (and its dependencies), installed on
/// first use.
fn yamllint_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        let dir = target.join(format!("yamllint-{YAMLLINT_VERSION}"));
        let installed = dir.join(format!("yamllint-{YAMLLINT_VERSION}.dist-info"));
        if installed.is_dir() {
            return dir;
        }
        // Install beside it and rename, so a concurrent or interrupted install never
        // leaves a half-written directory that looks complete.
        let partial = target.join(format!(
            "yamllint-{YAMLLINT_VERSION}.partial-{}",
            std::process::id()
        ));
        let output = Command::new("timeout")
            .args(["300", "python3", "-m", "pip", "install", "--quiet"])
            .args(["--disable-pip-version-check", "--no-input", "--target"])
            .arg(&partial)
            .arg(format!("yamllint=={YAMLLINT_VERSION}"))
            .output()
            .expect("run `timeout 300 python3 -m pip`; install python3 with pip");
        assert!(
            output.status.success(),
            "installing yamllint {YAMLLINT_VERSION} from PyPI into {} failed ({}); the comparison \
             needs it: check that python3 and pip work and that PyPI is reachable\n{}",
            partial.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        if std::fs::rename(&partial, &dir).is_err() {
            // Another test process installed it first.
            let _ = std::fs::remove_dir_all(&partial);
        }
        assert!(
            installed.is_dir(),
            "{} is missing after pip install",
            installed.display()
        );
        dir
    })
}

/// Every file of the corpus, relative to the workspace root: the fixture charts'
/// Chart.yaml, values.yaml and ci/*-values.yaml, and the crafted files.
fn corpus() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for group in ["fixtures/charts", "fixtures/broken", "fixtures/subcharts"] {
        for chart in std::fs::read_dir(root.join(group))
            .expect("fixture dir")
            .flatten()
        {
            let chart = chart.path();
            for name in ["Chart.yaml", "values.yaml"] {
                if chart.join(name).is_file() {
                    files.push(chart.join(name));
                }
            }
            for case in std::fs::read_dir(chart.join("ci"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = case.file_name().to_string_lossy().into_owned();
                if name.ends_with("-values.yaml") {
                    files.push(case.path());
                }
            }
        }
    }
    for file in std::fs::read_dir(root.join("harness/tests/yamllint/corpus"))
        .expect("corpus dir")
        .flatten()
    {
        files.push(file.path());
    }
    let mut files: Vec<PathBuf> = files
        .into_iter()
        .map(|f| f.strip_prefix(&root).expect("under the root").to_path_buf())
        .collect();
    files.sort();
    files
}

/// yamllint's `parsable` lines for `files` under the configuration file `config`.
fn real_yamllint(config: &Path, files: &[PathBuf]) -> Vec<String> {
    let output = Command::new("python3")
        .args(["-m", "yamllint", "-f", "parsable", "-c"])
        .arg(config)
        .args(files)
        .current_dir(workspace_root())
        .env("PYTHONPATH", yamllint_dir())
        .output()
        .expect("run python3 -m yamllint");
    // 0: clean, 1: errors, 2: warnings only (with -f parsable and no --strict: 0).
    assert!(
        matches!(output.status.code(), Some(0..=2)),
        "yamllint failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The configurations compared: ct's default lintconf (our copy, which is what runs
/// when a repository has none) and the files under harness/tests/yamllint/configs.
fn configs(scratch: &Path) -> Vec<(String, PathBuf)> {
    let ct = scratch.join("ct-default-lintconf.yaml");
    std::fs::write(&ct, CT_DEFAULT_LINTCONF).expect("write ct's default lintconf");
    let mut configs = vec![("ct default".to_string(), ct)];
    let dir = workspace_root().join("harness/tests/yamllint/configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("configs dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        configs.push((
            file.file_name().unwrap().to_string_lossy().into_owned(),
            file,
        ));
    }
    configs
}

/// Messages the corpus must produce besides one finding per rule: each form of the
/// messages that come in several (numbers written as N).
const REQUIRED_MESSAGES: &[&str] = &[
    "wrong indentation: expected N but found N",
    // check-multi-line-strings: yamllint's message has no space before "but".
    "wrong indentation: expected Nbut found N",
    "wrong indentation: expected at least N",
    "comment not indented like content",
];

/// The message of a parsable line, its numbers written as N.
fn message_form(line: &str) -> String {
    let message = line
        .split_once("] ")
        .map_or("", |(_, rest)| rest)
        .rsplit_once(" (")
        .map_or("", |(message, _)| message);
    let mut form = String::new();
    for c in message.chars() {
        if !c.is_ascii_digit() {
            form.push(c);
        } else if !form.ends_with('N') {
            form.push('N');
        }
    }
    form
}

fn rule_of(line: &str) -> &str {
    line.rsplit_once(" (")
        .and_then(|(_, rule)| rule.strip_suffix(')'))
        .unwrap_or("")
}

#[test]
fn findings_match_real_yamllint() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = corpus();
    let root = workspace_root();
    let mut tripped: BTreeSet<String> = BTreeSet::new();
    let mut forms: BTreeSet<String> = BTreeSet::new();
    for (name, config_path) in configs(scratch.path()) {
        let config = YamllintConfig::read(&config_path, &config_path)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let real = real_yamllint(&config_path, &files);
        // A file yamllint cannot parse is the `yaml` phase's report, not ours.
        let broken: BTreeSet<&str> = real
            .iter()
            .filter(|line| rule_of(line) == "syntax")
            .filter_map(|line| line.split(':').next())
            .collect();
        assert_eq!(
            broken,
            BTreeSet::from(["fixtures/broken/invalid-yaml/values.yaml"]),
            "{name}: only the invalid-yaml fixture may have a syntax error"
        );
        let mut expected: Vec<String> = real
            .iter()
            .filter(|line| IMPLEMENTED_RULES.contains(&rule_of(line)))
            .filter(|line| {
                !broken
                    .iter()
                    .any(|file| line.starts_with(&format!("{file}:")))
            })
            .cloned()
            .collect();
        let mut ours: Vec<String> = Vec::new();
        for file in &files {
            let shown = file.display().to_string();
            if broken.contains(shown.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(root.join(file)).expect("read corpus file");
            ours.extend(
                lint(&text, &config.for_file(file))
                    .iter()
                    .map(|finding| format!("{shown}:{finding}")),
            );
        }
        tripped.extend(expected.iter().map(|line| rule_of(line).to_string()));
        forms.extend(expected.iter().map(|line| message_form(line)));
        expected.sort();
        ours.sort();
        if ours != expected {
            let diff = similar::TextDiff::from_lines(&expected.join("\n"), &ours.join("\n"))
                .unified_diff()
                .header("yamllint", "chart-harness")
                .to_string();
            panic!(
                "config {name}: our findings differ from yamllint {YAMLLINT_VERSION}'s:\n{diff}"
            );
        }
    }
    // The corpus must exercise every implemented rule, or the comparison proves nothing.
    let untested: Vec<&&str> = IMPLEMENTED_RULES
        .iter()
        .filter(|rule| !tripped.contains(**rule))
        .collect();
    assert!(
        untested.is_empty(),
        "no corpus file trips {untested:?}; add one under harness/tests/yamllint/corpus"
    );
    let missing: Vec<&&str> = REQUIRED_MESSAGES
        .iter()
        .filter(|form| !forms.contains(**form))
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus file produces {missing:?}; add one under harness/tests/yamllint/corpus"
    );
}
