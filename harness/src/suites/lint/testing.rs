//! Charts written into temporary directories for the lint checks' tests.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A valid Chart.yaml for a chart named `web`.
pub const GOOD_CHART_YAML: &str = "\
apiVersion: v2
name: web
description: A web application
version: 1.2.3
kubeVersion: \">= 1.25.0-0\"
maintainers:
  - name: Platform Team
    email: platform@example.com
";

/// A chart directory at `<tmp>/charts/<name>`, shown in problems as `charts/<name>`.
pub struct TestChart {
    root: TempDir,
    dir: PathBuf,
    rel_dir: PathBuf,
}

impl TestChart {
    /// A chart named `name` whose Chart.yaml is [`GOOD_CHART_YAML`] with the name replaced.
    pub fn good(name: &str) -> TestChart {
        let root = TempDir::new().expect("temp dir");
        let rel_dir = PathBuf::from("charts").join(name);
        let dir = root.path().join(&rel_dir);
        std::fs::create_dir_all(dir.join("templates")).expect("chart dir");
        let chart = TestChart { root, dir, rel_dir };
        chart.write(
            "Chart.yaml",
            &GOOD_CHART_YAML.replace("name: web", &format!("name: {name}")),
        );
        chart.write("values.yaml", "replicas: 1\n");
        chart
    }

    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.join(file);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("parent dir");
        std::fs::write(path, text).expect("write test file");
    }

    pub fn repo_root(&self) -> &Path {
        self.root.path()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rel_dir(&self) -> &Path {
        &self.rel_dir
    }
}
