//! Runs planned trials with bounded parallelism, per-trial timeouts and orderly
//! cancellation, and turns what happens into [`Event`]s for the reporters.
//!
//! The runner owns time: it announces the run's cluster as the lease reports it, and
//! every heartbeat interval it reads each running trial's [`TrialActivity`] and
//! reports the phases that have run that long, with what they wait for.

mod heartbeat;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;

pub use heartbeat::DEFAULT_INTERVAL as DEFAULT_HEARTBEAT;
use heartbeat::Heartbeats;

use crate::activity::{Current, TrialActivity};
use crate::cluster::LeaseEvent;
use crate::plan::{Trial, TrialId};
use crate::report::{Event, ReportError, Reporter, RunInfo, RunSummary};
use crate::suites::{self, PhaseLog, PhaseRecord, SuiteContext, TrialOutcome, TrialStatus};

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    Signal,
}

/// How the runner paces the run.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Trials at once.
    pub jobs: usize,
    /// A phase running this long gets a heartbeat event, and again every interval.
    pub heartbeat: Duration,
}

/// Runs every trial, at most `pace.jobs` at a time, and feeds every reporter. Stops
/// early and cancels running trials (killing their processes) when `interrupt`
/// resolves.
///
/// Every listed trial gets exactly one outcome: skipped trials are reported as such
/// without running; when interrupted, trials that had started are cancelled and
/// trials that had not are not run, each with the reason.
pub async fn run(
    trials: Vec<Trial>,
    ctx: SuiteContext,
    pace: Pace,
    info: RunInfo,
    reporters: &mut [Box<dyn Reporter>],
    interrupt: impl std::future::Future<Output = Interruption>,
) -> Result<RunSummary, ReportError> {
    let started = Instant::now();
    let jobs = pace.jobs.max(1);
    emit(reporters, &Event::RunStarted(info))?;

    let ctx = Arc::new(ctx);
    // Before any trial can acquire the cluster, so no announcement is missed.
    let mut lease_events = ctx.cluster.as_ref().map(|lease| lease.subscribe());
    let mut heartbeats = Heartbeats::new(pace.heartbeat);
    let mut ticks = tokio::time::interval(heartbeats.tick());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut activities: BTreeMap<TrialId, Arc<TrialActivity>> = BTreeMap::new();
    // What each started trial has done so far, for the outcome of one the run stops.
    let mut logs: HashMap<TrialId, PhaseLog> = HashMap::new();
    // Which trial each task runs, so a task that panicked stops being reported as busy.
    let mut tasks: HashMap<tokio::task::Id, TrialId> = HashMap::new();
    let permits = Arc::new(Semaphore::new(jobs));
    let (events, mut received) = mpsc::unbounded_channel::<Event>();
    let mut running: JoinSet<TrialOutcome> = JoinSet::new();
    let mut unfinished: BTreeMap<TrialId, Trial> = BTreeMap::new();
    let mut outcomes = Vec::new();
    for trial in trials {
        if let Some(reason) = &trial.skipped {
            let outcome = Arc::new(TrialOutcome::did_not_run(
                &trial,
                TrialStatus::Skipped,
                reason.clone(),
            ));
            emit(
                reporters,
                &Event::TrialFinished {
                    outcome: Arc::clone(&outcome),
                },
            )?;
            outcomes.push(outcome);
            continue;
        }
        unfinished.insert(trial.id.clone(), trial.clone());
        let activity = TrialActivity::new();
        activities.insert(trial.id.clone(), Arc::clone(&activity));
        let log = PhaseLog::default();
        logs.insert(trial.id.clone(), log.clone());
        let (ctx, permits, events) = (Arc::clone(&ctx), Arc::clone(&permits), events.clone());
        let id = trial.id.clone();
        let task = running.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let _ = events.send(Event::TrialStarted {
                id: trial.id.clone(),
                at: Instant::now(),
            });
            let watch = TrialWatch {
                log,
                activity: Arc::clone(&activity),
            };
            activity.scope(run_with_timeout(&trial, &ctx, watch)).await
        });
        tasks.insert(task.id(), id);
    }
    drop(events);

    let mut started_at: HashMap<TrialId, Instant> = HashMap::new();
    // The phase each trial was in when the run was interrupted.
    let mut in_progress: HashMap<TrialId, Current> = HashMap::new();
    let mut interrupted = false;
    tokio::pin!(interrupt);
    while !running.is_empty() {
        tokio::select! {
            // Started events are queued before their trial can finish; draining them
            // first keeps every reporter's view in order.
            biased;
            Some(event) = received.recv() => {
                if let Event::TrialStarted { id, at } = &event {
                    started_at.insert(id.clone(), *at);
                }
                emit(reporters, &event)?;
            }
            // Before finished trials: a trial that failed for want of the cluster
            // finishes after the lease said why.
            Some(change) = next_lease_event(&mut lease_events) => {
                emit(reporters, &cluster_event(change))?;
            }
            Some(joined) = running.join_next_with_id() => {
                let task = match &joined {
                    Ok((task, _)) => *task,
                    Err(error) => error.id(),
                };
                if let Some(id) = tasks.remove(&task) {
                    activities.remove(&id);
                    heartbeats.forget(&id);
                }
                let Ok((_, outcome)) = joined else { continue };
                unfinished.remove(&outcome.id);
                let outcome = Arc::new(outcome);
                emit(reporters, &Event::TrialFinished { outcome: Arc::clone(&outcome) })?;
                outcomes.push(outcome);
            }
            _ = ticks.tick() => {
                let now = Instant::now();
                for (id, activity) in &activities {
                    let Some(current) = activity.current() else { continue };
                    if let Some(elapsed) = heartbeats.due(id, &current, now) {
                        emit(reporters, &Event::TrialHeartbeat {
                            id: id.clone(),
                            phase: current.phase,
                            elapsed,
                            waiting_for: current.waiting_for,
                        })?;
                    }
                }
            }
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                for (id, activity) in &activities {
                    in_progress.extend(activity.current().map(|current| (id.clone(), current)));
                }
                // Dropping the trial futures kills their process groups.
                running.abort_all();
                activities.clear();
            }
        }
    }
    // An interrupted acquisition may have announced itself unread.
    if let Some(lease_events) = &mut lease_events {
        while let Ok(change) = lease_events.try_recv() {
            emit(reporters, &cluster_event(change))?;
        }
    }
    // Trials aborted right after they started may have left their start unread.
    while let Ok(event) = received.try_recv() {
        if let Event::TrialStarted { id, at } = &event {
            started_at.insert(id.clone(), *at);
        }
        emit(reporters, &event)?;
    }
    for (id, trial) in unfinished {
        let outcome = Arc::new(if let Some(at) = started_at.get(&id) {
            // The phases it finished, and the one it was in, with their times.
            let mut phases = logs.get(&id).map(PhaseLog::phases).unwrap_or_default();
            phases.extend(
                in_progress
                    .get(&id)
                    .map(|current| PhaseRecord::stopped(current, "the run was interrupted")),
            );
            TrialOutcome {
                id,
                chart_dir: trial.chart.rel_dir.clone(),
                status: TrialStatus::Cancelled,
                phases,
                duration: at.elapsed(),
                reason: Some("the run was interrupted while this trial ran".into()),
                findings: Vec::new(),
                upgrade: None,
                backup_restore: None,
            }
        } else {
            TrialOutcome::did_not_run(
                &trial,
                TrialStatus::NotRun,
                "the run was interrupted before this trial started",
            )
        });
        emit(
            reporters,
            &Event::TrialFinished {
                outcome: Arc::clone(&outcome),
            },
        )?;
        outcomes.push(outcome);
    }
    let cluster = match &ctx.cluster {
        Some(lease) => lease.acquired().await.map(|access| access.description),
        None => None,
    };
    // The lease is released on every way out of a run: all trials done, interrupted,
    // or timed out (their futures are gone by now, so nothing still uses the cluster).
    if let Some(lease) = &ctx.cluster
        && let Err(error) = lease.release().await
    {
        tracing::error!("cluster teardown failed: {error}");
    }
    let summary = RunSummary {
        outcomes,
        elapsed: started.elapsed(),
        interrupted,
        cluster,
    };
    emit(reporters, &Event::RunFinished(summary.clone()))?;
    Ok(summary)
}

/// What the runner keeps of a running trial: the phases it finished and the one it is
/// in, so a trial it stops still reports the work it did.
#[derive(Clone, Debug, Default)]
pub struct TrialWatch {
    pub log: PhaseLog,
    pub activity: Arc<TrialActivity>,
}

/// Runs one trial under its chart's timeout. A timed-out trial's processes are killed
/// when its future is dropped; its outcome keeps the phases it finished, the one it
/// was in, and the timeout.
pub async fn run_with_timeout(
    trial: &Trial,
    ctx: &SuiteContext,
    watch: TrialWatch,
) -> TrialOutcome {
    let timeout = ctx.trial_timeout(trial) + suites::cleanup_allowance(trial);
    let started = Instant::now();
    match tokio::time::timeout(timeout, suites::run_trial(trial, ctx, watch.log.clone())).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let mut phases = watch.log.phases();
            phases.extend(
                watch
                    .activity
                    .current()
                    .map(|current| PhaseRecord::stopped(&current, "the trial's timeout")),
            );
            phases.push(PhaseRecord {
                name: suites::TIMEOUT_PHASE.into(),
                status: suites::PhaseStatus::Failed,
                duration: started.elapsed(),
                problems: vec![crate::problem::Problem::new(format!(
                    "the trial did not finish within {timeout:?}; raise `timeout` in {}/ci/harness.yaml or `trial-timeout` in the config",
                    trial.chart.rel_dir.display()
                ))],
            });
            TrialOutcome {
                id: trial.id.clone(),
                chart_dir: trial.chart.rel_dir.clone(),
                status: TrialStatus::TimedOut,
                phases,
                duration: started.elapsed(),
                reason: None,
                findings: Vec::new(),
                upgrade: None,
                backup_restore: None,
            }
        }
    }
}

async fn next_lease_event(
    events: &mut Option<broadcast::Receiver<LeaseEvent>>,
) -> Option<LeaseEvent> {
    let Some(events) = events else {
        return std::future::pending().await;
    };
    loop {
        match events.recv().await {
            Ok(change) => return Some(change),
            // Two events per run never overflow the channel; if they did, go on.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

fn cluster_event(change: LeaseEvent) -> Event {
    match change {
        LeaseEvent::Creating { intent } => Event::ClusterStarting { intent },
        LeaseEvent::Ready { description, took } => Event::ClusterReady { description, took },
        LeaseEvent::Failed { error, took } => Event::ClusterFailed { error, took },
    }
}

fn emit(reporters: &mut [Box<dyn Reporter>], event: &Event) -> Result<(), ReportError> {
    for reporter in reporters.iter_mut() {
        reporter.handle(event)?;
    }
    Ok(())
}
