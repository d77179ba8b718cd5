//! Names the integration suite gives to what it creates, and the run id that labels them.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// The label every namespace of a run carries, so leftovers of a run can be found.
pub const RUN_LABEL: &str = "chart-harness.io/run";

/// Environment variable that sets the run id (CI sets it to the pipeline's id).
pub const RUN_ID_ENV: &str = "CHART_HARNESS_RUN_ID";

/// Kubernetes' limit for a namespace name (a DNS-1123 label).
const MAX_LABEL: usize = 63;

/// The run id: `CHART_HARNESS_RUN_ID` made a valid label value, else one generated
/// once per process.
pub fn run_id() -> &'static str {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    RUN_ID.get_or_init(|| {
        std::env::var(RUN_ID_ENV)
            .ok()
            .map(|value| label_value(&value))
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| format!("run-{}-{}", std::process::id(), random_suffix(6)))
    })
}

/// A label value: at most 63 of `[A-Za-z0-9-_.]`, starting and ending alphanumeric.
pub fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut value: String = trimmed.chars().take(MAX_LABEL).collect();
    while value.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        value.pop();
    }
    value
}

/// `<chart>-<case>-<suffix>` as a DNS-1123 label: lowercase, `[a-z0-9-]`, at most 63
/// characters; the chart and case part is shortened so the suffix always fits.
pub fn namespace_name(chart: &str, case: &str, suffix: &str) -> String {
    let dns = |text: &str| -> String {
        text.to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    let suffix = dns(suffix);
    let mut stem = format!("{}-{}", dns(chart), dns(case));
    stem.truncate(MAX_LABEL - suffix.len() - 1);
    let stem = stem.trim_matches('-');
    let stem = if stem.is_empty() { "chart" } else { stem };
    // Collapse runs of dashes that the replacement may have produced.
    let mut name = String::new();
    for c in format!("{stem}-{suffix}").chars() {
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    name.trim_matches('-').to_string()
}

/// `length` random characters of `[a-z0-9]`.
pub fn random_suffix(length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::new();
    while out.len() < length {
        let mut random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        while random > 0 && out.len() < length {
            out.push(ALPHABET[(random % 36) as usize] as char);
            random /= 36;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn is_dns_label(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-')
    }

    #[rstest]
    #[case("web", "default", "ab12c", "web-default-ab12c")]
    #[case("My_Chart", "HA.values", "zz9zz", "my-chart-ha-values-zz9zz")]
    #[case("-x-", "--", "abcde", "x-abcde")]
    fn namespaces_are_readable(
        #[case] chart: &str,
        #[case] case: &str,
        #[case] suffix: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(namespace_name(chart, case, suffix), expected);
    }

    #[test]
    fn long_names_keep_the_suffix_and_fit() {
        let name = namespace_name(&"a".repeat(50), &"b".repeat(50), "q1w2e");
        assert!(is_dns_label(&name), "{name}");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-q1w2e"), "{name}");
    }

    #[test]
    fn random_suffixes_are_dns_safe_and_differ() {
        let names: Vec<String> = (0..20)
            .map(|_| namespace_name("web", "default", &random_suffix(5)))
            .collect();
        assert!(names.iter().all(|n| is_dns_label(n)), "{names:?}");
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert!(distinct.len() > 15, "{names:?}");
    }

    #[rstest]
    #[case("pipeline/1234", "pipeline-1234")]
    #[case("--x--", "x")]
    #[case(&"r".repeat(80), &"r".repeat(63))]
    #[case("ok_1.2", "ok_1.2")]
    fn run_ids_become_label_values(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(label_value(input), expected);
    }
}
