//! Persistent schedules and the record of every fired slot.
//!
//! At-most-once per slot: a slot is claimed by a compare-and-set on `next_fire_at` and a
//! row in `schedule_fires` whose primary key is (schedule, slot), in one transaction. Two
//! orchestrators racing for a slot: one update matches, the other finds the row changed
//! (PostgreSQL re-checks the WHERE clause after the row lock; SQLite serialises writers;
//! CockroachDB's serializable transactions abort one of them).

use sqlx::AnyConnection;

use super::DbError;

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// Id.
    pub id: String,
    /// What it triggers (`event-retention`, later `drill:<job id>`, `snapshot:<group>`...).
    pub purpose: String,
    /// The recurrence as JSON (`domain::schedule::Recurrence`) plus start.
    pub spec_json: String,
    /// IANA time zone.
    pub time_zone: String,
    /// `run_once_late` or `skip`.
    pub missed_policy: String,
    /// Next slot (ms); `None` when it will not fire again.
    pub next_fire_at: Option<i64>,
    /// The last slot handled (ms).
    pub last_slot_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
);

fn record(
    (id, purpose, spec_json, time_zone, missed_policy, next_fire_at, last_slot_at, created_at): Row,
) -> ScheduleRecord {
    ScheduleRecord {
        id,
        purpose,
        spec_json,
        time_zone,
        missed_policy,
        next_fire_at,
        last_slot_at,
        created_at,
    }
}

const COLUMNS: &str =
    "id, purpose, spec_json, time_zone, missed_policy, next_fire_at, last_slot_at, created_at";

/// Inserts a schedule unless one with this id exists; true when inserted.
pub async fn insert_if_absent(
    conn: &mut AnyConnection,
    s: &ScheduleRecord,
) -> Result<bool, DbError> {
    let done = sqlx::query(&format!(
        "INSERT INTO schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO NOTHING"
    ))
    .bind(&s.id)
    .bind(&s.purpose)
    .bind(&s.spec_json)
    .bind(&s.time_zone)
    .bind(&s.missed_policy)
    .bind(s.next_fire_at)
    .bind(s.last_slot_at)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One schedule.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ScheduleRecord>, DbError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(record))
}

/// Schedules whose next slot is at or before `now`, oldest first.
pub async fn due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<ScheduleRecord>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 \
         ORDER BY next_fire_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Moves a schedule from slot `expected` to `next`; false when another process already
/// did. When `fire` is set, also records the fired slot (unique per schedule and slot).
pub async fn claim(
    conn: &mut AnyConnection,
    id: &str,
    expected: i64,
    next: Option<i64>,
    fire: Option<i64>,
    now: i64,
    node: &str,
) -> Result<bool, DbError> {
    let moved = sqlx::query(
        "UPDATE schedules SET next_fire_at = $3, last_slot_at = $2 \
         WHERE id = $1 AND next_fire_at = $2",
    )
    .bind(id)
    .bind(expected)
    .bind(next)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(slot) = fire {
        sqlx::query(
            "INSERT INTO schedule_fires (schedule_id, slot_at, fired_at, fired_by) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(slot)
        .bind(now)
        .bind(node)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Fired slots of a schedule, oldest first: (slot, fired_at, fired_by).
pub async fn fires(conn: &mut AnyConnection, id: &str) -> Result<Vec<(i64, i64, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT slot_at, fired_at, fired_by FROM schedule_fires WHERE schedule_id = $1 \
         ORDER BY slot_at",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Deletes a schedule and its fire records.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM schedule_fires WHERE schedule_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM schedules WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how a fired slot ended (`ok` / `failed`, with a human-readable detail).
pub async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    slot: i64,
    finished_at: i64,
    result: &str,
    detail: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE schedule_fires SET finished_at = $3, result = $4, detail = $5 \
         WHERE schedule_id = $1 AND slot_at = $2",
    )
    .bind(id)
    .bind(slot)
    .bind(finished_at)
    .bind(result)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes fire records older than `before` (ms), keeping each schedule's latest one;
/// returns how many.
pub async fn prune_fires(conn: &mut AnyConnection, before: i64) -> Result<u64, DbError> {
    let done = sqlx::query(
        "DELETE FROM schedule_fires WHERE fired_at < $1 AND slot_at < \
         (SELECT MAX(f.slot_at) FROM schedule_fires f \
          WHERE f.schedule_id = schedule_fires.schedule_id)",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
