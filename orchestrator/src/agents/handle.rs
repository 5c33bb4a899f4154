//! What the orchestrator does with each message from an agent. Every effect is in the
//! database before the message is acknowledged; events follow the commit.

use holdfast_bus::BusError;
use holdfast_protocol::messages::{
    AgentHello, AgentWelcome, ErrorReport, Heartbeat, ReplicationState, ReplicationStatus,
};
use holdfast_protocol::{AnyMessage, Envelope, NodeId, ProtocolVersion, Sender, UnixMillis};

use super::AgentLink;
use super::health::{Health, tracker_name};
use crate::db::{self, DbError};
use crate::events::{self, Event, Severity};
use crate::state::{App, now_ms};

/// Why a message could not be handled now (it goes back to the queue).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandleError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot answer the agent: {0}")]
    Bus(#[from] BusError),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Db(e.into())
    }
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Wire name of a replication state.
pub fn state_name(s: ReplicationState) -> &'static str {
    match s {
        ReplicationState::Starting => "starting",
        ReplicationState::InitialCopy => "initial_copy",
        ReplicationState::Replicating => "replicating",
        ReplicationState::Paused => "paused",
        ReplicationState::Resyncing => "resyncing",
        ReplicationState::Stopped => "stopped",
        ReplicationState::Failed => "failed",
        ReplicationState::Unknown => "unknown",
    }
}

/// Handles one message from the orchestrator queue.
#[tracing::instrument(skip_all, fields(node, kind = %env.kind(), message_id = %env.header.message_id))]
pub(crate) async fn handle(app: &App, link: &AgentLink, env: Envelope) -> Result<(), HandleError> {
    let node = match &env.header.sender {
        Sender::Node(n) => n.clone(),
        Sender::Orchestrator => {
            tracing::warn!(
                "ignoring a message on the agents' queue that claims to come from an orchestrator"
            );
            return Ok(());
        }
    };
    tracing::Span::current().record("node", node.as_str());
    let now = now_ms();
    let Some(env) = link.deliver(env) else {
        let before = touch(app, &node, now).await?;
        came_back(app, &node, before.as_deref()).await;
        return Ok(());
    };
    let claimed = match &env.message {
        AnyMessage::AgentHello(m) => Some(&m.node_id),
        AnyMessage::Heartbeat(m) => Some(&m.node_id),
        AnyMessage::ReplicationStatus(m) => Some(&m.node_id),
        _ => None,
    };
    if let Some(claimed) = claimed
        && claimed != &node
    {
        tracing::warn!(%claimed, "ignoring a message whose body names another node than its sender");
        return Ok(());
    }
    match &env.message {
        AnyMessage::AgentHello(h) => hello(app, link, &node, &env, h, now).await,
        AnyMessage::Heartbeat(hb) => heartbeat(app, link, &node, hb, now).await,
        AnyMessage::ReplicationStatus(s) => replication_status(app, &node, s, now).await,
        AnyMessage::ErrorReport(r) => {
            let before = touch(app, &node, now).await?;
            came_back(app, &node, before.as_deref()).await;
            error_report(app, &node, r).await;
            Ok(())
        }
        other if env.header.correlation_id.is_some() => {
            tracing::info!(kind = %other.kind(), "a reply nobody waits for any more (timed out, or sent to a previous leader)");
            touch(app, &node, now).await?;
            Ok(())
        }
        other => {
            tracing::warn!(kind = %other.kind(), "ignoring a message that agents do not send");
            Ok(())
        }
    }
}

async fn touch(app: &App, node: &NodeId, now: i64) -> Result<Option<String>, HandleError> {
    let mut tx = app.db.begin().await?;
    let before = db::agents::touch(&mut tx, node.as_str(), now).await?;
    tx.commit().await?;
    Ok(before)
}

async fn emit(app: &App, event: Event) {
    if let Err(e) = events::publish(app, event).await {
        tracing::warn!(error = %e, "cannot record an agent event");
    }
}

/// Events for an agent seen for the first time or again after being unreachable.
async fn came_back(app: &App, node: &NodeId, before: Option<&str>) {
    if before == Some(db::agents::UNREACHABLE) {
        emit(
            app,
            Event::new(
                "agent.reachable",
                Severity::Info,
                format!("agent {node} is reachable again"),
            )
            .object("agent", node.as_str()),
        )
        .await;
    }
}

fn welcome(app: &App, node: &NodeId, accepted: bool, reason: Option<String>) -> AgentWelcome {
    AgentWelcome {
        node_id: node.clone(),
        accepted,
        reason,
        heartbeat_interval_ms: app.config.agent_heartbeat_interval_ms,
        orchestrator_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

async fn hello(
    app: &App,
    link: &AgentLink,
    node: &NodeId,
    env: &Envelope,
    h: &AgentHello,
    now: i64,
) -> Result<(), HandleError> {
    if h.protocol.major != ProtocolVersion::CURRENT.major {
        let reason = format!(
            "agent protocol {} is not compatible with the orchestrator's {}; upgrade the agent",
            h.protocol,
            ProtocolVersion::CURRENT
        );
        tracing::warn!(%reason, "refusing an agent");
        let reply = env.reply(
            Sender::Orchestrator,
            welcome(app, node, false, Some(reason)),
            UnixMillis::now(),
        );
        link.bus.publish_command(node, &reply).await?;
        return Ok(());
    }
    let backends: Vec<serde_json::Value> = h
        .backends
        .iter()
        .map(|b| {
            serde_json::json!({
                "name": b.name,
                "kind": serde_json::to_value(b.kind).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect();
    let reg = db::agents::Registration {
        node_id: node.to_string(),
        hostname: h.hostname.clone(),
        agent_version: h.agent_version.clone(),
        protocol_version: h.protocol.to_string(),
        data_plane_addr: h.data_plane_addr.clone(),
        backends_json: serde_json::Value::from(backends).to_string(),
        tracker: tracker_name(h.tracker).to_owned(),
    };
    let mut tx = app.db.begin().await?;
    let before = db::agents::register(&mut tx, &reg, now).await?;
    tx.commit().await?;
    let reply = env.reply(
        Sender::Orchestrator,
        welcome(app, node, true, None),
        UnixMillis::now(),
    );
    link.bus.publish_command(node, &reply).await?;
    tracing::info!(hostname = %h.hostname, version = %h.agent_version, "agent registered");
    match before {
        None => {
            emit(
                app,
                Event::new(
                    "agent.registered",
                    Severity::Info,
                    format!(
                        "agent {node} on host {} (version {}) registered",
                        h.hostname, h.agent_version
                    ),
                )
                .object("agent", node.as_str()),
            )
            .await
        }
        Some(b) => came_back(app, node, Some(&b)).await,
    }
    Ok(())
}

async fn heartbeat(
    app: &App,
    link: &AgentLink,
    node: &NodeId,
    hb: &Heartbeat,
    now: i64,
) -> Result<(), HandleError> {
    let health = Health::from(hb);
    let json = serde_json::to_string(&health).map_err(|e| DbError::Corrupt {
        table: "agents",
        reason: e.to_string(),
    })?;
    let mut tx = app.db.begin().await?;
    let before = db::agents::record_heartbeat(
        &mut tx,
        node.as_str(),
        &hb.agent_version,
        tracker_name(hb.tracker.kind),
        &json,
        now,
    )
    .await?;
    tx.commit().await?;
    match before {
        None => {
            // Its hello went out before this orchestrator listened: tell it our
            // heartbeat interval anyway (the agent adopts it from any welcome).
            let w = Envelope::new(
                Sender::Orchestrator,
                welcome(app, node, true, None),
                UnixMillis::now(),
            );
            link.bus.publish_command(node, &w).await?;
            emit(
                app,
                Event::new(
                    "agent.registered",
                    Severity::Info,
                    format!(
                        "agent {node} (version {}) registered by its heartbeat",
                        hb.agent_version
                    ),
                )
                .object("agent", node.as_str()),
            )
            .await;
        }
        Some(b) => came_back(app, node, Some(&b)).await,
    }
    Ok(())
}

async fn replication_status(
    app: &App,
    node: &NodeId,
    s: &ReplicationStatus,
    now: i64,
) -> Result<(), HandleError> {
    let rec = db::agents::ReplicationRecord {
        node_id: node.to_string(),
        volume_id: s.volume_id.0.clone(),
        state: state_name(s.state).to_owned(),
        acked_epoch: sat(s.acked_epoch),
        size_bytes: sat(s.size_bytes),
        initial_copy_bytes: sat(s.initial_copy_bytes),
        bytes_sent_total: sat(s.bytes_sent_total),
        last_cycle_bytes: sat(s.last_cycle_bytes),
        throughput_bps: sat(s.throughput_bps),
        lag_ms: s.lag_ms.map(sat),
        last_synced_at: s.last_synced_at.map(|t| sat(t.0)),
        last_error: s.last_error.clone(),
        rpo_ms: None,
        updated_at: now,
    };
    let mut tx = app.db.begin().await?;
    let agent_before = db::agents::touch(&mut tx, node.as_str(), now).await?;
    if agent_before.is_none() {
        // Statuses of an agent not registered yet wait until its heartbeat arrives.
        tx.rollback().await?;
        tracing::debug!(volume_id = %s.volume_id, "status from an unregistered agent dropped; its next report will do");
        return Ok(());
    }
    let before = db::agents::upsert_replication(&mut tx, &rec).await?;
    tx.commit().await?;
    came_back(app, node, agent_before.as_deref()).await;
    let failed = state_name(ReplicationState::Failed);
    if rec.state == failed && before.as_deref() != Some(failed) {
        emit(
            app,
            Event::new(
                "replication.failed",
                Severity::Error,
                format!(
                    "replication of volume {} on agent {node} failed: {}",
                    s.volume_id,
                    s.last_error.as_deref().unwrap_or("no reason reported")
                ),
            )
            .object("agent", node.as_str())
            .object("volume", &s.volume_id.0),
        )
        .await;
    } else if before.as_deref() == Some(failed) && rec.state != failed {
        emit(
            app,
            Event::new(
                "replication.recovered",
                Severity::Info,
                format!(
                    "replication of volume {} on agent {node} is {} again",
                    s.volume_id, rec.state
                ),
            )
            .object("agent", node.as_str())
            .object("volume", &s.volume_id.0),
        )
        .await;
    }
    Ok(())
}

async fn error_report(app: &App, node: &NodeId, r: &ErrorReport) {
    let severity = if r.retryable {
        Severity::Warning
    } else {
        Severity::Error
    };
    let code = serde_json::to_value(r.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let mut message = format!("agent {node} reports {code}: {}", r.message);
    if let Some(kind) = &r.request_kind {
        message.push_str(&format!(" (while handling {kind})"));
    }
    let mut event = Event::new("agent.error", severity, message).object("agent", node.as_str());
    if let Some(v) = &r.volume_id {
        event = event.object("volume", &v.0);
    }
    emit(app, event).await;
}
