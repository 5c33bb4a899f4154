//! The orchestrator's replication control, keyed by an owner (a recovery plan):
//!
//! - [`Replication::start`] places each volume ([`placement`]: source and target agents
//!   and locations from the clusters' storage metadata and the registered agents),
//!   records the assignment (`replication_volumes`, state `starting`), generates the
//!   per-session secret and sends `ReplicationStart` to the target agent, then the
//!   source agent, then marks it `started`. Idempotent: a started volume is left alone.
//! - [`Replication::stop`] sends `ReplicationStop` (removing the target copy and its
//!   snapshots) to both agents and drops the rows, the owner's group snapshots included.
//! - [`Replication::facts`] reads the source agents' stored `ReplicationStatus`
//!   reports into [`ReplicationFacts`] ([`facts`]).
//! - [`Replication::snapshot`] cuts a crash-consistent protection-group snapshot
//!   ([`snapshots`]); [`AgentMaterialiser`] exports a volume at a recovery point for the
//!   recovery executor ([`materialiser`]).

pub mod claim;
pub mod facts;
mod materialiser;
pub mod placement;
mod snapshots;

use std::time::Duration;

use holdfast_protocol::messages::{
    Compression, ReplicationEndpoint, ReplicationStart, ReplicationStop, SessionSecret,
    StorageKind, VolumeLocation,
};
use holdfast_protocol::{NodeId, VolumeId as WireVolumeId};

pub use facts::{ReplicationFacts, VolumeFacts, VolumePhase};
pub use materialiser::AgentMaterialiser;
pub use placement::{Placement, PlacementError};
pub use snapshots::{GroupSnapshot, SnapshotVolume};

use crate::agents::{AgentError, AgentLink};
use crate::db::{self, Db, DbError};
use crate::domain::cluster::BackendStorage;
use crate::dr::ids::{ClusterId, PlanId, SnapshotId, VolumeId};
use crate::state::{App, now_ms};

/// Recorded, agents being told.
const STARTING: &str = "starting";
/// Both agents acknowledged the start.
const STARTED: &str = "started";

/// One volume to replicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeToReplicate {
    /// The source volume (Cinder id on the source cluster).
    pub volume: VolumeId,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its Cinder host, `host@backend#pool`.
    pub source_host: String,
    /// The source cluster.
    pub source_cluster: ClusterId,
    /// The target cluster.
    pub target_cluster: ClusterId,
    /// The target Cinder pool (`host@backend#pool`) the volume is recovered into; `None`:
    /// the target cluster's only backend of the source's storage type.
    pub target_host: Option<String>,
    /// The protection group's RPO (ms): delta cycles run every RPO/4 (100 ms..5 min).
    pub rpo_ms: u64,
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct ReplicationOptions {
    /// Change-tracking and transfer granularity (power of two, 512 B..16 MiB).
    pub block_size: u32,
    /// Data-plane compression.
    pub compression: Compression,
    /// Bytes per second per volume; `None` for the agents' default.
    pub bandwidth_limit_bps: Option<u64>,
    /// Wait for quick commands (start, stop, prepare, snapshot delete).
    pub request_timeout: Duration,
    /// How long agents hold a prepared cut before aborting it themselves.
    pub cut_hold_timeout: Duration,
    /// Wait for a cut commit (it ships the data up to the cut).
    pub cut_commit_timeout: Duration,
    /// Wait for a volume export (copies a whole volume).
    pub export_timeout: Duration,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        Self {
            block_size: 1 << 20,
            compression: Compression::Zstd,
            bandwidth_limit_bps: None,
            request_timeout: Duration::from_secs(30),
            cut_hold_timeout: Duration::from_secs(60),
            cut_commit_timeout: Duration::from_secs(30 * 60),
            export_timeout: Duration::from_secs(6 * 3600),
        }
    }
}

/// Why a replication operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No bus is configured.
    #[error("no bus_url is configured: replication needs the agents' RabbitMQ")]
    NoBus,
    /// A cluster id names no cluster.
    #[error("cluster {0} does not exist")]
    UnknownCluster(ClusterId),
    /// A cluster's storage metadata cannot be read.
    #[error("the storage metadata of cluster {cluster} is unreadable: {reason}")]
    BadStorage {
        /// The cluster.
        cluster: ClusterId,
        /// The parse error.
        reason: String,
    },
    /// The volume cannot be placed.
    #[error("volume {volume}: {source}")]
    Placement {
        /// The volume.
        volume: VolumeId,
        /// Why.
        #[source]
        source: PlacementError,
    },
    /// The volume already replicates for another owner.
    #[error("volume {volume} already replicates for {owner}; stop that replication first")]
    AlreadyReplicated {
        /// The volume.
        volume: VolumeId,
        /// Its owner.
        owner: String,
    },
    /// An agent did not do what was asked.
    #[error("volume {volume}: {source}")]
    Agent {
        /// The volume.
        volume: String,
        /// The agent error.
        #[source]
        source: Box<AgentError>,
    },
    /// The owner replicates nothing.
    #[error("{0} replicates no volumes; start replication first")]
    NoVolumes(PlanId),
    /// A volume's start did not complete.
    #[error("volume {0} is not started on its agents yet; start replication again")]
    NotStarted(VolumeId),
    /// The group cut failed and was rolled back.
    #[error("the group snapshot of {owner} failed and left no snapshot: {reason}")]
    Cut {
        /// The owner.
        owner: PlanId,
        /// Why.
        reason: String,
    },
    /// No such group snapshot of the owner.
    #[error("snapshot {0} does not exist")]
    UnknownSnapshot(SnapshotId),
    /// A stored row is not what the schema promises.
    #[error("corrupt replication record: {0}")]
    Corrupt(String),
}

/// Replication control over the agents' bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Replication {
    db: Db,
    link: AgentLink,
    options: ReplicationOptions,
    /// Agent statuses older than this are not trusted (ms).
    stale_after_ms: i64,
    /// Starts and stops one at a time in this process: a plan's creation and the
    /// leader's runner may start the same volume at once, and two concurrent starts
    /// would give its two agents different session secrets.
    changes: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn node(s: &str) -> Result<NodeId, ReplicationError> {
    NodeId::parse(s).map_err(|e| ReplicationError::Corrupt(e.to_string()))
}

fn agent_views(agents: &[db::agents::AgentRecord]) -> Vec<placement::AgentView> {
    agents
        .iter()
        .map(|a| placement::AgentView {
            node_id: a.node_id.clone(),
            hostname: a.hostname.clone(),
            online: a.state == db::agents::ONLINE,
            data_plane_addr: a.data_plane_addr.clone(),
            backends: serde_json::from_str::<Vec<serde_json::Value>>(&a.backends_json)
                .unwrap_or_default()
                .iter()
                .filter_map(|b| {
                    let name = b.get("name")?.as_str()?.to_owned();
                    let kind: StorageKind = serde_json::from_value(b.get("kind")?.clone()).ok()?;
                    Some((name, kind))
                })
                .collect(),
        })
        .collect()
}

impl Replication {
    /// Replication over `link`.
    pub fn new(db: Db, link: AgentLink, options: ReplicationOptions) -> Replication {
        Replication {
            db,
            link,
            options,
            stale_after_ms: 60_000,
            changes: std::sync::Arc::default(),
        }
    }

    /// Replication for the running orchestrator: its database and bus, statuses trusted
    /// for as long as agents are (`agent_missed_heartbeats` intervals).
    pub fn from_app(
        app: &App,
        options: ReplicationOptions,
    ) -> Result<Replication, ReplicationError> {
        let link = app.agents.clone().ok_or(ReplicationError::NoBus)?;
        Ok(Replication::from_config(
            app.db.clone(),
            link,
            &app.config,
            options,
        ))
    }

    /// Like [`Replication::from_app`], from the parts (before the `App` exists).
    pub fn from_config(
        db: Db,
        link: AgentLink,
        config: &crate::config::Config,
        options: ReplicationOptions,
    ) -> Replication {
        let mut r = Replication::new(db, link, options);
        let interval = i64::try_from(config.agent_heartbeat_interval_ms).unwrap_or(i64::MAX);
        r.stale_after_ms = interval
            .saturating_mul(i64::from(config.agent_missed_heartbeats))
            .max(1_000);
        r
    }

    /// The database and link, for the materialiser.
    pub fn materialiser(&self) -> AgentMaterialiser {
        AgentMaterialiser::new(self.db.clone(), self.link.clone(), self.options.clone())
    }

    async fn storage(&self, cluster: &ClusterId) -> Result<Vec<BackendStorage>, ReplicationError> {
        let mut c = self.db.conn().await?;
        let rec = db::clusters::get(&mut c, cluster.as_str())
            .await?
            .ok_or_else(|| ReplicationError::UnknownCluster(cluster.clone()))?;
        serde_json::from_str(&rec.storage_json).map_err(|e| ReplicationError::BadStorage {
            cluster: cluster.clone(),
            reason: e.to_string(),
        })
    }

    /// Starts replicating `volumes` for `owner`. Volumes already started for the owner
    /// are left alone; a volume another owner replicates is refused. Volumes are started
    /// one after another: on an error the ones before stay started (`stop` removes them).
    #[tracing::instrument(skip_all, fields(plan_id = %owner))]
    pub async fn start(
        &self,
        owner: &PlanId,
        volumes: &[VolumeToReplicate],
    ) -> Result<(), ReplicationError> {
        let _one_at_a_time = self.changes.lock().await;
        let agents = {
            let mut c = self.db.conn().await?;
            agent_views(&db::agents::list(&mut c).await?)
        };
        for v in volumes {
            self.start_one(owner, v, &agents).await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(volume_id = %v.volume))]
    async fn start_one(
        &self,
        owner: &PlanId,
        v: &VolumeToReplicate,
        agents: &[placement::AgentView],
    ) -> Result<(), ReplicationError> {
        let existing = {
            let mut c = self.db.conn().await?;
            db::replication::volume_by_id(&mut c, v.volume.as_str()).await?
        };
        let lifetime =
            i64::try_from(self.options.request_timeout.as_millis() * 3).unwrap_or(i64::MAX);
        let decided = claim::decide(
            existing.as_ref().map(|e| claim::Existing {
                owner: &e.owner,
                state: &e.state,
                updated_at: e.updated_at,
            }),
            owner.as_str(),
            now_ms(),
            lifetime,
        );
        match decided {
            claim::Claim::Leave => return Ok(()),
            claim::Claim::Refuse => {
                return Err(ReplicationError::AlreadyReplicated {
                    volume: v.volume.clone(),
                    owner: existing.map(|e| e.owner).unwrap_or_default(),
                });
            }
            claim::Claim::Insert | claim::Claim::Replace { .. } => {}
        }
        let source_storage = self.storage(&v.source_cluster).await?;
        let target_storage = self.storage(&v.target_cluster).await?;
        let p = placement::place(
            placement::PlacementInput {
                volume_id: v.volume.as_str(),
                source_host: &v.source_host,
                source_cluster: (v.source_cluster.as_str(), &source_storage),
                target_cluster: (v.target_cluster.as_str(), &target_storage),
                target_host: v.target_host.as_deref(),
            },
            agents,
        )
        .map_err(|source| ReplicationError::Placement {
            volume: v.volume.clone(),
            source,
        })?;
        let now = now_ms();
        let json = |l: &VolumeLocation| serde_json::to_string(l).unwrap_or_default();
        let record = db::replication::VolumeRecord {
            owner: owner.to_string(),
            volume_id: v.volume.to_string(),
            size_bytes: i64::try_from(v.size_bytes).unwrap_or(i64::MAX),
            rpo_ms: i64::try_from(v.rpo_ms).unwrap_or(i64::MAX),
            source_cluster_id: v.source_cluster.to_string(),
            source_host: v.source_host.clone(),
            source_node: p.source.node.to_string(),
            source_location_json: json(&p.source.location),
            target_cluster_id: v.target_cluster.to_string(),
            target_host: p.target_host.clone(),
            target_node: p.target.node.to_string(),
            target_location_json: json(&p.target.location),
            state: STARTING.into(),
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        {
            let mut tx = self.db.begin().await?;
            if let claim::Claim::Replace { seen } = decided
                && !db::replication::delete_volume_if_unchanged(
                    &mut tx,
                    owner.as_str(),
                    v.volume.as_str(),
                    seen,
                )
                .await?
            {
                // another process took the stale claim over first
                return Ok(());
            }
            match db::replication::insert_volume(&mut tx, &record).await {
                Err(e) if e.is_unique_violation() => {
                    drop(tx);
                    let mut c = self.db.conn().await?;
                    let winner = db::replication::volume_by_id(&mut c, v.volume.as_str()).await?;
                    return match winner {
                        // another process claimed it for this owner: it starts it
                        Some(w) if w.owner == owner.as_str() => Ok(()),
                        w => Err(ReplicationError::AlreadyReplicated {
                            volume: v.volume.clone(),
                            owner: w.map(|w| w.owner).unwrap_or_else(|| "another owner".into()),
                        }),
                    };
                }
                r => r?,
            }
            tx.commit().await.map_err(DbError::from)?;
        }
        let msg = ReplicationStart {
            volume_id: WireVolumeId(v.volume.to_string()),
            plan_id: owner.to_string(),
            size_bytes: v.size_bytes,
            source: ReplicationEndpoint {
                node_id: p.source.node.clone(),
                location: p.source.location.clone(),
            },
            target: ReplicationEndpoint {
                node_id: p.target.node.clone(),
                location: p.target.location.clone(),
            },
            target_data_addr: p.target_data_addr.clone(),
            session_secret: SessionSecret(rand::random::<[u8; 32]>().to_vec()),
            block_size: self.options.block_size,
            cycle_interval_ms: (v.rpo_ms / 4).clamp(100, 300_000),
            compression: self.options.compression,
            bandwidth_limit_bps: self.options.bandwidth_limit_bps,
        };
        let t = self.options.request_timeout;
        // The target first: it must expect the source's handshake.
        let sent = match self.link.request(&p.target.node, msg.clone(), t).await {
            Ok(_) => self.link.request(&p.source.node, msg, t).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(source) = sent {
            tracing::warn!(error = %source, "starting replication failed; undoing");
            self.stop_on_agents(v.volume.as_str(), &p.source.node, &p.target.node)
                .await
                .ok();
            let mut c = self.db.conn().await?;
            db::replication::delete_volume(&mut c, owner.as_str(), v.volume.as_str()).await?;
            return Err(ReplicationError::Agent {
                volume: v.volume.to_string(),
                source: Box::new(source),
            });
        }
        let mut c = self.db.conn().await?;
        db::replication::set_volume_state(
            &mut c,
            owner.as_str(),
            v.volume.as_str(),
            STARTED,
            None,
            now_ms(),
        )
        .await?;
        tracing::info!(source = %p.source.node, target = %p.target.node, "replication started");
        Ok(())
    }

    async fn stop_on_agents(
        &self,
        volume: &str,
        source: &NodeId,
        target: &NodeId,
    ) -> Result<(), AgentError> {
        let t = self.options.request_timeout;
        let msg = ReplicationStop {
            volume_id: WireVolumeId(volume.to_owned()),
            remove_target_copy: true,
        };
        self.link.request(source, msg.clone(), t).await?;
        if target != source {
            self.link.request(target, msg, t).await?;
        }
        Ok(())
    }

    /// Stops every volume of `owner`: replication ends, the target copies and their
    /// snapshots are removed, and the rows (group snapshots included) are dropped. A
    /// volume whose agents do not answer keeps its row (stop again).
    #[tracing::instrument(skip_all, fields(plan_id = %owner))]
    pub async fn stop(&self, owner: &PlanId) -> Result<(), ReplicationError> {
        let _one_at_a_time = self.changes.lock().await;
        let volumes = {
            let mut c = self.db.conn().await?;
            db::replication::volumes(&mut c, owner.as_str()).await?
        };
        for v in &volumes {
            self.stop_record(v).await?;
        }
        let mut tx = self.db.begin().await?;
        for s in db::replication::snapshots(&mut tx, owner.as_str()).await? {
            db::replication::delete_snapshot(&mut tx, &s.id).await?;
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    async fn stop_record(&self, v: &db::replication::VolumeRecord) -> Result<(), ReplicationError> {
        self.stop_on_agents(&v.volume_id, &node(&v.source_node)?, &node(&v.target_node)?)
            .await
            .map_err(|source| ReplicationError::Agent {
                volume: v.volume_id.clone(),
                source: Box::new(source),
            })?;
        let mut c = self.db.conn().await?;
        db::replication::delete_volume(&mut c, &v.owner, &v.volume_id).await?;
        tracing::info!(volume_id = %v.volume_id, "replication stopped, target copy removed");
        Ok(())
    }

    /// Stops the volumes of `owner` that are not in `keep` (their target copies and
    /// snapshots are removed); returns the stopped ones. Group snapshots that held
    /// them keep the other volumes' parts.
    #[tracing::instrument(skip_all, fields(plan_id = %owner))]
    pub async fn stop_others(
        &self,
        owner: &PlanId,
        keep: &[VolumeId],
    ) -> Result<Vec<VolumeId>, ReplicationError> {
        let _one_at_a_time = self.changes.lock().await;
        let volumes = {
            let mut c = self.db.conn().await?;
            db::replication::volumes(&mut c, owner.as_str()).await?
        };
        let mut stopped = Vec::new();
        for v in volumes
            .iter()
            .filter(|v| !keep.iter().any(|k| k.as_str() == v.volume_id))
        {
            self.stop_record(v).await?;
            stopped.push(VolumeId::new(v.volume_id.clone()));
        }
        Ok(stopped)
    }

    /// The facts plan state needs, per volume of `owner`.
    pub async fn facts(&self, owner: &PlanId) -> Result<ReplicationFacts, ReplicationError> {
        let mut c = self.db.conn().await?;
        let volumes = db::replication::volumes(&mut c, owner.as_str()).await?;
        let statuses = db::agents::replications(&mut c, None).await?;
        let agents = db::agents::list(&mut c).await?;
        let now = now_ms();
        let u = |n: i64| u64::try_from(n).unwrap_or(0);
        let facts = volumes
            .iter()
            .map(|v| {
                let status = statuses
                    .iter()
                    .find(|s| s.node_id == v.source_node && s.volume_id == v.volume_id)
                    .map(|s| facts::StatusInput {
                        state: &s.state,
                        size_bytes: u(s.size_bytes),
                        initial_copy_bytes: u(s.initial_copy_bytes),
                        lag_ms: s.lag_ms.map(u),
                        last_error: s.last_error.as_deref(),
                        updated_at: s.updated_at,
                    });
                let source_online = agents
                    .iter()
                    .any(|a| a.node_id == v.source_node && a.state == db::agents::ONLINE);
                facts::evaluate(
                    &facts::VolumeInput {
                        volume: &v.volume_id,
                        rpo_ms: u(v.rpo_ms),
                        started: v.state == STARTED,
                        source_online,
                        status,
                    },
                    now,
                    self.stale_after_ms,
                )
            })
            .collect();
        Ok(ReplicationFacts { volumes: facts })
    }
}
