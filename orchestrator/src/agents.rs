//! The orchestrator's side of the bus: agents register, report health and replication,
//! and answer requests.
//!
//! - [`connect`] opens the bus when `bus_url` is configured and declares the
//!   orchestrator queue; without a bus URL the orchestrator runs without agents.
//! - [`run`] consumes the orchestrator queue **while this replica holds the leader
//!   lease** (so that one replica records health, raises events and receives the
//!   replies of its own requests); `handle` stores hellos (answered with a welcome),
//!   heartbeats, replication statuses and error reports, and acks each message only
//!   after its effects are committed. Every half heartbeat interval, agents silent for
//!   `agent_missed_heartbeats` intervals are marked unreachable with an event; their
//!   next message marks them online with another.
//! - [`AgentLink::request`] sends a command and waits for its reply by correlation id;
//!   an `ErrorReport` answer becomes a typed [`AgentError`].

mod handle;
pub mod health;
mod link;

use std::time::Duration;

use holdfast_bus::{Bus, BusConfig, BusError};
use holdfast_protocol::names::Names;
use serde::Serialize;

pub use handle::state_name;
pub use link::{AgentError, AgentLink};

use crate::config::Config;
use crate::db::{self, DbError};
use crate::events::{Event, Severity};
use crate::state::{App, AppState, now_ms};

/// Connects to the bus if `bus_url` is configured. `instance` names the connection in
/// RabbitMQ's management UI.
pub async fn connect(config: &Config, instance: &str) -> Result<Option<AgentLink>, BusError> {
    let Some(url) = &config.bus_url else {
        tracing::info!("no bus_url configured: running without agents");
        return Ok(None);
    };
    let bus = Bus::connect(BusConfig::new(
        url.expose().as_str(),
        Names::new(config.bus_namespace.as_str()),
        format!("orchestrator-{instance}"),
    ))
    .await?;
    bus.declare_orchestrator_queue().await?;
    tracing::info!(url = %bus.config().redacted_url(), namespace = %config.bus_namespace, "connected to the bus");
    Ok(Some(AgentLink::new(bus)))
}

/// The bus as `/readyz` and `holdfast status` report it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusStatus {
    /// `connected`, `unavailable` or `not_configured`.
    pub status: String,
    /// Namespace of the exchanges and queues.
    pub namespace: Option<String>,
    /// Messages waiting in the orchestrator queue.
    pub queue_depth: Option<u32>,
    /// Whether this replica consumes the agents' messages (it holds the lease).
    pub consuming: bool,
    /// What is wrong, or what it means.
    pub message: String,
}

/// Probes the bus with a round trip (at most 1 s, inside the readiness probe's budget).
pub async fn bus_status(app: &App) -> BusStatus {
    let Some(link) = &app.agents else {
        return BusStatus {
            status: "not_configured".into(),
            namespace: None,
            queue_depth: None,
            consuming: false,
            message: "no bus_url is configured: the orchestrator runs without agents (no replication, no health reports)".into(),
        };
    };
    let bus = link.bus();
    let queue = bus.names().orchestrator_queue();
    let probe = tokio::time::timeout(Duration::from_secs(1), bus.queue_depth(&queue)).await;
    let (status, depth, message) = match probe {
        Ok(Ok(n)) => ("connected", Some(n), "RabbitMQ answers".to_owned()),
        Ok(Err(e)) => ("unavailable", None, e.to_string()),
        Err(_) => (
            "unavailable",
            None,
            format!(
                "RabbitMQ at {} did not answer within 1 s",
                bus.config().redacted_url()
            ),
        ),
    };
    BusStatus {
        status: status.into(),
        namespace: Some(bus.names().namespace().to_owned()),
        queue_depth: depth,
        consuming: link.is_consuming(),
        message,
    }
}

/// Consumes the agents' messages while this replica is leader, until shutdown.
pub async fn run(app: AppState) {
    let Some(link) = app.agents.clone() else {
        return;
    };
    let mut leader = app.leader.clone();
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            t = leader.gained() => if t.is_none() { return },
            () = stopping(&mut shutdown) => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let result = consume(&app, &link, &mut leader, &mut shutdown).await;
        link.set_consuming(false);
        match result {
            Ok(()) => tracing::info!("stopped consuming agent messages"),
            Err(e) => {
                tracing::warn!(error = %e, "consuming agent messages failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn consume(
    app: &App,
    link: &AgentLink,
    leader: &mut crate::lease::Leadership,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), BusError> {
    let queue = link.bus().names().orchestrator_queue();
    let mut sub = link.bus().subscribe(&queue).await?;
    link.set_consuming(true);
    tracing::info!(%queue, "consuming agent messages (leader)");
    let interval = Duration::from_millis(app.config.agent_heartbeat_interval_ms);
    let grace = interval * app.config.agent_missed_heartbeats;
    let since = tokio::time::Instant::now();
    let mut check = tokio::time::interval(interval / 2);
    loop {
        tokio::select! {
            () = leader.lost() => return Ok(()),
            () = stopping(shutdown) => return Ok(()),
            _ = check.tick() => {
                // A new leader first gives every agent a full grace period: messages
                // queued while no replica consumed are still arriving.
                if since.elapsed() >= grace
                    && let Err(e) = mark_silent(app).await
                {
                    tracing::warn!(error = %e, "cannot check agent heartbeats");
                }
            }
            d = sub.next() => {
                let Some(d) = d else { return Err(BusError::Closed) };
                let env = d.envelope().clone();
                match handle::handle(app, link, env).await {
                    Ok(()) => {
                        if let Err(e) = d.ack().await {
                            tracing::warn!(error = %e, "cannot ack an agent message; it will be redelivered and deduplicated");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot handle an agent message now; requeued");
                        let _ = d.retry_later().await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    }
}

async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Marks agents silent for too long unreachable, with an event each.
async fn mark_silent(app: &App) -> Result<(), DbError> {
    let interval = i64::try_from(app.config.agent_heartbeat_interval_ms).unwrap_or(i64::MAX);
    let limit = interval.saturating_mul(i64::from(app.config.agent_missed_heartbeats));
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    let changed = db::agents::mark_unreachable(&mut tx, now - limit, now).await?;
    tx.commit().await?;
    for (node, seen) in changed {
        let event = Event::new(
            "agent.unreachable",
            Severity::Error,
            format!(
                "agent {node} has sent nothing for {} s (last message {}); check `systemctl status holdfast-agent` on that node and its connection to RabbitMQ",
                (now - seen) / 1000,
                crate::api::time_text(seen)
            ),
        )
        .object("agent", &node);
        if let Err(e) = crate::events::publish(app, event).await {
            tracing::warn!(error = %e, "cannot record an agent event");
        }
    }
    Ok(())
}
