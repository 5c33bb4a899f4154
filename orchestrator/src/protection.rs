//! Protection groups and recovery plans at run time (protection.md): loads facts from
//! the database (the synced copies of the clusters in `cluster_resources`, the
//! licence, jobs), applies the pure rules of [`crate::dr`] and stores the results.
//!
//! | module | holds |
//! | --- | --- |
//! | [`admin_membership`] | the source project's admin membership, asked of the cloud at group creation |
//! | [`inventory`] | a cluster's synced documents, typed; the group rules' inventory |
//! | [`mapping`] | the plan's resource mapping and boot plan (stored as JSON) |
//! | [`topology_builder`] | pure: documents + mapping → the executor's `JobSpec` and the protected volumes |
//! | [`groups`] | protection-group create / update / delete |
//! | [`plans`] | plan create / update / delete |
//! | [`capacity_facts`] | the capacity check's facts: flavor needs, target nodes' free capacity |
//! | [`evaluate`] | plan-state evaluation (facts → state + reasons, stored, event on change) |
//! | [`replication`] | the [`PlanReplication`] seam and its "not connected" default |
//! | [`agent_replication`] | [`PlanReplication`] over the agents (`crate::replication`) |
//! | [`snapshots`] | a plan's group snapshots: take (with the plan snapshot), retention, delete, events |
//! | [`sync_changes`] | pure: a written resource's documents before/after → the plan sync changes |
//! | [`plan_view`] | pure: a plan as the sync reactions see it |
//! | [`sync_reactions`] | the plan sync reactions: mapping updates, kept warnings, events |
//! | [`runner`] | the leader's loop: replication in step with plans, first and scheduled snapshots, lag events |
//!
//! [`freeze_plan`] is what the job engine calls when a job is triggered.

pub mod admin_membership;
pub mod agent_replication;
pub mod capacity_facts;
pub mod evaluate;
pub mod groups;
pub mod inventory;
pub mod job_source;
pub mod mapping;
pub mod own_jobs;
pub mod plan_view;
pub mod plans;
pub mod replication;
pub mod runner;
pub mod snapshots;
pub mod sync_changes;
pub mod sync_reactions;
pub mod topology_builder;

use crate::db::{self, Db, DbError};
use crate::dr::frozen::{ClusterSnapshot, GroupSnapshot, PlanSnapshot};
use crate::dr::group_rules::GroupRefusal;
use crate::dr::ids::{ClusterId, GroupId, InstanceId, PlanId};
use crate::dr::names::ResourceName;
use crate::dr::plan_rules::PlanRefusal;
use crate::dr::retention::Retention;
use crate::recovery::JobSpec;

pub use agent_replication::AgentReplication;
pub use evaluate::{evaluate_plan, evaluate_plans_using_cluster};
pub use replication::{
    NotConnected, PlanReplication, ReplicationFacts, ReplicationUnavailable, SnapshotError,
};
pub use topology_builder::{BuildError, ProtectedVolume};

/// How an API maps a [`ProtectionError`] (the status is chosen in `api/error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is invalid (422).
    Invalid,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The licence refuses it (403).
    Licence,
    /// Something does not exist (404).
    NotFound,
    /// A server-side failure (500).
    Internal,
}

/// Why a protection-group or plan operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// An object does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// Its kind.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// An input field is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The name is in use.
    #[error("a {what} named {name:?} exists; choose another name")]
    NameTaken {
        /// Group or plan.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The group rules refuse.
    #[error("{}", join(.0))]
    Group(Vec<GroupRefusal>),
    /// The plan rules refuse.
    #[error("{}", join(.0))]
    Plan(Vec<PlanRefusal>),
    /// A cluster could not be asked what an operation needs to know now.
    #[error(
        "cannot reach cluster {cluster_id} to check it: {reason}; check the cluster's status and credential, then try again"
    )]
    ClusterUnreachable {
        /// The cluster.
        cluster_id: String,
        /// What failed.
        reason: String,
    },
    /// The plan cannot be frozen (its recovery cannot be built from the synced copies).
    #[error("the plan cannot be recovered as it is: {}", join(.0))]
    NotReady(Vec<BuildError>),
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn group_code(r: &GroupRefusal) -> (&'static str, ErrorKind) {
    use ErrorKind::{Conflict, Invalid, Licence};
    match r {
        GroupRefusal::Name(_) => ("invalid_name", Invalid),
        GroupRefusal::NoInstances => ("no_instances", Invalid),
        GroupRefusal::UnknownInstance(_) => ("unknown_instance", Invalid),
        GroupRefusal::InOtherGroup { .. } => ("instance_in_other_group", Conflict),
        GroupRefusal::MixedProjects(_) => ("mixed_projects", Invalid),
        GroupRefusal::SharedVolume { .. } => ("shared_volume", Invalid),
        GroupRefusal::VolumeGroupSplit { .. } => ("volume_group_split", Invalid),
        GroupRefusal::FromSnapshot { .. } => ("volume_from_snapshot", Invalid),
        GroupRefusal::NoAdminMembership { .. } => ("no_admin_membership", Invalid),
        GroupRefusal::LicenceMissing
        | GroupRefusal::LicenceExpired
        | GroupRefusal::LicenceLimit { .. } => ("licence_refused", Licence),
        GroupRefusal::JobExists(_) => ("job_exists", Conflict),
        GroupRefusal::HasPlan(_) => ("group_has_plan", Conflict),
    }
}

fn plan_code(r: &PlanRefusal) -> (&'static str, ErrorKind) {
    use ErrorKind::{Conflict, Invalid};
    match r {
        PlanRefusal::Missing(_) => ("missing_field", Invalid),
        PlanRefusal::Name(_) => ("invalid_name", Invalid),
        PlanRefusal::Retention(_) => ("invalid_retention", Invalid),
        PlanRefusal::StorageKind { .. } => ("storage_kind_mismatch", Invalid),
        PlanRefusal::SourceInactive => ("source_inactive", Conflict),
        PlanRefusal::TargetInactive => ("target_inactive", Conflict),
        PlanRefusal::GroupHasPlan(_) => ("group_has_plan", Conflict),
        PlanRefusal::JobExists(_) => ("job_exists", Conflict),
    }
}

impl ProtectionError {
    /// The stable error code and its kind. With several refusals, the first decides
    /// (the message lists them all).
    pub fn code(&self) -> (&'static str, ErrorKind) {
        match self {
            ProtectionError::Db(_) => ("internal", ErrorKind::Internal),
            ProtectionError::NotFound { .. } => ("not_found", ErrorKind::NotFound),
            ProtectionError::Invalid(_) => ("invalid_field", ErrorKind::Invalid),
            ProtectionError::NameTaken { .. } => ("name_taken", ErrorKind::Conflict),
            ProtectionError::Group(v) => v
                .first()
                .map_or(("conflict", ErrorKind::Conflict), group_code),
            ProtectionError::Plan(v) => v
                .first()
                .map_or(("conflict", ErrorKind::Conflict), plan_code),
            ProtectionError::NotReady(_) => ("plan_not_ready", ErrorKind::Conflict),
            ProtectionError::ClusterUnreachable { .. } => {
                ("cluster_unreachable", ErrorKind::Conflict)
            }
        }
    }
}

/// Everything a triggered job works from, frozen from the plan, its group and the
/// synced clusters at the moment of the call (jobs.md, "The queue").
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenPlan {
    /// The group (id, name, instance ids).
    pub group: GroupSnapshot,
    /// The plan (id, name, retention, topology).
    pub plan: PlanSnapshot,
    /// The source cluster.
    pub source: ClusterSnapshot,
    /// The target cluster.
    pub target: ClusterSnapshot,
    /// What the executor rebuilds (`plan.topology` with the target details).
    pub spec: JobSpec,
    /// The protected volumes (id, size, source backend host, volume type).
    pub volumes: Vec<ProtectedVolume>,
}

fn stored_name(table: &'static str, name: &str) -> Result<ResourceName, DbError> {
    ResourceName::parse(name).map_err(|e| DbError::Corrupt {
        table,
        reason: format!("name {name:?}: {e}"),
    })
}

/// Freezes a plan for a job: group, plan, clusters and the recovery built from the
/// synced source and target with the plan's mapping applied. Refused
/// ([`ProtectionError::NotReady`]) when the mapping does not cover the group as it is
/// now (instances or volumes added and not yet mapped, a flavor missing on the
/// target, ...).
#[tracing::instrument(skip_all, fields(plan_id = %plan))]
pub async fn freeze_plan(db: &Db, plan: &PlanId) -> Result<FrozenPlan, ProtectionError> {
    let mut tx = db.begin().await?;
    let p = db::plans::get(&mut tx, plan.as_str())
        .await?
        .ok_or_else(|| ProtectionError::NotFound {
            what: "recovery plan",
            id: plan.to_string(),
        })?;
    let g = db::protection_groups::get(&mut tx, &p.group_id)
        .await?
        .ok_or_else(|| ProtectionError::NotFound {
            what: "protection group",
            id: p.group_id.clone(),
        })?;
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let cluster = |id: String| ProtectionError::NotFound {
        what: "cluster",
        id,
    };
    let source = db::clusters::get(&mut tx, &g.source_cluster_id)
        .await?
        .ok_or_else(|| cluster(g.source_cluster_id.clone()))?;
    let target = db::clusters::get(&mut tx, &p.target_cluster_id)
        .await?
        .ok_or_else(|| cluster(p.target_cluster_id.clone()))?;
    let source_docs = inventory::load(&mut tx, &source.id).await?;
    let target_docs = inventory::load(&mut tx, &target.id).await?;
    tx.commit().await.map_err(DbError::from)?;
    let mapping = plans::parse_mapping(&p)?;
    let built = topology_builder::build(&source_docs, &target_docs, &instances, &mapping)
        .map_err(ProtectionError::NotReady)?;
    let retention = Retention::parse(p.retention).map_err(|e| DbError::Corrupt {
        table: "recovery_plans",
        reason: e.to_string(),
    })?;
    Ok(FrozenPlan {
        group: GroupSnapshot {
            id: GroupId::new(&g.id),
            name: stored_name("protection_groups", &g.name)?,
            instances: instances.iter().map(InstanceId::new).collect(),
        },
        plan: PlanSnapshot {
            id: PlanId::new(&p.id),
            name: stored_name("recovery_plans", &p.name)?,
            retention,
            topology: built.spec.topology.clone(),
        },
        source: ClusterSnapshot {
            id: ClusterId::new(&source.id),
            name: stored_name("clusters", &source.name)?,
        },
        target: ClusterSnapshot {
            id: ClusterId::new(&target.id),
            name: stored_name("clusters", &target.name)?,
        },
        spec: built.spec,
        volumes: built.volumes,
    })
}
