//! The registered licence key (one row).

use sqlx::AnyConnection;

use super::DbError;

/// The stored key and when it was registered (ms).
pub async fn get(conn: &mut AnyConnection) -> Result<Option<(String, i64)>, DbError> {
    Ok(
        sqlx::query_as("SELECT licence_key, registered_at FROM licences WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Registers or replaces the key.
pub async fn put(conn: &mut AnyConnection, key: &str, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO licences (id, licence_key, registered_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET licence_key = excluded.licence_key, \
         registered_at = excluded.registered_at",
    )
    .bind(key)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the licence watch last raised (`licence::alerts::AlertMemory` as JSON).
pub async fn alert_memory(conn: &mut AnyConnection) -> Result<Option<String>, DbError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT memory_json FROM licence_alerts WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(m,)| m))
}

/// Stores what the licence watch raised.
pub async fn put_alert_memory(
    conn: &mut AnyConnection,
    memory_json: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO licence_alerts (id, memory_json, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET memory_json = excluded.memory_json, \
         updated_at = excluded.updated_at",
    )
    .bind(memory_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
