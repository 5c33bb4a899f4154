//! Replication facts, pure: per volume, from the last status its source agent reported,
//! whether the initial copy is done, whether mirroring is healthy or broken, and the
//! lag against the RPO. Plan state reads these: `Prepare` while an initial copy runs or
//! mirroring is broken, `Normal` when every volume is healthy.

use serde::Serialize;

use crate::dr::ids::VolumeId;

/// What is known about one volume's replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInput<'a> {
    /// The volume.
    pub volume: &'a str,
    /// Its RPO (ms).
    pub rpo_ms: u64,
    /// Whether the orchestrator finished telling both agents to start.
    pub started: bool,
    /// Whether the source agent is reachable.
    pub source_online: bool,
    /// The source agent's last status, if any.
    pub status: Option<StatusInput<'a>>,
}

/// The parts of a stored `ReplicationStatus` that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInput<'a> {
    /// Protocol state name (`initial_copy`, `replicating`, `failed`, ...).
    pub state: &'a str,
    /// Volume size.
    pub size_bytes: u64,
    /// Initial copy progress.
    pub initial_copy_bytes: u64,
    /// Lag (ms), once known.
    pub lag_ms: Option<u64>,
    /// The agent's last error.
    pub last_error: Option<&'a str>,
    /// When the status arrived (ms).
    pub updated_at: i64,
}

/// Where one volume's replication stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum VolumePhase {
    /// Being set up, or the initial copy runs.
    InitialCopy {
        /// Bytes copied.
        done_bytes: u64,
        /// Volume size.
        total_bytes: u64,
    },
    /// Mirroring works (lag may still exceed the RPO: see `over_rpo`).
    Healthy,
    /// Mirroring does not work.
    Broken {
        /// Why, in words an operator can act on.
        reason: String,
    },
}

/// One volume's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VolumeFacts {
    /// The volume.
    #[schema(value_type = String)]
    pub volume: VolumeId,
    /// Its phase.
    #[serde(flatten)]
    pub phase: VolumePhase,
    /// Whether the initial copy finished (it stays finished while mirroring is broken).
    pub initial_copy_done: bool,
    /// How far the target is behind (ms), once known.
    pub lag_ms: Option<u64>,
    /// The RPO (ms).
    pub rpo_ms: u64,
    /// Lag exceeds the RPO.
    pub over_rpo: bool,
}

/// Every volume of an owner.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct ReplicationFacts {
    /// By volume id.
    pub volumes: Vec<VolumeFacts>,
}

impl ReplicationFacts {
    /// Every volume's initial copy finished (false without volumes).
    pub fn initial_copy_done(&self) -> bool {
        !self.volumes.is_empty() && self.volumes.iter().all(|v| v.initial_copy_done)
    }

    /// Every volume mirrors healthily (false without volumes).
    pub fn healthy(&self) -> bool {
        !self.volumes.is_empty() && self.volumes.iter().all(|v| v.phase == VolumePhase::Healthy)
    }

    /// The broken volumes with their reasons.
    pub fn broken(&self) -> Vec<(&VolumeId, &str)> {
        self.volumes
            .iter()
            .filter_map(|v| match &v.phase {
                VolumePhase::Broken { reason } => Some((&v.volume, reason.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Volumes whose lag exceeds the RPO.
    pub fn over_rpo(&self) -> Vec<&VolumeId> {
        self.volumes
            .iter()
            .filter(|v| v.over_rpo)
            .map(|v| &v.volume)
            .collect()
    }
}

/// Evaluates one volume at `now`; a status older than `stale_after_ms` is not trusted.
pub fn evaluate(v: &VolumeInput<'_>, now: i64, stale_after_ms: i64) -> VolumeFacts {
    let lag_ms = v.status.as_ref().and_then(|s| s.lag_ms);
    let initial_copy_done = v.status.as_ref().is_some_and(|s| {
        s.size_bytes > 0
            && s.initial_copy_bytes >= s.size_bytes
            && !matches!(s.state, "starting" | "initial_copy")
    });
    let broken = |reason: String| VolumePhase::Broken { reason };
    let phase = if !v.source_online {
        broken(format!(
            "the source agent of volume {} is unreachable",
            v.volume
        ))
    } else {
        match &v.status {
            None if v.started => VolumePhase::InitialCopy {
                done_bytes: 0,
                total_bytes: 0,
            },
            None => broken(format!(
                "replication of volume {} was not started on its agents; start it again",
                v.volume
            )),
            Some(s) if now - s.updated_at > stale_after_ms => broken(format!(
                "the source agent has reported nothing on volume {} for {} s",
                v.volume,
                (now - s.updated_at) / 1000
            )),
            Some(s) => match s.state {
                "failed" => broken(format!(
                    "replication of volume {} failed: {}",
                    v.volume,
                    s.last_error.unwrap_or("no reason given")
                )),
                "stopped" => broken(format!("replication of volume {} is stopped", v.volume)),
                "replicating" | "paused" if initial_copy_done => VolumePhase::Healthy,
                // Also paused during the initial copy.
                "starting" | "initial_copy" | "resyncing" | "replicating" | "paused"
                    if !initial_copy_done =>
                {
                    VolumePhase::InitialCopy {
                        done_bytes: s.initial_copy_bytes,
                        total_bytes: s.size_bytes,
                    }
                }
                "resyncing" => broken(format!("volume {} is being resynchronised", v.volume)),
                "starting" | "initial_copy" => broken(format!(
                    "replication of volume {} is restarting (its agent restarted)",
                    v.volume
                )),
                other => broken(format!(
                    "volume {} reports the unknown state {other:?}",
                    v.volume
                )),
            },
        }
    };
    VolumeFacts {
        volume: VolumeId::new(v.volume),
        over_rpo: lag_ms.is_some_and(|l| l > v.rpo_ms),
        phase,
        initial_copy_done,
        lag_ms,
        rpo_ms: v.rpo_ms,
    }
}

#[cfg(test)]
mod tests;
