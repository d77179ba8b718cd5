//! Reading a JSON report back: a run's (`report.json` of any run or matrix cell) or a
//! merged one (`chart-harness report merge`). The merge, the step summary, the
//! annotations and the release gate all read reports through [`ReportDocument::read`],
//! which refuses a file that is not ours, or of a format this build does not read,
//! with a message naming it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::json::FORMAT_VERSION;
use super::{CellStamp, RunCounts};
use crate::suites::TrialOutcome;

/// The first format with `commit` and `cell`, which merging and gating need.
const FIRST_MERGEABLE_FORMAT: u32 = 6;

/// One trial of a report, with the cell and Kubernetes version it ran in (from the
/// trial itself in a merged report, else from the run's report).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportedTrial {
    #[serde(flatten)]
    pub outcome: TrialOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
}

/// How a planned cell fared in a merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellRecord {
    pub id: String,
    pub kube_version: Option<String>,
    /// `reported` or `never-reported`.
    pub status: String,
    /// The attempt whose report was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Earlier attempts of the same cell, left out because a later one reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<u32>,
    /// The report file kept, as found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// The fields of a report that readers use; unknown fields are ignored, so a reader
/// of format 6 reads every format-6 report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportDocument {
    pub version: u32,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<CellStamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub summary: RunCounts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<CellRecord>,
    pub trials: Vec<ReportedTrial>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What a merge decided that a reader should know (attempts kept, cells missing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ReportDocument {
    /// The report at `path` (a `report.json`, or a directory holding one).
    pub fn read(path: &Path) -> Result<ReportDocument, String> {
        let path = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read(&path)
            .map_err(|error| format!("cannot read report {}: {error}", path.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|error| {
            format!(
                "{} is not a chart-harness report: it is not JSON ({error})",
                path.display()
            )
        })?;
        let version = match (value.get("version"), value.get("trials")) {
            (Some(serde_json::Value::Number(n)), Some(serde_json::Value::Array(_))) => {
                n.as_u64().unwrap_or(0) as u32
            }
            _ => {
                return Err(format!(
                    "{} is not a chart-harness report (no `version` and `trials`); pass the report.json a chart-harness run wrote",
                    path.display()
                ));
            }
        };
        if version > FORMAT_VERSION {
            return Err(format!(
                "{} is a report of format {version}, from a newer chart-harness; this one reads up to format {FORMAT_VERSION}: use the chart-harness that wrote it",
                path.display()
            ));
        }
        if version < FIRST_MERGEABLE_FORMAT {
            return Err(format!(
                "{} is a report of format {version}, without the commit and cell (format {FIRST_MERGEABLE_FORMAT}) this needs; run it again with this chart-harness",
                path.display()
            ));
        }
        let mut document: ReportDocument = serde_json::from_value(value)
            .map_err(|error| format!("{} is a damaged report: {error}", path.display()))?;
        // A run's trials carry no version of their own: the run's is theirs.
        for trial in &mut document.trials {
            if trial.kube_version.is_none() {
                trial.kube_version.clone_from(&document.kube_version);
            }
            if trial.cell.is_none() {
                trial.cell = document.cell.as_ref().map(|cell| cell.id.clone());
            }
        }
        Ok(document)
    }

    /// Every `report.json` under `roots` (a root may be the file itself), sorted, so
    /// a directory of downloaded artifacts is read whole.
    pub fn find(roots: &[PathBuf]) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = roots
            .iter()
            .flat_map(|root| {
                walkdir::WalkDir::new(root)
                    .follow_links(false)
                    .into_iter()
                    .filter_map(Result::ok)
                    .filter(|entry| entry.file_type().is_file())
                    .filter(|entry| {
                        entry.path() == root.as_path() || entry.file_name() == "report.json"
                    })
                    .map(|entry| entry.into_path())
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }
}
