//! What a running trial is doing right now: its current phase, since when, and what it
//! is waiting for. Suites and the layers under them only publish here; the runner
//! reads it on its heartbeat tick and turns long phases into events, so no suite ever
//! prints or keeps time for output.
//!
//! The slot reaches the code that waits through a tokio task-local set by the runner
//! around each trial, not through a parameter: the wait loop (`k8s::wait`), the process
//! runner (`tools::process`) and the cluster lease sit several calls below the suites,
//! and threading an argument through every release operation only to describe a wait
//! would couple them all to reporting. Outside a trial (libtest's one-trial runs, unit
//! tests) publishing does nothing. A leaf: imports nothing of the harness.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One trial's current activity; the runner holds one per running trial.
#[derive(Debug, Default)]
pub struct TrialActivity {
    current: Mutex<Option<Current>>,
}

/// A phase in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    pub phase: String,
    pub since: Instant,
    /// The pending condition, in a few words: `StatefulSet/kvstore: 0/1 replicas ready`.
    pub waiting_for: Option<String>,
}

tokio::task_local! {
    static ACTIVITY: Arc<TrialActivity>;
}

impl TrialActivity {
    pub fn new() -> Arc<TrialActivity> {
        Arc::new(TrialActivity::default())
    }

    /// The phase in progress, if the trial has begun one.
    pub fn current(&self) -> Option<Current> {
        self.lock().clone()
    }

    /// Runs `future` (a trial) with this slot as the one its code publishes to.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        ACTIVITY.scope(self, future).await
    }

    fn begin(&self, phase: &str, at: Instant) {
        *self.lock() = Some(Current {
            phase: phase.to_string(),
            since: at,
            waiting_for: None,
        });
    }

    fn wait_for(&self, what: String) {
        if let Some(current) = self.lock().as_mut() {
            current.waiting_for = Some(what);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        // A panic while holding this lock cannot leave the slot half-written.
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The trial running on this task begins `phase` now; returns when, so the caller can
/// time the phase from the same instant.
pub fn phase_started(phase: &str) -> Instant {
    let now = Instant::now();
    let _ = ACTIVITY.try_with(|activity| activity.begin(phase, now));
    now
}

/// The trial running on this task is waiting for what `describe` says. `describe` runs
/// only inside a trial, so callers pay for the text only when someone may read it.
pub fn waiting_for(describe: impl FnOnce() -> String) {
    let _ = ACTIVITY.try_with(|activity| activity.wait_for(describe()));
}

/// The phase the trial running on this task is in, for a suite that stops its own work
/// at a deadline and reports where it stopped.
pub fn current_phase() -> Option<Current> {
    ACTIVITY
        .try_with(|activity| activity.current())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trial_publishes_its_phase_and_what_it_waits_for() {
        let activity = TrialActivity::new();
        let seen = Arc::clone(&activity)
            .scope(async {
                waiting_for(|| "ignored: no phase has begun".to_string());
                let started = phase_started("install");
                waiting_for(|| "`helm4 install` to exit".to_string());
                started
            })
            .await;
        assert_eq!(
            activity.current(),
            Some(Current {
                phase: "install".into(),
                since: seen,
                waiting_for: Some("`helm4 install` to exit".into()),
            })
        );
    }

    #[tokio::test]
    async fn a_new_phase_forgets_the_previous_wait() {
        let activity = TrialActivity::new();
        Arc::clone(&activity)
            .scope(async {
                phase_started("install");
                waiting_for(|| "helm".to_string());
                phase_started("ready");
            })
            .await;
        let current = activity.current().unwrap();
        assert_eq!(current.phase, "ready");
        assert_eq!(current.waiting_for, None);
    }

    #[test]
    fn outside_a_trial_publishing_does_nothing_and_describes_nothing() {
        phase_started("render");
        waiting_for(|| panic!("not described outside a trial"));
    }
}
