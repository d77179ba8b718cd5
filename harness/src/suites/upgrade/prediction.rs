//! The upgrade's two layers of immutable-field findings, and how they are reported:
//! layer 1 predicts from the two renders alone (`crate::immutable_fields`), layer 2 is
//! the API server's refusal of a server-side-apply dry-run of the candidate against
//! the live baseline. Pure: the suite renders and asks the server.

use crate::immutable_fields::Break;
use crate::manifest::{self, Manifest};
use crate::problem::Problem;
use crate::release::DryRunError;
use crate::suites::BreakRecord;

/// Which layer found a break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layer {
    Prediction,
    Server,
    Both,
}

impl Layer {
    fn as_str(self) -> &'static str {
        match self {
            Layer::Prediction => "prediction",
            Layer::Server => "server",
            Layer::Both => "both",
        }
    }
}

/// One immutable-field break, from either layer.
#[derive(Clone, Debug)]
pub(super) struct Found {
    pub layer: Layer,
    /// `StatefulSet `db``.
    pub object: String,
    /// Empty when only the server found it (its message names the field).
    pub field: String,
    pub template: Option<String>,
    pub detail: String,
    /// The field's change and the rule's advice, apart, so several fields of one object
    /// are said in one message (`problems`); `None` for the server's own findings.
    pub parts: Option<(String, String)>,
}

/// The two renders are the same once what changes on every render (generated
/// secrets, checksums) is set aside: an upgrade between them tests nothing.
pub(super) fn identical(baseline: &[Manifest], candidate: &[Manifest]) -> bool {
    let text = |manifests: &[Manifest]| {
        let mut redacted = manifests.to_vec();
        redacted.iter_mut().for_each(manifest::redact);
        manifest::to_snapshot_text(&redacted)
    };
    text(baseline) == text(candidate)
}

/// A major version bump, by semver: ct's rule for a change allowed to break.
pub(super) fn major_bump(old: &str, new: &str) -> bool {
    match (semver::Version::parse(old), semver::Version::parse(new)) {
        (Ok(old), Ok(new)) => new.major > old.major,
        _ => false,
    }
}

/// A server refusal that is an immutable field, as Flux recognises them: `Invalid`
/// with "field is immutable", or the StatefulSet's "Forbidden: updates to statefulset
/// spec". Returns the object's kind and name and the server's message.
pub(super) fn immutable_refusal(error: &DryRunError) -> Option<(&str, &str, &str)> {
    let DryRunError::Rejected {
        kind,
        name,
        message,
        ..
    } = error
    else {
        return None;
    };
    let immutable = message.contains("field is immutable")
        || message.contains("field can not be less than")
        || message.contains("Forbidden: updates to statefulset spec")
        || message.contains("may not be changed")
        || message.contains("Forbidden: spec is immutable");
    immutable.then_some((kind.as_str(), name.as_str(), message.as_str()))
}

/// Layer 1's breaks and layer 2's refusals, each said once with the layer that found
/// it. A break the server found and no rule predicted is a finding in itself: it says
/// so, since it is a rule the table lacks.
pub(super) fn agreement(predicted: &[Break], refusals: &[(String, String, String)]) -> Vec<Found> {
    let mut findings = Vec::new();
    for found in predicted {
        let confirmed = refusals
            .iter()
            .any(|(kind, name, _)| *kind == found.kind && *name == found.name);
        let layer = if confirmed {
            Layer::Both
        } else {
            Layer::Prediction
        };
        findings.push(Found {
            layer,
            object: format!("{} `{}`", found.kind, found.name),
            field: found.field.clone(),
            template: found.template.clone(),
            detail: found.to_string(),
            parts: Some((found.change(), found.advice())),
        });
    }
    for (kind, name, message) in refusals {
        if predicted.iter().any(|b| b.kind == *kind && b.name == *name) {
            continue;
        }
        findings.push(Found {
            layer: Layer::Server,
            object: format!("{kind} `{name}`"),
            field: String::new(),
            template: None,
            detail: format!(
                "{kind} `{name}`: the API server refuses the upgrade: {message} (no rule of the offline prediction foresaw it; report it so the table gains a rule)"
            ),
            parts: None,
        });
    }
    findings
}

/// The records for the report.
pub(super) fn records(direction: &str, findings: &[Found]) -> Vec<BreakRecord> {
    findings
        .iter()
        .map(|found| BreakRecord {
            layer: found.layer.as_str().to_string(),
            direction: direction.to_string(),
            object: found.object.clone(),
            template: found.template.clone(),
            field: found.field.clone(),
            detail: found.detail.clone(),
        })
        .collect()
}

/// What the server said about a set of predicted breaks (see [`verdict`]).
pub(super) struct Verdict {
    /// Every break, each with the layer that found it.
    pub found: Vec<Found>,
    /// "The server refuses it too", per confirmed prediction: context.
    pub confirmed: Vec<Problem>,
    /// Breaks only the server found: rules the table lacks.
    pub server_only: Vec<Problem>,
    /// Predictions the server accepted (on objects it refused nothing of).
    pub refuted: Vec<Problem>,
    /// Refusals that are no immutable field (schema, admission).
    pub rejected: Vec<Problem>,
}

/// Weighs `predicted` against the server's dry-run refusals `refused`.
pub(super) fn verdict(
    chart_rel_dir: &std::path::Path,
    predicted: &[Break],
    refused: Vec<DryRunError>,
) -> Verdict {
    let mut immutable = Vec::new();
    let mut refused_objects = Vec::new();
    let mut rejected = Vec::new();
    for error in refused {
        if let DryRunError::Rejected { kind, name, .. } = &error {
            refused_objects.push(format!("{kind} `{name}`"));
        }
        match immutable_refusal(&error) {
            Some((kind, name, message)) => {
                immutable.push((kind.to_string(), name.to_string(), message.to_string()));
            }
            None => rejected.push(Problem::from(error)),
        }
    }
    let found = agreement(predicted, &immutable);
    let mut verdict = Verdict {
        found: Vec::new(),
        confirmed: Vec::new(),
        server_only: Vec::new(),
        refuted: Vec::new(),
        rejected,
    };
    let mut said = Vec::new();
    for finding in &found {
        // One verdict per object, however many of its fields changed.
        if said.contains(&(finding.layer, &finding.object)) {
            continue;
        }
        said.push((finding.layer, &finding.object));
        match finding.layer {
            Layer::Both => verdict.confirmed.push(Problem::in_file(
                chart_rel_dir,
                format!("{}: the API server's dry-run refuses it too", finding.object),
            )),
            Layer::Server => verdict.server_only.push(problem(chart_rel_dir, finding)),
            // Refused for another reason: no verdict on the prediction.
            Layer::Prediction if refused_objects.contains(&finding.object) => {}
            Layer::Prediction => verdict.refuted.push(Problem::in_file(
                chart_rel_dir,
                format!(
                    "{}: predicted to break, but the API server's dry-run accepts the change; the prediction's rule is wrong here, please report it",
                    finding.object
                ),
            )),
        }
    }
    verdict.found = found;
    verdict
}

/// The findings as problems, one per object, template, layer and advice: the changed
/// fields of one object are listed in one message, its advice said once.
pub(super) fn problems(chart_rel_dir: &std::path::Path, findings: &[Found]) -> Vec<Problem> {
    let mut grouped: Vec<(Found, Vec<String>)> = Vec::new();
    for finding in findings {
        let Some((change, advice)) = &finding.parts else {
            grouped.push((finding.clone(), Vec::new()));
            continue;
        };
        let same = grouped.iter_mut().find(|(first, _)| {
            first.object == finding.object
                && first.template == finding.template
                && first.layer == finding.layer
                && first.parts.as_ref().map(|(_, a)| a) == Some(advice)
        });
        match same {
            Some((_, changes)) => changes.push(change.clone()),
            None => grouped.push((finding.clone(), vec![change.clone()])),
        }
    }
    grouped
        .into_iter()
        .map(|(first, changes)| {
            let merged = match &first.parts {
                Some((_, advice)) if changes.len() > 1 => Found {
                    detail: format!("{}: {}; {advice}", first.object, changes.join(", ")),
                    ..first
                },
                _ => first,
            };
            problem(chart_rel_dir, &merged)
        })
        .collect()
}

/// A finding as a problem on its template, saying which layer found it.
pub(super) fn problem(chart_rel_dir: &std::path::Path, finding: &Found) -> Problem {
    let said = match finding.layer {
        Layer::Prediction => "predicted offline",
        Layer::Server => "found by the API server's dry-run",
        Layer::Both => "predicted offline and confirmed by the API server's dry-run",
    };
    let message = format!("{} [{said}]", finding.detail);
    match &finding.template {
        Some(template) => Problem::in_file(chart_rel_dir.join(template), message),
        None => Problem::in_file(chart_rel_dir, message),
    }
}

/// Layer 1's breaks as findings, before any server is asked.
pub(super) fn predicted_only(predicted: &[Break]) -> Vec<Found> {
    agreement(predicted, &[])
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn selector_break(field: &str) -> Break {
        Break {
            kind: "DaemonSet".into(),
            name: "exporter".into(),
            namespace: None,
            template: Some("templates/daemonset.yaml".into()),
            field: field.into(),
            old: "\"a\"".into(),
            new: "(unset)".into(),
            rule: &crate::immutable_fields::RULES[0],
        }
    }

    #[test]
    fn the_fields_of_one_object_are_said_in_one_problem_with_its_advice_once() {
        let breaks = [
            selector_break("spec.selector.matchLabels.app"),
            selector_break("spec.selector.matchLabels.release"),
        ];
        let problems = problems(std::path::Path::new("charts/x"), &predicted_only(&breaks));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let text = problems[0].to_string();
        assert!(
            text.starts_with("charts/x/templates/daemonset.yaml: DaemonSet `exporter`: spec.selector.matchLabels.app changes from \"a\" to (unset), spec.selector.matchLabels.release changes from \"a\" to (unset); "),
            "{text}"
        );
        assert_eq!(text.matches("--cascade=orphan").count(), 1, "{text}");
        assert!(text.ends_with("[predicted offline]"), "{text}");
        // The report keeps one record per field.
        assert_eq!(records("upgrade", &predicted_only(&breaks)).len(), 2);
    }

    #[rstest]
    #[case("1.4.2", "2.0.0", true)]
    #[case("1.4.2", "1.5.0", false)]
    #[case("0.4.1", "0.5.0", false)]
    #[case("2.0.0", "1.9.0", false)]
    #[case("not-semver", "2.0.0", false)]
    fn only_a_larger_major_is_a_major_bump(
        #[case] old: &str,
        #[case] new: &str,
        #[case] major: bool,
    ) {
        assert_eq!(major_bump(old, new), major);
    }

    #[rstest]
    #[case(
        "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: ...: field is immutable",
        true
    )]
    #[case(
        "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas' ... are forbidden",
        true
    )]
    #[case(
        "Service \"web\" is invalid: spec.ports[0].port: Invalid value: 0",
        false
    )]
    fn immutable_refusals_are_told_from_others(#[case] message: &str, #[case] immutable: bool) {
        let error = DryRunError::Rejected {
            file: "templates/x.yaml".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            message: message.into(),
        };
        assert_eq!(immutable_refusal(&error).is_some(), immutable);
    }
}
