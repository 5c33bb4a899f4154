//! Plan-state evaluation at run time: gathers the facts (cluster statuses, unmapped
//! resources, the mapping against the synced target, capacity, running jobs,
//! replication, what the plan's own jobs hold on the target), applies
//! [`crate::dr::plan_state::evaluate`], stores state + reasons and raises
//! `plan.state.changed` on every change. Called after cluster syncs and status
//! changes (`clusters/plan_hooks.rs`) and after every plan or group change.

use std::collections::BTreeSet;

use super::inventory::ClusterDocs;
use super::mapping::{FloatingIpChoice, NetworkChoice, PlanMapping};
use super::replication::ReplicationFacts;
use super::{ProtectionError, plans};
use crate::db::{self, DbError};
use crate::dr::ids::{JobId, NetworkId, NodeId, PlanId};
use crate::dr::plan_state::{
    self, ClusterStatus, InstanceNeeds, NodeMapping, PlanFacts, PlanState,
};
use crate::dr::plan_sync::{self, MappingIssue, PlanView, TargetInventory};
use crate::dr::retention::Retention;
use crate::dr::rollback::Resource;
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

/// A plan's evaluated state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The state.
    pub state: PlanState,
    /// Every reason, in words an operator can act on.
    pub reasons: Vec<String>,
    /// The stored state was different before.
    pub changed: bool,
}

/// The facts of one plan, loaded.
#[derive(Debug, Clone)]
pub struct PlanInputs<'a> {
    /// Source cluster status.
    pub source_status: ClusterStatus,
    /// Target cluster status.
    pub target_status: ClusterStatus,
    /// The group's instance ids.
    pub instances: &'a [String],
    /// The plan's mapping.
    pub mapping: &'a PlanMapping,
    /// The synced source.
    pub source: &'a ClusterDocs,
    /// The synced target.
    pub target: &'a ClusterDocs,
    /// Snapshot retention.
    pub retention: Retention,
    /// Jobs of the plan in progress.
    pub jobs_running: Vec<JobId>,
    /// What replication knows.
    pub replication: ReplicationFacts,
    /// The target resources the plan's own jobs created and still hold.
    pub own_resources: Vec<Resource>,
}

/// `active` / `inactive` as stored for clusters.
pub fn cluster_status(stored: &str) -> ClusterStatus {
    if stored == crate::domain::cluster::ClusterStatus::Active.as_str() {
        ClusterStatus::Active
    } else {
        ClusterStatus::Inactive
    }
}

fn plan_view(i: &PlanInputs<'_>) -> PlanView {
    let m = i.mapping;
    let mut view = PlanView {
        project_name: m.project_name.clone(),
        ..PlanView::default()
    };
    view.zones.insert(m.availability_zone.clone());
    for c in m.instances.values() {
        if let Some(n) = &c.node {
            view.nodes.insert(NodeId::new(n));
        }
    }
    if let Some(n) = &m.external_network {
        view.external_networks.insert(NetworkId::new(n));
    }
    for c in m.networks.values() {
        if let NetworkChoice::Existing(n) = c {
            view.target_networks.insert(NetworkId::new(n));
        }
    }
    for (address, c) in &m.floating_ips {
        if *c == FloatingIpChoice::Keep {
            view.kept_addresses
                .insert(address.clone(), crate::dr::ids::InstanceId::new(""));
        }
    }
    view.volume_types = m.volume_types.values().cloned().collect();
    view
}

fn target_inventory(t: &ClusterDocs) -> TargetInventory {
    TargetInventory {
        projects: t.projects.values().map(|p| p.name.clone()).collect(),
        zones: t.zones.keys().cloned().collect(),
        nodes: t
            .hypervisors
            .values()
            .map(|h| NodeId::new(&h.hypervisor_hostname))
            .collect(),
        networks: t
            .networks
            .values()
            .map(|n| (NetworkId::new(&n.id), n.external))
            .collect(),
        used_addresses: t
            .floating_ips
            .values()
            .map(|f| f.floating_ip_address.clone())
            .collect(),
        volume_types: t.volume_types.values().map(|v| v.name.clone()).collect(),
    }
}

/// The plan's state and reasons from its facts (pure).
pub fn status_of(i: &PlanInputs<'_>) -> (PlanState, Vec<String>) {
    let m = i.mapping;
    let src = i.source;
    let mut unmapped_instances = Vec::new();
    let mut unmapped_volumes = Vec::new();
    let mut issues: Vec<MappingIssue> = Vec::new();
    let mut needs = Vec::new();
    let mut gone = Vec::new();
    let mut source_gib: u64 = 0;
    for id in i.instances {
        let Some(srv) = src.instances.get(id) else {
            gone.push(format!(
                "instance {id} is no longer on the source cluster: remove it from the protection group"
            ));
            continue;
        };
        for a in &srv.volumes_attached {
            source_gib = source_gib.saturating_add(src.volumes.get(&a.id).map_or(0, |v| v.size));
            if !m.volumes.contains(&a.id) {
                unmapped_volumes.push(src.volume_name(&a.id));
            }
        }
        let networks: BTreeSet<&str> = src.ports_of(id).map(|p| p.network_id.as_str()).collect();
        for n in networks {
            if !m.networks.contains_key(n) {
                issues.push(MappingIssue::NetworkUnmapped {
                    instance: crate::dr::ids::InstanceId::new(&srv.name),
                    network: NetworkId::new(src.networks.get(n).map_or(n, |x| x.name.as_str())),
                });
            }
        }
        for p in src.ports_of(id) {
            for f in src
                .floating_ips
                .values()
                .filter(|f| f.port_id.as_deref() == Some(p.id.as_str()))
            {
                if !m.floating_ips.contains_key(&f.floating_ip_address) {
                    issues.push(MappingIssue::FloatingIpUnmapped {
                        instance: crate::dr::ids::InstanceId::new(&srv.name),
                        address: f.floating_ip_address.clone(),
                    });
                }
            }
        }
        match m.instances.get(id) {
            None => unmapped_instances.push(srv.name.clone()),
            Some(c) => {
                needs.push(InstanceNeeds {
                    id: crate::dr::ids::InstanceId::new(id),
                    name: srv.name.clone(),
                    needs: super::capacity_facts::instance_needs(srv, &src.flavors),
                    placement: c.node.as_ref().map_or_else(
                        || NodeMapping::AnyInZone(m.availability_zone.clone()),
                        |n| NodeMapping::Node(NodeId::new(n)),
                    ),
                });
            }
        }
    }
    let mut all_issues = plan_sync::validate_mapping(&plan_view(i), &target_inventory(i.target));
    all_issues.extend(issues);
    let nodes = super::capacity_facts::target_nodes(i.target);
    let (volumes, first_snapshot_taken, free, not_connected) = match &i.replication {
        ReplicationFacts::NotConnected { reason } => (Vec::new(), true, None, Some(reason)),
        ReplicationFacts::Known {
            volumes,
            first_snapshot_taken,
            target_free_bytes,
        } => (
            volumes.clone(),
            *first_snapshot_taken,
            *target_free_bytes,
            None,
        ),
    };
    let facts = PlanFacts {
        source: i.source_status,
        target: i.target_status,
        volumes,
        first_snapshot_taken,
        unmapped_instances,
        unmapped_volumes,
        mapping_issues: all_issues,
        instances: needs,
        nodes,
        retention: i.retention,
        source_bytes: source_gib.saturating_mul(1 << 30),
        // Unknown free space is not checked (only a connected replication service
        // knows the target storage).
        target_storage_bytes: free.unwrap_or(u64::MAX),
        jobs_in_progress: i.jobs_running.clone(),
        own_jobs: super::own_jobs::hold(&i.own_resources, i.target),
    };
    let status = plan_state::evaluate(&facts);
    let mut state = status.state;
    let mut reasons: Vec<String> = status.reasons.iter().map(ToString::to_string).collect();
    if !gone.is_empty() && state == PlanState::Normal {
        state = PlanState::Warning;
    }
    reasons.extend(gone);
    if let Some(r) = not_connected {
        // Like an initial copy that has not started: Prepare, unless Critical.
        if state != PlanState::Critical {
            state = PlanState::Prepare;
        }
        reasons.insert(0, r.clone());
    }
    (state, reasons)
}

/// Adds the reasons plan sync reactions raised (kept until a user saves the plan;
/// `protection::sync_reactions`): each is a warning, shown once.
pub fn with_sync_warnings(
    (state, mut reasons): (PlanState, Vec<String>),
    sync_warnings: Vec<String>,
) -> (PlanState, Vec<String>) {
    let mut state = state;
    for w in sync_warnings {
        if !reasons.contains(&w) {
            reasons.push(w);
        }
        if state == PlanState::Normal {
            state = PlanState::Warning;
        }
    }
    (state, reasons)
}

fn severity(state: PlanState) -> Severity {
    match state {
        PlanState::Normal | PlanState::Prepare => Severity::Info,
        PlanState::Warning => Severity::Warning,
        PlanState::Critical | PlanState::Emergency => Severity::Critical,
    }
}

/// Job states in which a job is working on the target (jobs.md): the plan is `Warning`.
const RUNNING_PHASES: [&str; 6] = [
    "pending",
    "running",
    "paused",
    "canceling",
    "clearing",
    "reporting",
];

/// Evaluates one plan, stores the result and raises an event when the state changed.
/// `None` when the plan no longer exists.
#[tracing::instrument(skip_all, fields(plan_id = %plan_id))]
pub async fn evaluate_plan(
    app: &App,
    plan_id: &str,
) -> Result<Option<Evaluation>, ProtectionError> {
    let mut tx = app.db.begin().await?;
    let Some(p) = db::plans::get(&mut tx, plan_id).await? else {
        return Ok(None);
    };
    let Some(g) = db::protection_groups::get(&mut tx, &p.group_id).await? else {
        return Ok(None);
    };
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let source = db::clusters::get(&mut tx, &g.source_cluster_id).await?;
    let target = db::clusters::get(&mut tx, &p.target_cluster_id).await?;
    let source_docs = super::inventory::load(&mut tx, &g.source_cluster_id).await?;
    let target_docs = super::inventory::load(&mut tx, &p.target_cluster_id).await?;
    let jobs = db::job_engine::existing_for(&mut tx, Some(&p.id), None).await?;
    let sync_warnings = db::plan_sync_warnings::list(&mut tx, &p.id).await?;
    let job_ids: Vec<String> = jobs.iter().map(|(id, _)| id.clone()).collect();
    let own_resources = super::own_jobs::held_resources(&mut tx, &job_ids).await?;
    tx.commit().await.map_err(DbError::from)?;
    let mapping = plans::parse_mapping(&p)?;
    let retention = Retention::parse(p.retention).map_err(|e| DbError::Corrupt {
        table: "recovery_plans",
        reason: e.to_string(),
    })?;
    let replication = app.replication.facts(&PlanId::new(&p.id)).await;
    let inputs = PlanInputs {
        source_status: source.map_or(ClusterStatus::Inactive, |c| cluster_status(&c.status)),
        target_status: target.map_or(ClusterStatus::Inactive, |c| cluster_status(&c.status)),
        instances: &instances,
        mapping: &mapping,
        source: &source_docs,
        target: &target_docs,
        retention,
        jobs_running: jobs
            .into_iter()
            .filter(|(_, phase)| RUNNING_PHASES.contains(&phase.as_str()))
            .map(|(id, _)| JobId::new(id))
            .collect(),
        replication,
        own_resources,
    };
    let (state, reasons) = with_sync_warnings(status_of(&inputs), sync_warnings);
    let reasons_json = serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".to_owned());
    let differs = p.state != state.to_string();
    let mut changed = false;
    if differs || p.reasons_json != reasons_json {
        // the new state and its event commit together
        let mut tx = app.db.begin().await?;
        let stored = db::plans::set_state(
            &mut tx,
            &p.id,
            &p.state,
            &state.to_string(),
            &reasons_json,
            now_ms(),
        )
        .await?;
        changed = stored && differs;
        let event = changed.then(|| {
            Event::new(
                "plan.state.changed",
                severity(state),
                format!(
                    "recovery plan {} is now {state} (was {}){}",
                    p.name,
                    p.state,
                    reasons
                        .first()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            )
            .object("plan", &p.id)
            .object("protection_group", &g.id)
            .group(Some(g.owner_group_id.clone()))
        });
        if let Some(event) = &event {
            crate::events::record(&mut tx, event).await?;
        }
        tx.commit().await.map_err(DbError::from)?;
        if let Some(event) = event {
            crate::events::deliver(app, event).await?;
        }
    }
    Ok(Some(Evaluation {
        state,
        reasons,
        changed,
    }))
}

/// Re-evaluates every plan whose source or target is the cluster; failures are
/// logged (one plan's trouble does not stop the others).
pub async fn evaluate_plans_using_cluster(app: &App, cluster_id: &str) {
    let ids = match app.db.conn().await {
        Ok(mut conn) => db::plans::ids_using_cluster(&mut conn, cluster_id).await,
        Err(e) => Err(e),
    };
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(cluster_id, error = %e, "cannot list the plans of the cluster");
            return;
        }
    };
    for id in ids {
        if let Err(e) = evaluate_plan(app, &id).await {
            tracing::warn!(cluster_id, plan_id = %id, error = %e, "plan evaluation failed");
        }
    }
}

/// The stored state text as a [`PlanState`].
pub fn parse_state(s: &str) -> Option<PlanState> {
    PlanState::ALL.into_iter().find(|p| p.to_string() == s)
}
