//! The vocabulary of recovery jobs (jobs.md, "Creating a job" and "States, operations,
//! results"): type, run type, recovery point, result.

use std::fmt;

use super::ids::SnapshotId;

/// Drill (rehearsal, rolled back afterwards) or DR (real recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobType {
    /// A rehearsal: the source keeps running, the target copy is isolated.
    Drill,
    /// A real recovery.
    Dr,
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobType::Drill => "drill",
            JobType::Dr => "dr",
        })
    }
}

/// When a job is triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunType {
    /// At once, on creation.
    Now,
    /// Once, at a date and time.
    At,
    /// Recurring (drills only).
    Schedule,
}

impl fmt::Display for RunType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunType::Now => "now",
            RunType::At => "at",
            RunType::Schedule => "schedule",
        })
    }
}

/// Which data a job recovers, without the chosen snapshot (for the combination table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecoveryPointKind {
    /// The mirror as it is now (DR only).
    LatestData,
    /// The newest protection-group snapshot at trigger time.
    LatestSnapshot,
    /// A chosen snapshot.
    Snapshot,
}

impl fmt::Display for RecoveryPointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecoveryPointKind::LatestData => "latest-data",
            RecoveryPointKind::LatestSnapshot => "latest-snapshot",
            RecoveryPointKind::Snapshot => "snapshot",
        })
    }
}

/// Which data a job recovers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecoveryPoint {
    /// The mirror as it is now (DR only).
    LatestData,
    /// The newest protection-group snapshot at trigger time.
    LatestSnapshot,
    /// A chosen snapshot.
    Snapshot(SnapshotId),
}

impl RecoveryPoint {
    /// The kind, for the combination table.
    pub fn kind(&self) -> RecoveryPointKind {
        match self {
            RecoveryPoint::LatestData => RecoveryPointKind::LatestData,
            RecoveryPoint::LatestSnapshot => RecoveryPointKind::LatestSnapshot,
            RecoveryPoint::Snapshot(_) => RecoveryPointKind::Snapshot,
        }
    }
}

/// The result of a job (jobs.md, "Results").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobResult {
    /// Every instance recovered.
    Success,
    /// Some instances recovered, some failed.
    PartialSuccess,
    /// No instance recovered.
    Failed,
    /// Stopped by a user, or a scheduled drill that could not start in time.
    Canceled,
}

impl JobResult {
    /// Every result.
    pub const ALL: [JobResult; 4] = [
        JobResult::Success,
        JobResult::PartialSuccess,
        JobResult::Failed,
        JobResult::Canceled,
    ];
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobResult::Success => "success",
            JobResult::PartialSuccess => "partial_success",
            JobResult::Failed => "failed",
            JobResult::Canceled => "canceled",
        })
    }
}

/// What the clearing phase does (jobs.md: "operation becomes rollback / confirm").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClearOperation {
    /// Delete everything the job created.
    Rollback,
    /// Keep the recovered workload (DR only).
    Confirm,
}

impl fmt::Display for ClearOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClearOperation::Rollback => "rollback",
            ClearOperation::Confirm => "confirm",
        })
    }
}

/// How a job reached `reporting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ending {
    /// Everything the job created was deleted.
    RolledBack,
    /// The recovered workload was kept (DR).
    Confirmed,
    /// A user ignored a failed rollback; a cleanup script lists what is left.
    CleanupIgnored,
    /// A scheduled drill that could not start within 10 minutes of its time.
    NotStarted,
}
