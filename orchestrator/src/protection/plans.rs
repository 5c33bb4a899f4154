//! Recovery-plan create, update and delete (protection.md, "Recovery plans"): the
//! facts from the database, the rules of [`crate::dr::plan_rules`], the writes, the
//! replication start/stop through [`super::PlanReplication`], and re-evaluation.

use std::collections::{BTreeMap, BTreeSet};

use super::inventory::{self, ClusterDocs, storage_of};
use super::mapping::PlanMapping;
use super::topology_builder::ProtectedVolume;
use super::{ProtectionError, evaluate, groups};
use crate::db::plans::PlanRecord;
use crate::db::protection_groups::GroupRecord;
use crate::db::{self, DbError, Tx};
use crate::domain::cluster::BackendStorage;
use crate::dr::ids::{ClusterId, InstanceId, JobId, NetworkId, NodeId, PlanId};
use crate::dr::plan_rules::{self, PlanDraft, PlanRefusal, VolumeTypeChoice};
use crate::dr::plan_state::{ClusterStatus, NodeMapping, PlanState};
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

/// A plan as a user submits it (create; update merges with the stored plan).
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// Name.
    pub name: Option<String>,
    /// Target cluster.
    pub target_cluster_id: Option<String>,
    /// Snapshot retention (1..48).
    pub retention: Option<i64>,
    /// Mapping and boot plan.
    pub mapping: Option<PlanMapping>,
}

/// The stored mapping of a plan.
pub fn parse_mapping(p: &PlanRecord) -> Result<PlanMapping, DbError> {
    serde_json::from_str(&p.mapping_json).map_err(|e| DbError::Corrupt {
        table: "recovery_plans",
        reason: format!("mapping of plan {}: {e}", p.id),
    })
}

/// The volumes attached to the group's instances now.
fn group_volumes(src: &ClusterDocs, instances: &[String]) -> BTreeSet<String> {
    instances
        .iter()
        .filter_map(|i| src.instances.get(i))
        .flat_map(|s| s.volumes_attached.iter().map(|a| a.id.clone()))
        .collect()
}

/// The protected volumes of a mapping (for replication).
pub fn protected_volumes(src: &ClusterDocs, m: &PlanMapping) -> Vec<ProtectedVolume> {
    m.volumes
        .iter()
        .filter_map(|id| src.volumes.get(id))
        .map(|v| ProtectedVolume {
            id: crate::dr::ids::VolumeId::new(&v.id),
            name: src.volume_name(&v.id),
            size_gb: v.size,
            backend_host: v.host.clone().unwrap_or_default(),
            volume_type: v.volume_type.clone(),
        })
        .collect()
}

struct Sides<'a> {
    source: &'a ClusterDocs,
    source_storage: &'a [BackendStorage],
    target: &'a ClusterDocs,
    target_storage: &'a [BackendStorage],
}

/// The plan rules' draft: one entry per source volume type, protected network and
/// instance of the group, with what the mapping says for it.
fn draft(
    name: Option<String>,
    target: Option<String>,
    retention: Option<i64>,
    m: &PlanMapping,
    instances: &[String],
    s: &Sides<'_>,
) -> PlanDraft {
    let mut types = BTreeSet::new();
    let mut networks = BTreeSet::new();
    for id in instances {
        if let Some(srv) = s.source.instances.get(id) {
            for a in &srv.volumes_attached {
                if let Some(t) = s
                    .source
                    .volumes
                    .get(&a.id)
                    .and_then(|v| v.volume_type.clone())
                {
                    types.insert(t);
                }
            }
        }
        networks.extend(s.source.ports_of(id).map(|p| p.network_id.clone()));
    }
    PlanDraft {
        name,
        target: target.map(ClusterId::new),
        retention,
        project_name: Some(m.project_name.clone()),
        zone: Some(m.availability_zone.clone()),
        volume_types: types
            .into_iter()
            .map(|t| VolumeTypeChoice {
                source_kind: s.source.storage_kind(s.source_storage, &t),
                target: m
                    .volume_types
                    .get(&t)
                    .map(|tt| (tt.clone(), s.target.storage_kind(s.target_storage, tt))),
                source: t,
            })
            .collect(),
        networks: networks
            .into_iter()
            .map(|n| {
                let choice = m.networks.get(&n).map(|c| c.target());
                let name = s
                    .source
                    .networks
                    .get(&n)
                    .map_or(n.clone(), |x| x.name.clone());
                (NetworkId::new(name), choice)
            })
            .collect(),
        placements: instances
            .iter()
            .map(|i| {
                let placement = m.instances.get(i).map(|c| {
                    c.node.as_ref().map_or_else(
                        || NodeMapping::AnyInZone(m.availability_zone.clone()),
                        |n| NodeMapping::Node(NodeId::new(n)),
                    )
                });
                (InstanceId::new(s.source.instance_name(i)), placement)
            })
            .collect(),
    }
}

/// Floating IPs of the group without a choice (plan_rules has no entry for them).
fn floating_ip_refusals(
    m: &PlanMapping,
    instances: &[String],
    src: &ClusterDocs,
) -> Vec<PlanRefusal> {
    let mut out = Vec::new();
    for id in instances {
        for p in src.ports_of(id) {
            for f in src
                .floating_ips
                .values()
                .filter(|f| f.port_id.as_deref() == Some(p.id.as_str()))
            {
                if !m.floating_ips.contains_key(&f.floating_ip_address) {
                    out.push(PlanRefusal::Missing(format!(
                        "a choice (keep, another or none) for floating IP {} of instance {}",
                        f.floating_ip_address,
                        src.instance_name(id)
                    )));
                }
            }
        }
    }
    out
}

fn status(c: &db::clusters::ClusterRecord) -> ClusterStatus {
    evaluate::cluster_status(&c.status)
}

async fn cluster(
    tx: &mut Tx<'_>,
    id: &str,
    role: &str,
) -> Result<db::clusters::ClusterRecord, ProtectionError> {
    db::clusters::get(tx, id)
        .await?
        .ok_or_else(|| ProtectionError::Invalid(format!("{role} cluster {id:?} does not exist")))
}

/// Creates the plan of a group: refused when the source is inactive, a field is
/// missing, storage kinds differ, or the group has a plan. Replication of the plan's
/// volumes is then started (state `Prepare`).
#[tracing::instrument(skip_all, fields(group_id = %group_id))]
pub async fn create_plan(
    app: &App,
    group_id: &str,
    input: PlanInput,
) -> Result<PlanRecord, ProtectionError> {
    let mut tx = app.db.begin().await?;
    let g = groups::get_group(&mut tx, group_id).await?;
    let source = cluster(&mut tx, &g.source_cluster_id, "source").await?;
    let target = match &input.target_cluster_id {
        Some(t) => Some(cluster(&mut tx, t, "target").await?),
        None => None,
    };
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let existing = db::plans::of_group(&mut tx, &g.id).await?;
    let source_docs = inventory::load(&mut tx, &source.id).await?;
    let target_docs = match &target {
        Some(t) => inventory::load(&mut tx, &t.id).await?,
        None => ClusterDocs::default(),
    };
    let mut mapping = input.mapping.clone().unwrap_or_default();
    mapping.volumes = group_volumes(&source_docs, &instances);
    let (ss, ts) = (
        storage_of(&source),
        target.as_ref().map(storage_of).unwrap_or_default(),
    );
    let sides = Sides {
        source: &source_docs,
        source_storage: &ss,
        target: &target_docs,
        target_storage: &ts,
    };
    let d = draft(
        input.name.clone(),
        input.target_cluster_id.clone(),
        input.retention,
        &mapping,
        &instances,
        &sides,
    );
    let mut refusals = match plan_rules::check_create(
        &d,
        status(&source),
        existing.as_ref().map(|p| PlanId::new(&p.id)).as_ref(),
    ) {
        Ok(_) => Vec::new(),
        Err(r) => r,
    };
    refusals.extend(floating_ip_refusals(&mapping, &instances, &source_docs));
    if !refusals.is_empty() {
        return Err(ProtectionError::Plan(refusals));
    }
    let (Some(name), Some(target), Some(retention)) = (input.name, target, input.retention) else {
        return Err(ProtectionError::Invalid(
            "name, target and retention are required".into(),
        ));
    };
    if db::plans::name_taken(&mut tx, &name, None).await? {
        return Err(ProtectionError::NameTaken {
            what: "recovery plan",
            name,
        });
    }
    let now = now_ms();
    let record = PlanRecord {
        id: uuid::Uuid::new_v4().to_string(),
        group_id: g.id.clone(),
        name,
        target_cluster_id: target.id.clone(),
        retention,
        mapping_json: serde_json::to_string(&mapping).unwrap_or_else(|_| "{}".into()),
        state: PlanState::Prepare.to_string(),
        reasons_json: "[]".into(),
        state_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    db::plans::insert(&mut tx, &record).await?;
    tx.commit().await.map_err(DbError::from)?;
    let event = Event::new(
        "plan.created",
        Severity::Info,
        format!(
            "recovery plan {} of protection group {} created (target {})",
            record.name, g.name, target.name
        ),
    )
    .object("plan", &record.id)
    .object("protection_group", &g.id)
    .group(Some(g.owner_group_id.clone()));
    crate::events::publish(app, event).await?;
    start(app, &record, &protected_volumes(&source_docs, &mapping)).await?;
    evaluate::evaluate_plan(app, &record.id).await?;
    Ok(record)
}

/// Starts replication; when the service cannot act, the plan's state says so (the
/// evaluation reads the same facts) and a warning event is raised.
async fn start(
    app: &App,
    p: &PlanRecord,
    volumes: &[ProtectedVolume],
) -> Result<(), ProtectionError> {
    if let Err(e) = app
        .replication
        .start_plan(&PlanId::new(&p.id), &p.target_cluster_id, volumes)
        .await
    {
        tracing::warn!(plan_id = %p.id, error = %e, "replication did not start");
    }
    Ok(())
}

/// Tells replication the plan's current volume list (after instances left the group).
pub async fn restart_replication(app: &App, plan_id: &str) -> Result<(), ProtectionError> {
    let mut tx = app.db.begin().await?;
    let Some(p) = db::plans::get(&mut tx, plan_id).await? else {
        return Ok(());
    };
    let g = groups::get_group(&mut tx, &p.group_id).await?;
    let docs = inventory::load(&mut tx, &g.source_cluster_id).await?;
    tx.commit().await.map_err(DbError::from)?;
    start(app, &p, &protected_volumes(&docs, &parse_mapping(&p)?)).await
}

/// Loads a plan or fails with not found.
pub async fn get_plan(tx: &mut Tx<'_>, id: &str) -> Result<PlanRecord, ProtectionError> {
    db::plans::get(tx, id)
        .await?
        .ok_or_else(|| ProtectionError::NotFound {
            what: "recovery plan",
            id: id.to_owned(),
        })
}

async fn first_job(tx: &mut Tx<'_>, plan_id: &str) -> Result<Option<JobId>, ProtectionError> {
    Ok(db::job_engine::existing_for(tx, Some(plan_id), None)
        .await?
        .into_iter()
        .next()
        .map(|(j, _)| JobId::new(j)))
}

/// Updates a plan (info, boot plan, mapping): refused while the target is inactive, a
/// field is missing, storage kinds differ, or a job of the plan exists. Saving maps
/// the group's current volumes, which returns a plan from "not mapped" warnings.
#[tracing::instrument(skip_all, fields(plan_id = %id))]
pub async fn update_plan(
    app: &App,
    id: &str,
    input: PlanInput,
) -> Result<PlanRecord, ProtectionError> {
    let mut tx = app.db.begin().await?;
    let mut p = get_plan(&mut tx, id).await?;
    let g = groups::get_group(&mut tx, &p.group_id).await?;
    let source = cluster(&mut tx, &g.source_cluster_id, "source").await?;
    let target_id = input
        .target_cluster_id
        .clone()
        .unwrap_or(p.target_cluster_id.clone());
    let target = cluster(&mut tx, &target_id, "target").await?;
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let job = first_job(&mut tx, id).await?;
    let source_docs = inventory::load(&mut tx, &source.id).await?;
    let target_docs = inventory::load(&mut tx, &target.id).await?;
    let mut mapping = match input.mapping {
        Some(m) => m,
        None => parse_mapping(&p)?,
    };
    mapping.volumes = group_volumes(&source_docs, &instances);
    let name = input.name.unwrap_or(p.name.clone());
    let retention = input.retention.unwrap_or(p.retention);
    let (ss, ts) = (storage_of(&source), storage_of(&target));
    let sides = Sides {
        source: &source_docs,
        source_storage: &ss,
        target: &target_docs,
        target_storage: &ts,
    };
    let d = draft(
        Some(name.clone()),
        Some(target_id.clone()),
        Some(retention),
        &mapping,
        &instances,
        &sides,
    );
    let mut refusals = match plan_rules::check_update(&d, status(&target), job.as_ref()) {
        Ok(_) => Vec::new(),
        Err(r) => r,
    };
    refusals.extend(floating_ip_refusals(&mapping, &instances, &source_docs));
    if !refusals.is_empty() {
        return Err(ProtectionError::Plan(refusals));
    }
    if name != p.name && db::plans::name_taken(&mut tx, &name, Some(id)).await? {
        return Err(ProtectionError::NameTaken {
            what: "recovery plan",
            name,
        });
    }
    p.name = name;
    p.target_cluster_id = target_id;
    p.retention = retention;
    p.mapping_json = serde_json::to_string(&mapping).unwrap_or_else(|_| "{}".into());
    p.updated_at = now_ms();
    db::plans::update(&mut tx, &p).await?;
    // a user saved the plan: the sync reactions' warnings were seen (protection.md)
    db::plan_sync_warnings::clear(&mut tx, &p.id).await?;
    tx.commit().await.map_err(DbError::from)?;
    start(app, &p, &protected_volumes(&source_docs, &mapping)).await?;
    evaluate::evaluate_plan(app, &p.id).await?;
    let mut tx = app.db.begin().await?;
    let p = get_plan(&mut tx, id).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(p)
}

/// Deletes a plan: refused while any job of the plan exists; stops replication (which
/// removes the mirror and the plan's snapshots from the target) before the row goes.
#[tracing::instrument(skip_all, fields(plan_id = %id))]
pub async fn delete_plan(app: &App, id: &str) -> Result<PlanRecord, ProtectionError> {
    let mut tx = app.db.begin().await?;
    let p = get_plan(&mut tx, id).await?;
    let g = groups::get_group(&mut tx, &p.group_id).await?;
    let job = first_job(&mut tx, id).await?;
    plan_rules::check_delete(job.as_ref()).map_err(|r| ProtectionError::Plan(vec![r]))?;
    tx.commit().await.map_err(DbError::from)?;
    app.replication
        .stop_plan(&PlanId::new(&p.id))
        .await
        .map_err(|e| {
            ProtectionError::Invalid(format!(
                "replication of the plan could not be stopped, so the plan is kept: {e}"
            ))
        })?;
    let mut tx = app.db.begin().await?;
    db::plans::delete(&mut tx, id).await?;
    tx.commit().await.map_err(DbError::from)?;
    after_delete(app, &p, &g, "deleted by a user", false).await?;
    Ok(p)
}

/// After a plan row is gone: stop replication (when not done yet) and raise the event.
pub async fn after_delete(
    app: &App,
    p: &PlanRecord,
    g: &GroupRecord,
    why: &str,
    stop_replication: bool,
) -> Result<(), ProtectionError> {
    if stop_replication && let Err(e) = app.replication.stop_plan(&PlanId::new(&p.id)).await {
        tracing::warn!(plan_id = %p.id, error = %e, "replication of a deleted plan could not be stopped");
    }
    let event = Event::new(
        "plan.deleted",
        Severity::Info,
        format!(
            "recovery plan {} of protection group {} deleted: {why}",
            p.name, g.name
        ),
    )
    .object("plan", &p.id)
    .object("protection_group", &g.id)
    .group(Some(g.owner_group_id.clone()));
    crate::events::publish(app, event).await?;
    Ok(())
}

/// Removes instances that left the group from the plan's mapping (their placement
/// and their volumes); the protection.md rule "removing them updates the plan
/// automatically".
pub async fn drop_instances(
    tx: &mut Tx<'_>,
    p: &PlanRecord,
    removed: &BTreeSet<InstanceId>,
    src: &ClusterDocs,
    now: i64,
) -> Result<(), ProtectionError> {
    let mut m = parse_mapping(p)?;
    let mut gone_volumes: BTreeMap<String, ()> = BTreeMap::new();
    for i in removed {
        m.instances.remove(i.as_str());
        if let Some(s) = src.instances.get(i.as_str()) {
            for a in &s.volumes_attached {
                gone_volumes.insert(a.id.clone(), ());
            }
        }
    }
    m.volumes.retain(|v| !gone_volumes.contains_key(v));
    let mut updated = p.clone();
    updated.mapping_json = serde_json::to_string(&m).unwrap_or_else(|_| "{}".into());
    updated.updated_at = now;
    db::plans::update(tx, &updated).await?;
    Ok(())
}
