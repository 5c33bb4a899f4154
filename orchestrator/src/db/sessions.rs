//! Server-side sessions, stored by the SHA-256 of their token.

use sqlx::AnyConnection;

use super::DbError;

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Hex SHA-256 of the bearer/cookie token.
    pub token_hash: String,
    /// Owner.
    pub user_id: String,
    /// Token the console echoes in `X-CSRF-Token`.
    pub csrf_token: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Client address at login.
    pub source_ip: String,
}

/// Ends every session of `user_id`; returns how many.
pub async fn delete_for_user(conn: &mut AnyConnection, user_id: &str) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Stores a session.
pub async fn insert(conn: &mut AnyConnection, s: &SessionRecord) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, source_ip) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.token_hash)
    .bind(&s.user_id)
    .bind(&s.csrf_token)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(&s.source_ip)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A live session by token hash.
pub async fn get(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionRecord>, DbError> {
    let row: Option<(String, String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT token_hash, user_id, csrf_token, created_at, expires_at, source_ip \
         FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(token_hash, user_id, csrf_token, created_at, expires_at, source_ip)| SessionRecord {
            token_hash,
            user_id,
            csrf_token,
            created_at,
            expires_at,
            source_ip,
        },
    ))
}

/// Ends one session.
pub async fn delete(conn: &mut AnyConnection, token_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes expired sessions.
pub async fn delete_expired(conn: &mut AnyConnection, now: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
