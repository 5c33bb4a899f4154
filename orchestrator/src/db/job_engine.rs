//! The user-facing jobs the job engine drives (`jobs`, migration 0007). Every state
//! change is a compare-and-set on `version` ([`update`]), so two replicas never drive
//! one job. The executor's own tables are in [`super::jobs`].

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::DbError;

/// One row of `jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Job id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The plan.
    pub plan_id: String,
    /// The plan's protection group.
    pub group_id: String,
    /// The user group that owns it (RBAC).
    pub owner_group_id: String,
    /// `drill` / `dr`.
    pub job_type: String,
    /// `now` / `at` / `schedule`.
    pub run_type: String,
    /// `latest-data` / `latest-snapshot` / `snapshot:<id>`.
    pub recovery_point: String,
    /// The time of an `at` job (ms).
    pub at_time: Option<i64>,
    /// The schedule of a `schedule` job.
    pub schedule_json: Option<String>,
    /// The state's name (for filtering).
    pub state: String,
    /// The whole state machine state.
    pub state_json: String,
    /// Compare-and-set counter.
    pub version: i64,
    /// Position in its group's queue (set when triggered).
    pub queue_seq: Option<i64>,
    /// The schedule slot that triggered a scheduled drill (ms).
    pub scheduled_slot: Option<i64>,
    /// When a waiting job is triggered next (ms).
    pub fire_at: Option<i64>,
    /// The executor's run (`recovery_jobs.id`).
    pub run_id: Option<String>,
    /// The frozen copy taken at the trigger.
    pub frozen_json: Option<String>,
    /// Triggered at (ms).
    pub triggered_at: Option<i64>,
    /// Recovery started at (ms).
    pub started_at: Option<i64>,
    /// Recovery completed at (ms).
    pub completed_at: Option<i64>,
    /// A paused job resumes by itself at (ms).
    pub pause_until: Option<i64>,
    /// A completed drill rolls back by itself at (ms).
    pub rollback_at: Option<i64>,
    /// Why the job ended as it did (e.g. the 10-minute rule), or the last failure.
    pub reason: Option<String>,
    /// The cleanup script of an ignored rollback.
    pub cleanup_script: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// Created at (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, plan_id, group_id, owner_group_id, job_type, run_type, \
    recovery_point, at_time, schedule_json, state, state_json, version, queue_seq, \
    scheduled_slot, fire_at, run_id, frozen_json, triggered_at, started_at, completed_at, \
    pause_until, rollback_at, reason, cleanup_script, created_by, created_at, updated_at";

fn row(r: &AnyRow) -> Result<JobRow, DbError> {
    Ok(JobRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        plan_id: r.try_get("plan_id")?,
        group_id: r.try_get("group_id")?,
        owner_group_id: r.try_get("owner_group_id")?,
        job_type: r.try_get("job_type")?,
        run_type: r.try_get("run_type")?,
        recovery_point: r.try_get("recovery_point")?,
        at_time: r.try_get("at_time")?,
        schedule_json: r.try_get("schedule_json")?,
        state: r.try_get("state")?,
        state_json: r.try_get("state_json")?,
        version: r.try_get("version")?,
        queue_seq: r.try_get("queue_seq")?,
        scheduled_slot: r.try_get("scheduled_slot")?,
        fire_at: r.try_get("fire_at")?,
        run_id: r.try_get("run_id")?,
        frozen_json: r.try_get("frozen_json")?,
        triggered_at: r.try_get("triggered_at")?,
        started_at: r.try_get("started_at")?,
        completed_at: r.try_get("completed_at")?,
        pause_until: r.try_get("pause_until")?,
        rollback_at: r.try_get("rollback_at")?,
        reason: r.try_get("reason")?,
        cleanup_script: r.try_get("cleanup_script")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Stores a new job.
pub async fn insert(conn: &mut AnyConnection, j: &JobRow) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO jobs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
    ))
    .bind(&j.id)
    .bind(&j.name)
    .bind(&j.plan_id)
    .bind(&j.group_id)
    .bind(&j.owner_group_id)
    .bind(&j.job_type)
    .bind(&j.run_type)
    .bind(&j.recovery_point)
    .bind(j.at_time)
    .bind(&j.schedule_json)
    .bind(&j.state)
    .bind(&j.state_json)
    .bind(j.version)
    .bind(j.queue_seq)
    .bind(j.scheduled_slot)
    .bind(j.fire_at)
    .bind(&j.run_id)
    .bind(&j.frozen_json)
    .bind(j.triggered_at)
    .bind(j.started_at)
    .bind(j.completed_at)
    .bind(j.pause_until)
    .bind(j.rollback_at)
    .bind(&j.reason)
    .bind(&j.cleanup_script)
    .bind(&j.created_by)
    .bind(j.created_at)
    .bind(j.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One job.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<JobRow>, DbError> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(row).transpose()
}

/// Every job (the engine's view: finished one-time jobs have left the table).
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<JobRow>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM jobs ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Filters of the job list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs owned by groups this user belongs to (non-Admin view).
    pub visible_to: Option<String>,
    /// Only this protection group.
    pub group_id: Option<String>,
    /// Only this plan.
    pub plan_id: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this type.
    pub job_type: Option<String>,
    /// Only jobs whose name or plan's name contains this (case-insensitive).
    pub search: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

const FILTER: &str = "($1 IS NULL OR EXISTS (SELECT 1 FROM user_group_members m \
    WHERE m.group_id = jobs.owner_group_id AND m.user_id = $1)) \
    AND ($2 IS NULL OR group_id = $2) AND ($3 IS NULL OR plan_id = $3) \
    AND ($4 IS NULL OR state = $4) AND ($5 IS NULL OR job_type = $5) \
    AND ($6 IS NULL OR LOWER(name) LIKE $6 ESCAPE '\\' OR plan_id IN \
    (SELECT p.id FROM recovery_plans p WHERE LOWER(p.name) LIKE $6 ESCAPE '\\'))";

/// A page of jobs, oldest first, and the total matching.
pub async fn list(conn: &mut AnyConnection, f: &JobFilter) -> Result<(Vec<JobRow>, i64), DbError> {
    let pattern = f.search.as_deref().map(super::clusters::like_pattern);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM jobs WHERE {FILTER}"))
        .bind(&f.visible_to)
        .bind(&f.group_id)
        .bind(&f.plan_id)
        .bind(&f.state)
        .bind(&f.job_type)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE {FILTER} ORDER BY created_at, id LIMIT $7 OFFSET $8"
    ))
    .bind(&f.visible_to)
    .bind(&f.group_id)
    .bind(&f.plan_id)
    .bind(&f.state)
    .bind(&f.job_type)
    .bind(&pattern)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.iter().map(row).collect::<Result<_, _>>()?, total))
}

/// Writes every mutable field of `j` if the row is still at `j.version`, and moves it
/// to `j.version + 1`; `false` when another writer changed it first.
pub async fn update(conn: &mut AnyConnection, j: &JobRow) -> Result<bool, DbError> {
    let r = sqlx::query(
        "UPDATE jobs SET at_time = $3, schedule_json = $4, state = $5, state_json = $6, \
         version = $2 + 1, queue_seq = $7, scheduled_slot = $8, fire_at = $9, run_id = $10, \
         frozen_json = $11, triggered_at = $12, started_at = $13, completed_at = $14, \
         pause_until = $15, rollback_at = $16, reason = $17, cleanup_script = $18, \
         updated_at = $19 WHERE id = $1 AND version = $2",
    )
    .bind(&j.id)
    .bind(j.version)
    .bind(j.at_time)
    .bind(&j.schedule_json)
    .bind(&j.state)
    .bind(&j.state_json)
    .bind(j.queue_seq)
    .bind(j.scheduled_slot)
    .bind(j.fire_at)
    .bind(&j.run_id)
    .bind(&j.frozen_json)
    .bind(j.triggered_at)
    .bind(j.started_at)
    .bind(j.completed_at)
    .bind(j.pause_until)
    .bind(j.rollback_at)
    .bind(&j.reason)
    .bind(&j.cleanup_script)
    .bind(j.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes a job if it is still at `version`; `false` when it changed or is gone.
pub async fn delete(conn: &mut AnyConnection, id: &str, version: i64) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM jobs WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Jobs of a plan or of a group that exist for the plan and group rules (every state
/// but `finished`): `(id, state)`, oldest first.
pub async fn existing_for(
    conn: &mut AnyConnection,
    plan_id: Option<&str>,
    group_id: Option<&str>,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, state FROM jobs WHERE ($1 IS NULL OR plan_id = $1) \
         AND ($2 IS NULL OR group_id = $2) AND state <> 'finished' ORDER BY created_at, id",
    )
    .bind(plan_id)
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?)
}
