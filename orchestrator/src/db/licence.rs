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
