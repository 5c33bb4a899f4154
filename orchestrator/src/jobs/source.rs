//! The seam between the job engine and protection groups / plans: what the engine
//! asks of them (facts for the creation rules, the frozen copy at the trigger, the
//! target cloud, and the consequences of a confirmed DR). The plans feature
//! implements it; until then [`NoPlans`] refuses every call.

use std::fmt::Debug;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::dr::ids::{ClusterId, GroupId, InstanceId, PlanId, SnapshotId};
use crate::dr::job::RecoveryPoint;
use crate::dr::plan_state::PlanState;
use crate::recovery::{JobSpec, TargetCloud};

/// A cluster by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRef {
    /// Its id.
    pub id: ClusterId,
    /// Its name.
    pub name: String,
}

/// A group snapshot (a recovery point) and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFact {
    /// Its id.
    pub id: SnapshotId,
    /// Taken at (ms since the epoch).
    pub at_ms: i64,
}

/// What the creation rules and the job list need to know about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFacts {
    /// The plan's name.
    pub plan_name: String,
    /// Its protection group.
    pub group: GroupId,
    /// The group's name.
    pub group_name: String,
    /// The user group that owns the protection group (and so the job).
    pub owner_group: String,
    /// The plan's state.
    pub plan_state: PlanState,
    /// The source cluster.
    pub source: ClusterRef,
    /// The target cluster.
    pub target: ClusterRef,
    /// The group's snapshots, newest first.
    pub snapshots: Vec<SnapshotFact>,
}

/// The immutable copy a triggered job works from (jobs.md, "The queue").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenJob {
    /// The plan.
    pub plan: PlanId,
    /// The plan's name.
    pub plan_name: String,
    /// The protection group.
    pub group: GroupId,
    /// The group's name.
    pub group_name: String,
    /// The source cluster.
    pub source: ClusterRef,
    /// The target cluster.
    pub target: ClusterRef,
    /// The recovery point resolved: `latest-snapshot` becomes the concrete snapshot.
    pub point: RecoveryPoint,
    /// The point's time (ms): the snapshot's time, or the trigger for `latest-data`;
    /// the report's RPO figure is measured from it.
    pub point_at_ms: i64,
    /// What the executor rebuilds.
    pub spec: JobSpec,
}

/// Why the plans side could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobSourceError {
    /// Protection groups and plans are not part of this build yet.
    #[error(
        "protection groups and plans are not available in this orchestrator yet, so no recovery job can be created or run"
    )]
    Unavailable,
    /// No such plan (or group, or cluster).
    #[error("{0}")]
    NotFound(String),
    /// Anything else, with an actionable message.
    #[error("{0}")]
    Failed(String),
}

/// What the job engine asks of protection groups and plans.
pub trait JobSource: Send + Sync + Debug {
    /// The plan's facts for the creation rules.
    fn plan_facts<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<PlanFacts, JobSourceError>>;

    /// The frozen copy of the plan at the trigger, with the recovery point resolved.
    fn freeze<'a>(
        &'a self,
        plan: &'a PlanId,
        point: &'a RecoveryPoint,
    ) -> BoxFuture<'a, Result<FrozenJob, JobSourceError>>;

    /// The executor's view of a target cluster (sessions and the materialiser).
    fn target<'a>(
        &'a self,
        cluster: &'a ClusterId,
    ) -> BoxFuture<'a, Result<TargetCloud, JobSourceError>>;

    /// A DR job was confirmed: delete the plan and its group (the workload lives on the
    /// target now); with `failed` instances (partial success), split them into a new
    /// group and plan first, so that they can be recovered again.
    fn confirmed<'a>(
        &'a self,
        job: &'a FrozenJob,
        failed: &'a [InstanceId],
    ) -> BoxFuture<'a, Result<(), JobSourceError>>;
}

/// The source installed until protection groups and plans exist: refuses everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPlans;

impl JobSource for NoPlans {
    fn plan_facts<'a>(&'a self, _: &'a PlanId) -> BoxFuture<'a, Result<PlanFacts, JobSourceError>> {
        Box::pin(async { Err(JobSourceError::Unavailable) })
    }

    fn freeze<'a>(
        &'a self,
        _: &'a PlanId,
        _: &'a RecoveryPoint,
    ) -> BoxFuture<'a, Result<FrozenJob, JobSourceError>> {
        Box::pin(async { Err(JobSourceError::Unavailable) })
    }

    fn target<'a>(
        &'a self,
        _: &'a ClusterId,
    ) -> BoxFuture<'a, Result<TargetCloud, JobSourceError>> {
        Box::pin(async { Err(JobSourceError::Unavailable) })
    }

    fn confirmed<'a>(
        &'a self,
        _: &'a FrozenJob,
        _: &'a [InstanceId],
    ) -> BoxFuture<'a, Result<(), JobSourceError>> {
        Box::pin(async { Err(JobSourceError::Unavailable) })
    }
}
