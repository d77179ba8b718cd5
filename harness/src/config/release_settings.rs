//! The keys of `chart-harness.yaml` that the matrix plan and the release gate read:
//! `kube-versions` and `kind-node-images` (which Kubernetes versions a pull request's
//! matrix covers, and the kind node image of each) and `release-gate` (what a chart's
//! release must prove).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::normalize_kube_version;
use crate::registry::Suite;

/// `release-gate:` as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReleaseGateFile {
    tag_format: Option<String>,
    required_suites: Option<Vec<String>>,
    changelog: Option<String>,
    keyring: Option<PathBuf>,
    cosign_key: Option<PathBuf>,
}

/// What a chart's release must prove (`chart-harness gate`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReleaseGateSettings {
    /// How a release tag is written; chart-releaser's `{chart}-{version}` by default.
    pub tag_format: TagFormat,
    /// The suites that must have passed; `None`: every registered suite the chart does
    /// not skip.
    pub required_suites: Option<Vec<Suite>>,
    pub changelog: ChangelogSource,
    /// A GnuPG keyring `helm verify` checks the packaged chart's `.prov` against.
    pub keyring: Option<PathBuf>,
    /// A cosign public key the packaged chart must verify against.
    pub cosign_key: Option<PathBuf>,
}

impl Default for ReleaseGateSettings {
    fn default() -> Self {
        ReleaseGateSettings {
            tag_format: TagFormat::parse(TagFormat::CHART_RELEASER).expect("the default parses"),
            required_suites: None,
            changelog: ChangelogSource::Either,
            keyring: None,
            cosign_key: None,
        }
    }
}

impl ReleaseGateFile {
    /// Checks the values; paths are resolved against `repo_root`. The error names the
    /// sub-key.
    pub fn into_settings(self, repo_root: &std::path::Path) -> Result<ReleaseGateSettings, String> {
        let mut settings = ReleaseGateSettings::default();
        if let Some(format) = self.tag_format {
            settings.tag_format =
                TagFormat::parse(&format).map_err(|message| format!("tag-format: {message}"))?;
        }
        if let Some(names) = self.required_suites {
            let suites = names
                .iter()
                .map(|name| name.parse::<Suite>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| format!("required-suites: {message}"))?;
            settings.required_suites = Some(suites);
        }
        if let Some(changelog) = self.changelog {
            settings.changelog = ChangelogSource::parse(&changelog)
                .map_err(|message| format!("changelog: {message}"))?;
        }
        settings.keyring = self.keyring.map(|path| super::resolve(repo_root, &path));
        settings.cosign_key = self.cosign_key.map(|path| super::resolve(repo_root, &path));
        Ok(settings)
    }
}

/// Where a version's changelog entry must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangelogSource {
    /// The `artifacthub.io/changes` annotation of Chart.yaml, or a `## <version>`
    /// heading in the chart's CHANGELOG.md.
    Either,
    Annotation,
    /// A `## <version>` heading in this file of the chart directory.
    File(PathBuf),
    /// Not checked.
    None,
}

impl ChangelogSource {
    pub const CHANGELOG_FILE: &str = "CHANGELOG.md";

    fn parse(text: &str) -> Result<ChangelogSource, String> {
        Ok(match text.trim() {
            "either" => ChangelogSource::Either,
            "annotation" => ChangelogSource::Annotation,
            "none" => ChangelogSource::None,
            file if file.starts_with("file:") && file.len() > 5 => {
                ChangelogSource::File(PathBuf::from(file["file:".len()..].trim()))
            }
            other => {
                return Err(format!(
                    "`{other}` is not a changelog source; write `either` (the default), `annotation`, `file:<name>` (a file in the chart directory) or `none`"
                ));
            }
        })
    }
}

/// A release tag's form, with `{chart}` and `{version}` in it once each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFormat {
    pub text: String,
}

impl TagFormat {
    /// chart-releaser's tag form.
    pub const CHART_RELEASER: &str = "{chart}-{version}";

    pub fn parse(text: &str) -> Result<TagFormat, String> {
        let count = |what: &str| text.matches(what).count();
        if count("{chart}") != 1 || count("{version}") != 1 {
            return Err(format!(
                "`{text}` must hold `{{chart}}` and `{{version}}` once each, like `{}`",
                Self::CHART_RELEASER
            ));
        }
        if text.find("{chart}") > text.find("{version}") {
            return Err(format!(
                "`{text}` puts `{{version}}` before `{{chart}}`; write the chart first, like `{}`",
                Self::CHART_RELEASER
            ));
        }
        Ok(TagFormat {
            text: text.to_string(),
        })
    }

    pub fn tag(&self, chart: &str, version: &str) -> String {
        self.text
            .replace("{chart}", chart)
            .replace("{version}", version)
    }

    /// The `git tag --list` pattern of every release of `chart`.
    pub fn pattern(&self, chart: &str) -> String {
        self.text
            .replace("{chart}", chart)
            .replace("{version}", "*")
    }

    /// The chart and version a tag names, trying each way to split it so a chart name
    /// with dashes (`kube-state-metrics-5.1.0`) still parses: the version is the
    /// shortest suffix that is a semantic version.
    pub fn split(&self, tag: &str) -> Option<(String, semver::Version)> {
        let (prefix, rest) = self.text.split_once("{chart}")?;
        let (infix, suffix) = rest.split_once("{version}")?;
        let middle = tag.strip_prefix(prefix)?.strip_suffix(suffix)?;
        let mut candidates: Vec<usize> = middle.match_indices(infix).map(|(at, _)| at).collect();
        candidates.reverse();
        candidates.into_iter().find_map(|at| {
            let chart = &middle[..at];
            let version = semver::Version::parse(&middle[at + infix.len()..]).ok()?;
            (!chart.is_empty()).then(|| (chart.to_string(), version))
        })
    }
}

/// `kind-node-images:` as written: Kubernetes version → node image.
pub fn node_images(written: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    written
        .into_iter()
        .map(|(version, image)| {
            let version = normalize_kube_version(&version)?;
            if image.trim().is_empty() {
                return Err(format!("{version}: the image is empty"));
            }
            Ok((version, image.trim().to_string()))
        })
        .collect()
}

/// `kube-versions:` as written, each normalized (`v1.36` → `1.36`), duplicates refused.
pub fn kube_versions(written: Vec<String>) -> Result<Vec<String>, String> {
    let mut versions: Vec<String> = Vec::new();
    for version in written {
        let version = normalize_kube_version(&version)?;
        if versions.contains(&version) {
            return Err(format!("{version} is listed twice"));
        }
        versions.push(version);
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("{chart}-{version}", "kvstore-0.2.0", "kvstore", "0.2.0")]
    #[case::dashed_chart(
        "{chart}-{version}",
        "kube-state-metrics-5.1.0",
        "kube-state-metrics",
        "5.1.0"
    )]
    #[case::prerelease("{chart}-{version}", "redis-1.0.0-rc.1", "redis", "1.0.0-rc.1")]
    #[case::prefixed("release/{chart}/v{version}", "release/redis/v1.2.3", "redis", "1.2.3")]
    fn a_tag_splits_into_chart_and_version(
        #[case] format: &str,
        #[case] tag: &str,
        #[case] chart: &str,
        #[case] version: &str,
    ) {
        let format = TagFormat::parse(format).unwrap();
        let (got_chart, got_version) = format.split(tag).unwrap();
        assert_eq!(got_chart, chart);
        assert_eq!(got_version.to_string(), version);
        assert_eq!(format.tag(chart, version), tag);
    }

    #[rstest]
    #[case::no_version("kvstore")]
    #[case::not_semver("kvstore-latest")]
    #[case::no_chart("-1.0.0")]
    fn a_tag_of_another_form_does_not_split(#[case] tag: &str) {
        let format = TagFormat::parse(TagFormat::CHART_RELEASER).unwrap();
        assert_eq!(format.split(tag), None);
    }

    #[rstest]
    #[case::missing("{chart}", "once each")]
    #[case::twice("{chart}-{version}-{version}", "once each")]
    #[case::reversed("{version}-{chart}", "chart first")]
    fn a_bad_tag_format_says_how_to_write_it(#[case] text: &str, #[case] expected: &str) {
        let message = TagFormat::parse(text).unwrap_err();
        assert!(message.contains(expected), "{message}");
    }

    #[test]
    fn kube_versions_are_normalized_and_unique() {
        assert_eq!(
            kube_versions(vec!["v1.36".into(), "1.37.2".into()]).unwrap(),
            vec!["1.36", "1.37.2"]
        );
        let message = kube_versions(vec!["1.36".into(), "v1.36".into()]).unwrap_err();
        assert!(message.contains("twice"), "{message}");
    }

    #[test]
    fn a_changelog_source_is_one_of_four() {
        assert_eq!(
            ChangelogSource::parse("file:HISTORY.md").unwrap(),
            ChangelogSource::File("HISTORY.md".into())
        );
        let message = ChangelogSource::parse("git").unwrap_err();
        assert!(message.contains("`annotation`"), "{message}");
    }
}
