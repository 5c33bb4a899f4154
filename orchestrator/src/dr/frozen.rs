//! The frozen copy a job works from (jobs.md, "The queue": "From that moment the job
//! works from a frozen copy of its plan, group and clusters: later edits do not
//! affect it"). A value type: built once at trigger time, read-only afterwards.

use jiff::Timestamp;

use super::ids::{ClusterId, GroupId, InstanceId, JobId, PlanId};
use super::job::RecoveryPoint;
use super::names::ResourceName;
use super::retention::Retention;
use super::topology::Topology;

/// A cluster as it was at trigger time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// Its id.
    pub id: ClusterId,
    /// Its name.
    pub name: ResourceName,
}

/// The protection group as it was at trigger time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// Its id.
    pub id: GroupId,
    /// Its name.
    pub name: ResourceName,
    /// Its instances.
    pub instances: Vec<InstanceId>,
}

/// The plan as it was at trigger time (for a snapshot recovery point: the plan
/// snapshot stored with that group snapshot, protection.md "Plan snapshot").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSnapshot {
    /// Its id.
    pub id: PlanId,
    /// Its name.
    pub name: ResourceName,
    /// Its retention.
    pub retention: Retention,
    /// What it rebuilds, mapping applied.
    pub topology: Topology,
}

/// Everything a triggered job works from. Fields are private: a frozen copy cannot
/// be edited, only read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenCopy {
    job: JobId,
    frozen_at: Timestamp,
    point: RecoveryPoint,
    group: GroupSnapshot,
    plan: PlanSnapshot,
    source: ClusterSnapshot,
    target: ClusterSnapshot,
}

impl FrozenCopy {
    /// Freezes the given values (the caller passes copies read in one transaction).
    pub fn freeze(
        job: JobId,
        frozen_at: Timestamp,
        point: RecoveryPoint,
        group: GroupSnapshot,
        plan: PlanSnapshot,
        clusters: (ClusterSnapshot, ClusterSnapshot),
    ) -> FrozenCopy {
        let (source, target) = clusters;
        FrozenCopy {
            job,
            frozen_at,
            point,
            group,
            plan,
            source,
            target,
        }
    }

    /// The job.
    pub fn job(&self) -> &JobId {
        &self.job
    }
    /// When it was frozen (the trigger time).
    pub fn frozen_at(&self) -> Timestamp {
        self.frozen_at
    }
    /// The recovery point.
    pub fn point(&self) -> &RecoveryPoint {
        &self.point
    }
    /// The group.
    pub fn group(&self) -> &GroupSnapshot {
        &self.group
    }
    /// The plan.
    pub fn plan(&self) -> &PlanSnapshot {
        &self.plan
    }
    /// The source cluster.
    pub fn source(&self) -> &ClusterSnapshot {
        &self.source
    }
    /// The target cluster.
    pub fn target(&self) -> &ClusterSnapshot {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::recovery_graph::fixture::shop;

    #[test]
    fn later_edits_do_not_reach_the_copy() {
        let mut topology = shop();
        let name = |s: &str| ResourceName::parse(s).unwrap();
        let frozen = FrozenCopy::freeze(
            JobId::new("j1"),
            Timestamp::UNIX_EPOCH,
            RecoveryPoint::LatestSnapshot,
            GroupSnapshot {
                id: GroupId::new("g1"),
                name: name("shop"),
                instances: vec![InstanceId::new("db")],
            },
            PlanSnapshot {
                id: PlanId::new("p1"),
                name: name("shop-dr"),
                retention: Retention::parse(3).unwrap(),
                topology: topology.clone(),
            },
            (
                ClusterSnapshot {
                    id: ClusterId::new("a"),
                    name: name("seoul"),
                },
                ClusterSnapshot {
                    id: ClusterId::new("b"),
                    name: name("busan"),
                },
            ),
        );
        topology.instances.clear();
        assert_eq!(frozen.plan().topology.instances.len(), 5);
        assert_eq!(frozen.source().name.as_str(), "seoul");
        assert_eq!(frozen.target().id, ClusterId::new("b"));
        assert_eq!(frozen.job(), &JobId::new("j1"));
        assert_eq!(frozen.point(), &RecoveryPoint::LatestSnapshot);
        assert_eq!(frozen.group().instances.len(), 1);
        assert_eq!(frozen.frozen_at(), Timestamp::UNIX_EPOCH);
    }
}
