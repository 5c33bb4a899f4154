//! What every request handler and background task shares.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::config::Config;
use crate::db::Db;
use crate::domain::password::HashCost;
use crate::metrics::Metrics;

/// Shared state (cheap to clone).
pub type AppState = Arc<App>;

/// The running orchestrator.
#[derive(Debug)]
pub struct App {
    /// Database.
    pub db: Db,
    /// Configuration in effect.
    pub config: Config,
    /// Metrics registry.
    pub metrics: Metrics,
    /// This installation's product UUID.
    pub product_uuid: Uuid,
    /// argon2id cost for new hashes.
    pub hash_cost: HashCost,
    /// New events, for live streams.
    pub events: broadcast::Sender<crate::events::Event>,
    /// Becomes `true` when shutdown starts.
    pub shutdown: watch::Receiver<bool>,
    /// A hash to verify against when the user does not exist (equal timing).
    pub dummy_hash: String,
    /// Verifies licence keys.
    pub licence_key: ed25519_dalek::VerifyingKey,
    /// Cluster sessions, secrets key and background work.
    pub clusters: crate::clusters::Clusters,
    /// This replica's id (host, pid, random suffix): the lease holder and scheduler node.
    pub instance_id: String,
    /// Whether this replica holds the leader lease.
    pub leader: crate::lease::Leadership,
    /// The agents' bus, when `bus_url` is configured.
    pub agents: Option<crate::agents::AgentLink>,
    /// Replication as plans use it (`protection::NotConnected` until the replication
    /// service is wired in).
    pub replication: Arc<dyn crate::protection::PlanReplication>,
    /// The job engine.
    pub jobs: crate::jobs::Jobs,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
