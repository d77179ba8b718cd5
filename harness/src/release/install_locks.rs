//! Serializes installs that claim the same cluster-scoped name (the claims themselves
//! are computed, purely, by `k8s::cluster_scoped`).
//!
//! Two charts (or two cases of one chart) that both render, say, a ClusterRole named
//! `metrics-reader` cannot be installed at once: the second install fails or, worse,
//! adopts the first one's object. Each trial takes a lock per fixed cluster-scoped
//! name it renders before installing, and holds it until its uninstall is verified.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

/// The run's locks, one per claimed name (`ClusterRole/metrics-reader`).
#[derive(Debug, Default)]
pub struct InstallLocks {
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held claims; dropping it lets waiting trials go on.
#[derive(Debug)]
pub struct HeldLocks {
    _guards: Vec<OwnedMutexGuard<()>>,
    /// Claims another trial held when this one asked, and how long it waited.
    pub waited: Vec<(String, Duration)>,
}

impl InstallLocks {
    /// Takes every claim, in sorted order so two trials with overlapping claims cannot
    /// deadlock.
    pub async fn acquire(&self, claims: &[String]) -> HeldLocks {
        let mut sorted: Vec<&String> = claims.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut guards = Vec::new();
        let mut waited = Vec::new();
        for claim in sorted {
            let lock = {
                let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
                Arc::clone(locks.entry(claim.clone()).or_default())
            };
            let guard = match Arc::clone(&lock).try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => {
                    crate::activity::waiting_for(|| {
                        format!(
                            "another trial to finish with {claim}, which this chart renders too"
                        )
                    });
                    let started = Instant::now();
                    let guard = lock.lock_owned().await;
                    waited.push((claim.clone(), started.elapsed()));
                    guard
                }
            };
            guards.push(guard);
        }
        HeldLocks {
            _guards: guards,
            waited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_claim_of_the_same_name_waits_for_the_first() {
        let locks = Arc::new(InstallLocks::default());
        let first = locks.acquire(&["ClusterRole/reader".into()]).await;
        assert!(first.waited.is_empty());
        let other = locks.acquire(&["ClusterRole/other".into()]).await;
        assert!(other.waited.is_empty(), "unrelated names do not wait");

        let second = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move { locks.acquire(&["ClusterRole/reader".into()]).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "the same name waits");
        drop(first);
        let second = second.await.unwrap();
        assert_eq!(second.waited.len(), 1);
        assert_eq!(second.waited[0].0, "ClusterRole/reader");
        assert!(second.waited[0].1 >= Duration::from_millis(40));
    }
}
