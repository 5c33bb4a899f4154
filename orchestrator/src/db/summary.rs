//! Row counts and applied migrations, for the support bundle.

use sqlx::AnyConnection;

use super::DbError;

/// Tables summarised, in this order. Only names from this list reach the SQL text.
pub const TABLES: &[&str] = &[
    "users",
    "user_groups",
    "sessions",
    "events",
    "audit_log",
    "schedules",
    "schedule_fires",
    "agents",
    "agent_replications",
    "leader_lease",
    "replication_volumes",
    "group_snapshots",
];

/// `(table, rows)` for every table of [`TABLES`] that exists.
pub async fn counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, DbError> {
    let mut out = Vec::new();
    for table in TABLES {
        let n: Result<(i64,), sqlx::Error> =
            sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *conn)
                .await;
        match n {
            Ok((n,)) => out.push(((*table).to_owned(), n)),
            // A table from a migration this database has not applied.
            Err(sqlx::Error::Database(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Versions of the applied migrations, ascending.
pub async fn migrations(conn: &mut AnyConnection) -> Result<Vec<i64>, DbError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}
