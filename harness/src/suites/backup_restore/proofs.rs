//! What makes a backup-restore trial's verdict mean something: the absent-checks see
//! the mutation, the disaster is made real (and proved to have removed the data), and
//! the recovery starts from other pods and claims than before.

use std::time::Duration;

use super::RoundTripRun;
use crate::config::backup_restore_settings::Disaster;
use crate::k8s::readiness;
use crate::problem::Problem;
use crate::release::rollout::{PodSeen, PodsAndClaims};
use crate::release::{ReleaseUnderTest, TrialNamespace};
use crate::suites::PhaseRecorder;

impl RoundTripRun<'_> {
    /// `verify-mutated[i]`: with the mutation in place, each absent-check must fail;
    /// one that passes cannot tell a restore that brings the mutation back.
    pub(super) async fn absent_checks_see_the_mutation(
        &self,
        release: &ReleaseUnderTest<'_>,
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let env = self.env(None);
        for (index, step) in self.spec.absent.iter().enumerate() {
            let phase = format!("verify-mutated[{index}]");
            recorder.begin(&phase);
            let ran = self.attempt(release, step, &env).await;
            let problems = match ran.value {
                Err(error) if error.is_definite_check_failure() => Vec::new(),
                Err(error) => vec![Problem::in_file(&self.settings_file, error.to_string())],
                Ok(output) => vec![Problem::in_file(
                    &self.settings_file,
                    format!(
                        "`{}` passes while the data `mutate` wrote is there (output: {:?}), so it cannot tell a restore that brings that data back; make it fail when the mutated data is present",
                        step.label,
                        output.trim_end()
                    ),
                )],
            };
            if !recorder.record(&phase, ran.elapsed, problems) {
                return false;
            }
        }
        true
    }

    /// `disaster` (and `wipe[i]`) of `release`, then `reinstall` of `reinstalled` (the
    /// same release, or with `across-upgrade` the candidate chart) and its waits.
    pub(super) async fn disaster(
        &self,
        release: &ReleaseUnderTest<'_>,
        reinstalled: &ReleaseUnderTest<'_>,
        namespace: &TrialNamespace,
        workloads: &[readiness::Workload],
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let started = recorder.begin("disaster");
        match &self.spec.disaster {
            Disaster::Uninstall => {
                let uninstalled = release.uninstall(&[release.name.as_str()]).await;
                let mut problems: Vec<Problem> =
                    uninstalled.value.into_iter().map(Into::into).collect();
                if problems.is_empty() {
                    let deleted = release.delete_claims().await;
                    match deleted.value {
                        Ok(claims) if !claims.is_empty() => recorder.context(
                            "claims-deleted",
                            Duration::ZERO,
                            vec![Problem::new(claims.join(", "))],
                        ),
                        Ok(_) => {}
                        Err(error) => problems.push(error.into()),
                    }
                }
                if !recorder.record("disaster", started.elapsed(), problems) {
                    return false;
                }
                self.install(reinstalled, "reinstall", workloads, recorder)
                    .await
            }
            Disaster::DeleteNamespace => {
                let recreated = namespace.recreate(release.kube).await;
                if !recorder.record(
                    "disaster",
                    started.elapsed(),
                    recreated.value.err().into_iter().map(Into::into).collect(),
                ) {
                    return false;
                }
                self.install(reinstalled, "reinstall", workloads, recorder)
                    .await
            }
            Disaster::ScaleToZeroAndWipe(wipe) => {
                let scaled = release.scale_to_zero().await;
                let scaled = match scaled.value {
                    Ok(scaled) => scaled,
                    Err(error) => {
                        recorder.record("disaster", started.elapsed(), vec![error.into()]);
                        return false;
                    }
                };
                recorder.record("disaster", started.elapsed(), Vec::new());
                if !self.steps(release, "wipe", wipe, None, recorder).await {
                    return false;
                }
                let started = recorder.begin("reinstall");
                let back = release.scale_back(&scaled).await;
                if !recorder.record(
                    "reinstall",
                    started.elapsed(),
                    back.value.err().into_iter().map(Into::into).collect(),
                ) {
                    return false;
                }
                self.wait(release, "reinstall", workloads, recorder).await
            }
        }
    }

    /// `disaster-is-real`: after the disaster and a reinstall without a restore, a
    /// present-check must fail (the seeded data is gone) and every absent-check pass
    /// (what `mutate` wrote is gone too: an equality check also fails on data that
    /// survived with the mutation in it). Otherwise the restore would prove nothing.
    pub(super) async fn disaster_is_real(
        &self,
        release: &ReleaseUnderTest<'_>,
        before: &PodsAndClaims,
        recorder: &mut PhaseRecorder,
    ) -> bool {
        let started = recorder.begin("disaster-is-real");
        let env = self.env(None);
        let checks = self
            .trip
            .present
            .iter()
            .map(|step| (true, step))
            .chain(self.spec.absent.iter().map(|step| (false, step)));
        let (mut seeded_gone, mut mutation_kept) = (false, None);
        for (present, step) in checks {
            match self.attempt(release, step, &env).await.value {
                Ok(_) => {}
                Err(error) if error.is_definite_check_failure() => {
                    if present {
                        seeded_gone = true;
                    } else {
                        mutation_kept = Some(step.label.clone());
                    }
                }
                Err(error) => {
                    return recorder.record(
                        "disaster-is-real",
                        started.elapsed(),
                        vec![Problem::in_file(
                            &self.settings_file,
                            format!("cannot tell whether the disaster removed the data: {error}"),
                        )],
                    );
                }
            }
        }
        let problems = if seeded_gone && mutation_kept.is_none() {
            Vec::new()
        } else {
            let seen = match &mutation_kept {
                Some(label) => {
                    format!("`{label}` fails: the data written after the backup is still there")
                }
                None => "every present-check still passes".to_string(),
            };
            let now = release.pods_and_claims().await.value.unwrap_or_default();
            let survivors: Vec<&str> = before
                .claims
                .iter()
                .filter(|(name, (uid, _))| {
                    now.claims
                        .get(*name)
                        .is_some_and(|(now_uid, _)| now_uid == uid)
                })
                .map(|(name, _)| name.as_str())
                .collect();
            let hint = if survivors.is_empty() {
                String::new()
            } else {
                format!(
                    "; claims that outlived it: {} (the disaster deletes the claims labelled app.kubernetes.io/instance={}; a claim without that label, kept by its StatefulSet's retention policy, is what a user's cleanup misses too: put the label in the StatefulSet's selector or its volumeClaimTemplates)",
                    survivors.join(", "),
                    release.name
                )
            };
            vec![Problem::in_file(
                &self.settings_file,
                format!(
                    "the disaster did not remove the data (retained PVC?): after `{}` and a reinstall with no restore, {seen}, so the restore would prove nothing{hint}",
                    self.spec.disaster.name()
                ),
            )]
        };
        recorder.record("disaster-is-real", started.elapsed(), problems)
    }
}

/// Pods (and, unless the disaster keeps them, claims) that are the very ones from
/// before the disaster: the recovery did not start from nothing.
pub(super) fn same_as_before(
    before: &PodsAndClaims,
    after: &PodsAndClaims,
    kept_claims: bool,
) -> Vec<String> {
    let mut found = Vec::new();
    // A Job's pod (a backup the CronJob made, a step's Job) outlives the disaster when
    // the disaster keeps the namespace; it serves no data.
    let serving = |pod: &&PodSeen| pod.owner_kind.as_deref() != Some("Job");
    for pod in after.pods.iter().filter(serving) {
        if before.pods.iter().any(|old| old.uid == pod.uid) {
            found.push(format!(
                "pod {} is the one from before the disaster (uid {}): the disaster did not replace it",
                pod.name, pod.uid
            ));
        }
    }
    if !kept_claims {
        for (name, (uid, _)) in &after.claims {
            if before.claims.values().any(|(old, _)| old == uid) {
                found.push(format!(
                    "claim {name} is the one from before the disaster (uid {uid}): its data was never lost"
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pod(name: &str, uid: &str) -> PodSeen {
        PodSeen {
            name: name.into(),
            uid: uid.into(),
            labels: BTreeMap::new(),
            owner_kind: None,
            restarts: BTreeMap::new(),
        }
    }

    #[test]
    fn a_recovery_is_new_when_no_pod_or_claim_is_the_old_one() {
        let before = PodsAndClaims {
            pods: vec![pod("kvstore-0", "a")],
            claims: BTreeMap::from([("data-kvstore-0".into(), ("c1".into(), "Bound".into()))]),
        };
        let fresh = PodsAndClaims {
            pods: vec![pod("kvstore-0", "b")],
            claims: BTreeMap::from([("data-kvstore-0".into(), ("c2".into(), "Bound".into()))]),
        };
        assert!(same_as_before(&before, &fresh, false).is_empty());
        let kept = PodsAndClaims {
            pods: vec![pod("kvstore-0", "b")],
            claims: before.claims.clone(),
        };
        assert_eq!(
            same_as_before(&before, &kept, false),
            [
                "claim data-kvstore-0 is the one from before the disaster (uid c1): its data was never lost"
            ]
        );
        assert!(
            same_as_before(&before, &kept, true).is_empty(),
            "scale-to-zero-and-wipe keeps its claims by design"
        );
        assert_eq!(same_as_before(&before, &before, true).len(), 1);
        let with_a_backup_job = PodsAndClaims {
            pods: vec![
                pod("kvstore-0", "b"),
                PodSeen {
                    owner_kind: Some("Job".into()),
                    ..pod("kvstore-backup-x1", "j")
                },
            ],
            claims: BTreeMap::new(),
        };
        let before_with_job = PodsAndClaims {
            pods: vec![pod("kvstore-0", "a"), with_a_backup_job.pods[1].clone()],
            claims: BTreeMap::new(),
        };
        assert!(
            same_as_before(&before_with_job, &with_a_backup_job, true).is_empty(),
            "a Job's pod serves no data"
        );
    }
}
