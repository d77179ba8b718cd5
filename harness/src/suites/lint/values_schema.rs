//! The `values-schema` check: a case's values, merged the way helm merges them, satisfy
//! the chart's `values.schema.json`. Every violation is reported, not only the first
//! one helm would print.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::ChartSettings;
use crate::problem::Problem;
use crate::yaml;

use super::shown_path;

/// The values a case renders with, in the order helm applies them: the chart's
/// `values.yaml`, the case file, the settings' values files, then the settings' inline
/// `values`.
pub struct CaseValues<'a> {
    pub case_name: &'a str,
    /// Absolute path of the case's values file; `None` for the `default` case.
    pub case_file: Option<&'a Path>,
    pub settings: &'a ChartSettings,
}

/// Validates the case's merged values against `<chart_dir>/values.schema.json`.
/// `None` when the chart has no schema, so there is nothing to check.
pub fn check_values_schema(
    chart_dir: &Path,
    rel_dir: &Path,
    case: &CaseValues<'_>,
) -> Option<Vec<Problem>> {
    let schema_path = chart_dir.join("values.schema.json");
    if !schema_path.exists() {
        return None;
    }
    let shown_schema = rel_dir.join("values.schema.json");
    let schema = match read_schema(&schema_path) {
        Ok(schema) => schema,
        Err((message, line)) => {
            return Some(vec![Problem::in_file(shown_schema, message).at_line(line)]);
        }
    };
    let validator = match jsonschema::validator_for(&schema) {
        Ok(validator) => validator,
        Err(err) => {
            return Some(vec![Problem::in_file(
                shown_schema,
                format!("values.schema.json is not a valid JSON schema: {err}; fix the schema"),
            )]);
        }
    };

    let shown = |path: &Path| shown_path(chart_dir, rel_dir, path);
    let mut layers: Vec<PathBuf> = Vec::new();
    if chart_dir.join("values.yaml").exists() {
        layers.push(chart_dir.join("values.yaml"));
    }
    layers.extend(case.case_file.map(Path::to_path_buf));
    let mut problems = Vec::new();
    for file in &case.settings.values_files {
        let path = chart_dir.join(file);
        if path.exists() {
            layers.push(path);
        } else {
            problems.push(Problem::in_file(
                rel_dir.join("ci/harness.yaml"),
                format!(
                    "values file {} does not exist; fix `values-files` or add the file",
                    shown(&path).display()
                ),
            ));
        }
    }

    let mut merged = Map::new();
    for layer in &layers {
        match read_values(layer) {
            Ok(values) => merge_values(&mut merged, values),
            Err((message, line)) => {
                problems.push(Problem::in_file(shown(layer), message).at_line(line));
            }
        }
    }
    if !problems.is_empty() {
        return Some(problems);
    }
    let inline = case
        .settings
        .values
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    merge_values(&mut merged, inline);

    let case_shown = case
        .case_file
        .map(shown)
        .unwrap_or_else(|| rel_dir.join("values.yaml"));
    let mut sources: Vec<String> = layers
        .iter()
        .map(|l| shown(l).display().to_string())
        .collect();
    if !case.settings.values.is_empty() {
        sources.push("ci/harness.yaml values".to_string());
    }
    let merged = Value::Object(merged);
    Some(
        validator
            .iter_errors(&merged)
            .map(|error| {
                let pointer = error.instance_path().as_str();
                let at = if pointer.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("\"{pointer}\"")
                };
                // The message names the path and the rule, never the value: values
                // often hold passwords, and this text reaches logs and reports.
                Problem::in_file(
                    &case_shown,
                    format!(
                        "values at {at}: {} (schema rule {}); the values of case \"{}\" ({}) \
                         must satisfy values.schema.json",
                        error.masked_with("the value"),
                        error.schema_path().as_str(),
                        case.case_name,
                        sources.join(" + ")
                    ),
                )
            })
            .collect(),
    )
}

/// Merges `overlay` into `base` as helm merges values files: maps merge key by key,
/// anything else replaces, and `null` removes the key (helm's way to unset a default).
pub fn merge_values(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (_, Value::Null) => {
                base.remove(&key);
            }
            (Some(Value::Object(existing)), Value::Object(nested)) => {
                merge_values(existing, nested)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn read_schema(path: &Path) -> Result<Value, (String, Option<u64>)> {
    let text = crate::files::read_to_string(path).map_err(|e| {
        (
            format!("cannot read values.schema.json ({e}); check that it is readable"),
            None,
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        (
            format!("values.schema.json is not valid JSON: {e}; fix the syntax"),
            Some(e.line() as u64),
        )
    })
}

/// Reads one values file as a map; an empty file is an empty map, as in helm.
fn read_values(path: &Path) -> Result<Map<String, Value>, (String, Option<u64>)> {
    let value: Option<Value> = yaml::read_file(path).map_err(|e| {
        (
            format!(
                "cannot read the values: {}; fix the file",
                e.message.clone()
            ),
            e.line,
        )
    })?;
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err((
            format!(
                "the values file holds a {} instead of a map of values; make its top level `key: value` pairs",
                json_type(&other)
            ),
            None,
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::suites::lint::testing::TestChart;

    const SCHEMA: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["replicas", "image"],
  "properties": {
    "replicas": {"type": "integer", "minimum": 1},
    "image": {
      "type": "object",
      "required": ["repository"],
      "properties": {
        "repository": {"type": "string"},
        "tag": {"type": "string"}
      }
    },
    "mode": {"enum": ["fast", "safe"]}
  }
}"#;

    const VALUES: &str = "replicas: 2\nimage:\n  repository: nginx\n  tag: \"1.27\"\nmode: safe\n";

    fn chart_with_schema() -> TestChart {
        let chart = TestChart::good("web");
        chart.write("values.schema.json", SCHEMA);
        chart.write("values.yaml", VALUES);
        chart
    }

    fn check(chart: &TestChart, case_file: Option<&str>, settings: &ChartSettings) -> Vec<Problem> {
        let case_path = case_file.map(|f| chart.dir().join(f));
        let case = CaseValues {
            case_name: case_file.map_or("default", |_| "case"),
            case_file: case_path.as_deref(),
            settings,
        };
        check_values_schema(chart.dir(), chart.rel_dir(), &case).expect("the chart has a schema")
    }

    #[test]
    fn no_schema_means_nothing_to_check() {
        let chart = TestChart::good("web");
        let case = CaseValues {
            case_name: "default",
            case_file: None,
            settings: &ChartSettings::default(),
        };
        assert_eq!(
            check_values_schema(chart.dir(), chart.rel_dir(), &case),
            None
        );
    }

    #[rstest]
    #[case::defaults(None, "")]
    #[case::case_overrides_validly(
        Some("ci/big-values.yaml"),
        "replicas: 5\nimage: {tag: \"2\"}\n"
    )]
    #[case::empty_case_file(Some("ci/empty-values.yaml"), "# nothing\n")]
    #[case::null_removes_optional_key(Some("ci/null-values.yaml"), "mode: null\n")]
    fn accepts_valid_values(#[case] case_file: Option<&str>, #[case] text: &str) {
        let chart = chart_with_schema();
        if let Some(file) = case_file {
            chart.write(file, text);
        }
        assert_eq!(check(&chart, case_file, &ChartSettings::default()), vec![]);
    }

    #[rstest]
    #[case::wrong_type(
        "replicas: many\n",
        "\"/replicas\"",
        "the value is not of type \"integer\""
    )]
    #[case::below_minimum("replicas: 0\n", "\"/replicas\"", "minimum")]
    #[case::nested_wrong_type(
        "image: {tag: 5}\n",
        "\"/image/tag\"",
        "the value is not of type \"string\""
    )]
    #[case::not_in_enum("mode: reckless\n", "\"/mode\"", "fast")]
    #[case::null_removes_required_key(
        "replicas: null\n",
        "the top level",
        "\"replicas\" is a required property"
    )]
    fn reports_violations_of_the_case(
        #[case] case_text: &str,
        #[case] location: &str,
        #[case] expectation: &str,
    ) {
        let chart = chart_with_schema();
        chart.write("ci/bad-values.yaml", case_text);
        let problems = check(
            &chart,
            Some("ci/bad-values.yaml"),
            &ChartSettings::default(),
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let problem = &problems[0];
        assert_eq!(
            problem.file,
            Some(chart.rel_dir().join("ci/bad-values.yaml"))
        );
        assert!(
            problem.message.contains(&format!("values at {location}")),
            "{problem}"
        );
        assert!(problem.message.contains(expectation), "{problem}");
        assert!(
            problem
                .message
                .contains("case \"case\" (charts/web/values.yaml + charts/web/ci/bad-values.yaml)"),
            "{problem}"
        );
    }

    /// Values hold passwords: a violation names the path and the rule, never the value.
    #[rstest]
    #[case::too_long("image: {tag: S3cr3t-Canary-123}\n", "maxLength")]
    #[case::wrong_type("replicas: S3cr3t-Canary-123\n", "type")]
    #[case::not_in_enum("mode: S3cr3t-Canary-123\n", "enum")]
    fn violations_never_quote_the_value(#[case] case_text: &str, #[case] rule: &str) {
        let chart = chart_with_schema();
        chart.write(
            "values.schema.json",
            &SCHEMA.replace(
                "\"tag\": {\"type\": \"string\"}",
                "\"tag\": {\"type\": \"string\", \"maxLength\": 8}",
            ),
        );
        chart.write("ci/bad-values.yaml", case_text);
        let problems = check(
            &chart,
            Some("ci/bad-values.yaml"),
            &ChartSettings::default(),
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let message = &problems[0].message;
        assert!(message.contains(&format!("/{rule}")), "{message}");
        assert!(!message.contains("S3cr3t"), "{message}");
    }

    #[test]
    fn reports_every_violation_at_once() {
        let chart = chart_with_schema();
        chart.write(
            "ci/bad-values.yaml",
            "replicas: \"3\"\nimage: {repository: null, tag: 1}\nmode: x\n",
        );
        let problems = check(
            &chart,
            Some("ci/bad-values.yaml"),
            &ChartSettings::default(),
        );
        let mut pointers: Vec<String> = problems
            .iter()
            .map(|p| p.message.split(':').next().unwrap().to_string())
            .collect();
        pointers.sort();
        assert_eq!(
            pointers,
            [
                "values at \"/image\"",
                "values at \"/image/tag\"",
                "values at \"/mode\"",
                "values at \"/replicas\"",
            ]
        );
    }

    #[test]
    fn settings_values_files_and_inline_values_apply_after_the_case() {
        let chart = chart_with_schema();
        chart.write("ci/a-values.yaml", "replicas: 3\n");
        chart.write("ci/extra.yaml", "replicas: -1\n");
        let settings = ChartSettings {
            values_files: vec![PathBuf::from("ci/extra.yaml")],
            values: BTreeMap::from([("mode".to_string(), json!("wild"))]),
            ..ChartSettings::default()
        };
        let problems = check(&chart, Some("ci/a-values.yaml"), &settings);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages.iter().any(|m| m.contains("\"/replicas\"")),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("\"/mode\"")),
            "{messages:#?}"
        );
        assert!(
            messages[0].contains("charts/web/ci/extra.yaml + ci/harness.yaml values"),
            "{messages:#?}"
        );
    }

    #[test]
    fn a_missing_settings_values_file_is_reported_in_harness_yaml() {
        let chart = chart_with_schema();
        let settings = ChartSettings {
            values_files: vec![PathBuf::from("ci/gone.yaml")],
            ..ChartSettings::default()
        };
        let problems = check(&chart, None, &settings);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            problems[0].file,
            Some(chart.rel_dir().join("ci/harness.yaml"))
        );
        assert!(
            problems[0]
                .message
                .contains("charts/web/ci/gone.yaml does not exist")
        );
    }

    #[rstest]
    #[case::broken_json("{\"type\": \n", "values.schema.json", "not valid JSON", Some(2))]
    #[case::broken_schema(
        "{\"type\": \"banana\"}",
        "values.schema.json",
        "not a valid JSON schema",
        None
    )]
    fn reports_a_broken_schema(
        #[case] schema: &str,
        #[case] file: &str,
        #[case] fragment: &str,
        #[case] line: Option<u64>,
    ) {
        let chart = chart_with_schema();
        chart.write("values.schema.json", schema);
        let problems = check(&chart, None, &ChartSettings::default());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].file, Some(chart.rel_dir().join(file)));
        assert!(problems[0].message.contains(fragment), "{}", problems[0]);
        assert_eq!(problems[0].line, line);
    }

    #[test]
    fn a_values_file_that_is_not_a_map_is_reported() {
        let chart = chart_with_schema();
        chart.write("ci/list-values.yaml", "- a\n- b\n");
        let problems = check(
            &chart,
            Some("ci/list-values.yaml"),
            &ChartSettings::default(),
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0]
                .message
                .contains("holds a list instead of a map"),
            "{}",
            problems[0]
        );
    }

    #[rstest]
    #[case::maps_merge(json!({"a": {"x": 1, "y": 2}}), json!({"a": {"y": 3}}), json!({"a": {"x": 1, "y": 3}}))]
    #[case::lists_replace(json!({"a": [1, 2]}), json!({"a": [3]}), json!({"a": [3]}))]
    #[case::scalar_replaces_map(json!({"a": {"x": 1}}), json!({"a": "s"}), json!({"a": "s"}))]
    #[case::map_replaces_scalar(json!({"a": "s"}), json!({"a": {"x": 1}}), json!({"a": {"x": 1}}))]
    #[case::null_removes(json!({"a": {"x": 1, "y": 2}}), json!({"a": {"x": null}}), json!({"a": {"y": 2}}))]
    #[case::new_keys_added(json!({"a": 1}), json!({"b": 2}), json!({"a": 1, "b": 2}))]
    fn merges_like_helm(#[case] base: Value, #[case] overlay: Value, #[case] expected: Value) {
        let (Value::Object(mut base), Value::Object(overlay)) = (base, overlay) else {
            panic!("test values are maps");
        };
        merge_values(&mut base, overlay);
        assert_eq!(Value::Object(base), expected);
    }
}
