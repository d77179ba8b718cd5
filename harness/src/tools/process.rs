//! The one place that spawns processes: argv only, a timeout always, stderr captured,
//! and the whole process group killed on timeout or when the caller is cancelled.
//!

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Instant;

use tokio::io::AsyncReadExt;

use super::ToolError;

/// A process to run. Built with [`ProcessSpec::new`] and the builder methods.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: Option<PathBuf>,
    pub timeout: Duration,
}

impl ProcessSpec {
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
}

/// A finished process. A non-zero exit is not an error here; see [`run_checked`].
#[derive(Clone, Debug)]
pub struct ProcessOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ProcessOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Runs the process to completion or until its timeout.
///
/// The child gets its own process group, so a timeout (or the caller dropping this
/// future, as the runner does on Ctrl-C) kills grandchildren too: `sh -c` lines and
/// helm plugins must not outlive the trial that started them.
pub async fn run(spec: &ProcessSpec) -> Result<ProcessOutput, ToolError> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SIGKILL gives the harness no chance to kill its children, so the kernel does: the
    // child dies with the thread that spawned it. Processes are spawned from the
    // runtime's worker threads, which live as long as the run, or from a thread that
    // waits for them (a handle's teardown in `Drop`). Grandchildren are not covered;
    // the next run's cluster prune finds those that name a cluster of ours.
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|source| ToolError::Spawn {
        command: spec.display(),
        source,
    })?;
    let guard = ProcessGroupGuard::track(child.id());
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let collect = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (status, _, _) = tokio::join!(
            child.wait(),
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err)
        );
        (status, out, err)
    };
    match tokio::time::timeout(spec.timeout, collect).await {
        Ok((status, out, err)) => {
            let status = status.map_err(|source| ToolError::Spawn {
                command: spec.display(),
                source,
            })?;
            guard.disarm();
            Ok(ProcessOutput {
                status,
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
                elapsed: started.elapsed(),
            })
        }
        Err(_) => {
            drop(guard);
            Err(ToolError::TimedOut {
                command: spec.display(),
                timeout: spec.timeout,
            })
        }
    }
}

/// Like [`run`], but a non-zero exit is an error that carries the command and its stderr.
pub async fn run_checked(spec: &ProcessSpec) -> Result<ProcessOutput, ToolError> {
    let output = run(spec).await?;
    if output.success() {
        Ok(output)
    } else {
        Err(ToolError::Failed {
            command: spec.display(),
            status: output.status,
            stderr: output.stderr.trim().to_string(),
        })
    }
}

impl ProcessSpec {
    /// The command line for messages, with arguments quoted where a shell would need it.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(|a| a.as_os_str()))
            .map(|part| {
                let part = part.to_string_lossy();
                if part.is_empty()
                    || part.contains(|c: char| c.is_whitespace() || "'\"$;&|<>()`\\*?".contains(c))
                {
                    format!("'{}'", part.replace('\'', "'\\''"))
                } else {
                    part.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Process groups of children that are still running. Children live in their own
/// groups (so a timeout can kill grandchildren), which also means a terminal's Ctrl-C
/// does not reach them: a signal handler calls [`kill_all`] before the harness exits.
static LIVE_GROUPS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Kills every running child process group. For signal handlers on the way out.
pub fn kill_all() {
    let groups = std::mem::take(&mut *LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for pid in groups {
        kill_group(pid);
    }
}

/// How many child process groups are running now.
pub fn live_count() -> usize {
    LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner()).len()
}

fn kill_group(pid: u32) {
    // SAFETY: killpg only sends a signal; the group id is the child's pid because it
    // was spawned with process_group(0).
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Kills the child's whole process group when dropped before the child was reaped.
struct ProcessGroupGuard(Option<u32>);

impl ProcessGroupGuard {
    fn track(pid: Option<u32>) -> Self {
        if let Some(pid) = pid {
            LIVE_GROUPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(pid);
        }
        ProcessGroupGuard(pid)
    }

    fn disarm(mut self) {
        if let Some(pid) = self.0.take() {
            LIVE_GROUPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&pid);
        }
    }
}

impl Drop for ProcessGroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            LIVE_GROUPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&pid);
            kill_group(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(10);

    /// Processes of group `pgid` that still run; zombies awaiting their reaper are dead.
    fn running_in_group(pgid: i32) -> Vec<String> {
        let mut running = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
                running.push(stat);
            }
        }
        running
    }

    #[tokio::test]
    async fn a_timeout_kills_the_process_and_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > '{}'; sleep 30 & sleep 30", pid_file.display());
        let spec = ProcessSpec::new("/bin/sh", Duration::from_millis(500)).args(["-c", &script]);
        let started = Instant::now();
        let error = run(&spec).await.unwrap_err();
        assert!(matches!(error, ToolError::TimedOut { .. }), "{error}");
        assert!(error.to_string().contains("sleep 30"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let pgid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = running_in_group(pgid);
        while !left.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left = running_in_group(pgid);
        }
        assert!(left.is_empty(), "still running in group {pgid}: {left:?}");
    }

    #[tokio::test]
    async fn stderr_and_the_exit_status_make_the_failure() {
        let spec = ProcessSpec::new("/bin/sh", SHORT)
            .args(["-c", "echo out; echo 'it broke' >&2; exit 3"]);
        let output = run(&spec).await.unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout, "out\n");
        assert_eq!(output.stderr, "it broke\n");

        let error = run_checked(&spec).await.unwrap_err();
        let ToolError::Failed { stderr, status, .. } = &error else {
            panic!("expected a failure, got {error}");
        };
        assert_eq!((stderr.as_str(), status.code()), ("it broke", Some(3)));
        assert!(error.to_string().contains("it broke"), "{error}");
    }

    #[tokio::test]
    async fn arguments_reach_the_program_literally_without_a_shell() {
        let tricky = [
            "a b",
            "$(echo injected)",
            "x; rm -rf /tmp/nothing",
            "'quoted'",
            "*",
            "",
        ];
        let spec = ProcessSpec::new("printf", SHORT).arg("%s\\n").args(tricky);
        let output = run_checked(&spec).await.unwrap();
        let printed: Vec<&str> = output.stdout.lines().collect();
        assert_eq!(printed, tricky);
    }

    #[tokio::test]
    async fn env_and_working_directory_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec::new("/bin/sh", SHORT)
            .args(["-c", "echo \"$HARNESS_TEST_VALUE\"; pwd"])
            .env("HARNESS_TEST_VALUE", "set by the spec")
            .current_dir(dir.path());
        let output = run_checked(&spec).await.unwrap();
        let canonical = dir.path().canonicalize().unwrap();
        assert_eq!(
            output.stdout,
            format!("set by the spec\n{}\n", canonical.display())
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error_naming_it() {
        let spec = ProcessSpec::new("/nonexistent/helm-of-nowhere", SHORT).arg("version");
        let error = run(&spec).await.unwrap_err();
        assert!(matches!(error, ToolError::Spawn { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("/nonexistent/helm-of-nowhere version"),
            "{error}"
        );
    }

    #[test]
    fn displayed_commands_quote_what_a_shell_would_split() {
        let spec = ProcessSpec::new("helm", SHORT).args(["template", "my chart", "$(x)", "plain"]);
        assert_eq!(spec.display(), "helm template 'my chart' '$(x)' plain");
    }

    /// A child whose spawning thread ends without killing it (the harness was SIGKILLed)
    /// is killed by the kernel.
    #[test]
    fn a_child_dies_with_the_thread_that_spawned_it() {
        let marker = format!("{}.{}", 600, std::process::id());
        let spec = ProcessSpec::new("sleep", Duration::from_secs(600)).arg(&marker);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let task = tokio::spawn(async move { run(&spec).await });
                tokio::time::sleep(Duration::from_millis(300)).await;
                // Neither the task nor the runtime is dropped: no kill_on_drop runs.
                std::mem::forget(task);
            });
            std::mem::forget(runtime);
        })
        .join()
        .unwrap();
        let alive = || {
            std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
                std::fs::read(entry.path().join("cmdline"))
                    .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&marker))
                    && !std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                        stat.rsplit_once(") ")
                            .is_some_and(|(_, r)| r.starts_with('Z'))
                    })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() {
            assert!(
                Instant::now() < deadline,
                "`sleep {marker}` outlived its thread"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
