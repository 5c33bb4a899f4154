//! Every message of protocol version 1, grouped by concern.
//!
//! Conventions that keep the protocol evolvable:
//! - bodies are structs encoded as MessagePack maps with named fields; a newer minor
//!   version may add fields (older peers ignore them) and `Option` fields (older senders
//!   omit them, newer peers read `None`);
//! - enums whose set of values may grow carry an `Unknown` variant that absorbs values
//!   added by a newer minor version;
//! - nothing here is a domain type of the orchestrator or the agent: both convert at
//!   the edge.

mod agent;
mod common;
mod cut;
mod error_report;
mod export;
mod replication;
mod target_snapshot;

pub use agent::{
    AgentHello, AgentWelcome, BackendInfo, DiskSpace, Heartbeat, LoadAverage, MemoryStats,
    ProcessStats, TrackerKind, TrackerStatus, WorkerState, WorkerStatus,
};
pub use common::{Compression, SessionSecret, StorageKind, VolumeLocation};
pub use cut::{CutAbort, CutCommit, CutOutcome, CutPrepare, CutPrepared, CutResult, VolumeCut};
pub use error_report::{ErrorCode, ErrorReport};
pub use export::{
    RecoveryPoint, VolumeExport, VolumeExportDiscard, VolumeExportDiscarded, VolumeExported,
};
pub use replication::{
    ReplicationAck, ReplicationEndpoint, ReplicationPause, ReplicationResume, ReplicationResync,
    ReplicationStart, ReplicationState, ReplicationStatus, ReplicationStop,
};
pub use target_snapshot::{
    TargetSnapshotCreate, TargetSnapshotDelete, TargetSnapshotOp, TargetSnapshotResult,
};
