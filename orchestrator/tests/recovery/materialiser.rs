//! The volume materialiser over the test clouds' volume files: copies the source
//! volume's bytes (its file, or the file of its Cinder snapshot for a snapshot
//! recovery point) to the target backend's pool directory under the requested name,
//! where Cinder manage-existing adopts it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use holdfast_orchestrator::dr::ids::{SnapshotId, VolumeId};
use holdfast_orchestrator::dr::job::RecoveryPoint;
use holdfast_orchestrator::recovery::{
    BackendVolume, MaterialiseError, MaterialiseRequest, VolumeMaterialiser,
};

/// Source files → target pool, by copying bytes.
#[derive(Debug)]
pub(crate) struct FileMaterialiser {
    /// `<source storage>/<backend>/<pool>`.
    pub(crate) source_pool: PathBuf,
    /// `<target storage>/<backend>/<pool>`.
    pub(crate) target_pool: PathBuf,
    /// Cinder host of the target pool.
    pub(crate) host: String,
    /// Per group snapshot (the recovery point): the Cinder snapshot of each volume.
    pub(crate) snapshots: Mutex<BTreeMap<SnapshotId, BTreeMap<VolumeId, String>>>,
    /// Volumes whose materialisation fails (injected failure).
    pub(crate) failing: Mutex<Vec<VolumeId>>,
}

impl FileMaterialiser {
    pub(crate) fn new(source_pool: PathBuf, target_pool: PathBuf) -> Self {
        Self {
            source_pool,
            target_pool,
            host: "testcloud@file#file".into(),
            snapshots: Mutex::new(BTreeMap::new()),
            failing: Mutex::new(Vec::new()),
        }
    }

    fn source_file(&self, r: &MaterialiseRequest) -> Result<PathBuf, MaterialiseError> {
        match &r.point {
            RecoveryPoint::LatestData => Ok(self.source_pool.join(format!("volume-{}", r.volume))),
            RecoveryPoint::Snapshot(s) => {
                let snaps = self.snapshots.lock().unwrap();
                let id = snaps.get(s).and_then(|m| m.get(&r.volume)).ok_or_else(|| {
                    MaterialiseError(format!("volume {} has no copy in snapshot {s}", r.volume))
                })?;
                Ok(self.source_pool.join(format!("snapshot-{id}")))
            }
            RecoveryPoint::LatestSnapshot => Err(MaterialiseError(
                "the latest snapshot must be resolved to a snapshot id when the job is triggered"
                    .into(),
            )),
        }
    }
}

impl VolumeMaterialiser for FileMaterialiser {
    fn materialise<'a>(
        &'a self,
        request: &'a MaterialiseRequest,
    ) -> BoxFuture<'a, Result<BackendVolume, MaterialiseError>> {
        Box::pin(async move {
            if self.failing.lock().unwrap().contains(&request.volume) {
                return Err(MaterialiseError(format!(
                    "injected failure for volume {}",
                    request.volume
                )));
            }
            let from = self.source_file(request)?;
            let to = self.target_pool.join(&request.name);
            let size = request.size_gb;
            tokio::task::spawn_blocking(move || {
                holdfast_testcloud::storage::copy_point_in_time(&from, &to, Some(size))
            })
            .await
            .map_err(|e| MaterialiseError(e.to_string()))?
            .map_err(|e| MaterialiseError(e.to_string()))?;
            Ok(BackendVolume {
                host: self.host.clone(),
                source_name: request.name.clone(),
            })
        })
    }

    fn locate<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<BackendVolume>, MaterialiseError>> {
        Box::pin(async move {
            Ok(self.target_pool.join(name).exists().then(|| BackendVolume {
                host: self.host.clone(),
                source_name: name.to_owned(),
            }))
        })
    }

    fn discard<'a>(
        &'a self,
        volume: &'a BackendVolume,
    ) -> BoxFuture<'a, Result<(), MaterialiseError>> {
        Box::pin(async move {
            match std::fs::remove_file(self.target_pool.join(&volume.source_name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(MaterialiseError(e.to_string()))
                }
                _ => Ok(()),
            }
        })
    }
}
