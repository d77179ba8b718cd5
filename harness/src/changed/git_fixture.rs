//! A git work tree with charts and a bare "remote", built with real git, for the tests
//! of change detection and of the checks built on it (lint's version-increment).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::changed_charts;
use crate::config::HarnessConfig;
use crate::discovery::{Chart, discover};
use crate::tools::process::{self, ProcessSpec};

fn git_binary() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("git"))
                .find(|candidate| candidate.is_file())
        })
        .expect("git must be on PATH for these tests")
}

/// A work tree with a bare "remote" beside it, built with real git.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) git: PathBuf,
}

impl Fixture {
    pub(crate) fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub(crate) async fn git_in(&self, cwd: &Path, args: &[&str]) -> String {
        let spec = ProcessSpec::new(&self.git, Duration::from_secs(30))
            .current_dir(cwd)
            .args([
                "-c",
                "user.name=Chart Harness",
                "-c",
                "user.email=harness@example.invalid",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args.iter().copied())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        process::run_checked(&spec)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .stdout
    }

    pub(crate) async fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.work(), args).await
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.work().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn chart(&self, rel: &str, version: &str, dependencies: &[&str]) {
        let name = Path::new(rel).file_name().unwrap().to_string_lossy();
        let mut text = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
        if !dependencies.is_empty() {
            text.push_str("dependencies:\n");
            for dep in dependencies {
                let dep_name = Path::new(dep).file_name().unwrap().to_string_lossy();
                text.push_str(&format!(
                    "  - name: {dep_name}\n    version: \">=0.0.0\"\n    repository: \"file://{dep}\"\n"
                ));
            }
        }
        self.write(&format!("{rel}/Chart.yaml"), &text);
        self.write(&format!("{rel}/values.yaml"), "replicas: 1\n");
    }

    pub(crate) async fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]).await;
        self.git(&["commit", "-q", "-m", message]).await;
    }

    pub(crate) fn config(&self) -> HarnessConfig {
        HarnessConfig::defaults(&self.work())
    }

    pub(crate) fn charts(&self, config: &HarnessConfig) -> Vec<Chart> {
        discover(config, &self.work(), &mut Vec::new()).unwrap()
    }

    pub(crate) async fn changed(&self, config: &HarnessConfig, since: Option<&str>) -> Vec<String> {
        let charts = self.charts(config);
        changed_charts(&self.work(), config, &charts, since, &self.git)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// main (pushed to the remote): a library chart `common`, `web` using it, `site`
/// using `web`, `platform` with a nested `metrics` chart, and `docs` with a
/// .helmignore. The work tree is then on branch `feature`.
pub(crate) async fn fixture(with_remote: bool) -> Fixture {
    let fixture = Fixture {
        dir: tempfile::tempdir().unwrap(),
        git: git_binary(),
    };
    std::fs::create_dir_all(fixture.work()).unwrap();
    fixture.git(&["init", "-q"]).await;
    fixture.chart("charts/common", "1.0.0", &[]);
    fixture.write(
        "charts/common/templates/_helpers.tpl",
        "{{/* helpers */}}\n",
    );
    fixture.chart("charts/web", "1.0.0", &["../common"]);
    fixture.chart("charts/site", "2.0.0", &["../web"]);
    fixture.chart("charts/platform", "0.3.0", &[]);
    fixture.chart("charts/platform/addons/metrics", "0.1.0", &[]);
    fixture.chart("charts/docs", "0.1.0", &[]);
    fixture.write(
        "charts/docs/.helmignore",
        "# docs are not packaged\n*.md\ndocs/\n",
    );
    fixture.write("charts/docs/README.md", "# docs\n");
    fixture.write("README.md", "# repo\n");
    fixture.commit_all("main").await;
    fixture.git(&["tag", "base"]).await;
    if with_remote {
        let dir = fixture.dir.path().to_path_buf();
        fixture
            .git_in(&dir, &["init", "-q", "--bare", "remote.git"])
            .await;
        fixture
            .git(&["remote", "add", "origin", "../remote.git"])
            .await;
        fixture.git(&["push", "-q", "origin", "HEAD:main"]).await;
        fixture.git(&["fetch", "-q", "origin"]).await;
    }
    fixture.git(&["checkout", "-q", "-b", "feature"]).await;
    fixture
}
