//! The data step language of `ci/harness.yaml`: what the upgrade suite (and, next, the
//! backup-restore suite) runs to seed a release with data and to verify it later.
//!
//! ```yaml
//! data:
//!   timeout: 60s                  # every step's default (60s when unset)
//!   seed:
//!     - exec:
//!         pod: {app.kubernetes.io/name: kvstore}   # labels; or `component: primary`
//!         container: redis                          # needed when the pod has several
//!         command: [redis-cli, SET, greeting, hello]
//!         stdin: "..."                              # or stdin-file: ci/seed.txt
//!   verify:
//!     - exec: {pod: {...}, command: [redis-cli, GET, greeting]}
//!       expect: {equals: hello}                     # or contains / matches
//!     - run: make verify                            # a host command, through sh -c
//!     - job: {from-cronjob: backup}                 # or manifest: <a Job>
//! ```
//!
//! This module only reads and checks the steps; the release layer runs them
//! (`release::data_steps`). Steps are read from a generic YAML value rather than by
//! derive, so an unknown step kind or key gets a message that names the step.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::parse_duration;

/// How long one step may take when neither it nor the chart says.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The step kinds, in the words of the file.
const STEP_KINDS: &[&str] = &["exec", "job", "run"];
/// The keys every step may have besides its kind.
const STEP_KEYS: &[&str] = &["name", "expect", "timeout"];

/// `data:` of `ci/harness.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataSteps {
    pub seed: Vec<DataStep>,
    pub verify: Vec<DataStep>,
    /// Every step's timeout unless the step sets its own (`data.timeout`).
    pub timeout: Option<Duration>,
}

impl DataSteps {
    pub fn is_empty(&self) -> bool {
        self.seed.is_empty() && self.verify.is_empty()
    }
}

/// One step: what to run, what its output must be, how long it may take.
#[derive(Clone, Debug, PartialEq)]
pub struct DataStep {
    /// Where it is written, for messages: `data.verify[1]`, or that with its `name`.
    pub label: String,
    pub action: StepAction,
    pub expect: Option<Expect>,
    /// The step's own `timeout`, over the chart's `data.timeout`.
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    /// A command in a container of one of the release's pods.
    Exec(ExecStep),
    /// A Job in the release's namespace, run to completion; its output is its logs.
    Job(JobStep),
    /// A host command, run with `sh -c` in the repository root.
    Run(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecStep {
    pub pod: PodSelector,
    /// Needed when the chosen pod has more than one container.
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: Stdin,
}

/// Which pod an exec step runs in: exactly one running pod of the release must match.
#[derive(Clone, Debug, PartialEq)]
pub enum PodSelector {
    Labels(BTreeMap<String, String>),
    /// `app.kubernetes.io/component=<value>`, the recommended label charts set.
    Component(String),
}

impl PodSelector {
    /// The selector in the API's `labelSelector` syntax.
    pub fn label_selector(&self) -> String {
        match self {
            PodSelector::Labels(labels) => labels
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(","),
            PodSelector::Component(component) => {
                format!("app.kubernetes.io/component={component}")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stdin {
    None,
    Text(String),
    /// Relative to the chart directory.
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobStep {
    /// A Job manifest, created in the trial's namespace.
    Manifest(Value),
    /// A Job made from the jobTemplate of a CronJob of the chart, by the CronJob's name
    /// (`$RELEASE_NAME` in it is the trial's release name).
    FromCronJob(String),
}

/// What a verify step's output must be. Compared after trimming trailing whitespace,
/// since commands end their output with a newline.
#[derive(Clone, Debug)]
pub enum Expect {
    Equals(String),
    Contains(String),
    Matches(regex::Regex),
}

impl PartialEq for Expect {
    fn eq(&self, other: &Expect) -> bool {
        match (self, other) {
            (Expect::Equals(a), Expect::Equals(b)) | (Expect::Contains(a), Expect::Contains(b)) => {
                a == b
            }
            (Expect::Matches(a), Expect::Matches(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Expect {
    /// `None` when `output` is as expected, else what was expected, for the message.
    pub fn mismatch(&self, output: &str) -> Option<String> {
        let output = output.trim_end();
        let (holds, wanted) = match self {
            Expect::Equals(text) => (output == text.trim_end(), format!("equal to {text:?}")),
            Expect::Contains(text) => (
                output.contains(text.as_str()),
                format!("containing {text:?}"),
            ),
            Expect::Matches(pattern) => (
                pattern.is_match(output),
                format!("matching /{}/", pattern.as_str()),
            ),
        };
        (!holds).then_some(wanted)
    }
}

impl<'de> Deserialize<'de> for DataSteps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        parse_data(&value).map_err(|message| de::Error::custom(format!("`data`: {message}")))
    }
}

/// `pre-upgrade:` and the like: a plain list of steps, labelled under `key`.
pub fn parse_steps(key: &str, value: &Value) -> Result<Vec<DataStep>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_step(&format!("{key}[{index}]"), item))
            .collect(),
        other => Err(format!(
            "`{key}` must be a list of steps, not {}",
            kind_of(other)
        )),
    }
}

fn parse_data(value: &Value) -> Result<DataSteps, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "must be a mapping with `seed`, `verify` and `timeout`, not {}",
            kind_of(value)
        ));
    };
    let mut data = DataSteps::default();
    for (key, item) in map {
        match key.as_str() {
            "seed" => data.seed = parse_steps("data.seed", item)?,
            "verify" => data.verify = parse_steps("data.verify", item)?,
            "timeout" => data.timeout = Some(duration("data.timeout", item)?),
            other => {
                return Err(format!(
                    "unknown key `{other}`; `data` has `seed`, `verify` and `timeout`"
                ));
            }
        }
    }
    Ok(data)
}

fn parse_step(label: &str, value: &Value) -> Result<DataStep, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "`{label}` must be a mapping with one of {}, not {}",
            quoted(STEP_KINDS),
            kind_of(value)
        ));
    };
    let kinds: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| STEP_KINDS.contains(key))
        .collect();
    if let Some(unknown) = map
        .keys()
        .find(|key| !STEP_KINDS.contains(&key.as_str()) && !STEP_KEYS.contains(&key.as_str()))
    {
        let hint = super::nearest(unknown, STEP_KINDS.iter().chain(STEP_KEYS).copied())
            .map(|near| format!("did you mean `{near}`? "))
            .unwrap_or_default();
        return Err(format!(
            "`{label}`: unknown step kind or key `{unknown}`; {hint}a step is one of {} with optional {}",
            quoted(STEP_KINDS),
            quoted(STEP_KEYS)
        ));
    }
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(format!(
                "`{label}` has no step kind; give one of {}",
                quoted(STEP_KINDS)
            ));
        }
        several => {
            return Err(format!(
                "`{label}` has {}; a step does one thing, so split it into several steps",
                quoted(several)
            ));
        }
    };
    let name = map.get("name").and_then(Value::as_str);
    let label = match name {
        Some(name) => format!("{label} ({name})"),
        None => label.to_string(),
    };
    let body = &map[kind];
    let action = match kind {
        "exec" => StepAction::Exec(parse_exec(&label, body)?),
        "job" => StepAction::Job(parse_job(&label, body)?),
        _ => StepAction::Run(
            body.as_str()
                .filter(|command| !command.trim().is_empty())
                .ok_or_else(|| format!("`{label}`: `run` must be a command line (a string)"))?
                .to_string(),
        ),
    };
    let expect = map
        .get("expect")
        .map(|value| parse_expect(&label, value))
        .transpose()?;
    let timeout = map
        .get("timeout")
        .map(|value| duration(&format!("{label}.timeout"), value))
        .transpose()?;
    Ok(DataStep {
        label,
        action,
        expect,
        timeout,
    })
}

fn parse_exec(label: &str, body: &Value) -> Result<ExecStep, String> {
    let Value::Object(map) = body else {
        return Err(format!("`{label}`: `exec` must be a mapping"));
    };
    const KEYS: &[&str] = &[
        "pod",
        "component",
        "container",
        "command",
        "stdin",
        "stdin-file",
    ];
    if let Some(unknown) = map.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(format!(
            "`{label}`: unknown `exec` key `{unknown}`; it has {}",
            quoted(KEYS)
        ));
    }
    let pod = match (map.get("pod"), map.get("component")) {
        (Some(Value::Object(labels)), None) if !labels.is_empty() => PodSelector::Labels(
            labels
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok((key.clone(), text.clone())),
                    Value::Number(_) | Value::Bool(_) => Ok((key.clone(), value.to_string())),
                    _ => Err(format!(
                        "`{label}`: the label `{key}` of `pod` needs a value"
                    )),
                })
                .collect::<Result<_, String>>()?,
        ),
        (None, Some(Value::String(component))) => PodSelector::Component(component.clone()),
        (Some(_), Some(_)) => {
            return Err(format!(
                "`{label}`: give `pod` (labels) or `component`, not both"
            ));
        }
        _ => {
            return Err(format!(
                "`{label}`: `exec` needs `pod` (labels of exactly one running pod, such as {{app.kubernetes.io/name: kvstore}}) or `component`"
            ));
        }
    };
    let container = match map.get("container") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(format!("`{label}`: `container` must be a name")),
    };
    let command = match map.get("command") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
                _ => Err(format!("`{label}`: every `command` item must be a string")),
            })
            .collect::<Result<_, String>>()?,
        _ => {
            return Err(format!(
                "`{label}`: `exec` needs `command` as a list (argv), such as [redis-cli, GET, greeting]; for a shell line write [sh, -c, \"...\"]"
            ));
        }
    };
    let stdin = match (map.get("stdin"), map.get("stdin-file")) {
        (None, None) => Stdin::None,
        (Some(Value::String(text)), None) => Stdin::Text(text.clone()),
        (None, Some(Value::String(file))) => Stdin::File(PathBuf::from(file)),
        _ => {
            return Err(format!(
                "`{label}`: give `stdin` (text) or `stdin-file` (a file relative to the chart directory), not both"
            ));
        }
    };
    Ok(ExecStep {
        pod,
        container,
        command,
        stdin,
    })
}

fn parse_job(label: &str, body: &Value) -> Result<JobStep, String> {
    let Value::Object(map) = body else {
        return Err(format!("`{label}`: `job` must be a mapping"));
    };
    match (map.get("manifest"), map.get("from-cronjob"), map.len()) {
        (Some(manifest), None, 1) => {
            if manifest.get("kind").and_then(Value::as_str) != Some("Job")
                || manifest
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_none()
            {
                return Err(format!(
                    "`{label}`: `job.manifest` must be a Job with `kind: Job` and `metadata.name`"
                ));
            }
            Ok(JobStep::Manifest(manifest.clone()))
        }
        (None, Some(Value::String(name)), 1) => Ok(JobStep::FromCronJob(name.clone())),
        _ => Err(format!(
            "`{label}`: `job` takes one of `manifest` (a Job) or `from-cronjob` (a CronJob's name)"
        )),
    }
}

fn parse_expect(label: &str, value: &Value) -> Result<Expect, String> {
    let wrong = || {
        format!("`{label}`: `expect` takes one of `equals`, `contains` or `matches`, with a string")
    };
    let Value::Object(map) = value else {
        return Err(wrong());
    };
    let [(key, Value::String(text))] = map.iter().collect::<Vec<_>>()[..] else {
        return Err(wrong());
    };
    match key.as_str() {
        "equals" => Ok(Expect::Equals(text.clone())),
        "contains" => Ok(Expect::Contains(text.clone())),
        "matches" => regex::Regex::new(text)
            .map(Expect::Matches)
            .map_err(|error| {
                format!("`{label}`: `expect.matches` is not a regular expression: {error}")
            }),
        _ => Err(wrong()),
    }
}

pub(super) fn duration(key: &str, value: &Value) -> Result<Duration, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("`{key}` must be a duration such as 90s"))?;
    match parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err(format!("`{key}` must be greater than zero")),
        Ok(duration) => Ok(duration),
        Err(message) => Err(format!("`{key}`: {message}")),
    }
}

pub(super) fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| format!("`{word}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn data(value: Value) -> Result<DataSteps, String> {
        parse_data(&value)
    }

    #[test]
    fn every_step_kind_is_read() {
        let steps = data(json!({
            "timeout": "2m",
            "seed": [
                {"exec": {"pod": {"app.kubernetes.io/name": "kvstore"}, "container": "redis",
                          "command": ["redis-cli", "SET", "k", "v"], "stdin": "x"}},
                {"run": "make seed", "timeout": "5s"},
            ],
            "verify": [
                {"name": "read", "exec": {"component": "primary", "command": ["cat"], "stdin-file": "ci/in.txt"},
                 "expect": {"equals": "v"}},
                {"job": {"from-cronjob": "$RELEASE_NAME-backup"}, "expect": {"matches": "^ok"}},
                {"job": {"manifest": {"kind": "Job", "metadata": {"name": "check"}}}, "expect": {"contains": "ok"}},
            ],
        }))
        .unwrap();
        assert_eq!(steps.timeout, Some(Duration::from_secs(120)));
        assert_eq!(steps.seed[0].label, "data.seed[0]");
        let StepAction::Exec(exec) = &steps.seed[0].action else {
            panic!("exec");
        };
        assert_eq!(exec.pod.label_selector(), "app.kubernetes.io/name=kvstore");
        assert_eq!(exec.container.as_deref(), Some("redis"));
        assert_eq!(exec.stdin, Stdin::Text("x".into()));
        assert_eq!(steps.seed[1].action, StepAction::Run("make seed".into()));
        assert_eq!(steps.seed[1].timeout, Some(Duration::from_secs(5)));
        assert_eq!(steps.verify[0].label, "data.verify[0] (read)");
        let StepAction::Exec(exec) = &steps.verify[0].action else {
            panic!("exec");
        };
        assert_eq!(
            exec.pod.label_selector(),
            "app.kubernetes.io/component=primary"
        );
        assert_eq!(exec.stdin, Stdin::File("ci/in.txt".into()));
        assert_eq!(
            steps.verify[1].action,
            StepAction::Job(JobStep::FromCronJob("$RELEASE_NAME-backup".into()))
        );
        assert!(matches!(
            steps.verify[2].action,
            StepAction::Job(JobStep::Manifest(_))
        ));
    }

    #[rstest]
    #[case::unknown_kind(json!({"seed": [{"kubectl": "get pods"}]}), "`data.seed[0]`: unknown step kind or key `kubectl`")]
    #[case::typo(json!({"seed": [{"exce": {}}]}), "did you mean `exec`?")]
    #[case::no_kind(json!({"verify": [{"expect": {"equals": "x"}}]}), "`data.verify[0]` has no step kind")]
    #[case::two_kinds(json!({"seed": [{"run": "a", "exec": {}}]}), "has `exec`, `run`; a step does one thing")]
    #[case::no_selector(json!({"seed": [{"exec": {"command": ["x"]}}]}), "`exec` needs `pod`")]
    #[case::shell_line(json!({"seed": [{"exec": {"component": "a", "command": "redis-cli GET k"}}]}), "`command` as a list (argv)")]
    #[case::bad_expect(json!({"verify": [{"run": "x", "expect": {"is": "y"}}]}), "`expect` takes one of")]
    #[case::bad_regex(json!({"verify": [{"run": "x", "expect": {"matches": "("}}]}), "not a regular expression")]
    #[case::bad_timeout(json!({"seed": [{"run": "x", "timeout": "soon"}]}), "`data.seed[0].timeout`")]
    #[case::zero_timeout(json!({"timeout": "0s"}), "`data.timeout` must be greater than zero")]
    #[case::unknown_data_key(json!({"seeds": []}), "unknown key `seeds`")]
    #[case::job_without_kind(json!({"seed": [{"job": {"manifest": {"metadata": {"name": "a"}}}}]}), "must be a Job")]
    #[case::empty_run(json!({"seed": [{"run": " "}]}), "`run` must be a command line")]
    fn bad_steps_are_explained(#[case] value: Value, #[case] expected: &str) {
        let error = data(value).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }

    #[rstest]
    #[case(Expect::Equals("hello".into()), "hello\n", None)]
    #[case(Expect::Equals("hello".into()), "hello world\n", Some("equal to \"hello\""))]
    #[case(Expect::Contains("realm".into()), "the realm exists", None)]
    #[case(Expect::Contains("realm".into()), "", Some("containing \"realm\""))]
    #[case(Expect::Matches(regex::Regex::new("^[0-9]+$").unwrap()), "42\n", None)]
    #[case(Expect::Matches(regex::Regex::new("^[0-9]+$").unwrap()), "(nil)", Some("matching /^[0-9]+$/"))]
    fn output_is_compared_without_its_trailing_newline(
        #[case] expect: Expect,
        #[case] output: &str,
        #[case] mismatch: Option<&str>,
    ) {
        assert_eq!(expect.mismatch(output).as_deref(), mismatch);
    }
}
