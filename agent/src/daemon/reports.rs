//! Conversions from the agent's own state to the bus messages that report it.

use holdfast_protocol::messages::{
    DiskSpace, Heartbeat, LoadAverage, MemoryStats, ProcessStats, ReplicationState,
    ReplicationStatus, TrackerKind, TrackerStatus, WorkerState, WorkerStatus,
};
use holdfast_protocol::{NodeId, UnixMillis, VolumeId};

use crate::health::HealthReport;
use crate::replication::replicator::{Phase, Progress};
use crate::replication::target::TargetStats;

pub fn replication_state(phase: Phase) -> ReplicationState {
    match phase {
        Phase::Starting => ReplicationState::Starting,
        Phase::InitialCopy => ReplicationState::InitialCopy,
        Phase::Replicating => ReplicationState::Replicating,
        Phase::Paused => ReplicationState::Paused,
        Phase::Failed => ReplicationState::Failed,
        Phase::Stopped => ReplicationState::Stopped,
    }
}

pub fn source_status(
    volume: &str,
    node: &NodeId,
    p: &Progress,
    now: UnixMillis,
) -> ReplicationStatus {
    ReplicationStatus {
        volume_id: VolumeId(volume.to_owned()),
        node_id: node.clone(),
        state: replication_state(p.phase),
        acked_epoch: p.committed_epoch,
        size_bytes: p.size_bytes,
        initial_copy_bytes: p.initial_copy_bytes,
        bytes_sent_total: p.bytes_sent_total,
        last_cycle_bytes: p.last_cycle_bytes,
        throughput_bps: p.throughput_bps,
        lag_ms: p.synced_as_of_ms.map(|t| now.0.saturating_sub(t)),
        last_synced_at: p.last_synced_at_ms.map(UnixMillis),
        last_error: p.last_error.clone(),
    }
}

pub fn target_status(
    volume: &str,
    node: &NodeId,
    acked_epoch: u64,
    size: u64,
    stats: TargetStats,
) -> ReplicationStatus {
    ReplicationStatus {
        volume_id: VolumeId(volume.to_owned()),
        node_id: node.clone(),
        state: if acked_epoch > 0 {
            ReplicationState::Replicating
        } else {
            ReplicationState::Starting
        },
        acked_epoch,
        size_bytes: size,
        initial_copy_bytes: if acked_epoch > 0 { size } else { 0 },
        bytes_sent_total: stats.bytes_received,
        last_cycle_bytes: 0,
        throughput_bps: 0,
        lag_ms: None,
        last_synced_at: None,
        last_error: None,
    }
}

#[derive(Debug)]
pub struct HeartbeatInput<'a> {
    pub node: &'a NodeId,
    pub uptime_s: u64,
    pub health: &'a HealthReport,
    pub workers: Vec<(String, Phase, bool)>,
    pub tracked_volumes: u32,
    pub replications: u32,
}

pub fn heartbeat(i: HeartbeatInput<'_>) -> Heartbeat {
    let h = i.health;
    Heartbeat {
        node_id: i.node.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_s: i.uptime_s,
        load: LoadAverage {
            one: h.load[0],
            five: h.load[1],
            fifteen: h.load[2],
        },
        memory: MemoryStats {
            total_bytes: h.memory_total_bytes,
            available_bytes: h.memory_available_bytes,
        },
        process: ProcessStats {
            pid: h.pid,
            threads: h.threads,
            rss_bytes: h.rss_bytes,
        },
        disks: h
            .disks
            .iter()
            .map(|d| DiskSpace {
                path: d.path.display().to_string(),
                total_bytes: d.total_bytes.unwrap_or(0),
                available_bytes: d.available_bytes.unwrap_or(0),
            })
            .collect(),
        workers: i
            .workers
            .into_iter()
            .map(|(name, phase, busy)| WorkerStatus {
                name,
                state: match phase {
                    Phase::Failed => WorkerState::Failed,
                    Phase::Stopped => WorkerState::Stopping,
                    _ if busy => WorkerState::Busy,
                    _ => WorkerState::Idle,
                },
            })
            .collect(),
        tracker: TrackerStatus {
            kind: if h.kmod_loaded {
                TrackerKind::Kernel
            } else {
                TrackerKind::Scan
            },
            kmod_loaded: h.kmod_loaded,
            kmod_abi_version: h.kmod_abi_version,
            tracked_volumes: i.tracked_volumes,
        },
        replications: i.replications,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_measured_from_the_synced_point() {
        let node = NodeId::parse("n1").unwrap();
        let p = Progress {
            phase: Phase::Replicating,
            synced_as_of_ms: Some(1_000),
            ..Progress::default()
        };
        let s = source_status("v", &node, &p, UnixMillis(4_500));
        assert_eq!(s.lag_ms, Some(3_500));
        assert_eq!(s.state, ReplicationState::Replicating);
        let fresh = source_status("v", &node, &Progress::default(), UnixMillis(1));
        assert_eq!(fresh.lag_ms, None);
    }
}
