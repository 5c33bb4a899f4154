//! Protection-group create, update and delete (protection.md, "Protection groups"):
//! the facts from the database, the rules of [`crate::dr::group_rules`], the writes,
//! and the plan's follow-up (re-evaluation; automatic removal; deletion of the plan
//! when the group loses every instance).

use std::collections::BTreeSet;

use super::inventory::{self, ClusterDocs};
use super::{ProtectionError, admin_membership, evaluate, plans};
use crate::db::protection_groups::GroupRecord;
use crate::db::{self, DbError, Tx};
use crate::domain::schedule::Recurrence;
use crate::dr::group_rules::{self, GroupChange, LicenceFacts};
use crate::dr::ids::{GroupId, InstanceId, JobId};
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

/// The fields of a new group.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Source cluster.
    pub source_cluster_id: String,
    /// Owner (user) group.
    pub owner_group_id: String,
    /// Instance ids.
    pub instances: Vec<String>,
    /// RPO (minutes).
    pub rpo_minutes: i64,
    /// RTO (minutes).
    pub rto_minutes: i64,
    /// Snapshot interval.
    pub snapshot_interval: Recurrence,
}

/// A change of a group; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The full new instance list.
    pub instances: Option<Vec<String>>,
    /// RPO (minutes).
    pub rpo_minutes: Option<i64>,
    /// RTO (minutes).
    pub rto_minutes: Option<i64>,
    /// Snapshot interval.
    pub snapshot_interval: Option<Recurrence>,
}

fn check_fields(
    description: &str,
    rpo: i64,
    rto: i64,
    interval: &Recurrence,
) -> Result<(), ProtectionError> {
    let invalid = |m: String| Err(ProtectionError::Invalid(m));
    if description.chars().count() > 1024 {
        return invalid("description must be at most 1024 characters".into());
    }
    for (what, v) in [("rpo_minutes", rpo), ("rto_minutes", rto)] {
        if !(1..=525_600).contains(&v) {
            return invalid(format!("{what} must be 1 to 525600 (one year), got {v}"));
        }
    }
    match interval {
        Recurrence::EveryMinutes { .. }
        | Recurrence::EveryHours { .. }
        | Recurrence::EveryWeeks { .. }
        | Recurrence::EveryMonths { .. } => interval
            .validate()
            .map_err(|e| ProtectionError::Invalid(format!("snapshot_interval: {e}"))),
        _ => invalid(
            "snapshot_interval must be every N minutes, hours, weeks or months \
             (kind every_minutes, every_hours, every_weeks or every_months)"
                .into(),
        ),
    }
}

/// The licence terms are read before the caller's transaction starts (SQLite has one
/// connection).
async fn licence_facts(
    terms: Option<crate::licence::LicenceTerms>,
    tx: &mut Tx<'_>,
) -> Result<LicenceFacts, ProtectionError> {
    let protected = db::protection_groups::protected_count(tx).await?;
    Ok(match terms {
        None => LicenceFacts::Missing,
        Some(t) if t.expired_on(crate::licence::today()) => LicenceFacts::Expired,
        Some(t) => LicenceFacts::Valid {
            instance_limit: u64::from(t.instance_limit),
            protected: u64::try_from(protected).unwrap_or(0),
        },
    })
}

fn instance_set(ids: &[String]) -> BTreeSet<InstanceId> {
    ids.iter().map(InstanceId::new).collect()
}

fn in_other_group(e: DbError) -> ProtectionError {
    if e.is_unique_violation() {
        ProtectionError::Invalid(
            "an instance of the selection was just protected by another group: reload the unprotected instances and try again".into(),
        )
    } else {
        e.into()
    }
}

/// The synced source, its membership (instance → group) and the name of the account
/// Holdfast signs in with.
type SourceFacts = (
    ClusterDocs,
    std::collections::BTreeMap<String, String>,
    String,
);

async fn source_facts(tx: &mut Tx<'_>, cluster_id: &str) -> Result<SourceFacts, ProtectionError> {
    let Some(cluster) = db::clusters::get(tx, cluster_id).await? else {
        return Err(ProtectionError::Invalid(format!(
            "source cluster {cluster_id:?} does not exist"
        )));
    };
    let docs = inventory::load(tx, cluster_id).await?;
    let membership = db::protection_groups::membership(tx, cluster_id).await?;
    Ok((docs, membership, cluster.username))
}

/// Creates a group after every creation rule passed.
#[tracing::instrument(skip_all, fields(cluster_id = %g.source_cluster_id))]
pub async fn create_group(app: &App, g: NewGroup) -> Result<GroupRecord, ProtectionError> {
    check_fields(
        &g.description,
        g.rpo_minutes,
        g.rto_minutes,
        &g.snapshot_interval,
    )?;
    let terms = crate::licence::current(app).await?;
    // asked of the cloud before the transaction: no network call holds the database
    let projects = admin_membership::projects_of(app, &g.source_cluster_id, &g.instances).await?;
    let admin = if projects.is_empty() {
        None
    } else {
        Some(admin_membership::check(app, &g.source_cluster_id, &projects).await?)
    };
    let mut tx = app.db.begin().await?;
    let (docs, membership, user) = source_facts(&mut tx, &g.source_cluster_id).await?;
    let licence = licence_facts(terms, &mut tx).await?;
    let selected = instance_set(&g.instances);
    let mut inventory = docs.source_inventory(&membership);
    inventory.admin_user = user;
    if let Some(a) = admin {
        inventory.projects_with_admin = a.projects;
        inventory.admin_user = a.user;
    }
    let valid = group_rules::check_create(&g.name, &selected, &inventory, licence)
        .map_err(ProtectionError::Group)?;
    if db::protection_groups::name_taken(&mut tx, valid.name.as_str(), None).await? {
        return Err(ProtectionError::NameTaken {
            what: "protection group",
            name: valid.name.as_str().to_owned(),
        });
    }
    let now = now_ms();
    let record = GroupRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: valid.name.as_str().to_owned(),
        description: g.description,
        source_cluster_id: g.source_cluster_id,
        owner_group_id: g.owner_group_id,
        project_id: valid.project.to_string(),
        rpo_minutes: g.rpo_minutes,
        rto_minutes: g.rto_minutes,
        snapshot_interval_json: serde_json::to_string(&g.snapshot_interval)
            .unwrap_or_else(|_| "{}".into()),
        created_at: now,
        updated_at: now,
    };
    db::protection_groups::insert(&mut tx, &record).await?;
    let ids: Vec<String> = valid.instances.iter().map(ToString::to_string).collect();
    db::protection_groups::set_instances(&mut tx, &record.id, &record.source_cluster_id, &ids, now)
        .await
        .map_err(in_other_group)?;
    tx.commit().await.map_err(DbError::from)?;
    let event = Event::new(
        "protection_group.created",
        Severity::Info,
        format!(
            "protection group {} created with {} instances",
            record.name,
            ids.len()
        ),
    )
    .object("protection_group", &record.id)
    .group(Some(record.owner_group_id.clone()));
    crate::events::publish(app, event).await?;
    Ok(record)
}

/// Loads a group or fails with not found.
pub async fn get_group(tx: &mut Tx<'_>, id: &str) -> Result<GroupRecord, ProtectionError> {
    db::protection_groups::get(tx, id)
        .await?
        .ok_or_else(|| ProtectionError::NotFound {
            what: "protection group",
            id: id.to_owned(),
        })
}

/// Updates a group: refused while a job of the group exists, or when the new
/// selection breaks a membership rule. Added instances leave the plan in `Warning`
/// until a user maps them; removed ones leave the plan's mapping at once; when every
/// instance is removed the plan is deleted.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub async fn update_group(
    app: &App,
    id: &str,
    patch: GroupPatch,
) -> Result<GroupRecord, ProtectionError> {
    let terms = crate::licence::current(app).await?;
    let mut tx = app.db.begin().await?;
    let mut g = get_group(&mut tx, id).await?;
    let description = patch.description.unwrap_or(g.description.clone());
    let rpo = patch.rpo_minutes.unwrap_or(g.rpo_minutes);
    let rto = patch.rto_minutes.unwrap_or(g.rto_minutes);
    let interval = match patch.snapshot_interval {
        Some(i) => i,
        None => serde_json::from_str(&g.snapshot_interval_json).map_err(|e| DbError::Corrupt {
            table: "protection_groups",
            reason: e.to_string(),
        })?,
    };
    check_fields(&description, rpo, rto, &interval)?;
    let name = patch.name.unwrap_or(g.name.clone());
    let current_ids = db::protection_groups::instances(&mut tx, id).await?;
    let wanted_ids = patch.instances.unwrap_or(current_ids.clone());
    let (docs, membership, user) = source_facts(&mut tx, &g.source_cluster_id).await?;
    let licence = licence_facts(terms, &mut tx).await?;
    let job = db::job_engine::existing_for(&mut tx, None, Some(id))
        .await?
        .into_iter()
        .next()
        .map(|(j, _)| JobId::new(j));
    let plan = db::plans::of_group(&mut tx, id).await?;
    let group_id = GroupId::new(id);
    let (current, wanted) = (instance_set(&current_ids), instance_set(&wanted_ids));
    let mut inventory = docs.source_inventory(&membership);
    inventory.admin_user = user;
    // the membership was checked on the cloud when the group was created; an update
    // keeps the group's project
    inventory
        .projects_with_admin
        .insert(crate::dr::ids::ProjectId::new(&g.project_id));
    let outcome = group_rules::check_update(
        &GroupChange {
            group: &group_id,
            current: &current,
            name: &name,
            wanted: &wanted,
            job: job.as_ref(),
            has_plan: plan.is_some(),
        },
        &inventory,
        licence,
    )
    .map_err(ProtectionError::Group)?;
    if wanted.is_empty() && plan.is_none() {
        return Err(ProtectionError::Group(vec![
            group_rules::GroupRefusal::NoInstances,
        ]));
    }
    if let Some(p) = wanted
        .iter()
        .filter_map(|i| docs.instances.get(i.as_str()))
        .map(|s| s.tenant_id.clone())
        .find(|p| *p != g.project_id)
    {
        return Err(ProtectionError::Group(vec![
            group_rules::GroupRefusal::MixedProjects(vec![
                crate::dr::ids::ProjectId::new(&g.project_id),
                crate::dr::ids::ProjectId::new(p),
            ]),
        ]));
    }
    if name != g.name && db::protection_groups::name_taken(&mut tx, &name, Some(id)).await? {
        return Err(ProtectionError::NameTaken {
            what: "protection group",
            name,
        });
    }
    let now = now_ms();
    g.name = name;
    g.description = description;
    g.rpo_minutes = rpo;
    g.rto_minutes = rto;
    g.snapshot_interval_json = serde_json::to_string(&interval).unwrap_or_else(|_| "{}".into());
    g.updated_at = now;
    db::protection_groups::update(&mut tx, &g).await?;
    let ids: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    if wanted != current {
        db::protection_groups::set_instances(&mut tx, id, &g.source_cluster_id, &ids, now)
            .await
            .map_err(in_other_group)?;
    }
    let mut plan_deleted = None;
    if let Some(p) = &plan {
        if outcome.delete_plan {
            db::plans::delete(&mut tx, &p.id).await?;
            plan_deleted = Some(p.clone());
        } else if !outcome.removed.is_empty() {
            plans::drop_instances(&mut tx, p, &outcome.removed, &docs, now).await?;
        }
    }
    tx.commit().await.map_err(DbError::from)?;
    if let Some(p) = plan_deleted {
        plans::after_delete(
            app,
            &p,
            &g,
            "its protection group lost every instance",
            true,
        )
        .await?;
    } else if let Some(p) = &plan {
        if !outcome.removed.is_empty() {
            plans::restart_replication(app, &p.id).await?;
        }
        evaluate::evaluate_plan(app, &p.id).await?;
    }
    Ok(g)
}

/// Deletes a group: refused while it has a recovery plan.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub async fn delete_group(app: &App, id: &str) -> Result<GroupRecord, ProtectionError> {
    let mut tx = app.db.begin().await?;
    let g = get_group(&mut tx, id).await?;
    let plan = db::plans::of_group(&mut tx, id).await?;
    group_rules::check_delete(plan.map(|p| crate::dr::ids::PlanId::new(p.id)).as_ref())
        .map_err(|r| ProtectionError::Group(vec![r]))?;
    db::protection_groups::delete(&mut tx, id).await?;
    tx.commit().await.map_err(DbError::from)?;
    let event = Event::new(
        "protection_group.deleted",
        Severity::Info,
        format!("protection group {} deleted", g.name),
    )
    .object("protection_group", &g.id)
    .group(Some(g.owner_group_id.clone()));
    crate::events::publish(app, event).await?;
    Ok(g)
}
