//! A `JobSource` for tests: plans `plan-<g>` of protection groups `group-<g>` over the
//! shop of the source test cloud, owned by one user group; records confirmations.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use holdfast_orchestrator::dr::ids::{ClusterId, GroupId, InstanceId, PlanId, SnapshotId};
use holdfast_orchestrator::dr::job::RecoveryPoint;
use holdfast_orchestrator::dr::plan_state::PlanState;
use holdfast_orchestrator::jobs::source::{
    ClusterRef, FrozenJob, JobSource, JobSourceError, PlanFacts, SnapshotFact,
};
use holdfast_orchestrator::recovery::{JobSpec, TargetCloud};

#[derive(Debug)]
pub(crate) struct TestSource {
    pub(crate) owner_group: Mutex<String>,
    pub(crate) plan_state: Mutex<PlanState>,
    pub(crate) spec: JobSpec,
    /// Newest first.
    pub(crate) snapshots: Mutex<Vec<SnapshotFact>>,
    pub(crate) target: TargetCloud,
    /// (plan, failed instances) per confirm.
    pub(crate) confirmed: Mutex<Vec<(PlanId, Vec<InstanceId>)>>,
    pub(crate) freezes: Mutex<BTreeMap<PlanId, usize>>,
    /// Refuse confirmations (injected failure).
    pub(crate) refuse_confirm: Mutex<bool>,
}

impl TestSource {
    pub(crate) fn new(spec: JobSpec, target: TargetCloud, snapshot: &str) -> Arc<TestSource> {
        Arc::new(TestSource {
            owner_group: Mutex::new(String::new()),
            plan_state: Mutex::new(PlanState::Normal),
            spec,
            snapshots: Mutex::new(vec![SnapshotFact {
                id: SnapshotId::new(snapshot),
                at_ms: jiff::Timestamp::now().as_millisecond() - 60_000,
            }]),
            target,
            confirmed: Mutex::new(Vec::new()),
            freezes: Mutex::new(BTreeMap::new()),
            refuse_confirm: Mutex::new(false),
        })
    }

    fn group_of(plan: &PlanId) -> Result<GroupId, JobSourceError> {
        plan.as_str()
            .strip_prefix("plan-")
            .map(|g| GroupId::new(format!("group-{g}")))
            .ok_or_else(|| JobSourceError::NotFound(format!("recovery plan {plan} does not exist")))
    }

    fn cluster(id: &str) -> ClusterRef {
        ClusterRef {
            id: ClusterId::new(id),
            name: id.to_owned(),
        }
    }
}

impl JobSource for TestSource {
    fn plan_facts<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<PlanFacts, JobSourceError>> {
        Box::pin(async move {
            let group = Self::group_of(plan)?;
            Ok(PlanFacts {
                plan_name: plan.to_string(),
                group_name: group.to_string(),
                group,
                owner_group: self.owner_group.lock().unwrap().clone(),
                plan_state: *self.plan_state.lock().unwrap(),
                source: Self::cluster("source"),
                target: Self::cluster("target"),
                snapshots: self.snapshots.lock().unwrap().clone(),
            })
        })
    }

    fn freeze<'a>(
        &'a self,
        plan: &'a PlanId,
        point: &'a RecoveryPoint,
    ) -> BoxFuture<'a, Result<FrozenJob, JobSourceError>> {
        Box::pin(async move {
            let group = Self::group_of(plan)?;
            *self
                .freezes
                .lock()
                .unwrap()
                .entry(plan.clone())
                .or_default() += 1;
            let snaps = self.snapshots.lock().unwrap().clone();
            let (point, at) = match point {
                RecoveryPoint::LatestSnapshot => {
                    let s = snaps.first().ok_or_else(|| {
                        JobSourceError::Failed("the group has no snapshot".into())
                    })?;
                    (RecoveryPoint::Snapshot(s.id.clone()), s.at_ms)
                }
                RecoveryPoint::Snapshot(id) => {
                    let s = snaps.iter().find(|s| &s.id == id).ok_or_else(|| {
                        JobSourceError::NotFound(format!("snapshot {id} does not exist"))
                    })?;
                    (point.clone(), s.at_ms)
                }
                RecoveryPoint::LatestData => (
                    RecoveryPoint::LatestData,
                    jiff::Timestamp::now().as_millisecond(),
                ),
            };
            Ok(FrozenJob {
                plan: plan.clone(),
                plan_name: plan.to_string(),
                group_name: group.to_string(),
                group,
                source: Self::cluster("source"),
                target: Self::cluster("target"),
                point,
                point_at_ms: at,
                spec: self.spec.clone(),
            })
        })
    }

    fn target<'a>(
        &'a self,
        _: &'a ClusterId,
    ) -> BoxFuture<'a, Result<TargetCloud, JobSourceError>> {
        Box::pin(async move { Ok(self.target.clone()) })
    }

    fn confirmed<'a>(
        &'a self,
        job: &'a FrozenJob,
        failed: &'a [InstanceId],
    ) -> BoxFuture<'a, Result<(), JobSourceError>> {
        Box::pin(async move {
            if *self.refuse_confirm.lock().unwrap() {
                return Err(JobSourceError::Failed(
                    "the protection group could not be removed (injected)".into(),
                ));
            }
            self.confirmed
                .lock()
                .unwrap()
                .push((job.plan.clone(), failed.to_vec()));
            Ok(())
        })
    }
}
