//! Recovery plans: one per protection group (`UNIQUE group_id`), with the resource
//! mapping and boot plan as a JSON document, and the evaluated state with its reasons.

use sqlx::AnyConnection;

use super::DbError;

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    /// Id (UUID).
    pub id: String,
    /// The protection group.
    pub group_id: String,
    /// Unique name.
    pub name: String,
    /// The target cluster.
    pub target_cluster_id: String,
    /// Snapshot retention (1..48).
    pub retention: i64,
    /// `protection::mapping::PlanMapping` as JSON.
    pub mapping_json: String,
    /// `Normal`, `Prepare`, `Warning`, `Critical`, `Emergency`.
    pub state: String,
    /// The reasons, a JSON array of strings.
    pub reasons_json: String,
    /// When the state last changed (ms).
    pub state_changed_at: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "id, group_id, name, target_cluster_id, retention, mapping_json, state, \
    reasons_json, state_changed_at, created_at, updated_at";

type Row = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);

fn record(r: Row) -> PlanRecord {
    PlanRecord {
        id: r.0,
        group_id: r.1,
        name: r.2,
        target_cluster_id: r.3,
        retention: r.4,
        mapping_json: r.5,
        state: r.6,
        reasons_json: r.7,
        state_changed_at: r.8,
        created_at: r.9,
        updated_at: r.10,
    }
}

/// Inserts a plan.
pub async fn insert(conn: &mut AnyConnection, p: &PlanRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO recovery_plans ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&p.id)
    .bind(&p.group_id)
    .bind(&p.name)
    .bind(&p.target_cluster_id)
    .bind(p.retention)
    .bind(&p.mapping_json)
    .bind(&p.state)
    .bind(&p.reasons_json)
    .bind(p.state_changed_at)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One plan.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<PlanRecord>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recovery_plans WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(record))
}

/// The plan of a group.
pub async fn of_group(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<Option<PlanRecord>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recovery_plans WHERE group_id = $1"
    ))
    .bind(group_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(record))
}

/// Is a name used by another plan than `except`?
pub async fn name_taken(
    conn: &mut AnyConnection,
    name: &str,
    except: Option<&str>,
) -> Result<bool, DbError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM recovery_plans WHERE name = $1 AND ($2 IS NULL OR id <> $2)",
    )
    .bind(name)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// Filters of a plan list.
#[derive(Debug, Clone, Default)]
pub struct PlanFilter<'a> {
    /// Only plans whose group is owned by a group this user belongs to (`None`: all).
    pub member: Option<&'a str>,
    /// Plans whose source or target is this cluster.
    pub cluster_id: Option<&'a str>,
    /// State.
    pub state: Option<&'a str>,
    /// Substring of the name.
    pub search: Option<&'a str>,
}

const LIST_COLUMNS: &str = "p.id, p.group_id, p.name, p.target_cluster_id, p.retention, \
    p.mapping_json, p.state, p.reasons_json, p.state_changed_at, p.created_at, p.updated_at";

/// A page of plans ordered by name, and the total.
pub async fn list(
    conn: &mut AnyConnection,
    f: &PlanFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PlanRecord>, i64), DbError> {
    const FROM: &str = "recovery_plans p JOIN protection_groups g ON g.id = p.group_id \
        WHERE ($1 IS NULL OR g.owner_group_id IN \
        (SELECT group_id FROM user_group_members WHERE user_id = $1)) \
        AND ($2 IS NULL OR g.source_cluster_id = $2 OR p.target_cluster_id = $2) \
        AND ($3 IS NULL OR p.state = $3) \
        AND ($4 IS NULL OR LOWER(p.name) LIKE $4 ESCAPE '\\')";
    let pattern = f.search.map(super::clusters::like_pattern);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {FROM}"))
        .bind(f.member)
        .bind(f.cluster_id)
        .bind(f.state)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {LIST_COLUMNS} FROM {FROM} ORDER BY p.name LIMIT $5 OFFSET $6"
    ))
    .bind(f.member)
    .bind(f.cluster_id)
    .bind(f.state)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.into_iter().map(record).collect(), total))
}

/// Plan ids whose source (through the group) or target is the cluster.
pub async fn ids_using_cluster(
    conn: &mut AnyConnection,
    cluster_id: &str,
) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT p.id FROM recovery_plans p JOIN protection_groups g ON g.id = p.group_id \
         WHERE g.source_cluster_id = $1 OR p.target_cluster_id = $1 ORDER BY p.name",
    )
    .bind(cluster_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(i,)| i).collect())
}

/// Changes name, target, retention and mapping.
pub async fn update(conn: &mut AnyConnection, p: &PlanRecord) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE recovery_plans SET name = $2, target_cluster_id = $3, retention = $4, \
         mapping_json = $5, updated_at = $6 WHERE id = $1",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.target_cluster_id)
    .bind(p.retention)
    .bind(&p.mapping_json)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores a plan's evaluated state and reasons if its state is still `expected` (the
/// state the evaluation started from); `false` when another evaluation changed it
/// first (that one's result stands and it told of the change).
pub async fn set_state(
    conn: &mut AnyConnection,
    id: &str,
    expected: &str,
    state: &str,
    reasons_json: &str,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE recovery_plans SET state_changed_at = CASE WHEN state = $2 THEN state_changed_at \
         ELSE $4 END, state = $2, reasons_json = $3 WHERE id = $1 AND state = $5",
    )
    .bind(id)
    .bind(state)
    .bind(reasons_json)
    .bind(now)
    .bind(expected)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a plan.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    // SQLite does not enforce the cascade without `PRAGMA foreign_keys`
    super::plan_sync_warnings::clear(conn, id).await?;
    let done = sqlx::query("DELETE FROM recovery_plans WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
