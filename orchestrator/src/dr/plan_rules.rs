//! Recovery-plan create, update and delete rules (protection.md, "Recovery plans":
//! "Cannot create", "Cannot update", "Delete"; retention 1..48; one plan per group;
//! volume types of the same storage kind).

use std::fmt;

use super::ids::{ClusterId, InstanceId, JobId, NetworkId, PlanId};
use super::names::{NameError, ResourceName};
use super::plan_state::{ClusterStatus, NodeMapping};
use super::retention::{Retention, RetentionError};
use super::topology::NetworkTarget;

/// The kind of storage behind a volume type (from the clusters' storage metadata).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageKind {
    /// Ceph RBD.
    CephRbd,
    /// LVM.
    Lvm,
    /// Plain files (NFS, local).
    File,
    /// Anything else, by its backend driver name.
    Other(String),
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageKind::CephRbd => f.write_str("Ceph RBD"),
            StorageKind::Lvm => f.write_str("LVM"),
            StorageKind::File => f.write_str("file"),
            StorageKind::Other(s) => f.write_str(s),
        }
    }
}

/// The mapping of one source volume type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeTypeChoice {
    /// The source volume type.
    pub source: String,
    /// Its storage kind.
    pub source_kind: StorageKind,
    /// The chosen target volume type and its storage kind.
    pub target: Option<(String, StorageKind)>,
}

/// A plan as a user submits it (create or update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDraft {
    /// Name.
    pub name: Option<String>,
    /// Target cluster.
    pub target: Option<ClusterId>,
    /// Snapshot retention.
    pub retention: Option<i64>,
    /// The project to create on the target.
    pub project_name: Option<String>,
    /// The availability zone.
    pub zone: Option<String>,
    /// One entry per source volume type of the group.
    pub volume_types: Vec<VolumeTypeChoice>,
    /// One entry per protected source network.
    pub networks: Vec<(NetworkId, Option<NetworkTarget>)>,
    /// One entry per instance: its compute-node mapping.
    pub placements: Vec<(InstanceId, Option<NodeMapping>)>,
}

/// Why a plan cannot be created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefusal {
    /// A required field is missing.
    #[error("{0} is required")]
    Missing(String),
    /// Invalid name.
    #[error("plan name: {0}")]
    Name(NameError),
    /// Invalid retention.
    #[error("{0}")]
    Retention(RetentionError),
    /// Storage kinds differ.
    #[error(
        "source volume type {source_type} is on {source_kind} storage but target volume type {target_type} is on {target_kind}: choose a target volume type of the same storage kind"
    )]
    StorageKind {
        /// Source type.
        source_type: String,
        /// Its kind.
        source_kind: StorageKind,
        /// Target type.
        target_type: String,
        /// Its kind.
        target_kind: StorageKind,
    },
    /// Source inactive at creation.
    #[error(
        "the source cluster is inactive: a plan can be created only while it is reachable (replication must start)"
    )]
    SourceInactive,
    /// Target inactive at update.
    #[error("the target cluster is inactive: the plan can be changed only while it is reachable")]
    TargetInactive,
    /// One plan per group.
    #[error(
        "the protection group already has recovery plan {0}; a group has one plan: edit that plan"
    )]
    GroupHasPlan(PlanId),
    /// A job exists.
    #[error("job {0} of this plan exists: delete (or finish) the plan's jobs first")]
    JobExists(JobId),
}

/// The validated head of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPlan {
    /// Name.
    pub name: ResourceName,
    /// Target cluster.
    pub target: ClusterId,
    /// Retention.
    pub retention: Retention,
}

fn check_draft(d: &PlanDraft, out: &mut Vec<PlanRefusal>) -> Option<ValidPlan> {
    let missing = |out: &mut Vec<PlanRefusal>, what: String| out.push(PlanRefusal::Missing(what));
    let name = match d.name.as_deref() {
        None => {
            missing(out, "the plan name".into());
            None
        }
        Some(n) => ResourceName::parse(n)
            .map_err(|e| out.push(PlanRefusal::Name(e)))
            .ok(),
    };
    if d.target.is_none() {
        missing(out, "the target cluster".into());
    }
    let retention = match d.retention {
        None => {
            missing(out, "the snapshot retention".into());
            None
        }
        Some(r) => Retention::parse(r)
            .map_err(|e| out.push(PlanRefusal::Retention(e)))
            .ok(),
    };
    if d.project_name
        .as_deref()
        .is_none_or(|p| p.trim().is_empty())
    {
        missing(out, "the target project name".into());
    }
    if d.zone.as_deref().is_none_or(|z| z.trim().is_empty()) {
        missing(out, "the availability zone".into());
    }
    for v in &d.volume_types {
        match &v.target {
            None => missing(
                out,
                format!("a target volume type for source volume type {}", v.source),
            ),
            Some((t, k)) if *k != v.source_kind => out.push(PlanRefusal::StorageKind {
                source_type: v.source.clone(),
                source_kind: v.source_kind.clone(),
                target_type: t.clone(),
                target_kind: k.clone(),
            }),
            Some(_) => {}
        }
    }
    for (n, m) in &d.networks {
        if m.is_none() {
            missing(
                out,
                format!("a mapping for network {n} (a target network, or create a copy)"),
            );
        }
    }
    for (i, m) in &d.placements {
        if m.is_none() {
            missing(
                out,
                format!("a compute node (or \"any in the zone\") for instance {i}"),
            );
        }
    }
    Some(ValidPlan {
        name: name?,
        target: d.target.clone()?,
        retention: retention?,
    })
}

/// Create rules: the source cluster is active, every required field is given and
/// valid, storage kinds match, the group has no plan yet. Every refusal is returned.
pub fn check_create(
    d: &PlanDraft,
    source: ClusterStatus,
    group_plan: Option<&PlanId>,
) -> Result<ValidPlan, Vec<PlanRefusal>> {
    let mut out = Vec::new();
    if source == ClusterStatus::Inactive {
        out.push(PlanRefusal::SourceInactive);
    }
    if let Some(p) = group_plan {
        out.push(PlanRefusal::GroupHasPlan(p.clone()));
    }
    let v = check_draft(d, &mut out);
    match v {
        Some(v) if out.is_empty() => Ok(v),
        _ => Err(out),
    }
}

/// Update rules: the target cluster is active, every required field is given and
/// valid, storage kinds match, no job of the plan exists. Saving a valid plan clears
/// the "not mapped" warnings (the engine re-evaluates the state).
pub fn check_update(
    d: &PlanDraft,
    target: ClusterStatus,
    job: Option<&JobId>,
) -> Result<ValidPlan, Vec<PlanRefusal>> {
    let mut out = Vec::new();
    if target == ClusterStatus::Inactive {
        out.push(PlanRefusal::TargetInactive);
    }
    if let Some(j) = job {
        out.push(PlanRefusal::JobExists(j.clone()));
    }
    let v = check_draft(d, &mut out);
    match v {
        Some(v) if out.is_empty() => Ok(v),
        _ => Err(out),
    }
}

/// What deleting a plan does, in order (protection.md, "Delete").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanDeleteStep {
    /// Delete every snapshot of the plan.
    DeleteSnapshots,
    /// Stop replication of the plan's volumes.
    StopReplication,
    /// Remove the mirror from the target storage.
    RemoveMirror,
    /// Tear down replication environments no other plan uses.
    TearDownUnusedEnvironments,
}

/// Delete rule: not while any job of the plan exists.
pub fn check_delete(job: Option<&JobId>) -> Result<[PlanDeleteStep; 4], PlanRefusal> {
    match job {
        Some(j) => Err(PlanRefusal::JobExists(j.clone())),
        None => Ok([
            PlanDeleteStep::DeleteSnapshots,
            PlanDeleteStep::StopReplication,
            PlanDeleteStep::RemoveMirror,
            PlanDeleteStep::TearDownUnusedEnvironments,
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::ids::NodeId;

    fn draft() -> PlanDraft {
        PlanDraft {
            name: Some("shop-dr".into()),
            target: Some(ClusterId::new("c2")),
            retention: Some(4),
            project_name: Some("shop".into()),
            zone: Some("nova".into()),
            volume_types: vec![VolumeTypeChoice {
                source: "ceph-ssd".into(),
                source_kind: StorageKind::CephRbd,
                target: Some(("rbd".into(), StorageKind::CephRbd)),
            }],
            networks: vec![(NetworkId::new("net"), Some(NetworkTarget::Create))],
            placements: vec![(
                InstanceId::new("db"),
                Some(NodeMapping::Node(NodeId::new("n1"))),
            )],
        }
    }

    #[test]
    fn valid_plan() {
        let v = check_create(&draft(), ClusterStatus::Active, None).unwrap();
        assert_eq!(v.retention.get(), 4);
        assert!(check_update(&draft(), ClusterStatus::Active, None).is_ok());
    }

    #[test]
    fn every_create_refusal() {
        let p = PlanId::new("p0");
        let e = check_create(&draft(), ClusterStatus::Inactive, Some(&p)).unwrap_err();
        assert_eq!(
            e,
            vec![PlanRefusal::SourceInactive, PlanRefusal::GroupHasPlan(p)]
        );
        let empty = PlanDraft {
            name: None,
            target: None,
            retention: None,
            project_name: Some(" ".into()),
            zone: None,
            volume_types: vec![VolumeTypeChoice {
                source: "lvm".into(),
                source_kind: StorageKind::Lvm,
                target: None,
            }],
            networks: vec![(NetworkId::new("net"), None)],
            placements: vec![(InstanceId::new("db"), None)],
        };
        let e = check_create(&empty, ClusterStatus::Active, None).unwrap_err();
        let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "the plan name is required",
                "the target cluster is required",
                "the snapshot retention is required",
                "the target project name is required",
                "the availability zone is required",
                "a target volume type for source volume type lvm is required",
                "a mapping for network net (a target network, or create a copy) is required",
                "a compute node (or \"any in the zone\") for instance db is required",
            ]
        );
        let mut d = draft();
        d.retention = Some(49);
        d.name = Some("no spaces".into());
        d.volume_types[0].target = Some(("lvm".into(), StorageKind::Lvm));
        let e = check_create(&d, ClusterStatus::Active, None).unwrap_err();
        assert_eq!(e.len(), 3);
        assert!(matches!(e[0], PlanRefusal::Name(_)));
        assert!(matches!(e[1], PlanRefusal::Retention(_)));
        assert_eq!(
            e[2].to_string(),
            "source volume type ceph-ssd is on Ceph RBD storage but target volume type lvm is on LVM: choose a target volume type of the same storage kind"
        );
        for r in [0, 1, 48, 49] {
            let mut d = draft();
            d.retention = Some(r);
            assert_eq!(
                check_create(&d, ClusterStatus::Active, None).is_ok(),
                (1..=48).contains(&r)
            );
        }
    }

    #[test]
    fn update_and_delete_refusals() {
        let j = JobId::new("j1");
        assert_eq!(
            check_update(&draft(), ClusterStatus::Inactive, Some(&j)).unwrap_err(),
            vec![
                PlanRefusal::TargetInactive,
                PlanRefusal::JobExists(j.clone())
            ]
        );
        // the source being down does not block an update
        assert!(check_update(&draft(), ClusterStatus::Active, None).is_ok());
        assert_eq!(check_delete(Some(&j)), Err(PlanRefusal::JobExists(j)));
        assert_eq!(
            check_delete(None).unwrap()[0],
            PlanDeleteStep::DeleteSnapshots
        );
    }
}
