//! The append-only audit trail. There is no update or delete function, by design.

use sqlx::AnyConnection;

use super::DbError;

/// One audited API call.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Id (UUID v7, time-ordered).
    pub id: String,
    /// When (ms).
    pub at: i64,
    /// Authenticated user, or the login id attempted.
    pub actor: Option<String>,
    /// Client address.
    pub source_ip: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Object type (path segment after `/api/v1/`).
    pub object_type: String,
    /// Object id, if the path names one.
    pub object_id: Option<String>,
    /// The request body as JSON with secrets redacted.
    pub change_json: String,
    /// Response status.
    pub status: i64,
}

/// Filters of an audit query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this object type.
    pub object_type: Option<String>,
    /// From (ms, inclusive).
    pub since: Option<i64>,
    /// Until (ms, exclusive).
    pub until: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// Appends a record.
pub async fn append(conn: &mut AnyConnection, r: &AuditRecord) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, source_ip, method, path, object_type, object_id, \
         change_json, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.id)
    .bind(r.at)
    .bind(&r.actor)
    .bind(&r.source_ip)
    .bind(&r.method)
    .bind(&r.path)
    .bind(&r.object_type)
    .bind(&r.object_id)
    .bind(&r.change_json)
    .bind(r.status)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const FILTER: &str = "($1 IS NULL OR actor = $1) AND ($2 IS NULL OR object_type = $2) \
    AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4)";

type Row = (
    String,
    i64,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
);

/// A page of records, newest first, and the total matching.
pub async fn list(
    conn: &mut AnyConnection,
    f: &AuditFilter,
) -> Result<(Vec<AuditRecord>, i64), DbError> {
    let (total,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM audit_log WHERE {FILTER}"))
            .bind(&f.actor)
            .bind(&f.object_type)
            .bind(f.since)
            .bind(f.until)
            .fetch_one(&mut *conn)
            .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT id, at, actor, source_ip, method, path, object_type, object_id, change_json, \
         status FROM audit_log WHERE {FILTER} ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
    ))
    .bind(&f.actor)
    .bind(&f.object_type)
    .bind(f.since)
    .bind(f.until)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    let records = rows
        .into_iter()
        .map(
            |(
                id,
                at,
                actor,
                source_ip,
                method,
                path,
                object_type,
                object_id,
                change_json,
                status,
            )| {
                AuditRecord {
                    id,
                    at,
                    actor,
                    source_ip,
                    method,
                    path,
                    object_type,
                    object_id,
                    change_json,
                    status,
                }
            },
        )
        .collect();
    Ok((records, total))
}
