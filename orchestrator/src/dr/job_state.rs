//! The recovery-job state machine (jobs.md, "States, operations, results" and "What
//! each user operation means") as one pure function, [`step`].
//!
//! The engine owns time, the database and the clouds: it feeds [`Event`]s in (user
//! operations and system events such as "all tasks done" or "rollback timeout") and
//! performs the [`Effect`]s that come out. Anything the spec does not allow is refused
//! with an [`InvalidTransition`] naming the state and what the operator can do.

use std::fmt;

use super::ids::{InstanceId, JobId};
use super::job::{ClearOperation, Ending, JobResult, JobType, RecoveryPoint, RunType};

/// What kind of job: the spec's (type, run type) reduced to what the state machine
/// needs. A scheduled DR cannot be expressed (schedules are for drills only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    /// A drill that runs once (`now` or `at`).
    OneTimeDrill,
    /// A drill on a schedule: it returns to `waiting` after each run.
    ScheduledDrill,
    /// A real recovery (`now` or `at`).
    Dr,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 3] = [JobKind::OneTimeDrill, JobKind::ScheduledDrill, JobKind::Dr];

    /// Drill or DR.
    pub fn job_type(self) -> JobType {
        match self {
            JobKind::OneTimeDrill | JobKind::ScheduledDrill => JobType::Drill,
            JobKind::Dr => JobType::Dr,
        }
    }

    /// The kind of a job of this type and run type; `None` for a scheduled DR.
    pub fn of(job_type: JobType, run: RunType) -> Option<JobKind> {
        match (job_type, run) {
            (JobType::Drill, RunType::Schedule) => Some(JobKind::ScheduledDrill),
            (JobType::Drill, RunType::Now | RunType::At) => Some(JobKind::OneTimeDrill),
            (JobType::Dr, RunType::Now | RunType::At) => Some(JobKind::Dr),
            (JobType::Dr, RunType::Schedule) => None,
        }
    }
}

/// The ten states of the spec, without data. `Ord` follows the spec's order, so
/// `name >= StateName::Completed` means "has a result".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateName {
    /// Not triggered yet.
    Waiting,
    /// Triggered, not started.
    Pending,
    /// Recovering.
    Running,
    /// Paused by a user.
    Paused,
    /// Stopping after a cancel.
    Canceling,
    /// Recovery over; waits for rollback or confirm.
    Completed,
    /// Rolling back or confirming.
    Clearing,
    /// Rollback or confirm failed.
    ClearFailed,
    /// Writing the report.
    Reporting,
    /// Done.
    Finished,
}

impl StateName {
    /// Every state, in the spec's order.
    pub const ALL: [StateName; 10] = [
        StateName::Waiting,
        StateName::Pending,
        StateName::Running,
        StateName::Paused,
        StateName::Canceling,
        StateName::Completed,
        StateName::Clearing,
        StateName::ClearFailed,
        StateName::Reporting,
        StateName::Finished,
    ];
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateName::Waiting => "waiting",
            StateName::Pending => "pending",
            StateName::Running => "running",
            StateName::Paused => "paused",
            StateName::Canceling => "canceling",
            StateName::Completed => "completed",
            StateName::Clearing => "clearing",
            StateName::ClearFailed => "clear-failed",
            StateName::Reporting => "reporting",
            StateName::Finished => "finished",
        })
    }
}

/// A state with the data it carries: a result exactly from `completed` on, the
/// clearing operation in `clearing`/`clear-failed`, how the job ended from `reporting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Not triggered yet.
    Waiting,
    /// Triggered, not started.
    Pending,
    /// Recovering.
    Running,
    /// Paused by a user.
    Paused,
    /// Stopping after a cancel.
    Canceling,
    /// Recovery over.
    Completed {
        /// The recovery's result.
        result: JobResult,
    },
    /// Rolling back or confirming.
    Clearing {
        /// The recovery's result.
        result: JobResult,
        /// Rollback or confirm.
        operation: ClearOperation,
    },
    /// Rollback or confirm failed.
    ClearFailed {
        /// The recovery's result.
        result: JobResult,
        /// The operation that failed.
        operation: ClearOperation,
    },
    /// Writing the report.
    Reporting {
        /// The recovery's result.
        result: JobResult,
        /// How the job ended.
        ending: Ending,
    },
    /// Done.
    Finished {
        /// The recovery's result.
        result: JobResult,
        /// How the job ended.
        ending: Ending,
    },
}

impl Phase {
    /// The state's name.
    pub fn name(&self) -> StateName {
        match self {
            Phase::Waiting => StateName::Waiting,
            Phase::Pending => StateName::Pending,
            Phase::Running => StateName::Running,
            Phase::Paused => StateName::Paused,
            Phase::Canceling => StateName::Canceling,
            Phase::Completed { .. } => StateName::Completed,
            Phase::Clearing { .. } => StateName::Clearing,
            Phase::ClearFailed { .. } => StateName::ClearFailed,
            Phase::Reporting { .. } => StateName::Reporting,
            Phase::Finished { .. } => StateName::Finished,
        }
    }

    /// The result, set exactly from `completed` on.
    pub fn result(&self) -> Option<JobResult> {
        match *self {
            Phase::Waiting | Phase::Pending | Phase::Running | Phase::Paused | Phase::Canceling => {
                None
            }
            Phase::Completed { result }
            | Phase::Clearing { result, .. }
            | Phase::ClearFailed { result, .. }
            | Phase::Reporting { result, .. }
            | Phase::Finished { result, .. } => Some(result),
        }
    }
}

/// A job as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobState {
    /// What kind of job.
    pub kind: JobKind,
    /// Where it is.
    pub phase: Phase,
}

impl JobState {
    /// A newly created job: a `now` job is triggered at once (`pending`, and the engine
    /// must take the frozen copy); `at` and `schedule` jobs wait for their time.
    pub fn created(kind: JobKind, run: RunType) -> (JobState, Vec<Effect>) {
        match run {
            RunType::Now => (
                JobState {
                    kind,
                    phase: Phase::Pending,
                },
                vec![Effect::FreezeCopy],
            ),
            RunType::At | RunType::Schedule => (
                JobState {
                    kind,
                    phase: Phase::Waiting,
                },
                vec![],
            ),
        }
    }
}

/// Whether a pending job may start now; computed by [`super::queue::start_gate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StartGate {
    /// No active job of the group and this job is first in the group's queue.
    Open,
    /// Another job of the same protection group is active.
    GroupBusy {
        /// The active job.
        job: JobId,
    },
    /// An earlier job of the same group is queued before this one.
    BehindInQueue {
        /// The job first in the group's queue.
        first: JobId,
    },
}

/// Which data a retry recovers from (jobs.md, "Retry (re-recover)").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RetryPoint {
    /// The job's own recovery point.
    JobPoint,
    /// Another point: the re-recovered instances are not connected to any network.
    Other(RecoveryPoint),
}

/// A bounded extension of the rollback wait, in minutes (1 minute to 7 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollbackExtension(u32);

/// An extension outside 1 minute .. 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rollback wait can be extended by 1 to {max} minutes (7 days) at a time, not {got}", max = RollbackExtension::MAX_MINUTES)]
pub struct ExtensionError {
    /// The minutes asked for.
    pub got: u64,
}

impl RollbackExtension {
    /// Seven days.
    pub const MAX_MINUTES: u32 = 7 * 24 * 60;

    /// Validates an extension in minutes.
    pub fn parse(minutes: u64) -> Result<RollbackExtension, ExtensionError> {
        match u32::try_from(minutes) {
            Ok(m) if (1..=Self::MAX_MINUTES).contains(&m) => Ok(RollbackExtension(m)),
            _ => Err(ExtensionError { got: minutes }),
        }
    }

    /// The extension in minutes.
    pub fn minutes(self) -> u32 {
        self.0
    }
}

/// A user operation (jobs.md: "Operations a user asks for", plus "extend rollback
/// wait").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Start a pending job (with the queue's verdict) or resume a paused one (the gate
    /// is not consulted then: the paused job is the group's active job).
    Run(StartGate),
    /// Pause a running job.
    Pause,
    /// Stop a running or paused job.
    Cancel,
    /// Re-recover chosen instances of a completed DR job.
    Retry {
        /// The instances to recover again (at least one).
        instances: Vec<InstanceId>,
        /// From the job's point or another one.
        point: RetryPoint,
    },
    /// Delete everything the job created.
    Rollback,
    /// Retry a failed rollback (DR).
    RetryRollback,
    /// Finish without cleanup; returns the cleanup script.
    IgnoreRollback,
    /// Keep the recovered workload (DR with success / partial_success).
    Confirm,
    /// Retry a failed confirm.
    RetryConfirm,
    /// Abandon a failed confirm: roll back instead.
    CancelConfirm,
    /// Postpone the automatic rollback.
    ExtendRollbackWait(RollbackExtension),
}

/// What the recovery tasks achieved (computed by
/// [`super::recovery_graph::TaskGraph::job_result`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TasksOutcome {
    /// Every instance recovered.
    Success,
    /// Some instances recovered.
    PartialSuccess,
    /// No instance recovered.
    Failed,
}

impl TasksOutcome {
    fn result(self) -> JobResult {
        match self {
            TasksOutcome::Success => JobResult::Success,
            TasksOutcome::PartialSuccess => JobResult::PartialSuccess,
            TasksOutcome::Failed => JobResult::Failed,
        }
    }
}

/// Everything that can happen to a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    /// A user operation.
    Operation(Operation),
    /// The job's time came or its schedule fired (or a `now` job was created).
    Trigger,
    /// Every recovery task is done (or skipped); `outcome` counts the instances.
    AllTasksDone(TasksOutcome),
    /// A paused job was not resumed in time.
    PauseTimeout,
    /// A drill's rollback time came.
    RollbackTimeout,
    /// Every clear task (rollback or confirm) is done.
    AllClearTasksDone {
        /// Whether every clear task succeeded.
        succeeded: bool,
    },
    /// The report was stored.
    ReportWritten,
    /// A scheduled drill could not start within 10 minutes of its time.
    StartDeadlinePassed,
    /// The scheduler computed a finished scheduled drill's next run.
    Rearm,
}

/// The name of an event, for errors and the spec table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventName {
    /// `run`
    Run,
    /// `pause`
    Pause,
    /// `cancel`
    Cancel,
    /// `retry`
    Retry,
    /// `rollback`
    Rollback,
    /// `retry-rollback`
    RetryRollback,
    /// `ignore-rollback`
    IgnoreRollback,
    /// `confirm`
    Confirm,
    /// `retry-confirm`
    RetryConfirm,
    /// `cancel-confirm`
    CancelConfirm,
    /// `extend-rollback-wait`
    ExtendRollbackWait,
    /// trigger
    Trigger,
    /// all tasks done
    AllTasksDone,
    /// pause timeout
    PauseTimeout,
    /// rollback timeout
    RollbackTimeout,
    /// all clear tasks done
    AllClearTasksDone,
    /// report written
    ReportWritten,
    /// start deadline passed
    StartDeadlinePassed,
    /// re-arm
    Rearm,
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventName::Run => "run",
            EventName::Pause => "pause",
            EventName::Cancel => "cancel",
            EventName::Retry => "retry",
            EventName::Rollback => "roll back",
            EventName::RetryRollback => "retry the rollback of",
            EventName::IgnoreRollback => "ignore the rollback of",
            EventName::Confirm => "confirm",
            EventName::RetryConfirm => "retry the confirm of",
            EventName::CancelConfirm => "cancel the confirm of",
            EventName::ExtendRollbackWait => "extend the rollback wait of",
            EventName::Trigger => "trigger",
            EventName::AllTasksDone => "complete the tasks of",
            EventName::PauseTimeout => "apply the pause timeout to",
            EventName::RollbackTimeout => "apply the rollback timeout to",
            EventName::AllClearTasksDone => "complete the clear tasks of",
            EventName::ReportWritten => "record the report of",
            EventName::StartDeadlinePassed => "apply the 10-minute start deadline to",
            EventName::Rearm => "re-arm",
        })
    }
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> EventName {
        match self {
            Event::Operation(op) => match op {
                Operation::Run(_) => EventName::Run,
                Operation::Pause => EventName::Pause,
                Operation::Cancel => EventName::Cancel,
                Operation::Retry { .. } => EventName::Retry,
                Operation::Rollback => EventName::Rollback,
                Operation::RetryRollback => EventName::RetryRollback,
                Operation::IgnoreRollback => EventName::IgnoreRollback,
                Operation::Confirm => EventName::Confirm,
                Operation::RetryConfirm => EventName::RetryConfirm,
                Operation::CancelConfirm => EventName::CancelConfirm,
                Operation::ExtendRollbackWait(_) => EventName::ExtendRollbackWait,
            },
            Event::Trigger => EventName::Trigger,
            Event::AllTasksDone(_) => EventName::AllTasksDone,
            Event::PauseTimeout => EventName::PauseTimeout,
            Event::RollbackTimeout => EventName::RollbackTimeout,
            Event::AllClearTasksDone { .. } => EventName::AllClearTasksDone,
            Event::ReportWritten => EventName::ReportWritten,
            Event::StartDeadlinePassed => EventName::StartDeadlinePassed,
            Event::Rearm => EventName::Rearm,
        }
    }
}

/// Why a scheduled drill was canceled without running.
pub const START_DEADLINE_REASON: &str = "the drill could not start within 10 minutes of its time because an earlier job of the same protection group was still active";

/// What the engine must do after a transition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Take the frozen copy of plan, group and clusters (jobs.md, "The queue").
    FreezeCopy,
    /// Start the recovery tasks.
    StartRecovery,
    /// Stop launching tasks; running calls finish.
    PauseTasks,
    /// Arm the pause timeout.
    ArmPauseTimeout,
    /// Disarm the pause timeout.
    DisarmPauseTimeout,
    /// Launch tasks again.
    ResumeTasks,
    /// Launch no further task; the job completes with `canceled` when the running
    /// ones are done.
    CancelTasks,
    /// Arm the drill's automatic rollback at "cleanup scheduled at".
    ArmRollbackTimer,
    /// Disarm the automatic rollback.
    DisarmRollbackTimer,
    /// Move the automatic rollback later.
    PostponeRollback(RollbackExtension),
    /// Re-recover the chosen instances.
    StartRetry {
        /// The instances.
        instances: Vec<InstanceId>,
        /// From which point.
        point: RetryPoint,
    },
    /// Delete everything recorded as created by the job, in reverse dependency order.
    StartRollback,
    /// Confirm: delete the group's other plans; with `split_failed`, roll back the
    /// failed instances and the resources only they use, and split them into a new
    /// protection group and plan.
    StartConfirm {
        /// The result was `partial_success`.
        split_failed: bool,
    },
    /// Produce the cleanup script for what is left on the target.
    IssueCleanupScript,
    /// Record why the job ended without running.
    RecordReason(&'static str),
    /// Write the (immutable) report.
    WriteReport,
    /// A one-time job leaves the job list (its report stays).
    RemoveFromJobList,
    /// A confirmed DR: delete its plan and protection group; the workload now lives on
    /// the target.
    RemovePlanAndGroup,
    /// A scheduled drill: compute its next run, then send [`Event::Rearm`].
    ScheduleNextRun,
}

/// Why an event was refused, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The operation does not apply in this state at all.
    #[error("this is possible only when the job is {allowed}")]
    WrongState {
        /// The states in which it is possible.
        allowed: &'static str,
    },
    /// Pending jobs are started by the engine; canceling does not apply to them.
    #[error("a pending job has not started; delete the job instead")]
    CancelPending,
    /// A system event that is stale in this state (e.g. a timer after the user acted).
    #[error("nothing to do: the event no longer applies in this state")]
    Stale,
    /// Confirm and its variants are for DR jobs.
    #[error("only a DR job can be confirmed; a drill is rolled back")]
    DrillCannotConfirm,
    /// Confirm needs a (partly) successful recovery.
    #[error(
        "only a DR job with result success or partial_success can be confirmed (this one is {result}); roll it back, or retry the failed instances first"
    )]
    NotConfirmable {
        /// The job's result.
        result: JobResult,
    },
    /// Retry is for DR jobs.
    #[error("only a completed DR job can retry instances; roll the drill back and run a new one")]
    DrillCannotRetry,
    /// A retry needs instances.
    #[error("choose at least one instance to recover again")]
    NoInstancesChosen,
    /// Drills retry their rollback by themselves.
    #[error(
        "a drill rolls back again by itself at its cleanup time; extend the wait, or ignore the rollback and use the cleanup script"
    )]
    DrillRetriesByItself,
    /// Retry/cancel confirm need a failed confirm.
    #[error(
        "this applies only after a failed confirm; the failed operation here was a rollback: retry the rollback or ignore it"
    )]
    NotAfterConfirm,
    /// Ignore-rollback needs a failed rollback.
    #[error(
        "the failed operation was a confirm: retry the confirm, or cancel it to roll the target back"
    )]
    IgnoreAfterConfirm,
    /// DR jobs are never rolled back automatically.
    #[error("a DR job is never rolled back automatically")]
    NoAutomaticRollbackForDr,
    /// DR jobs wait for the operator in `completed`.
    #[error(
        "a completed DR job waits for a confirm or rollback; there is no cleanup time to extend"
    )]
    NothingToExtend,
    /// Another job of the group is active.
    #[error(
        "job {job} of the same protection group is still active; this job starts when it has finished"
    )]
    GroupBusy {
        /// The active job.
        job: JobId,
    },
    /// An earlier job is queued first.
    #[error("job {first} of the same protection group was queued earlier and starts first")]
    BehindInQueue {
        /// The job first in the queue.
        first: JobId,
    },
    /// The 10-minute rule is for scheduled drills.
    #[error("only a scheduled drill is canceled when it cannot start in time")]
    NotScheduled,
    /// A one-time job that finished is gone.
    #[error("the job has finished; its report is in the report list")]
    Finished,
}

/// A refused event: which state, which event, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} a {kind} job that is {state}: {reason}")]
pub struct InvalidTransition {
    /// The job's state.
    pub state: StateName,
    /// The refused event.
    pub event: EventName,
    /// Drill or DR.
    pub kind: JobType,
    /// Why, and what to do instead.
    pub reason: Refusal,
}

/// Applies one event to a job (jobs.md, the transition table and "What each user
/// operation means"). Total: every (state, event) pair is either a transition with its
/// effects or a typed refusal; the input is never changed.
pub fn step(job: &JobState, event: Event) -> Result<(JobState, Vec<Effect>), InvalidTransition> {
    let kind = job.kind;
    let refuse = |reason: Refusal| InvalidTransition {
        state: job.phase.name(),
        event: event.name(),
        kind: kind.job_type(),
        reason,
    };
    let to = |phase: Phase, effects: Vec<Effect>| Ok((JobState { kind, phase }, effects));
    let drill = kind.job_type() == JobType::Drill;
    let wrong = |allowed: &'static str| Err(refuse(Refusal::WrongState { allowed }));

    match (job.phase, &event) {
        // waiting
        (Phase::Waiting, Event::Trigger) => to(Phase::Pending, vec![Effect::FreezeCopy]),

        // pending
        (Phase::Pending, Event::Operation(Operation::Run(gate))) => match gate {
            StartGate::Open => to(Phase::Running, vec![Effect::StartRecovery]),
            StartGate::GroupBusy { job } => Err(refuse(Refusal::GroupBusy { job: job.clone() })),
            StartGate::BehindInQueue { first } => Err(refuse(Refusal::BehindInQueue {
                first: first.clone(),
            })),
        },
        (Phase::Pending, Event::StartDeadlinePassed) => {
            if kind == JobKind::ScheduledDrill {
                to(
                    Phase::Reporting {
                        result: JobResult::Canceled,
                        ending: Ending::NotStarted,
                    },
                    vec![
                        Effect::RecordReason(START_DEADLINE_REASON),
                        Effect::WriteReport,
                    ],
                )
            } else {
                Err(refuse(Refusal::NotScheduled))
            }
        }
        (Phase::Pending, Event::Operation(Operation::Cancel)) => {
            Err(refuse(Refusal::CancelPending))
        }

        // running
        (Phase::Running, Event::Operation(Operation::Pause)) => to(
            Phase::Paused,
            vec![Effect::PauseTasks, Effect::ArmPauseTimeout],
        ),
        (Phase::Running, Event::Operation(Operation::Cancel)) => {
            to(Phase::Canceling, vec![Effect::CancelTasks])
        }
        (Phase::Running, Event::AllTasksDone(outcome)) => {
            let effects = if drill {
                vec![Effect::ArmRollbackTimer]
            } else {
                vec![]
            };
            to(
                Phase::Completed {
                    result: outcome.result(),
                },
                effects,
            )
        }

        // paused
        (Phase::Paused, Event::Operation(Operation::Run(_))) => to(
            Phase::Running,
            vec![Effect::DisarmPauseTimeout, Effect::ResumeTasks],
        ),
        (Phase::Paused, Event::Operation(Operation::Cancel)) => to(
            Phase::Canceling,
            vec![Effect::DisarmPauseTimeout, Effect::CancelTasks],
        ),
        (Phase::Paused, Event::PauseTimeout) => to(Phase::Running, vec![Effect::ResumeTasks]),

        // canceling
        (Phase::Canceling, Event::AllTasksDone(_)) => {
            let effects = if drill {
                vec![Effect::ArmRollbackTimer]
            } else {
                vec![]
            };
            to(
                Phase::Completed {
                    result: JobResult::Canceled,
                },
                effects,
            )
        }

        // completed
        (Phase::Completed { result }, Event::Operation(Operation::Rollback)) => {
            let mut effects = Vec::new();
            if drill {
                effects.push(Effect::DisarmRollbackTimer);
            }
            effects.push(Effect::StartRollback);
            to(
                Phase::Clearing {
                    result,
                    operation: ClearOperation::Rollback,
                },
                effects,
            )
        }
        (Phase::Completed { result }, Event::Operation(Operation::Confirm)) => {
            if drill {
                Err(refuse(Refusal::DrillCannotConfirm))
            } else if matches!(result, JobResult::Success | JobResult::PartialSuccess) {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Confirm,
                    },
                    vec![Effect::StartConfirm {
                        split_failed: result == JobResult::PartialSuccess,
                    }],
                )
            } else {
                Err(refuse(Refusal::NotConfirmable { result }))
            }
        }
        (Phase::Completed { result }, Event::RollbackTimeout) => {
            if drill {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Rollback,
                    },
                    vec![Effect::StartRollback],
                )
            } else {
                Err(refuse(Refusal::NoAutomaticRollbackForDr))
            }
        }
        (Phase::Completed { .. }, Event::Operation(Operation::Retry { instances, point })) => {
            if drill {
                Err(refuse(Refusal::DrillCannotRetry))
            } else if instances.is_empty() {
                Err(refuse(Refusal::NoInstancesChosen))
            } else {
                to(
                    Phase::Running,
                    vec![Effect::StartRetry {
                        instances: instances.clone(),
                        point: point.clone(),
                    }],
                )
            }
        }
        (Phase::Completed { .. }, Event::Operation(Operation::ExtendRollbackWait(by))) => {
            if drill {
                to(job.phase, vec![Effect::PostponeRollback(*by)])
            } else {
                Err(refuse(Refusal::NothingToExtend))
            }
        }

        // clearing
        (Phase::Clearing { result, operation }, Event::AllClearTasksDone { succeeded }) => {
            if *succeeded {
                let ending = match operation {
                    ClearOperation::Rollback => Ending::RolledBack,
                    ClearOperation::Confirm => Ending::Confirmed,
                };
                to(
                    Phase::Reporting { result, ending },
                    vec![Effect::WriteReport],
                )
            } else {
                let effects = if drill {
                    vec![Effect::ArmRollbackTimer]
                } else {
                    vec![]
                };
                to(Phase::ClearFailed { result, operation }, effects)
            }
        }

        // clear-failed
        (Phase::ClearFailed { result, .. }, Event::Operation(Operation::RetryRollback)) => {
            if drill {
                Err(refuse(Refusal::DrillRetriesByItself))
            } else {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Rollback,
                    },
                    vec![Effect::StartRollback],
                )
            }
        }
        (Phase::ClearFailed { result, operation }, Event::Operation(Operation::IgnoreRollback)) => {
            match operation {
                ClearOperation::Confirm => Err(refuse(Refusal::IgnoreAfterConfirm)),
                ClearOperation::Rollback => {
                    let mut effects = Vec::new();
                    if drill {
                        effects.push(Effect::DisarmRollbackTimer);
                    }
                    effects.extend([Effect::IssueCleanupScript, Effect::WriteReport]);
                    to(
                        Phase::Reporting {
                            result,
                            ending: Ending::CleanupIgnored,
                        },
                        effects,
                    )
                }
            }
        }
        (
            Phase::ClearFailed { result, operation },
            Event::Operation(op @ (Operation::RetryConfirm | Operation::CancelConfirm)),
        ) => {
            if drill {
                Err(refuse(Refusal::DrillCannotConfirm))
            } else if operation != ClearOperation::Confirm {
                Err(refuse(Refusal::NotAfterConfirm))
            } else if *op == Operation::RetryConfirm {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Confirm,
                    },
                    vec![Effect::StartConfirm {
                        split_failed: result == JobResult::PartialSuccess,
                    }],
                )
            } else {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Rollback,
                    },
                    vec![Effect::StartRollback],
                )
            }
        }
        (Phase::ClearFailed { result, .. }, Event::RollbackTimeout) => {
            if drill {
                to(
                    Phase::Clearing {
                        result,
                        operation: ClearOperation::Rollback,
                    },
                    vec![Effect::StartRollback],
                )
            } else {
                Err(refuse(Refusal::NoAutomaticRollbackForDr))
            }
        }
        (Phase::ClearFailed { .. }, Event::Operation(Operation::ExtendRollbackWait(by))) => {
            to(job.phase, vec![Effect::PostponeRollback(*by)])
        }

        // reporting
        (Phase::Reporting { result, ending }, Event::ReportWritten) => {
            let effects = match (kind, ending) {
                (JobKind::ScheduledDrill, _) => vec![Effect::ScheduleNextRun],
                (JobKind::Dr, Ending::Confirmed) => {
                    vec![Effect::RemovePlanAndGroup, Effect::RemoveFromJobList]
                }
                _ => vec![Effect::RemoveFromJobList],
            };
            to(Phase::Finished { result, ending }, effects)
        }

        // finished
        (Phase::Finished { .. }, Event::Rearm) if kind == JobKind::ScheduledDrill => {
            to(Phase::Waiting, vec![])
        }
        (Phase::Finished { .. }, _) => Err(refuse(Refusal::Finished)),

        // everything else: explain where the operation applies
        (_, Event::Operation(op)) => match op {
            Operation::Run(_) => wrong("pending (started by the queue) or paused"),
            Operation::Pause => wrong("running"),
            Operation::Cancel => wrong("running or paused"),
            Operation::Retry { .. } => wrong("completed (DR jobs only)"),
            Operation::Rollback => wrong("completed"),
            Operation::RetryRollback => wrong("clear-failed (DR jobs only)"),
            Operation::IgnoreRollback => wrong("clear-failed after a rollback"),
            Operation::Confirm => {
                wrong("completed (DR jobs with result success or partial_success)")
            }
            Operation::RetryConfirm | Operation::CancelConfirm => {
                wrong("clear-failed after a confirm (DR jobs only)")
            }
            Operation::ExtendRollbackWait(_) => {
                if drill {
                    wrong("completed or clear-failed")
                } else {
                    wrong("clear-failed")
                }
            }
        },
        (_, _) => Err(refuse(Refusal::Stale)),
    }
}

#[cfg(test)]
mod spec_table;
#[cfg(test)]
mod tests;
