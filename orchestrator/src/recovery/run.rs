//! The recovery run: tasks in dependency order, independent ones concurrently up to
//! the configured bound, each task's state stored before it starts and after it ends
//! so that a restarted orchestrator resumes where the job was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::cloud::TargetCloud;
use super::journal::Write;
use super::ledger::{Checkpoint, Clock, Ledger};
use super::{
    Executor, LoadedJob, RECOVERY, RecoveryError, RecoveryReport, RunControl, now_ms, outcome_text,
    tasks,
};
use crate::db::{Db, jobs};
use crate::dr::recovery_graph::{Next, TaskId, TaskStatus};

fn status_of(state: &str) -> Option<TaskStatus> {
    match state {
        "succeeded" => Some(TaskStatus::Succeeded),
        "failed" => Some(TaskStatus::Failed),
        "skipped" => Some(TaskStatus::Skipped),
        _ => None,
    }
}

async fn statuses(db: &Db, job: &LoadedJob) -> Result<BTreeMap<TaskId, TaskStatus>, RecoveryError> {
    let mut conn = db.conn().await?;
    let rows = jobs::tasks(&mut conn, job.id.as_str(), RECOVERY).await?;
    Ok(statuses_of(&rows))
}

fn statuses_of(rows: &[jobs::TaskRecord]) -> BTreeMap<TaskId, TaskStatus> {
    rows.iter()
        .filter_map(|r| {
            let s = status_of(&r.state)?;
            Some((TaskId(usize::try_from(r.task_index).ok()?), s))
        })
        .collect()
}

fn line(task: Option<usize>, level: &str, message: String) -> jobs::LogLine {
    jobs::LogLine {
        stage: RECOVERY.into(),
        task_index: task.and_then(|t| i64::try_from(t).ok()),
        at: now_ms(),
        level: level.into(),
        message,
    }
}

async fn log(
    db: &Db,
    job: &LoadedJob,
    task: Option<usize>,
    level: &str,
    message: String,
) -> Result<(), RecoveryError> {
    let mut conn = db.conn().await?;
    jobs::log(&mut conn, job.id.as_str(), &line(task, level, message)).await?;
    Ok(())
}

/// The report of a job whose tasks have all ended.
pub(super) async fn report(db: &Db, job: &LoadedJob) -> Result<RecoveryReport, RecoveryError> {
    let mut conn = db.conn().await?;
    let tasks = jobs::tasks(&mut conn, job.id.as_str(), RECOVERY).await?;
    drop(conn);
    let status = statuses_of(&tasks);
    let instances = job.graph.instance_outcomes(&status).ok_or_else(|| {
        RecoveryError::Corrupt(format!(
            "job {} is recovered but has unfinished tasks",
            job.id
        ))
    })?;
    let outcome = crate::dr::recovery_graph::outcome_of(&instances);
    Ok(RecoveryReport {
        outcome,
        instances,
        tasks,
    })
}

/// Runs one task: records it running, executes it (retrying transient cloud
/// failures), records its end with a log line; returns its status.
async fn run_task(
    job: &LoadedJob,
    ledger: &Ledger,
    cloud: &TargetCloud,
    index: usize,
    description: &str,
) -> Result<TaskStatus, RecoveryError> {
    let journal = ledger.journal();
    journal.send(Write::TaskRunning {
        stage: RECOVERY,
        index: index as i64,
    })?;
    ledger
        .checkpoint(Checkpoint::TaskStarting {
            stage: RECOVERY,
            index,
        })
        .await;
    let clock = Clock::new();
    let start = Instant::now();
    let attempts = cloud.options().task_attempts.max(1);
    let mut result = Ok(());
    for attempt in 1..=attempts {
        result = tasks::execute(job, ledger, cloud, &clock, index).await;
        match &result {
            Err(e) if e.is_transient() && attempt < attempts => {
                tracing::warn!(error = %e, attempt, "task failed transiently; retrying");
                tokio::time::sleep(cloud.options().poll_interval).await;
            }
            _ => break,
        }
    }
    let cloud_time = start.elapsed().saturating_sub(clock.db_time());
    let cloud_ms = i64::try_from(cloud_time.as_millis()).unwrap_or(i64::MAX);
    let (state, error) = match &result {
        Ok(()) => (TaskStatus::Succeeded, None),
        Err(e) => {
            tracing::warn!(task = index, error = %e, "recovery task failed");
            (TaskStatus::Failed, Some(e.to_string()))
        }
    };
    let (text, level, message) = match &error {
        None => ("succeeded", "info", format!("{description}: done")),
        Some(e) => ("failed", "error", format!("{description}: failed: {e}")),
    };
    journal.send(Write::TaskFinished {
        stage: RECOVERY,
        index: index as i64,
        state: text,
        cloud_ms,
        error,
    })?;
    journal.send(Write::Log(jobs::LogLine {
        stage: RECOVERY.into(),
        task_index: i64::try_from(index).ok(),
        at: now_ms(),
        level: level.into(),
        message,
    }))?;
    ledger
        .checkpoint(Checkpoint::TaskFinished {
            stage: RECOVERY,
            index,
        })
        .await;
    Ok(state)
}

/// The log line of a run that has stopped between tasks for a pause.
pub(crate) const PAUSED: &str =
    "paused: no task is running and none starts until the job is resumed or canceled";

/// Runs (or resumes) the recovery to its end.
pub(super) async fn run(
    ex: &Executor,
    job: Arc<LoadedJob>,
    mut control: watch::Receiver<RunControl>,
) -> Result<RecoveryReport, RecoveryError> {
    let db = &ex.db;
    let id = job.id.as_str();
    if !job.rounds.is_empty() {
        // a retry from another point replaces what the earlier point created
        super::rollback::remove_replaced(ex, &job).await?;
    }
    let descriptions: Vec<String> = job
        .graph
        .tasks()
        .iter()
        .map(|t| t.kind.to_string())
        .collect();
    let message = match job.phase.as_str() {
        "recovering" => "recovery resumed after a restart".to_owned(),
        // the retry itself was logged when it was started
        "retrying" => "retry started".to_owned(),
        _ => format!("recovery started: {} tasks", descriptions.len()),
    };
    {
        // one transaction: one commit for every task row, not one per task
        let mut tx = db.begin().await?;
        jobs::ensure_tasks(&mut tx, id, RECOVERY, &descriptions).await?;
        jobs::mark_started(&mut tx, id, now_ms()).await?;
        jobs::set_phase(&mut tx, id, "recovering", None, now_ms()).await?;
        jobs::log(&mut tx, id, &line(None, "info", message)).await?;
        tx.commit().await.map_err(crate::db::DbError::from)?;
    }
    let ledger = Arc::new(Ledger::load(db.clone(), id, ex.hook.clone()).await?);
    let mut status = statuses(db, &job).await?;
    let mut running: BTreeSet<TaskId> = BTreeSet::new();
    let mut set: JoinSet<(usize, Result<TaskStatus, RecoveryError>)> = JoinSet::new();
    let max = ex.cloud.options().concurrency.max(1);
    // a dropped control sender leaves the run as it is (running)
    let mut control_live = true;
    // logged once per pause, when the last running task has ended
    let mut parked = false;
    loop {
        let ctl = *control.borrow_and_update();
        if ctl != RunControl::Pause {
            parked = false;
        }
        let mut skipped = false;
        if ctl == RunControl::Cancel {
            // no new task starts; every task not started ends as skipped
            for (n, _) in job.graph.tasks().iter().enumerate() {
                let t = TaskId(n);
                if status.contains_key(&t) || running.contains(&t) {
                    continue;
                }
                ledger
                    .journal()
                    .write(Write::TaskFinished {
                        stage: RECOVERY,
                        index: n as i64,
                        state: "skipped",
                        cloud_ms: 0,
                        error: Some("the job was canceled".into()),
                    })
                    .await?;
                status.insert(t, TaskStatus::Skipped);
            }
        }
        let next = if ctl == RunControl::Run {
            job.graph.next(&status, &running)
        } else {
            Vec::new()
        };
        for n in next {
            match n {
                Next::Skip(t) => {
                    ledger
                        .journal()
                        .write(Write::TaskFinished {
                            stage: RECOVERY,
                            index: t.0 as i64,
                            state: "skipped",
                            cloud_ms: 0,
                            error: Some("a task it requires failed or was skipped".into()),
                        })
                        .await?;
                    status.insert(t, TaskStatus::Skipped);
                    skipped = true;
                }
                Next::Run(t) if running.len() < max => {
                    running.insert(t);
                    let (job, ledger, cloud) = (job.clone(), ledger.clone(), ex.cloud.clone());
                    let description = descriptions[t.0].clone();
                    let span = tracing::info_span!("recovery_task", job_id = %job.id, task = t.0);
                    set.spawn(
                        async move {
                            let result = run_task(&job, &ledger, &cloud, t.0, &description).await;
                            (t.0, result)
                        }
                        .instrument(span),
                    );
                }
                Next::Run(_) => {}
            }
        }
        if skipped {
            continue;
        }
        if set.is_empty() && ctl == RunControl::Pause && control_live {
            // paused between tasks: wait for a resume or a cancel
            if !parked {
                parked = true;
                log(db, &job, None, "info", PAUSED.to_owned()).await?;
            }
            if control.changed().await.is_err() {
                control_live = false;
            }
            continue;
        }
        let joined = tokio::select! {
            joined = set.join_next() => joined,
            changed = control.changed(), if control_live => {
                if changed.is_err() {
                    control_live = false;
                }
                continue;
            }
        };
        let Some(joined) = joined else {
            if ctl == RunControl::Pause && !control_live {
                // the controller is gone while paused: resume
                control = watch::channel(RunControl::Run).1;
                continue;
            }
            break;
        };
        let (task, result) = match joined {
            Ok(d) => d,
            Err(e) => {
                return Err(RecoveryError::Corrupt(format!(
                    "a recovery task panicked: {e}"
                )));
            }
        };
        // a task that could not record its own end stops the run (the database is
        // gone): the job resumes from what was recorded
        let state = result?;
        let t = TaskId(task);
        running.remove(&t);
        status.insert(t, state);
    }
    // every task's end is committed before the job is marked recovered
    ledger.journal().flush().await?;
    let instances = job.graph.instance_outcomes(&status).ok_or_else(|| {
        RecoveryError::Corrupt("the task graph stopped with unfinished tasks".into())
    })?;
    let outcome = crate::dr::recovery_graph::outcome_of(&instances);
    let ok = instances.values().filter(|v| **v).count();
    {
        // the phase and its log line commit together
        let mut tx = db.begin().await?;
        jobs::set_phase(
            &mut tx,
            id,
            "recovered",
            Some(outcome_text(outcome)),
            now_ms(),
        )
        .await?;
        jobs::log(
            &mut tx,
            id,
            &line(
                None,
                "info",
                format!(
                    "recovery ended: {} ({ok} of {} instances recovered)",
                    outcome_text(outcome),
                    instances.len()
                ),
            ),
        )
        .await?;
        tx.commit().await.map_err(crate::db::DbError::from)?;
    }
    report(db, &job).await
}
