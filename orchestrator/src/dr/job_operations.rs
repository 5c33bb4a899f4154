//! Which user operations a job's state allows now: exactly those
//! [`super::job_state::step`] accepts (the monitor's buttons, jobs.md "What each user
//! operation means"). Pure; derived from the state machine, so the two never disagree.

use super::ids::InstanceId;
use super::job_state::{Event, JobState, Operation, RetryPoint, RollbackExtension, StartGate};

/// Every user operation by its API name (`/api/v1/jobs/{id}/operations/{op}`), in the
/// order the console shows them.
pub const ALL: [&str; 11] = [
    "run",
    "pause",
    "cancel",
    "retry",
    "rollback",
    "confirm",
    "extend-rollback-wait",
    "retry-rollback",
    "ignore-rollback",
    "retry-confirm",
    "cancel-confirm",
];

/// A representative operation of each name: what the state machine is asked about.
/// `run` with an open queue gate (the queue's verdict is the engine's, not the
/// state's), `retry` with one instance, an extension of one minute.
fn sample(name: &str) -> Option<Operation> {
    Some(match name {
        "run" => Operation::Run(StartGate::Open),
        "pause" => Operation::Pause,
        "cancel" => Operation::Cancel,
        "retry" => Operation::Retry {
            instances: vec![InstanceId::new("any")],
            point: RetryPoint::JobPoint,
        },
        "rollback" => Operation::Rollback,
        "confirm" => Operation::Confirm,
        "extend-rollback-wait" => Operation::ExtendRollbackWait(RollbackExtension::parse(1).ok()?),
        "retry-rollback" => Operation::RetryRollback,
        "ignore-rollback" => Operation::IgnoreRollback,
        "retry-confirm" => Operation::RetryConfirm,
        "cancel-confirm" => Operation::CancelConfirm,
        _ => return None,
    })
}

/// The names of the operations `job` allows now, in [`ALL`]'s order.
pub fn allowed(job: &JobState) -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|name| {
            sample(name).is_some_and(|op| super::job_state::step(job, Event::Operation(op)).is_ok())
        })
        .collect()
}

/// Whether the operation destroys or abandons work (the console asks first).
pub fn destructive(name: &str) -> bool {
    matches!(
        name,
        "cancel" | "rollback" | "confirm" | "ignore-rollback" | "cancel-confirm" | "retry-rollback"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::job::{ClearOperation, Ending, JobResult};
    use crate::dr::job_state::{JobKind, Phase};

    fn at(kind: JobKind, phase: Phase) -> Vec<&'static str> {
        allowed(&JobState { kind, phase })
    }

    #[test]
    fn every_name_has_a_sample() {
        for name in ALL {
            assert!(sample(name).is_some(), "{name}");
        }
        assert!(sample("explode").is_none());
    }

    #[test]
    fn the_buttons_of_each_state_follow_the_spec() {
        use JobKind::{Dr, OneTimeDrill, ScheduledDrill};
        assert!(at(OneTimeDrill, Phase::Waiting).is_empty());
        assert_eq!(at(Dr, Phase::Pending), ["run"]);
        assert_eq!(at(Dr, Phase::Running), ["pause", "cancel"]);
        assert_eq!(at(Dr, Phase::Paused), ["run", "cancel"]);
        assert!(at(Dr, Phase::Canceling).is_empty());
        let done = Phase::Completed {
            result: JobResult::Success,
        };
        assert_eq!(at(OneTimeDrill, done), ["rollback", "extend-rollback-wait"]);
        assert_eq!(
            at(ScheduledDrill, done),
            ["rollback", "extend-rollback-wait"]
        );
        assert_eq!(at(Dr, done), ["retry", "rollback", "confirm"]);
        let failed = Phase::Completed {
            result: JobResult::Failed,
        };
        assert_eq!(at(Dr, failed), ["retry", "rollback"]);
        let rollback_failed = Phase::ClearFailed {
            result: JobResult::Success,
            operation: ClearOperation::Rollback,
        };
        assert_eq!(
            at(OneTimeDrill, rollback_failed),
            ["extend-rollback-wait", "ignore-rollback"]
        );
        assert_eq!(
            at(Dr, rollback_failed),
            ["extend-rollback-wait", "retry-rollback", "ignore-rollback"]
        );
        let confirm_failed = Phase::ClearFailed {
            result: JobResult::PartialSuccess,
            operation: ClearOperation::Confirm,
        };
        assert_eq!(
            at(Dr, confirm_failed),
            [
                "extend-rollback-wait",
                "retry-rollback",
                "retry-confirm",
                "cancel-confirm"
            ]
        );
        let finished = Phase::Finished {
            result: JobResult::Success,
            ending: Ending::RolledBack,
        };
        assert!(at(Dr, finished).is_empty());
    }

    #[test]
    fn destructive_operations_are_confirmed() {
        assert!(destructive("rollback") && destructive("ignore-rollback"));
        assert!(!destructive("pause") && !destructive("run") && !destructive("retry"));
    }
}
