//! The recovery executor (issue 7, item 5; jobs.md, "What a recovery does on the
//! target", "Failures"): runs a job's [`TaskGraph`] against the TARGET cloud through
//! `holdfast-openstack`, persisted task by task, resumable after a crash, and rolls
//! back exactly what the job created.
//!
//! - [`Executor::create_job`] freezes the topology and target details with the job
//!   (`recovery_jobs`).
//! - [`Executor::recover`] runs (or resumes) the recovery: independent tasks run
//!   concurrently up to [`ExecutorOptions::concurrency`]; each task's state, attempts,
//!   timings and cloud time are stored (`recovery_tasks`), with a log line per event
//!   (`recovery_task_log`). A failed instance does not stop the others; the result is
//!   success / partial_success / failed over the instances.
//! - Every created resource is recorded before the call that creates it
//!   ([`ledger::Ledger::ensure`], `recovery_resources`), carrying a deterministic tag
//!   `hf-<job>-<task>[-<n>]` in its description, name or metadata; a resumed job finds
//!   by that tag what a crashed run created but did not record.
//! - [`Executor::rollback`] deletes exactly the recorded resources, in reverse
//!   dependency order (concurrent waves, [`CreatedResources::rollback_waves`]),
//!   resumable in the same way.
//! - Volume data comes from a [`VolumeMaterialiser`] (the agents in production).

mod cloud;
mod journal;
pub mod ledger;
pub mod lookup;
pub mod materialiser;
mod quotas;
mod rollback;
mod run;
mod tasks;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cloud::TargetCloud;
pub use ledger::{Checkpoint, CheckpointHook};
pub use materialiser::{BackendVolume, MaterialiseError, MaterialiseRequest, VolumeMaterialiser};

use crate::db::{self, Db, DbError, jobs};
use crate::dr::ids::{ClusterId, GroupId, InstanceId, JobId, PlanId, SnapshotId};
use crate::dr::job::{JobType, RecoveryPoint};
use crate::dr::job_state::TasksOutcome;
use crate::dr::recovery_graph::{GraphError, Scope, TaskGraph, TaskId};
use crate::dr::retry_point::{RetryRound, RoundRefusal, Rounds};
use crate::dr::rollback::CreatedResources;
use crate::dr::target_details::{DetailsError, TargetDetails};
use crate::dr::topology::Topology;

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Tasks running at once.
    pub concurrency: usize,
    /// Interval between polls of an asynchronous transition.
    pub poll_interval: Duration,
    /// Longest wait for one transition (server ACTIVE, volume available, deletion).
    pub wait_timeout: Duration,
    /// Attempts per task when the cloud fails transiently (unreachable, 5xx).
    pub task_attempts: u32,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            poll_interval: Duration::from_secs(1),
            wait_timeout: Duration::from_secs(600),
            task_attempts: 3,
        }
    }
}

/// Why the executor could not do its work (a task's own failure is not an error: it
/// is recorded with the task).
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The target cloud refused or failed a call.
    #[error("target cloud: {0}")]
    OpenStack(#[from] holdfast_openstack::Error),
    /// The target cloud put a resource in an error state.
    #[error("target cloud: {0}")]
    Cloud(String),
    /// A wait ran out.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The wait.
        after: Duration,
    },
    /// Volume data could not be materialised.
    #[error(transparent)]
    Materialise(#[from] MaterialiseError),
    /// The plan cannot be turned into tasks.
    #[error("the plan cannot be recovered: {0}")]
    Graph(#[from] GraphError),
    /// The plan lacks target details.
    #[error("the plan cannot be recovered: {0}")]
    Details(#[from] DetailsError),
    /// No such job.
    #[error("recovery job {0} does not exist")]
    NoJob(String),
    /// The job is not in a phase that allows this.
    #[error("recovery job {job} is {phase}: {operation} is not possible now")]
    Phase {
        /// The job.
        job: String,
        /// Its phase.
        phase: String,
        /// What was asked.
        operation: &'static str,
    },
    /// Something the target already has stands in the way.
    #[error("{0}")]
    Conflict(String),
    /// The job's progress could not be recorded.
    #[error("cannot record the job's progress in the database: {0}")]
    Journal(String),
    /// A stored value is not what the executor wrote.
    #[error("corrupt recovery record: {0}")]
    Corrupt(String),
}

impl RecoveryError {
    /// Worth another attempt of the task (the cloud was unreachable or failed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RecoveryError::OpenStack(
                holdfast_openstack::Error::Unreachable { .. }
                    | holdfast_openstack::Error::ServerError { .. }
            )
        )
    }
}

/// What the job rebuilds, frozen with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The topology with its mapping applied.
    pub topology: Topology,
    /// What the executor needs beyond it.
    pub details: TargetDetails,
}

/// A retry round as stored with the job (the point as [`point_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRound {
    point: String,
    instances: std::collections::BTreeSet<InstanceId>,
}

/// What `recovery_jobs.spec_json` holds: the frozen spec and the retries from other
/// points (none for a job that was never retried so).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSpec {
    #[serde(flatten)]
    spec: JobSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retries: Vec<StoredRound>,
}

impl StoredSpec {
    fn parse(json: &str) -> Result<StoredSpec, RecoveryError> {
        serde_json::from_str(json).map_err(|e| RecoveryError::Corrupt(format!("job spec: {e}")))
    }

    fn rounds(&self) -> Result<Vec<RetryRound>, RecoveryError> {
        self.retries
            .iter()
            .map(|r| {
                Ok(RetryRound {
                    point: parse_point(&r.point)?,
                    instances: r.instances.clone(),
                })
            })
            .collect()
    }
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id.
    pub id: JobId,
    /// The plan.
    pub plan: PlanId,
    /// The protection group.
    pub group: GroupId,
    /// The target cluster.
    pub target: ClusterId,
    /// Drill or DR.
    pub job_type: JobType,
    /// The recovery point.
    pub point: RecoveryPoint,
    /// What to rebuild.
    pub spec: JobSpec,
}

/// What a controlled recovery run is asked to do (checked between tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunControl {
    /// Start tasks as they become ready.
    Run,
    /// Start no new task until this changes.
    Pause,
    /// Start no new task; tasks not started end as skipped.
    Cancel,
}

/// The end of a recovery run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The result over the instances.
    pub outcome: TasksOutcome,
    /// Per instance: recovered or not.
    pub instances: BTreeMap<InstanceId, bool>,
    /// The tasks with their states and timings.
    pub tasks: Vec<jobs::TaskRecord>,
}

/// The end of a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    /// Resources deleted (or found already gone).
    pub deleted: usize,
    /// Resources that could not be deleted, with the reason.
    pub failed: Vec<(String, String)>,
}

pub(crate) const RECOVERY: &str = "recovery";
pub(crate) const ROLLBACK: &str = "rollback";

/// The stored text of a recovery point (`latest-data`, `latest-snapshot`,
/// `snapshot:<id>`).
pub(crate) fn point_text(p: &RecoveryPoint) -> String {
    match p {
        RecoveryPoint::LatestData => "latest-data".into(),
        RecoveryPoint::LatestSnapshot => "latest-snapshot".into(),
        RecoveryPoint::Snapshot(s) => format!("snapshot:{s}"),
    }
}

/// Reads [`point_text`].
pub(crate) fn parse_point(s: &str) -> Result<RecoveryPoint, RecoveryError> {
    match s {
        "latest-data" => Ok(RecoveryPoint::LatestData),
        "latest-snapshot" => Ok(RecoveryPoint::LatestSnapshot),
        _ => s
            .strip_prefix("snapshot:")
            .map(|id| RecoveryPoint::Snapshot(SnapshotId::new(id)))
            .ok_or_else(|| RecoveryError::Corrupt(format!("recovery point {s:?}"))),
    }
}

fn parse_type(s: &str) -> Result<JobType, RecoveryError> {
    match s {
        "drill" => Ok(JobType::Drill),
        "dr" => Ok(JobType::Dr),
        _ => Err(RecoveryError::Corrupt(format!("job type {s:?}"))),
    }
}

pub(crate) fn outcome_text(o: TasksOutcome) -> &'static str {
    match o {
        TasksOutcome::Success => "success",
        TasksOutcome::PartialSuccess => "partial_success",
        TasksOutcome::Failed => "failed",
    }
}

/// A job as the executor loads it.
#[derive(Debug, Clone)]
pub(crate) struct LoadedJob {
    pub(crate) id: JobId,
    pub(crate) job_type: JobType,
    pub(crate) point: RecoveryPoint,
    pub(crate) spec: JobSpec,
    pub(crate) graph: TaskGraph,
    pub(crate) phase: String,
    /// Retries from other points, oldest first.
    pub(crate) rounds: Vec<RetryRound>,
    /// Task index by kind.
    pub(crate) index: BTreeMap<crate::dr::recovery_graph::TaskKind, usize>,
}

impl LoadedJob {
    /// The project the job creates: the plan's project name; a drill's gets a
    /// suffix so that it never meets the production copy of a DR.
    pub(crate) fn project_name(&self) -> String {
        match self.job_type {
            JobType::Dr => self.spec.topology.project_name.clone(),
            JobType::Drill => {
                let short: String = self.id.as_str().chars().take(8).collect();
                format!("{}-drill-{short}", self.spec.topology.project_name)
            }
        }
    }

    /// The retry rounds applied to the job's topology.
    pub(crate) fn rounds(&self) -> Rounds<'_> {
        Rounds {
            rounds: &self.rounds,
            topology: &self.spec.topology,
        }
    }

    /// The tag of a task's `n`-th resource (`None`: its main one): `hf-<job>-<task>`,
    /// with `r<generation>` after the task once a retry from another point has
    /// recovered its instances again.
    pub(crate) fn tag(&self, task: usize, n: Option<usize>) -> String {
        let generation = match self.rounds().generation(&self.graph, TaskId(task)) {
            0 => String::new(),
            g => format!("r{g}"),
        };
        match n {
            None => format!("hf-{}-{task}{generation}", self.id),
            Some(n) => format!("hf-{}-{task}{generation}-{n}", self.id),
        }
    }

    /// Whether a recorded tag is of an earlier generation than its task's current
    /// one (its resource is replaced by a retry from another point).
    pub(crate) fn is_stale(&self, task: usize, tag: &str) -> bool {
        let current = self.tag(task, None);
        tag != current && !tag.starts_with(&format!("{current}-"))
    }
}

/// Runs recovery jobs against one target cloud.
#[derive(Debug, Clone)]
pub struct Executor {
    db: Db,
    cloud: TargetCloud,
    hook: Option<Arc<dyn CheckpointHook>>,
}

fn now_ms() -> i64 {
    db::millis(jiff::Timestamp::now())
}

impl Executor {
    /// An executor over `db` and the target `cloud`.
    pub fn new(db: Db, cloud: TargetCloud) -> Executor {
        Executor {
            db,
            cloud,
            hook: None,
        }
    }

    /// Sees every checkpoint (crash tests, tracing).
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn CheckpointHook>) -> Executor {
        self.hook = Some(hook);
        self
    }

    /// The target cloud.
    pub fn cloud(&self) -> &TargetCloud {
        &self.cloud
    }

    /// Stores a job with its frozen spec, after checking it can be turned into tasks.
    #[tracing::instrument(skip_all, fields(job_id = %job.id))]
    pub async fn create_job(&self, job: &NewJob) -> Result<(), RecoveryError> {
        TaskGraph::build(&job.spec.topology, job.job_type, &Scope::All)?;
        job.spec.details.check(&job.spec.topology)?;
        let spec_json =
            serde_json::to_string(&job.spec).map_err(|e| RecoveryError::Corrupt(e.to_string()))?;
        let mut conn = self.db.conn().await?;
        jobs::insert(
            &mut conn,
            &jobs::JobRecord {
                id: job.id.to_string(),
                plan_id: job.plan.to_string(),
                group_id: job.group.to_string(),
                target_cluster_id: job.target.to_string(),
                job_type: job.job_type.to_string(),
                recovery_point: point_text(&job.point),
                spec_json,
                phase: "created".into(),
                result: None,
                created_at: now_ms(),
                started_at: None,
                recovered_at: None,
                rollback_started_at: None,
                rolled_back_at: None,
            },
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn load(&self, id: &JobId) -> Result<LoadedJob, RecoveryError> {
        let mut conn = self.db.conn().await?;
        let j = jobs::get(&mut conn, id.as_str())
            .await?
            .ok_or_else(|| RecoveryError::NoJob(id.to_string()))?;
        let stored = StoredSpec::parse(&j.spec_json)?;
        let rounds = stored.rounds()?;
        let spec = stored.spec;
        let job_type = parse_type(&j.job_type)?;
        let graph = TaskGraph::build(&spec.topology, job_type, &Scope::All)?;
        let index = graph
            .tasks()
            .iter()
            .enumerate()
            .map(|(n, t)| (t.kind.clone(), n))
            .collect();
        Ok(LoadedJob {
            index,
            id: id.clone(),
            job_type,
            point: parse_point(&j.recovery_point)?,
            spec,
            graph,
            phase: j.phase,
            rounds,
        })
    }

    /// Runs the job's recovery, or resumes it after a crash; returns when every
    /// task has ended.
    #[tracing::instrument(skip_all, fields(job_id = %id))]
    pub async fn recover(&self, id: &JobId) -> Result<RecoveryReport, RecoveryError> {
        let (_keep, control) = tokio::sync::watch::channel(RunControl::Run);
        self.recover_controlled(id, control).await
    }

    /// [`Executor::recover`] under a controller: between tasks the run looks at
    /// `control`; `Pause` starts no new task (running ones finish) until it changes,
    /// `Cancel` starts no new task and ends every task not started as skipped.
    #[tracing::instrument(skip_all, fields(job_id = %id))]
    pub async fn recover_controlled(
        &self,
        id: &JobId,
        control: tokio::sync::watch::Receiver<RunControl>,
    ) -> Result<RecoveryReport, RecoveryError> {
        let job = self.load(id).await?;
        match job.phase.as_str() {
            "created" | "recovering" | "retrying" => {}
            "recovered" => return run::report(&self.db, &job).await,
            other => {
                return Err(RecoveryError::Phase {
                    job: id.to_string(),
                    phase: other.to_owned(),
                    operation: "recover",
                });
            }
        }
        run::run(self, Arc::new(job), control).await
    }

    /// Rolls back everything the job created (or resumes a rollback).
    #[tracing::instrument(skip_all, fields(job_id = %id))]
    pub async fn rollback(&self, id: &JobId) -> Result<RollbackReport, RecoveryError> {
        let job = self.load(id).await?;
        match job.phase.as_str() {
            "recovered" | "rolling_back" => {}
            other => {
                return Err(RecoveryError::Phase {
                    job: id.to_string(),
                    phase: other.to_owned(),
                    operation: "rollback",
                });
            }
        }
        rollback::run(self, &job).await
    }

    /// Rolls back only what serves nothing but `instances` (the confirm of a partial
    /// success); the job stays recovered.
    #[tracing::instrument(skip_all, fields(job_id = %id))]
    pub async fn rollback_instances(
        &self,
        id: &JobId,
        instances: &std::collections::BTreeSet<InstanceId>,
    ) -> Result<RollbackReport, RecoveryError> {
        let job = self.load(id).await?;
        if job.phase != "recovered" {
            return Err(RecoveryError::Phase {
                job: id.to_string(),
                phase: job.phase.clone(),
                operation: "roll back failed instances",
            });
        }
        rollback::run_for_instances(self, &job, instances).await
    }

    /// The resources the job created (and not yet deleted), as the domain's record.
    pub async fn created(&self, id: &JobId) -> Result<CreatedResources, RecoveryError> {
        created_resources(&self.db, id).await
    }
}

/// The resources a run created (and not yet deleted), read from the database alone
/// (for the cleanup script of an ignored rollback; no cloud needed).
pub async fn created_resources(db: &Db, id: &JobId) -> Result<CreatedResources, RecoveryError> {
    let entries = ledger::stored(db, id.as_str()).await?;
    Ok(rollback::created_resources(&entries).0)
}

/// Why chosen instances cannot be recovered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryRefusal {
    /// Not an instance of the job.
    #[error("instance {0} is not part of this job")]
    Unknown(InstanceId),
    /// Already recovered.
    #[error(
        "instance {0} was recovered; only instances that failed can be recovered again (roll the job back to start over)"
    )]
    Recovered(InstanceId),
    /// The run is not in a state to retry.
    #[error("the job's recovery run is {0}; a retry needs a finished recovery")]
    Phase(String),
    /// The instances cannot be recovered from another point.
    #[error(transparent)]
    Round(#[from] RoundRefusal),
}

/// What a retry does to a finished run (read-only; [`start_retry`] applies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPlan {
    /// The instances recovered again.
    pub instances: BTreeSet<InstanceId>,
    /// Tasks put back to pending.
    pub rerun: Vec<i64>,
    /// Tasks ended without running, with their description: the ports and floating
    /// IPs of instances recovered from another point (kept off every network).
    pub not_connected: Vec<(i64, String)>,
    /// A retry from another point: the round recorded with the job.
    pub round: Option<RetryRound>,
}

/// What a retry of `instances` runs again. From the job's point (`point` is `None`
/// or the job's own): every failed or skipped task that serves only chosen
/// instances (shared resources that exist stay). From another point: every task
/// serving only them, at that point, their ports and floating IPs left out
/// ([`crate::dr::retry_point`]). Only failed instances can be retried.
pub async fn retry_tasks(
    db: &Db,
    id: &JobId,
    instances: &BTreeSet<InstanceId>,
    point: Option<&RecoveryPoint>,
) -> Result<Result<RetryPlan, RetryRefusal>, RecoveryError> {
    use crate::dr::recovery_graph::TaskStatus;
    let mut conn = db.conn().await?;
    let j = jobs::get(&mut conn, id.as_str())
        .await?
        .ok_or_else(|| RecoveryError::NoJob(id.to_string()))?;
    if j.phase != "recovered" {
        return Ok(Err(RetryRefusal::Phase(j.phase)));
    }
    let spec = StoredSpec::parse(&j.spec_json)?.spec;
    let job_point = parse_point(&j.recovery_point)?;
    let other = point.filter(|p| **p != job_point);
    let graph = TaskGraph::build(&spec.topology, parse_type(&j.job_type)?, &Scope::All)?;
    let status: BTreeMap<TaskId, TaskStatus> = jobs::tasks(&mut conn, id.as_str(), RECOVERY)
        .await?
        .iter()
        .filter_map(|r| {
            let s = match r.state.as_str() {
                "succeeded" => TaskStatus::Succeeded,
                "failed" => TaskStatus::Failed,
                "skipped" => TaskStatus::Skipped,
                _ => return None,
            };
            Some((TaskId(usize::try_from(r.task_index).ok()?), s))
        })
        .collect();
    let outcomes = graph.instance_outcomes(&status).ok_or_else(|| {
        RecoveryError::Corrupt(format!("job {id} is recovered but has unfinished tasks"))
    })?;
    for i in instances {
        match outcomes.get(i) {
            None => return Ok(Err(RetryRefusal::Unknown(i.clone()))),
            Some(true) => return Ok(Err(RetryRefusal::Recovered(i.clone()))),
            Some(false) => {}
        }
    }
    let index = |t: TaskId| i64::try_from(t.0).ok();
    let Some(other) = other else {
        return Ok(Ok(RetryPlan {
            instances: instances.clone(),
            rerun: graph
                .tasks()
                .iter()
                .enumerate()
                .filter(|(n, t)| {
                    !t.serves.is_empty()
                        && t.serves.is_subset(instances)
                        && status.get(&TaskId(*n)) != Some(&TaskStatus::Succeeded)
                })
                .filter_map(|(n, _)| index(TaskId(n)))
                .collect(),
            not_connected: Vec::new(),
            round: None,
        }));
    };
    let plan = match crate::dr::retry_point::plan_round(&graph, &spec.topology, instances) {
        Ok(p) => p,
        Err(r) => return Ok(Err(r.into())),
    };
    Ok(Ok(RetryPlan {
        instances: instances.clone(),
        rerun: plan
            .rerun
            .iter()
            .filter(|t| !plan.not_connected.contains(*t))
            .filter_map(|t| index(*t))
            .collect(),
        not_connected: plan
            .not_connected
            .iter()
            .filter_map(|t| Some((index(*t)?, graph.task(*t)?.kind.to_string())))
            .collect(),
        round: Some(RetryRound {
            point: other.clone(),
            instances: instances.clone(),
        }),
    }))
}

fn names(instances: &BTreeSet<InstanceId>) -> String {
    instances
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Puts the run in phase `retrying` as `plan` says, in the caller's transaction (the
/// job engine commits it with the job's own state change). A retry from another
/// point is recorded with the job (its resources get the next generation of tags)
/// and says in the task log that its instances are not connected to any network.
pub async fn start_retry(
    conn: &mut sqlx::AnyConnection,
    id: &JobId,
    plan: &RetryPlan,
) -> Result<(), RecoveryError> {
    let now = now_ms();
    let line = |task_index: Option<i64>, message: String| jobs::LogLine {
        stage: RECOVERY.into(),
        task_index,
        at: now,
        level: "info".into(),
        message,
    };
    jobs::reset_tasks(conn, id.as_str(), RECOVERY, &plan.rerun).await?;
    let settled: Vec<i64> = plan.not_connected.iter().map(|(n, _)| *n).collect();
    jobs::settle_tasks(conn, id.as_str(), RECOVERY, &settled, now).await?;
    let n = plan.instances.len();
    let message = match &plan.round {
        None => format!(
            "retry: {} task(s) of {n} instance(s) run again",
            plan.rerun.len()
        ),
        Some(round) => {
            let j = jobs::get(conn, id.as_str())
                .await?
                .ok_or_else(|| RecoveryError::NoJob(id.to_string()))?;
            let mut stored = StoredSpec::parse(&j.spec_json)?;
            stored.retries.push(StoredRound {
                point: point_text(&round.point),
                instances: round.instances.clone(),
            });
            let json = serde_json::to_string(&stored)
                .map_err(|e| RecoveryError::Corrupt(e.to_string()))?;
            jobs::set_spec(conn, id.as_str(), &json, now).await?;
            format!(
                "retry: {} task(s) of {n} instance(s) run again from {}, not from the job's recovery point ({}): instance(s) {} are recovered from it and are NOT connected to any network (their ports and floating IPs are not created); attach them to networks by hand once their data is checked",
                plan.rerun.len(),
                point_text(&round.point),
                j.recovery_point,
                names(&round.instances),
            )
        }
    };
    jobs::set_phase(conn, id.as_str(), "retrying", None, now).await?;
    jobs::log(conn, id.as_str(), &line(None, message)).await?;
    for (task, description) in &plan.not_connected {
        jobs::log(
            conn,
            id.as_str(),
            &line(
                Some(*task),
                format!(
                    "{description}: not created: the instance is recovered from another point than the job's and stays off the network"
                ),
            ),
        )
        .await?;
    }
    Ok(())
}
