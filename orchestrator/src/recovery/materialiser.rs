//! The seam between the executor and whatever brings replicated volume data into the
//! target's block storage. In production the agents do it (VolumeExport over the
//! bus); tests implement it over the test cloud's volume files. The executor depends
//! on this trait only.

use std::fmt;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::dr::ids::{JobId, VolumeId};
use crate::dr::job::RecoveryPoint;

/// Materialise one volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialiseRequest {
    /// The job.
    pub job: JobId,
    /// The source volume.
    pub volume: VolumeId,
    /// At this recovery point.
    pub point: RecoveryPoint,
    /// The deterministic name to give the backend object (the same on every retry, so
    /// materialising twice overwrites rather than duplicates).
    pub name: String,
    /// Size in GiB.
    pub size_gb: u64,
}

/// A backend object Cinder manage-existing can adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendVolume {
    /// Cinder host of the pool, `host@backend#pool`.
    pub host: String,
    /// The backend reference's `source-name`.
    pub source_name: String,
}

impl BackendVolume {
    /// The location recorded with the job (JSON, parsed back by [`BackendVolume::parse`]).
    pub fn location(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.source_name.clone())
    }

    /// Parses a recorded location.
    pub fn parse(location: &str) -> Option<BackendVolume> {
        serde_json::from_str(location).ok()
    }
}

/// Why materialising failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot materialise volume data: {0}")]
pub struct MaterialiseError(pub String);

/// Brings a volume's data at a recovery point into the target backend.
pub trait VolumeMaterialiser: Send + Sync + fmt::Debug {
    /// Materialises the volume (idempotent for the same `name`) and returns the backend
    /// object to adopt.
    fn materialise<'a>(
        &'a self,
        request: &'a MaterialiseRequest,
    ) -> BoxFuture<'a, Result<BackendVolume, MaterialiseError>>;

    /// The backend object of that name, if it exists (resume after a crash).
    fn locate<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<BackendVolume>, MaterialiseError>>;

    /// Removes a materialised object that Cinder did not adopt (idempotent: an object
    /// that is gone, e.g. adopted and renamed by manage-existing, is fine).
    fn discard<'a>(
        &'a self,
        volume: &'a BackendVolume,
    ) -> BoxFuture<'a, Result<(), MaterialiseError>>;
}
