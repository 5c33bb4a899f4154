//! The full sync: read every resource kind from the cloud, then reconcile the stored
//! copy kind by kind (insert new rows, update changed ones, soft-delete the gone) in
//! small transactions, so that the API keeps its share of the database meanwhile.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use holdfast_openstack::{Filters, Session};

use super::rows;
use crate::db::resources::{self, ResourceRow};
use crate::db::{self, Db, DbError};
use crate::domain::cluster::ResourceKind;
use crate::events::{Event, Severity};
use crate::protection::sync_changes::ResourceDelta;
use crate::state::{App, now_ms};

/// Rows written per transaction.
const BATCH: usize = 100;

/// A sync that started this long ago (ms) and never finished is presumed dead.
pub const STALE_SYNC_MS: i64 = 3_600_000;

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The cloud refused or failed a list call (after the client's retries).
    #[error("reading {kind} from the cloud failed: {source}")]
    Cloud {
        /// What was being read.
        kind: &'static str,
        /// The client error.
        source: holdfast_openstack::Error,
    },
    /// No session could be made.
    #[error("cannot connect to the cluster: {0}")]
    Connect(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The conversion task died.
    #[error("the sync's conversion task failed: {0}")]
    Internal(String),
}

/// What a sync changed in one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// New rows.
    pub inserted: u64,
    /// Changed rows (including rows that came back after a delete).
    pub updated: u64,
    /// Rows marked deleted.
    pub deleted: u64,
    /// Rows seen unchanged.
    pub unchanged: u64,
}

impl KindCounts {
    /// Rows the sync had to change.
    pub fn changed(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

/// What a full sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Per kind.
    pub kinds: Vec<(ResourceKind, KindCounts)>,
    /// Seconds spent reading the cloud.
    pub fetch_secs: f64,
    /// Seconds spent writing the database.
    pub write_secs: f64,
    /// The rows written, with their documents before (only when a plan uses the
    /// cluster: the plan sync reactions read them).
    pub deltas: Vec<ResourceDelta>,
}

impl SyncReport {
    /// Rows changed over all kinds.
    pub fn changed(&self) -> u64 {
        self.kinds.iter().map(|(_, c)| c.changed()).sum()
    }
}

fn cloud(kind: ResourceKind) -> impl Fn(holdfast_openstack::Error) -> SyncError {
    move |source| SyncError::Cloud {
        kind: kind.as_str(),
        source,
    }
}

/// Reads every kind from the cloud.
#[tracing::instrument(skip_all)]
pub async fn fetch_all(s: &Session) -> Result<Vec<(ResourceKind, Vec<ResourceRow>)>, SyncError> {
    use ResourceKind as K;
    let all = Filters::all_tenants();
    let none = Filters::none();
    let (nova, cinder, neutron, keystone) = (s.nova(), s.cinder(), s.neutron(), s.keystone());
    let (hyp, zones, projects, networks, subnets, routers, ports, fips, sgs) = tokio::try_join!(
        async { nova.hypervisors().await.map_err(cloud(K::Hypervisor)) },
        async {
            nova.availability_zones()
                .await
                .map_err(cloud(K::AvailabilityZone))
        },
        async { keystone.projects(&none).await.map_err(cloud(K::Project)) },
        async { neutron.networks(&none).await.map_err(cloud(K::Network)) },
        async { neutron.subnets(&none).await.map_err(cloud(K::Subnet)) },
        async { neutron.routers(&none).await.map_err(cloud(K::Router)) },
        async { neutron.ports(&none).await.map_err(cloud(K::Port)) },
        async {
            neutron
                .floating_ips(&none)
                .await
                .map_err(cloud(K::FloatingIp))
        },
        async {
            neutron
                .security_groups(&none)
                .await
                .map_err(cloud(K::SecurityGroup))
        },
    )?;
    let (flavors, keypairs, types, groups, volumes, snapshots, servers) = tokio::try_join!(
        async { nova.flavors(&none).await.map_err(cloud(K::Flavor)) },
        async { nova.keypairs(&none).await.map_err(cloud(K::Keypair)) },
        async {
            cinder
                .volume_types(&none)
                .await
                .map_err(cloud(K::VolumeType))
        },
        async { cinder.groups(&all).await.map_err(cloud(K::VolumeGroup)) },
        async { cinder.volumes(&all).await.map_err(cloud(K::Volume)) },
        async {
            cinder
                .snapshots(&all)
                .await
                .map_err(cloud(K::VolumeSnapshot))
        },
        async { nova.servers(&all).await.map_err(cloud(K::Instance)) },
    )?;
    // Turning 30,000 documents into rows is CPU work: keep it off the async workers
    // so that API requests are not queued behind it.
    tokio::task::spawn_blocking(move || {
        let mut sg_rows = Vec::new();
        let mut rule_rows = Vec::new();
        for g in &sgs {
            let (group, rules) = rows::security_group(g);
            sg_rows.push(group);
            rule_rows.extend(rules);
        }
        vec![
            (K::Hypervisor, hyp.iter().map(rows::hypervisor).collect()),
            (K::AvailabilityZone, zones.iter().map(rows::zone).collect()),
            (K::Project, projects.iter().map(rows::project).collect()),
            (K::Network, networks.iter().map(rows::network).collect()),
            (K::Subnet, subnets.iter().map(rows::subnet).collect()),
            (
                K::Router,
                routers
                    .iter()
                    .map(|r| rows::router(r, &rows::interfaces_of(&r.id, &ports)))
                    .collect(),
            ),
            (K::Port, ports.iter().map(rows::port).collect()),
            (K::FloatingIp, fips.iter().map(rows::floating_ip).collect()),
            (K::SecurityGroup, sg_rows),
            (K::SecurityGroupRule, rule_rows),
            (K::Flavor, flavors.iter().map(rows::flavor).collect()),
            (K::Keypair, keypairs.iter().map(rows::keypair).collect()),
            (K::VolumeType, types.iter().map(rows::volume_type).collect()),
            (
                K::VolumeGroup,
                groups.iter().map(rows::volume_group).collect(),
            ),
            (K::Volume, volumes.iter().map(rows::volume).collect()),
            (
                K::VolumeSnapshot,
                snapshots.iter().map(rows::snapshot).collect(),
            ),
            (K::Instance, servers.iter().map(rows::instance).collect()),
        ]
    })
    .await
    .map_err(|e| SyncError::Internal(e.to_string()))
}

/// Makes the stored rows of one kind equal `fetched`. With `deltas`, every row written
/// is also recorded with its stored document before (for the plan sync reactions).
pub async fn reconcile(
    db: &Db,
    cluster_id: &str,
    kind: ResourceKind,
    fetched: Vec<ResourceRow>,
    mut deltas: Option<&mut Vec<ResourceDelta>>,
) -> Result<KindCounts, DbError> {
    let stored = {
        let mut conn = db.conn().await?;
        resources::digests(&mut conn, cluster_id, kind.as_str()).await?
    };
    let mut counts = KindCounts::default();
    let mut seen = HashSet::new();
    let mut write = Vec::new();
    let mut by_id: HashMap<String, ResourceRow> = HashMap::new();
    for r in fetched {
        by_id.insert(r.id.clone(), r);
    }
    for (id, r) in by_id {
        match stored.get(&id) {
            None => {
                counts.inserted += 1;
                write.push(r);
            }
            Some((digest, deleted)) if *deleted || *digest != r.digest => {
                counts.updated += 1;
                write.push(r);
            }
            Some(_) => counts.unchanged += 1,
        }
        seen.insert(id);
    }
    let gone: Vec<&String> = stored
        .iter()
        .filter(|(id, (_, deleted))| !deleted && !seen.contains(*id))
        .map(|(id, _)| id)
        .collect();
    for chunk in write.chunks(BATCH) {
        let mut tx = db.begin().await?;
        if let Some(d) = deltas.as_deref_mut() {
            for r in chunk {
                let before = stored_doc(&mut tx, cluster_id, kind, &r.id).await?;
                d.push(ResourceDelta {
                    kind,
                    id: r.id.clone(),
                    before,
                    after: Some(r.doc_json.clone()),
                });
            }
        }
        resources::upsert(&mut tx, cluster_id, chunk, now_ms()).await?;
        tx.commit().await?;
        tokio::task::yield_now().await;
    }
    for chunk in gone.chunks(BATCH) {
        let mut tx = db.begin().await?;
        let now = now_ms();
        for id in chunk {
            let before = match deltas {
                Some(_) => stored_doc(&mut tx, cluster_id, kind, id).await?,
                None => None,
            };
            if resources::mark_deleted(&mut tx, cluster_id, kind.as_str(), id, now).await? {
                counts.deleted += 1;
                if let Some(d) = deltas.as_deref_mut() {
                    d.push(ResourceDelta {
                        kind,
                        id: (*id).clone(),
                        before,
                        after: None,
                    });
                }
            }
        }
        tx.commit().await?;
        tokio::task::yield_now().await;
    }
    Ok(counts)
}

/// The stored document of a live resource.
async fn stored_doc(
    conn: &mut sqlx::AnyConnection,
    cluster_id: &str,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<String>, DbError> {
    Ok(resources::get(conn, cluster_id, kind.as_str(), id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.row.doc_json))
}

/// Fetches and reconciles everything. The caller has claimed the sync.
pub async fn sync_all(
    app: &App,
    cluster_id: &str,
    session: &Session,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let fetched = fetch_all(session).await?;
    let fetch_secs = started.elapsed().as_secs_f64();
    let mut report = SyncReport {
        fetch_secs,
        ..SyncReport::default()
    };
    // the changes are kept for the plan sync reactions only when a plan uses the cluster
    let plans = {
        let mut conn = app.db.conn().await?;
        db::plans::ids_using_cluster(&mut conn, cluster_id).await?
    };
    let mut deltas = (!plans.is_empty()).then(Vec::new);
    for (kind, rows) in fetched {
        let c = reconcile(&app.db, cluster_id, kind, rows, deltas.as_mut()).await?;
        report.kinds.push((kind, c));
    }
    report.deltas = deltas.unwrap_or_default();
    if report.changed() > 0 {
        // The copy is complete either way: a failure here only slows lists down until
        // the database's own maintenance (autovacuum) catches up.
        let mut conn = app.db.conn().await?;
        if let Err(e) = resources::refresh_after_sync(&mut conn, app.db.backend()).await {
            tracing::warn!(error = %e, "cannot refresh the resource table after the sync; lists may be slow until the database's autovacuum runs");
        }
    }
    report.write_secs = started.elapsed().as_secs_f64() - fetch_secs;
    Ok(report)
}

/// Runs a claimed sync to its end: records the outcome, counts drift (any sync after
/// the first: what it had to change, notifications should have changed), raises events.
#[tracing::instrument(skip_all, fields(cluster_id = %cluster_id))]
pub async fn run_claimed(
    app: &App,
    cluster_id: &str,
    first: bool,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let result = match app.clusters.session(app, cluster_id).await {
        Ok(session) => sync_all(app, cluster_id, &session).await,
        Err(e) => Err(SyncError::Connect(e)),
    };
    let label = super::metrics::ClusterLabel {
        cluster: cluster_id.to_owned(),
    };
    app.clusters
        .metrics
        .sync_seconds
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    let error = result.as_ref().err().map(ToString::to_string);
    {
        let mut tx = app.db.begin().await?;
        db::clusters::finish_sync(&mut tx, cluster_id, now_ms(), error.as_deref()).await?;
        tx.commit().await.map_err(DbError::from)?;
    }
    let outcome = if error.is_some() { "failed" } else { "done" };
    app.clusters
        .metrics
        .syncs
        .get_or_create(&super::metrics::OutcomeLabel {
            cluster: cluster_id.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
    let group = super::owner_group(app, cluster_id).await;
    match &result {
        Ok(report) => {
            let drift = report.changed();
            tracing::info!(
                changed = drift,
                fetch_secs = report.fetch_secs,
                write_secs = report.write_secs,
                "cluster sync done"
            );
            if !first && drift > 0 {
                app.clusters
                    .metrics
                    .drift
                    .get_or_create(&label)
                    .inc_by(drift);
                let detail: Vec<String> = report
                    .kinds
                    .iter()
                    .filter(|(_, c)| c.changed() > 0)
                    .map(|(k, c)| {
                        format!(
                            "{} +{} ~{} -{}",
                            k.as_str(),
                            c.inserted,
                            c.updated,
                            c.deleted
                        )
                    })
                    .collect();
                let e = Event::new(
                    "cluster.sync.drift",
                    Severity::Warning,
                    format!(
                        "the sync repaired {drift} resource(s) that notifications had not brought in: {}",
                        detail.join(", ")
                    ),
                )
                .object("cluster", cluster_id)
                .group(group);
                crate::events::publish(app, e).await?;
            }
            super::plan_hooks::reevaluate_plans_after_sync(app, cluster_id, &report.deltas).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cluster sync failed");
            let ev = Event::new(
                "cluster.sync.failed",
                Severity::Error,
                format!("the resource sync failed: {e}"),
            )
            .object("cluster", cluster_id)
            .group(group);
            crate::events::publish(app, ev).await?;
        }
    }
    result
}
