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
pub mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::db::DbError;
use crate::db::job_engine::{self as rows, JobRow};
use crate::domain::schedule::{self, Recurrence, Schedule, ScheduleError};
use crate::dr::ids::{GroupId, JobId, PlanId};
use crate::dr::job::{JobType, RecoveryPoint, RunType};
use crate::dr::job_rules::{
    self, CreateJobError, DeleteJobError, ExistingJob, JobChange, JobCreationFacts, JobRequest,
    UpdateJobError,
};
use crate::dr::job_state::{
    self, Effect, Event, InvalidTransition, JobState, Operation, Phase, RetryPoint, StartGate,
    StateName,
};
use crate::dr::queue::{self, QueueDecision, QueuedJob};
use crate::events::Severity;
use crate::recovery::{RecoveryError, RunControl};
use crate::state::{App, AppState, now_ms};
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

/// The schedule of a `schedule` job (a recurrence of jobs.md in a time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSchedule {
    /// How it recurs (`daily`, `weekly`, `monthly_by_day`, `monthly_by_weekday`).
    pub recurrence: Recurrence,
    /// IANA time zone of the wall-clock times (default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Nothing fires before this (RFC 3339); default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

impl JobSchedule {
    fn schedule(&self, created_at: i64) -> Result<Schedule, JobError> {
        if !matches!(
            self.recurrence,
            Recurrence::Daily { .. }
                | Recurrence::Weekly { .. }
                | Recurrence::MonthlyByDay { .. }
                | Recurrence::MonthlyByWeekday { .. }
        ) {
            return Err(JobError::Invalid(
                "a job schedule is daily, weekly, monthly_by_day or monthly_by_weekday".into(),
            ));
        }
        let start = match &self.start {
            None => created_at,
            Some(s) => s
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|e| JobError::Invalid(format!("schedule start {s:?}: {e}")))?,
        };
        Ok(Schedule::new(self.recurrence, &self.time_zone, start)?)
    }

    /// The first slot strictly after `after`.
    fn next_after(&self, created_at: i64, after: i64) -> Result<i64, JobError> {
        schedule::next_after(&self.schedule(created_at)?, after)
            .ok_or_else(|| JobError::Invalid("the schedule never fires".into()))
    }
}

/// Why a job request failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No such job.
    #[error("job {0:?} does not exist")]
    NotFound(String),
    /// The plans side refused.
    #[error(transparent)]
    Source(#[from] JobSourceError),
    /// The user may not act on this plan's jobs.
    #[error(transparent)]
    Denied(#[from] crate::domain::rbac::Denied),
    /// The creation rules refused.
    #[error(transparent)]
    Create(#[from] CreateJobError),
    /// The update rules refused.
    #[error(transparent)]
    Update(#[from] UpdateJobError),
    /// The delete rules refused.
    #[error(transparent)]
    Delete(#[from] DeleteJobError),
    /// The state machine refused.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// A field is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The job changed while the request was handled; try again.
    #[error("job {0} changed while this request was handled; look at it again and retry")]
    Changed(String),
    /// The chosen instances cannot be recovered again.
    #[error("{0}")]
    RetryRefused(String),
    /// The recovery point asked for a retry cannot be used.
    #[error(transparent)]
    RetryPoint(#[from] RetryPointError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The executor failed.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// A stored job does not read back.
    #[error(transparent)]
    Corrupt(#[from] CorruptJob),
}

/// Why a retry cannot recover from the recovery point asked for (jobs.md, "Retry
/// (re-recover)": "optionally from another snapshot").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPointError {
    /// Not a snapshot: a retry names a snapshot of the group.
    #[error(
        "a retry recovers from the job's own point or from a snapshot of its protection group, not from {0}: name a snapshot (snapshot_id)"
    )]
    NotASnapshot(String),
    /// The snapshot is not one of the group's current snapshots.
    #[error(
        "snapshot {snapshot} is not a snapshot of protection group {group} (plan {plan}): it belongs to another group, or the retention has deleted it; list the group's snapshots and choose one of them"
    )]
    UnknownSnapshot {
        /// The snapshot asked for.
        snapshot: String,
        /// The job's protection group.
        group: String,
        /// The job's plan.
        plan: String,
    },
}

impl From<ScheduleError> for JobError {
    fn from(e: ScheduleError) -> Self {
        JobError::Invalid(e.to_string())
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

#[derive(Debug)]
struct Driver {
    kind: DriverKind,
    control: Option<watch::Sender<RunControl>>,
    handle: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DriverKind {
    Recovery,
    Clear,
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

fn control_of(state: StateName) -> Option<RunControl> {
    match state {
        StateName::Running => Some(RunControl::Run),
        StateName::Paused => Some(RunControl::Pause),
        StateName::Canceling => Some(RunControl::Cancel),
        _ => None,
    }
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
        {
            let mut conn = app.db.conn().await?;
            rows::insert(&mut conn, &row).await?;
        }
        self.announce(app, &row, "job.created", Severity::Info, "created")
            .await;
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
        let mut conn = app.db.conn().await?;
        if !rows::update(&mut conn, &row).await? {
            return Err(JobError::Changed(row.id));
        }
        drop(conn);
        row.version += 1;
        self.announce(app, &row, "job.updated", Severity::Info, "updated")
            .await;
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
        let mut conn = app.db.conn().await?;
        if !rows::delete(&mut conn, id, row.version).await? {
            return Err(JobError::Changed(row.id));
        }
        drop(conn);
        let (severity, what) = match &script {
            Some(_) => (
                Severity::Warning,
                "deleted; its resources stay on the target (cleanup script returned)",
            ),
            None => (Severity::Info, "deleted"),
        };
        self.announce(app, &row, "job.deleted", severity, what)
            .await;
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
        {
            // the last state and the removal from the list commit together
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
            tx.commit().await.map_err(DbError::from)?;
        }
        let (code, severity) = event_code(&next);
        self.announce(app, &new, code, severity, &new.state.clone())
            .await;
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

    async fn announce(&self, app: &App, row: &JobRow, code: &str, severity: Severity, what: &str) {
        let event = crate::events::Event::new(
            code,
            severity,
            format!("{} job {:?} ({}): {what}", row.job_type, row.name, row.id),
        )
        .object("job", &row.id)
        .object("plan", &row.plan_id)
        .object("protection_group", &row.group_id)
        .group(Some(row.owner_group_id.clone()));
        if let Err(e) = crate::events::publish(app, event).await {
            tracing::warn!(error = %e, job_id = %row.id, "cannot record the job event");
        }
        let _ = self.changes.send(row.id.clone());
    }

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

fn queued_jobs(all: &[JobRow]) -> Result<Vec<QueuedJob>, JobError> {
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
