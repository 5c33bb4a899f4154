//! The engine loop: one [`Jobs::tick`] per interval on the leader — triggers, queue
//! decisions, timers — and a driver task for every job whose stored state needs work.

use std::time::Instant;

use tokio::sync::watch;

use super::{JobError, Jobs, drive, lock, record, report};
use crate::db::job_engine::{self as rows, JobRow};
use crate::dr::ids::{GroupId, JobId};
use crate::dr::job_state::{Event, Operation, StartGate, StateName};
use crate::dr::queue::{self, QueueDecision, QueuedJob};
use crate::recovery::RunControl;
use crate::state::{App, AppState, now_ms};

#[derive(Debug)]
pub(super) struct Driver {
    kind: DriverKind,
    control: Option<watch::Sender<RunControl>>,
    handle: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DriverKind {
    Recovery,
    Clear,
}

fn control_of(state: StateName) -> Option<RunControl> {
    match state {
        StateName::Running => Some(RunControl::Run),
        StateName::Paused => Some(RunControl::Pause),
        StateName::Canceling => Some(RunControl::Cancel),
        _ => None,
    }
}

impl Jobs {
    /// One pass of the engine (the leader's loop calls it every tick).
    pub async fn tick(&self, app: &AppState) -> Result<(), JobError> {
        let now = now_ms();
        let all = {
            let mut conn = app.db.conn().await?;
            rows::all(&mut conn).await?
        };
        // triggers: a waiting job whose time came (the compare-and-set fires it once)
        for row in &all {
            if row.state == "waiting" && row.fire_at.is_some_and(|t| t <= now) {
                let id = row.id.clone();
                if let Err(e) = self.apply(app, row.clone(), Event::Trigger).await {
                    tracing::warn!(job_id = %id, error = %e, "cannot trigger the job");
                    self.note(app, &id, &e).await;
                }
            }
        }
        let all = {
            let mut conn = app.db.conn().await?;
            rows::all(&mut conn).await?
        };
        let queued = queued_jobs(&all)?;
        let ts = jiff::Timestamp::from_millisecond(now).unwrap_or_else(|_| jiff::Timestamp::now());
        for d in queue::decide(&queued, ts) {
            let (id, event) = match d {
                QueueDecision::Start(id) => (id, Event::Operation(Operation::Run(StartGate::Open))),
                QueueDecision::CancelLate(id) => (id, Event::StartDeadlinePassed),
            };
            if let Some(row) = all.iter().find(|r| r.id == id.as_str())
                && let Err(e) = self.apply(app, row.clone(), event).await
            {
                tracing::warn!(job_id = %id, error = %e, "queue decision not applied");
            }
        }
        // timers
        for row in &all {
            let event = match row.state.as_str() {
                "paused" if row.pause_until.is_some_and(|t| t <= now) => Event::PauseTimeout,
                "completed" | "clear-failed"
                    if row.job_type == "drill" && row.rollback_at.is_some_and(|t| t <= now) =>
                {
                    Event::RollbackTimeout
                }
                _ => continue,
            };
            let fresh = self.load(app, &row.id).await?;
            if fresh.version == row.version
                && let Err(e) = self.apply(app, fresh, event).await
            {
                tracing::warn!(job_id = %row.id, error = %e, "timer not applied");
            }
        }
        // work derived from the stored state
        let all = {
            let mut conn = app.db.conn().await?;
            rows::all(&mut conn).await?
        };
        self.reap();
        for row in all {
            let state = row.state.as_str();
            if let Some(ctl) = control_of(record::parse_state(&row.state_json)?.phase.name()) {
                self.ensure_driver(app, &row, DriverKind::Recovery, Some(ctl));
            } else if state == "clearing" {
                self.ensure_driver(app, &row, DriverKind::Clear, None);
            } else if state == "reporting" {
                let id = row.id.clone();
                if let Err(e) = report::write(self, app, row).await {
                    tracing::warn!(job_id = %id, error = %e, "cannot write the job report");
                }
            }
        }
        Ok(())
    }

    /// Forgets drivers that ended.
    fn reap(&self) {
        lock(&self.drivers).retain(|_, d| !d.handle.is_finished());
    }

    fn ensure_driver(
        &self,
        app: &AppState,
        row: &JobRow,
        kind: DriverKind,
        control: Option<RunControl>,
    ) {
        let mut drivers = lock(&self.drivers);
        if let Some(d) = drivers.get(&row.id) {
            if d.kind == kind {
                if let (Some(tx), Some(ctl)) = (&d.control, control) {
                    tx.send_if_modified(|c| {
                        let changed = *c != ctl;
                        *c = ctl;
                        changed
                    });
                }
                return;
            }
            // a driver of the other kind is ending; wait for it
            return;
        }
        if lock(&self.backoff)
            .get(&row.id)
            .is_some_and(|t| Instant::now() < *t)
        {
            return;
        }
        let (tx, rx) = watch::channel(control.unwrap_or(RunControl::Run));
        let app2 = app.clone();
        let row2 = row.clone();
        let span = tracing::info_span!("job_driver", job_id = %row.id, plan_id = %row.plan_id, group_id = %row.group_id);
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let id = row2.id.clone();
                let result = match kind {
                    DriverKind::Recovery => drive::recovery(&app2, row2, rx).await,
                    DriverKind::Clear => drive::clear(&app2, row2).await,
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "job driver failed; it is tried again");
                    let jobs = &app2.jobs;
                    lock(&jobs.backoff)
                        .insert(id.clone(), Instant::now() + jobs.options.retry_after);
                    jobs.note(&app2, &id, &e).await;
                }
            },
            span,
        ));
        drivers.insert(
            row.id.clone(),
            Driver {
                kind,
                control: control.map(|_| tx),
                handle,
            },
        );
    }

    /// Records the last failure on the job (best effort: shown by the monitor).
    async fn note(&self, app: &App, id: &str, e: &JobError) {
        let Ok(mut row) = self.load(app, id).await else {
            return;
        };
        let text = e.to_string();
        if row.reason.as_deref() == Some(text.as_str()) {
            return;
        }
        row.reason = Some(text);
        row.updated_at = now_ms();
        if let Ok(mut conn) = app.db.conn().await
            && rows::update(&mut conn, &row).await.unwrap_or(false)
        {
            let _ = self.changes.send(row.id.clone());
        }
    }

    /// Stops every driver (leadership lost or shutdown); the jobs resume elsewhere.
    fn stop_drivers(&self) {
        for (_, d) in lock(&self.drivers).drain() {
            d.handle.abort();
        }
    }
}

pub(super) fn queued_jobs(all: &[JobRow]) -> Result<Vec<QueuedJob>, JobError> {
    all.iter()
        .map(|r| {
            Ok(QueuedJob {
                id: JobId::new(&r.id),
                group: GroupId::new(&r.group_id),
                state: record::parse_state(&r.state_json)?.phase.name(),
                queued: r
                    .queue_seq
                    .and_then(|q| u64::try_from(q).ok())
                    .unwrap_or(u64::MAX),
                scheduled_slot: r
                    .scheduled_slot
                    .and_then(|s| jiff::Timestamp::from_millisecond(s).ok()),
            })
        })
        .collect()
}

/// The engine loop: on the leader-lease holder only, one [`Jobs::tick`] per interval
/// (and at once after a job changed); drivers stop when the lease is lost.
pub async fn run(app: AppState) {
    let mut shutdown = app.shutdown.clone();
    let mut changes = app.jobs.subscribe();
    let mut every = tokio::time::interval(app.jobs.options.tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    app.jobs.stop_drivers();
                    return;
                }
                continue;
            }
            _ = every.tick() => {}
            _ = changes.recv() => {}
        }
        if !app.leader.is_leader() {
            if leading {
                tracing::warn!(
                    "lost the leader lease; job drivers stop (the new leader resumes them)"
                );
                app.jobs.stop_drivers();
                leading = false;
            }
            continue;
        }
        leading = true;
        if let Err(e) = app.jobs.tick(&app).await {
            tracing::warn!(error = %e, "job engine pass failed; retrying");
        }
        app.jobs.passes.send_modify(|n| *n += 1);
    }
}
