//! The `Warning` reasons plan sync reactions raised, kept per plan until a user saves
//! the plan (migration 0009).

use sqlx::AnyConnection;

use super::DbError;

/// Adds a reason (once per plan); `true` when it was new.
pub async fn add(
    conn: &mut AnyConnection,
    plan_id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "INSERT INTO plan_sync_warnings (plan_id, reason, raised_at) VALUES ($1, $2, $3) \
         ON CONFLICT (plan_id, reason) DO NOTHING",
    )
    .bind(plan_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The plan's reasons, oldest first.
pub async fn list(conn: &mut AnyConnection, plan_id: &str) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT reason FROM plan_sync_warnings WHERE plan_id = $1 ORDER BY raised_at, reason",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

/// Forgets the plan's reasons (a user saved the plan).
pub async fn clear(conn: &mut AnyConnection, plan_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM plan_sync_warnings WHERE plan_id = $1")
        .bind(plan_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
