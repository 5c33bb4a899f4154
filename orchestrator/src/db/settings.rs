//! Stored settings: one row per name, JSON values.

use sqlx::AnyConnection;

use super::DbError;

/// Every stored (name, JSON value).
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, DbError> {
    Ok(
        sqlx::query_as("SELECT name, value_json FROM settings ORDER BY name")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Inserts or replaces one value.
pub async fn upsert(
    conn: &mut AnyConnection,
    name: &str,
    value_json: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO settings (name, value_json, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value_json = excluded.value_json, \
         updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
