//! The leader lease: one row per lease name, taken and renewed by compare-and-set.
//!
//! - Acquire: insert the row if there is none, else take it over only if it has
//!   expired; each change of holder increments the fencing `token`.
//! - Renew: extend `expires_at` only while the row still names this holder *and* token.
//! - Release: expire the row now (graceful shutdown), so a follower takes over at once.
//!
//! PostgreSQL re-checks the WHERE clause of a contended UPDATE after the row lock, so
//! two replicas racing for an expired lease cannot both win; SQLite serialises writers;
//! CockroachDB's serializable transactions abort one of them.

use sqlx::AnyConnection;

use super::DbError;

/// The lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Lease name.
    pub name: String,
    /// Instance id of the holder.
    pub holder: String,
    /// Fencing token: grows every time the holder changes.
    pub token: i64,
    /// When the current holder acquired it (ms).
    pub acquired_at: i64,
    /// When it lapses unless renewed (ms).
    pub expires_at: i64,
}

/// Takes the lease for `holder` if it is free or expired at `now`; returns the new
/// fencing token, or `None` when another holder's lease is still valid.
pub async fn try_acquire(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<Option<i64>, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO leader_lease (name, holder, token, acquired_at, expires_at) \
         VALUES ($1, $2, 1, $3, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Some(1));
    }
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE leader_lease SET holder = $2, token = token + 1, acquired_at = $3, \
         expires_at = $4 WHERE name = $1 AND expires_at <= $3 RETURNING token",
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .bind(expires_at)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(t,)| t))
}

/// Extends the lease to `expires_at` if `holder` still holds it with `token`.
pub async fn renew(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    token: i64,
    expires_at: i64,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE leader_lease SET expires_at = $4 WHERE name = $1 AND holder = $2 AND token = $3",
    )
    .bind(name)
    .bind(holder)
    .bind(token)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Gives the lease up (it expires now) if `holder` still holds it with `token`.
pub async fn release(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    token: i64,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE leader_lease SET expires_at = 0 WHERE name = $1 AND holder = $2 AND token = $3",
    )
    .bind(name)
    .bind(holder)
    .bind(token)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Fencing check for leader work: does `holder` hold the lease with `token`, unexpired
/// at `now`? Run it inside the transaction whose writes it guards.
pub async fn holds(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    token: i64,
    now: i64,
) -> Result<bool, DbError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT token FROM leader_lease WHERE name = $1 AND holder = $2 AND token = $3 \
         AND expires_at > $4",
    )
    .bind(name)
    .bind(holder)
    .bind(token)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// The lease row, if any replica ever took it.
pub async fn get(conn: &mut AnyConnection, name: &str) -> Result<Option<LeaseRecord>, DbError> {
    let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT name, holder, token, acquired_at, expires_at FROM leader_lease WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(name, holder, token, acquired_at, expires_at)| LeaseRecord {
            name,
            holder,
            token,
            acquired_at,
            expires_at,
        },
    ))
}
