//! Clusters: registration record, status, and the sync claim.

use sqlx::AnyConnection;

use super::DbError;

/// A stored cluster. Secrets are ciphertexts (see `secrets.rs`).
#[derive(Debug, Clone)]
pub struct ClusterRecord {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Owner group.
    pub owner_group_id: String,
    /// `openstack`.
    pub platform: String,
    /// Keystone URL.
    pub auth_url: String,
    /// Admin user name.
    pub username: String,
    /// The user's domain.
    pub user_domain: String,
    /// Project to scope to.
    pub project: String,
    /// The project's domain.
    pub project_domain: String,
    /// Encrypted password.
    pub password_enc: String,
    /// Encrypted notification broker URL (it may hold a password).
    pub broker_url_enc: Option<String>,
    /// Exchanges, JSON array.
    pub exchanges_json: String,
    /// Storage metadata, JSON array.
    pub storage_json: String,
    /// `active` / `inactive`.
    pub status: String,
    /// Why inactive.
    pub status_reason: Option<String>,
    /// When the status last changed (ms).
    pub status_changed_at: i64,
    /// `INIT` / `Running` / `Done`.
    pub sync_status: String,
    /// Start of the current or last sync (ms).
    pub sync_started_at: Option<i64>,
    /// End of the last sync (ms).
    pub sync_finished_at: Option<i64>,
    /// Error of the last sync.
    pub sync_error: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, owner_group_id, platform, auth_url, username, \
    user_domain, project, project_domain, password_enc, broker_url_enc, exchanges_json, \
    storage_json, status, status_reason, status_changed_at, sync_status, sync_started_at, \
    sync_finished_at, sync_error, created_at, updated_at";

fn record(r: &sqlx::any::AnyRow) -> Result<ClusterRecord, DbError> {
    use sqlx::Row as _;
    Ok(ClusterRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        owner_group_id: r.try_get("owner_group_id")?,
        platform: r.try_get("platform")?,
        auth_url: r.try_get("auth_url")?,
        username: r.try_get("username")?,
        user_domain: r.try_get("user_domain")?,
        project: r.try_get("project")?,
        project_domain: r.try_get("project_domain")?,
        password_enc: r.try_get("password_enc")?,
        broker_url_enc: r.try_get("broker_url_enc")?,
        exchanges_json: r.try_get("exchanges_json")?,
        storage_json: r.try_get("storage_json")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        status_changed_at: r.try_get("status_changed_at")?,
        sync_status: r.try_get("sync_status")?,
        sync_started_at: r.try_get("sync_started_at")?,
        sync_finished_at: r.try_get("sync_finished_at")?,
        sync_error: r.try_get("sync_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts a cluster.
pub async fn insert(conn: &mut AnyConnection, c: &ClusterRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO clusters ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
    ))
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.description)
    .bind(&c.owner_group_id)
    .bind(&c.platform)
    .bind(&c.auth_url)
    .bind(&c.username)
    .bind(&c.user_domain)
    .bind(&c.project)
    .bind(&c.project_domain)
    .bind(&c.password_enc)
    .bind(&c.broker_url_enc)
    .bind(&c.exchanges_json)
    .bind(&c.storage_json)
    .bind(&c.status)
    .bind(&c.status_reason)
    .bind(c.status_changed_at)
    .bind(&c.sync_status)
    .bind(c.sync_started_at)
    .bind(c.sync_finished_at)
    .bind(&c.sync_error)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One cluster.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ClusterRecord>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM clusters WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(record).transpose()
}

/// Is a name in use?
pub async fn name_taken(conn: &mut AnyConnection, name: &str) -> Result<bool, DbError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM clusters WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Every cluster (for the background tasks).
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<ClusterRecord>, DbError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM clusters ORDER BY name"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(record).collect()
}

/// A page of clusters visible to `member` (all when `None`: Admin) and the total.
pub async fn list(
    conn: &mut AnyConnection,
    member: Option<&str>,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ClusterRecord>, i64), DbError> {
    const FILTER: &str = "($1 IS NULL OR owner_group_id IN \
        (SELECT group_id FROM user_group_members WHERE user_id = $1)) \
        AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\')";
    let pattern = search.map(like_pattern);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM clusters WHERE {FILTER}"))
        .bind(member)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM clusters WHERE {FILTER} ORDER BY name LIMIT $3 OFFSET $4"
    ))
    .bind(member)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.iter().map(record).collect::<Result<_, _>>()?, total))
}

/// `%text%` for a case-insensitive LIKE, with `\` escapes.
pub fn like_pattern(s: &str) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Changes name, description and storage metadata.
pub async fn update_meta(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    description: &str,
    storage_json: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE clusters SET name = $2, description = $3, storage_json = $4, updated_at = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(storage_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the stored secrets (password rotation, key rotation).
pub async fn set_secrets(
    conn: &mut AnyConnection,
    id: &str,
    password_enc: &str,
    broker_url_enc: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE clusters SET password_enc = $2, broker_url_enc = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(password_enc)
    .bind(broker_url_enc)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes a cluster and (by cascade) its synced resources.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM cluster_resources WHERE cluster_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM clusters WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims the sync of a cluster: `true` when this caller may run it (no sync runs, or
/// the running one started before `stale_before` and is presumed dead).
pub async fn claim_sync(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
    stale_before: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE clusters SET sync_status = 'Running', sync_started_at = $2 \
         WHERE id = $1 AND (sync_status <> 'Running' OR sync_started_at < $3)",
    )
    .bind(id)
    .bind(now)
    .bind(stale_before)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a sync with its error, if any.
pub async fn finish_sync(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
    error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE clusters SET sync_status = 'Done', sync_finished_at = $2, sync_error = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the status; `true` when it changed (compare-and-set, so one replica reports it).
pub async fn set_status(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE clusters SET status = $2, status_reason = $3, status_changed_at = $4 \
         WHERE id = $1 AND status <> $2",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        sqlx::query("UPDATE clusters SET status_reason = $2 WHERE id = $1")
            .bind(id)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}
