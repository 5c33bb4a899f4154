//! Protection-group snapshots of a plan (protection.md, "Snapshots"): one cut across
//! every volume of the group, recorded with the plan snapshot (the plan frozen by
//! [`super::freeze_plan`], as JSON), then the plan's retention applied; an event per
//! snapshot taken or deleted. The first, scheduled and manual snapshots all come here.

use serde::{Deserialize, Serialize};

use super::replication::SnapshotError;
use super::{FrozenPlan, ProtectionError, evaluate};
use crate::db;
use crate::dr::ids::{PlanId, SnapshotId};
use crate::events::{Event, Severity};
use crate::replication::GroupSnapshot;
use crate::state::App;

/// One snapshot at a time per process: cuts of the same volumes must not overlap.
static CUTTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The initial copy finished: the plan's first snapshot.
    First,
    /// The group's snapshot interval.
    Scheduled,
    /// A user asked ("snapshot now").
    Manual,
}

impl Trigger {
    fn text(self) -> &'static str {
        match self {
            Trigger::First => "first",
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
        }
    }
}

/// The plan snapshot stored with a group snapshot: the plan as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSnapshotDoc {
    /// The plan's id.
    pub plan_id: String,
    /// Its name.
    pub plan_name: String,
    /// Its retention.
    pub retention: u8,
    /// The protection group's id.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// Its instances.
    pub instances: Vec<String>,
    /// The source cluster's id.
    pub source_cluster_id: String,
    /// The target cluster's id.
    pub target_cluster_id: String,
    /// The protected volume ids.
    pub volumes: Vec<String>,
    /// What a recovery from this snapshot rebuilds (the executor's job spec).
    pub spec: crate::recovery::JobSpec,
}

impl PlanSnapshotDoc {
    /// The document of a frozen plan.
    pub fn of(f: &FrozenPlan) -> PlanSnapshotDoc {
        PlanSnapshotDoc {
            plan_id: f.plan.id.to_string(),
            plan_name: f.plan.name.to_string(),
            retention: f.plan.retention.get(),
            group_id: f.group.id.to_string(),
            group_name: f.group.name.to_string(),
            instances: f.group.instances.iter().map(ToString::to_string).collect(),
            source_cluster_id: f.source.id.to_string(),
            target_cluster_id: f.target.id.to_string(),
            volumes: f.volumes.iter().map(|v| v.id.to_string()).collect(),
            spec: f.spec.clone(),
        }
    }
}

/// Why a snapshot could not be taken or deleted.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotRefusal {
    /// The plan (or its group) is gone, or the plan cannot be frozen.
    #[error(transparent)]
    Plan(#[from] ProtectionError),
    /// Replication refused or failed.
    #[error(transparent)]
    Replication(#[from] SnapshotError),
}

async fn publish(app: &App, plan: &PlanId, group: Option<(String, String)>, e: Event) {
    let mut e = e.object("plan", plan.as_str());
    if let Some((group_id, owner)) = group {
        e = e.object("protection_group", &group_id).group(Some(owner));
    }
    if let Err(err) = crate::events::publish(app, e).await {
        tracing::warn!(error = %err, "snapshot event not recorded");
    }
}

async fn group_of(app: &App, plan: &PlanId) -> Option<(String, String)> {
    let mut c = app.db.conn().await.ok()?;
    let p = db::plans::get(&mut c, plan.as_str()).await.ok()??;
    let g = db::protection_groups::get(&mut c, &p.group_id)
        .await
        .ok()??;
    Some((g.id, g.owner_group_id))
}

/// Takes a group snapshot of the plan with its plan snapshot, applies the plan's
/// retention, raises the events and re-evaluates the plan.
#[tracing::instrument(skip_all, fields(plan_id = %plan, trigger = trigger.text()))]
pub async fn take(
    app: &App,
    plan: &PlanId,
    trigger: Trigger,
) -> Result<GroupSnapshot, SnapshotRefusal> {
    let _one_at_a_time = CUTTING.lock().await;
    let detail = app.replication.volume_detail(plan).await?;
    if !detail.initial_copy_done() {
        return Err(SnapshotError::NotReplicating(
            "the initial copy of the plan's volumes is not finished: a snapshot can be taken once every volume is copied to the target"
                .to_owned(),
        )
        .into());
    }
    let frozen = super::freeze_plan(&app.db, plan).await?;
    let doc = serde_json::to_string(&PlanSnapshotDoc::of(&frozen))
        .map_err(|e| SnapshotError::Failed(format!("the plan snapshot cannot be written: {e}")))?;
    let group = group_of(app, plan).await;
    let taken = app.replication.snapshot(plan, &doc).await;
    let s = match taken {
        Ok(s) => s,
        Err(e) => {
            if !matches!(
                e,
                SnapshotError::NotReplicating(_) | SnapshotError::NotConnected(_)
            ) {
                let msg = format!(
                    "the {} snapshot of protection group {} failed: {e}",
                    trigger.text(),
                    frozen.group.name
                );
                publish(
                    app,
                    plan,
                    group,
                    Event::new("snapshot.failed", Severity::Warning, msg),
                )
                .await;
            }
            return Err(e.into());
        }
    };
    publish(
        app,
        plan,
        group.clone(),
        Event::new(
            "snapshot.created",
            Severity::Info,
            format!(
                "{} snapshot {} of protection group {} taken ({} volumes)",
                trigger.text(),
                s.id,
                frozen.group.name,
                s.volumes.len()
            ),
        )
        .object("snapshot", s.id.as_str()),
    )
    .await;
    match app
        .replication
        .apply_retention(plan, frozen.plan.retention)
        .await
    {
        Ok(deleted) => {
            for id in deleted {
                publish(
                    app,
                    plan,
                    group.clone(),
                    Event::new(
                        "snapshot.deleted",
                        Severity::Info,
                        format!(
                            "snapshot {id} of protection group {} deleted by the retention ({} kept)",
                            frozen.group.name,
                            frozen.plan.retention.get()
                        ),
                    )
                    .object("snapshot", id.as_str()),
                )
                .await;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention could not be applied; retried after the next snapshot")
        }
    }
    if let Err(e) = evaluate::evaluate_plan(app, plan.as_str()).await {
        tracing::warn!(error = %e, "plan evaluation after a snapshot failed");
    }
    Ok(s)
}

/// Deletes one snapshot of the plan (by a user) and raises the event.
#[tracing::instrument(skip_all, fields(plan_id = %plan, snapshot_id = %id))]
pub async fn delete(app: &App, plan: &PlanId, id: &SnapshotId) -> Result<(), SnapshotRefusal> {
    let _one_at_a_time = CUTTING.lock().await;
    app.replication.delete_snapshot(plan, id).await?;
    let group = group_of(app, plan).await;
    publish(
        app,
        plan,
        group,
        Event::new(
            "snapshot.deleted",
            Severity::Info,
            format!("snapshot {id} deleted by a user"),
        )
        .object("snapshot", id.as_str()),
    )
    .await;
    if let Err(e) = evaluate::evaluate_plan(app, plan.as_str()).await {
        tracing::warn!(error = %e, "plan evaluation after a snapshot deletion failed");
    }
    Ok(())
}
