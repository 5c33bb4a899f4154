//! Plan-state evaluation (protection.md, "Plan states"; "Capacity check"; "Snapshots":
//! target storage; operations.md, known constraint 3) as a pure function of facts.
//!
//! Precedence (the spec gives none; decided here):
//!
//! 1. `Critical` — the target cluster is inactive: no recovery can run there, whatever
//!    else is true (if the source is down too, the reasons say so).
//! 2. `Prepare` — the initial copy (or flatten, or the first snapshot) is not done:
//!    there is no complete copy to recover from yet.
//! 3. `Emergency` — the source cluster is inactive: this is when DR is needed, so it
//!    wins over broken mirroring (expected when the source is gone) and warnings.
//! 4. `Prepare` — mirroring of a volume is broken and being repaired.
//! 5. `Warning` — unmapped resources, an invalid mapping, capacity or storage short,
//!    a job in progress.
//! 6. `Normal`.
//!
//! Every reason found is returned, not only the one that decided the state.
//!
//! What the plan's own jobs hold on the target ([`OwnJobsHold`]: the instances, the
//! project and the floating IPs of its drill not yet rolled back) is not held against
//! it: their nodes' capacity is counted without them, and "project name taken" /
//! "floating IP in use" by them are no reasons.

use std::fmt;

use super::capacity::{self, CapacityIssue};
use super::ids::{JobId, VolumeId};
use super::plan_sync::MappingIssue;
use super::retention::Retention;

pub use super::capacity::{InstanceNeeds, NodeFacts, NodeMapping};
pub use own_jobs::OwnJobsHold;

mod own_jobs;

/// The plan states of protection.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanState {
    /// Mirroring of all volumes healthy; jobs allowed.
    Normal,
    /// Initial copy in progress, or mirroring broken and being repaired; no jobs.
    Prepare,
    /// Something needs the operator's attention; no jobs.
    Warning,
    /// The target cluster is inactive; no jobs.
    Critical,
    /// The source cluster is inactive; jobs allowed (this is when DR is needed).
    Emergency,
}

impl PlanState {
    /// Every state.
    pub const ALL: [PlanState; 5] = [
        PlanState::Normal,
        PlanState::Prepare,
        PlanState::Warning,
        PlanState::Critical,
        PlanState::Emergency,
    ];

    /// Whether recovery jobs may be created (protection.md, "Plan states").
    pub fn jobs_allowed(self) -> bool {
        matches!(self, PlanState::Normal | PlanState::Emergency)
    }
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanState::Normal => "Normal",
            PlanState::Prepare => "Prepare",
            PlanState::Warning => "Warning",
            PlanState::Critical => "Critical",
            PlanState::Emergency => "Emergency",
        })
    }
}

/// A cluster's status (clusters.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterStatus {
    /// Reachable and authenticated.
    Active,
    /// Not.
    Inactive,
}

/// Replication of one volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replication {
    /// The initial full copy, percent done (0..=100).
    InitialCopy {
        /// Progress.
        percent: u8,
    },
    /// The target copy is being flattened (storage that needs it).
    Flattening,
    /// Continuous replication, healthy.
    Mirroring,
    /// Broken; being repaired (resync).
    Broken,
}

/// One protected volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFacts {
    /// Its id.
    pub id: VolumeId,
    /// Its name, for messages.
    pub name: String,
    /// Its replication.
    pub replication: Replication,
}

/// Everything plan-state evaluation looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFacts {
    /// The source cluster's status.
    pub source: ClusterStatus,
    /// The target cluster's status.
    pub target: ClusterStatus,
    /// Every protected volume.
    pub volumes: Vec<VolumeFacts>,
    /// Whether the first protection-group snapshot was taken after the initial copy.
    pub first_snapshot_taken: bool,
    /// Names of the group's instances that the plan does not map yet.
    pub unmapped_instances: Vec<String>,
    /// Names of the group's volumes that the plan does not map yet.
    pub unmapped_volumes: Vec<String>,
    /// Mapped target resources that are gone or changed (from
    /// [`super::plan_sync::validate_mapping`] and the sync reactions).
    pub mapping_issues: Vec<MappingIssue>,
    /// The instances' needs and placements.
    pub instances: Vec<InstanceNeeds>,
    /// The target's compute nodes.
    pub nodes: Vec<NodeFacts>,
    /// The plan's retention.
    pub retention: Retention,
    /// Total size of the protected volumes, bytes.
    pub source_bytes: u64,
    /// Bytes the target storage can give this plan: free space of the pool plus what
    /// the plan already occupies there.
    pub target_storage_bytes: u64,
    /// Jobs of the plan from `pending` to `reporting`.
    pub jobs_in_progress: Vec<JobId>,
    /// What the plan's own jobs hold on the target (not counted against it).
    pub own_jobs: OwnJobsHold,
}

/// One reason behind a plan's state, in operator words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The source cluster is inactive.
    #[error("the source cluster is inactive: its workloads may be down; a DR job can be run now")]
    SourceInactive,
    /// The target cluster is inactive.
    #[error(
        "the target cluster is inactive: check its API endpoint and credential; no recovery can run until it is active"
    )]
    TargetInactive,
    /// Initial copy running.
    #[error("volume {name}: initial copy to the target {percent}% done")]
    InitialCopy {
        /// The volume.
        name: String,
        /// Progress.
        percent: u8,
    },
    /// Flatten running.
    #[error("volume {name}: the target copy is being flattened")]
    Flattening {
        /// The volume.
        name: String,
    },
    /// Waiting for the first snapshot.
    #[error("the initial copy is done; the first protection-group snapshot has not been taken yet")]
    FirstSnapshotPending,
    /// Mirroring broken.
    #[error("volume {name}: mirroring is broken and being repaired (resync)")]
    MirroringBroken {
        /// The volume.
        name: String,
    },
    /// An instance without mapping.
    #[error("instance {name} was added to the group and is not mapped: edit and save the plan")]
    UnmappedInstance {
        /// The instance.
        name: String,
    },
    /// A volume without mapping.
    #[error("volume {name} was added to the group and is not mapped: edit and save the plan")]
    UnmappedVolume {
        /// The volume.
        name: String,
    },
    /// A mapping problem.
    #[error("{0}")]
    Mapping(MappingIssue),
    /// The mapped target nodes cannot host the recovered instances.
    #[error("{0}")]
    Capacity(CapacityIssue),
    /// Target storage too small.
    #[error(
        "the target storage may run out: the plan needs up to {need} bytes (source {source_bytes} × (retention {retention} + 2)) and {available} are available; add storage or lower the retention"
    )]
    StorageShort {
        /// Bytes needed.
        need: u128,
        /// Source bytes.
        source_bytes: u64,
        /// Retention.
        retention: u8,
        /// Bytes available.
        available: u64,
    },
    /// A job of the plan is in progress.
    #[error("job {0} of this plan is in progress")]
    JobInProgress(JobId),
}

/// The evaluated state and every reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStatus {
    /// The state.
    pub state: PlanState,
    /// Every reason behind a non-normal state (empty for `Normal`).
    pub reasons: Vec<Reason>,
}

/// Evaluates a plan's state from facts (protection.md, "Plan states"), with the
/// precedence documented at the top of this module and every reason found.
pub fn evaluate(facts: &PlanFacts) -> PlanStatus {
    let mut critical = Vec::new();
    let mut preparing = Vec::new();
    let mut emergency = Vec::new();
    let mut repairing = Vec::new();
    let mut warnings = Vec::new();

    if facts.target == ClusterStatus::Inactive {
        critical.push(Reason::TargetInactive);
    }
    if facts.source == ClusterStatus::Inactive {
        emergency.push(Reason::SourceInactive);
    }
    let mut copying = false;
    for v in &facts.volumes {
        match v.replication {
            Replication::InitialCopy { percent } => {
                copying = true;
                preparing.push(Reason::InitialCopy {
                    name: v.name.clone(),
                    percent: percent.min(100),
                });
            }
            Replication::Flattening => {
                copying = true;
                preparing.push(Reason::Flattening {
                    name: v.name.clone(),
                });
            }
            Replication::Broken => repairing.push(Reason::MirroringBroken {
                name: v.name.clone(),
            }),
            Replication::Mirroring => {}
        }
    }
    if !copying && !facts.first_snapshot_taken {
        preparing.push(Reason::FirstSnapshotPending);
    }
    for name in &facts.unmapped_instances {
        warnings.push(Reason::UnmappedInstance { name: name.clone() });
    }
    for name in &facts.unmapped_volumes {
        warnings.push(Reason::UnmappedVolume { name: name.clone() });
    }
    warnings.extend(
        facts
            .mapping_issues
            .iter()
            .filter(|i| !facts.own_jobs.explains(i))
            .cloned()
            .map(Reason::Mapping),
    );
    warnings.extend(
        capacity::check(&facts.instances, &facts.own_jobs.discount(&facts.nodes))
            .into_iter()
            .map(Reason::Capacity),
    );
    let need = facts.retention.storage_needed(facts.source_bytes);
    if need > u128::from(facts.target_storage_bytes) {
        warnings.push(Reason::StorageShort {
            need,
            source_bytes: facts.source_bytes,
            retention: facts.retention.get(),
            available: facts.target_storage_bytes,
        });
    }
    warnings.extend(
        facts
            .jobs_in_progress
            .iter()
            .cloned()
            .map(Reason::JobInProgress),
    );

    let state = if !critical.is_empty() {
        PlanState::Critical
    } else if !preparing.is_empty() {
        PlanState::Prepare
    } else if !emergency.is_empty() {
        PlanState::Emergency
    } else if !repairing.is_empty() {
        PlanState::Prepare
    } else if !warnings.is_empty() {
        PlanState::Warning
    } else {
        PlanState::Normal
    };
    let reasons = [critical, emergency, preparing, repairing, warnings].concat();
    PlanStatus { state, reasons }
}

#[cfg(test)]
mod tests;
