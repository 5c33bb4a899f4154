//! User groups.

use sqlx::AnyConnection;

use super::DbError;

/// A stored group.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// Member user ids, sorted.
    pub members: Vec<String>,
}

type Row = (String, String, String, i64, i64);

fn record((id, name, description, created_at, updated_at): Row) -> GroupRecord {
    GroupRecord {
        id,
        name,
        description,
        created_at,
        updated_at,
        members: Vec::new(),
    }
}

/// Inserts a group.
pub async fn insert(conn: &mut AnyConnection, g: &GroupRecord) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO user_groups (id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(g.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Member ids of a group.
pub async fn members(conn: &mut AnyConnection, id: &str) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT user_id FROM user_group_members WHERE group_id = $1 ORDER BY user_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}

/// One group with members.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<GroupRecord>, DbError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, name, description, created_at, updated_at FROM user_groups WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut g = record(row);
    g.members = members(conn, id).await?;
    Ok(Some(g))
}

/// Which of `ids` exist.
pub async fn existing(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<String>, DbError> {
    let mut found = Vec::new();
    for id in ids {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM user_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some((id,)) = row {
            found.push(id);
        }
    }
    Ok(found)
}

/// A page of groups (only those `member` belongs to, when given) and the total.
pub async fn list(
    conn: &mut AnyConnection,
    member: Option<&str>,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<GroupRecord>, i64), DbError> {
    const FILTER: &str = "($1 IS NULL OR EXISTS (SELECT 1 FROM user_group_members m \
        WHERE m.group_id = user_groups.id AND m.user_id = $1)) \
        AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\')";
    let pattern = search.map(|s| {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let (total,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM user_groups WHERE {FILTER}"))
            .bind(member)
            .bind(&pattern)
            .fetch_one(&mut *conn)
            .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT id, name, description, created_at, updated_at FROM user_groups \
         WHERE {FILTER} ORDER BY name LIMIT $3 OFFSET $4"
    ))
    .bind(member)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let mut groups: Vec<GroupRecord> = rows.into_iter().map(record).collect();
    for g in &mut groups {
        g.members = members(conn, &g.id).await?;
    }
    Ok((groups, total))
}

/// Changes name and description.
pub async fn update(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    description: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE user_groups SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds a member (no-op when already a member).
pub async fn add_member(conn: &mut AnyConnection, id: &str, user_id: &str) -> Result<(), DbError> {
    let exists: Option<(String,)> = sqlx::query_as(
        "SELECT user_id FROM user_group_members WHERE group_id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    if exists.is_none() {
        sqlx::query("INSERT INTO user_group_members (group_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Removes a member.
pub async fn remove_member(
    conn: &mut AnyConnection,
    id: &str,
    user_id: &str,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM user_group_members WHERE group_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes a group; its members become "no group" for it.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM user_group_members WHERE group_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
