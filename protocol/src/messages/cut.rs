//! The consistent group snapshot: a two-phase cut across every volume of a protection
//! group. The orchestrator sends [`CutPrepare`] to every source agent involved; each
//! holds writes-to-be-shipped at a common point and answers [`CutPrepared`]. When all
//! are prepared it sends [`CutCommit`]: each agent ships data up to the cut, the target
//! creates the snapshot, and a [`CutResult`] comes back. On any failure it sends
//! [`CutAbort`], which leaves no half snapshot.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{UnixMillis, VolumeId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CutPrepare {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub cut_id: Uuid,
    pub group_id: String,
    pub volumes: Vec<VolumeId>,
    /// If no commit or abort arrives within this time, the agent aborts on its own.
    pub hold_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CutPrepared {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub cut_id: Uuid,
    pub volumes: Vec<VolumeId>,
    /// When the cut point was fixed on this agent.
    pub cut_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CutCommit {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub cut_id: Uuid,
    /// Name of the snapshot to create on every target volume.
    pub snapshot_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CutAbort {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub cut_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum CutOutcome {
    /// Every volume's target snapshot exists.
    Committed,
    /// Nothing was kept (after an abort, or a failure rolled back).
    Aborted,
    #[serde(other)]
    Unknown,
}

/// What one volume contributed to the cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeCut {
    pub volume_id: VolumeId,
    /// The replication epoch the snapshot contains.
    pub epoch: u64,
    pub target_snapshot: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CutResult {
    #[cfg_attr(test, proptest(strategy = "crate::testing::uuid()"))]
    pub cut_id: Uuid,
    pub outcome: CutOutcome,
    pub cut_at: Option<UnixMillis>,
    pub volumes: Vec<VolumeCut>,
}
