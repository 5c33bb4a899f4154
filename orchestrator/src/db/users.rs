//! Users and their group memberships.

use sqlx::Row;

use sqlx::AnyConnection;

use super::DbError;
use crate::domain::rbac::Role;

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Login id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail (lower case).
    pub email: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Locked until (ms), if locked.
    pub locked_until: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// Group ids, sorted.
    pub groups: Vec<String>,
}

/// Filters and page of a user listing.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only users sharing a group with this user id (Manager view); `None` = all.
    pub visible_to: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only members of this group.
    pub group: Option<String>,
    /// Substring of id, name or e-mail (case-insensitive).
    pub search: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

const COLUMNS: &str =
    "id, name, email, role, password_hash, failed_logins, locked_until, created_at, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, DbError> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| DbError::Corrupt {
            table: "users",
            reason: format!("unknown role {role:?}"),
        })?,
        password_hash: row.try_get("password_hash")?,
        failed_logins: row.try_get("failed_logins")?,
        locked_until: row.try_get("locked_until")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        groups: Vec::new(),
    })
}

/// Inserts a user (without groups).
pub async fn insert(conn: &mut AnyConnection, u: &UserRecord) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO users (id, name, email, role, password_hash, failed_logins, locked_until, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, NULL, $6, $6)",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.email)
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(u.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The groups of one user.
pub async fn groups_of(conn: &mut AnyConnection, id: &str) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT group_id FROM user_group_members WHERE user_id = $1 ORDER BY group_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// One user with groups.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<UserRecord>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut user = from_row(&row)?;
    user.groups = groups_of(conn, id).await?;
    Ok(Some(user))
}

/// Is an e-mail address taken by another user?
pub async fn email_taken(
    conn: &mut AnyConnection,
    email: &str,
    except: &str,
) -> Result<bool, DbError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE email = $1 AND id <> $2")
            .bind(email)
            .bind(except)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

const FILTER: &str = "($1 IS NULL OR EXISTS (SELECT 1 FROM user_group_members m \
     JOIN user_group_members a ON a.group_id = m.group_id \
     WHERE m.user_id = users.id AND a.user_id = $1)) \
     AND ($2 IS NULL OR role = $2) \
     AND ($3 IS NULL OR EXISTS (SELECT 1 FROM user_group_members g \
     WHERE g.user_id = users.id AND g.group_id = $3)) \
     AND ($4 IS NULL OR LOWER(id) LIKE $4 ESCAPE '\\' OR LOWER(name) LIKE $4 ESCAPE '\\' \
     OR LOWER(email) LIKE $4 ESCAPE '\\')";

fn like_pattern(search: &Option<String>) -> Option<String> {
    search.as_ref().map(|s| {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// A page of users matching `f`, and the total number matching.
pub async fn list(
    conn: &mut AnyConnection,
    f: &UserFilter,
) -> Result<(Vec<UserRecord>, i64), DbError> {
    let pattern = like_pattern(&f.search);
    let role = f.role.map(Role::as_str);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM users WHERE {FILTER}"))
        .bind(&f.visible_to)
        .bind(role)
        .bind(&f.group)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE {FILTER} ORDER BY id LIMIT $5 OFFSET $6"
    ))
    .bind(&f.visible_to)
    .bind(role)
    .bind(&f.group)
    .bind(&pattern)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    let mut users = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let members: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT user_id, group_id FROM user_group_members WHERE user_id IN \
         (SELECT id FROM users WHERE {FILTER} ORDER BY id LIMIT $5 OFFSET $6) \
         ORDER BY user_id, group_id"
    ))
    .bind(&f.visible_to)
    .bind(role)
    .bind(&f.group)
    .bind(&pattern)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    for (user_id, group_id) in members {
        if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
            u.groups.push(group_id);
        }
    }
    Ok((users, total))
}

/// Changes name, e-mail and role.
pub async fn update_profile(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    email: &str,
    role: Role,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET name = $2, email = $3, role = $4, updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(email)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces the user's groups.
pub async fn set_groups(
    conn: &mut AnyConnection,
    id: &str,
    groups: &[String],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM user_group_members WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for g in groups {
        sqlx::query("INSERT INTO user_group_members (group_id, user_id) VALUES ($1, $2)")
            .bind(g)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Stores a new password hash and clears the lockout counters.
pub async fn set_password_hash(
    conn: &mut AnyConnection,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores the lockout counters.
pub async fn set_login_state(
    conn: &mut AnyConnection,
    id: &str,
    failed_logins: i64,
    locked_until: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1")
        .bind(id)
        .bind(failed_logins)
        .bind(locked_until)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes a user (memberships and sessions go with it).
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM user_group_members WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Number of users.
pub async fn count(conn: &mut AnyConnection) -> Result<i64, DbError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}
