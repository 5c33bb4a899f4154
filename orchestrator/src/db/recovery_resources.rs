//! The resources a recovery job created on the target, each recorded BEFORE the call
//! that creates it (`intent`, with the deterministic tag the resource carries on the
//! target), completed after the call (`created`, with the target's ids), and marked
//! `deleted` by rollback. A crash between intent and completion is resolved on resume
//! by looking the tag up on the target.

use sqlx::AnyConnection;

use super::DbError;

/// One recorded resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    /// Order of recording (dependencies have smaller numbers).
    pub seq: i64,
    /// The tag the resource carries on the target (name, description or metadata).
    pub tag: String,
    /// The recovery task that creates it.
    pub task_index: i64,
    /// Resource kind (`port`, `volume`, ...).
    pub kind: String,
    /// `intent`, `created`, `deleted`.
    pub state: String,
    /// How to find it by its tag (JSON), recorded with the intent.
    pub lookup_json: String,
    /// The created resource (JSON of `dr::rollback::Resource`), once known.
    pub resource_json: Option<String>,
    /// Records (seq) it depends on (JSON array).
    pub depends_on_json: String,
    /// Instances it serves (JSON array).
    pub serves_json: String,
}

type Row = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

const COLUMNS: &str =
    "seq, tag, task_index, kind, state, lookup_json, resource_json, depends_on_json, serves_json";

fn record(r: Row) -> ResourceRecord {
    ResourceRecord {
        seq: r.0,
        tag: r.1,
        task_index: r.2,
        kind: r.3,
        state: r.4,
        lookup_json: r.5,
        resource_json: r.6,
        depends_on_json: r.7,
        serves_json: r.8,
    }
}

/// Records the intent to create a resource. Fails with a unique violation when the
/// tag is already recorded.
pub async fn record_intent(
    conn: &mut AnyConnection,
    job_id: &str,
    r: &ResourceRecord,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO recovery_resources (job_id, {COLUMNS}, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, 'intent', $6, $7, $8, $9, $10)"
    ))
    .bind(job_id)
    .bind(r.seq)
    .bind(&r.tag)
    .bind(r.task_index)
    .bind(&r.kind)
    .bind(&r.lookup_json)
    .bind(&r.resource_json)
    .bind(&r.depends_on_json)
    .bind(&r.serves_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Completes a recorded intent with the created resource (a record marked deleted
/// stays deleted: a late completion never brings it back).
pub async fn complete(
    conn: &mut AnyConnection,
    job_id: &str,
    tag: &str,
    resource_json: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_resources SET state = 'created', resource_json = $3, created_at = $4 \
         WHERE job_id = $1 AND tag = $2 AND state <> 'deleted'",
    )
    .bind(job_id)
    .bind(tag)
    .bind(resource_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a resource deleted (an intent that never reached the target is deleted too).
pub async fn mark_deleted(
    conn: &mut AnyConnection,
    job_id: &str,
    tag: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_resources SET state = 'deleted', deleted_at = $3 \
         WHERE job_id = $1 AND tag = $2",
    )
    .bind(job_id)
    .bind(tag)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every record of a job, in recording order.
pub async fn all(conn: &mut AnyConnection, job_id: &str) -> Result<Vec<ResourceRecord>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recovery_resources WHERE job_id = $1 ORDER BY seq"
    ))
    .bind(job_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// The next free sequence number of a job.
pub async fn next_seq(conn: &mut AnyConnection, job_id: &str) -> Result<i64, DbError> {
    let (max,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(seq) FROM recovery_resources WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(max.map_or(0, |m| m + 1))
}
