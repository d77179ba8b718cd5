//! The template suite: render each case with `helm template` against each target
//! Kubernetes version, check every document, and compare with the snapshot.

use std::sync::Arc;

use super::render::{self, RenderTarget, Rendered};
use super::snapshot;
use super::{PhaseRecorder, SuiteContext, TrialInputs};
use crate::manifest::{self as manifests, Manifest};
use crate::plan::Trial;

pub async fn run(
    trial: &Trial,
    inputs: &TrialInputs,
    ctx: &SuiteContext,
    recorder: &mut PhaseRecorder,
) {
    let chart = &trial.chart;
    let kube_versions = &inputs.kube_versions;
    // Snapshots are opt-in, so a first run over a ct repository does not fail every
    // chart for lacking one: the config turns them on for all, a committed
    // `ci/__snapshots__` for its chart.
    let snapshots_enabled = ctx.config.snapshots || snapshot::snapshot_dir(&chart.dir).is_dir();
    for (index, kube_version) in kube_versions.iter().enumerate() {
        // With several target versions, phases and snapshots carry the version.
        let suffix = if kube_versions.len() > 1 {
            format!("@{kube_version}")
        } else {
            String::new()
        };
        let started = recorder.begin(&format!("render{suffix}"));
        let target = RenderTarget {
            namespace: RENDER_NAMESPACE,
            kube_version,
            extra_args: &[],
            timeout: inputs.timeout,
        };
        let rendered = match render::render_shared(ctx, trial, inputs, &target).await {
            Ok(rendered) => rendered,
            Err(problem) => {
                recorder.record(&format!("render{suffix}"), started.elapsed(), vec![problem]);
                continue;
            }
        };
        recorder.record(&format!("render{suffix}"), started.elapsed(), Vec::new());

        // Redacting below changes the documents: a render the run keeps for other suites
        // stays as helm made it, so only then is this a copy.
        let Rendered {
            manifests: mut documents,
            mut problems,
        } = Arc::unwrap_or_clone(rendered);
        let started = recorder.begin(&format!("manifests{suffix}"));
        problems.extend(manifests::check(&documents, &chart.rel_dir));
        let manifests_ok =
            recorder.record(&format!("manifests{suffix}"), started.elapsed(), problems);

        let snapshot_phase = format!("snapshot{suffix}");
        if !snapshots_enabled {
            recorder.not_run(
                &snapshot_phase,
                format!(
                    "snapshots are opt-in: set `snapshots: true` in the config, or create {} to snapshot this chart",
                    snapshot::snapshot_dir(&chart.rel_dir).display()
                ),
            );
            continue;
        }
        if !manifests_ok {
            recorder.not_run(
                &snapshot_phase,
                "the rendered manifests have problems; fix them first",
            );
            continue;
        }
        let started = recorder.begin(&snapshot_phase);
        documents.iter_mut().for_each(manifests::redact);
        let name = snapshot_name(trial, index, kube_version);
        let result = snapshot::compare(
            &chart.dir,
            &chart.rel_dir,
            &snapshot::pending_root(&ctx.config.report_dir),
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
pub(super) const RENDER_NAMESPACE: &str = "chart-harness";

/// `<chart>__<case>` for the first target version; further versions add theirs.
fn snapshot_name(trial: &Trial, index: usize, kube_version: &str) -> String {
    let base = format!("{}__{}", trial.id.chart, trial.id.case);
    if index == 0 {
        base
    } else {
        format!("{base}__k8s-{kube_version}")
    }
}
