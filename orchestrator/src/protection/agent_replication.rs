//! [`PlanReplication`] over the agents ([`crate::replication::Replication`]): a plan's
//! protected volumes become [`VolumeToReplicate`]s (source cluster and RPO from its
//! protection group), volumes the plan no longer lists are stopped, and the
//! replication facts become the plan-state facts (`first_snapshot_taken` from the
//! plan's group snapshots).

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::replication::{
    PlanReplication, ReplicationFacts, ReplicationUnavailable, SnapshotError,
};
use super::topology_builder::ProtectedVolume;
use crate::db::{self, Db};
use crate::dr::ids::{ClusterId, PlanId, SnapshotId, VolumeId};
use crate::dr::plan_state::{Replication as PlanVolumeState, VolumeFacts};
use crate::dr::retention::Retention;
use crate::replication::{
    self, GroupSnapshot, Replication, ReplicationError, VolumeFacts as ReplicatedVolume,
    VolumePhase, VolumeToReplicate,
};

const GIB: u64 = 1 << 30;

/// Plans replicated by the agents.
#[derive(Debug)]
pub struct AgentReplication {
    db: Db,
    replication: Replication,
    /// The last failed start per plan, for the plan's reasons while nothing replicates.
    start_errors: Mutex<BTreeMap<String, String>>,
}

/// A plan-state volume from a replicated volume (pure).
pub fn plan_volume(v: &ReplicatedVolume) -> VolumeFacts {
    let replication = match &v.phase {
        VolumePhase::InitialCopy {
            done_bytes,
            total_bytes,
        } => PlanVolumeState::InitialCopy {
            percent: percent(*done_bytes, *total_bytes),
        },
        VolumePhase::Healthy => PlanVolumeState::Mirroring,
        VolumePhase::Broken { .. } => PlanVolumeState::Broken,
    };
    VolumeFacts {
        id: v.volume.clone(),
        name: v.volume.to_string(),
        replication,
    }
}

/// `done` of `total` in whole percent, 0 while the total is unknown (pure).
pub fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return 0;
    }
    let p = u128::from(done.min(total)) * 100 / u128::from(total);
    u8::try_from(p).unwrap_or(100)
}

/// What a plan's protected volume replicates as (pure).
pub fn to_replicate(
    v: &ProtectedVolume,
    source_cluster: &str,
    target_cluster: &str,
    rpo_minutes: i64,
) -> VolumeToReplicate {
    VolumeToReplicate {
        volume: v.id.clone(),
        size_bytes: v.size_gb.saturating_mul(GIB),
        source_host: v.backend_host.clone(),
        source_cluster: ClusterId::new(source_cluster),
        target_cluster: ClusterId::new(target_cluster),
        target_host: None,
        rpo_ms: u64::try_from(rpo_minutes)
            .unwrap_or(0)
            .saturating_mul(60_000),
    }
}

fn failed(e: ReplicationError) -> SnapshotError {
    match e {
        ReplicationError::UnknownSnapshot(id) => SnapshotError::UnknownSnapshot(id),
        e @ (ReplicationError::NoVolumes(_) | ReplicationError::NotStarted(_)) => {
            SnapshotError::NotReplicating(e.to_string())
        }
        e => SnapshotError::Failed(e.to_string()),
    }
}

impl AgentReplication {
    /// Over `replication`, reading plans and groups from `db`.
    pub fn new(db: Db, replication: Replication) -> AgentReplication {
        AgentReplication {
            db,
            replication,
            start_errors: Mutex::new(BTreeMap::new()),
        }
    }

    fn remember(&self, plan: &PlanId, error: Option<String>) {
        if let Ok(mut m) = self.start_errors.lock() {
            match error {
                Some(e) => m.insert(plan.to_string(), e),
                None => m.remove(plan.as_str()),
            };
        }
    }

    async fn start(
        &self,
        plan: &PlanId,
        target_cluster: &str,
        volumes: &[ProtectedVolume],
    ) -> Result<(), String> {
        let (source_cluster, rpo_minutes) = {
            let mut c = self.db.conn().await.map_err(|e| e.to_string())?;
            let p = db::plans::get(&mut c, plan.as_str())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("recovery plan {plan} does not exist"))?;
            let g = db::protection_groups::get(&mut c, &p.group_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("protection group {} does not exist", p.group_id))?;
            (g.source_cluster_id, g.rpo_minutes)
        };
        let keep: Vec<VolumeId> = volumes.iter().map(|v| v.id.clone()).collect();
        self.replication
            .stop_others(plan, &keep)
            .await
            .map_err(|e| format!("stopping volumes the plan no longer protects failed: {e}"))?;
        let wanted: Vec<VolumeToReplicate> = volumes
            .iter()
            .map(|v| to_replicate(v, &source_cluster, target_cluster, rpo_minutes))
            .collect();
        self.replication
            .start(plan, &wanted)
            .await
            .map_err(|e| format!("replication could not start: {e}"))
    }
}

impl PlanReplication for AgentReplication {
    fn start_plan<'a>(
        &'a self,
        plan: &'a PlanId,
        target_cluster: &'a str,
        volumes: &'a [ProtectedVolume],
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>> {
        Box::pin(async move {
            let r = self.start(plan, target_cluster, volumes).await;
            self.remember(plan, r.as_ref().err().cloned());
            r.map_err(ReplicationUnavailable)
        })
    }

    fn stop_plan<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<(), ReplicationUnavailable>> {
        Box::pin(async move {
            self.remember(plan, None);
            self.replication
                .stop(plan)
                .await
                .map_err(|e| ReplicationUnavailable(e.to_string()))
        })
    }

    fn facts<'a>(&'a self, plan: &'a PlanId) -> BoxFuture<'a, ReplicationFacts> {
        Box::pin(async move {
            let unknown = |reason: String| ReplicationFacts::NotConnected { reason };
            let facts = match self.replication.facts(plan).await {
                Ok(f) => f,
                Err(e) => return unknown(format!("the replication facts cannot be read: {e}")),
            };
            if facts.volumes.is_empty() {
                let why = self
                    .start_errors
                    .lock()
                    .ok()
                    .and_then(|m| m.get(plan.as_str()).cloned())
                    .unwrap_or_else(|| "replication has not started yet".to_owned());
                return unknown(format!("no volume of this plan replicates: {why}"));
            }
            let first_snapshot_taken = match self.db.conn().await {
                Ok(mut c) => db::replication::snapshots(&mut c, plan.as_str())
                    .await
                    .map(|s| !s.is_empty()),
                Err(e) => Err(e),
            };
            match first_snapshot_taken {
                Ok(first_snapshot_taken) => ReplicationFacts::Known {
                    volumes: facts.volumes.iter().map(plan_volume).collect(),
                    first_snapshot_taken,
                    target_free_bytes: None,
                },
                Err(e) => unknown(format!("the plan's snapshots cannot be read: {e}")),
            }
        })
    }

    fn volume_detail<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<replication::ReplicationFacts, SnapshotError>> {
        Box::pin(async move { self.replication.facts(plan).await.map_err(failed) })
    }

    fn snapshot<'a>(
        &'a self,
        plan: &'a PlanId,
        plan_json: &'a str,
    ) -> BoxFuture<'a, Result<GroupSnapshot, SnapshotError>> {
        Box::pin(async move {
            self.replication
                .snapshot(plan, plan_json)
                .await
                .map_err(failed)
        })
    }

    fn snapshots<'a>(
        &'a self,
        plan: &'a PlanId,
    ) -> BoxFuture<'a, Result<Vec<GroupSnapshot>, SnapshotError>> {
        Box::pin(async move { self.replication.list(plan).await.map_err(failed) })
    }

    fn delete_snapshot<'a>(
        &'a self,
        plan: &'a PlanId,
        id: &'a SnapshotId,
    ) -> BoxFuture<'a, Result<(), SnapshotError>> {
        Box::pin(async move {
            self.replication
                .delete_snapshot(plan, id)
                .await
                .map_err(failed)
        })
    }

    fn apply_retention<'a>(
        &'a self,
        plan: &'a PlanId,
        retention: Retention,
    ) -> BoxFuture<'a, Result<Vec<SnapshotId>, SnapshotError>> {
        Box::pin(async move {
            self.replication
                .apply_retention(plan, retention)
                .await
                .map_err(failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicated(phase: VolumePhase) -> ReplicatedVolume {
        ReplicatedVolume {
            volume: VolumeId::new("v1"),
            phase,
            initial_copy_done: false,
            lag_ms: None,
            rpo_ms: 60_000,
            over_rpo: false,
        }
    }

    #[test]
    fn phases_map_to_plan_volume_states() {
        let copy = replicated(VolumePhase::InitialCopy {
            done_bytes: 1,
            total_bytes: 4,
        });
        assert_eq!(
            plan_volume(&copy).replication,
            PlanVolumeState::InitialCopy { percent: 25 }
        );
        assert_eq!(
            plan_volume(&replicated(VolumePhase::Healthy)).replication,
            PlanVolumeState::Mirroring
        );
        let broken = replicated(VolumePhase::Broken { reason: "x".into() });
        assert_eq!(plan_volume(&broken).replication, PlanVolumeState::Broken);
        assert_eq!(plan_volume(&broken).id, VolumeId::new("v1"));
    }

    #[test]
    fn percent_is_bounded_and_zero_when_unknown() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent(0, 10), 0);
        assert_eq!(percent(10, 10), 100);
        assert_eq!(percent(20, 10), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
    }

    #[test]
    fn protected_volume_becomes_volume_to_replicate() {
        let v = ProtectedVolume {
            id: VolumeId::new("v1"),
            name: "boot".into(),
            size_gb: 2,
            backend_host: "node-a@files#files".into(),
            volume_type: None,
        };
        let r = to_replicate(&v, "src", "tgt", 15);
        assert_eq!(r.size_bytes, 2 << 30);
        assert_eq!(r.rpo_ms, 900_000);
        assert_eq!(r.source_cluster, ClusterId::new("src"));
        assert_eq!(r.target_cluster, ClusterId::new("tgt"));
        assert_eq!(r.source_host, "node-a@files#files");
        assert_eq!(r.target_host, None);
        assert_eq!(to_replicate(&v, "s", "t", -1).rpo_ms, 0);
    }
}
