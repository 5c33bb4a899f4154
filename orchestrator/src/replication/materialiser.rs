//! [`AgentMaterialiser`]: the recovery executor's `VolumeMaterialiser` over the agents.
//! The target agent exports the volume at the recovery point (a group snapshot: that
//! volume's target snapshot; latest data: the mirror) into a new object of the mirror's
//! backend under the requested name, which Cinder manage-existing adopts from the target
//! pool recorded at replication start. Each export is recorded (`replication_exports`)
//! before it is asked for, with an export id derived from the name, so a retry after a
//! crash asks the agent for the same export and gets the same answer.

use std::time::Duration;

use futures_util::future::BoxFuture;
use holdfast_protocol::messages::{
    ErrorCode, RecoveryPoint as WirePoint, VolumeExport, VolumeExportDiscard, VolumeLocation,
};
use holdfast_protocol::{NodeId, VolumeId as WireVolumeId};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ReplicationOptions;
use crate::agents::{AgentError, AgentLink};
use crate::db::{self, Db};
use crate::dr::job::RecoveryPoint;
use crate::recovery::{BackendVolume, MaterialiseError, MaterialiseRequest, VolumeMaterialiser};
use crate::state::now_ms;

const PENDING: &str = "pending";
const DONE: &str = "done";

/// Materialises volumes through the target agents.
#[derive(Debug, Clone)]
pub struct AgentMaterialiser {
    db: Db,
    link: AgentLink,
    options: ReplicationOptions,
}

fn err(e: impl std::fmt::Display) -> MaterialiseError {
    MaterialiseError(e.to_string())
}

/// The export id of a name: the same on every retry.
fn export_id(name: &str) -> Uuid {
    let digest = Sha256::digest(format!("holdfast-export:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl AgentMaterialiser {
    /// A materialiser over `link`.
    pub fn new(db: Db, link: AgentLink, options: ReplicationOptions) -> AgentMaterialiser {
        AgentMaterialiser { db, link, options }
    }

    /// The point on the target storage: the mirror, or the volume's target snapshot.
    async fn point(&self, r: &MaterialiseRequest) -> Result<WirePoint, MaterialiseError> {
        match &r.point {
            RecoveryPoint::LatestData => Ok(WirePoint::LatestData),
            RecoveryPoint::LatestSnapshot => Err(err(
                "the latest snapshot must be resolved to a snapshot id when the job is triggered",
            )),
            RecoveryPoint::Snapshot(s) => {
                let mut c = self.db.conn().await.map_err(err)?;
                let parts = db::replication::snapshot_volumes(&mut c, s.as_str())
                    .await
                    .map_err(err)?;
                let part = parts
                    .into_iter()
                    .find(|p| p.volume_id == r.volume.as_str())
                    .ok_or_else(|| {
                        err(format!("volume {} has no copy in snapshot {s}", r.volume))
                    })?;
                Ok(WirePoint::Snapshot {
                    name: part.target_snapshot,
                })
            }
        }
    }

    /// Asks for the export, retrying while the mirror is between epochs.
    async fn export(&self, node: &NodeId, msg: VolumeExport) -> Result<(), MaterialiseError> {
        let deadline = tokio::time::Instant::now() + self.options.export_timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.link.request(node, msg.clone(), left).await {
                Ok(_) => return Ok(()),
                Err(AgentError::Refused {
                    code: ErrorCode::Conflict,
                    message,
                    ..
                }) if message.contains("between epochs")
                    && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(err(e)),
            }
        }
    }
}

impl VolumeMaterialiser for AgentMaterialiser {
    fn materialise<'a>(
        &'a self,
        request: &'a MaterialiseRequest,
    ) -> BoxFuture<'a, Result<BackendVolume, MaterialiseError>> {
        let span =
            tracing::info_span!("materialise", job_id = %request.job, volume_id = %request.volume);
        Box::pin(tracing::Instrument::instrument(
            async move {
                let assignment = {
                    let mut c = self.db.conn().await.map_err(err)?;
                    db::replication::volume_by_id(&mut c, request.volume.as_str())
                        .await
                        .map_err(err)?
                        .ok_or_else(|| {
                            err(format!(
                                "volume {} is not replicated: start replication of its plan first",
                                request.volume
                            ))
                        })?
                };
                let point = self.point(request).await?;
                let mirror: VolumeLocation =
                    serde_json::from_str(&assignment.target_location_json).map_err(err)?;
                let destination = VolumeLocation {
                    object: request.name.clone(),
                    ..mirror
                };
                let node = NodeId::parse(assignment.target_node.clone()).map_err(err)?;
                let id = export_id(&request.name);
                let now = now_ms();
                {
                    let mut c = self.db.conn().await.map_err(err)?;
                    db::replication::insert_export(
                        &mut c,
                        &db::replication::ExportRecord {
                            name: request.name.clone(),
                            export_id: id.to_string(),
                            volume_id: request.volume.to_string(),
                            target_node: assignment.target_node.clone(),
                            location_json: serde_json::to_string(&destination).map_err(err)?,
                            host: assignment.target_host.clone(),
                            state: PENDING.into(),
                            created_at: now,
                            updated_at: now,
                        },
                    )
                    .await
                    .map_err(err)?;
                }
                self.export(
                    &node,
                    VolumeExport {
                        export_id: id,
                        volume_id: WireVolumeId(request.volume.to_string()),
                        point,
                        destination,
                    },
                )
                .await?;
                let mut c = self.db.conn().await.map_err(err)?;
                db::replication::set_export_state(&mut c, &request.name, DONE, now_ms())
                    .await
                    .map_err(err)?;
                tracing::info!(name = %request.name, node = %node, "volume exported");
                Ok(BackendVolume {
                    host: assignment.target_host,
                    source_name: request.name.clone(),
                })
            },
            span,
        ))
    }

    fn locate<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<BackendVolume>, MaterialiseError>> {
        Box::pin(async move {
            let mut c = self.db.conn().await.map_err(err)?;
            let e = db::replication::export_by_name(&mut c, name)
                .await
                .map_err(err)?;
            // A pending export is finished by materialising again (same export id).
            Ok(e.filter(|e| e.state == DONE).map(|e| BackendVolume {
                host: e.host,
                source_name: e.name,
            }))
        })
    }

    fn discard<'a>(
        &'a self,
        volume: &'a BackendVolume,
    ) -> BoxFuture<'a, Result<(), MaterialiseError>> {
        Box::pin(async move {
            let e = {
                let mut c = self.db.conn().await.map_err(err)?;
                db::replication::export_by_name(&mut c, &volume.source_name)
                    .await
                    .map_err(err)?
            };
            let Some(e) = e else { return Ok(()) };
            let node = NodeId::parse(e.target_node.clone()).map_err(err)?;
            let destination: VolumeLocation =
                serde_json::from_str(&e.location_json).map_err(err)?;
            let export_id = Uuid::parse_str(&e.export_id).map_err(err)?;
            self.link
                .request(
                    &node,
                    VolumeExportDiscard {
                        export_id,
                        volume_id: WireVolumeId(e.volume_id.clone()),
                        destination,
                    },
                    self.options.request_timeout,
                )
                .await
                .map_err(err)?;
            let mut c = self.db.conn().await.map_err(err)?;
            db::replication::delete_export(&mut c, &e.name)
                .await
                .map_err(err)?;
            Ok(())
        })
    }
}
