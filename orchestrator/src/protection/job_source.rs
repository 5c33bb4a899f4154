//! The job engine's view of protection groups and plans ([`JobSource`]): the facts the
//! creation rules need, the frozen copy at the trigger, the target cloud with the
//! agents' materialiser, and what a confirmed DR does to the plan and group.
//!
//! A recovery from a group snapshot rebuilds the plan *as it was* when the snapshot was
//! cut (protection.md, "Plan snapshot"): the snapshot's stored [`PlanSnapshotDoc`]
//! supplies the job spec; `latest-data` uses the plan as it is now.

use std::sync::{Arc, OnceLock, Weak};

use futures_util::future::BoxFuture;

use super::snapshots::PlanSnapshotDoc;
use super::{ProtectionError, freeze_plan, groups, plans};
use crate::db::{self, DbError};
use crate::dr::ids::{ClusterId, GroupId, InstanceId, PlanId};
use crate::dr::job::RecoveryPoint;
use crate::dr::plan_state::PlanState;
use crate::jobs::source::{
    ClusterRef, FrozenJob, JobSource, JobSourceError, PlanFacts, SnapshotFact,
};
use crate::recovery::{ExecutorOptions, TargetCloud};
use crate::replication::{Replication, ReplicationOptions};
use crate::state::App;

/// Protection groups and plans as the job engine sees them. Bound to the running
/// orchestrator once it exists ([`PlansJobSource::bind`]); the engine only calls it
/// afterwards.
#[derive(Debug, Default)]
pub struct PlansJobSource {
    app: OnceLock<Weak<App>>,
}

fn failed(e: impl std::fmt::Display) -> JobSourceError {
    JobSourceError::Failed(e.to_string())
}

fn from_protection(e: ProtectionError) -> JobSourceError {
    match e {
        ProtectionError::NotFound { what, id } => {
            JobSourceError::NotFound(format!("{what} {id} does not exist"))
        }
        other => failed(other),
    }
}

fn from_db(e: DbError) -> JobSourceError {
    failed(e)
}

/// A stored plan state.
fn plan_state(s: &str) -> Result<PlanState, JobSourceError> {
    PlanState::ALL
        .into_iter()
        .find(|p| p.to_string() == s)
        .ok_or_else(|| failed(format!("stored plan state {s:?} is unknown")))
}

impl PlansJobSource {
    /// An unbound source.
    pub fn new() -> Arc<PlansJobSource> {
        Arc::new(PlansJobSource::default())
    }

    /// Binds it to the running orchestrator (once; later calls are ignored).
    pub fn bind(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
    }

    fn app(&self) -> Result<Arc<App>, JobSourceError> {
        self.app
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| failed("the orchestrator is starting or stopping; try again"))
    }

    async fn facts(&self, plan: &PlanId) -> Result<PlanFacts, JobSourceError> {
        let app = self.app()?;
        // The plan's state as of now, not as last stored: right after a drill's
        // rollback the stored state may still carry a reason the rollback removed.
        crate::protection::evaluate_plan(&app, plan.as_str())
            .await
            .map_err(failed)?;
        let mut tx = app.db.begin().await.map_err(from_db)?;
        let p = plans::get_plan(&mut tx, plan.as_str())
            .await
            .map_err(from_protection)?;
        let g = groups::get_group(&mut tx, &p.group_id)
            .await
            .map_err(from_protection)?;
        let mut cluster = async |id: &str| -> Result<ClusterRef, JobSourceError> {
            let rec = db::clusters::get(&mut tx, id).await.map_err(from_db)?;
            Ok(ClusterRef {
                name: rec.map_or_else(|| id.to_owned(), |r| r.name),
                id: ClusterId::new(id),
            })
        };
        let source = cluster(&g.source_cluster_id).await?;
        let target = cluster(&p.target_cluster_id).await?;
        tx.commit().await.map_err(DbError::from).map_err(from_db)?;
        let snapshots = app
            .replication
            .snapshots(plan)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|s| SnapshotFact {
                id: s.id,
                at_ms: s.taken_at_ms,
            })
            .collect();
        Ok(PlanFacts {
            plan_name: p.name.clone(),
            group: GroupId::new(&g.id),
            group_name: g.name.clone(),
            owner_group: g.owner_group_id.clone(),
            plan_state: plan_state(&p.state)?,
            source,
            target,
            snapshots,
        })
    }

    async fn frozen(
        &self,
        plan: &PlanId,
        point: &RecoveryPoint,
    ) -> Result<FrozenJob, JobSourceError> {
        let app = self.app()?;
        let now = freeze_plan(&app.db, plan).await.map_err(from_protection)?;
        let snapshots = app.replication.snapshots(plan).await.map_err(failed)?;
        let chosen = match point {
            RecoveryPoint::LatestData => None,
            RecoveryPoint::LatestSnapshot => Some(snapshots.first().ok_or_else(|| {
                failed(
                    "the protection group has no snapshot yet: take one or wait for the schedule",
                )
            })?),
            RecoveryPoint::Snapshot(id) => {
                Some(snapshots.iter().find(|s| &s.id == id).ok_or_else(|| {
                    JobSourceError::NotFound(format!("snapshot {id} of plan {plan} does not exist"))
                })?)
            }
        };
        let (point, point_at_ms, spec) = match chosen {
            None => (
                RecoveryPoint::LatestData,
                crate::state::now_ms(),
                now.spec.clone(),
            ),
            Some(s) => {
                let doc: PlanSnapshotDoc = serde_json::from_str(&s.plan_json).map_err(|e| {
                    failed(format!("the plan snapshot of {} cannot be read: {e}", s.id))
                })?;
                (
                    RecoveryPoint::Snapshot(s.id.clone()),
                    s.taken_at_ms,
                    doc.spec,
                )
            }
        };
        Ok(FrozenJob {
            plan: plan.clone(),
            plan_name: now.plan.name.to_string(),
            group: now.group.id.clone(),
            group_name: now.group.name.to_string(),
            source: ClusterRef {
                id: now.source.id.clone(),
                name: now.source.name.to_string(),
            },
            target: ClusterRef {
                id: now.target.id.clone(),
                name: now.target.name.to_string(),
            },
            point,
            point_at_ms,
            spec,
        })
    }

    async fn target_cloud(&self, cluster: &ClusterId) -> Result<TargetCloud, JobSourceError> {
        let app = self.app()?;
        let record = {
            let mut c = app.db.conn().await.map_err(from_db)?;
            db::clusters::get(&mut c, cluster.as_str())
                .await
                .map_err(from_db)?
                .ok_or_else(|| {
                    JobSourceError::NotFound(format!("cluster {cluster} does not exist"))
                })?
        };
        let credentials = app.clusters.credentials(&record).map_err(failed)?;
        let replication =
            Replication::from_app(&app, ReplicationOptions::default()).map_err(failed)?;
        TargetCloud::connect(
            credentials,
            holdfast_openstack::Options::default(),
            Arc::new(replication.materialiser()),
            ExecutorOptions::default(),
        )
        .await
        .map_err(|e| failed(format!("cannot reach target cluster {}: {e}", record.name)))
    }

    /// The confirmed DR's consequences (jobs.md, "Confirm").
    async fn confirm(
        &self,
        job: &FrozenJob,
        failed_instances: &[InstanceId],
    ) -> Result<(), JobSourceError> {
        let app = self.app()?;
        let mut tx = app.db.begin().await.map_err(from_db)?;
        let p = plans::get_plan(&mut tx, job.plan.as_str())
            .await
            .map_err(from_protection)?;
        let g = groups::get_group(&mut tx, &p.group_id)
            .await
            .map_err(from_protection)?;
        tx.commit().await.map_err(DbError::from).map_err(from_db)?;
        let mapping = plans::parse_mapping(&p).map_err(from_db)?;
        // the workload lives on the target now: replication stops, plan and group go
        app.replication.stop_plan(&job.plan).await.map_err(|e| {
            failed(format!(
                "replication of plan {} could not be stopped: {e}",
                p.name
            ))
        })?;
        let mut tx = app.db.begin().await.map_err(from_db)?;
        db::plans::delete(&mut tx, &p.id).await.map_err(from_db)?;
        db::protection_groups::delete(&mut tx, &g.id)
            .await
            .map_err(from_db)?;
        tx.commit().await.map_err(DbError::from).map_err(from_db)?;
        plans::after_delete(&app, &p, &g, "its DR job was confirmed", false)
            .await
            .map_err(from_protection)?;
        if failed_instances.is_empty() {
            return Ok(());
        }
        // a partial success: the failed instances get a group and plan of their own,
        // so that they can be recovered again
        let short: String = job.plan.as_str().chars().take(8).collect();
        let interval = serde_json::from_str(&g.snapshot_interval_json).map_err(failed)?;
        let split = groups::create_group(
            &app,
            groups::NewGroup {
                name: format!("{}-rest-{short}", g.name),
                description: format!(
                    "instances of {} that failed in its confirmed DR job",
                    g.name
                ),
                source_cluster_id: g.source_cluster_id.clone(),
                owner_group_id: g.owner_group_id.clone(),
                instances: failed_instances.iter().map(ToString::to_string).collect(),
                rpo_minutes: g.rpo_minutes,
                rto_minutes: g.rto_minutes,
                snapshot_interval: interval,
            },
        )
        .await
        .map_err(from_protection)?;
        let mut rest = mapping;
        rest.instances
            .retain(|id, _| failed_instances.iter().any(|f| f.as_str() == id));
        plans::create_plan(
            &app,
            &split.id,
            plans::PlanInput {
                name: Some(format!("{}-rest-{short}", p.name)),
                target_cluster_id: Some(p.target_cluster_id.clone()),
                retention: Some(p.retention),
                mapping: Some(rest),
            },
        )
        .await
        .map_err(from_protection)?;
        Ok(())
    }
}

impl JobSource for PlansJobSource {
    fn plan_facts<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<PlanFacts, JobSourceError>> {
        Box::pin(self.facts(plan))
    }

    fn freeze<'a>(
        &'a self,
        plan: &'a PlanId,
        point: &'a RecoveryPoint,
    ) -> BoxFuture<'a, Result<FrozenJob, JobSourceError>> {
        Box::pin(self.frozen(plan, point))
    }

    fn target<'a>(
        &'a self,
        cluster: &'a ClusterId,
    ) -> BoxFuture<'a, Result<TargetCloud, JobSourceError>> {
        Box::pin(self.target_cloud(cluster))
    }

    fn confirmed<'a>(
        &'a self,
        job: &'a FrozenJob,
        failed: &'a [InstanceId],
    ) -> BoxFuture<'a, Result<(), JobSourceError>> {
        Box::pin(self.confirm(job, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_plan_state_reads_back() {
        for s in PlanState::ALL {
            assert_eq!(plan_state(&s.to_string()).unwrap(), s);
        }
        assert!(plan_state("Sleeping").is_err());
    }
}
