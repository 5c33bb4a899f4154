//! Why a job request failed, typed for the API's error codes.

use super::record::CorruptJob;
use super::source::JobSourceError;
use crate::db::DbError;
use crate::domain::schedule::ScheduleError;
use crate::dr::job_rules::{CreateJobError, DeleteJobError, UpdateJobError};
use crate::dr::job_state::InvalidTransition;
use crate::recovery::RecoveryError;

/// Why a job request failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No such job.
    #[error("job {0:?} does not exist")]
    NotFound(String),
    /// The plans side refused.
    #[error(transparent)]
    Source(#[from] JobSourceError),
    /// The user may not act on this plan's jobs.
    #[error(transparent)]
    Denied(#[from] crate::domain::rbac::Denied),
    /// The creation rules refused.
    #[error(transparent)]
    Create(#[from] CreateJobError),
    /// The update rules refused.
    #[error(transparent)]
    Update(#[from] UpdateJobError),
    /// The delete rules refused.
    #[error(transparent)]
    Delete(#[from] DeleteJobError),
    /// The state machine refused.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// A field is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The job changed while the request was handled; try again.
    #[error("job {0} changed while this request was handled; look at it again and retry")]
    Changed(String),
    /// The chosen instances cannot be recovered again.
    #[error("{0}")]
    RetryRefused(String),
    /// The recovery point asked for a retry cannot be used.
    #[error(transparent)]
    RetryPoint(#[from] RetryPointError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The executor failed.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// A stored job does not read back.
    #[error(transparent)]
    Corrupt(#[from] CorruptJob),
}

/// Why a retry cannot recover from the recovery point asked for (jobs.md, "Retry
/// (re-recover)": "optionally from another snapshot").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPointError {
    /// Not a snapshot: a retry names a snapshot of the group.
    #[error(
        "a retry recovers from the job's own point or from a snapshot of its protection group, not from {0}: name a snapshot (snapshot_id)"
    )]
    NotASnapshot(String),
    /// The snapshot is not one of the group's current snapshots.
    #[error(
        "snapshot {snapshot} is not a snapshot of protection group {group} (plan {plan}): it belongs to another group, or the retention has deleted it; list the group's snapshots and choose one of them"
    )]
    UnknownSnapshot {
        /// The snapshot asked for.
        snapshot: String,
        /// The job's protection group.
        group: String,
        /// The job's plan.
        plan: String,
    },
}

impl From<ScheduleError> for JobError {
    fn from(e: ScheduleError) -> Self {
        JobError::Invalid(e.to_string())
    }
}
