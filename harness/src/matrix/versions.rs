//! Which of the configured Kubernetes versions a chart's cells run on: narrowed by the
//! chart's `kubeVersion` constraint (Chart.yaml) and by its own `kube-versions`
//! (`ci/harness.yaml`). Pure.

use crate::kube_version::{self, KubeVersionConstraint};

/// The versions of `configured` that a chart supports, and a note for each one it
/// leaves out. `listed` (the chart's `kube-versions`) keeps a version when one of its
/// entries has the same minor; `constraint` keeps those it matches.
pub fn for_chart(
    chart: &str,
    configured: &[String],
    constraint: Option<(&str, &KubeVersionConstraint)>,
    listed: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    for version in configured {
        if !listed.is_empty() && !listed.iter().any(|entry| same_minor(entry, version)) {
            notes.push(format!(
                "{chart}: Kubernetes {version} left out, since its ci/harness.yaml `kube-versions` ({}) has no {}",
                listed.join(", "),
                minor(version)
            ));
            continue;
        }
        if let Some((text, constraint)) = constraint
            && let Ok(parsed) = kube_version::parse_version(version)
            && !constraint.matches(&parsed)
        {
            notes.push(format!(
                "{chart}: Kubernetes {version} left out by its Chart.yaml `kubeVersion: {text}`"
            ));
            continue;
        }
        kept.push(version.clone());
    }
    (kept, notes)
}

/// `1.37.2` → `1.37`.
pub fn minor(version: &str) -> String {
    version
        .trim_start_matches('v')
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

fn same_minor(a: &str, b: &str) -> bool {
    minor(a) == minor(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn configured() -> Vec<String> {
        vec!["1.35".into(), "1.36".into(), "1.37.2".into()]
    }

    #[rstest]
    #[case::no_constraint(None, &[], &["1.35", "1.36", "1.37.2"], 0)]
    #[case::constraint(Some(">=1.36.0-0"), &[], &["1.36", "1.37.2"], 1)]
    #[case::listed(None, &["v1.37.0"], &["1.37.2"], 2)]
    #[case::both(Some("<1.37.0"), &["1.36", "1.37"], &["1.36"], 2)]
    fn a_chart_narrows_the_configured_versions(
        #[case] constraint: Option<&str>,
        #[case] listed: &[&str],
        #[case] expected: &[&str],
        #[case] notes: usize,
    ) {
        let parsed = constraint.map(|text| (text, kube_version::parse(text).unwrap()));
        let listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        let (kept, said) = for_chart(
            "kvstore",
            &configured(),
            parsed.as_ref().map(|(text, c)| (*text, c)),
            &listed,
        );
        assert_eq!(kept, expected);
        assert_eq!(said.len(), notes, "{said:?}");
        assert!(
            said.iter()
                .all(|note| note.starts_with("kvstore: Kubernetes "))
        );
    }
}
