//! The scheduler: persistent schedules, fired at most once per slot by whichever
//! orchestrator claims the slot first. Features register what a purpose does by matching
//! on `purpose` in [`dispatch`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::{self, Db, DbError};
use crate::domain::schedule::{self, MissedPolicy, Recurrence, Schedule, ScheduleError};
use crate::state::{AppState, now_ms};

/// What is stored in `spec_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSpec {
    /// How it recurs.
    pub recurrence: Recurrence,
    /// First instant it may fire (ms).
    pub start: i64,
}

/// Errors of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Invalid schedule.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A stored schedule cannot be read.
    #[error("schedule {id}: stored specification unreadable: {reason}")]
    Corrupt {
        /// Schedule id.
        id: String,
        /// Why.
        reason: String,
    },
}

impl From<sqlx::Error> for SchedulerError {
    fn from(e: sqlx::Error) -> Self {
        SchedulerError::Db(DbError::from(e))
    }
}

fn policy_text(p: MissedPolicy) -> &'static str {
    match p {
        MissedPolicy::RunOnceLate => "run_once_late",
        MissedPolicy::Skip => "skip",
    }
}

fn parse(rec: &db::schedules::ScheduleRecord) -> Result<(Schedule, MissedPolicy), SchedulerError> {
    let corrupt = |reason: String| SchedulerError::Corrupt {
        id: rec.id.clone(),
        reason,
    };
    let spec: StoredSpec =
        serde_json::from_str(&rec.spec_json).map_err(|e| corrupt(e.to_string()))?;
    let policy = match rec.missed_policy.as_str() {
        "run_once_late" => MissedPolicy::RunOnceLate,
        "skip" => MissedPolicy::Skip,
        other => return Err(corrupt(format!("unknown missed policy {other:?}"))),
    };
    Ok((
        Schedule::new(spec.recurrence, &rec.time_zone, spec.start)?,
        policy,
    ))
}

/// Creates a schedule with a fixed id unless it exists (idempotent, safe to race).
pub async fn ensure(
    db: &Db,
    id: &str,
    purpose: &str,
    recurrence: Recurrence,
    time_zone: &str,
    start: i64,
    policy: MissedPolicy,
) -> Result<bool, SchedulerError> {
    let sched = Schedule::new(recurrence, time_zone, start)?;
    let spec = StoredSpec { recurrence, start };
    let rec = db::schedules::ScheduleRecord {
        id: id.to_owned(),
        purpose: purpose.to_owned(),
        spec_json: serde_json::to_string(&spec).map_err(|e| SchedulerError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })?,
        time_zone: time_zone.to_owned(),
        missed_policy: policy_text(policy).to_owned(),
        next_fire_at: schedule::next_after(&sched, start - 1),
        last_slot_at: None,
        created_at: now_ms(),
    };
    let mut tx = db.begin().await?;
    let inserted = db::schedules::insert_if_absent(&mut tx, &rec).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// A slot this process claimed and must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// Schedule id.
    pub schedule_id: String,
    /// Its purpose.
    pub purpose: String,
    /// The slot (ms).
    pub slot: i64,
}

/// One pass at `now`: claims every due slot this process wins; returns the fired ones.
pub async fn tick(db: &Db, now: i64, node: &str) -> Result<Vec<Fired>, SchedulerError> {
    let mut tx = db.begin().await?;
    let due = db::schedules::due(&mut tx, now, 100).await?;
    tx.commit().await?;
    let mut fired = Vec::new();
    for rec in due {
        let Some(slot) = rec.next_fire_at else {
            continue;
        };
        let (sched, policy) = match parse(&rec) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "skipping an unreadable schedule");
                continue;
            }
        };
        let Some(decision) = schedule::due(&sched, slot, now, policy) else {
            continue;
        };
        let mut tx = db.begin().await?;
        let won = match db::schedules::claim(
            &mut tx,
            &rec.id,
            slot,
            decision.next,
            decision.fire,
            now,
            node,
        )
        .await
        {
            Ok(won) => won,
            // Lost a race on the fire record or a serialization conflict: the other
            // process has the slot.
            Err(e) => {
                tracing::debug!(error = %e, schedule = %rec.id, "slot claimed elsewhere");
                false
            }
        };
        if won {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
            continue;
        }
        match decision.fire {
            Some(slot) => fired.push(Fired {
                schedule_id: rec.id.clone(),
                purpose: rec.purpose.clone(),
                slot,
            }),
            None => tracing::info!(schedule = %rec.id, slot, "missed slot skipped per policy"),
        }
    }
    Ok(fired)
}

/// Minutes between licence checks (usage crossings are seen within this time; the
/// near-expiry event is raised at most once a day whatever the interval).
pub const LICENCE_CHECK_MINUTES: u32 = 5;

/// Id of the built-in event-retention schedule.
pub const RETENTION_SCHEDULE: &str = "builtin:event-retention";

/// Runs what a fired slot's purpose does and records its result on the slot's fire
/// record (shown by `/api/v1/schedules`).
#[tracing::instrument(skip_all, fields(schedule = %fired.schedule_id, slot = fired.slot))]
pub async fn dispatch(app: &AppState, fired: &Fired) {
    let outcome = run_purpose(app, fired).await;
    if let Err(e) = &outcome {
        tracing::warn!(error = %e, purpose = %fired.purpose, "scheduled task failed");
    }
    let (result, detail) = match outcome {
        Ok(detail) => (FireResult::Ok, detail),
        Err(detail) => (FireResult::Failed, detail),
    };
    let recorded = async {
        let mut tx = app.db.begin().await?;
        db::schedules::finish(
            &mut tx,
            &fired.schedule_id,
            fired.slot,
            now_ms(),
            result.as_str(),
            &detail,
        )
        .await?;
        tx.commit().await.map_err(DbError::from)
    };
    if let Err(e) = recorded.await {
        tracing::warn!(error = %e, "the result of a scheduled task could not be recorded");
    }
}

/// How a fired slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireResult {
    /// The task did its work (or had nothing to do).
    Ok,
    /// The task failed; the detail says why.
    Failed,
}

impl FireResult {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FireResult::Ok => "ok",
            FireResult::Failed => "failed",
        }
    }
}

async fn run_purpose(app: &AppState, fired: &Fired) -> Result<String, String> {
    match fired.purpose.as_str() {
        "event-retention" => crate::housekeeping::once(&app.db, now_ms())
            .await
            .map(|(events, sessions)| {
                format!("{events} old events and {sessions} expired sessions deleted")
            })
            .map_err(|e| format!("event retention failed: {e}")),
        crate::licence::watch::PURPOSE => {
            crate::licence::watch::check(app, crate::licence::today())
                .await
                .map(|n| format!("{n} licence events raised"))
                .map_err(|e| format!("licence check failed: {e}"))
        }
        crate::protection::runner::SNAPSHOT_PURPOSE => {
            crate::protection::runner::scheduled(app, &fired.schedule_id).await
        }
        other => Err(format!("no handler for the schedule purpose {other:?}")),
    }
}

/// Registers built-in schedules and runs the scheduler until shutdown.
pub async fn run(app: AppState, node: String) {
    let start = now_ms();
    if let Err(e) = ensure(
        &app.db,
        RETENTION_SCHEDULE,
        "event-retention",
        Recurrence::EveryHours { n: 1 },
        "UTC",
        start,
        MissedPolicy::RunOnceLate,
    )
    .await
    {
        tracing::error!(error = %e, "cannot register the event-retention schedule");
    }
    if let Err(e) = ensure(
        &app.db,
        crate::licence::watch::SCHEDULE,
        crate::licence::watch::PURPOSE,
        Recurrence::EveryMinutes {
            n: LICENCE_CHECK_MINUTES,
        },
        "UTC",
        start,
        MissedPolicy::RunOnceLate,
    )
    .await
    {
        tracing::error!(error = %e, "cannot register the licence-check schedule");
    }
    if let Err(e) = crate::mail::reencrypt(&app).await {
        tracing::error!(error = %e, "the stored SMTP password could not be re-encrypted");
    }
    let mut shutdown = app.shutdown.clone();
    let mut tick_every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
            _ = tick_every.tick() => {
                // Only the holder of the leader lease fires schedules.
                if !app.leader.is_leader() {
                    continue;
                }
                match tick(&app.db, now_ms(), &node).await {
                    Ok(fired) => {
                        for f in &fired {
                            if !app.leader.is_leader() {
                                tracing::warn!(schedule = %f.schedule_id, slot = f.slot, "lost the leader lease; a claimed slot is not run");
                                break;
                            }
                            dispatch(&app, f).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "scheduler pass failed; retrying"),
                }
            }
        }
    }
}
