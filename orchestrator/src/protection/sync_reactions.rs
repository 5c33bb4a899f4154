//! The plan sync reactions at run time (protection.md, "Plan sync reactions"): after a
//! full sync or a notification batch wrote a cluster's resources, each change
//! ([`super::sync_changes`]) of every plan using the cluster goes through
//! [`crate::dr::plan_sync::react`]:
//!
//! - `Update` — the mapping follows, stored with the plan (a detached volume leaves
//!   it and its replication stops; a deleted instance leaves the group and the plan,
//!   the last one deletes the plan; a network no instance is on any more leaves the
//!   mapping; a kept floating IP follows its instance). Routers, subnets and ports are
//!   not part of the stored mapping — a recovery takes them from the synced source —
//!   so for those the plan follows by itself. Each update raises `plan.sync.updated`
//!   naming the change.
//! - `Warn` — the reason is kept (`db::plan_sync_warnings`) until a user saves the
//!   plan, and raises `plan.sync.warning` once. Not kept: a target project name or a
//!   kept floating IP now in use — the evaluation shows them while they last, and a
//!   drill's own project and address are freed by its cleanup.
//! - `RecheckCapacity` — the re-evaluation that follows every sync and batch
//!   (`clusters/plan_hooks.rs`) checks the capacity again.

use std::collections::BTreeSet;

use super::inventory::{self, ClusterDocs};
use super::mapping::{FloatingIpChoice, PlanMapping};
use super::plan_view::{Gone, plan_view};
use super::sync_changes::{self, ResourceDelta, SideChanges};
use super::{ProtectionError, plans};
use crate::db::{self, DbError};
use crate::dr::ids::InstanceId;
use crate::dr::plan_sync::{self, MappingIssue, MappingUpdate, Reaction, ResourceChange};
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

/// What the reactions of one plan come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The mapping afterwards.
    pub mapping: PlanMapping,
    /// The group's instances afterwards.
    pub instances: Vec<String>,
    /// One line per automatic update, naming the change.
    pub updates: Vec<String>,
    /// Warning reasons to keep until a user saves the plan.
    pub warnings: Vec<String>,
    /// The mapping's volume list changed (replication follows).
    pub volumes_changed: bool,
    /// The group lost its last instance: the plan is deleted.
    pub delete_plan: bool,
}

fn network_name(docs: &ClusterDocs, id: &str) -> String {
    docs.networks
        .get(id)
        .map_or_else(|| id.to_owned(), |n| n.name.clone())
}

fn router_name(docs: &ClusterDocs, id: &str) -> String {
    docs.routers
        .get(id)
        .map(|(r, _)| r.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_owned())
}

/// The issue with source instance and network ids replaced by names, as the plan's
/// evaluation words the same problems (so a reason is shown once).
fn named(issue: MappingIssue, src: &ClusterDocs) -> MappingIssue {
    match issue {
        MappingIssue::NetworkUnmapped { instance, network } => MappingIssue::NetworkUnmapped {
            instance: InstanceId::new(src.instance_name(instance.as_str())),
            network: crate::dr::ids::NetworkId::new(network_name(src, network.as_str())),
        },
        MappingIssue::FloatingIpUnmapped { instance, address } => {
            MappingIssue::FloatingIpUnmapped {
                instance: InstanceId::new(src.instance_name(instance.as_str())),
                address,
            }
        }
        other => other,
    }
}

/// Applies the reactions to the mapping and the group's instances (pure). `src` is
/// the synced source after the change.
pub fn apply(
    m: &PlanMapping,
    instances: &[String],
    reactions: &[(ResourceChange, Reaction)],
    src: &ClusterDocs,
) -> Outcome {
    let mut out = Outcome {
        mapping: m.clone(),
        instances: instances.to_vec(),
        updates: Vec::new(),
        warnings: Vec::new(),
        volumes_changed: false,
        delete_plan: false,
    };
    let name = |i: &InstanceId| src.instance_name(i.as_str());
    for (_, reaction) in reactions {
        match reaction {
            Reaction::Nothing | Reaction::RecheckCapacity => {}
            // the evaluation names an attached, unmapped volume itself
            Reaction::Warn(MappingIssue::VolumeUnmapped { .. }) => {}
            // "in use now" conditions the evaluation sees as long as they last, and
            // which clear by themselves (a drill creates the plan's project and may
            // take its kept address on the target; its cleanup frees both): not kept
            Reaction::Warn(
                MappingIssue::ProjectNameTaken { .. } | MappingIssue::FloatingIpTaken { .. },
            ) => {}
            Reaction::Warn(issue) => {
                let w = named(issue.clone(), src).to_string();
                if !out.warnings.contains(&w) {
                    out.warnings.push(w);
                }
            }
            Reaction::Update(u) => update(&mut out, u, src, &name),
        }
    }
    if out.instances.is_empty() && !instances.is_empty() {
        out.delete_plan = true;
    }
    out
}

fn update(
    out: &mut Outcome,
    u: &MappingUpdate,
    src: &ClusterDocs,
    name: &dyn Fn(&InstanceId) -> String,
) {
    let m = &mut out.mapping;
    let line = match u {
        MappingUpdate::AddRouter(r) => format!(
            "source router {} connects protected networks: it is recovered with them",
            router_name(src, r.as_str())
        ),
        MappingUpdate::AddRouterInterface(r, n) => format!(
            "source router {} got an interface on protected network {}: it is recovered with it",
            router_name(src, r.as_str()),
            network_name(src, n.as_str())
        ),
        MappingUpdate::RemoveRouterInterface(r, n) => format!(
            "source router {} lost its interface on network {}: it is no longer recovered",
            router_name(src, r.as_str()),
            network_name(src, n.as_str())
        ),
        MappingUpdate::RemoveRouter(r) => {
            format!("source router {r} was deleted: it is no longer recovered")
        }
        MappingUpdate::RemoveSubnet(s) => {
            format!("source subnet {s} was removed: it is no longer recovered")
        }
        MappingUpdate::AddPort(i, n) => format!(
            "instance {} was connected to mapped network {}: the port is recovered",
            name(i),
            network_name(src, n.as_str())
        ),
        MappingUpdate::RemovePort(i, n) => {
            let mut line = format!(
                "instance {} left network {}: the port is no longer recovered",
                name(i),
                network_name(src, n.as_str())
            );
            let still_used = out
                .instances
                .iter()
                .any(|x| src.ports_of(x).any(|p| p.network_id == n.as_str()));
            if !still_used && m.networks.remove(n.as_str()).is_some() {
                line.push_str("; no protected instance uses the network any more, so it left the plan's network mapping");
            }
            line
        }
        MappingUpdate::RemoveVolume(i, v) => {
            if !m.volumes.remove(v.as_str()) {
                return;
            }
            out.volumes_changed = true;
            format!(
                "volume {} was detached from instance {}: it left the plan and its replication stops",
                src.volume_name(v.as_str()),
                name(i)
            )
        }
        MappingUpdate::ReplaceKeptAddress { instance, from, to } => {
            if m.floating_ips.remove(from) != Some(FloatingIpChoice::Keep) {
                return;
            }
            m.floating_ips.insert(to.clone(), FloatingIpChoice::Keep);
            format!(
                "instance {}'s floating IP changed from {from} to {to}: the plan keeps {to} instead",
                name(instance)
            )
        }
        MappingUpdate::RemoveInstance(i) => {
            if !out.instances.iter().any(|x| x == i.as_str()) {
                return;
            }
            out.instances.retain(|x| x != i.as_str());
            m.instances.remove(i.as_str());
            let kept: BTreeSet<String> = out
                .instances
                .iter()
                .filter_map(|x| src.instances.get(x))
                .flat_map(|s| s.volumes_attached.iter().map(|a| a.id.clone()))
                .collect();
            let before = m.volumes.len();
            m.volumes.retain(|v| kept.contains(v));
            out.volumes_changed |= m.volumes.len() != before;
            format!(
                "instance {} was deleted on the source: it left the protection group and the plan",
                name(i)
            )
        }
        MappingUpdate::DeletePlan => {
            out.instances.clear();
            out.delete_plan = true;
            "the group's last instance was deleted on the source: the plan is deleted".to_owned()
        }
    };
    out.updates.push(line);
}

/// Runs the reactions of a batch of written resources for every plan using the
/// cluster. Failures are logged: the re-evaluation that follows still sees the synced
/// copy, and the next full sync brings the changes again.
pub async fn react(app: &App, cluster_id: &str, deltas: &[ResourceDelta]) {
    if deltas.is_empty() {
        return;
    }
    if let Err(e) = react_all(app, cluster_id, deltas).await {
        tracing::warn!(cluster_id, error = %e, "plan sync reactions failed");
    }
}

async fn react_all(
    app: &App,
    cluster_id: &str,
    deltas: &[ResourceDelta],
) -> Result<(), ProtectionError> {
    let (ids, now) = {
        let mut conn = app.db.conn().await?;
        let ids = db::plans::ids_using_cluster(&mut conn, cluster_id).await?;
        if ids.is_empty() {
            return Ok(());
        }
        (ids, inventory::load(&mut conn, cluster_id).await?)
    };
    let changes = sync_changes::changes(deltas, &now);
    if changes.source.is_empty() && changes.target.is_empty() {
        return Ok(());
    }
    let gone = Gone::of(deltas);
    for id in ids {
        if let Err(e) = react_plan(app, cluster_id, &id, &changes, (&now, &gone)).await {
            tracing::warn!(cluster_id, plan_id = %id, error = %e, "plan sync reaction failed");
        }
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(plan_id = %plan_id, cluster_id = %cluster_id))]
async fn react_plan(
    app: &App,
    cluster_id: &str,
    plan_id: &str,
    changes: &SideChanges,
    (now_docs, gone): (&ClusterDocs, &Gone),
) -> Result<(), ProtectionError> {
    let mut tx = app.db.begin().await?;
    let Some(p) = db::plans::get(&mut tx, plan_id).await? else {
        return Ok(());
    };
    let Some(g) = db::protection_groups::get(&mut tx, &p.group_id).await? else {
        return Ok(());
    };
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let is_source = g.source_cluster_id == cluster_id;
    let is_target = p.target_cluster_id == cluster_id;
    let nothing_gone = Gone::default();
    let other_source = match is_source {
        true => None,
        false => Some(inventory::load(&mut tx, &g.source_cluster_id).await?),
    };
    let other_target = match is_target {
        true => None,
        false => Some(inventory::load(&mut tx, &p.target_cluster_id).await?),
    };
    let source = match &other_source {
        Some(d) => (d, &nothing_gone),
        None => (now_docs, gone),
    };
    let target = match &other_target {
        Some(d) => (d, &nothing_gone),
        None => (now_docs, gone),
    };
    let mapping = plans::parse_mapping(&p)?;
    let view = plan_view(&mapping, &instances, source, target);
    let mine = changes
        .source
        .iter()
        .filter(|_| is_source)
        .chain(changes.target.iter().filter(|_| is_target));
    let reactions: Vec<(ResourceChange, Reaction)> = mine
        .map(|c| (c.clone(), plan_sync::react(c, &view)))
        .filter(|(_, r)| *r != Reaction::Nothing)
        .collect();
    if reactions.is_empty() {
        return Ok(());
    }
    let out = apply(&mapping, &instances, &reactions, source.0);
    let now = now_ms();
    let side = if is_source { "source" } else { "target" };
    if out.delete_plan {
        db::protection_groups::set_instances(&mut tx, &g.id, &g.source_cluster_id, &[], now)
            .await?;
        db::plans::delete(&mut tx, &p.id).await?;
        tx.commit().await.map_err(DbError::from)?;
        plans::after_delete(
            app,
            &p,
            &g,
            "the last instance of its protection group was deleted on the source",
            true,
        )
        .await?;
        return Ok(());
    }
    if out.mapping != mapping {
        let mut updated = p.clone();
        updated.mapping_json =
            serde_json::to_string(&out.mapping).map_err(|e| DbError::Corrupt {
                table: "recovery_plans",
                reason: format!("mapping of plan {}: {e}", p.id),
            })?;
        updated.updated_at = now;
        db::plans::update(&mut tx, &updated).await?;
    }
    if out.instances != instances {
        db::protection_groups::set_instances(
            &mut tx,
            &g.id,
            &g.source_cluster_id,
            &out.instances,
            now,
        )
        .await?;
    }
    let mut raised = Vec::new();
    for w in &out.warnings {
        if db::plan_sync_warnings::add(&mut tx, &p.id, w, now).await? {
            raised.push(w);
        }
    }
    tx.commit().await.map_err(DbError::from)?;
    let events = out
        .updates
        .iter()
        .map(|u| {
            (
                "plan.sync.updated",
                Severity::Info,
                format!(
                    "recovery plan {} follows a change on its {side} cluster: {u}",
                    p.name
                ),
            )
        })
        .chain(raised.iter().map(|w| {
            (
                "plan.sync.warning",
                Severity::Warning,
                format!(
                    "recovery plan {} needs attention after a change on its {side} cluster: {w}",
                    p.name
                ),
            )
        }));
    for (kind, severity, message) in events {
        let event = Event::new(kind, severity, message)
            .object("plan", &p.id)
            .object("protection_group", &g.id)
            .group(Some(g.owner_group_id.clone()));
        crate::events::publish(app, event).await?;
    }
    if out.volumes_changed {
        plans::restart_replication(app, &p.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
