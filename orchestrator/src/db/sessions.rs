//! Server-side sessions, stored by the SHA-256 of their token.

use sqlx::AnyConnection;

use super::DbError;
use crate::domain::rbac::Role;

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

/// What a request's credentials stand for: the live session's CSRF token and its
/// user's id, role and groups.
#[derive(Debug, Clone)]
pub struct SessionActor {
    /// Token the console echoes in `X-CSRF-Token`.
    pub csrf_token: String,
    /// The session's user.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// The user's groups, ordered.
    pub groups: Vec<String>,
}

/// The live session of `token_hash` with its user, role and groups in one round trip
/// (every API request asks this first). `None` when the session expired or never
/// existed; deleting a user deletes their sessions.
pub async fn actor(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionActor>, DbError> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.csrf_token, u.id, u.role, m.group_id FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         LEFT JOIN user_group_members m ON m.user_id = u.id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 ORDER BY m.group_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let Some((csrf_token, user_id, role, _)) = rows.first().cloned() else {
        return Ok(None);
    };
    let role = Role::parse(&role).ok_or_else(|| DbError::Corrupt {
        table: "users",
        reason: format!("unknown role {role:?}"),
    })?;
    Ok(Some(SessionActor {
        csrf_token,
        user_id,
        role,
        groups: rows.into_iter().filter_map(|r| r.3).collect(),
    }))
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
