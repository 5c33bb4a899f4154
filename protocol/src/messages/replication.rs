//! Replication commands (orchestrator → agents) and status reports (agents →
//! orchestrator).

use serde::{Deserialize, Serialize};

use super::{Compression, SessionSecret, VolumeLocation};
use crate::{NodeId, UnixMillis, VolumeId};

/// One end of a replication pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationEndpoint {
    pub node_id: NodeId,
    pub location: VolumeLocation,
}

/// Start (or re-adopt after a restart) the replication of one volume. Sent to both the
/// source and the target agent; each acts on its own end. Starting a volume that is
/// already replicating with the same parameters is a no-op that reports its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationStart {
    pub volume_id: VolumeId,
    pub plan_id: String,
    pub size_bytes: u64,
    pub source: ReplicationEndpoint,
    pub target: ReplicationEndpoint,
    /// `host:port` of the target agent's data plane.
    pub target_data_addr: String,
    /// Shared by both ends for the data-plane handshake of this volume.
    pub session_secret: SessionSecret,
    /// Granularity of change tracking and transfer.
    pub block_size: u32,
    /// Time between delta cycles (derived from the group's RPO).
    pub cycle_interval_ms: u64,
    pub compression: Compression,
    /// Bytes per second; `None` for unlimited.
    pub bandwidth_limit_bps: Option<u64>,
}

/// Stop replicating a volume; with `remove_target_copy` the target also deletes its copy
/// and every snapshot of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationStop {
    pub volume_id: VolumeId,
    pub remove_target_copy: bool,
}

/// Forget the tracked state and copy the whole volume again (compared block by block,
/// only differing blocks are sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationResync {
    pub volume_id: VolumeId,
}

/// Suspend delta cycles; change tracking continues so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationPause {
    pub volume_id: VolumeId,
}

/// Resume delta cycles after a pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationResume {
    pub volume_id: VolumeId,
}

/// The state of one volume's replication on one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum ReplicationState {
    Starting,
    InitialCopy,
    Replicating,
    Paused,
    Resyncing,
    Stopped,
    Failed,
    #[serde(other)]
    Unknown,
}

/// The answer to every replication command: the state after the command was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationAck {
    pub volume_id: VolumeId,
    pub state: ReplicationState,
}

/// Periodic status and progress of one volume's replication, sent by the agent on each
/// end after every cycle and at least every heartbeat interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicationStatus {
    pub volume_id: VolumeId,
    pub node_id: NodeId,
    pub state: ReplicationState,
    /// The last epoch (delta cycle) the target acknowledged as durable.
    pub acked_epoch: u64,
    pub size_bytes: u64,
    /// Bytes of the initial copy done so far (equals `size_bytes` once it finished).
    pub initial_copy_bytes: u64,
    /// Bytes sent over the data plane since replication started.
    pub bytes_sent_total: u64,
    pub last_cycle_bytes: u64,
    pub throughput_bps: u64,
    /// How far the target is behind the source; `None` before the first cycle completed.
    pub lag_ms: Option<u64>,
    pub last_synced_at: Option<UnixMillis>,
    pub last_error: Option<String>,
}
