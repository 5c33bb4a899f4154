//! `/api/v1/agents`: the node agents, their last health and per-volume replication lag
//! against the RPO (once the DR engine has set it).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::agents::health::{self, Health};
use crate::db::{self, agents::AgentRecord, agents::ReplicationRecord};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::{AppState, now_ms};

/// One agent in the list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentSummary {
    /// Node id.
    pub node_id: String,
    /// Host name.
    pub hostname: String,
    /// `online` or `unreachable`.
    pub state: String,
    /// Agent version.
    pub agent_version: String,
    /// Last heartbeat (RFC 3339).
    pub last_heartbeat_at: Option<String>,
    /// Milliseconds since the last heartbeat.
    pub heartbeat_age_ms: Option<i64>,
    /// Volumes with a replication status on this agent.
    pub replications: usize,
    /// Volumes whose lag exceeds their RPO.
    pub behind_rpo: usize,
    /// What needs attention.
    pub problems: Vec<String>,
}

/// A storage backend of an agent.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackendView {
    /// Name.
    pub name: String,
    /// `file`, `block`, `rbd` or `unknown`.
    pub kind: String,
}

/// One volume's replication as an agent last reported it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationView {
    /// Source volume id.
    pub volume_id: String,
    /// `starting`, `initial_copy`, `replicating`, `paused`, `resyncing`, `stopped`,
    /// `failed` or `unknown`.
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
    /// How far the target is behind (ms), once known.
    pub lag_ms: Option<i64>,
    /// The protection group's RPO (ms), once the DR engine set it.
    pub rpo_ms: Option<i64>,
    /// `lag_ms <= rpo_ms`; `null` while either is unknown.
    pub within_rpo: Option<bool>,
    /// Last synchronised (RFC 3339).
    pub last_synced_at: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// When this status arrived (RFC 3339).
    pub updated_at: String,
}

/// One agent in full.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentDetail {
    /// Node id.
    pub node_id: String,
    /// Host name (empty until its hello arrived).
    pub hostname: String,
    /// `online` or `unreachable`.
    pub state: String,
    /// Since when (RFC 3339).
    pub state_since: String,
    /// Agent version.
    pub agent_version: String,
    /// Protocol version.
    pub protocol_version: String,
    /// Data-plane address.
    pub data_plane_addr: Option<String>,
    /// Storage backends.
    pub backends: Vec<BackendView>,
    /// Change tracker (`kernel`, `scan`, `rbd`).
    pub tracker: String,
    /// First registered (RFC 3339).
    pub registered_at: String,
    /// Last message of any kind (RFC 3339).
    pub last_seen_at: String,
    /// Last heartbeat (RFC 3339).
    pub last_heartbeat_at: Option<String>,
    /// Milliseconds since the last heartbeat.
    pub heartbeat_age_ms: Option<i64>,
    /// Health from the last heartbeat.
    pub health: Option<Health>,
    /// Per-volume replication.
    pub replications: Vec<ReplicationView>,
    /// What needs attention.
    pub problems: Vec<String>,
}

/// Paging of the agent list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

fn replication_view(r: ReplicationRecord) -> ReplicationView {
    ReplicationView {
        within_rpo: match (r.lag_ms, r.rpo_ms) {
            (Some(lag), Some(rpo)) => Some(lag <= rpo),
            _ => None,
        },
        volume_id: r.volume_id,
        state: r.state,
        acked_epoch: r.acked_epoch,
        size_bytes: r.size_bytes,
        initial_copy_bytes: r.initial_copy_bytes,
        bytes_sent_total: r.bytes_sent_total,
        last_cycle_bytes: r.last_cycle_bytes,
        throughput_bps: r.throughput_bps,
        lag_ms: r.lag_ms,
        rpo_ms: r.rpo_ms,
        last_synced_at: r.last_synced_at.map(super::time_text),
        last_error: r.last_error,
        updated_at: super::time_text(r.updated_at),
    }
}

fn parse_health(a: &AgentRecord) -> Option<Health> {
    let text = a.health_json.as_deref()?;
    match serde_json::from_str(text) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(node = %a.node_id, error = %e, "stored agent health unreadable");
            None
        }
    }
}

/// Everything that needs attention about one agent (pure).
pub fn problems(
    a: &AgentRecord,
    health: Option<&Health>,
    reps: &[ReplicationView],
    now: i64,
) -> Vec<String> {
    let mut out = Vec::new();
    if a.state == db::agents::UNREACHABLE {
        out.push(format!(
            "unreachable since {} (last message {} s ago)",
            super::time_text(a.state_changed_at),
            (now - a.last_seen_at).max(0) / 1000
        ));
    }
    if let Some(h) = health {
        out.extend(health::problems(h));
    }
    for r in reps {
        if r.state == "failed" {
            out.push(format!(
                "replication of volume {} failed: {}",
                r.volume_id,
                r.last_error.as_deref().unwrap_or("no reason reported")
            ));
        }
        if r.within_rpo == Some(false) {
            out.push(format!(
                "volume {} is {} s behind, beyond its RPO of {} s",
                r.volume_id,
                r.lag_ms.unwrap_or_default() / 1000,
                r.rpo_ms.unwrap_or_default() / 1000
            ));
        }
    }
    out
}

fn detail(a: AgentRecord, reps: Vec<ReplicationRecord>, now: i64) -> AgentDetail {
    let health = parse_health(&a);
    let replications: Vec<ReplicationView> = reps.into_iter().map(replication_view).collect();
    let problems = problems(&a, health.as_ref(), &replications, now);
    let backends = serde_json::from_str::<Vec<serde_json::Value>>(&a.backends_json)
        .unwrap_or_default()
        .into_iter()
        .map(|b| BackendView {
            name: b["name"].as_str().unwrap_or_default().to_owned(),
            kind: b["kind"].as_str().unwrap_or("unknown").to_owned(),
        })
        .collect();
    AgentDetail {
        state_since: super::time_text(a.state_changed_at),
        registered_at: super::time_text(a.registered_at),
        last_seen_at: super::time_text(a.last_seen_at),
        last_heartbeat_at: a.last_heartbeat_at.map(super::time_text),
        heartbeat_age_ms: a.last_heartbeat_at.map(|t| (now - t).max(0)),
        node_id: a.node_id,
        hostname: a.hostname,
        state: a.state,
        agent_version: a.agent_version,
        protocol_version: a.protocol_version,
        data_plane_addr: a.data_plane_addr,
        backends,
        tracker: a.tracker,
        health,
        replications,
        problems,
    }
}

/// Lists the agents, by node id.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(AgentQuery),
    responses((status = 200, body = Page<AgentSummary>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<AgentQuery>,
) -> ApiResult<Json<Page<AgentSummary>>> {
    rbac::decide(&auth.actor, Menu::Clusters, Action::Read, Owner::System)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut tx = state.db.begin().await?;
    let agents = db::agents::list(&mut tx).await?;
    let reps = db::agents::replications(&mut tx, None).await?;
    tx.commit().await?;
    let now = now_ms();
    let total = i64::try_from(agents.len()).unwrap_or(i64::MAX);
    let items = agents
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(0))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .map(|a| {
            let mine: Vec<ReplicationRecord> = reps
                .iter()
                .filter(|r| r.node_id == a.node_id)
                .cloned()
                .collect();
            let d = detail(a, mine, now);
            AgentSummary {
                behind_rpo: d
                    .replications
                    .iter()
                    .filter(|r| r.within_rpo == Some(false))
                    .count(),
                replications: d.replications.len(),
                node_id: d.node_id,
                hostname: d.hostname,
                state: d.state,
                agent_version: d.agent_version,
                last_heartbeat_at: d.last_heartbeat_at,
                heartbeat_age_ms: d.heartbeat_age_ms,
                problems: d.problems,
            }
        })
        .collect();
    Ok(Json(Page::new(items, total, page)))
}

/// Shows one agent with its health and per-volume replication.
#[utoipa::path(get, path = "/api/v1/agents/{node}", tag = "agents",
    params(("node" = String, Path, description = "node id")),
    responses((status = 200, body = AgentDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(node): Path<String>,
) -> ApiResult<Json<AgentDetail>> {
    rbac::decide(&auth.actor, Menu::Clusters, Action::Read, Owner::System)?;
    let mut tx = state.db.begin().await?;
    let agent = db::agents::get(&mut tx, &node).await?;
    let reps = db::agents::replications(&mut tx, Some(&node)).await?;
    tx.commit().await?;
    let agent = agent.ok_or_else(|| ApiError::not_found("agent", &node))?;
    Ok(Json(detail(agent, reps, now_ms())))
}
