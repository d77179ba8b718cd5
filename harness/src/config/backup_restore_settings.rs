//! `backup-restore:` of a chart's `ci/harness.yaml`: the round trip the backup-restore
//! suite runs, in the step language of `data` (`config::data_steps`).
//!
//! ```yaml
//! backup-restore:
//!   seed: [...]          # default: data.seed
//!   backup: [- run: make -f make/ops/redis.mk redis-full-backup]
//!   mutate: [...]        # written after the backup: must be gone after the restore
//!   disaster: uninstall  # or delete-namespace, or {scale-to-zero-and-wipe: [steps]}
//!   restore: [...]
//!   verify:
//!     present: [...]     # default: data.verify; the seeded data is back
//!     absent: [...]      # what mutate wrote is not
//!   rto: "< 1 hour"      # or {from-values: backup.documentation.targets.rto}
//!   rpo: {from-values: backup.documentation.targets.rpo}
//!   pick: first          # or strictest, for a text with several figures
//!   timeout: 120s        # every step's default
//! ```
//!
//! Read from a generic value, as `data` is, so a wrong key names the step. What needs
//! `data` too (the defaults of `seed` and `verify.present`) is checked by
//! [`BackupRestoreSpec::check`] once both are read.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::data_steps::{self, DataStep, DataSteps, kind_of, quoted};
use crate::backup_objectives::{self, Pick};

const KEYS: &[&str] = &[
    "seed",
    "backup",
    "mutate",
    "disaster",
    "restore",
    "verify",
    "rto",
    "rpo",
    "pick",
    "timeout",
    "across-upgrade",
];

/// `backup-restore:` as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackupRestoreSpec {
    /// `None`: the chart's `data.seed`.
    pub seed: Option<Vec<DataStep>>,
    pub backup: Vec<DataStep>,
    pub mutate: Vec<DataStep>,
    pub disaster: Disaster,
    pub restore: Vec<DataStep>,
    /// `None`: the chart's `data.verify`.
    pub present: Option<Vec<DataStep>>,
    pub absent: Vec<DataStep>,
    pub rto: Option<ObjectiveSource>,
    pub rpo: Option<ObjectiveSource>,
    pub pick: Option<Pick>,
    /// Every step's timeout unless the step sets its own.
    pub timeout: Option<Duration>,
    /// Back up the upgrade suite's baseline release, restore into the candidate chart.
    pub across_upgrade: bool,
}

/// How the data is lost.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Disaster {
    /// The release uninstalled, its claims deleted and their volumes gone.
    #[default]
    Uninstall,
    /// The whole namespace deleted, then made again under the same name.
    DeleteNamespace,
    /// Every workload scaled to zero, then these steps wipe the data (the claims stay).
    ScaleToZeroAndWipe(Vec<DataStep>),
}

impl Disaster {
    pub fn name(&self) -> &'static str {
        match self {
            Disaster::Uninstall => "uninstall",
            Disaster::DeleteNamespace => "delete-namespace",
            Disaster::ScaleToZeroAndWipe(_) => "scale-to-zero-and-wipe",
        }
    }
}

/// Where an objective comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectiveSource {
    /// Written in the spec: `"< 1 hour"`, `"90s"`; checked when read.
    Text(String),
    /// A dotted path into the chart's values (`backup.documentation.targets.rto`).
    Values(String),
}

/// The chart's effective round trip: the spec with `data`'s defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundTrip<'a> {
    pub seed: &'a [DataStep],
    pub present: &'a [DataStep],
}

impl BackupRestoreSpec {
    /// The seed and present-checks, from the spec or else `data`; an error when the
    /// round trip could prove nothing: nothing seeded, no backup or restore, a verify
    /// that checks one way only.
    pub fn check<'a>(&'a self, data: &'a DataSteps) -> Result<RoundTrip<'a>, String> {
        let seed = self.seed.as_deref().unwrap_or(&data.seed);
        let present = self.present.as_deref().unwrap_or(&data.verify);
        if seed.is_empty() {
            return Err("nothing is seeded: give `seed` steps here or in `data.seed`".to_string());
        }
        if self.backup.is_empty() {
            return Err("has no `backup` steps".to_string());
        }
        if self.restore.is_empty() {
            return Err("has no `restore` steps".to_string());
        }
        match (present.is_empty(), self.absent.is_empty()) {
            (true, true) => Err(
                "has a `restore` but no `verify`: add `verify: {present: [...], absent: [...]}`, the checks that the seeded data is back and that what `mutate` wrote after the backup is not".to_string(),
            ),
            (false, true) => Err(
                "`verify` checks only one way: add `verify.absent`, steps that pass only when what `mutate` wrote after the backup is gone, so a restore that brings back the latest state instead of the backup fails".to_string(),
            ),
            (true, false) => Err(
                "`verify` checks only one way: add `verify.present` (or `data.verify`), steps that pass only when the seeded data is back, so an empty restore fails".to_string(),
            ),
            (false, false) if self.mutate.is_empty() => Err(
                "`verify.absent` has nothing to miss: add `mutate` steps that write data after the backup".to_string(),
            ),
            (false, false) => Ok(RoundTrip { seed, present }),
        }
    }

    /// Every step of the spec, for checks that apply to all of them.
    pub fn steps(&self) -> impl Iterator<Item = &DataStep> {
        let wipe = match &self.disaster {
            Disaster::ScaleToZeroAndWipe(steps) => steps.as_slice(),
            _ => &[],
        };
        self.seed
            .iter()
            .flatten()
            .chain(&self.backup)
            .chain(&self.mutate)
            .chain(wipe)
            .chain(&self.restore)
            .chain(self.present.iter().flatten())
            .chain(&self.absent)
    }
}

/// The spec's own `timeout`, or that of `data`, for its steps.
pub fn step_timeout(spec: &BackupRestoreSpec, data: &DataSteps) -> Option<Duration> {
    spec.timeout.or(data.timeout)
}

/// `backup-objectives:` of the config: the values paths where every chart documents its
/// recovery objectives (a chart's `backup-restore.rto`/`rpo` overrides them), and which
/// figure of a text with several counts.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupObjectivePaths {
    /// `backup.documentation.targets.rto`, say.
    #[serde(default)]
    pub rto: Option<String>,
    #[serde(default)]
    pub rpo: Option<String>,
    #[serde(default, deserialize_with = "pick")]
    pub pick: crate::backup_objectives::Pick,
}

fn pick<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<crate::backup_objectives::Pick, D::Error> {
    String::deserialize(deserializer)?
        .parse()
        .map_err(|message: String| de::Error::custom(format!("`pick`: {message}")))
}

impl<'de> Deserialize<'de> for BackupRestoreSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        parse(&value).map_err(|message| de::Error::custom(format!("`backup-restore`: {message}")))
    }
}

fn parse(value: &Value) -> Result<BackupRestoreSpec, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "must be a mapping with {}, not {}",
            quoted(KEYS),
            kind_of(value)
        ));
    };
    let mut spec = BackupRestoreSpec::default();
    let steps =
        |key: &str, item: &Value| data_steps::parse_steps(&format!("backup-restore.{key}"), item);
    for (key, item) in map {
        match key.as_str() {
            "seed" => spec.seed = Some(steps("seed", item)?),
            "backup" => spec.backup = steps("backup", item)?,
            "mutate" => spec.mutate = steps("mutate", item)?,
            "restore" => spec.restore = steps("restore", item)?,
            "disaster" => spec.disaster = parse_disaster(item)?,
            "verify" => {
                let Value::Object(verify) = item else {
                    return Err(format!(
                        "`verify` must be a mapping with `present` and `absent`, not {}",
                        kind_of(item)
                    ));
                };
                for (which, checks) in verify {
                    match which.as_str() {
                        "present" => spec.present = Some(steps("verify.present", checks)?),
                        "absent" => spec.absent = steps("verify.absent", checks)?,
                        other => {
                            return Err(format!(
                                "unknown key `verify.{other}`; `verify` has `present` (the seeded data is back) and `absent` (what `mutate` wrote is not)"
                            ));
                        }
                    }
                }
            }
            "rto" | "rpo" => {
                let source = parse_objective_source(key, item)?;
                if key == "rto" {
                    spec.rto = Some(source);
                } else {
                    spec.rpo = Some(source);
                }
            }
            "pick" => {
                spec.pick = Some(
                    item.as_str()
                        .ok_or_else(|| "`pick` must be `first` or `strictest`".to_string())?
                        .parse()
                        .map_err(|message| format!("`pick`: {message}"))?,
                );
            }
            "timeout" => spec.timeout = Some(data_steps::duration("backup-restore.timeout", item)?),
            "across-upgrade" => {
                spec.across_upgrade = item
                    .as_bool()
                    .ok_or_else(|| "`across-upgrade` must be true or false".to_string())?;
            }
            other => {
                let hint = super::nearest(other, KEYS.iter().copied())
                    .map(|near| format!("did you mean `{near}`? "))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown key `{other}`; {hint}`backup-restore` has {}",
                    quoted(KEYS)
                ));
            }
        }
    }
    if spec.across_upgrade && matches!(spec.disaster, Disaster::ScaleToZeroAndWipe(_)) {
        return Err(
            "`across-upgrade` installs the candidate after the disaster, which `scale-to-zero-and-wipe` does not (it scales the same release back); use `uninstall` or `delete-namespace`".to_string(),
        );
    }
    Ok(spec)
}

fn parse_disaster(value: &Value) -> Result<Disaster, String> {
    const KINDS: &str = "`uninstall`, `delete-namespace` or `scale-to-zero-and-wipe: [steps]`";
    match value {
        Value::String(name) if name == "uninstall" => Ok(Disaster::Uninstall),
        Value::String(name) if name == "delete-namespace" => Ok(Disaster::DeleteNamespace),
        Value::String(name) if name == "scale-to-zero-and-wipe" => Err(
            "`scale-to-zero-and-wipe` needs its wipe steps: `disaster: {scale-to-zero-and-wipe: [steps]}`"
                .to_string(),
        ),
        Value::Object(map) if map.len() == 1 && map.contains_key("scale-to-zero-and-wipe") => {
            let wipe = data_steps::parse_steps(
                "backup-restore.disaster.scale-to-zero-and-wipe",
                &map["scale-to-zero-and-wipe"],
            )?;
            if wipe.is_empty() {
                return Err("`scale-to-zero-and-wipe` has no wipe steps".to_string());
            }
            Ok(Disaster::ScaleToZeroAndWipe(wipe))
        }
        other => Err(format!(
            "`disaster` must be {KINDS}, not {}",
            match other {
                Value::String(text) => format!("{text:?}"),
                _ => kind_of(other).to_string(),
            }
        )),
    }
}

fn parse_objective_source(key: &str, value: &Value) -> Result<ObjectiveSource, String> {
    match value {
        Value::String(text) => {
            backup_objectives::parse_objective(text, Pick::First)
                .map_err(|message| format!("`{key}`: {message}"))?;
            Ok(ObjectiveSource::Text(text.clone()))
        }
        Value::Object(map) if map.len() == 1 => match map.get("from-values") {
            Some(Value::String(path)) if !path.trim().is_empty() => {
                Ok(ObjectiveSource::Values(path.trim().to_string()))
            }
            _ => Err(format!(
                "`{key}` must be a text such as \"< 1 hour\" or {{from-values: <dotted path>}}"
            )),
        },
        other => Err(format!(
            "`{key}` must be a text such as \"< 1 hour\" or {{from-values: <dotted path>}}, not {}",
            kind_of(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn spec(yaml: &str) -> Result<BackupRestoreSpec, String> {
        crate::yaml::parse_str::<BackupRestoreSpec>(yaml, std::path::Path::new("ci/harness.yaml"))
            .map_err(|error| error.to_string())
    }

    const ROUND_TRIP: &str = "seed: [{run: 'true'}]\nbackup: [{run: make backup}]\nmutate: [{run: 'true'}]\nrestore: [{run: make restore}]\nverify:\n  present: [{run: 'true'}]\n  absent: [{run: 'true'}]\n";

    #[test]
    fn a_full_round_trip_reads() {
        let read = spec(&format!(
            "{ROUND_TRIP}disaster: {{scale-to-zero-and-wipe: [{{run: wipe}}]}}\nrto: '< 1 hour'\nrpo: {{from-values: backup.rpo}}\npick: strictest\ntimeout: 90s\n"
        ))
        .unwrap();
        assert_eq!(read.backup[0].label, "backup-restore.backup[0]");
        assert_eq!(read.disaster.name(), "scale-to-zero-and-wipe");
        assert_eq!(read.rto, Some(ObjectiveSource::Text("< 1 hour".into())));
        assert_eq!(read.rpo, Some(ObjectiveSource::Values("backup.rpo".into())));
        assert_eq!(read.pick, Some(Pick::Strictest));
        assert!(read.check(&DataSteps::default()).is_ok());
        assert_eq!(read.steps().count(), 7);
    }

    #[rstest]
    #[case("disaster: flood\n", "`disaster` must be `uninstall`")]
    #[case(
        "rto: as fast as we can\n",
        "`rto`: \"as fast as we can\" states no duration"
    )]
    #[case("rto: 3600\n", "`rto` must be a text")]
    #[case("verify: {present: [], gone: []}\n", "unknown key `verify.gone`")]
    #[case("restor: []\n", "did you mean `restore`?")]
    #[case("pick: last\n", "`pick`: `last` is not `first` or `strictest`")]
    #[case(
        "across-upgrade: yes please\n",
        "`across-upgrade` must be true or false"
    )]
    #[case(
        "across-upgrade: true\ndisaster: {scale-to-zero-and-wipe: [{run: wipe}]}\n",
        "use `uninstall` or `delete-namespace`"
    )]
    fn bad_keys_are_named(#[case] yaml: &str, #[case] said: &str) {
        let error = spec(yaml).unwrap_err();
        assert!(error.contains(said), "{error}");
        assert!(error.contains("`backup-restore`"), "{error}");
    }

    #[rstest]
    #[case("verify", "has a `restore` but no `verify`")]
    #[case("absent", "checks only one way: add `verify.absent`")]
    #[case("present", "checks only one way: add `verify.present`")]
    #[case("mutate", "`verify.absent` has nothing to miss")]
    #[case("backup", "has no `backup` steps")]
    #[case("seed", "nothing is seeded")]
    fn a_round_trip_that_proves_nothing_is_refused(#[case] without: &str, #[case] said: &str) {
        let mut read = spec(ROUND_TRIP).unwrap();
        match without {
            "verify" => {
                read.present = None;
                read.absent.clear();
            }
            "absent" => read.absent.clear(),
            "present" => read.present = None,
            "mutate" => read.mutate.clear(),
            "backup" => read.backup.clear(),
            _ => read.seed = None,
        }
        let error = read.check(&DataSteps::default()).unwrap_err();
        assert!(error.contains(said), "{error}");
    }

    #[test]
    fn the_repository_names_where_charts_document_their_objectives() {
        let path = std::path::Path::new("chart-harness.yaml");
        let paths: BackupObjectivePaths = crate::yaml::parse_str(
            "rto: backup.documentation.targets.rto\npick: strictest\n",
            path,
        )
        .unwrap();
        assert_eq!(
            paths.rto.as_deref(),
            Some("backup.documentation.targets.rto")
        );
        assert_eq!(paths.rpo, None);
        assert_eq!(paths.pick, Pick::Strictest);
        let error = crate::yaml::parse_str::<BackupObjectivePaths>("rtp: x\n", path)
            .unwrap_err()
            .to_string();
        assert!(error.contains("rtp"), "{error}");
        let error = crate::yaml::parse_str::<BackupObjectivePaths>("pick: most\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`pick`: `most` is not `first` or `strictest`"),
            "{error}"
        );
    }

    #[test]
    fn seed_and_present_default_to_data() {
        let mut read = spec(ROUND_TRIP).unwrap();
        read.seed = None;
        read.present = None;
        let data: DataSteps = crate::yaml::parse_str(
            "seed: [{run: a}]\nverify: [{run: b}]\n",
            std::path::Path::new("ci/harness.yaml"),
        )
        .unwrap();
        let trip = read.check(&data).unwrap();
        assert_eq!(trip.seed[0].label, "data.seed[0]");
        assert_eq!(trip.present[0].label, "data.verify[0]");
    }
}
