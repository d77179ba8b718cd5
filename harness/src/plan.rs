//! Turns discovered charts and cases into named trials.
//!
//! Planning is pure: it never runs helm or touches a cluster, which is what keeps
//! `--list` fast and free of side effects.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::discovery::{Case, Chart};

/// One test suite. Every suite runs once per chart × case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    Lint,
    Template,
    Integration,
}

impl Suite {
    pub const ALL: [Suite; 3] = [Suite::Lint, Suite::Template, Suite::Integration];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Lint => "lint",
            Suite::Template => "template",
            Suite::Integration => "integration",
        }
    }

    /// Suites that install into a cluster; the run leases one for them.
    pub fn needs_cluster(self) -> bool {
        matches!(self, Suite::Integration)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .into_iter()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Suite::ALL.iter().map(|s| s.name()).collect();
                format!("unknown suite `{s}`; known suites: {}", known.join(", "))
            })
    }
}

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

/// A planned unit of work: one suite over one case of one chart.
#[derive(Clone, Debug)]
pub struct Trial {
    pub id: TrialId,
    pub chart: Arc<Chart>,
    pub case: Case,
}

/// Plans every requested suite over every case of every chart, in a stable order
/// (suite, then chart, then case). Suites a chart's `ci/harness.yaml` skips are left out.
pub fn plan(charts: &[Arc<Chart>], suites: &[Suite]) -> Vec<Trial> {
    let mut trials = Vec::new();
    for &suite in suites {
        for chart in charts {
            if chart.skips(suite) {
                continue;
            }
            for case in &chart.cases {
                trials.push(Trial {
                    id: TrialId {
                        suite,
                        chart: chart.name.clone(),
                        case: case.name.clone(),
                    },
                    chart: Arc::clone(chart),
                    case: case.clone(),
                });
            }
        }
    }
    trials
}
