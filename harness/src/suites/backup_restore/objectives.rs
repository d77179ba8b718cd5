//! The objectives a backup-restore trial is held to: the RTO and RPO from the spec or
//! from the chart's values (at the repository's `backup-objectives` paths), and the RPO
//! the chart's backup CronJobs can keep, from their schedules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::RoundTripRun;
use crate::backup_objectives::shown;
use crate::backup_objectives::{self, Pick};
use crate::config::BackupObjectivePaths;
use crate::config::backup_restore_settings::{BackupRestoreSpec, ObjectiveSource};
use crate::manifest::Manifest;
use crate::problem::Problem;
use crate::suites::render::{self, RenderTarget};
use crate::suites::{BackupRestoreRecord, ObjectiveRecord, PhaseRecorder};

/// The namespace the RPO's render uses: only the CronJobs' schedules are read.
const RENDER_NAMESPACE: &str = "chart-harness-backup-restore";

/// Where a chart's objectives are read, for messages.
pub struct ObjectiveFiles<'a> {
    /// The chart's `ci/harness.yaml`, relative to the repository root.
    pub settings_file: &'a Path,
    /// The chart's directory, relative to the repository root.
    pub rel_dir: &'a Path,
    /// The chart's own directory.
    pub chart_dir: &'a Path,
    /// The case's values files, in the order helm applies them.
    pub values_files: &'a [PathBuf],
}

/// The RTO and RPO the trial is held to; `None` where neither the spec nor the
/// repository's paths name one.
#[derive(Debug, Default)]
pub struct Objectives {
    pub rto: Option<ObjectiveRecord>,
    pub rpo: Option<ObjectiveRecord>,
}

/// Reads both objectives; an error names the chart file, the path and the text.
pub fn resolve(
    spec: &BackupRestoreSpec,
    paths: &BackupObjectivePaths,
    files: &ObjectiveFiles<'_>,
) -> Result<Objectives, Problem> {
    let pick = spec.pick.unwrap_or(paths.pick);
    let one = |key: &str, own: &Option<ObjectiveSource>, repository: &Option<String>| {
        let source = match (own, repository) {
            (Some(source), _) => source.clone(),
            (None, Some(path)) => ObjectiveSource::Values(path.clone()),
            (None, None) => return Ok(None),
        };
        read(key, &source, own.is_some(), pick, files).map(Some)
    };
    Ok(Objectives {
        rto: one("rto", &spec.rto, &paths.rto)?,
        rpo: one("rpo", &spec.rpo, &paths.rpo)?,
    })
}

fn read(
    key: &str,
    source: &ObjectiveSource,
    from_spec: bool,
    pick: Pick,
    files: &ObjectiveFiles<'_>,
) -> Result<ObjectiveRecord, Problem> {
    let (text, said_where, file) = match source {
        ObjectiveSource::Text(text) => (
            text.clone(),
            format!("backup-restore.{key}"),
            files.settings_file.to_path_buf(),
        ),
        ObjectiveSource::Values(path) => {
            let origin = if from_spec {
                format!(
                    "`backup-restore.{key}` of {}",
                    files.settings_file.display()
                )
            } else {
                format!("`backup-objectives.{key}` of the config")
            };
            let found = value_at(files, path)
                .map_err(|message| Problem::in_file(files.rel_dir.join("values.yaml"), message))?;
            let Some((text, source)) = found else {
                return Err(Problem::in_file(
                    files.rel_dir.join("values.yaml"),
                    format!(
                        "the chart's values have no `{path}` (the path comes from {origin}); document the objective there, or declare `{key}` under `backup-restore` in {}",
                        files.settings_file.display()
                    ),
                ));
            };
            // A case file or values.yaml is named as it is in the chart; the inline
            // `values:` of ci/harness.yaml live in a file of the run's own.
            let file = source
                .strip_prefix(files.chart_dir)
                .map(|rel| files.rel_dir.join(rel))
                .unwrap_or_else(|_| files.settings_file.to_path_buf());
            (text, format!("values: {path}"), file)
        }
    };
    let duration = backup_objectives::parse_objective(&text, pick).map_err(|message| {
        Problem::in_file(
            &file,
            format!(
                "the {} objective at `{said_where}`: {message}",
                key.to_uppercase()
            ),
        )
    })?;
    Ok(ObjectiveRecord {
        text,
        source: said_where,
        seconds: duration.as_secs_f64(),
    })
}

/// The text at dotted `path` of the chart's values and the file it is in: `values.yaml`,
/// then each values file of the case, the last one that has it winning, as helm merges.
fn value_at(files: &ObjectiveFiles<'_>, path: &str) -> Result<Option<(String, PathBuf)>, String> {
    let mut found = None;
    let sources = std::iter::once(files.chart_dir.join("values.yaml"))
        .chain(files.values_files.iter().cloned());
    for file in sources {
        let Ok(text) = crate::files::read_to_string(&file) else {
            continue;
        };
        let values: Option<Value> =
            crate::yaml::parse_str(&text, &file).map_err(|error| error.to_string())?;
        let mut at = values.as_ref();
        for key in path.split('.') {
            at = at.and_then(|value| value.get(key));
        }
        match at {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => found = Some((text.clone(), file.clone())),
            Some(Value::Number(number)) => found = Some((number.to_string(), file.clone())),
            Some(other) => {
                return Err(format!(
                    "`{path}` in {} is not a text but {other}; point the objective path at the text itself",
                    file.display()
                ));
            }
        }
    }
    Ok(found)
}

/// The chart's backup CronJobs (a name or `app.kubernetes.io/component` that says
/// backup) and their schedules, as `(name, schedule)`.
pub fn backup_schedules(manifests: &[Manifest]) -> Vec<(String, String)> {
    manifests
        .iter()
        .filter(|manifest| manifest.value.get("kind").and_then(Value::as_str) == Some("CronJob"))
        .filter_map(|manifest| {
            let value = &manifest.value;
            let name = crate::release::text_at(value, "/metadata/name")?.to_string();
            let component =
                crate::release::text_at(value, "/metadata/labels/app.kubernetes.io~1component")
                    .unwrap_or_default();
            let schedule = crate::release::text_at(value, "/spec/schedule")?.to_string();
            (name.contains("backup") || component.contains("backup")).then_some((name, schedule))
        })
        .collect()
}

/// The longest gap of the schedules, and each as the report lists it.
pub fn schedule_interval(
    schedules: &[(String, String)],
    rel_dir: &Path,
) -> Result<(Duration, Vec<String>), Problem> {
    let mut longest = Duration::ZERO;
    let mut listed = Vec::new();
    for (name, schedule) in schedules {
        let interval = backup_objectives::longest_interval(schedule)
            .map_err(|message| Problem::in_file(rel_dir, format!("CronJob {name}: {message}")))?;
        longest = longest.max(interval);
        listed.push(format!(
            "{name}: {schedule} ({})",
            backup_objectives::shown(interval)
        ));
    }
    Ok((longest, listed))
}

impl RoundTripRun<'_> {
    /// `objectives` and `rpo`; `None` when either failed.
    pub(super) async fn objectives(
        &self,
        recorder: &mut PhaseRecorder,
        record: &mut BackupRestoreRecord,
    ) -> Option<Objectives> {
        let started = recorder.begin("objectives");
        let files = ObjectiveFiles {
            settings_file: &self.settings_file,
            rel_dir: &self.trial.chart.rel_dir,
            chart_dir: &self.trial.chart.dir,
            values_files: &self.inputs.values.files,
        };
        let objectives = match resolve(self.spec, &self.ctx.config.backup_objectives, &files) {
            Ok(objectives) => objectives,
            Err(problem) => {
                recorder.record("objectives", started.elapsed(), vec![problem]);
                return None;
            }
        };
        record.rto_objective = objectives.rto.clone();
        record.rpo_objective = objectives.rpo.clone();
        recorder.record("objectives", started.elapsed(), Vec::new());

        let started = recorder.begin("rpo");
        let target = RenderTarget {
            namespace: RENDER_NAMESPACE,
            kube_version: self.inputs.primary_kube_version(),
            extra_args: &self.ctx.config.helm_extra_set_args,
            timeout: self.inputs.timeout,
        };
        let rendered = match render::render(self.ctx, self.trial, self.inputs, &target).await {
            Ok(rendered) if rendered.problems.is_empty() => rendered.manifests,
            Ok(rendered) => {
                recorder.record("rpo", started.elapsed(), rendered.problems);
                return None;
            }
            Err(problem) => {
                recorder.record("rpo", started.elapsed(), vec![problem]);
                return None;
            }
        };
        let schedules = backup_schedules(&rendered);
        if schedules.is_empty() {
            record.rpo_note = Some("not measurable: no schedule".to_string());
            recorder.not_run(
                "rpo",
                "not measurable: no schedule (the chart renders no backup CronJob)",
            );
            return Some(objectives);
        }
        let rel_dir = &self.trial.chart.rel_dir;
        let (interval, listed) = match schedule_interval(&schedules, rel_dir) {
            Ok(found) => found,
            Err(problem) => {
                recorder.record("rpo", started.elapsed(), vec![problem]);
                return None;
            }
        };
        record.rpo_schedule_seconds = Some(interval.as_secs_f64());
        record.rpo_schedules = listed.clone();
        let problems = match &objectives.rpo {
            Some(objective) if interval.as_secs_f64() > objective.seconds => {
                vec![Problem::in_file(
                    rel_dir,
                    format!(
                        "the backup schedule leaves up to {} between backups ({}), more than the RPO objective {:?} ({}): a failure just before a backup loses more data than documented; back up more often or document the RPO the schedule keeps",
                        shown(interval),
                        listed.join("; "),
                        objective.text,
                        objective.source
                    ),
                )]
            }
            _ => Vec::new(),
        };
        recorder
            .record("rpo", started.elapsed(), problems)
            .then_some(objectives)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cron(name: &str, component: &str, schedule: &str) -> Manifest {
        Manifest::without_source(json!({
            "kind": "CronJob",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
            "spec": {"schedule": schedule},
        }))
    }

    #[test]
    fn backup_cronjobs_are_found_by_name_or_component() {
        let manifests = [
            cron("redis-backup", "", "0 2 * * *"),
            cron("nightly", "backup", "0 */6 * * *"),
            cron("redis-cleanup", "maintenance", "0 1 * * *"),
        ];
        let found = backup_schedules(&manifests);
        assert_eq!(found.len(), 2, "{found:?}");
        let (longest, listed) = schedule_interval(&found, Path::new("charts/redis")).unwrap();
        assert_eq!(longest, Duration::from_secs(24 * 3600));
        assert_eq!(
            listed,
            [
                "redis-backup: 0 2 * * * (24 h)",
                "nightly: 0 */6 * * * (6 h)"
            ]
        );
    }

    #[test]
    fn objectives_come_from_the_values_and_the_case_overrides_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("values.yaml"),
            "backup:\n  documentation:\n    targets:\n      rto: \"< 1 hour\"\n      rpo: \"24 hours\"\n",
        )
        .unwrap();
        let case = dir.path().join("case.yaml");
        std::fs::write(
            &case,
            "backup: {documentation: {targets: {rto: '< 2 hours (full disaster recovery)'}}}\n",
        )
        .unwrap();
        let paths = BackupObjectivePaths {
            rto: Some("backup.documentation.targets.rto".into()),
            rpo: Some("backup.documentation.targets.rpo".into()),
            pick: Pick::First,
        };
        let values_files = [case];
        let files = ObjectiveFiles {
            settings_file: Path::new("charts/redis/ci/harness.yaml"),
            rel_dir: Path::new("charts/redis"),
            chart_dir: dir.path(),
            values_files: &values_files,
        };
        let read = resolve(&BackupRestoreSpec::default(), &paths, &files).unwrap();
        let rto = read.rto.unwrap();
        assert_eq!(rto.text, "< 2 hours (full disaster recovery)");
        assert_eq!(rto.source, "values: backup.documentation.targets.rto");
        assert_eq!(rto.seconds, 7200.0);
        assert_eq!(read.rpo.unwrap().seconds, 86400.0);

        // A chart that documents it elsewhere: the spec's own path wins.
        let spec = BackupRestoreSpec {
            rto: Some(ObjectiveSource::Values("backup.nowhere".into())),
            ..BackupRestoreSpec::default()
        };
        let error = resolve(&spec, &paths, &files).unwrap_err().to_string();
        insta::assert_snapshot!("objective-missing-in-values", error);

        std::fs::write(
            dir.path().join("values.yaml"),
            "backup: {documentation: {targets: {rto: 'as fast as we can', rpo: 1d}}}\n",
        )
        .unwrap();
        let no_case = ObjectiveFiles {
            values_files: &[],
            ..files
        };
        let error = resolve(&BackupRestoreSpec::default(), &paths, &no_case)
            .unwrap_err()
            .to_string();
        insta::assert_snapshot!("objective-without-a-duration", error);
    }
}
