//! Helpers shared by the integration tests: temporary chart repositories built from
//! the fixtures, and running suites over them with the real tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chart_harness::cluster::{LocalBinaries, LocalProvider, ProviderKind};
use chart_harness::plan::Suite;
use chart_harness::report::{ProgressMode, ProgressReporter, Reporter, RunSummary};
use chart_harness::run::{self, ClusterChoice, Run, RunOptions};
use chart_harness::runner::Interruption;
use chart_harness::session::Session;
use chart_harness::suites::{SnapshotMode, TrialOutcome};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The local control plane over this workspace's pinned binaries (or
/// `CHART_HARNESS_CLUSTER_BIN_DIR`); panics with the command that installs them.
pub fn local_provider() -> LocalProvider {
    let root = workspace_root();
    let binaries = LocalBinaries::find(&root).unwrap();
    if let Err(error) = binaries.check() {
        panic!("{error}");
    }
    LocalProvider {
        binaries,
        kube_version: format!(
            "v{}",
            chart_harness::tools::pinned_kube_version(&root).unwrap()
        ),
    }
}

pub fn fixture(kind: &str, name: &str) -> PathBuf {
    workspace_root().join("fixtures").join(kind).join(name)
}

/// A chart repository in a temporary directory laid out like this workspace:
/// `fixtures/charts` and `fixtures/broken` hold the charts a test copies in,
/// `fixtures/subcharts` the `file://` dependencies they share, and reports stay inside.
pub struct TempRepo {
    pub dir: tempfile::TempDir,
}

impl TempRepo {
    pub fn new() -> Self {
        Self::in_dir(tempfile::tempdir().unwrap())
    }

    pub fn in_dir(dir: tempfile::TempDir) -> Self {
        let repo = TempRepo { dir };
        for kind in ["charts", "broken"] {
            std::fs::create_dir_all(repo.root().join("fixtures").join(kind)).unwrap();
        }
        copy_dir(
            &workspace_root().join("fixtures/subcharts"),
            &repo.root().join("fixtures/subcharts"),
        );
        // The pinned tools this workspace installed (`chart-harness tools install`).
        std::os::unix::fs::symlink(workspace_root().join(".tools"), repo.root().join(".tools"))
            .unwrap();
        // Temporary repos have no release history to compare versions against, nor a
        // baseline to upgrade from: their upgrade trials are "not run", never failed.
        repo.write_config("check-version-increment: false\nbaseline-failure: ignore\n");
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `chart-harness.yaml` with the repo's chart dir and report dir plus `extra`.
    pub fn write_config(&self, extra: &str) {
        std::fs::write(
            self.root().join("chart-harness.yaml"),
            format!(
                "chart-dirs:\n  - fixtures/charts\n  - fixtures/broken\nreport-dir: report\n{extra}"
            ),
        )
        .unwrap();
    }

    /// Makes this a ct user's repository: no `chart-harness.yaml`, and `ct.yaml` at the
    /// root with `text`.
    pub fn use_ct_yaml(&self, text: &str) {
        std::fs::remove_file(self.root().join("chart-harness.yaml")).unwrap();
        std::fs::write(self.root().join("ct.yaml"), text).unwrap();
    }

    /// Copies a fixture chart to the same place in this repo, with its snapshots.
    pub fn add_chart(&self, kind: &str, name: &str) -> PathBuf {
        let target = self.root().join("fixtures").join(kind).join(name);
        copy_dir(&fixture(kind, name), &target);
        target
    }

    /// Copies fixture `source` as the chart `name`, its Chart.yaml renamed to match.
    pub fn add_chart_as(&self, kind: &str, source: &str, name: &str) -> PathBuf {
        let target = self.root().join("fixtures").join(kind).join(name);
        copy_dir(&fixture(kind, source), &target);
        let chart_yaml = std::fs::read_to_string(target.join("Chart.yaml")).unwrap();
        let renamed =
            chart_yaml.replacen(&format!("name: {source}\n"), &format!("name: {name}\n"), 1);
        std::fs::write(target.join("Chart.yaml"), renamed).unwrap();
        target
    }

    pub fn git(&self, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(self.root())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }

    /// Runs `suites` over every chart with the real tools and returns the outcomes.
    pub fn run(&self, suites: &[Suite]) -> Vec<TrialOutcome> {
        self.run_with_jobs(suites, 1)
    }

    /// Like [`TempRepo::run`], `jobs` trials at a time; a cluster suite gets the run's
    /// local control plane, torn down before this returns.
    pub fn run_with_jobs(&self, suites: &[Suite], jobs: usize) -> Vec<TrialOutcome> {
        self.run_on(ProviderKind::Local, suites, jobs)
    }

    /// Like [`TempRepo::run_with_jobs`], on a cluster of `provider` (kind takes its node
    /// image from `CHART_HARNESS_KIND_NODE_IMAGE`).
    pub fn run_on(
        &self,
        provider: ProviderKind,
        suites: &[Suite],
        jobs: usize,
    ) -> Vec<TrialOutcome> {
        // The run's own progress lines, shown only when the test fails (libtest captures
        // `eprintln!`): a cluster that could not be made is said there once, and the
        // trials only refer to it.
        let log = SharedBuffer::default();
        let mut reporters: Vec<Box<dyn Reporter>> =
            vec![Box::new(ProgressReporter::new(ProgressMode::Plain {
                out: Box::new(log.clone()),
                github_groups: false,
            }))];
        let summary = self.run_on_with_heartbeat(
            provider,
            suites,
            jobs,
            chart_harness::runner::DEFAULT_HEARTBEAT,
            &mut reporters,
            std::future::pending(),
        );
        eprintln!("{}", log.text());
        let mut outcomes: Vec<TrialOutcome> = summary
            .outcomes
            .iter()
            .map(|outcome| (**outcome).clone())
            .collect();
        outcomes.sort_by(|a, b| a.id.cmp(&b.id));
        outcomes
    }

    /// Runs `suites` over every chart as the CLI does, feeding `reporters`, until
    /// `interrupt` resolves; snapshots are checked, never written.
    pub fn run_with(
        &self,
        suites: &[Suite],
        jobs: usize,
        reporters: &mut [Box<dyn Reporter>],
        interrupt: impl std::future::Future<Output = Interruption>,
    ) -> RunSummary {
        self.run_with_heartbeat(
            suites,
            jobs,
            chart_harness::runner::DEFAULT_HEARTBEAT,
            reporters,
            interrupt,
        )
    }

    /// Like [`TempRepo::run_with`], reporting phases that run longer than `heartbeat`
    /// (a test shortens it instead of waiting out the default).
    pub fn run_with_heartbeat(
        &self,
        suites: &[Suite],
        jobs: usize,
        heartbeat: std::time::Duration,
        reporters: &mut [Box<dyn Reporter>],
        interrupt: impl std::future::Future<Output = Interruption>,
    ) -> RunSummary {
        self.run_on_with_heartbeat(
            ProviderKind::Local,
            suites,
            jobs,
            heartbeat,
            reporters,
            interrupt,
        )
    }

    fn run_on_with_heartbeat(
        &self,
        provider: ProviderKind,
        suites: &[Suite],
        jobs: usize,
        heartbeat: std::time::Duration,
        reporters: &mut [Box<dyn Reporter>],
        interrupt: impl std::future::Future<Output = Interruption>,
    ) -> RunSummary {
        let session = Session::open(self.root()).expect("the session opens");
        let trials = session.plan(&session.charts, suites);
        let options = RunOptions {
            jobs: Some(jobs),
            cluster: ClusterChoice::Provider(Some(provider)),
            snapshot_mode: SnapshotMode::Check,
            heartbeat,
            ..RunOptions::default()
        };
        run::runtime().unwrap().block_on(async {
            let run = Run::assemble(&session, trials, options).await.expect(
                "the tools resolve; run `chart-harness tools install` (`--all` for a cluster suite)",
            );
            // The runner releases the cluster at the end of the run.
            run.execute(reporters, interrupt)
                .await
                .expect("the reporters write")
        })
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if !rel.to_string_lossy().ends_with(".tgz") {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Running processes whose command line mentions `needle`, as `(pid, command line)`.
/// Zombies are left out: a killed component its parent has not reaped yet is gone.
pub fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(") ")
                    .map(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(false);
        if cmdline.contains(needle) && !zombie {
            found.push((pid, cmdline));
        }
    }
    found
}

/// A kind test fails, never passes, without its node image: it says how to get one.
pub fn require_kind() {
    assert!(
        std::env::var("CHART_HARNESS_KIND_NODE_IMAGE").is_ok_and(|image| !image.is_empty()),
        "CHART_HARNESS_KIND_NODE_IMAGE is not set: start Docker (`ci/docker-engine.sh start`), \
         build the node image (`ci/kind-node/build.sh` prints its name) and the fixture \
         images (`ci/fixture-images.sh`), then run these tests again (README, \"Tests on kind\")"
    );
}

/// Fails naming the phase unless each of `phases` ran in `outcome` and passed.
pub fn assert_phases_passed(outcome: &chart_harness::suites::TrialOutcome, phases: &[&str]) {
    for phase in phases {
        assert!(
            outcome.phases.iter().any(|p| p.name == *phase
                && p.status == chart_harness::suites::PhaseStatus::Passed),
            "{}: {phase} did not pass: {:?}",
            outcome.id,
            outcome.phases
        );
    }
}

/// Every phase of `outcome` and its time, `install 0.8s, ready:... 12.7s`: the figures
/// closing notes quote.
pub fn phase_timings(outcome: &chart_harness::suites::TrialOutcome) -> String {
    outcome
        .phases
        .iter()
        .map(|p| format!("{} {:.1}s", p.name, p.duration.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces at most `limit` characters of `[a-z0-9-]` after each `prefix` with `[id]`.
pub fn redact_after(text: &str, prefix: &str, limit: usize) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        let generated = rest[after..]
            .chars()
            .take(limit)
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .count();
        if generated > 0 {
            out.push_str("[id]");
        }
        rest = &rest[after + generated..];
    }
    out.push_str(rest);
    out
}

/// A writer a test reads back afterwards (a reporter's output, say).
#[derive(Clone, Default)]
pub struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A finished command's standard output, then its standard error, as one text.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
