//! Materialising a replicated volume for recovery.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::VolumeLocation;
use crate::{UnixMillis, VolumeId};

/// Which data a recovery uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum RecoveryPoint {
    /// The mirror as it is now (real DR only).
    LatestData,
    /// A snapshot on the target storage.
    Snapshot { name: String },
}

/// On the target agent: write the volume at `point` into a new object at `destination`
/// (a file or RBD image the target cloud then adopts with Cinder "manage existing").
/// Repeating an export with the same `export_id` returns the same result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeExport {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub export_id: Uuid,
    pub volume_id: VolumeId,
    pub point: RecoveryPoint,
    pub destination: VolumeLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeExported {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub export_id: Uuid,
    pub volume_id: VolumeId,
    pub destination: VolumeLocation,
    pub size_bytes: u64,
    /// When the exported data was current on the source.
    pub point_in_time: Option<UnixMillis>,
}

/// On the target agent: remove an exported object that Cinder did not adopt (a
/// recovery rolled back before manage-existing). An object that is gone (adopted and
/// renamed, or never written) is fine: discarding is idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeExportDiscard {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub export_id: Uuid,
    pub volume_id: VolumeId,
    pub destination: VolumeLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeExportDiscarded {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub export_id: Uuid,
    pub destination: VolumeLocation,
    /// Whether the object existed (and was removed).
    pub removed: bool,
}
