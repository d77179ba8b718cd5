//! Recovery objectives as charts write them, and what a backup schedule can promise.
//!
//! Charts document their RTO and RPO as free text (`"< 1 hour"`, `"15 minutes"`,
//! `"< 1 hour (most scenarios) / < 5 minutes (with HA replica)"`); [`parse_objective`]
//! reads the figures in it and picks one. A backup CronJob's schedule bounds the RPO by
//! its longest gap between two runs ([`longest_interval`]): `0 2 * * *` is 24 h. Pure
//! functions, so the backup-restore suite's judgements are unit-tested here.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use regex::Regex;

/// Which figure of a text with several counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// The first figure: charts put the general case first and exceptions after it.
    #[default]
    First,
    /// The shortest figure.
    Strictest,
}

impl FromStr for Pick {
    type Err = String;

    fn from_str(text: &str) -> Result<Pick, String> {
        match text {
            "first" => Ok(Pick::First),
            "strictest" => Ok(Pick::Strictest),
            other => Err(format!("`{other}` is not `first` or `strictest`")),
        }
    }
}

/// One figure: a number and a unit, or several in a row (`1h30m`, `1 hour 30 minutes`).
static FIGURE: LazyLock<Regex> = LazyLock::new(|| {
    const UNIT: &str = r"(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)";
    Regex::new(&format!(
        r"(?i)\d+(?:\.\d+)?\s*{UNIT}(?:\s*\d+(?:\.\d+)?\s*{UNIT})*\b"
    ))
    .expect("the figure pattern compiles")
});

static PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\d+(?:\.\d+)?)\s*([a-z]+)").expect("the part pattern compiles")
});

/// The duration `text` states, picking among several figures by `pick`; an error says
/// that it states none.
pub fn parse_objective(text: &str, pick: Pick) -> Result<Duration, String> {
    let figures: Vec<Duration> = FIGURE
        .find_iter(text)
        .map(|found| figure(found.as_str()))
        .collect();
    let chosen = match pick {
        Pick::First => figures.first().copied(),
        Pick::Strictest => figures.iter().min().copied(),
    };
    chosen.ok_or_else(|| {
        format!(
            "{text:?} states no duration; write one such as \"< 1 hour\", \"15 minutes\" or \"90s\""
        )
    })
}

fn figure(text: &str) -> Duration {
    PART.captures_iter(text)
        .map(|part| {
            let count: f64 = part[1].parse().unwrap_or_default();
            let unit = part[2].to_ascii_lowercase();
            let seconds = match unit.chars().next() {
                Some('d') => 86_400.0,
                Some('h') => 3_600.0,
                Some('m') => 60.0,
                _ => 1.0,
            };
            Duration::from_secs_f64(count * seconds)
        })
        .sum()
}

/// Occurrences looked at before the longest gap is taken as found: enough for every
/// schedule to repeat (a minutely schedule is not the one that hides a long gap).
const MAX_OCCURRENCES: usize = 200_000;

/// The longest time between two runs of a cron `schedule` over two years, from a fixed
/// start so the figure does not depend on today's date.
pub fn longest_interval(schedule: &str) -> Result<Duration, String> {
    let cron = croner::Cron::from_str(schedule)
        .map_err(|error| format!("the schedule {schedule:?} is not a cron expression: {error}"))?;
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid start");
    let horizon = start + chrono::Duration::days(2 * 366);
    let mut previous = None;
    let mut longest = chrono::Duration::zero();
    for time in cron
        .iter_from(start, croner::Direction::Forward)
        .take(MAX_OCCURRENCES)
    {
        if time > horizon {
            break;
        }
        if let Some(previous) = previous {
            longest = longest.max(time - previous);
        }
        previous = Some(time);
    }
    if previous.is_none() || longest.is_zero() {
        return Err(format!(
            "the schedule {schedule:?} runs at most once in two years"
        ));
    }
    longest
        .to_std()
        .map_err(|error| format!("the schedule {schedule:?}: {error}"))
}

/// A duration as the summary prints it: `41 s`, `12 min`, `6 h`, `1.5 h`.
pub fn shown(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 2.0 * 3600.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        let hours = seconds / 3600.0;
        if (hours - hours.round()).abs() < 0.05 {
            format!("{hours:.0} h")
        } else {
            format!("{hours:.1} h")
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const MIN: u64 = 60;
    const HOUR: u64 = 3600;

    #[rstest]
    #[case("< 1 hour", Pick::First, HOUR)]
    #[case("< 2 hours (full disaster recovery)", Pick::First, 2 * HOUR)]
    #[case("15 minutes", Pick::First, 15 * MIN)]
    #[case("24 hours", Pick::First, 24 * HOUR)]
    #[case(
        "< 1 hour (most scenarios) / < 5 minutes (with HA replica)",
        Pick::First,
        HOUR
    )]
    #[case(
        "< 1 hour (most scenarios) / < 5 minutes (with HA replica)",
        Pick::Strictest,
        5 * MIN
    )]
    #[case("1h", Pick::First, HOUR)]
    #[case("30m", Pick::First, 30 * MIN)]
    #[case("90s", Pick::First, 90)]
    #[case("1h30m", Pick::First, HOUR + 30 * MIN)]
    #[case("5 seconds", Pick::First, 5)]
    #[case("1 day", Pick::First, 24 * HOUR)]
    #[case("0.5 hours", Pick::First, 30 * MIN)]
    fn objectives_are_read_from_free_text(
        #[case] text: &str,
        #[case] pick: Pick,
        #[case] seconds: u64,
    ) {
        assert_eq!(
            parse_objective(text, pick),
            Ok(Duration::from_secs(seconds))
        );
    }

    #[rstest]
    #[case("as fast as possible")]
    #[case("24/7")]
    #[case("")]
    fn text_without_a_duration_is_an_error(#[case] text: &str) {
        let error = parse_objective(text, Pick::First).unwrap_err();
        assert!(error.contains("states no duration"), "{error}");
    }

    #[rstest]
    #[case("0 2 * * *", 24 * HOUR)]
    #[case("0 */6 * * *", 6 * HOUR)]
    #[case("17 3 * * *", 24 * HOUR)]
    #[case("*/15 * * * *", 15 * MIN)]
    #[case("0 3 * * 0", 7 * 24 * HOUR)]
    // Every weekday at 1 am: Friday to Monday is the longest gap.
    #[case("0 1 * * 1-5", 3 * 24 * HOUR)]
    #[case("@daily", 24 * HOUR)]
    fn a_schedule_promises_its_longest_gap(#[case] schedule: &str, #[case] seconds: u64) {
        assert_eq!(longest_interval(schedule), Ok(Duration::from_secs(seconds)));
    }

    #[test]
    fn a_bad_schedule_is_named() {
        let error = longest_interval("every night").unwrap_err();
        assert!(error.contains("\"every night\""), "{error}");
    }

    #[rstest]
    #[case(41, "41 s")]
    #[case(720, "12 min")]
    #[case(6 * HOUR, "6 h")]
    #[case(90 * MIN, "90 min")]
    #[case(5400 * 2, "3 h")]
    fn durations_are_shown_in_a_readable_unit(#[case] seconds: u64, #[case] text: &str) {
        assert_eq!(shown(Duration::from_secs(seconds)), text);
    }
}
