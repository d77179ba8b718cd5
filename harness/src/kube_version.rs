//! Version constraints in helm's syntax (Masterminds/semver v3), as used by Chart.yaml's
//! `kubeVersion` and by dependency `version` fields.
//!
//! Helm parses these with Masterminds/semver, whose syntax differs from Cargo's: a bare
//! `1.2` means `1.2.x` (Cargo reads it as `^1.2`), comparators may be separated by
//! spaces, `||` separates alternatives, and `1.2 - 1.4` is a range. This module
//! translates that syntax into [`semver::VersionReq`] alternatives and evaluates them
//! the way helm does, which for prereleases differs from Cargo (see
//! [`KubeVersionConstraint::matches`] and [`KubeVersionConstraint::matches_chart_version`]).

use std::fmt;

use semver::{Comparator, Op, Prerelease, Version, VersionReq};

/// A parsed constraint: it matches a version when any alternative matches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeVersionConstraint {
    alternatives: Vec<VersionReq>,
}

impl KubeVersionConstraint {
    /// The `||` alternatives, each a set of comparators that must all match.
    pub fn alternatives(&self) -> &[VersionReq] {
        &self.alternatives
    }

    /// Whether a Kubernetes version satisfies the constraint the way helm decides a
    /// chart's `kubeVersion`: helm drops the cluster version's prerelease first, so
    /// `1.29.3-gke.100` counts as `1.29.3` (checked against helm 3.22 and 4.3).
    pub fn matches(&self, kube_version: &Version) -> bool {
        let release = Version::new(kube_version.major, kube_version.minor, kube_version.patch);
        self.matches_chart_version(&release)
    }

    /// Whether a chart version satisfies the constraint the way helm resolves a
    /// dependency's `version`, with Masterminds' prerelease rule: a version with a
    /// prerelease (`1.3.0-beta.1`) only satisfies comparators that carry a prerelease
    /// themselves (`>=1.0.0-0`), and those compare it by plain SemVer precedence.
    /// (Cargo instead requires the same `major.minor.patch`.) Build metadata is ignored.
    pub fn matches_chart_version(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|alternative| {
            alternative
                .comparators
                .iter()
                .all(|comparator| comparator_matches(comparator, version))
        })
    }
}

impl fmt::Display for KubeVersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, alternative) in self.alternatives.iter().enumerate() {
            if index > 0 {
                f.write_str(" || ")?;
            }
            write!(f, "{alternative}")?;
        }
        Ok(())
    }
}

/// Parses a constraint in helm's syntax, for example `>= 1.25.0-0`, `>=1.22.0-0 <1.30.0`,
/// `^1.2`, `~1.2`, `1.2.x`, `1.2 - 1.4` or `1.2.x || >=2.0.0`.
///
/// The error says which part of the constraint is wrong.
pub fn parse(constraint: &str) -> Result<KubeVersionConstraint, String> {
    if constraint.trim().is_empty() {
        return Err("the constraint is empty".to_string());
    }
    let mut alternatives = Vec::new();
    for group in constraint.split("||") {
        if group.trim().is_empty() {
            return Err(format!(
                "`{constraint}` has an empty alternative around `||`"
            ));
        }
        for comparators in parse_group(group)? {
            alternatives.push(VersionReq { comparators });
        }
    }
    Ok(KubeVersionConstraint { alternatives })
}

/// Parses a version leniently, as Masterminds' `NewVersion` does for cluster and locked
/// chart versions: an optional `v` prefix and missing minor or patch numbers are
/// accepted (`v1.29` is `1.29.0`).
pub fn parse_version(text: &str) -> Result<Version, String> {
    let operand = parse_operand(text.trim())?;
    let Some(major) = operand.major else {
        return Err(format!("`{text}` is a wildcard, not a version"));
    };
    if operand.wildcard_minor_or_patch {
        return Err(format!("`{text}` is a wildcard, not a version"));
    }
    Ok(Version {
        major,
        minor: operand.minor.unwrap_or(0),
        patch: operand.patch.unwrap_or(0),
        pre: operand.pre,
        build: semver::BuildMetadata::EMPTY,
    })
}

/// One comparator before translation; `!=` has no `semver::Op`, so it is kept apart
/// and expanded into two alternatives.
enum Item {
    Comparator(Comparator),
    NotEqual(Operand),
    Anything,
}

/// Parses one `||` alternative into one or more comparator sets (more than one only
/// when it contains `!=`, which splits into `<v || >v`).
fn parse_group(group: &str) -> Result<Vec<Vec<Comparator>>, String> {
    let tokens: Vec<&str> = group
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|token| !token.is_empty())
        .collect();
    let mut items = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index];
        if tokens.get(index + 1) == Some(&"-") {
            let upper = tokens.get(index + 2).ok_or_else(|| {
                format!(
                    "the range `{token} -` in `{}` has no upper bound",
                    group.trim()
                )
            })?;
            items.push(translate(">=", parse_range_bound(token)?, group)?);
            items.push(translate("<=", parse_range_bound(upper)?, group)?);
            index += 3;
            continue;
        }
        if token == "-" {
            return Err(format!(
                "`-` in `{}` must stand between two versions, as in `1.2 - 1.4`",
                group.trim()
            ));
        }
        let op_len = token.len() - token.trim_start_matches(is_op_char).len();
        let (op, version, consumed) = if op_len == token.len() {
            let version = tokens.get(index + 1).ok_or_else(|| {
                format!(
                    "the operator `{token}` in `{}` has no version",
                    group.trim()
                )
            })?;
            (token, *version, 2)
        } else {
            (&token[..op_len], &token[op_len..], 1)
        };
        let operand = parse_operand(version)?;
        let op = if op.is_empty() { "=" } else { op };
        items.push(translate(op, operand, group)?);
        index += consumed;
    }
    if items.is_empty() {
        return Err(format!("`{}` has no comparators", group.trim()));
    }
    let mut alternatives: Vec<Vec<Comparator>> = vec![Vec::new()];
    for item in items {
        match item {
            Item::Comparator(comparator) => {
                for alternative in &mut alternatives {
                    alternative.push(comparator.clone());
                }
            }
            Item::NotEqual(operand) => {
                let below = comparator(Op::Less, &operand);
                let above = comparator(Op::Greater, &operand);
                alternatives = alternatives
                    .into_iter()
                    .flat_map(|alternative| {
                        let mut with_below = alternative.clone();
                        with_below.push(below.clone());
                        let mut with_above = alternative;
                        with_above.push(above.clone());
                        [with_below, with_above]
                    })
                    .collect();
            }
            Item::Anything => {
                // Masterminds reads `*` as `>=0.0.0` with no prerelease, so it still
                // rejects prerelease versions; keeping that comparator keeps the rule.
                let anything = comparator(Op::GreaterEq, &Operand::zero());
                for alternative in &mut alternatives {
                    alternative.push(anything.clone());
                }
            }
        }
    }
    Ok(alternatives)
}

/// A hyphen range bound must be a plain version (`1.2 - 1.4`), not `>=1.2 - 1.4`.
fn parse_range_bound(token: &str) -> Result<Operand, String> {
    if token.starts_with(is_op_char) {
        return Err(format!(
            "the range bound `{token}` must be a plain version, as in `1.2 - 1.4`"
        ));
    }
    parse_operand(token)
}

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~' | '^')
}

fn translate(op: &str, operand: Operand, group: &str) -> Result<Item, String> {
    if operand.major.is_none() {
        return match op {
            "=" | ">=" | "=>" | "~" | "~>" | "^" => Ok(Item::Anything),
            _ => Err(format!(
                "`{op}` cannot be combined with a wildcard in `{}`",
                group.trim()
            )),
        };
    }
    let op = match op {
        "=" if operand.minor.is_none() || operand.patch.is_none() => Op::Wildcard,
        "=" => Op::Exact,
        "!=" => return Ok(Item::NotEqual(operand)),
        ">" => Op::Greater,
        ">=" | "=>" => Op::GreaterEq,
        "<" => Op::Less,
        "<=" | "=<" => Op::LessEq,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        other => {
            return Err(format!(
                "unknown operator `{other}` in `{}`; use one of =, !=, >, >=, <, <=, ~, ^",
                group.trim()
            ));
        }
    };
    Ok(Item::Comparator(comparator(op, &operand)))
}

fn comparator(op: Op, operand: &Operand) -> Comparator {
    Comparator {
        op,
        major: operand.major.unwrap_or(0),
        minor: operand.minor,
        patch: operand.patch,
        pre: operand.pre.clone(),
    }
}

/// A version as written in a constraint; `None` parts were omitted or wildcards.
struct Operand {
    /// `None` for `*`, `x` or `X`: any version.
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
    /// Whether minor or patch was written as a wildcard rather than left out.
    wildcard_minor_or_patch: bool,
}

impl Operand {
    fn zero() -> Operand {
        Operand {
            major: Some(0),
            minor: Some(0),
            patch: Some(0),
            pre: Prerelease::EMPTY,
            wildcard_minor_or_patch: false,
        }
    }
}

fn parse_operand(text: &str) -> Result<Operand, String> {
    let unprefixed = text
        .strip_prefix('v')
        .or_else(|| text.strip_prefix('V'))
        .unwrap_or(text);
    let without_build = unprefixed
        .split_once('+')
        .map_or(unprefixed, |(core, _)| core);
    let (core, pre) = match without_build.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (without_build, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|part| part.is_empty()) {
        return Err(format!(
            "`{text}` is not a version; expected MAJOR[.MINOR[.PATCH]][-PRERELEASE], e.g. 1.25.0"
        ));
    }
    let mut numbers = [None; 3];
    let mut wildcard_seen = false;
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if matches!(*part, "x" | "X" | "*") {
            wildcard_seen = true;
            continue;
        }
        let number = part
            .parse::<u64>()
            .map_err(|_| format!("`{part}` in `{text}` is not a number; expected e.g. 1.25.0"))?;
        // Masterminds ignores what follows a wildcard (`1.x.3` is `1.x`).
        if !wildcard_seen {
            *slot = Some(number);
        }
    }
    let [major, mut minor, mut patch] = numbers;
    let pre = match pre {
        None => Prerelease::EMPTY,
        Some(pre) => {
            if major.is_none() || wildcard_seen {
                return Err(format!(
                    "`{text}` combines a wildcard with a prerelease; drop one of them"
                ));
            }
            if pre.is_empty() {
                return Err(format!(
                    "`{text}` ends in `-` without a prerelease; write e.g. `1.25.0-0`"
                ));
            }
            // Masterminds fills missing parts with zero when a prerelease is given.
            minor = minor.or(Some(0));
            patch = patch.or(Some(0));
            Prerelease::new(pre).map_err(|e| {
                format!("the prerelease `{pre}` in `{text}` is not valid SemVer: {e}")
            })?
        }
    };
    Ok(Operand {
        major,
        minor,
        patch,
        pre,
        wildcard_minor_or_patch: wildcard_seen && major.is_some(),
    })
}

/// Evaluates one comparator with Masterminds' semantics (see
/// [`KubeVersionConstraint::matches_chart_version`]).
fn comparator_matches(comparator: &Comparator, version: &Version) -> bool {
    if !version.pre.is_empty() && comparator.pre.is_empty() {
        return false;
    }
    let major = comparator.major;
    let lower_bound = (
        major,
        comparator.minor.unwrap_or(0),
        comparator.patch.unwrap_or(0),
        &comparator.pre,
    );
    let full = (version.major, version.minor, version.patch, &version.pre);
    let same_major = version.major == major;
    let same_minor = |minor: u64| same_major && version.minor == minor;
    match (comparator.op, comparator.minor, comparator.patch) {
        (Op::Exact | Op::Wildcard, None, _) => same_major,
        (Op::Exact | Op::Wildcard, Some(minor), None) => same_minor(minor),
        (Op::Exact | Op::Wildcard, Some(_), Some(_)) => full == lower_bound,
        (Op::Greater, None, _) => version.major > major,
        (Op::Greater, Some(minor), None) => (version.major, version.minor) > (major, minor),
        (Op::Greater, Some(_), Some(_)) => full > lower_bound,
        (Op::GreaterEq, _, _) => full >= lower_bound,
        (Op::Less, _, _) => full < lower_bound,
        (Op::LessEq, None, _) => version.major <= major,
        (Op::LessEq, Some(minor), None) => (version.major, version.minor) <= (major, minor),
        (Op::LessEq, Some(_), Some(_)) => full <= lower_bound,
        (Op::Tilde, None, _) => full >= lower_bound && same_major,
        (Op::Tilde, Some(minor), _) => full >= lower_bound && same_minor(minor),
        (Op::Caret, minor, patch) => {
            full >= lower_bound
                && match (major, minor, patch) {
                    (0, None, _) => same_major,
                    (0, Some(0), Some(patch)) => same_minor(0) && version.patch == patch,
                    (0, Some(minor), _) => same_minor(minor),
                    _ => same_major,
                }
        }
        // `Op` is non-exhaustive; this module never builds other operators.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::spaced_operator(">= 1.25.0-0", ">=1.25.0-0")]
    #[case::space_separated(">=1.22.0-0 <1.30.0", ">=1.22.0-0, <1.30.0")]
    #[case::comma_separated(">=1.22.0, <1.30.0", ">=1.22.0, <1.30.0")]
    #[case::comma_without_space(">=1.22,<1.30", ">=1.22, <1.30")]
    #[case::caret("^1.2", "^1.2")]
    #[case::tilde("~1.2", "~1.2")]
    #[case::tilde_arrow("~> 1.2.3", "~1.2.3")]
    #[case::x_wildcard("1.2.x", "1.2.*")]
    #[case::star_wildcard("1.*", "1.*")]
    #[case::bare_partial_is_wildcard_not_caret("1.2", "1.2.*")]
    #[case::bare_full_is_exact("1.2.3", "=1.2.3")]
    #[case::v_prefix("v1.2.3", "=1.2.3")]
    #[case::hyphen_range("1.2 - 1.4", ">=1.2, <=1.4")]
    #[case::hyphen_range_full("1.2.3 - 1.4.5", ">=1.2.3, <=1.4.5")]
    #[case::alternatives("1.2.x || >=2.0.0", "1.2.* || >=2.0.0")]
    #[case::alternatives_without_spaces("<1.20||>=1.25", "<1.20 || >=1.25")]
    #[case::reversed_operators("=> 1.2, =< 1.4", ">=1.2, <=1.4")]
    #[case::not_equal_splits("!=1.2.3", "<1.2.3 || >1.2.3")]
    #[case::not_equal_in_range(">=1.0 !=1.2.3", ">=1.0, <1.2.3 || >=1.0, >1.2.3")]
    #[case::star("*", ">=0.0.0")]
    #[case::partial_prerelease_is_filled(">=1.25-0", ">=1.25.0-0")]
    #[case::build_metadata_ignored(">=1.25.0+build.1", ">=1.25.0")]
    #[case::number_after_wildcard_ignored("1.x.3", "1.*")]
    #[case::leading_zero(">=01.2", ">=1.2")]
    #[case::tilde_wildcard("~1.2.x", "~1.2")]
    fn parses_helm_syntax(#[case] constraint: &str, #[case] expected: &str) {
        let parsed = parse(constraint).expect("constraint parses");
        assert_eq!(parsed.to_string(), expected);
    }

    #[rstest]
    #[case::empty("", "empty")]
    #[case::blank("   ", "empty")]
    #[case::not_a_version(">= one.two", "not a number")]
    #[case::operator_without_version(">=", "has no version")]
    #[case::trailing_or(">=1.2 ||", "empty alternative")]
    #[case::unknown_operator("=~1.2", "unknown operator")]
    #[case::too_many_parts("1.2.3.4", "not a version")]
    #[case::empty_part("1..2", "not a version")]
    #[case::wildcard_with_less("<*", "wildcard")]
    #[case::dangling_hyphen("1.2 -", "no upper bound")]
    #[case::lonely_hyphen("- 1.2", "must stand between")]
    #[case::operator_in_range(">=1.2 - 1.4", "plain version")]
    #[case::empty_prerelease(">=1.2.3-", "without a prerelease")]
    #[case::bad_prerelease(">=1.2.3-a..b", "prerelease")]
    fn rejects_malformed_constraints(#[case] constraint: &str, #[case] expected_fragment: &str) {
        let error = parse(constraint).expect_err("constraint must be rejected");
        assert!(
            error.contains(expected_fragment),
            "error {error:?} should mention {expected_fragment:?}"
        );
    }

    #[rstest]
    #[case::gke_version_with_prerelease_floor(">= 1.25.0-0", "1.29.3-gke.100", true)]
    #[case::release_with_prerelease_floor(">= 1.25.0-0", "1.29.3", true)]
    #[case::below_floor(">= 1.25.0-0", "1.24.9", false)]
    #[case::prerelease_needs_prerelease_comparator(">=1.25.0", "1.29.3-gke.100", false)]
    #[case::prerelease_rejected_by_plain_upper(">=1.22.0-0 <1.30.0", "1.29.0-eks.1", false)]
    #[case::upper_bound_excludes(">=1.22.0-0 <1.30.0", "1.30.0", false)]
    #[case::inside_range(">=1.22.0-0 <1.30.0", "1.29.9", true)]
    #[case::caret_major("^1.2", "1.9.0", true)]
    #[case::caret_next_major("^1.2", "2.0.0", false)]
    #[case::caret_below("^1.2", "1.1.9", false)]
    #[case::caret_zero_minor("^0.2.3", "0.2.9", true)]
    #[case::caret_zero_minor_next("^0.2.3", "0.3.0", false)]
    #[case::caret_zero_zero_patch("^0.0.3", "0.0.4", false)]
    #[case::caret_zero_zero("^0.0", "0.0.7", true)]
    #[case::tilde_minor("~1.2", "1.2.9", true)]
    #[case::tilde_next_minor("~1.2", "1.3.0", false)]
    #[case::tilde_major("~1", "1.9.0", true)]
    #[case::wildcard_patch("1.2.x", "1.2.7", true)]
    #[case::wildcard_other_minor("1.2.x", "1.3.0", false)]
    #[case::bare_partial("1.2", "1.2.5", true)]
    #[case::bare_partial_not_caret("1.2", "1.5.0", false)]
    #[case::exact("1.2.3", "1.2.3", true)]
    #[case::exact_other("1.2.3", "1.2.4", false)]
    #[case::exact_ignores_build("1.2.3", "1.2.3+abc", true)]
    #[case::hyphen_upper_partial_inclusive("1.2 - 1.4", "1.4.9", true)]
    #[case::hyphen_above("1.2 - 1.4", "1.5.0", false)]
    #[case::hyphen_below("1.2 - 1.4", "1.1.9", false)]
    #[case::greater_partial("> 1.2", "1.2.9", false)]
    #[case::greater_partial_next("> 1.2", "1.3.0", true)]
    #[case::less_equal_partial("<= 1.2", "1.2.9", true)]
    #[case::first_alternative("1.2.x || >=2.0.0", "1.2.1", true)]
    #[case::second_alternative("1.2.x || >=2.0.0", "2.5.0", true)]
    #[case::no_alternative("1.2.x || >=2.0.0", "1.5.0", false)]
    #[case::not_equal_excludes("!=1.2.3", "1.2.3", false)]
    #[case::not_equal_allows("!=1.2.3", "1.2.4", true)]
    #[case::star_release("*", "1.30.0", true)]
    #[case::star_rejects_prerelease("*", "1.30.0-rc.1", false)]
    fn chart_versions_match_like_masterminds(
        #[case] constraint: &str,
        #[case] version: &str,
        #[case] expected: bool,
    ) {
        let parsed = parse(constraint).expect("constraint parses");
        let version = Version::parse(version).expect("test version is valid");
        assert_eq!(
            parsed.matches_chart_version(&version),
            expected,
            "{constraint} (as {parsed}) vs {version}"
        );
    }

    /// Each row was checked with `helm template --kube-version` on helm 3.22 and 4.3.
    #[rstest]
    #[case(">= 1.25.0-0", "1.29.3-gke.100", true)]
    #[case(">=1.25.0", "1.29.3-gke.100", true)]
    #[case(">=1.22.0-0 <1.30.0", "1.29.0-eks.1", true)]
    #[case("<1.29.3", "1.29.3-gke.100", false)]
    #[case("!=1.29.3", "1.29.3-gke.100", false)]
    #[case(">1.29.3-0", "1.29.3-gke.100", true)]
    #[case("*", "1.30.0-rc.1", true)]
    #[case("!=1.2.3", "1.2.3", false)]
    #[case("!=1.2.3", "1.3.0-rc.1", true)]
    #[case("1.2", "1.2.5", true)]
    #[case("1.2", "1.5.0", false)]
    #[case("> 1.2", "1.2.9", false)]
    #[case("> 1.2", "1.3.0", true)]
    #[case("<= 1.2", "1.2.9", true)]
    #[case("^0.0.3", "0.0.4", false)]
    #[case("1.2 - 1.4", "1.4.9", true)]
    #[case("~> 1.2.3", "1.2.9", true)]
    #[case("~1.2.x", "1.2.9", true)]
    #[case(">=1.22,<1.30", "1.29.0", true)]
    #[case("=> 1.2", "1.3.0", true)]
    #[case("1.x.3", "1.5.3", true)]
    fn kube_versions_match_like_helm(
        #[case] constraint: &str,
        #[case] kube_version: &str,
        #[case] expected: bool,
    ) {
        let parsed = parse(constraint).expect("constraint parses");
        let kube_version = Version::parse(kube_version).expect("test version is valid");
        assert_eq!(
            parsed.matches(&kube_version),
            expected,
            "{constraint} (as {parsed}) vs {kube_version}"
        );
    }

    #[rstest]
    #[case::full("1.29.3", "1.29.3")]
    #[case::v_prefix("v1.29.3", "1.29.3")]
    #[case::partial("1.29", "1.29.0")]
    #[case::major_only("v2", "2.0.0")]
    #[case::prerelease("1.29.3-gke.100", "1.29.3-gke.100")]
    #[case::partial_with_prerelease("1.29-rc.1", "1.29.0-rc.1")]
    fn parses_lenient_versions(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(parse_version(text), Ok(Version::parse(expected).unwrap()));
    }

    #[rstest]
    #[case::wildcard("1.x")]
    #[case::star("*")]
    #[case::words("latest")]
    #[case::empty("")]
    fn rejects_non_versions(#[case] text: &str) {
        assert!(parse_version(text).is_err(), "{text:?} must be rejected");
    }
}
