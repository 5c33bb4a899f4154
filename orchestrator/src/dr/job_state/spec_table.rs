//! The transition table of jobs.md ("States, operations, results"), with the
//! conditions of "What each user operation means", written down once as data. The
//! exhaustive test checks [`super::step`] against it for every (state × event).

use super::{StateName as S, *};

/// A condition of a row, checked against the concrete job and event.
#[derive(Debug, Clone, Copy)]
pub(super) enum Guard {
    /// The job is a drill.
    Drill,
    /// The job is a DR job.
    Dr,
    /// The job is a scheduled drill.
    ScheduledDrill,
    /// The queue says the job may start (no active job of the group, first in queue).
    GateOpen,
    /// The result is success or partial_success.
    Confirmable,
    /// A retry names at least one instance.
    InstancesChosen,
    /// The failed clearing was a rollback.
    AfterRollback,
    /// The failed clearing was a confirm.
    AfterConfirm,
}

/// Where a row leads.
#[derive(Debug, Clone, Copy)]
pub(super) enum To {
    /// Always this state.
    State(S),
    /// `reporting` when every clear task succeeded, else `clear-failed`.
    ByClearOutcome,
}

/// One row: `from` on `on`, when every guard holds, goes `to`.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) from: S,
    pub(super) on: EventName,
    pub(super) guards: &'static [Guard],
    pub(super) to: To,
}

const fn row(from: S, on: EventName, guards: &'static [Guard], to: S) -> Row {
    Row {
        from,
        on,
        guards,
        to: To::State(to),
    }
}

use EventName as E;
use Guard as G;

/// The table. Rows marked (ops) come from "What each user operation means"; rows
/// marked (decision) fill a gap of the spec (see the module docs of `dr`).
pub(super) const TABLE: &[Row] = &[
    // (decision) a job's time came / schedule fired / a `now` job was created
    row(S::Waiting, E::Trigger, &[], S::Pending),
    // pending | op run, no running job of the same group, first in queue | running
    row(S::Pending, E::Run, &[G::GateOpen], S::Running),
    // (decision) the 10-minute rule: canceled, straight to its report
    row(
        S::Pending,
        E::StartDeadlinePassed,
        &[G::ScheduledDrill],
        S::Reporting,
    ),
    row(S::Paused, E::Run, &[], S::Running),
    row(S::Paused, E::Cancel, &[], S::Canceling),
    row(S::Paused, E::PauseTimeout, &[], S::Running),
    row(S::Running, E::Pause, &[], S::Paused),
    row(S::Running, E::Cancel, &[], S::Canceling),
    row(S::Running, E::AllTasksDone, &[], S::Completed),
    row(S::Canceling, E::AllTasksDone, &[], S::Completed),
    // rollback: a completed drill, or a completed DR job (ops)
    row(S::Completed, E::Rollback, &[], S::Clearing),
    // confirm: only a completed DR job with success / partial_success (ops)
    row(
        S::Completed,
        E::Confirm,
        &[G::Dr, G::Confirmable],
        S::Clearing,
    ),
    row(S::Completed, E::RollbackTimeout, &[G::Drill], S::Clearing),
    // retry: only a completed DR job (ops); (decision) it runs again
    row(
        S::Completed,
        E::Retry,
        &[G::Dr, G::InstancesChosen],
        S::Running,
    ),
    // extend: drills in completed or clear-failed, DR only in clear-failed (ops)
    row(
        S::Completed,
        E::ExtendRollbackWait,
        &[G::Drill],
        S::Completed,
    ),
    Row {
        from: S::Clearing,
        on: E::AllClearTasksDone,
        guards: &[],
        to: To::ByClearOutcome,
    },
    // retry-rollback: only a DR job in clear-failed (ops)
    row(S::ClearFailed, E::RetryRollback, &[G::Dr], S::Clearing),
    // ignore-rollback: only in clear-failed; (decision) only after a failed rollback
    row(
        S::ClearFailed,
        E::IgnoreRollback,
        &[G::AfterRollback],
        S::Reporting,
    ),
    // retry-confirm / cancel-confirm: only a DR job in clear-failed after a confirm (ops)
    row(
        S::ClearFailed,
        E::RetryConfirm,
        &[G::Dr, G::AfterConfirm],
        S::Clearing,
    ),
    row(
        S::ClearFailed,
        E::CancelConfirm,
        &[G::Dr, G::AfterConfirm],
        S::Clearing,
    ),
    row(S::ClearFailed, E::RollbackTimeout, &[G::Drill], S::Clearing),
    row(S::ClearFailed, E::ExtendRollbackWait, &[], S::ClearFailed),
    row(S::Reporting, E::ReportWritten, &[], S::Finished),
    // a scheduled drill goes back to waiting for its next run
    row(S::Finished, E::Rearm, &[G::ScheduledDrill], S::Waiting),
];
