//! Recovery jobs as the executor runs them: the job row, its tasks (per stage:
//! `recovery` or `rollback`) with state and timings, and the task log.

use sqlx::AnyConnection;

use super::DbError;

/// A stored recovery job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Id.
    pub id: String,
    /// The plan (a plain id until plans are tables).
    pub plan_id: String,
    /// The protection group.
    pub group_id: String,
    /// The target cluster.
    pub target_cluster_id: String,
    /// `drill` or `dr`.
    pub job_type: String,
    /// `latest-data`, `latest-snapshot` or `snapshot:<id>`.
    pub recovery_point: String,
    /// The frozen topology and target details (JSON).
    pub spec_json: String,
    /// `recovering`, `recovered`, `rolling_back`, `rolled_back`.
    pub phase: String,
    /// `success`, `partial_success`, `failed` once recovered.
    pub result: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Recovery started (ms).
    pub started_at: Option<i64>,
    /// Recovery ended (ms).
    pub recovered_at: Option<i64>,
    /// Rollback started (ms).
    pub rollback_started_at: Option<i64>,
    /// Rollback ended (ms).
    pub rolled_back_at: Option<i64>,
}

type JobRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const JOB_COLUMNS: &str = "id, plan_id, group_id, target_cluster_id, job_type, recovery_point, \
     spec_json, phase, result, created_at, started_at, recovered_at, rollback_started_at, \
     rolled_back_at";

fn job(r: JobRow) -> JobRecord {
    JobRecord {
        id: r.0,
        plan_id: r.1,
        group_id: r.2,
        target_cluster_id: r.3,
        job_type: r.4,
        recovery_point: r.5,
        spec_json: r.6,
        phase: r.7,
        result: r.8,
        created_at: r.9,
        started_at: r.10,
        recovered_at: r.11,
        rollback_started_at: r.12,
        rolled_back_at: r.13,
    }
}

/// Inserts a job.
pub async fn insert(conn: &mut AnyConnection, j: &JobRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO recovery_jobs ({JOB_COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $10)"
    ))
    .bind(&j.id)
    .bind(&j.plan_id)
    .bind(&j.group_id)
    .bind(&j.target_cluster_id)
    .bind(&j.job_type)
    .bind(&j.recovery_point)
    .bind(&j.spec_json)
    .bind(&j.phase)
    .bind(&j.result)
    .bind(j.created_at)
    .bind(j.started_at)
    .bind(j.recovered_at)
    .bind(j.rollback_started_at)
    .bind(j.rolled_back_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One job.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<JobRecord>, DbError> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM recovery_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(job))
}

/// Jobs in one of `phases` (the ones to resume after a restart), oldest first.
pub async fn in_phases(
    conn: &mut AnyConnection,
    phases: &[&str],
) -> Result<Vec<JobRecord>, DbError> {
    let mut out = Vec::new();
    for p in phases {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM recovery_jobs WHERE phase = $1 ORDER BY created_at, id"
        ))
        .bind(*p)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows.into_iter().map(job));
    }
    Ok(out)
}

/// Marks the recovery started (first start only).
pub async fn mark_started(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_jobs SET started_at = COALESCE(started_at, $2), updated_at = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the phase (and the result and times that go with it).
pub async fn set_phase(
    conn: &mut AnyConnection,
    id: &str,
    phase: &str,
    result: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    let column = match phase {
        "recovered" => Some("recovered_at"),
        "rolling_back" => Some("rollback_started_at"),
        "rolled_back" => Some("rolled_back_at"),
        _ => None,
    };
    let times = column
        .map(|c| format!(", {c} = COALESCE({c}, $4)"))
        .unwrap_or_default();
    sqlx::query(&format!(
        "UPDATE recovery_jobs SET phase = $2, result = COALESCE($3, result), updated_at = $4{times} \
         WHERE id = $1"
    ))
    .bind(id)
    .bind(phase)
    .bind(result)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A task of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// `recovery` or `rollback`.
    pub stage: String,
    /// Index in the stage's task list.
    pub task_index: i64,
    /// What it does.
    pub description: String,
    /// `pending`, `running`, `succeeded`, `failed`, `skipped`.
    pub state: String,
    /// Times started (a resumed task counts again).
    pub attempts: i64,
    /// First start (ms).
    pub started_at: Option<i64>,
    /// End (ms).
    pub finished_at: Option<i64>,
    /// Time spent in cloud calls and waits for the cloud (ms).
    pub cloud_ms: i64,
    /// Why it failed.
    pub error: Option<String>,
}

type TaskRow = (
    String,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    Option<String>,
);

/// Creates the task rows of a stage unless they exist (a resumed job keeps its own).
pub async fn ensure_tasks(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    descriptions: &[String],
) -> Result<(), DbError> {
    // many rows a statement: one round trip per chunk, not per task
    const ROWS: usize = 100;
    for (c, chunk) in descriptions.chunks(ROWS).enumerate() {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, ${}, ${}, 'pending', 0, 0)", 3 + 2 * i, 4 + 2 * i))
            .collect();
        let sql = format!(
            "INSERT INTO recovery_tasks (job_id, stage, task_index, description, state, \
             attempts, cloud_ms) VALUES {} ON CONFLICT (job_id, stage, task_index) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(job_id).bind(stage);
        for (i, d) in chunk.iter().enumerate() {
            q = q.bind((c * ROWS + i) as i64).bind(d);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Puts tasks of a stage back to `pending` (a retry runs them again).
pub async fn reset_tasks(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    indexes: &[i64],
) -> Result<(), DbError> {
    for i in indexes {
        sqlx::query(
            "UPDATE recovery_tasks SET state = 'pending', error = NULL, finished_at = NULL \
             WHERE job_id = $1 AND stage = $2 AND task_index = $3",
        )
        .bind(job_id)
        .bind(stage)
        .bind(*i)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends tasks of a stage as succeeded without running them (a retry from another
/// point creates no port or floating IP for the instances it keeps off the network).
pub async fn settle_tasks(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    indexes: &[i64],
    now: i64,
) -> Result<(), DbError> {
    for i in indexes {
        sqlx::query(
            "UPDATE recovery_tasks SET state = 'succeeded', error = NULL, finished_at = $4 \
             WHERE job_id = $1 AND stage = $2 AND task_index = $3",
        )
        .bind(job_id)
        .bind(stage)
        .bind(*i)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces a job's stored spec (a retry from another point records its round).
pub async fn set_spec(
    conn: &mut AnyConnection,
    id: &str,
    spec_json: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE recovery_jobs SET spec_json = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(spec_json)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds one task row (rollback tasks are numbered by the record they delete).
pub async fn insert_task(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    index: i64,
    description: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO recovery_tasks (job_id, stage, task_index, description, state, attempts, \
         cloud_ms) VALUES ($1, $2, $3, $4, 'pending', 0, 0) \
         ON CONFLICT (job_id, stage, task_index) DO NOTHING",
    )
    .bind(job_id)
    .bind(stage)
    .bind(index)
    .bind(description)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The tasks of a stage, in order.
pub async fn tasks(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
) -> Result<Vec<TaskRecord>, DbError> {
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT stage, task_index, description, state, attempts, started_at, finished_at, \
         cloud_ms, error FROM recovery_tasks WHERE job_id = $1 AND stage = $2 \
         ORDER BY task_index",
    )
    .bind(job_id)
    .bind(stage)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TaskRecord {
            stage: r.0,
            task_index: r.1,
            description: r.2,
            state: r.3,
            attempts: r.4,
            started_at: r.5,
            finished_at: r.6,
            cloud_ms: r.7,
            error: r.8,
        })
        .collect())
}

/// Marks a task running (one more attempt).
pub async fn task_running(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    index: i64,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_tasks SET state = 'running', attempts = attempts + 1, \
         started_at = COALESCE(started_at, $4) WHERE job_id = $1 AND stage = $2 AND task_index = $3",
    )
    .bind(job_id)
    .bind(stage)
    .bind(index)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims a new run of a job and returns its number: the writes of every earlier run
/// are refused from now on (see [`holds_run`]).
pub async fn claim_run(conn: &mut AnyConnection, id: &str) -> Result<i64, DbError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("UPDATE recovery_jobs SET run_epoch = run_epoch + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let (run,): (i64,) = sqlx::query_as("SELECT run_epoch FROM recovery_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(run)
}

/// Inside a transaction: holds the job's row for run `run` until the commit, or says
/// that a newer run claimed the job (the caller then writes nothing). A claim waits
/// for the holder's commit, so no write of an older run lands after a newer claim.
pub async fn holds_run(conn: &mut AnyConnection, id: &str, run: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE recovery_jobs SET run_epoch = run_epoch WHERE id = $1 AND run_epoch = $2",
    )
    .bind(id)
    .bind(run)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a task finished (`succeeded`, `failed` or `skipped`), adding its cloud time.
#[allow(clippy::too_many_arguments)]
pub async fn task_finished(
    conn: &mut AnyConnection,
    job_id: &str,
    stage: &str,
    index: i64,
    state: &str,
    cloud_ms: i64,
    error: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_tasks SET state = $4, cloud_ms = cloud_ms + $5, error = $6, \
         finished_at = $7 WHERE job_id = $1 AND stage = $2 AND task_index = $3",
    )
    .bind(job_id)
    .bind(stage)
    .bind(index)
    .bind(state)
    .bind(cloud_ms)
    .bind(error)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One line of the task log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The stage.
    pub stage: String,
    /// The task (none: the job itself).
    pub task_index: Option<i64>,
    /// When (ms).
    pub at: i64,
    /// `info`, `warn`, `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// Appends a log line.
pub async fn log(conn: &mut AnyConnection, job_id: &str, line: &LogLine) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO recovery_task_log (id, job_id, stage, task_index, at, level, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(job_id)
    .bind(&line.stage)
    .bind(line.task_index)
    .bind(line.at)
    .bind(&line.level)
    .bind(&line.message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The task log of a job, oldest first.
pub async fn log_lines(conn: &mut AnyConnection, job_id: &str) -> Result<Vec<LogLine>, DbError> {
    let rows: Vec<(String, Option<i64>, i64, String, String)> = sqlx::query_as(
        "SELECT stage, task_index, at, level, message FROM recovery_task_log WHERE job_id = $1 \
         ORDER BY at, id",
    )
    .bind(job_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LogLine {
            stage: r.0,
            task_index: r.1,
            at: r.2,
            level: r.3,
            message: r.4,
        })
        .collect())
}
