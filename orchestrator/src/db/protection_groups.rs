//! Protection groups and their instances. An instance is in at most one group: the
//! primary key of `protection_group_instances` is `(cluster_id, instance_id)`.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::DbError;

/// A stored protection group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The source cluster.
    pub source_cluster_id: String,
    /// Owner (user) group.
    pub owner_group_id: String,
    /// The source project of every instance.
    pub project_id: String,
    /// Recovery point objective (minutes).
    pub rpo_minutes: i64,
    /// Recovery time objective (minutes).
    pub rto_minutes: i64,
    /// The snapshot interval, a `Recurrence` as JSON.
    pub snapshot_interval_json: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, source_cluster_id, owner_group_id, project_id, \
    rpo_minutes, rto_minutes, snapshot_interval_json, created_at, updated_at";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    i64,
    i64,
);

fn record(r: Row) -> GroupRecord {
    GroupRecord {
        id: r.0,
        name: r.1,
        description: r.2,
        source_cluster_id: r.3,
        owner_group_id: r.4,
        project_id: r.5,
        rpo_minutes: r.6,
        rto_minutes: r.7,
        snapshot_interval_json: r.8,
        created_at: r.9,
        updated_at: r.10,
    }
}

/// Inserts a group (without instances).
pub async fn insert(conn: &mut AnyConnection, g: &GroupRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO protection_groups ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(&g.source_cluster_id)
    .bind(&g.owner_group_id)
    .bind(&g.project_id)
    .bind(g.rpo_minutes)
    .bind(g.rto_minutes)
    .bind(&g.snapshot_interval_json)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One group.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<GroupRecord>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM protection_groups WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(record))
}

/// Is a name used by another group than `except`?
pub async fn name_taken(
    conn: &mut AnyConnection,
    name: &str,
    except: Option<&str>,
) -> Result<bool, DbError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM protection_groups WHERE name = $1 AND ($2 IS NULL OR id <> $2)",
    )
    .bind(name)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// Filters of a group list.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter<'a> {
    /// Only groups owned by a group this user belongs to (`None`: all, Admin).
    pub member: Option<&'a str>,
    /// Source cluster.
    pub cluster_id: Option<&'a str>,
    /// Substring of the name.
    pub search: Option<&'a str>,
}

/// A page of groups ordered by name, and the total.
pub async fn list(
    conn: &mut AnyConnection,
    f: &GroupFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<GroupRecord>, i64), DbError> {
    const FILTER: &str = "($1 IS NULL OR owner_group_id IN \
        (SELECT group_id FROM user_group_members WHERE user_id = $1)) \
        AND ($2 IS NULL OR source_cluster_id = $2) \
        AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\')";
    let pattern = f.search.map(super::clusters::like_pattern);
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM protection_groups WHERE {FILTER}"
    ))
    .bind(f.member)
    .bind(f.cluster_id)
    .bind(&pattern)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM protection_groups WHERE {FILTER} ORDER BY name LIMIT $4 OFFSET $5"
    ))
    .bind(f.member)
    .bind(f.cluster_id)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.into_iter().map(record).collect(), total))
}

/// Changes the editable fields.
pub async fn update(conn: &mut AnyConnection, g: &GroupRecord) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE protection_groups SET name = $2, description = $3, rpo_minutes = $4, \
         rto_minutes = $5, snapshot_interval_json = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(g.rpo_minutes)
    .bind(g.rto_minutes)
    .bind(&g.snapshot_interval_json)
    .bind(g.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes a group and its instance rows.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM protection_group_instances WHERE group_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM protection_groups WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The instance ids of a group, sorted.
pub async fn instances(conn: &mut AnyConnection, group_id: &str) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT instance_id FROM protection_group_instances WHERE group_id = $1 ORDER BY instance_id",
    )
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(i,)| i).collect())
}

/// Replaces a group's instances (a unique violation means an instance is in another
/// group: a concurrent change won).
pub async fn set_instances(
    conn: &mut AnyConnection,
    group_id: &str,
    cluster_id: &str,
    instance_ids: &[String],
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM protection_group_instances WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
    for i in instance_ids {
        sqlx::query(
            "INSERT INTO protection_group_instances (cluster_id, instance_id, group_id, added_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(cluster_id)
        .bind(i)
        .bind(group_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// instance id → group id for every protected instance of a cluster.
pub async fn membership(
    conn: &mut AnyConnection,
    cluster_id: &str,
) -> Result<BTreeMap<String, String>, DbError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT instance_id, group_id FROM protection_group_instances WHERE cluster_id = $1",
    )
    .bind(cluster_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Instances protected by every group (the licence's usage).
pub async fn protected_count(conn: &mut AnyConnection) -> Result<i64, DbError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM protection_group_instances")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}

/// Groups whose source is the cluster.
pub async fn using_cluster(
    conn: &mut AnyConnection,
    cluster_id: &str,
) -> Result<Vec<GroupRecord>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM protection_groups WHERE source_cluster_id = $1 ORDER BY name"
    ))
    .bind(cluster_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(record).collect())
}
