//! The installation row: this orchestrator's product UUID, made at first start.

use uuid::Uuid;

use sqlx::AnyConnection;

use super::DbError;

/// Returns the product UUID, creating it on first call.
pub async fn ensure(conn: &mut AnyConnection, now_ms: i64) -> Result<Uuid, DbError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT product_uuid FROM installation WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((text,)) = row {
        return Uuid::parse_str(&text).map_err(|e| DbError::Corrupt {
            table: "installation",
            reason: e.to_string(),
        });
    }
    // Replicas starting together: the first insert wins, the others read its UUID.
    sqlx::query(
        "INSERT INTO installation (id, product_uuid, created_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let (text,): (String,) = sqlx::query_as("SELECT product_uuid FROM installation WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Uuid::parse_str(&text).map_err(|e| DbError::Corrupt {
        table: "installation",
        reason: e.to_string(),
    })
}
