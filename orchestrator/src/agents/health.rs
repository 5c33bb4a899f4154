//! An agent's health as the orchestrator stores and shows it: converted from the
//! protocol's `Heartbeat` at the edge, judged by pure rules.

use holdfast_protocol::messages::{Heartbeat, TrackerKind, WorkerState};
use serde::{Deserialize, Serialize};

/// Below this share of free space a storage path is a problem.
pub const LOW_DISK_PERCENT: u64 = 5;

/// Health from an agent's last heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Agent software version.
    pub agent_version: String,
    /// Seconds since the agent started.
    pub uptime_s: u64,
    /// Load averages (1, 5, 15 minutes).
    pub load: [f64; 3],
    /// Memory of the node.
    pub memory_total_bytes: u64,
    /// Available memory of the node.
    pub memory_available_bytes: u64,
    /// The agent process.
    pub pid: u32,
    /// Its threads.
    pub threads: u32,
    /// Its resident memory.
    pub rss_bytes: u64,
    /// Space of every storage path.
    pub disks: Vec<DiskHealth>,
    /// The agent's workers.
    pub workers: Vec<WorkerHealth>,
    /// Change tracking.
    pub tracker: TrackerHealth,
    /// Volumes it replicates.
    pub replications: u32,
}

/// Space of one storage path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DiskHealth {
    /// Path.
    pub path: String,
    /// Size.
    pub total_bytes: u64,
    /// Free for the agent.
    pub available_bytes: u64,
}

/// One worker of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerHealth {
    /// Name (e.g. `replicator:<volume>`).
    pub name: String,
    /// `idle`, `busy`, `stopping`, `failed` or `unknown`.
    pub state: String,
}

/// Change tracking on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackerHealth {
    /// `kernel`, `scan`, `rbd` or `unknown`.
    pub kind: String,
    /// Whether the change-tracking kernel module is loaded.
    pub kmod_loaded: bool,
    /// Its ABI version.
    pub kmod_abi_version: Option<u32>,
    /// Volumes tracked.
    pub tracked_volumes: u32,
}

/// Wire name of a tracker kind.
pub fn tracker_name(k: TrackerKind) -> &'static str {
    match k {
        TrackerKind::Kernel => "kernel",
        TrackerKind::Scan => "scan",
        TrackerKind::Rbd => "rbd",
        TrackerKind::Unknown => "unknown",
    }
}

fn worker_state(s: WorkerState) -> &'static str {
    match s {
        WorkerState::Idle => "idle",
        WorkerState::Busy => "busy",
        WorkerState::Stopping => "stopping",
        WorkerState::Failed => "failed",
        WorkerState::Unknown => "unknown",
    }
}

impl From<&Heartbeat> for Health {
    fn from(hb: &Heartbeat) -> Health {
        Health {
            agent_version: hb.agent_version.clone(),
            uptime_s: hb.uptime_s,
            load: [hb.load.one, hb.load.five, hb.load.fifteen],
            memory_total_bytes: hb.memory.total_bytes,
            memory_available_bytes: hb.memory.available_bytes,
            pid: hb.process.pid,
            threads: hb.process.threads,
            rss_bytes: hb.process.rss_bytes,
            disks: hb
                .disks
                .iter()
                .map(|d| DiskHealth {
                    path: d.path.clone(),
                    total_bytes: d.total_bytes,
                    available_bytes: d.available_bytes,
                })
                .collect(),
            workers: hb
                .workers
                .iter()
                .map(|w| WorkerHealth {
                    name: w.name.clone(),
                    state: worker_state(w.state).to_owned(),
                })
                .collect(),
            tracker: TrackerHealth {
                kind: tracker_name(hb.tracker.kind).to_owned(),
                kmod_loaded: hb.tracker.kmod_loaded,
                kmod_abi_version: hb.tracker.kmod_abi_version,
                tracked_volumes: hb.tracker.tracked_volumes,
            },
            replications: hb.replications,
        }
    }
}

/// What needs attention in this health report, in words an operator can act on.
pub fn problems(h: &Health) -> Vec<String> {
    let mut out = Vec::new();
    for d in &h.disks {
        if d.total_bytes > 0
            && u128::from(d.available_bytes) * 100
                < u128::from(d.total_bytes) * u128::from(LOW_DISK_PERCENT)
        {
            out.push(format!(
                "storage path {} has less than {LOW_DISK_PERCENT} % free ({} of {} bytes)",
                d.path, d.available_bytes, d.total_bytes
            ));
        }
    }
    for w in &h.workers {
        if w.state == "failed" {
            out.push(format!("worker {} failed; see the agent's log", w.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(disks: Vec<DiskHealth>, workers: Vec<WorkerHealth>) -> Health {
        Health {
            agent_version: "0.1.0".into(),
            uptime_s: 1,
            load: [0.0; 3],
            memory_total_bytes: 1,
            memory_available_bytes: 1,
            pid: 1,
            threads: 1,
            rss_bytes: 1,
            disks,
            workers,
            tracker: TrackerHealth {
                kind: "scan".into(),
                kmod_loaded: false,
                kmod_abi_version: None,
                tracked_volumes: 0,
            },
            replications: 0,
        }
    }

    #[test]
    fn low_disk_and_failed_workers_are_problems() {
        let disk = |avail| DiskHealth {
            path: "/v".into(),
            total_bytes: 1000,
            available_bytes: avail,
        };
        assert!(problems(&health(vec![disk(50)], vec![])).is_empty());
        let p = problems(&health(vec![disk(49)], vec![]));
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("/v"), "{p:?}");
        let w = WorkerHealth {
            name: "replicator:v1".into(),
            state: "failed".into(),
        };
        assert_eq!(problems(&health(vec![], vec![w])).len(), 1);
        // A path the agent cannot measure (size 0) is not reported as full.
        assert!(problems(&health(vec![disk(0)], vec![]))[0].contains("/v"));
        let unknown = DiskHealth {
            path: "/x".into(),
            total_bytes: 0,
            available_bytes: 0,
        };
        assert!(problems(&health(vec![unknown], vec![])).is_empty());
    }
}
