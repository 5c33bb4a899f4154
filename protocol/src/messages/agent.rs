//! Registration and health: agent → orchestrator.

use serde::{Deserialize, Serialize};

use super::StorageKind;
use crate::{NodeId, ProtocolVersion};

/// Sent by an agent when it starts (and after every reconnect) to register itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AgentHello {
    pub node_id: NodeId,
    pub hostname: String,
    pub agent_version: String,
    pub protocol: ProtocolVersion,
    /// `host:port` where this agent's data plane accepts replication streams, if it
    /// serves as a replication target.
    pub data_plane_addr: Option<String>,
    pub backends: Vec<BackendInfo>,
    pub tracker: TrackerKind,
}

/// A storage backend configured on an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BackendInfo {
    pub name: String,
    pub kind: StorageKind,
}

/// The orchestrator's answer to [`AgentHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AgentWelcome {
    pub node_id: NodeId,
    pub accepted: bool,
    /// Why the agent was refused, in words an operator can act on.
    pub reason: Option<String>,
    pub heartbeat_interval_ms: u64,
    pub orchestrator_version: String,
}

/// Periodic health report of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Heartbeat {
    pub node_id: NodeId,
    pub agent_version: String,
    pub uptime_s: u64,
    pub load: LoadAverage,
    pub memory: MemoryStats,
    pub process: ProcessStats,
    /// Space of every storage path the agent uses (backends and state dir).
    pub disks: Vec<DiskSpace>,
    pub workers: Vec<WorkerStatus>,
    pub tracker: TrackerStatus,
    /// Volumes this agent currently replicates (as source or target).
    pub replications: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LoadAverage {
    #[cfg_attr(test, proptest(strategy = "0.0..512.0f64"))]
    pub one: f64,
    #[cfg_attr(test, proptest(strategy = "0.0..512.0f64"))]
    pub five: f64,
    #[cfg_attr(test, proptest(strategy = "0.0..512.0f64"))]
    pub fifteen: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MemoryStats {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

/// The agent process itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProcessStats {
    pub pid: u32,
    pub threads: u32,
    pub rss_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DiskSpace {
    pub path: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct WorkerStatus {
    pub name: String,
    pub state: WorkerState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum WorkerState {
    Idle,
    Busy,
    Stopping,
    Failed,
    #[serde(other)]
    Unknown,
}

/// How the agent learns which blocks changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum TrackerKind {
    /// The change-tracking kernel module.
    Kernel,
    /// User-space scan comparing block checksums with the last replicated state.
    Scan,
    /// Ceph RBD snapshot diffs.
    Rbd,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TrackerStatus {
    pub kind: TrackerKind,
    pub kmod_loaded: bool,
    pub kmod_abi_version: Option<u32>,
    pub tracked_volumes: u32,
}
