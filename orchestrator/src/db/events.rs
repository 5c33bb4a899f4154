//! Stored events.

use sqlx::AnyConnection;

use super::DbError;
use crate::events::{Event, ObjectRef, Severity};

/// Filters of an event listing.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of groups this user belongs to (non-Admin view).
    pub visible_to: Option<String>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this code.
    pub code: Option<String>,
    /// Only events concerning this object id.
    pub object_id: Option<String>,
    /// From (ms, inclusive).
    pub since: Option<i64>,
    /// Until (ms, exclusive).
    pub until: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// Stores an event.
pub async fn insert(conn: &mut AnyConnection, e: &Event) -> Result<(), DbError> {
    let objects = serde_json::to_string(&e.objects).map_err(|err| DbError::Corrupt {
        table: "events",
        reason: err.to_string(),
    })?;
    sqlx::query(
        "INSERT INTO events (id, at, code, severity, message, objects_json, group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.id)
    .bind(e.at)
    .bind(&e.code)
    .bind(e.severity.as_str())
    .bind(&e.message)
    .bind(objects)
    .bind(&e.group_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

type Row = (String, i64, String, String, String, String, Option<String>);

fn event((id, at, code, severity, message, objects, group_id): Row) -> Result<Event, DbError> {
    Ok(Event {
        severity: Severity::parse(&severity).ok_or_else(|| DbError::Corrupt {
            table: "events",
            reason: format!("unknown severity {severity:?}"),
        })?,
        objects: serde_json::from_str::<Vec<ObjectRef>>(&objects).map_err(|e| {
            DbError::Corrupt {
                table: "events",
                reason: e.to_string(),
            }
        })?,
        id,
        at,
        code,
        message,
        group_id,
    })
}

const FILTER: &str = "($1 IS NULL OR EXISTS (SELECT 1 FROM user_group_members m \
    WHERE m.group_id = events.group_id AND m.user_id = $1)) \
    AND ($2 IS NULL OR severity = $2) AND ($3 IS NULL OR code = $3) \
    AND ($4 IS NULL OR objects_json LIKE $4) \
    AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6)";

/// A page of events, newest first, and the total matching.
pub async fn list(conn: &mut AnyConnection, f: &EventFilter) -> Result<(Vec<Event>, i64), DbError> {
    let severity = f.severity.map(Severity::as_str);
    // Object ids are matched inside the stored JSON array as a quoted string.
    let object = f.object_id.as_ref().map(|id| {
        let quoted = serde_json::Value::String(id.clone()).to_string();
        format!("%\"id\":{quoted}%")
    });
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM events WHERE {FILTER}"))
        .bind(&f.visible_to)
        .bind(severity)
        .bind(&f.code)
        .bind(&object)
        .bind(f.since)
        .bind(f.until)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT id, at, code, severity, message, objects_json, group_id FROM events \
         WHERE {FILTER} ORDER BY at DESC, id DESC LIMIT $7 OFFSET $8"
    ))
    .bind(&f.visible_to)
    .bind(severity)
    .bind(&f.code)
    .bind(&object)
    .bind(f.since)
    .bind(f.until)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    let events = rows.into_iter().map(event).collect::<Result<Vec<_>, _>>()?;
    Ok((events, total))
}

/// One event.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Event>, DbError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, at, code, severity, message, objects_json, group_id FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(event).transpose()
}

/// Deletes events older than `before` (ms); returns how many.
pub async fn delete_older_than(conn: &mut AnyConnection, before: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM events WHERE at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
