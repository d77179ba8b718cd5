//! ct v3.14's decisions about upgrade testing, as pure functions: whether a version
//! change is breaking (`util.BreakingChangeAllowed`), and which values files of the
//! previous revision a trial's case upgrade-tests (`doUpgrade`, with
//! `skip-missing-values`).

/// Whether going from `old` to `new` is a breaking change by ct's rule: `new` must
/// satisfy `^old` (`~old` when `old`'s major is 0) in the Masterminds semver sense.
/// `Ok(None)`: not breaking, the upgrade is tested. `Ok(Some(reason))`: breaking, the
/// upgrade is skipped, `reason` as Masterminds words it. `Err`: a version is not
/// semver, which fails the chart in ct.
pub fn breaking_change(old: &str, new: &str) -> Result<Option<String>, String> {
    let (old, new) = (lenient_semver(old)?, lenient_semver(new)?);
    // A constraint without a prerelease never matches a prerelease version.
    if !new.pre.is_empty() && old.pre.is_empty() {
        return Ok(Some(format!(
            "{new} is a prerelease version and the constraint is only looking for release versions"
        )));
    }
    if new < old {
        return Ok(Some(format!("{new} is less than {old}")));
    }
    let reason = if old.major == 0 {
        (new.major != 0 || new.minor != old.minor)
            .then(|| format!("{new} does not have same major and minor version as {old}"))
    } else {
        (new.major != old.major).then(|| format!("{new} does not have same major version as {old}"))
    };
    Ok(reason)
}

/// `text` as Masterminds' `NewVersion` reads it: a leading `v` and a missing minor or
/// patch (`1.2`, `v1`) are accepted, as helm and ct accept them in a chart's version.
fn lenient_semver(text: &str) -> Result<semver::Version, String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let core_end = bare.find(['-', '+']).unwrap_or(bare.len());
    let (core, rest) = bare.split_at(core_end);
    let missing = 3usize.saturating_sub(core.split('.').count());
    let padded = format!("{core}{}{rest}", ".0".repeat(missing));
    semver::Version::parse(&padded)
        .map_err(|e| format!("failed parsing semantic version `{trimmed}`: {e}"))
}

/// One values file of the previous revision, as this trial handles it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreviousValues {
    /// Install the previous revision with this values file (its name; `None`: no values
    /// file) and upgrade to this revision with the same file, as ct does.
    Upgrade(Option<String>),
    /// Not upgrade-tested; the reason says why, in ct's words where ct prints any.
    Skip { file: String, reason: String },
}

/// Which of the previous revision's values files this trial upgrade-tests.
///
/// ct loops over the previous revision's values files (no file when it has none), so
/// each goes to the trial of the case with the same file name (ct compares base
/// names); one this revision no longer has goes to the chart's first case, and with
/// `skip_missing_values` is skipped with ct's message. A case whose file the previous
/// revision lacks is never upgrade-tested by ct; it is listed as skipped, saying so.
/// `previous` and `current` are the file names of each revision's cases; `case` is
/// this trial's (`None` for the `default` case), `values_dir` where they live, for
/// messages.
pub fn previous_values_for_case(
    previous: &[String],
    current: &[String],
    case: Option<&str>,
    first_case: bool,
    skip_missing_values: bool,
    values_dir: &str,
) -> Vec<PreviousValues> {
    let mut plan = Vec::new();
    if previous.is_empty() {
        // ct upgrades without a values file; that belongs to the `default` case, or to
        // the first case when this revision added values files.
        if (current.is_empty() && case.is_none()) || (!current.is_empty() && first_case) {
            plan.push(PreviousValues::Upgrade(None));
        }
    } else {
        for file in previous {
            let owned_here = match current.iter().any(|c| c == file) {
                true => case == Some(file.as_str()),
                false => first_case,
            };
            if !owned_here {
                continue;
            }
            if skip_missing_values && !current.contains(file) {
                plan.push(PreviousValues::Skip {
                    file: file.clone(),
                    reason: format!(
                        "Upgrade testing for values file \"{file}\" skipped because a corresponding values file was not found in {values_dir}"
                    ),
                });
            } else {
                plan.push(PreviousValues::Upgrade(Some(file.clone())));
            }
        }
    }
    if let Some(file) = case.filter(|file| !previous.iter().any(|p| p == file)) {
        plan.push(PreviousValues::Skip {
            file: file.to_string(),
            reason: format!(
                "the previous revision has no {values_dir}/{file}; ct tests upgrades only with the previous revision's values files"
            ),
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::patch("1.2.3", "1.2.4", None)]
    #[case::minor("1.2.3", "1.3.0", None)]
    #[case::same("1.2.3", "1.2.3", None)]
    #[case::leading_v("v1.2.3", "1.4.0", None)]
    #[case::major(
        "1.2.3",
        "2.0.0",
        Some("2.0.0 does not have same major version as 1.2.3")
    )]
    #[case::lower("1.2.3", "1.2.2", Some("1.2.2 is less than 1.2.3"))]
    #[case::zero_patch("0.3.1", "0.3.9", None)]
    #[case::zero_minor(
        "0.3.1",
        "0.4.0",
        Some("0.4.0 does not have same major and minor version as 0.3.1")
    )]
    #[case::zero_to_one(
        "0.3.1",
        "1.0.0",
        Some("1.0.0 does not have same major and minor version as 0.3.1")
    )]
    #[case::to_prerelease(
        "1.0.0",
        "1.1.0-rc.1",
        Some(
            "1.1.0-rc.1 is a prerelease version and the constraint is only looking for release versions"
        )
    )]
    #[case::from_prerelease("1.0.0-rc.1", "1.0.0", None)]
    #[case::short_versions("1.2", "v1.3", None)]
    #[case::short_major(
        "1",
        "2.0.0-rc.1+build",
        Some(
            "2.0.0-rc.1+build is a prerelease version and the constraint is only looking for release versions"
        )
    )]
    fn breaking_changes_follow_cts_caret_and_tilde_rule(
        #[case] old: &str,
        #[case] new: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(breaking_change(old, new), Ok(expected.map(str::to_string)));
    }

    #[test]
    fn a_version_that_is_not_semver_is_an_error_naming_it() {
        let error = breaking_change("1.0.0", "one").unwrap_err();
        assert!(error.contains("`one`"), "{error}");
    }

    fn names(files: &[&str]) -> Vec<String> {
        files.iter().map(|f| f.to_string()).collect()
    }

    fn upgrade(file: &str) -> PreviousValues {
        PreviousValues::Upgrade(Some(file.to_string()))
    }

    const MISSING_HA: &str = "Upgrade testing for values file \"ha-values.yaml\" skipped because a corresponding values file was not found in charts/web/ci";
    const NEW_TLS: &str = "the previous revision has no charts/web/ci/tls-values.yaml; ct tests upgrades only with the previous revision's values files";

    #[rstest]
    #[case::same_file(&["a-values.yaml"], &["a-values.yaml"], Some("a-values.yaml"), true, false, vec![upgrade("a-values.yaml")])]
    #[case::no_files_either_side(&[], &[], None, true, false, vec![PreviousValues::Upgrade(None)])]
    // The previous revision had no values files: ct upgrades once without any, in
    // the first case's trial; every case's own file is new.
    #[case::values_added_first(&[], &["tls-values.yaml"], Some("tls-values.yaml"), true, false, vec![
        PreviousValues::Upgrade(None),
        PreviousValues::Skip { file: "tls-values.yaml".into(), reason: NEW_TLS.into() },
    ])]
    #[case::new_case_file(&["a-values.yaml"], &["a-values.yaml", "tls-values.yaml"], Some("tls-values.yaml"), false, false, vec![
        PreviousValues::Skip { file: "tls-values.yaml".into(), reason: NEW_TLS.into() },
    ])]
    // A file only the previous revision has: tested with it by default, as ct...
    #[case::removed_file_tested(&["a-values.yaml", "ha-values.yaml"], &["a-values.yaml"], Some("a-values.yaml"), true, false, vec![
        upgrade("a-values.yaml"), upgrade("ha-values.yaml"),
    ])]
    // ... skipped with ct's message under skip-missing-values...
    #[case::removed_file_skipped(&["a-values.yaml", "ha-values.yaml"], &["a-values.yaml"], Some("a-values.yaml"), true, true, vec![
        upgrade("a-values.yaml"),
        PreviousValues::Skip { file: "ha-values.yaml".into(), reason: MISSING_HA.into() },
    ])]
    // ... and handled once, by the first case's trial only.
    #[case::removed_file_not_in_other_cases(&["a-values.yaml", "ha-values.yaml"], &["a-values.yaml", "b-values.yaml"], Some("b-values.yaml"), false, false, vec![
        PreviousValues::Skip { file: "b-values.yaml".into(), reason: "the previous revision has no charts/web/ci/b-values.yaml; ct tests upgrades only with the previous revision's values files".into() },
    ])]
    // Values files all removed: the default case's trial tests them all.
    #[case::all_removed(&["ha-values.yaml"], &[], None, true, true, vec![
        PreviousValues::Skip { file: "ha-values.yaml".into(), reason: MISSING_HA.into() },
    ])]
    fn previous_values_files_go_to_the_trial_of_their_case(
        #[case] previous: &[&str],
        #[case] current: &[&str],
        #[case] case: Option<&str>,
        #[case] first_case: bool,
        #[case] skip_missing_values: bool,
        #[case] expected: Vec<PreviousValues>,
    ) {
        assert_eq!(
            previous_values_for_case(
                &names(previous),
                &names(current),
                case,
                first_case,
                skip_missing_values,
                "charts/web/ci",
            ),
            expected
        );
    }
}
