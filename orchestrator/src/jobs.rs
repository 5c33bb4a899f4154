//! The job engine (jobs.md, "The queue", "States, operations, results"): jobs are
//! rows of `jobs`; every state change goes through [`dr::job_state::step`] and is
//! persisted by a compare-and-set on the row's version, then raises an event and
//! is pushed to monitors. The engine loop ([`run`]) works on the leader-lease holder
//! only: it triggers `at` / `schedule` jobs when due (the compare-and-set makes a
//! slot fire once), applies [`dr::queue::decide`], fires the pause and rollback
//! timers, and keeps a driver task for every job whose state needs work
//! (`running`/`paused`/`canceling`: the executor's recovery under a [`RunControl`];
//! `clearing`: rollback or confirm; `reporting`: the report). Work is derived from
//! the stored state, so a restarted orchestrator (or a new leader) resumes every job
//! where it was: the executor resumes by its ledger.
//!
//! [`dr::job_state::step`]: crate::dr::job_state::step
//! [`dr::queue::decide`]: crate::dr::queue::decide

pub mod record;
pub mod source;
pub mod view;

mod drive;
mod engine_loop;
mod errors;
mod job_schedule;
pub mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use crate::db::DbError;
use crate::db::job_engine::{self as rows, JobRow};
use crate::dr::ids::{JobId, PlanId};
use crate::dr::job::{JobType, RecoveryPoint, RunType};
use crate::dr::job_rules::{self, ExistingJob, JobChange, JobCreationFacts, JobRequest};
use crate::dr::job_state::{
    self, Effect, Event, JobState, Operation, Phase, RetryPoint, StartGate, StateName,
};
use crate::dr::queue;
use crate::events::Severity;
use crate::state::{App, now_ms};
pub use engine_loop::run;
use engine_loop::{Driver, queued_jobs};
pub use errors::{JobError, RetryPointError};
pub use job_schedule::JobSchedule;
use record::CorruptJob;
pub use source::{JobSource, JobSourceError, NoPlans};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Interval of the engine loop.
    pub tick: Duration,
    /// A paused job resumes by itself after this.
    pub pause_timeout: Duration,
    /// Wait before a failed driver (e.g. an unreachable target) is tried again.
    pub retry_after: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            pause_timeout: Duration::from_secs(30 * 60),
            retry_after: Duration::from_secs(10),
        }
    }
}

/// A job to create (after RBAC).
#[derive(Debug, Clone)]
pub struct CreateJob {
    /// Display name.
    pub name: String,
    /// The plan.
    pub plan: PlanId,
    /// Drill or DR.
    pub job_type: JobType,
    /// Now, at, schedule.
    pub run_type: RunType,
    /// The recovery point.
    pub point: RecoveryPoint,
    /// The time of an `at` job (ms).
    pub at: Option<i64>,
    /// The schedule of a `schedule` job.
    pub schedule: Option<JobSchedule>,
    /// The user creating it.
    pub created_by: String,
}

/// A change of a waiting job (jobs.md, "Update").
#[derive(Debug, Clone)]
pub enum JobUpdate {
    /// The new time of an `at` job (ms).
    Time(i64),
    /// The new schedule of a `schedule` job.
    Schedule(JobSchedule),
}

/// The answer to an operation.
#[derive(Debug, Clone)]
pub struct Operated {
    /// The job after it (`None`: it left the job list).
    pub job: Option<JobRow>,
    /// The cleanup script of an ignored rollback.
    pub cleanup_script: Option<String>,
}

/// The job engine (in `AppState`).
#[derive(Debug)]
pub struct Jobs {
    source: Arc<dyn JobSource>,
    options: EngineOptions,
    changes: broadcast::Sender<String>,
    drivers: Mutex<HashMap<String, Driver>>,
    backoff: Mutex<HashMap<String, Instant>>,
    passes: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Jobs {
    /// An engine over `source`.
    pub fn new(source: Arc<dyn JobSource>, options: EngineOptions) -> Jobs {
        Jobs {
            source,
            options,
            changes: broadcast::channel(1024).0,
            drivers: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            passes: watch::channel(0).0,
        }
    }

    /// The number of engine passes ([`Jobs::tick`] on the leader) completed so far,
    /// successful or not: whoever waits for the engine to have looked at the jobs
    /// again (e.g. that a queued job is still not started) awaits two more passes.
    pub fn passes(&self) -> watch::Receiver<u64> {
        self.passes.subscribe()
    }

    /// The plans seam.
    pub fn source(&self) -> &Arc<dyn JobSource> {
        &self.source
    }

    /// Ids of jobs as they change (for monitors).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// Creates a job under the rules of jobs.md; a `now` job is triggered at once.
    #[tracing::instrument(skip_all, fields(plan_id = %req.plan))]
    pub async fn create(
        &self,
        app: &App,
        req: CreateJob,
        authorise: impl FnOnce(&source::PlanFacts) -> Result<(), crate::domain::rbac::Denied>,
    ) -> Result<JobRow, JobError> {
        let facts = self.source.plan_facts(&req.plan).await?;
        authorise(&facts)?;
        let now = now_ms();
        let group_jobs = {
            let mut conn = app.db.conn().await?;
            rows::all(&mut conn).await?
        };
        let existing = group_jobs
            .iter()
            .filter(|j| j.group_id == facts.group.as_str())
            .map(|j| {
                Ok(ExistingJob {
                    id: JobId::new(&j.id),
                    job_type: record::parse_type(&j.job_type)
                        .ok_or_else(|| CorruptJob(format!("job type {:?}", j.job_type)))?,
                    state: record::parse_state(&j.state_json)?.phase.name(),
                })
            })
            .collect::<Result<Vec<_>, CorruptJob>>()?;
        let kind = job_rules::check_create(
            &JobRequest {
                job_type: req.job_type,
                run_type: req.run_type,
                point: req.point.clone(),
            },
            &JobCreationFacts {
                plan_state: facts.plan_state,
                group_jobs: existing,
                snapshots: facts.snapshots.iter().map(|s| s.id.clone()).collect(),
            },
        )?;
        let (at_time, schedule_json, fire_at) = match req.run_type {
            RunType::Now => (None, None, None),
            RunType::At => {
                let at = req.at.ok_or_else(|| {
                    JobError::Invalid("an 'at' job needs 'at', the time to run".into())
                })?;
                (Some(at), None, Some(at))
            }
            RunType::Schedule => {
                let s = req
                    .schedule
                    .clone()
                    .ok_or_else(|| JobError::Invalid("a 'schedule' job needs 'schedule'".into()))?;
                let first = s.next_after(now, now - 1)?;
                let json =
                    serde_json::to_string(&s).map_err(|e| JobError::Invalid(e.to_string()))?;
                (None, Some(json), Some(first))
            }
        };
        let (state, effects) = JobState::created(kind, req.run_type);
        let id = uuid::Uuid::now_v7().to_string();
        let mut row = JobRow {
            id: id.clone(),
            name: req.name.clone(),
            plan_id: req.plan.to_string(),
            group_id: facts.group.to_string(),
            owner_group_id: facts.owner_group.clone(),
            job_type: req.job_type.to_string(),
            run_type: req.run_type.to_string(),
            recovery_point: record::point_string(&req.point),
            at_time,
            schedule_json,
            state: state.phase.name().to_string(),
            state_json: record::state_json(&state),
            version: 0,
            queue_seq: None,
            scheduled_slot: None,
            fire_at,
            run_id: None,
            frozen_json: None,
            triggered_at: None,
            started_at: None,
            completed_at: None,
            pause_until: None,
            rollback_at: None,
            reason: None,
            cleanup_script: None,
            created_by: req.created_by.clone(),
            created_at: now,
            updated_at: now,
        };
        if effects.contains(&Effect::FreezeCopy) {
            self.freeze_into(&mut row, now).await?;
        }
        let event = job_event(&row, "job.created", Severity::Info, "created");
        let mut tx = app.db.begin().await?;
        rows::insert(&mut tx, &row).await?;
        crate::events::record(&mut tx, &event).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.announce(app, &row.id, event).await;
        Ok(row)
    }

    async fn freeze_into(&self, row: &mut JobRow, now: i64) -> Result<(), JobError> {
        let point = record::parse_point_string(&row.recovery_point)?;
        let frozen = self
            .source
            .freeze(&PlanId::new(&row.plan_id), &point)
            .await?;
        row.frozen_json = Some(record::frozen_json(&frozen));
        // random, not time-ordered: a drill's project name takes the run id's first
        // characters, which must differ between runs
        row.run_id = Some(uuid::Uuid::new_v4().to_string());
        row.triggered_at = Some(now);
        row.queue_seq = Some(now);
        Ok(())
    }

    /// Changes the time of a waiting `at` job or the schedule of a `schedule` job.
    pub async fn update(&self, app: &App, id: &str, change: JobUpdate) -> Result<JobRow, JobError> {
        let mut row = self.load(app, id).await?;
        let state = record::parse_state(&row.state_json)?;
        let run = record::parse_run_type(&row.run_type)
            .ok_or_else(|| CorruptJob(format!("run type {:?}", row.run_type)))?;
        let what = match change {
            JobUpdate::Time(_) => JobChange::Time,
            JobUpdate::Schedule(_) => JobChange::Schedule,
        };
        job_rules::check_update(run, state.phase.name(), what)?;
        let now = now_ms();
        match change {
            JobUpdate::Time(at) => {
                row.at_time = Some(at);
                row.fire_at = Some(at);
            }
            JobUpdate::Schedule(s) => {
                let next = s.next_after(row.created_at, now - 1)?;
                row.schedule_json =
                    Some(serde_json::to_string(&s).map_err(|e| JobError::Invalid(e.to_string()))?);
                if state.phase.name() == StateName::Waiting {
                    row.fire_at = Some(next);
                }
            }
        }
        row.updated_at = now;
        let event = job_event(&row, "job.updated", Severity::Info, "updated");
        let mut tx = app.db.begin().await?;
        if !rows::update(&mut tx, &row).await? {
            tx.rollback().await.map_err(DbError::from)?;
            return Err(JobError::Changed(row.id));
        }
        crate::events::record(&mut tx, &event).await?;
        tx.commit().await.map_err(DbError::from)?;
        row.version += 1;
        self.announce(app, &row.id, event).await;
        Ok(row)
    }

    /// Deletes a job that is not running (its target leftovers stay; see the cleanup
    /// script).
    /// Returns the cleanup script of what the job leaves on the target, if anything.
    pub async fn delete(&self, app: &App, id: &str) -> Result<Option<String>, JobError> {
        let row = self.load(app, id).await?;
        let state = record::parse_state(&row.state_json)?;
        let outcome = job_rules::check_delete(&state)?;
        let script = match outcome {
            job_rules::DeleteOutcome::LeavesResources => {
                Some(self.cleanup_script(app, &row).await?)
            }
            job_rules::DeleteOutcome::Clean => None,
        };
        let (severity, what) = match &script {
            Some(_) => (
                Severity::Warning,
                "deleted; its resources stay on the target (cleanup script returned)",
            ),
            None => (Severity::Info, "deleted"),
        };
        let event = job_event(&row, "job.deleted", severity, what);
        let mut tx = app.db.begin().await?;
        if !rows::delete(&mut tx, id, row.version).await? {
            tx.rollback().await.map_err(DbError::from)?;
            return Err(JobError::Changed(row.id));
        }
        crate::events::record(&mut tx, &event).await?;
        tx.commit().await.map_err(DbError::from)?;
        self.announce(app, &row.id, event).await;
        Ok(script)
    }

    async fn load(&self, app: &App, id: &str) -> Result<JobRow, JobError> {
        let mut conn = app.db.conn().await?;
        rows::get(&mut conn, id)
            .await?
            .ok_or_else(|| JobError::NotFound(id.to_owned()))
    }

    /// A user operation on a job (retried over concurrent changes).
    #[tracing::instrument(skip_all, fields(job_id = %id))]
    pub async fn operate(&self, app: &App, id: &str, op: Operation) -> Result<Operated, JobError> {
        let mut last = None;
        for _ in 0..5 {
            let row = self.load(app, id).await?;
            let op = match op {
                Operation::Run(_) => Operation::Run(self.gate(app, &row).await?),
                ref other => other.clone(),
            };
            match self.apply(app, row, Event::Operation(op)).await {
                Err(JobError::Changed(j)) => last = Some(j),
                other => return other,
            }
        }
        Err(JobError::Changed(last.unwrap_or_else(|| id.to_owned())))
    }

    async fn gate(&self, app: &App, row: &JobRow) -> Result<StartGate, JobError> {
        let all = {
            let mut conn = app.db.conn().await?;
            rows::all(&mut conn).await?
        };
        let queued = queued_jobs(&all)?;
        Ok(queue::start_gate(&queued, &JobId::new(&row.id)).unwrap_or(StartGate::Open))
    }

    /// Applies one event: the state machine's step, its effects on the row, the
    /// compare-and-set, then the effects after the commit. `Changed` if the row moved.
    async fn apply(&self, app: &App, row: JobRow, event: Event) -> Result<Operated, JobError> {
        let state = record::parse_state(&row.state_json)?;
        let (mut next, effects) = job_state::step(&state, event)?;
        let now = now_ms();
        let mut new = row.clone();
        let mut script = None;
        let mut retry = None;
        for e in &effects {
            match e {
                Effect::FreezeCopy => {
                    new.scheduled_slot = (new.run_type == "schedule")
                        .then_some(row.fire_at)
                        .flatten();
                    new.fire_at = None;
                    self.freeze_into(&mut new, now).await?;
                }
                Effect::StartRecovery => new.started_at = Some(now),
                Effect::ArmPauseTimeout => {
                    new.pause_until = Some(now + millis(self.options.pause_timeout));
                }
                Effect::DisarmPauseTimeout => new.pause_until = None,
                Effect::ArmRollbackTimer => {
                    let wait = crate::settings::load_from(&app.db)
                        .await?
                        .rollback_wait_minutes;
                    new.rollback_at = Some(now + i64::from(wait) * 60_000);
                }
                Effect::DisarmRollbackTimer => new.rollback_at = None,
                Effect::PostponeRollback(by) => {
                    let from = new.rollback_at.unwrap_or(now).max(now);
                    new.rollback_at = Some(from + i64::from(by.minutes()) * 60_000);
                }
                Effect::RecordReason(r) => new.reason = Some((*r).to_owned()),
                Effect::IssueCleanupScript => {
                    let s = self.cleanup_script(app, &row).await?;
                    new.cleanup_script = Some(s.clone());
                    script = Some(s);
                }
                Effect::StartRetry { instances, point } => {
                    let other = match point {
                        RetryPoint::JobPoint => None,
                        RetryPoint::Other(p) => Some(self.retry_point(&row, p).await?),
                    };
                    let run = JobId::new(row.run_id.clone().ok_or_else(|| {
                        CorruptJob(format!("job {} has no run", row.id))
                    })?);
                    let chosen: std::collections::BTreeSet<_> = instances.iter().cloned().collect();
                    let plan = crate::recovery::retry_tasks(&app.db, &run, &chosen, other.as_ref())
                        .await?
                        .map_err(|r| JobError::RetryRefused(r.to_string()))?;
                    retry = Some((run, plan));
                }
                // performed by the engine loop from the stored state (drivers, report)
                Effect::StartRollback
                | Effect::StartConfirm { .. }
                | Effect::PauseTasks
                | Effect::ResumeTasks
                | Effect::CancelTasks
                | Effect::WriteReport
                // done by the confirm's clear task (JobSource::confirmed)
                | Effect::RemovePlanAndGroup
                // after the commit
                | Effect::RemoveFromJobList
                | Effect::ScheduleNextRun => {}
            }
        }
        // timers live only in the states they belong to
        if !matches!(next.phase, Phase::Paused) {
            new.pause_until = None;
        }
        if !matches!(
            next.phase,
            Phase::Completed { .. } | Phase::ClearFailed { .. }
        ) {
            new.rollback_at = None;
        }
        if matches!(next.phase, Phase::Completed { .. })
            && !matches!(state.phase, Phase::Completed { .. })
        {
            new.completed_at = Some(now);
        }
        let mut removed = effects.contains(&Effect::RemoveFromJobList);
        if effects.contains(&Effect::ScheduleNextRun) {
            match self.next_slot(&row, now) {
                Ok(slot) => {
                    let (rearmed, _) = job_state::step(&next, Event::Rearm)?;
                    next = rearmed;
                    new.fire_at = Some(slot);
                    for f in [
                        &mut new.queue_seq,
                        &mut new.scheduled_slot,
                        &mut new.triggered_at,
                        &mut new.started_at,
                        &mut new.completed_at,
                        &mut new.pause_until,
                        &mut new.rollback_at,
                    ] {
                        *f = None;
                    }
                    new.run_id = None;
                    new.frozen_json = None;
                    new.cleanup_script = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the schedule has no next run; the job leaves the list");
                    removed = true;
                }
            }
        }
        new.state = next.phase.name().to_string();
        new.state_json = record::state_json(&next);
        new.updated_at = now;
        let (code, severity) = event_code(&next);
        let event = job_event(&new, code, severity, &new.state);
        {
            // the last state, its event and the removal from the list commit together
            let mut tx = app.db.begin().await?;
            if !rows::update(&mut tx, &new).await? {
                tx.rollback().await.map_err(DbError::from)?;
                return Err(JobError::Changed(row.id));
            }
            new.version += 1;
            if removed && !rows::delete(&mut tx, &new.id, new.version).await? {
                removed = false;
            }
            if let Some((run, plan)) = &retry {
                crate::recovery::start_retry(&mut tx, run, plan).await?;
            }
            crate::events::record(&mut tx, &event).await?;
            tx.commit().await.map_err(DbError::from)?;
        }
        self.announce(app, &new.id, event).await;
        Ok(Operated {
            job: (!removed).then_some(new),
            cleanup_script: script,
        })
    }

    /// Checks the point of a retry: a snapshot of the job's group that still exists
    /// (the plan's current snapshots).
    async fn retry_point(
        &self,
        row: &JobRow,
        point: &RecoveryPoint,
    ) -> Result<RecoveryPoint, JobError> {
        let RecoveryPoint::Snapshot(id) = point else {
            return Err(RetryPointError::NotASnapshot(record::point_string(point)).into());
        };
        let facts = self.source.plan_facts(&PlanId::new(&row.plan_id)).await?;
        if !facts.snapshots.iter().any(|s| &s.id == id) {
            return Err(RetryPointError::UnknownSnapshot {
                snapshot: id.to_string(),
                group: row.group_id.clone(),
                plan: row.plan_id.clone(),
            }
            .into());
        }
        Ok(point.clone())
    }

    fn next_slot(&self, row: &JobRow, now: i64) -> Result<i64, JobError> {
        let s: JobSchedule = serde_json::from_str(row.schedule_json.as_deref().unwrap_or(""))
            .map_err(|e| CorruptJob(format!("schedule: {e}")))?;
        s.next_after(row.created_at, now)
    }

    async fn cleanup_script(&self, app: &App, row: &JobRow) -> Result<String, JobError> {
        let Some(run) = &row.run_id else {
            return Ok("#!/bin/sh\n# the job created nothing on the target\n".into());
        };
        let created = crate::recovery::created_resources(&app.db, &JobId::new(run)).await?;
        Ok(created.cleanup_script(&JobId::new(&row.id), &Default::default()))
    }

    /// After the commit of a change and its event: the event goes out (live stream,
    /// e-mail, webhook) and monitors hear of the job.
    async fn announce(&self, app: &App, id: &str, event: crate::events::Event) {
        if let Err(e) = crate::events::deliver(app, event).await {
            tracing::warn!(error = %e, job_id = %id, "cannot deliver the job event");
        }
        let _ = self.changes.send(id.to_owned());
    }
}

/// The event of a change of a job, recorded in the transaction of the change.
fn job_event(row: &JobRow, code: &str, severity: Severity, what: &str) -> crate::events::Event {
    crate::events::Event::new(
        code,
        severity,
        format!("{} job {:?} ({}): {what}", row.job_type, row.name, row.id),
    )
    .object("job", &row.id)
    .object("plan", &row.plan_id)
    .object("protection_group", &row.group_id)
    .group(Some(row.owner_group_id.clone()))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn event_code(s: &JobState) -> (&'static str, Severity) {
    match s.phase {
        Phase::Waiting => ("job.waiting", Severity::Info),
        Phase::Pending => ("job.pending", Severity::Info),
        Phase::Running => ("job.started", Severity::Info),
        Phase::Paused => ("job.paused", Severity::Warning),
        Phase::Canceling => ("job.canceling", Severity::Warning),
        Phase::Completed { result } => match result {
            crate::dr::job::JobResult::Success => ("job.completed", Severity::Info),
            crate::dr::job::JobResult::PartialSuccess | crate::dr::job::JobResult::Canceled => {
                ("job.completed", Severity::Warning)
            }
            crate::dr::job::JobResult::Failed => ("job.failed", Severity::Error),
        },
        Phase::Clearing { .. } => ("job.clearing", Severity::Info),
        Phase::ClearFailed { .. } => ("job.clear_failed", Severity::Error),
        Phase::Reporting { .. } => ("job.reporting", Severity::Info),
        Phase::Finished { .. } => ("job.finished", Severity::Info),
    }
}
