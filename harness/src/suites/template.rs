//! The template suite: render each case with `helm template` against each target
//! Kubernetes version, check every document, and compare with the snapshot.

use std::time::Instant;

use super::snapshot;
use super::{PhaseRecorder, SuiteContext, ValuesFiles};
use crate::manifest::{self as manifests, Manifest};
use crate::plan::Trial;
use crate::problem::Problem;
use crate::tools::RenderRequest;

pub async fn run(trial: &Trial, ctx: &SuiteContext, recorder: &mut PhaseRecorder) {
    let chart = &trial.chart;
    let values = match ValuesFiles::for_trial(trial) {
        Ok(values) => values,
        Err(error) => {
            let problem = Problem::in_file(
                chart.rel_dir.join("ci").join("harness.yaml"),
                format!(
                    "cannot write its `values` to a temporary file: {error}; check that the temporary directory is writable"
                ),
            );
            recorder.record("render", std::time::Duration::ZERO, vec![problem]);
            return;
        }
    };
    let kube_versions = ctx.kube_versions(trial);
    for (index, kube_version) in kube_versions.iter().enumerate() {
        // With several target versions, phases and snapshots carry the version.
        let suffix = if kube_versions.len() > 1 {
            format!("@{kube_version}")
        } else {
            String::new()
        };
        let started = Instant::now();
        let request = RenderRequest {
            chart_dir: &chart.dir,
            release: &chart.name,
            namespace: RENDER_NAMESPACE,
            values_files: &values.files,
            kube_version: Some(kube_version),
            extra_args: &[],
            timeout: ctx.trial_timeout(trial),
        };
        let rendered = match ctx.tools.helm.template(&request).await {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(failure)) => {
                let problem = match &failure.template {
                    Some(template) => {
                        Problem::in_file(chart.rel_dir.join(template), &failure.message)
                            .at_line(failure.line)
                    }
                    None => Problem::in_file(&chart.rel_dir, &failure.message),
                };
                recorder.record(&format!("render{suffix}"), started.elapsed(), vec![problem]);
                continue;
            }
            Err(error) => {
                recorder.record(
                    &format!("render{suffix}"),
                    started.elapsed(),
                    vec![Problem::new(error.to_string())],
                );
                continue;
            }
        };
        recorder.record(&format!("render{suffix}"), started.elapsed(), Vec::new());

        let started = Instant::now();
        let (mut documents, mut problems) = manifests::parse(&rendered, &chart.rel_dir);
        problems.extend(manifests::check(&documents, &chart.rel_dir));
        let manifests_ok =
            recorder.record(&format!("manifests{suffix}"), started.elapsed(), problems);

        let snapshot_phase = format!("snapshot{suffix}");
        if !manifests_ok {
            recorder.not_run(
                &snapshot_phase,
                "the rendered manifests have problems; fix them first",
            );
            continue;
        }
        let started = Instant::now();
        documents.iter_mut().for_each(manifests::redact);
        let name = snapshot_name(trial, index, kube_version);
        let result = snapshot::compare(
            &chart.dir,
            &chart.rel_dir,
            &name,
            &manifests::to_snapshot_text(&documents as &[Manifest]),
            ctx.snapshot_mode,
        );
        recorder.record(
            &snapshot_phase,
            started.elapsed(),
            result.err().into_iter().collect(),
        );
    }
}

/// The namespace manifests are rendered into. Fixed, so snapshots are stable.
const RENDER_NAMESPACE: &str = "chart-harness";

/// `<chart>__<case>` for the first target version; further versions add theirs.
fn snapshot_name(trial: &Trial, index: usize, kube_version: &str) -> String {
    let base = format!("{}__{}", trial.id.chart, trial.id.case);
    if index == 0 {
        base
    } else {
        format!("{base}__k8s-{kube_version}")
    }
}

impl SuiteContext {
    /// The chart's `kube-versions`, else the run's target version.
    pub fn kube_versions(&self, trial: &Trial) -> Vec<String> {
        match &trial.chart.settings {
            Ok(settings) if !settings.kube_versions.is_empty() => settings.kube_versions.clone(),
            _ => vec![self.kube_version.clone()],
        }
    }
}
