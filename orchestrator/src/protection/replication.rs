//! The seam between plans and replication: start a plan's volumes, stop a plan, and
//! the replication facts plan-state evaluation needs. The real implementation (over
//! the agents) lives in the replication service; [`NotConnected`] is the honest
//! default until it is wired in: nothing replicates, and every plan stays `Prepare`
//! with the reason "replication is not connected".

use std::fmt;

use futures_util::future::BoxFuture;

use super::topology_builder::ProtectedVolume;
use crate::dr::ids::{PlanId, SnapshotId};
use crate::dr::plan_state::VolumeFacts;
use crate::dr::retention::Retention;
use crate::replication::{GroupSnapshot, ReplicationFacts as VolumeDetail};

/// What replication knows about a plan's volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationFacts {
    /// No replication service is connected: nothing replicates.
    NotConnected {
        /// Why, for the plan's reasons.
        reason: String,
    },
    /// The replication service's view.
    Known {
        /// Per volume.
        volumes: Vec<VolumeFacts>,
        /// The first protection-group snapshot exists on the target.
        first_snapshot_taken: bool,
        /// Free bytes on the target storage, when the service knows them.
        target_free_bytes: Option<u64>,
    },
}

/// Replication cannot act now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReplicationUnavailable(pub String);

/// Why a protection-group snapshot operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// No replication service is connected.
    #[error("{0}")]
    NotConnected(String),
    /// The plan does not replicate (all of) its volumes yet.
    #[error("{0}")]
    NotReplicating(String),
    /// No such snapshot of the plan.
    #[error("snapshot {0} does not exist")]
    UnknownSnapshot(SnapshotId),
    /// The agents or the database failed.
    #[error("{0}")]
    Failed(String),
}

/// Replication as plans use it.
pub trait PlanReplication: Send + Sync + fmt::Debug {
    /// Starts (or keeps) replicating exactly these volumes of the plan to the target
    /// cluster; volumes no longer listed stop. Idempotent.
    fn start_plan<'a>(
        &'a self,
        plan: &'a PlanId,
        target_cluster: &'a str,
        volumes: &'a [ProtectedVolume],
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>>;

    /// Stops replicating the plan and removes its mirror and snapshots from the target.
    fn stop_plan<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>>;

    /// The facts for the plan's state.
    fn facts<'a>(&'a self, plan: &'a PlanId) -> BoxFuture<'a, ReplicationFacts>;

    /// Per volume: phase, progress, lag against the RPO.
    fn volume_detail<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<VolumeDetail, SnapshotError>>;

    /// Cuts a protection-group snapshot across every volume of the plan, recorded with
    /// `plan_json` (the plan snapshot).
    fn snapshot<'a>(
        &'a self,
        plan: &'a PlanId,
        plan_json: &'a str,
    ) -> BoxFuture<'a, Result<GroupSnapshot, SnapshotError>>;

    /// The plan's group snapshots, newest first.
    fn snapshots<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<Vec<GroupSnapshot>, SnapshotError>>;

    /// Deletes one group snapshot of the plan from the target and the records.
    fn delete_snapshot<'a>(
        &'a self,
        plan: &'a PlanId,
        id: &'a SnapshotId,
    ) -> BoxFuture<'a, Result<(), SnapshotError>>;

    /// Keeps the `retention` newest snapshots; returns the deleted ids.
    fn apply_retention<'a>(
        &'a self,
        plan: &'a PlanId,
        retention: Retention,
    ) -> BoxFuture<'a, Result<Vec<SnapshotId>, SnapshotError>>;
}

/// The default: no replication service is connected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotConnected;

const NOT_CONNECTED: &str = "replication is not connected: the orchestrator has no replication service, so no volume of this plan is copied to the target yet";

impl PlanReplication for NotConnected {
    fn start_plan<'a>(
        &'a self,
        _plan: &'a PlanId,
        _target_cluster: &'a str,
        _volumes: &'a [ProtectedVolume],
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>> {
        Box::pin(async { Err(ReplicationUnavailable(NOT_CONNECTED.to_owned())) })
    }

    fn stop_plan<'a>(
        &'a self,
        _plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>> {
        // Nothing was started, so nothing is left to stop.
        Box::pin(async { Ok(()) })
    }

    fn facts<'a>(&'a self, _plan: &'a PlanId) -> BoxFuture<'a, ReplicationFacts> {
        Box::pin(async {
            ReplicationFacts::NotConnected {
                reason: NOT_CONNECTED.to_owned(),
            }
        })
    }

    fn volume_detail<'a>(
        &'a self,
        _plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<VolumeDetail, SnapshotError>> {
        Box::pin(async { Err(SnapshotError::NotConnected(NOT_CONNECTED.to_owned())) })
    }

    fn snapshot<'a>(
        &'a self,
        _plan: &'a PlanId,
        _plan_json: &'a str,
    ) -> BoxFuture<'a, Result<GroupSnapshot, SnapshotError>> {
        Box::pin(async { Err(SnapshotError::NotConnected(NOT_CONNECTED.to_owned())) })
    }

    fn snapshots<'a>(
        &'a self,
        _plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<Vec<GroupSnapshot>, SnapshotError>> {
        // Nothing replicates, so no snapshot was ever taken.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn delete_snapshot<'a>(
        &'a self,
        _plan: &'a PlanId,
        id: &'a SnapshotId,
    ) -> BoxFuture<'a, Result<(), SnapshotError>> {
        Box::pin(async move { Err(SnapshotError::UnknownSnapshot(id.clone())) })
    }

    fn apply_retention<'a>(
        &'a self,
        _plan: &'a PlanId,
        _retention: Retention,
    ) -> BoxFuture<'a, Result<Vec<SnapshotId>, SnapshotError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
