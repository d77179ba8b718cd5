//! helm 3 and helm 4 behind one interface. Where their CLIs or outputs differ, this
//! module hides it: both take the same flags for lint, template and dependency build,
//! but helm 4 prints template errors over several lines (`chart/templates/x.yaml:6:15`,
//! then the indented cause) where helm 3 prints one (`template: chart/templates/x.yaml:6:15:
//! executing ...`), and only helm 4 colours output.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ToolError;
use super::process::{self, ProcessOutput, ProcessSpec};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HelmMajor {
    #[serde(rename = "3")]
    V3,
    #[default]
    #[serde(rename = "4")]
    V4,
}

impl HelmMajor {
    pub fn number(self) -> u64 {
        match self {
            HelmMajor::V3 => 3,
            HelmMajor::V4 => 4,
        }
    }

    /// The oldest release of this major the harness runs with. helm 3.10 is the oldest
    /// the compatibility test builds and runs (`helm3-oldest` in `ci/tools.toml`);
    /// every flag the harness passes exists in it. Any helm 4 works.
    pub fn oldest_supported(self) -> semver::Version {
        match self {
            HelmMajor::V3 => semver::Version::new(3, 10, 0),
            HelmMajor::V4 => semver::Version::new(4, 0, 0),
        }
    }

    /// The major whose pinned tool is `tool` (`helm3`, `helm4`).
    pub fn of_tool(tool: &str) -> Option<HelmMajor> {
        [HelmMajor::V3, HelmMajor::V4]
            .into_iter()
            .find(|major| major.tool_name() == tool)
    }

    /// The pinned tool of this major in `ci/tools.toml`.
    pub fn tool_name(self) -> &'static str {
        match self {
            HelmMajor::V3 => "helm3",
            HelmMajor::V4 => "helm4",
        }
    }
}

/// A helm major a run asks for, and what asked for it (`--helm 3`, `helm` in ct.yaml),
/// which the run's header repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedMajor {
    pub major: HelmMajor,
    pub asked_by: String,
}

impl std::fmt::Display for HelmMajor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "helm {}", self.number())
    }
}

/// A resolved helm binary with an isolated home (config, cache and data directories),
/// so a run never reads or changes the user's repositories.
#[derive(Clone, Debug)]
pub struct Helm {
    pub path: PathBuf,
    pub version: semver::Version,
    pub major: HelmMajor,
    pub home: PathBuf,
    /// `GOMAXPROCS` for helm processes. When several trials run at once, each helm
    /// gets its share of the cores: helm gains nothing from a second thread, and the
    /// extra garbage-collector threads of parallel helms only contend (measured by the
    /// lint_template benchmark). `None` leaves Go's default.
    pub go_threads: Option<usize>,
}

/// Inputs shared by `helm lint` and `helm template`.
#[derive(Clone, Debug)]
pub struct RenderRequest<'a> {
    pub chart_dir: &'a Path,
    pub release: &'a str,
    pub namespace: &'a str,
    /// Applied in order with `-f`.
    pub values_files: &'a [PathBuf],
    /// Kubernetes version to render against, e.g. `1.37.2`.
    pub kube_version: Option<&'a str>,
    pub extra_args: &'a [String],
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmLintMessage {
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
    /// Path helm names, relative to the chart (`templates/`, `values.yaml`, ...).
    pub path: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct HelmLintReport {
    pub passed: bool,
    pub messages: Vec<HelmLintMessage>,
    pub output: ProcessOutput,
}

/// A render that helm refused, with the template file and line when helm names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderFailure {
    /// Template path relative to the chart directory, e.g. `templates/deployment.yaml`.
    pub template: Option<String>,
    /// For template errors, the line in the template; for YAML errors, the line in that
    /// template's rendered output (what helm reports).
    pub line: Option<u64>,
    pub message: String,
}

impl Helm {
    /// A process running this helm in its isolated home; callers add the arguments.
    ///
    /// Every helm location variable is set, not only the three homes, because a user's
    /// `HELM_REPOSITORY_CONFIG` or `HELM_PLUGINS` would otherwise override them.
    pub fn command(&self, timeout: Duration) -> ProcessSpec {
        let config = self.home.join("config");
        let cache = self.home.join("cache");
        let data = self.home.join("data");
        let spec = ProcessSpec::new(&self.path, timeout)
            .env("HELM_CONFIG_HOME", &config)
            .env("HELM_CACHE_HOME", &cache)
            .env("HELM_DATA_HOME", &data)
            .env("HELM_REPOSITORY_CONFIG", config.join("repositories.yaml"))
            .env("HELM_REGISTRY_CONFIG", config.join("registry/config.json"))
            .env("HELM_REPOSITORY_CACHE", cache.join("repository"))
            .env("HELM_CONTENT_CACHE", cache.join("content"))
            .env("HELM_PLUGINS", data.join("plugins"))
            .env("HELM_DEBUG", "false")
            // helm 4 colours its output on a terminal; plain text is what gets parsed.
            .env("NO_COLOR", "1");
        let spec = match self.go_threads {
            Some(threads) => spec.env("GOMAXPROCS", threads.to_string()),
            None => spec,
        };
        // helm runs for a fraction of a second and allocates little (its peak resident
        // size over prometheus-community's 182 lint trials stayed under 90 MB), yet its
        // default garbage collector cost a fifth of that run's CPU time (9.2 s of user
        // time, 7.4 s without). Collection waits for a 1 GiB heap instead. A user's own
        // GOGC or GOMEMLIMIT wins.
        if std::env::var_os("GOGC").is_some() || std::env::var_os("GOMEMLIMIT").is_some() {
            spec
        } else {
            spec.env("GOGC", "off").env("GOMEMLIMIT", "1GiB")
        }
    }

    /// `helm lint --kube-version` exists from helm 3.14; an older helm 3 (supported
    /// from 3.10) lints against its own default Kubernetes version instead, which the
    /// run's warning says.
    pub fn lint_takes_kube_version(&self) -> bool {
        self.major == HelmMajor::V4 || self.version >= semver::Version::new(3, 14, 0)
    }

    /// `helm lint` with the given values, as ct runs it: warnings fail it only with
    /// `--strict` among the request's extra arguments (ct's `helm-lint-extra-args`).
    pub async fn lint(&self, request: &RenderRequest<'_>) -> Result<HelmLintReport, ToolError> {
        let spec = self
            .command(request.timeout)
            .arg("lint")
            .arg(chart_arg(request.chart_dir))
            .args(shared_args(request, self.lint_takes_kube_version()));
        let output = process::run(&spec).await?;
        let passed = output.success();
        let mut messages = parse_lint_messages(&output.stdout);
        if !passed
            && !messages
                .iter()
                .any(|m| m.severity == "ERROR" || m.severity == "WARNING")
        {
            // helm refused before linting (unreadable values file, missing Chart.yaml):
            // the reason is a plain `Error` line, which becomes the error message.
            // A warning that failed a `--strict` lint already says why.
            messages.push(HelmLintMessage {
                severity: "ERROR".into(),
                path: None,
                message: lint_failure_reason(&output),
            });
        }
        Ok(HelmLintReport {
            passed,
            messages,
            output,
        })
    }

    /// `helm template`; `Ok(Err(..))` when helm refused to render.
    pub async fn template(
        &self,
        request: &RenderRequest<'_>,
    ) -> Result<Result<String, RenderFailure>, ToolError> {
        let spec = self
            .command(request.timeout)
            .arg("template")
            .arg(request.release)
            .arg(chart_arg(request.chart_dir))
            .args(shared_args(request, true));
        let output = process::run(&spec).await?;
        if output.success() {
            Ok(Ok(output.stdout))
        } else {
            Ok(Err(parse_render_failure(&output.stderr)))
        }
    }

    /// `helm dependency build`. A non-zero exit is returned, not an error: the caller
    /// turns it into that chart's failure.
    /// `extra_args` are ct's `helm-dependency-extra-args` (for example `--skip-refresh`).
    pub async fn dependency_build(
        &self,
        chart_dir: &Path,
        extra_args: &[String],
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        process::run(&self.dependency_build_spec(chart_dir, extra_args, timeout)).await
    }

    fn dependency_build_spec(
        &self,
        chart_dir: &Path,
        extra_args: &[String],
        timeout: Duration,
    ) -> ProcessSpec {
        self.command(timeout)
            .args(["dependency", "build"])
            .arg(chart_arg(chart_dir))
            .args(extra_args)
    }
}

/// Where a release lives: the cluster (kubeconfig and context), namespace and name.
#[derive(Clone, Copy, Debug)]
pub struct ReleaseTarget<'a> {
    pub kubeconfig: &'a Path,
    /// `None` uses the kubeconfig's current context.
    pub context: Option<&'a str>,
    pub namespace: &'a str,
    pub release: &'a str,
}

impl ReleaseTarget<'_> {
    fn cluster_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--kubeconfig".into(),
            self.kubeconfig.into(),
            "--namespace".into(),
            self.namespace.into(),
        ];
        if let Some(context) = self.context {
            args.push("--kube-context".into());
            args.push(context.into());
        }
        args
    }
}

/// helm's `--timeout` takes a Go duration; whole seconds are enough.
fn go_duration(timeout: Duration) -> String {
    format!("{}s", timeout.as_secs().max(1))
}

/// Release operations. Neither major is asked to `--wait`: helm 3 takes a boolean and
/// helm 4 a strategy there, and readiness is decided by the harness's own watches
/// anyway. Each returns the finished process; a non-zero exit is for the caller to
/// report. The process timeout is helm's own `--timeout` plus a margin, so helm gets
/// to report its own timeout first.
impl Helm {
    /// `helm install` of `chart_dir` with `values_files`, then `extra_args` (ct's
    /// `helm-extra-args` and `helm-extra-set-args`), without waiting for readiness.
    pub async fn install(
        &self,
        target: &ReleaseTarget<'_>,
        chart_dir: &Path,
        values_files: &[PathBuf],
        extra_args: &[String],
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let spec = self.deploy_spec(
            "install",
            target,
            chart_dir,
            values_files,
            extra_args,
            timeout,
        );
        process::run(&spec).await
    }

    /// `helm upgrade` of the release to `chart_dir` with `values_files` (only these:
    /// values of the previous revision are not reused) and `extra_args`, without
    /// waiting for readiness.
    pub async fn upgrade(
        &self,
        target: &ReleaseTarget<'_>,
        chart_dir: &Path,
        values_files: &[PathBuf],
        extra_args: &[String],
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let spec = self.deploy_spec(
            "upgrade",
            target,
            chart_dir,
            values_files,
            extra_args,
            timeout,
        );
        process::run(&spec).await
    }

    /// `helm rollback` to `revision` (helm 3 and 4 both take it as the second
    /// argument), without waiting for readiness.
    pub async fn rollback(
        &self,
        target: &ReleaseTarget<'_>,
        revision: u32,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let spec = self
            .release_command(timeout)
            .arg("rollback")
            .arg(target.release)
            .arg(revision.to_string())
            .args(target.cluster_args())
            .args(["--timeout".to_string(), go_duration(timeout)]);
        process::run(&spec).await
    }

    /// `helm install|upgrade <release> <chart>`: the two take the same arguments. The
    /// extra arguments come last so the user's can override ours, as in ct.
    fn deploy_spec(
        &self,
        verb: &str,
        target: &ReleaseTarget<'_>,
        chart_dir: &Path,
        values_files: &[PathBuf],
        extra_args: &[String],
        timeout: Duration,
    ) -> ProcessSpec {
        let mut spec = self
            .release_command(timeout)
            .arg(verb)
            .arg(target.release)
            .arg(chart_arg(chart_dir))
            .args(target.cluster_args())
            .args(["--timeout".to_string(), go_duration(timeout)]);
        for file in values_files {
            spec = spec.arg("-f").arg(file);
        }
        spec.args(extra_args)
    }

    /// `helm test`: runs the release's test hooks and waits for them, up to `timeout`.
    /// `extra_args` are ct's `helm-extra-args`, which ct gives `helm test` too.
    pub async fn test(
        &self,
        target: &ReleaseTarget<'_>,
        extra_args: &[String],
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        process::run(&self.test_spec(target, extra_args, timeout)).await
    }

    fn test_spec(
        &self,
        target: &ReleaseTarget<'_>,
        extra_args: &[String],
        timeout: Duration,
    ) -> ProcessSpec {
        self.on_release_spec("test", target, timeout, HelmTimeout::Pass)
            .args(extra_args)
    }

    /// `helm uninstall`; hooks get `timeout`. Whether objects are gone is checked by
    /// the caller, not by helm.
    pub async fn uninstall(
        &self,
        target: &ReleaseTarget<'_>,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        self.on_release("uninstall", target, timeout, HelmTimeout::Pass)
            .await
    }

    /// `helm status -o json`, for diagnostics: as data, so the chart's NOTES (which often
    /// echo a password) can be left out of what is shown.
    pub async fn status(
        &self,
        target: &ReleaseTarget<'_>,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        let spec = self
            .on_release_spec("status", target, timeout, HelmTimeout::None)
            .args(["-o", "json"]);
        process::run(&spec).await
    }

    /// `helm history`, as a table, for diagnostics.
    pub async fn history(
        &self,
        target: &ReleaseTarget<'_>,
        timeout: Duration,
    ) -> Result<ProcessOutput, ToolError> {
        self.on_release("history", target, timeout, HelmTimeout::None)
            .await
    }

    /// `helm <verb> <release>` against the target's cluster and namespace.
    async fn on_release(
        &self,
        verb: &str,
        target: &ReleaseTarget<'_>,
        timeout: Duration,
        helm_timeout: HelmTimeout,
    ) -> Result<ProcessOutput, ToolError> {
        process::run(&self.on_release_spec(verb, target, timeout, helm_timeout)).await
    }

    fn on_release_spec(
        &self,
        verb: &str,
        target: &ReleaseTarget<'_>,
        timeout: Duration,
        helm_timeout: HelmTimeout,
    ) -> ProcessSpec {
        let mut spec = self
            .release_command(timeout)
            .arg(verb)
            .arg(target.release)
            .args(target.cluster_args());
        if helm_timeout == HelmTimeout::Pass {
            spec = spec.args(["--timeout".to_string(), go_duration(timeout)]);
        }
        spec
    }

    fn release_command(&self, timeout: Duration) -> ProcessSpec {
        self.command(timeout + RELEASE_TIMEOUT_MARGIN)
    }
}

/// Whether a release command takes helm's own `--timeout` (commands that wait do).
#[derive(Clone, Copy, PartialEq, Eq)]
enum HelmTimeout {
    Pass,
    None,
}

/// Extra time a release command's process gets beyond helm's own `--timeout`.
const RELEASE_TIMEOUT_MARGIN: Duration = Duration::from_secs(15);

/// A chart path as an argument: a relative path starting with `-` would read as a flag.
fn chart_arg(chart_dir: &Path) -> OsString {
    if chart_dir.is_relative() && chart_dir.as_os_str().to_string_lossy().starts_with('-') {
        Path::new(".").join(chart_dir).into_os_string()
    } else {
        chart_dir.as_os_str().to_owned()
    }
}

/// Namespace, values, Kubernetes version (when `kube_version_flag`) and extra
/// arguments, in that order, so the user's extra arguments can override ours.
fn shared_args(request: &RenderRequest<'_>, kube_version_flag: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--namespace".into(), request.namespace.into()];
    for file in request.values_files {
        args.push("-f".into());
        args.push(file.into());
    }
    if let Some(version) = request.kube_version.filter(|_| kube_version_flag) {
        args.push("--kube-version".into());
        args.push(version.into());
    }
    args.extend(request.extra_args.iter().map(OsString::from));
    args
}

/// Reads `[SEVERITY] path: message` lines. helm 4 continues a message on the following
/// lines (some not indented), up to the next message, a `==>` header or a blank line.
fn parse_lint_messages(stdout: &str) -> Vec<HelmLintMessage> {
    let mut messages: Vec<HelmLintMessage> = Vec::new();
    let mut open = false;
    for line in stdout.lines() {
        if let Some(message) = parse_lint_line(line) {
            messages.push(message);
            open = true;
        } else if line.trim().is_empty() || line.starts_with("==> ") {
            open = false;
        } else if open && let Some(last) = messages.last_mut() {
            last.message.push('\n');
            last.message.push_str(line.trim_end());
        }
    }
    messages
}

fn parse_lint_line(line: &str) -> Option<HelmLintMessage> {
    let rest = line.strip_prefix('[')?;
    let (severity, rest) = rest.split_once("] ")?;
    if !matches!(severity, "ERROR" | "WARNING" | "INFO") {
        return None;
    }
    let (path, message) = match rest.split_once(": ") {
        Some((path, message)) if !path.contains(char::is_whitespace) => {
            (Some(path.to_string()), message)
        }
        _ => (None, rest),
    };
    Some(HelmLintMessage {
        severity: severity.to_string(),
        path,
        message: message.trim_end().to_string(),
    })
}

/// The `Error` lines of a lint helm refused to run, without the closing tally.
fn lint_failure_reason(output: &ProcessOutput) -> String {
    let reason: Vec<&str> = output
        .stdout
        .lines()
        .chain(output.stderr.lines())
        .map(str::trim)
        .filter(|line| line.starts_with("Error"))
        .map(|line| line.strip_prefix("Error:").unwrap_or(line).trim())
        .filter(|line| !line.contains("chart(s) linted"))
        .collect();
    if reason.is_empty() {
        format!(
            "helm lint failed ({}) without naming a problem: {}",
            output.status,
            output.stderr.trim()
        )
    } else {
        reason.join("\n")
    }
}

/// Turns helm's render error into the template and line it names. When helm names
/// several (an error inside an `include`d helper), the last one is where it happened.
///
/// helm logs its warnings (`walk.go: found symbolic link`, `coalesce.go` value
/// warnings, deprecations) while it loads and renders, so they come before the
/// `Error:` line on stderr. A reader wants the reason first: the message starts with
/// the error, and the warnings follow it, and only the error is searched for a
/// template and line (a warning may name an unrelated file).
pub(crate) fn parse_render_failure(stderr: &str) -> RenderFailure {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with("Use --debug flag"))
        .collect();
    let error_start = lines
        .iter()
        .position(|line| line.starts_with("Error:"))
        .unwrap_or(0);
    let (warnings, error) = lines.split_at(error_start);
    let error = error.join("\n");
    let error = error.trim();
    let error = error.strip_prefix("Error: ").unwrap_or(error);
    let (template, line) = match yaml_error_location(error) {
        Some(location) => location,
        None => match template_references(error).pop() {
            Some((path, line)) => (Some(path), Some(line)),
            None => (None, None),
        },
    };
    let mut message = error.to_string();
    let warnings: Vec<&str> = warnings
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .collect();
    if !warnings.is_empty() {
        message.push_str("\nhelm warned before the error:");
        for warning in warnings {
            message.push_str("\n  ");
            message.push_str(warning);
        }
    }
    RenderFailure {
        template: template.map(|path| chart_relative(&path)),
        line,
        message,
    }
}

/// `YAML parse error on chart/templates/x.yaml: ... yaml: line 7: ...`.
fn yaml_error_location(message: &str) -> Option<(Option<String>, Option<u64>)> {
    let rest = message.split_once("YAML parse error on ")?.1;
    let path = rest.split_whitespace().next()?.trim_end_matches(':');
    let line = rest
        .split_once("line ")
        .and_then(|(_, after)| leading_number(after));
    Some((Some(path.to_string()), line))
}

/// Every `path:line[:column]` in the message whose path looks like a chart file.
fn template_references(message: &str) -> Vec<(String, u64)> {
    message
        .split(|c: char| c.is_whitespace() || "()\"<>".contains(c))
        .filter_map(|token| {
            let token = token.trim_end_matches([':', ',']);
            let mut parts = token.split(':');
            let path = parts.next()?;
            let line = parts.next()?.parse().ok()?;
            (path.contains('/') && !path.contains("//")).then(|| (path.to_string(), line))
        })
        .collect()
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// helm names templates `<chart name>/templates/x.yaml`; callers want the path inside
/// the chart directory.
fn chart_relative(path: &str) -> String {
    match path.split_once('/') {
        Some((_, inside)) if !inside.is_empty() => inside.to_string(),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::helm3_exec(
        "Error: template: web/templates/x.yaml:12:20: executing \"web/templates/x.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b\n\nUse --debug flag to render out invalid YAML\n",
        Some("templates/x.yaml"),
        Some(12)
    )]
    #[case::helm4_exec(
        "Error: web/templates/x.yaml:6:15\n  executing \"web/templates/x.yaml\" at <.Values.nope.deeper>:\n    nil pointer evaluating interface {}.deeper\n\nUse --debug flag to render out invalid YAML\n",
        Some("templates/x.yaml"),
        Some(6)
    )]
    #[case::helm3_include_names_the_helper(
        "Error: template: web/templates/cm.yaml:6:6: executing \"web/templates/cm.yaml\" at <include \"web.broken\" .>: error calling include: template: web/templates/_x.tpl:2:13: executing \"web.broken\" at <.Values.nope.deeper>: nil pointer evaluating interface {}.deeper\n",
        Some("templates/_x.tpl"),
        Some(2)
    )]
    #[case::helm4_include_names_the_helper(
        "Error: web/templates/cm.yaml:6:6\n  executing \"web/templates/cm.yaml\" at <include \"web.broken\" .>:\n    error calling include:\nweb/templates/_x.tpl:2:13\n  executing \"web.broken\" at <.Values.nope.deeper>:\n    nil pointer evaluating interface {}.deeper\n",
        Some("templates/_x.tpl"),
        Some(2)
    )]
    #[case::fail_function(
        "Error: execution error at (web/templates/x.yaml:6:8): boom here\n",
        Some("templates/x.yaml"),
        Some(6)
    )]
    #[case::parse_error(
        "Error: parse error at (web/templates/x.yaml:7): function \"nope\" not defined\n",
        Some("templates/x.yaml"),
        Some(7)
    )]
    #[case::yaml_error(
        "Error: YAML parse error on web/templates/x.yaml: error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context\n",
        Some("templates/x.yaml"),
        Some(7)
    )]
    #[case::subchart(
        "Error: template: web/charts/db/templates/sts.yaml:3:9: executing ...\n",
        Some("charts/db/templates/sts.yaml"),
        Some(3)
    )]
    #[case::no_location(
        "Error: chart requires kubeVersion: >=1.99.0 which is incompatible with Kubernetes v1.37.2\n",
        None,
        None
    )]
    #[case::url_is_not_a_template(
        "Error: failed to fetch https://example.com:8443/index.yaml\n",
        None,
        None
    )]
    fn render_failures_name_template_and_line(
        #[case] stderr: &str,
        #[case] template: Option<&str>,
        #[case] line: Option<u64>,
    ) {
        let failure = parse_render_failure(stderr);
        assert_eq!(failure.template.as_deref(), template, "{failure:?}");
        assert_eq!(failure.line, line, "{failure:?}");
        assert!(!failure.message.starts_with("Error: "), "{failure:?}");
        assert!(!failure.message.contains("--debug"), "{failure:?}");
    }

    #[rstest]
    #[case::helm3_symlink_and_coalesce(
        "walk.go:75: found symbolic link in path: /c/files/a.txt resolves to /c/files/b.txt. Contents of linked file included and used\ncoalesce.go:237: warning: skipped value for web.replicas: Not a table.\nError: execution error at (web/templates/x.yaml:6:8): image must be set\n\nUse --debug flag to render out invalid YAML\n",
        "execution error at (web/templates/x.yaml:6:8): image must be set\nhelm warned before the error:\n  walk.go:75: found symbolic link in path: /c/files/a.txt resolves to /c/files/b.txt. Contents of linked file included and used\n  coalesce.go:237: warning: skipped value for web.replicas: Not a table."
    )]
    #[case::helm4_log_lines(
        "level=INFO msg=\"warning: skipped value for web.replicas: Not a table.\"\nError: web/templates/x.yaml:6:15\n  executing \"web/templates/x.yaml\" at <.Values.a.b>:\n    nil pointer\n",
        "web/templates/x.yaml:6:15\n  executing \"web/templates/x.yaml\" at <.Values.a.b>:\n    nil pointer\nhelm warned before the error:\n  level=INFO msg=\"warning: skipped value for web.replicas: Not a table.\""
    )]
    #[case::no_warnings(
        "Error: execution error at (web/templates/x.yaml:6:8): boom\n",
        "execution error at (web/templates/x.yaml:6:8): boom"
    )]
    fn render_failures_put_the_error_before_helms_warnings(
        #[case] stderr: &str,
        #[case] message: &str,
    ) {
        let failure = parse_render_failure(stderr);
        assert_eq!(failure.message, message);
        assert_eq!(failure.template.as_deref(), Some("templates/x.yaml"));
        assert_eq!(failure.line, Some(6));
    }

    /// A warning naming some other chart file must not become the problem's location.
    #[test]
    fn a_warning_never_names_the_failing_template() {
        let failure = parse_render_failure(
            "coalesce.go:237: warning: web/templates/other.yaml:99 looked odd\nError: chart requires kubeVersion: >=1.99.0\n",
        );
        assert_eq!(failure.template, None);
        assert_eq!(failure.line, None);
        assert!(failure.message.starts_with("chart requires kubeVersion"));
    }

    /// ct's `helm-extra-args` and `helm-extra-set-args` reach install, upgrade and test
    /// after our arguments (so they can override them), and a `--timeout` taken from
    /// them is helm's timeout and sizes the process's.
    #[test]
    fn release_commands_carry_extra_args_and_the_timeout() {
        let helm = Helm {
            path: PathBuf::from("helm"),
            version: semver::Version::new(4, 3, 1),
            major: HelmMajor::V4,
            home: PathBuf::from("/tmp/helm-home"),
            go_threads: None,
        };
        let target = ReleaseTarget {
            kubeconfig: Path::new("/tmp/kubeconfig"),
            context: None,
            namespace: "ns",
            release: "web",
        };
        let argv = |spec: &ProcessSpec| -> Vec<String> {
            spec.args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let extra = ["--atomic".to_string(), "--set=image.tag=1.2".to_string()];
        let timeout = Duration::from_secs(600);
        for verb in ["install", "upgrade"] {
            let spec = helm.deploy_spec(
                verb,
                &target,
                Path::new("charts/web"),
                &[PathBuf::from("ci/a-values.yaml")],
                &extra,
                timeout,
            );
            let args = argv(&spec);
            assert_eq!(args[0], verb);
            let at = args.iter().position(|a| a == "--timeout").unwrap();
            assert_eq!(args[at + 1], "600s", "{args:?}");
            assert_eq!(&args[args.len() - 2..], &extra, "{args:?}");
            assert_eq!(spec.timeout, timeout + RELEASE_TIMEOUT_MARGIN);
        }
        let spec = helm.test_spec(&target, &extra[..1], timeout);
        let args = argv(&spec);
        assert!(
            args.windows(2).any(|w| w == ["--timeout", "600s"]),
            "{args:?}"
        );
        assert_eq!(args.last().map(String::as_str), Some("--atomic"));
    }

    /// Without a GOGC or GOMEMLIMIT of the user's, helm collects garbage only near a
    /// 1 GiB heap: its collector cost a fifth of lint's CPU time over a real repository.
    #[test]
    fn helm_runs_without_eager_garbage_collection_unless_the_user_tuned_it() {
        let helm = Helm {
            path: PathBuf::from("helm"),
            version: semver::Version::new(4, 3, 1),
            major: HelmMajor::V4,
            home: PathBuf::from("/tmp/helm-home"),
            go_threads: Some(1),
        };
        let spec = helm.command(Duration::from_secs(1));
        let env = |name: &str| {
            spec.env
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.to_string_lossy().into_owned())
        };
        assert_eq!(env("GOMAXPROCS").as_deref(), Some("1"));
        let user_tuned =
            std::env::var_os("GOGC").is_some() || std::env::var_os("GOMEMLIMIT").is_some();
        if user_tuned {
            assert_eq!(env("GOGC"), None);
        } else {
            assert_eq!(env("GOGC").as_deref(), Some("off"));
            assert_eq!(env("GOMEMLIMIT").as_deref(), Some("1GiB"));
        }
    }

    #[test]
    fn dependency_build_carries_the_extra_args() {
        let helm = Helm {
            path: PathBuf::from("helm"),
            version: semver::Version::new(3, 22, 0),
            major: HelmMajor::V3,
            home: PathBuf::from("/tmp/helm-home"),
            go_threads: None,
        };
        let spec = helm.dependency_build_spec(
            Path::new("charts/web"),
            &["--skip-refresh".to_string()],
            Duration::from_secs(60),
        );
        let args: Vec<_> = spec.args.iter().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            ["dependency", "build", "charts/web", "--skip-refresh"]
        );
    }

    #[test]
    fn lint_messages_of_both_majors_parse_alike() {
        let helm3 = "==> Linting web\n[INFO] Chart.yaml: icon is recommended\n[ERROR] templates/: template: web/templates/x.yaml:6:15: executing \"web/templates/x.yaml\" at <.Values.a.b>: nil pointer\n\nError: 1 chart(s) linted, 1 chart(s) failed\n";
        let helm4 = "==> Linting web\n[INFO] Chart.yaml: icon is recommended\n[ERROR] templates/: web/templates/x.yaml:6:15\n  executing \"web/templates/x.yaml\" at <.Values.a.b>:\n    nil pointer\n\nError: 1 chart(s) linted, 1 chart(s) failed\n";
        for output in [helm3, helm4] {
            let messages = parse_lint_messages(output);
            assert_eq!(messages.len(), 2, "{messages:?}");
            assert_eq!(messages[0].severity, "INFO");
            assert_eq!(messages[0].path.as_deref(), Some("Chart.yaml"));
            assert_eq!(messages[0].message, "icon is recommended");
            assert_eq!(messages[1].severity, "ERROR");
            assert_eq!(messages[1].path.as_deref(), Some("templates/"));
            assert!(messages[1].message.contains("web/templates/x.yaml:6:15"));
            assert!(messages[1].message.ends_with("nil pointer"), "{messages:?}");
        }
    }

    #[test]
    fn helm4_continuation_lines_without_indent_stay_with_their_message() {
        let output = "[ERROR] templates/: web/templates/a.yaml:6:6\n  executing:\n    error calling include:\nweb/templates/_x.tpl:2:13\n  nil pointer\n[WARNING] values.yaml: unused\n";
        let messages = parse_lint_messages(output);
        assert_eq!(messages.len(), 2);
        assert!(
            messages[0]
                .message
                .contains("\nweb/templates/_x.tpl:2:13\n")
        );
        assert_eq!(messages[1].severity, "WARNING");
        assert_eq!(messages[1].message, "unused");
    }

    #[rstest]
    #[case(
        "[WARNING] templates/svc.yaml: object name does not conform",
        Some("templates/svc.yaml")
    )]
    #[case("[ERROR] Chart.yaml: version is required", Some("Chart.yaml"))]
    #[case("[ERROR] chart metadata is missing these dependencies: db", None)]
    fn lint_lines_with_and_without_path(#[case] line: &str, #[case] path: Option<&str>) {
        let message = parse_lint_line(line).expect("a lint line");
        assert_eq!(message.path.as_deref(), path);
        assert!(!message.message.is_empty());
    }

    #[rstest]
    #[case("==> Linting web")]
    #[case("[DEBUG] something")]
    #[case("1 chart(s) linted, 0 chart(s) failed")]
    fn other_lines_are_not_lint_messages(#[case] line: &str) {
        assert_eq!(parse_lint_line(line), None);
    }

    /// The pinned helm of `major` from this repository's `.tools/bin` (or PATH), with
    /// its isolated home in a temporary directory.
    async fn pinned_helm(major: HelmMajor) -> (tempfile::TempDir, Helm) {
        let state = tempfile::tempdir().unwrap();
        let toolbox =
            crate::tools::Toolbox::resolve(&crate::tools::tests::repo_root(), major, state.path())
                .await
                .unwrap_or_else(|e| panic!("these tests run the pinned helm: {e}"));
        (state, toolbox.helm)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A one-template chart whose directory name needs quoting in any shell.
    fn tiny_chart(root: &Path) -> PathBuf {
        let chart = root.join("my charts; $(touch pwned)").join("web");
        write(
            &chart.join("Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 0.1.0\nicon: https://example.com/icon.png\n",
        );
        write(&chart.join("values.yaml"), "greeting: hello\n");
        write(
            &chart.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting }}\n  kube: {{ .Capabilities.KubeVersion.Version }}\n",
        );
        chart
    }

    fn request<'a>(
        chart: &'a Path,
        values: &'a [PathBuf],
        kube: Option<&'a str>,
    ) -> RenderRequest<'a> {
        RenderRequest {
            chart_dir: chart,
            release: "demo",
            namespace: "team-a",
            values_files: values,
            kube_version: kube,
            extra_args: &[],
            timeout: Duration::from_secs(60),
        }
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn template_renders_with_values_namespace_and_kube_version(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let root = tempfile::tempdir().unwrap();
        let chart = tiny_chart(root.path());
        let values = vec![root.path().join("ci values.yaml")];
        write(&values[0], "greeting: bonjour\n");

        let rendered = helm
            .template(&request(&chart, &values, Some("1.30.2")))
            .await
            .unwrap()
            .unwrap();
        for expected in [
            "name: demo",
            "namespace: team-a",
            "greeting: bonjour",
            "kube: v1.30.2",
        ] {
            assert!(
                rendered.contains(expected),
                "`{expected}` missing from {rendered}"
            );
        }
        // Without --kube-version both majors target the pinned Kubernetes minor (helm 3
        // only through the install's ldflags).
        let rendered = helm
            .template(&request(&chart, &[], None))
            .await
            .unwrap()
            .unwrap();
        assert!(rendered.contains("greeting: hello"), "{rendered}");
        assert!(rendered.contains("kube: v1.37.0"), "{rendered}");
        assert!(!root.path().join("pwned").exists());
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn template_failures_name_the_template_and_line(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let root = tempfile::tempdir().unwrap();
        let chart = tiny_chart(root.path());
        write(
            &chart.join("templates/broken.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  a: {{ .Values.missing.deeper }}\n",
        );
        let failure = helm
            .template(&request(&chart, &[], None))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            failure.template.as_deref(),
            Some("templates/broken.yaml"),
            "{failure:?}"
        );
        assert_eq!(failure.line, Some(6), "{failure:?}");
        assert!(failure.message.contains("nil pointer"), "{failure:?}");

        write(
            &chart.join("templates/broken.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  a: b\n   c: d\n",
        );
        let failure = helm
            .template(&request(&chart, &[], None))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            failure.template.as_deref(),
            Some("templates/broken.yaml"),
            "{failure:?}"
        );
        assert!(failure.message.contains("YAML"), "{failure:?}");
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn lint_passes_a_good_chart_and_reports_a_broken_one(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let root = tempfile::tempdir().unwrap();
        let chart = tiny_chart(root.path());
        let report = helm
            .lint(&request(&chart, &[], Some("1.37.2")))
            .await
            .unwrap();
        assert!(report.passed, "{report:?}");
        assert!(
            report.messages.iter().all(|m| m.severity == "INFO"),
            "{report:?}"
        );

        write(
            &chart.join("templates/broken.yaml"),
            "a: {{ .Values.missing.deeper }}\n",
        );
        let report = helm.lint(&request(&chart, &[], None)).await.unwrap();
        assert!(!report.passed);
        let error = report
            .messages
            .iter()
            .find(|m| m.severity == "ERROR")
            .expect("an error");
        assert_eq!(error.path.as_deref(), Some("templates/"), "{error:?}");
        assert!(
            error.message.contains("templates/broken.yaml:1"),
            "{error:?}"
        );
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn lint_that_helm_refuses_still_names_the_reason(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let root = tempfile::tempdir().unwrap();
        let chart = tiny_chart(root.path());
        let values = vec![root.path().join("absent-values.yaml")];
        let report = helm.lint(&request(&chart, &values, None)).await.unwrap();
        assert!(!report.passed);
        let error = report
            .messages
            .iter()
            .find(|m| m.severity == "ERROR")
            .expect("an error");
        assert!(error.message.contains("absent-values.yaml"), "{error:?}");
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn dependency_build_vendors_a_file_dependency(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let root = tempfile::tempdir().unwrap();
        write(
            &root.path().join("sub/Chart.yaml"),
            "apiVersion: v2\nname: sub\nversion: 0.2.0\n",
        );
        write(
            &root.path().join("sub/templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n",
        );
        let parent = root.path().join("parent");
        write(
            &parent.join("Chart.yaml"),
            "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n  - name: sub\n    version: 0.2.0\n    repository: file://../sub\n",
        );
        let output = helm
            .dependency_build(&parent, &[], Duration::from_secs(60))
            .await
            .unwrap();
        assert!(output.success(), "{output:?}");
        assert!(parent.join("charts/sub-0.2.0.tgz").is_file());
        let rendered = helm
            .template(&request(&parent, &[], None))
            .await
            .unwrap()
            .unwrap();
        assert!(rendered.contains("name: sub"), "{rendered}");
    }

    #[rstest]
    #[case::helm3(HelmMajor::V3)]
    #[case::helm4(HelmMajor::V4)]
    #[tokio::test]
    async fn every_helm_location_points_into_the_isolated_home(#[case] major: HelmMajor) {
        let (_state, helm) = pinned_helm(major).await;
        let output = process::run_checked(&helm.command(Duration::from_secs(30)).arg("env"))
            .await
            .unwrap();
        let home = helm.home.display().to_string();
        for variable in [
            "HELM_CONFIG_HOME",
            "HELM_CACHE_HOME",
            "HELM_DATA_HOME",
            "HELM_REPOSITORY_CONFIG",
            "HELM_REPOSITORY_CACHE",
            "HELM_REGISTRY_CONFIG",
            "HELM_PLUGINS",
        ] {
            let line = output
                .stdout
                .lines()
                .find(|line| line.starts_with(&format!("{variable}=")))
                .unwrap_or_else(|| panic!("{variable} missing from {}", output.stdout));
            assert!(line.contains(&home), "{line} is outside {home}");
        }
    }

    #[rstest]
    #[case("-odd", "./-odd")]
    #[case("charts/web", "charts/web")]
    #[case("/abs/-x", "/abs/-x")]
    fn chart_paths_never_read_as_flags(#[case] dir: &str, #[case] expected: &str) {
        assert_eq!(chart_arg(Path::new(dir)), OsString::from(expected));
    }
}
