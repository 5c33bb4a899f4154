//! Node agents as the orchestrator knows them (registration, last health, reachability)
//! and the last replication status each agent reported per volume.

use sqlx::AnyConnection;

use super::DbError;

/// Reachability of an agent.
pub const ONLINE: &str = "online";
/// Silent for longer than the configured number of heartbeat intervals.
pub const UNREACHABLE: &str = "unreachable";

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// Node id (validated by the protocol).
    pub node_id: String,
    /// Host name it reported (empty until its hello arrived).
    pub hostname: String,
    /// Agent software version.
    pub agent_version: String,
    /// Protocol version `major.minor` (empty until its hello arrived).
    pub protocol_version: String,
    /// `host:port` of its data plane.
    pub data_plane_addr: Option<String>,
    /// Storage backends, JSON list of `{name, kind}`.
    pub backends_json: String,
    /// Change tracker kind.
    pub tracker: String,
    /// [`ONLINE`] or [`UNREACHABLE`].
    pub state: String,
    /// When `state` last changed (ms).
    pub state_changed_at: i64,
    /// First seen (ms).
    pub registered_at: i64,
    /// Last hello (ms).
    pub last_hello_at: Option<i64>,
    /// Last message of any kind (ms).
    pub last_seen_at: i64,
    /// Last heartbeat (ms).
    pub last_heartbeat_at: Option<i64>,
    /// Health from the last heartbeat (JSON of `agents::Health`).
    pub health_json: Option<String>,
}

/// What an agent's hello says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Node id.
    pub node_id: String,
    /// Host name.
    pub hostname: String,
    /// Agent version.
    pub agent_version: String,
    /// Protocol version `major.minor`.
    pub protocol_version: String,
    /// Data-plane address.
    pub data_plane_addr: Option<String>,
    /// Backends JSON.
    pub backends_json: String,
    /// Tracker kind.
    pub tracker: String,
}

type AgentRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
);

const AGENT_COLUMNS: &str = "node_id, hostname, agent_version, protocol_version, \
    data_plane_addr, backends_json, tracker, state, state_changed_at, registered_at, \
    last_hello_at, last_seen_at, last_heartbeat_at, health_json";

fn agent(r: AgentRow) -> AgentRecord {
    AgentRecord {
        node_id: r.0,
        hostname: r.1,
        agent_version: r.2,
        protocol_version: r.3,
        data_plane_addr: r.4,
        backends_json: r.5,
        tracker: r.6,
        state: r.7,
        state_changed_at: r.8,
        registered_at: r.9,
        last_hello_at: r.10,
        last_seen_at: r.11,
        last_heartbeat_at: r.12,
        health_json: r.13,
    }
}

/// One agent.
pub async fn get(conn: &mut AnyConnection, node_id: &str) -> Result<Option<AgentRecord>, DbError> {
    let row: Option<AgentRow> = sqlx::query_as(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE node_id = $1"
    ))
    .bind(node_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(agent))
}

/// Every agent, by node id.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<AgentRecord>, DbError> {
    let rows: Vec<AgentRow> = sqlx::query_as(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents ORDER BY node_id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(agent).collect())
}

async fn state_of(conn: &mut AnyConnection, node_id: &str) -> Result<Option<String>, DbError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT state FROM agents WHERE node_id = $1")
        .bind(node_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(s,)| s))
}

/// Records a hello: creates or updates the agent, online. Returns its state before
/// (`None`: a new agent).
pub async fn register(
    conn: &mut AnyConnection,
    r: &Registration,
    now: i64,
) -> Result<Option<String>, DbError> {
    let before = state_of(conn, &r.node_id).await?;
    sqlx::query(
        "INSERT INTO agents (node_id, hostname, agent_version, protocol_version, \
         data_plane_addr, backends_json, tracker, state, state_changed_at, registered_at, \
         last_hello_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'online', $8, $8, $8, $8) \
         ON CONFLICT (node_id) DO UPDATE SET hostname = excluded.hostname, \
         agent_version = excluded.agent_version, protocol_version = excluded.protocol_version, \
         data_plane_addr = excluded.data_plane_addr, backends_json = excluded.backends_json, \
         tracker = excluded.tracker, \
         state_changed_at = CASE WHEN agents.state = 'online' THEN agents.state_changed_at ELSE excluded.state_changed_at END, \
         state = 'online', last_hello_at = excluded.last_hello_at, \
         last_seen_at = excluded.last_seen_at",
    )
    .bind(&r.node_id)
    .bind(&r.hostname)
    .bind(&r.agent_version)
    .bind(&r.protocol_version)
    .bind(&r.data_plane_addr)
    .bind(&r.backends_json)
    .bind(&r.tracker)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// Records a heartbeat (creating the agent if its hello was missed). Returns its state
/// before (`None`: a new agent).
pub async fn record_heartbeat(
    conn: &mut AnyConnection,
    node_id: &str,
    agent_version: &str,
    tracker: &str,
    health_json: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    let before = state_of(conn, node_id).await?;
    sqlx::query(
        "INSERT INTO agents (node_id, hostname, agent_version, protocol_version, \
         data_plane_addr, backends_json, tracker, state, state_changed_at, registered_at, \
         last_seen_at, last_heartbeat_at, health_json) \
         VALUES ($1, '', $2, '', NULL, '[]', $3, 'online', $4, $4, $4, $4, $5) \
         ON CONFLICT (node_id) DO UPDATE SET agent_version = excluded.agent_version, \
         state_changed_at = CASE WHEN agents.state = 'online' THEN agents.state_changed_at ELSE excluded.state_changed_at END, \
         state = 'online', last_seen_at = excluded.last_seen_at, \
         last_heartbeat_at = excluded.last_heartbeat_at, health_json = excluded.health_json",
    )
    .bind(node_id)
    .bind(agent_version)
    .bind(tracker)
    .bind(now)
    .bind(health_json)
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// Notes that a known agent sent something; returns its state before (`None`: unknown
/// agent, nothing recorded).
pub async fn touch(
    conn: &mut AnyConnection,
    node_id: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    let before = state_of(conn, node_id).await?;
    if before.is_some() {
        sqlx::query(
            "UPDATE agents SET last_seen_at = $2, \
             state_changed_at = CASE WHEN state = 'online' THEN state_changed_at ELSE $2 END, \
             state = 'online' WHERE node_id = $1",
        )
        .bind(node_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(before)
}

/// Marks every online agent last seen before `cutoff` unreachable; returns those
/// changed now, with their last-seen time.
pub async fn mark_unreachable(
    conn: &mut AnyConnection,
    cutoff: i64,
    now: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let silent: Vec<(String, i64)> = sqlx::query_as(
        "SELECT node_id, last_seen_at FROM agents WHERE state = 'online' AND last_seen_at < $1 \
         ORDER BY node_id",
    )
    .bind(cutoff)
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = Vec::new();
    for (node, seen) in silent {
        let n = sqlx::query(
            "UPDATE agents SET state = 'unreachable', state_changed_at = $3 \
             WHERE node_id = $1 AND state = 'online' AND last_seen_at < $2",
        )
        .bind(&node)
        .bind(cutoff)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n == 1 {
            changed.push((node, seen));
        }
    }
    Ok(changed)
}

/// The last status of one volume's replication on one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationRecord {
    /// Reporting agent.
    pub node_id: String,
    /// Source volume id.
    pub volume_id: String,
    /// Protocol state name (`replicating`, `failed`, ...).
    pub state: String,
    /// Last epoch the target acknowledged.
    pub acked_epoch: i64,
    /// Volume size.
    pub size_bytes: i64,
    /// Initial copy progress.
    pub initial_copy_bytes: i64,
    /// Bytes sent since replication started.
    pub bytes_sent_total: i64,
    /// Bytes of the last cycle.
    pub last_cycle_bytes: i64,
    /// Throughput.
    pub throughput_bps: i64,
    /// Lag (ms), once known.
    pub lag_ms: Option<i64>,
    /// Last synchronised (ms).
    pub last_synced_at: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// The protection group's RPO (ms), once the DR engine set it.
    pub rpo_ms: Option<i64>,
    /// When this status arrived (ms).
    pub updated_at: i64,
}

type ReplicationRow = (
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
);

fn replication(r: ReplicationRow) -> ReplicationRecord {
    ReplicationRecord {
        node_id: r.0,
        volume_id: r.1,
        state: r.2,
        acked_epoch: r.3,
        size_bytes: r.4,
        initial_copy_bytes: r.5,
        bytes_sent_total: r.6,
        last_cycle_bytes: r.7,
        throughput_bps: r.8,
        lag_ms: r.9,
        last_synced_at: r.10,
        last_error: r.11,
        rpo_ms: r.12,
        updated_at: r.13,
    }
}

const REPLICATION_COLUMNS: &str = "node_id, volume_id, state, acked_epoch, size_bytes, \
    initial_copy_bytes, bytes_sent_total, last_cycle_bytes, throughput_bps, lag_ms, \
    last_synced_at, last_error, rpo_ms, updated_at";

/// Stores a replication status with the RPO of the plan replicating the volume (or the
/// one set before); returns the previous state, if any.
pub async fn upsert_replication(
    conn: &mut AnyConnection,
    r: &ReplicationRecord,
) -> Result<Option<String>, DbError> {
    let before: Option<(String,)> = sqlx::query_as(
        "SELECT state FROM agent_replications WHERE node_id = $1 AND volume_id = $2",
    )
    .bind(&r.node_id)
    .bind(&r.volume_id)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO agent_replications ({REPLICATION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         (SELECT rpo_ms FROM replication_volumes WHERE volume_id = $2), $13) \
         ON CONFLICT (node_id, volume_id) DO UPDATE SET state = excluded.state, \
         rpo_ms = COALESCE(excluded.rpo_ms, agent_replications.rpo_ms), \
         acked_epoch = excluded.acked_epoch, size_bytes = excluded.size_bytes, \
         initial_copy_bytes = excluded.initial_copy_bytes, \
         bytes_sent_total = excluded.bytes_sent_total, \
         last_cycle_bytes = excluded.last_cycle_bytes, throughput_bps = excluded.throughput_bps, \
         lag_ms = excluded.lag_ms, last_synced_at = excluded.last_synced_at, \
         last_error = excluded.last_error, updated_at = excluded.updated_at"
    ))
    .bind(&r.node_id)
    .bind(&r.volume_id)
    .bind(&r.state)
    .bind(r.acked_epoch)
    .bind(r.size_bytes)
    .bind(r.initial_copy_bytes)
    .bind(r.bytes_sent_total)
    .bind(r.last_cycle_bytes)
    .bind(r.throughput_bps)
    .bind(r.lag_ms)
    .bind(r.last_synced_at)
    .bind(&r.last_error)
    .bind(r.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(before.map(|(s,)| s))
}

/// Replication statuses, of one agent or of all, by node and volume.
pub async fn replications(
    conn: &mut AnyConnection,
    node_id: Option<&str>,
) -> Result<Vec<ReplicationRecord>, DbError> {
    let rows: Vec<ReplicationRow> =
        match node_id {
            Some(node) => {
                sqlx::query_as(&format!(
                    "SELECT {REPLICATION_COLUMNS} FROM agent_replications WHERE node_id = $1 \
                 ORDER BY volume_id"
                ))
                .bind(node)
                .fetch_all(&mut *conn)
                .await?
            }
            None => sqlx::query_as(&format!(
                "SELECT {REPLICATION_COLUMNS} FROM agent_replications ORDER BY node_id, volume_id"
            ))
            .fetch_all(&mut *conn)
            .await?,
        };
    Ok(rows.into_iter().map(replication).collect())
}

/// Sets the RPO a volume's replication is measured against (the DR engine calls this
/// when it starts replication for a protection group); `None` clears it. Returns the
/// number of status rows updated.
pub async fn set_rpo(
    conn: &mut AnyConnection,
    volume_id: &str,
    rpo_ms: Option<i64>,
) -> Result<u64, DbError> {
    let n = sqlx::query("UPDATE agent_replications SET rpo_ms = $2 WHERE volume_id = $1")
        .bind(volume_id)
        .bind(rpo_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n)
}
