//! Protection-group snapshots: one crash-consistent cut across every volume of an
//! owner. `CutPrepare` goes to every source agent (each fixes its cut point); when all
//! are prepared, `CutCommit` makes each ship the data up to the cut and the target
//! snapshot every mirror under one name (the target snapshots are created by the
//! commit itself, at the cut's epoch); any failure aborts the cut and deletes the
//! snapshots that were made (`TargetSnapshotDelete`), so no half snapshot remains.
//! The snapshot is recorded with the plan as the caller passes it.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use holdfast_protocol::messages::{
    CutAbort, CutCommit, CutOutcome, CutPrepare, TargetSnapshotDelete,
};
use holdfast_protocol::{NodeId, VolumeId as WireVolumeId};
use serde::Serialize;
use uuid::Uuid;

use super::{Replication, ReplicationError, STARTED, node};
use crate::agents::AgentError;
use crate::db::{self, DbError};
use crate::dr::ids::{PlanId, SnapshotId, VolumeId};
use crate::dr::retention::{Retention, StoredSnapshot, snapshots_to_delete};
use crate::state::now_ms;

/// A protection-group snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSnapshot {
    /// Its id.
    pub id: SnapshotId,
    /// The owner.
    pub owner: PlanId,
    /// The snapshot's name on every target volume.
    pub snapshot_name: String,
    /// The cut point (ms).
    pub taken_at_ms: i64,
    /// The plan as it was (the caller's JSON).
    pub plan_json: String,
    /// Each volume's part.
    pub volumes: Vec<SnapshotVolume>,
}

/// One volume's part of a group snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotVolume {
    /// The volume.
    pub volume: VolumeId,
    /// The agent holding it.
    pub target_node: String,
    /// The snapshot's name there.
    pub target_snapshot: String,
    /// The replication epoch it contains.
    pub epoch: u64,
}

fn group(
    s: db::replication::SnapshotRecord,
    v: Vec<db::replication::SnapshotVolumeRecord>,
) -> GroupSnapshot {
    GroupSnapshot {
        id: SnapshotId::new(s.id),
        owner: PlanId::new(s.owner),
        snapshot_name: s.snapshot_name,
        taken_at_ms: s.taken_at,
        plan_json: s.plan_json,
        volumes: v
            .into_iter()
            .map(|v| SnapshotVolume {
                volume: VolumeId::new(v.volume_id),
                target_node: v.target_node,
                target_snapshot: v.target_snapshot,
                epoch: u64::try_from(v.epoch).unwrap_or(0),
            })
            .collect(),
    }
}

/// A refusal that means "already gone": the agent no longer knows the volume.
fn gone(e: &AgentError) -> bool {
    matches!(
        e,
        AgentError::Refused {
            code: holdfast_protocol::messages::ErrorCode::UnknownVolume,
            ..
        }
    )
}

impl Replication {
    /// Cuts a crash-consistent snapshot across every volume of `owner` and records it
    /// with `plan_json` (the plan as it is now).
    #[tracing::instrument(skip_all, fields(plan_id = %owner, snapshot_id))]
    pub async fn snapshot(
        &self,
        owner: &PlanId,
        plan_json: &str,
    ) -> Result<GroupSnapshot, ReplicationError> {
        let volumes = {
            let mut c = self.db.conn().await?;
            db::replication::volumes(&mut c, owner.as_str()).await?
        };
        if volumes.is_empty() {
            return Err(ReplicationError::NoVolumes(owner.clone()));
        }
        if let Some(v) = volumes.iter().find(|v| v.state != STARTED) {
            return Err(ReplicationError::NotStarted(VolumeId::new(
                v.volume_id.clone(),
            )));
        }
        let mut by_source: BTreeMap<NodeId, Vec<WireVolumeId>> = BTreeMap::new();
        for v in &volumes {
            by_source
                .entry(node(&v.source_node)?)
                .or_default()
                .push(WireVolumeId(v.volume_id.clone()));
        }
        let id = SnapshotId::new(Uuid::now_v7().to_string());
        tracing::Span::current().record("snapshot_id", tracing::field::display(&id));
        let name = format!("hf-{id}");
        let cut_id = Uuid::now_v7();
        let cut_err = |reason: String| ReplicationError::Cut {
            owner: owner.clone(),
            reason,
        };
        let t = self.options.request_timeout;
        let hold_ms = u64::try_from(self.options.cut_hold_timeout.as_millis()).unwrap_or(u64::MAX);

        // Phase 1: every source agent fixes its cut point.
        let prepared = join_all(by_source.iter().map(|(n, vols)| {
            self.link.request(
                n,
                CutPrepare {
                    cut_id,
                    group_id: owner.to_string(),
                    volumes: vols.clone(),
                    hold_timeout_ms: hold_ms,
                },
                t,
            )
        }))
        .await;
        let failures: Vec<String> = prepared
            .iter()
            .filter_map(|r| r.as_ref().err().map(ToString::to_string))
            .collect();
        if !failures.is_empty() {
            self.abort(&by_source, cut_id, &failures.join("; ")).await;
            return Err(cut_err(failures.join("; ")));
        }
        let mut cut_at = prepared
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|p| p.cut_at.0))
            .max()
            .unwrap_or(0);

        // Phase 2: ship to the cut and snapshot every mirror.
        let committed = join_all(by_source.keys().map(|n| {
            self.link.request(
                n,
                CutCommit {
                    cut_id,
                    snapshot_name: name.clone(),
                },
                self.options.cut_commit_timeout,
            )
        }))
        .await;
        let mut failures = Vec::new();
        let mut epochs = BTreeMap::new();
        for (r, n) in committed.iter().zip(by_source.keys()) {
            match r {
                Ok(res) if res.outcome == CutOutcome::Committed => {
                    cut_at = cut_at.max(res.cut_at.map_or(0, |t| t.0));
                    for v in &res.volumes {
                        epochs.insert(v.volume_id.0.clone(), v.epoch);
                    }
                }
                Ok(res) => failures.push(format!(
                    "agent {n} did not commit: {}",
                    res.volumes
                        .iter()
                        .filter_map(|v| v.error.as_ref().map(|e| format!("{}: {e}", v.volume_id)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Err(e) => failures.push(e.to_string()),
            }
        }
        if let Some(v) = volumes.iter().find(|v| !epochs.contains_key(&v.volume_id))
            && failures.is_empty()
        {
            failures.push(format!(
                "no snapshot was reported for volume {}",
                v.volume_id
            ));
        }
        if !failures.is_empty() {
            for v in &volumes {
                self.delete_target_snapshot(&v.target_node, &v.volume_id, &name)
                    .await
                    .ok();
            }
            return Err(cut_err(failures.join("; ")));
        }
        let now = now_ms();
        let record = db::replication::SnapshotRecord {
            id: id.to_string(),
            owner: owner.to_string(),
            snapshot_name: name.clone(),
            taken_at: i64::try_from(cut_at).unwrap_or(now),
            plan_json: plan_json.to_owned(),
            created_at: now,
        };
        let parts: Vec<_> = volumes
            .iter()
            .map(|v| db::replication::SnapshotVolumeRecord {
                snapshot_id: id.to_string(),
                volume_id: v.volume_id.clone(),
                target_node: v.target_node.clone(),
                target_snapshot: name.clone(),
                epoch: i64::try_from(epochs.get(&v.volume_id).copied().unwrap_or(0))
                    .unwrap_or(i64::MAX),
            })
            .collect();
        let mut tx = self.db.begin().await?;
        db::replication::insert_snapshot(&mut tx, &record, &parts).await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::info!(volumes = parts.len(), "group snapshot taken");
        Ok(group(record, parts))
    }

    async fn abort(
        &self,
        by_source: &BTreeMap<NodeId, Vec<WireVolumeId>>,
        cut_id: Uuid,
        reason: &str,
    ) {
        let t = self.options.request_timeout;
        join_all(by_source.keys().map(|n| {
            self.link.request(
                n,
                CutAbort {
                    cut_id,
                    reason: reason.to_owned(),
                },
                t,
            )
        }))
        .await;
    }

    async fn delete_target_snapshot(
        &self,
        target_node: &str,
        volume: &str,
        name: &str,
    ) -> Result<(), ReplicationError> {
        let r = self
            .link
            .request(
                &node(target_node)?,
                TargetSnapshotDelete {
                    volume_id: WireVolumeId(volume.to_owned()),
                    snapshot_name: name.to_owned(),
                },
                self.options.request_timeout,
            )
            .await;
        match r {
            Err(e) if !gone(&e) => Err(ReplicationError::Agent {
                volume: volume.to_owned(),
                source: Box::new(e),
            }),
            _ => Ok(()),
        }
    }

    /// The owner's group snapshots, newest first.
    pub async fn list(&self, owner: &PlanId) -> Result<Vec<GroupSnapshot>, ReplicationError> {
        let mut c = self.db.conn().await?;
        let mut out = Vec::new();
        for s in db::replication::snapshots(&mut c, owner.as_str()).await? {
            let v = db::replication::snapshot_volumes(&mut c, &s.id).await?;
            out.push(group(s, v));
        }
        Ok(out)
    }

    /// Deletes a group snapshot of `owner` from every target and from the database.
    #[tracing::instrument(skip_all, fields(plan_id = %owner, snapshot_id = %id))]
    pub async fn delete_snapshot(
        &self,
        owner: &PlanId,
        id: &SnapshotId,
    ) -> Result<(), ReplicationError> {
        let (s, parts) = {
            let mut c = self.db.conn().await?;
            let s = db::replication::snapshot_by_id(&mut c, id.as_str())
                .await?
                .filter(|s| s.owner == owner.as_str())
                .ok_or_else(|| ReplicationError::UnknownSnapshot(id.clone()))?;
            let parts = db::replication::snapshot_volumes(&mut c, &s.id).await?;
            (s, parts)
        };
        for p in &parts {
            self.delete_target_snapshot(&p.target_node, &p.volume_id, &p.target_snapshot)
                .await?;
        }
        let mut c = self.db.conn().await?;
        db::replication::delete_snapshot(&mut c, &s.id).await?;
        Ok(())
    }

    /// Keeps the `retention` newest snapshots of `owner`, deleting the others; returns
    /// the deleted ids.
    pub async fn apply_retention(
        &self,
        owner: &PlanId,
        retention: Retention,
    ) -> Result<Vec<SnapshotId>, ReplicationError> {
        let existing: Vec<StoredSnapshot> = self
            .list(owner)
            .await?
            .into_iter()
            .map(|s| StoredSnapshot {
                taken_at: jiff::Timestamp::from_millisecond(s.taken_at_ms)
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                id: s.id,
            })
            .collect();
        let doomed = snapshots_to_delete(&existing, retention);
        for id in &doomed {
            self.delete_snapshot(owner, id).await?;
        }
        Ok(doomed)
    }
}
