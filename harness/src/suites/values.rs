//! The values files a case renders with, written once per trial into its
//! [`TrialInputs`](super::TrialInputs) and shared by every helm command of the trial.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::config::ChartSettings;

/// The values files of a case, in helm's `-f` order: the case file, the settings'
/// values files, then a temporary file holding the settings' inline `values`. The
/// temporary directory lives as long as this value.
pub struct ValuesFiles {
    pub files: Vec<PathBuf>,
    _inline_dir: Option<TempDir>,
}

impl ValuesFiles {
    pub fn new(
        chart_dir: &Path,
        case_file: Option<&Path>,
        settings: &ChartSettings,
    ) -> std::io::Result<ValuesFiles> {
        let mut files: Vec<PathBuf> = case_file.map(Path::to_path_buf).into_iter().collect();
        files.extend(
            settings
                .values_files
                .iter()
                .map(|file| chart_dir.join(file)),
        );
        let inline_dir = if settings.values.is_empty() {
            None
        } else {
            let dir = tempfile::Builder::new()
                .prefix("chart-harness-values-")
                .tempdir()?;
            let path = dir.path().join("harness-values.yaml");
            // JSON is YAML, so helm reads this file as it is.
            let text = serde_json::to_string_pretty(&settings.values)
                .expect("a map of JSON values always serializes");
            std::fs::write(&path, text)?;
            files.push(path);
            Some(dir)
        };
        Ok(ValuesFiles {
            files,
            _inline_dir: inline_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn values_files_follow_helm_order_and_inline_values_become_a_file() {
        let chart_dir = Path::new("/repo/charts/web");
        let settings = ChartSettings {
            values_files: vec![PathBuf::from("ci/extra.yaml")],
            values: BTreeMap::from([("replicas".to_string(), json!(3))]),
            ..ChartSettings::default()
        };
        let case_file = chart_dir.join("ci/big-values.yaml");
        let values = ValuesFiles::new(chart_dir, Some(&case_file), &settings).unwrap();
        assert_eq!(values.files.len(), 3);
        assert_eq!(values.files[0], case_file);
        assert_eq!(values.files[1], chart_dir.join("ci/extra.yaml"));
        let inline: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&values.files[2]).unwrap()).unwrap();
        assert_eq!(inline, json!({"replicas": 3}));
        let inline_path = values.files[2].clone();
        drop(values);
        assert!(
            !inline_path.exists(),
            "the temporary values file is removed"
        );
    }

    #[test]
    fn no_values_means_no_files() {
        let values = ValuesFiles::new(Path::new("/c"), None, &ChartSettings::default()).unwrap();
        assert!(values.files.is_empty());
    }
}
