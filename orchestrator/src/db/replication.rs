//! Replication control: volume assignments per owner (a recovery plan), the
//! protection-group snapshots cut across an owner's volumes, and volume exports made
//! for recoveries.

use sqlx::AnyConnection;

use super::DbError;

/// One volume replicating for an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRecord {
    /// The owner (plan id).
    pub owner: String,
    /// Source volume id (Cinder id on the source cluster).
    pub volume_id: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The RPO lag is measured against (ms).
    pub rpo_ms: i64,
    /// Source cluster.
    pub source_cluster_id: String,
    /// Cinder host of the source volume, `host@backend#pool`.
    pub source_host: String,
    /// Agent node serving the source.
    pub source_node: String,
    /// Source `VolumeLocation` (JSON).
    pub source_location_json: String,
    /// Target cluster.
    pub target_cluster_id: String,
    /// Cinder host of the target pool exports are adopted into.
    pub target_host: String,
    /// Agent node holding the mirror.
    pub target_node: String,
    /// Mirror `VolumeLocation` (JSON).
    pub target_location_json: String,
    /// `starting` (recorded, agents being told) or `started`.
    pub state: String,
    /// What went wrong last, if anything.
    pub last_error: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

type VolumeRow = (
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

const VOLUME_COLUMNS: &str = "owner, volume_id, size_bytes, rpo_ms, source_cluster_id, \
    source_host, source_node, source_location_json, target_cluster_id, target_host, \
    target_node, target_location_json, state, last_error, created_at, updated_at";

fn volume(r: VolumeRow) -> VolumeRecord {
    VolumeRecord {
        owner: r.0,
        volume_id: r.1,
        size_bytes: r.2,
        rpo_ms: r.3,
        source_cluster_id: r.4,
        source_host: r.5,
        source_node: r.6,
        source_location_json: r.7,
        target_cluster_id: r.8,
        target_host: r.9,
        target_node: r.10,
        target_location_json: r.11,
        state: r.12,
        last_error: r.13,
        created_at: r.14,
        updated_at: r.15,
    }
}

/// Records a volume assignment. A volume already assigned (to any owner) is a unique
/// violation ([`DbError::is_unique_violation`]).
pub async fn insert_volume(conn: &mut AnyConnection, v: &VolumeRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO replication_volumes ({VOLUME_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(&v.owner)
    .bind(&v.volume_id)
    .bind(v.size_bytes)
    .bind(v.rpo_ms)
    .bind(&v.source_cluster_id)
    .bind(&v.source_host)
    .bind(&v.source_node)
    .bind(&v.source_location_json)
    .bind(&v.target_cluster_id)
    .bind(&v.target_host)
    .bind(&v.target_node)
    .bind(&v.target_location_json)
    .bind(&v.state)
    .bind(&v.last_error)
    .bind(v.created_at)
    .bind(v.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The assignment of a volume, whatever its owner.
pub async fn volume_by_id(
    conn: &mut AnyConnection,
    volume_id: &str,
) -> Result<Option<VolumeRecord>, DbError> {
    let row: Option<VolumeRow> = sqlx::query_as(&format!(
        "SELECT {VOLUME_COLUMNS} FROM replication_volumes WHERE volume_id = $1"
    ))
    .bind(volume_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(volume))
}

/// Every volume of an owner, by volume id.
pub async fn volumes(conn: &mut AnyConnection, owner: &str) -> Result<Vec<VolumeRecord>, DbError> {
    let rows: Vec<VolumeRow> = sqlx::query_as(&format!(
        "SELECT {VOLUME_COLUMNS} FROM replication_volumes WHERE owner = $1 ORDER BY volume_id"
    ))
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(volume).collect())
}

/// Sets a volume's state and last error.
pub async fn set_volume_state(
    conn: &mut AnyConnection,
    owner: &str,
    volume_id: &str,
    state: &str,
    last_error: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE replication_volumes SET state = $3, last_error = $4, updated_at = $5 \
         WHERE owner = $1 AND volume_id = $2",
    )
    .bind(owner)
    .bind(volume_id)
    .bind(state)
    .bind(last_error)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops a volume assignment.
pub async fn delete_volume(
    conn: &mut AnyConnection,
    owner: &str,
    volume_id: &str,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM replication_volumes WHERE owner = $1 AND volume_id = $2")
        .bind(owner)
        .bind(volume_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes a volume's row if it was not changed since `updated_at` (taking over a
/// stale claim); false when another process changed or removed it first.
pub async fn delete_volume_if_unchanged(
    conn: &mut AnyConnection,
    owner: &str,
    volume_id: &str,
    updated_at: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "DELETE FROM replication_volumes WHERE owner = $1 AND volume_id = $2 AND updated_at = $3",
    )
    .bind(owner)
    .bind(volume_id)
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A protection-group snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    /// Id.
    pub id: String,
    /// The owner (plan id).
    pub owner: String,
    /// Name of the snapshot on every target volume.
    pub snapshot_name: String,
    /// The cut point (ms).
    pub taken_at: i64,
    /// The plan as it was (JSON given by the caller).
    pub plan_json: String,
    /// Recorded (ms).
    pub created_at: i64,
}

/// One volume's part of a group snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotVolumeRecord {
    /// The group snapshot.
    pub snapshot_id: String,
    /// Source volume id.
    pub volume_id: String,
    /// Agent holding the snapshot.
    pub target_node: String,
    /// Snapshot name on the target storage.
    pub target_snapshot: String,
    /// The replication epoch it contains.
    pub epoch: i64,
}

type SnapshotRow = (String, String, String, i64, String, i64);
type SnapshotVolumeRow = (String, String, String, String, i64);

const SNAPSHOT_COLUMNS: &str = "id, owner, snapshot_name, taken_at, plan_json, created_at";
const SNAPSHOT_VOLUME_COLUMNS: &str = "snapshot_id, volume_id, target_node, target_snapshot, epoch";

fn snapshot(r: SnapshotRow) -> SnapshotRecord {
    SnapshotRecord {
        id: r.0,
        owner: r.1,
        snapshot_name: r.2,
        taken_at: r.3,
        plan_json: r.4,
        created_at: r.5,
    }
}

fn snapshot_volume(r: SnapshotVolumeRow) -> SnapshotVolumeRecord {
    SnapshotVolumeRecord {
        snapshot_id: r.0,
        volume_id: r.1,
        target_node: r.2,
        target_snapshot: r.3,
        epoch: r.4,
    }
}

/// Records a group snapshot with its volumes (run it in one transaction).
pub async fn insert_snapshot(
    conn: &mut AnyConnection,
    s: &SnapshotRecord,
    volumes: &[SnapshotVolumeRecord],
) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO group_snapshots ({SNAPSHOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&s.id)
    .bind(&s.owner)
    .bind(&s.snapshot_name)
    .bind(s.taken_at)
    .bind(&s.plan_json)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    for v in volumes {
        sqlx::query(&format!(
            "INSERT INTO group_snapshot_volumes ({SNAPSHOT_VOLUME_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&v.snapshot_id)
        .bind(&v.volume_id)
        .bind(&v.target_node)
        .bind(&v.target_snapshot)
        .bind(v.epoch)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// An owner's group snapshots, newest first.
pub async fn snapshots(
    conn: &mut AnyConnection,
    owner: &str,
) -> Result<Vec<SnapshotRecord>, DbError> {
    let rows: Vec<SnapshotRow> = sqlx::query_as(&format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM group_snapshots WHERE owner = $1 \
         ORDER BY taken_at DESC, id DESC"
    ))
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(snapshot).collect())
}

/// One group snapshot.
pub async fn snapshot_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<SnapshotRecord>, DbError> {
    let row: Option<SnapshotRow> = sqlx::query_as(&format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM group_snapshots WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(snapshot))
}

/// The volumes of a group snapshot, by volume id.
pub async fn snapshot_volumes(
    conn: &mut AnyConnection,
    snapshot_id: &str,
) -> Result<Vec<SnapshotVolumeRecord>, DbError> {
    let rows: Vec<SnapshotVolumeRow> = sqlx::query_as(&format!(
        "SELECT {SNAPSHOT_VOLUME_COLUMNS} FROM group_snapshot_volumes WHERE snapshot_id = $1 \
         ORDER BY volume_id"
    ))
    .bind(snapshot_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(snapshot_volume).collect())
}

/// Deletes a group snapshot and its volume rows; false when it did not exist.
pub async fn delete_snapshot(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    sqlx::query("DELETE FROM group_snapshot_volumes WHERE snapshot_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let n = sqlx::query("DELETE FROM group_snapshots WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// A volume exported on a target agent for a recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// The backend object's name (the executor's deterministic name).
    pub name: String,
    /// The `VolumeExport` id (the same on every retry).
    pub export_id: String,
    /// Source volume id.
    pub volume_id: String,
    /// Agent that wrote it.
    pub target_node: String,
    /// Its `VolumeLocation` (JSON).
    pub location_json: String,
    /// Cinder host of the pool it is in.
    pub host: String,
    /// `pending` (asked) or `done` (the agent confirmed).
    pub state: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

type ExportRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

const EXPORT_COLUMNS: &str = "name, export_id, volume_id, target_node, location_json, host, \
    state, created_at, updated_at";

fn export(r: ExportRow) -> ExportRecord {
    ExportRecord {
        name: r.0,
        export_id: r.1,
        volume_id: r.2,
        target_node: r.3,
        location_json: r.4,
        host: r.5,
        state: r.6,
        created_at: r.7,
        updated_at: r.8,
    }
}

/// Records an export before it is asked for; an existing one of that name is kept.
pub async fn insert_export(conn: &mut AnyConnection, e: &ExportRecord) -> Result<(), DbError> {
    sqlx::query(&format!(
        "INSERT INTO replication_exports ({EXPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9) ON CONFLICT (name) DO NOTHING"
    ))
    .bind(&e.name)
    .bind(&e.export_id)
    .bind(&e.volume_id)
    .bind(&e.target_node)
    .bind(&e.location_json)
    .bind(&e.host)
    .bind(&e.state)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The export of that name.
pub async fn export_by_name(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<ExportRecord>, DbError> {
    let row: Option<ExportRow> = sqlx::query_as(&format!(
        "SELECT {EXPORT_COLUMNS} FROM replication_exports WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(export))
}

/// Sets an export's state.
pub async fn set_export_state(
    conn: &mut AnyConnection,
    name: &str,
    state: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE replication_exports SET state = $2, updated_at = $3 WHERE name = $1")
        .bind(name)
        .bind(state)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets an export.
pub async fn delete_export(conn: &mut AnyConnection, name: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM replication_exports WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
