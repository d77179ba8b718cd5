//! When a running trial's phase is due a heartbeat: once every interval of the phase,
//! at 1×, 2×, 3× the interval since it began, whatever the tick rate. Pure, so the
//! schedule is tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::activity::Current;
use crate::plan::TrialId;

/// How often a long phase is reported unless the front end says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

pub struct Heartbeats {
    interval: Duration,
    /// Per trial: the phase last reported (by its start) and how many beats it had.
    beaten: HashMap<TrialId, (Instant, u64)>,
}

impl Heartbeats {
    pub fn new(interval: Duration) -> Heartbeats {
        Heartbeats {
            // A zero interval would beat on every tick.
            interval: interval.max(Duration::from_millis(100)),
            beaten: HashMap::new(),
        }
    }

    /// How often the runner should look: a beat is at most a tenth of the interval
    /// late, so a phase only just past the interval still gets its line. Reading the
    /// running trials' slots costs next to nothing.
    pub fn tick(&self) -> Duration {
        self.interval / 10
    }

    /// How long `current` has run, when that is another whole interval since the
    /// last beat of the same phase.
    pub fn due(&mut self, id: &TrialId, current: &Current, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(current.since);
        let beats = (elapsed.as_millis() / self.interval.as_millis()) as u64;
        let last = self.beaten.entry(id.clone()).or_insert((current.since, 0));
        if last.0 != current.since {
            *last = (current.since, 0);
        }
        (beats > last.1).then(|| {
            last.1 = beats;
            elapsed
        })
    }

    /// The trial finished: nothing more is due for it.
    pub fn forget(&mut self, id: &TrialId) {
        self.beaten.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::plan::Suite;

    fn id() -> TrialId {
        TrialId {
            suite: Suite::Integration,
            chart: "kvstore".into(),
            case: "default".into(),
        }
    }

    fn phase(name: &str, since: Instant) -> Current {
        Current {
            phase: name.into(),
            since,
            waiting_for: None,
        }
    }

    /// Looks every tick (1 s for a 10 s interval) over a phase of the given length.
    #[rstest]
    #[case::short_phase(9_900, &[])]
    #[case::one_interval(10_000, &[10_000])]
    #[case::three_and_a_half(35_000, &[10_000, 20_000, 30_000])]
    fn a_phase_beats_once_per_interval(#[case] runs_for_ms: u64, #[case] expected: &[u64]) {
        let mut heartbeats = Heartbeats::new(Duration::from_secs(10));
        assert_eq!(heartbeats.tick(), Duration::from_secs(1));
        let since = Instant::now();
        let current = phase("ready", since);
        let beats: Vec<u64> = (1..=runs_for_ms / 1_000)
            .filter_map(|tick| {
                let now = since + Duration::from_millis(tick * 1_000);
                heartbeats.due(&id(), &current, now)
            })
            .map(|elapsed| elapsed.as_millis() as u64)
            .collect();
        assert_eq!(beats, expected);
    }

    #[test]
    fn a_new_phase_starts_its_own_count() {
        let mut heartbeats = Heartbeats::new(Duration::from_secs(1));
        let start = Instant::now();
        let install = phase("install", start);
        assert!(
            heartbeats
                .due(&id(), &install, start + Duration::from_millis(1_100))
                .is_some()
        );
        let ready = phase("ready", start + Duration::from_millis(1_200));
        assert_eq!(
            heartbeats.due(&id(), &ready, start + Duration::from_millis(1_500)),
            None,
            "ready has run 0.3 s"
        );
        assert_eq!(
            heartbeats.due(&id(), &ready, start + Duration::from_millis(2_300)),
            Some(Duration::from_millis(1_100))
        );
    }

    #[test]
    fn a_finished_trial_is_forgotten() {
        let mut heartbeats = Heartbeats::new(Duration::from_secs(1));
        let start = Instant::now();
        let current = phase("render", start);
        heartbeats.due(&id(), &current, start + Duration::from_secs(1));
        heartbeats.forget(&id());
        assert!(heartbeats.beaten.is_empty());
    }
}
