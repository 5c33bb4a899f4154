//! Snapshots of a replicated volume on the target storage.

use serde::{Deserialize, Serialize};

use crate::{UnixMillis, VolumeId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TargetSnapshotCreate {
    pub volume_id: VolumeId,
    pub snapshot_name: String,
}

/// Deleting a snapshot that does not exist succeeds (idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TargetSnapshotDelete {
    pub volume_id: VolumeId,
    pub snapshot_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum TargetSnapshotOp {
    Created,
    Deleted,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TargetSnapshotResult {
    pub volume_id: VolumeId,
    pub snapshot_name: String,
    pub op: TargetSnapshotOp,
    /// The replication epoch a created snapshot contains.
    pub epoch: Option<u64>,
    pub created_at: Option<UnixMillis>,
}
