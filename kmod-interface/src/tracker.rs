//! The `ChangeTracker` abstraction.

use std::path::PathBuf;

use crate::shipped::ShippedTable;

/// Which mechanism a tracker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    Kernel,
    Scan,
    /// Diffs between two Ceph RBD snapshots (implemented in the agent).
    Rbd,
}

/// Changes whose data a tracker copied itself into a staging file, for volumes that
/// cannot be read by offset from a local path (Ceph RBD: the data is read from a
/// snapshot, which also fixes the point in time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedChanges {
    pub volume_size: u64,
    /// The data of extent `i` is in the staging file right after that of extent `i-1`.
    pub extents: Vec<crate::Extent>,
    /// Relative to an all-zero volume (see [`ChangeSet::initial`]).
    pub initial: bool,
}

/// The blocks of a volume that changed since the last [`ChangeTracker::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// Size of the volume when the changes were taken.
    pub volume_size: u64,
    pub block_size: u32,
    /// Ascending, unique block indices.
    pub blocks: Vec<u64>,
    /// True when the tracker had no baseline: `blocks` are relative to an all-zero
    /// volume (the target must start from zeroes, e.g. a fresh sparse file).
    pub initial: bool,
}

impl ChangeSet {
    /// Bytes covered by the changed blocks (the last block may be partial).
    pub fn changed_bytes(&self) -> u64 {
        let bs = u64::from(self.block_size);
        self.blocks
            .iter()
            .map(|&b| (b * bs + bs).min(self.volume_size).saturating_sub(b * bs))
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("cannot read the source volume {path}: {source}")]
    ReadSource {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot persist tracker state in {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tracker state {path} is corrupt ({reason}); a full resync is needed")]
    CorruptState { path: PathBuf, reason: String },
    #[error("block size {0} is invalid: it must be a power of two between 512 and 16 MiB")]
    BadBlockSize(u32),
    #[error("the change-tracking kernel module is not available: {0}")]
    KernelUnavailable(String),
    #[error("kernel module call {call} failed: {source}")]
    Ioctl {
        call: &'static str,
        source: nix::Error,
    },
    #[error("kernel module speaks ABI {found}, this agent needs {expected}")]
    AbiMismatch { found: u32, expected: u32 },
    #[error("commit called without pending changes")]
    NothingPending,
    /// A storage backend's own change tracking (e.g. Ceph RBD snapshots) failed.
    #[error("{0}")]
    Backend(String),
}

/// Tells which blocks of one volume changed since the last committed replication.
///
/// Protocol: [`changes`](ChangeTracker::changes) returns the blocks changed since the
/// last [`commit`](ChangeTracker::commit) and persists them as *pending*; calling it
/// again before a commit returns (at least) the same blocks again, also after a crash
/// and restart. `commit` is called once the target acknowledged every pending block as
/// durable; it makes the pending state the new baseline.
pub trait ChangeTracker: Send + std::fmt::Debug {
    fn kind(&self) -> TrackerKind;
    fn block_size(&self) -> u32;
    fn changes(&mut self) -> Result<ChangeSet, TrackerError>;
    fn commit(&mut self) -> Result<(), TrackerError>;
    /// Forgets the baseline: the next `changes` reports every block of the volume.
    fn reset(&mut self) -> Result<(), TrackerError>;
    /// Trackers that read the changed data themselves return `Some`: like
    /// [`changes`](ChangeTracker::changes) (same pending/commit protocol), but the
    /// extents' data is written into `staging` (created or truncated), so the source
    /// ships it from there. The default (`None`) means: read the live volume.
    fn stage_changes(
        &mut self,
        _staging: &std::path::Path,
    ) -> Option<Result<StagedChanges, TrackerError>> {
        None
    }
    /// Trackers whose baseline is a checksum of the data (the scan tracker) need not
    /// read the volume before an initial copy: with no baseline they return `Some` of
    /// the volume size and start a [`ShippedTable`]; the caller then ships every block
    /// (an initial copy, relative to zeroes), records what it ships in the table from
    /// [`shipped_table`](ChangeTracker::shipped_table), and
    /// [`finish`](ShippedTable::finish)es it before `commit`. `None` (the default, or
    /// when a baseline exists): plan with [`changes`](ChangeTracker::changes).
    fn start_unscanned_initial_copy(&mut self) -> Option<Result<u64, TrackerError>> {
        None
    }
    /// The table of the initial copy started by
    /// [`start_unscanned_initial_copy`](ChangeTracker::start_unscanned_initial_copy)
    /// and not committed yet (also after a restart); `None` if there is none.
    fn shipped_table(&mut self) -> Option<Result<ShippedTable, TrackerError>> {
        None
    }
}

pub(crate) fn check_block_size(bs: u32) -> Result<(), TrackerError> {
    if bs.is_power_of_two() && (512..=16 << 20).contains(&bs) {
        Ok(())
    } else {
        Err(TrackerError::BadBlockSize(bs))
    }
}
