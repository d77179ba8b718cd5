//! Turns discovered charts and cases into named trials.
//!
//! Planning is pure: it never runs helm or touches a cluster, which is what keeps
//! `--list` fast and free of side effects.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::discovery::{Case, Chart};
pub use crate::registry::Suite;
use crate::registry::TrialShape;

/// The stable name of a trial: `suite::chart::case`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrialId {
    pub suite: Suite,
    pub chart: String,
    pub case: String,
}

impl fmt::Display for TrialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}::{}", self.suite, self.chart, self.case)
    }
}

/// `lint::web::default` → the trial id, as a plan file lists trials.
impl std::str::FromStr for TrialId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.splitn(3, "::").collect::<Vec<_>>()[..] {
            [suite, chart, case] if !chart.is_empty() && !case.is_empty() => Ok(TrialId {
                suite: suite.parse()?,
                chart: chart.to_string(),
                case: case.to_string(),
            }),
            _ => Err(format!(
                "`{text}` is not a trial name; trials are named suite::chart::case"
            )),
        }
    }
}

/// A planned unit of work: one suite over one case of one chart.
#[derive(Clone, Debug)]
pub struct Trial {
    pub id: TrialId,
    pub chart: Arc<Chart>,
    pub case: Case,
    /// Why this trial is listed but not run; `None` for a trial that runs.
    pub skipped: Option<String>,
}

/// Plans every requested suite over every case of every chart, in a stable order
/// (suite, then chart, then case). A trial the plan decides not to run stays in the
/// list, skipped with its reason: a suite the chart's `ci/harness.yaml` skips or does
/// not opt into, or a library chart for a suite that does not run over library charts.
pub fn plan(charts: &[Arc<Chart>], suites: &[Suite]) -> Vec<Trial> {
    let library: Vec<bool> = charts.iter().map(|chart| chart.is_library()).collect();
    let mut trials = Vec::new();
    for &suite in suites {
        let spec = suite.spec();
        for (chart, &library) in charts.iter().zip(&library) {
            let skipped = if chart
                .settings
                .as_ref()
                .is_ok_and(|settings| settings.skip.contains(&suite))
            {
                Some(format!(
                    "{}/ci/harness.yaml skips the {suite} suite",
                    chart.rel_dir.display()
                ))
            } else if library && !spec.library_charts {
                Some(
                    "library charts render and install nothing on their own; the charts that use them are tested instead"
                        .to_string(),
                )
            } else if let Some(key) = spec.opt_in
                && chart
                    .settings
                    .as_ref()
                    .is_ok_and(|settings| !settings.declares(key))
            {
                Some(format!(
                    "{}/ci/harness.yaml declares no `{key}`, so the {suite} suite has nothing to run",
                    chart.rel_dir.display()
                ))
            } else {
                None
            };
            match spec.shape {
                TrialShape::PerChartCase => {
                    for case in &chart.cases {
                        trials.push(Trial {
                            id: TrialId {
                                suite,
                                chart: chart.name.clone(),
                                case: case.name.clone(),
                            },
                            chart: Arc::clone(chart),
                            case: case.clone(),
                            skipped: skipped.clone(),
                        });
                    }
                }
            }
        }
    }
    trials
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config, discovery};

    fn write(root: &std::path::Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn charts(root: &std::path::Path) -> Vec<Arc<Chart>> {
        let loaded = config::load(root).unwrap();
        discovery::discover(&loaded.config, root, &mut Vec::new())
            .unwrap()
            .into_iter()
            .map(Arc::new)
            .collect()
    }

    #[test]
    fn skipped_trials_stay_listed_with_the_reason() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(root, "chart-harness.yaml", "chart-dirs: [charts]\n");
        write(
            root,
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        );
        write(root, "charts/app/ci/harness.yaml", "skip: [integration]\n");
        write(
            root,
            "charts/lib/Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
        );
        let trials = plan(&charts(root), Suite::ALL);
        let listed: Vec<(String, Option<&str>)> = trials
            .iter()
            .map(|trial| (trial.id.to_string(), trial.skipped.as_deref()))
            .collect();
        let library = "library charts render and install nothing on their own; the charts that use them are tested instead";
        assert_eq!(
            listed,
            [
                ("lint::app::default".to_string(), None),
                ("lint::lib::default".to_string(), None),
                ("template::app::default".to_string(), None),
                ("template::lib::default".to_string(), Some(library)),
                ("policy::app::default".to_string(), None),
                ("policy::lib::default".to_string(), Some(library)),
                (
                    "integration::app::default".to_string(),
                    Some("charts/app/ci/harness.yaml skips the integration suite")
                ),
                ("integration::lib::default".to_string(), Some(library)),
                ("upgrade::app::default".to_string(), None),
                ("upgrade::lib::default".to_string(), Some(library)),
                (
                    "backup-restore::app::default".to_string(),
                    Some(
                        "charts/app/ci/harness.yaml declares no `backup-restore`, so the backup-restore suite has nothing to run"
                    )
                ),
                ("backup-restore::lib::default".to_string(), Some(library)),
            ]
        );
    }
}
