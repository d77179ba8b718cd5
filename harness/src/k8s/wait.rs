//! The one way the harness waits for the cluster: look, judge with a pure rule, sleep,
//! until every item has settled or the deadline passes. Modeled on kube-runtime's
//! `await_condition`, whose conditions are pure functions of the object the API
//! returned; here a look may read several objects (a Service and its EndpointSlices),
//! so the look is async and the judgement is a [`Readiness`].
//!
//! Namespace deletion, CRD establishment, workload readiness and the chaos check's
//! pod replacement all wait through [`await_all`], so they share one deadline rule and
//! one retry rule: a failed request is retried until the deadline, like a pending
//! verdict, because an API server under load answers again a moment later.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use kube::api::Api;

use super::readiness::Readiness;
use super::{KubeError, POLL_INTERVAL, request};

/// How long to wait and how often to look.
#[derive(Clone, Copy, Debug)]
pub struct WaitPolicy {
    pub timeout: Duration,
    pub poll: Duration,
    /// Once one item has failed for good, the others get this long to settle, so a
    /// failure is reported with what else is (not) ready without waiting out the timeout.
    pub grace_after_failure: Duration,
}

impl WaitPolicy {
    /// `timeout`, looking every [`POLL_INTERVAL`], and a failure does not cut the others short.
    pub fn within(timeout: Duration) -> WaitPolicy {
        WaitPolicy {
            timeout,
            poll: POLL_INTERVAL,
            grace_after_failure: timeout,
        }
    }

    pub fn grace_after_failure(self, grace: Duration) -> WaitPolicy {
        WaitPolicy {
            grace_after_failure: grace,
            ..self
        }
    }
}

/// How one waited-for item ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    Ready,
    /// The rule said it will not get there; the text says why.
    Failed(String),
    /// Still pending at the deadline; the text is the last reason the rule gave.
    TimedOut(String),
}

impl Settlement {
    pub fn is_ready(&self) -> bool {
        matches!(self, Settlement::Ready)
    }
}

/// One item, how it ended, and when (since the wait started).
#[derive(Clone, Debug)]
pub struct Settled<T> {
    pub item: T,
    pub elapsed: Duration,
    pub settlement: Settlement,
}

/// Looks at every pending item once per round (`look(item, waited)`) until each is
/// Ready or Failed, or the deadline passes. Results come in the order items settled.
/// After each round the trial's activity says what is still pending (see
/// [`crate::activity`]), so a long wait is reported with its reason.
pub async fn await_all<T, F, Fut>(items: Vec<T>, policy: WaitPolicy, mut look: F) -> Vec<Settled<T>>
where
    T: Display,
    F: FnMut(&T, Duration) -> Fut,
    Fut: Future<Output = Result<Readiness, KubeError>>,
{
    let started = Instant::now();
    let mut deadline = started + policy.timeout;
    let mut pending: Vec<(T, String)> = items
        .into_iter()
        .map(|item| (item, "not checked yet".to_string()))
        .collect();
    let mut settled = Vec::new();
    loop {
        let mut still_pending = Vec::new();
        for (item, _) in pending {
            let verdict = look(&item, started.elapsed())
                .await
                .unwrap_or_else(|error| Readiness::Pending(error.to_string()));
            let settlement = match verdict {
                Readiness::Ready => Settlement::Ready,
                Readiness::Failed(reason) => {
                    deadline = deadline.min(Instant::now() + policy.grace_after_failure);
                    Settlement::Failed(reason)
                }
                Readiness::Pending(reason) => {
                    still_pending.push((item, reason));
                    continue;
                }
            };
            settled.push(Settled {
                item,
                elapsed: started.elapsed(),
                settlement,
            });
        }
        pending = still_pending;
        if pending.is_empty() {
            return settled;
        }
        crate::activity::waiting_for(|| pending_description(&pending));
        if Instant::now() >= deadline {
            settled.extend(pending.into_iter().map(|(item, reason)| Settled {
                item,
                elapsed: started.elapsed(),
                settlement: Settlement::TimedOut(reason),
            }));
            return settled;
        }
        tokio::time::sleep(policy.poll).await;
    }
}

/// What the trial waits for, in one line: the first pending item and its reason, and
/// how many more there are.
fn pending_description<T: Display>(pending: &[(T, String)]) -> String {
    let Some((first, reason)) = pending.first() else {
        return String::new();
    };
    match pending.len() - 1 {
        0 => format!("{first}: {reason}"),
        more => format!("{first}: {reason} (and {more} more)"),
    }
}

/// Waits until `condition` holds for object `name` of `api` (`None` while it does not
/// exist, or once it is gone): kube-runtime's `await_condition` with a deadline.
pub async fn await_condition<K>(
    api: &Api<K>,
    name: &str,
    policy: WaitPolicy,
    condition: impl Fn(Option<&K>) -> Readiness,
) -> Settlement
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let condition = &condition;
    let object = format!("{}/{name}", K::kind(&()));
    let mut settled = await_all(vec![object], policy, |_, _| async move {
        let object = request(format!("get {name}"), api.get_opt(name)).await?;
        Ok(condition(object.as_ref()))
    })
    .await;
    settled
        .pop()
        .map(|settled| settled.settlement)
        .unwrap_or(Settlement::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn policy(timeout_ms: u64, grace_ms: u64) -> WaitPolicy {
        WaitPolicy {
            timeout: Duration::from_millis(timeout_ms),
            poll: Duration::from_millis(1),
            grace_after_failure: Duration::from_millis(grace_ms),
        }
    }

    #[tokio::test]
    async fn items_settle_ready_failed_or_timed_out_with_the_last_reason() {
        let looks = AtomicUsize::new(0);
        let settled = await_all(
            vec!["ready-third", "fails", "never"],
            policy(200, 10_000),
            |item, _| {
                let round = looks.fetch_add(1, Ordering::SeqCst);
                let item = *item;
                async move {
                    Ok(match item {
                        "ready-third" if round >= 6 => Readiness::Ready,
                        "fails" => Readiness::Failed("broken".into()),
                        _ => Readiness::Pending(format!("look {round}")),
                    })
                }
            },
        )
        .await;
        let by_item = |name: &str| settled.iter().find(|s| s.item == name).unwrap();
        assert_eq!(
            by_item("fails").settlement,
            Settlement::Failed("broken".into())
        );
        assert!(by_item("ready-third").settlement.is_ready());
        assert!(
            matches!(&by_item("never").settlement, Settlement::TimedOut(reason) if reason.starts_with("look "))
        );
        assert!(by_item("never").elapsed >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_failure_cuts_the_wait_of_the_others_to_the_grace() {
        let started = Instant::now();
        let settled = await_all(vec![true, false], policy(60_000, 30), |fails, _| {
            let fails = *fails;
            async move {
                Ok(if fails {
                    Readiness::Failed("gone wrong".into())
                } else {
                    Readiness::Pending("slow".into())
                })
            }
        })
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(settled[1].settlement, Settlement::TimedOut("slow".into()));
    }

    #[rstest::rstest]
    #[case::one(&[("StatefulSet/kvstore", "0 of 1 replicas ready")], "StatefulSet/kvstore: 0 of 1 replicas ready")]
    #[case::several(
        &[("Deployment/web", "0 of 2 replicas ready"), ("Service/web", "no ready endpoints"), ("PVC/data", "Pending")],
        "Deployment/web: 0 of 2 replicas ready (and 2 more)"
    )]
    fn a_wait_describes_its_first_pending_item(
        #[case] pending: &[(&str, &str)],
        #[case] expected: &str,
    ) {
        let pending: Vec<(&str, String)> = pending
            .iter()
            .map(|(item, reason)| (*item, reason.to_string()))
            .collect();
        assert_eq!(pending_description(&pending), expected);
    }

    /// Inside a trial, a pending wait is published to the trial's activity.
    #[tokio::test]
    async fn a_pending_wait_is_published_to_the_trials_activity() {
        let activity = crate::activity::TrialActivity::new();
        std::sync::Arc::clone(&activity)
            .scope(async {
                crate::activity::phase_started("ready");
                await_all(vec!["Deployment/web"], policy(30, 30), |_, _| async {
                    Ok(Readiness::Pending("0 of 1 replicas ready".into()))
                })
                .await
            })
            .await;
        let current = activity.current().unwrap();
        assert_eq!(current.phase, "ready");
        assert_eq!(
            current.waiting_for.as_deref(),
            Some("Deployment/web: 0 of 1 replicas ready")
        );
    }

    #[tokio::test]
    async fn failed_requests_are_retried_until_the_deadline() {
        let looks = AtomicUsize::new(0);
        let settled = await_all(vec!["Job/x"], policy(5_000, 5_000), |_, _| {
            let round = looks.fetch_add(1, Ordering::SeqCst);
            async move {
                if round < 3 {
                    Err(KubeError::TimedOut {
                        what: "get x".into(),
                        timeout: Duration::from_secs(1),
                    })
                } else {
                    Ok(Readiness::Ready)
                }
            }
        })
        .await;
        assert!(settled[0].settlement.is_ready());
        assert_eq!(looks.load(Ordering::SeqCst), 4);
    }
}
