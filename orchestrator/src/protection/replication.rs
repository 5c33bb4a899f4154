//! The seam between plans and replication: start a plan's volumes, stop a plan, and
//! the replication facts plan-state evaluation needs. The real implementation (over
//! the agents) lives in the replication service; [`NotConnected`] is the honest
//! default until it is wired in: nothing replicates, and every plan stays `Prepare`
//! with the reason "replication is not connected".

use std::fmt;

use futures_util::future::BoxFuture;

use super::topology_builder::ProtectedVolume;
use crate::dr::ids::PlanId;
use crate::dr::plan_state::VolumeFacts;

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
}
