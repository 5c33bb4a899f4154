use super::spec_table::{Guard, TABLE, To};
use super::*;
use crate::dr::ids::SnapshotId;
use proptest::prelude::*;

fn all_phases() -> Vec<Phase> {
    let mut v = vec![
        Phase::Waiting,
        Phase::Pending,
        Phase::Running,
        Phase::Paused,
        Phase::Canceling,
    ];
    let ops = [ClearOperation::Rollback, ClearOperation::Confirm];
    let endings = [
        Ending::RolledBack,
        Ending::Confirmed,
        Ending::CleanupIgnored,
        Ending::NotStarted,
    ];
    for result in JobResult::ALL {
        v.push(Phase::Completed { result });
        for operation in ops {
            v.push(Phase::Clearing { result, operation });
            v.push(Phase::ClearFailed { result, operation });
        }
        for ending in endings {
            v.push(Phase::Reporting { result, ending });
            v.push(Phase::Finished { result, ending });
        }
    }
    v
}

fn all_states() -> Vec<JobState> {
    JobKind::ALL
        .iter()
        .flat_map(|&kind| {
            all_phases()
                .into_iter()
                .map(move |phase| JobState { kind, phase })
        })
        .collect()
}

fn ext() -> RollbackExtension {
    RollbackExtension::parse(60).unwrap()
}

fn all_events() -> Vec<Event> {
    use Operation as O;
    let i = || vec![InstanceId::new("i-1")];
    vec![
        Event::Operation(O::Run(StartGate::Open)),
        Event::Operation(O::Run(StartGate::GroupBusy {
            job: JobId::new("j-0"),
        })),
        Event::Operation(O::Run(StartGate::BehindInQueue {
            first: JobId::new("j-0"),
        })),
        Event::Operation(O::Pause),
        Event::Operation(O::Cancel),
        Event::Operation(O::Retry {
            instances: i(),
            point: RetryPoint::JobPoint,
        }),
        Event::Operation(O::Retry {
            instances: i(),
            point: RetryPoint::Other(RecoveryPoint::Snapshot(SnapshotId::new("s-1"))),
        }),
        Event::Operation(O::Retry {
            instances: vec![],
            point: RetryPoint::JobPoint,
        }),
        Event::Operation(O::Rollback),
        Event::Operation(O::RetryRollback),
        Event::Operation(O::IgnoreRollback),
        Event::Operation(O::Confirm),
        Event::Operation(O::RetryConfirm),
        Event::Operation(O::CancelConfirm),
        Event::Operation(O::ExtendRollbackWait(ext())),
        Event::Trigger,
        Event::AllTasksDone(TasksOutcome::Success),
        Event::AllTasksDone(TasksOutcome::PartialSuccess),
        Event::AllTasksDone(TasksOutcome::Failed),
        Event::PauseTimeout,
        Event::RollbackTimeout,
        Event::AllClearTasksDone { succeeded: true },
        Event::AllClearTasksDone { succeeded: false },
        Event::ReportWritten,
        Event::StartDeadlinePassed,
        Event::Rearm,
    ]
}

fn guard_holds(g: Guard, job: &JobState, event: &Event) -> bool {
    let drill = job.kind != JobKind::Dr;
    match g {
        Guard::Drill => drill,
        Guard::Dr => !drill,
        Guard::ScheduledDrill => job.kind == JobKind::ScheduledDrill,
        Guard::GateOpen => matches!(event, Event::Operation(Operation::Run(StartGate::Open))),
        Guard::Confirmable => matches!(
            job.phase.result(),
            Some(JobResult::Success | JobResult::PartialSuccess)
        ),
        Guard::InstancesChosen => {
            matches!(event, Event::Operation(Operation::Retry { instances, .. }) if !instances.is_empty())
        }
        Guard::AfterRollback => matches!(
            job.phase,
            Phase::ClearFailed {
                operation: ClearOperation::Rollback,
                ..
            }
        ),
        Guard::AfterConfirm => matches!(
            job.phase,
            Phase::ClearFailed {
                operation: ClearOperation::Confirm,
                ..
            }
        ),
    }
}

/// What the spec table says about (job, event): `Some(target)` if allowed.
fn table_says(job: &JobState, event: &Event) -> Option<StateName> {
    TABLE
        .iter()
        .filter(|r| r.from == job.phase.name() && r.on == event.name())
        .find(|r| r.guards.iter().all(|g| guard_holds(*g, job, event)))
        .map(|r| match r.to {
            To::State(s) => s,
            To::ByClearOutcome => match event {
                Event::AllClearTasksDone { succeeded: true } => StateName::Reporting,
                _ => StateName::ClearFailed,
            },
        })
}

#[test]
fn step_matches_the_spec_table_for_every_state_and_event() {
    let mut allowed = 0;
    let mut refused = 0;
    for job in all_states() {
        for event in all_events() {
            let got = step(&job, event.clone());
            match (table_says(&job, &event), got) {
                (Some(want), Ok((next, _))) => {
                    allowed += 1;
                    assert_eq!(next.phase.name(), want, "{job:?} on {event:?}");
                    assert_eq!(next.kind, job.kind);
                }
                (None, Err(e)) => {
                    refused += 1;
                    assert_eq!(e.state, job.phase.name());
                    assert_eq!(e.event, event.name());
                    let msg = e.to_string();
                    assert!(
                        msg.contains(&format!("that is {}", job.phase.name())),
                        "{msg}"
                    );
                }
                (want, got) => panic!("{job:?} on {event:?}: table {want:?}, step {got:?}"),
            }
        }
    }
    assert_eq!(
        allowed + refused,
        3 * 57 * 26,
        "3 kinds × 57 phases × 26 events"
    );
    assert_eq!(allowed, 264, "accepted (state, event) pairs");
}

#[test]
fn every_table_row_is_reachable_by_step() {
    for r in TABLE {
        let hit = all_states().iter().any(|job| {
            all_events().iter().any(|ev| {
                job.phase.name() == r.from && ev.name() == r.on && step(job, ev.clone()).is_ok()
            })
        });
        assert!(hit, "row never taken: {r:?}");
    }
}

fn st(kind: JobKind, phase: Phase) -> JobState {
    JobState { kind, phase }
}

fn op(o: Operation) -> Event {
    Event::Operation(o)
}

#[test]
fn results_follow_the_tasks_and_cancel() {
    for (outcome, result) in [
        (TasksOutcome::Success, JobResult::Success),
        (TasksOutcome::PartialSuccess, JobResult::PartialSuccess),
        (TasksOutcome::Failed, JobResult::Failed),
    ] {
        let (s, _) = step(
            &st(JobKind::Dr, Phase::Running),
            Event::AllTasksDone(outcome),
        )
        .unwrap();
        assert_eq!(s.phase, Phase::Completed { result });
        let (s, _) = step(
            &st(JobKind::Dr, Phase::Canceling),
            Event::AllTasksDone(outcome),
        )
        .unwrap();
        assert_eq!(
            s.phase,
            Phase::Completed {
                result: JobResult::Canceled
            }
        );
    }
}

#[test]
fn drills_arm_the_rollback_timer_and_dr_jobs_do_not() {
    let done = Event::AllTasksDone(TasksOutcome::Success);
    let (_, fx) = step(&st(JobKind::OneTimeDrill, Phase::Running), done.clone()).unwrap();
    assert_eq!(fx, vec![Effect::ArmRollbackTimer]);
    let (_, fx) = step(&st(JobKind::Dr, Phase::Running), done).unwrap();
    assert!(fx.is_empty());
    let e = step(
        &st(
            JobKind::Dr,
            Phase::Completed {
                result: JobResult::Success,
            },
        ),
        Event::RollbackTimeout,
    )
    .unwrap_err();
    assert_eq!(e.reason, Refusal::NoAutomaticRollbackForDr);
}

#[test]
fn confirm_rules() {
    let partial = Phase::Completed {
        result: JobResult::PartialSuccess,
    };
    let (s, fx) = step(&st(JobKind::Dr, partial), op(Operation::Confirm)).unwrap();
    assert_eq!(
        s.phase,
        Phase::Clearing {
            result: JobResult::PartialSuccess,
            operation: ClearOperation::Confirm
        }
    );
    assert_eq!(fx, vec![Effect::StartConfirm { split_failed: true }]);
    let (_, fx) = step(
        &st(
            JobKind::Dr,
            Phase::Completed {
                result: JobResult::Success,
            },
        ),
        op(Operation::Confirm),
    )
    .unwrap();
    assert_eq!(
        fx,
        vec![Effect::StartConfirm {
            split_failed: false
        }]
    );
    for result in [JobResult::Failed, JobResult::Canceled] {
        let e = step(
            &st(JobKind::Dr, Phase::Completed { result }),
            op(Operation::Confirm),
        )
        .unwrap_err();
        assert_eq!(e.reason, Refusal::NotConfirmable { result });
        assert!(e.to_string().contains("roll it back"), "{e}");
    }
    let e = step(&st(JobKind::OneTimeDrill, partial), op(Operation::Confirm)).unwrap_err();
    assert_eq!(e.reason, Refusal::DrillCannotConfirm);
    assert_eq!(
        e.to_string(),
        "cannot confirm a drill job that is completed: only a DR job can be confirmed; a drill is rolled back"
    );
}

#[test]
fn clear_failed_switches_the_operation() {
    let failed_confirm = st(
        JobKind::Dr,
        Phase::ClearFailed {
            result: JobResult::PartialSuccess,
            operation: ClearOperation::Confirm,
        },
    );
    let (s, fx) = step(&failed_confirm, op(Operation::CancelConfirm)).unwrap();
    assert!(matches!(
        s.phase,
        Phase::Clearing {
            operation: ClearOperation::Rollback,
            ..
        }
    ));
    assert_eq!(fx, vec![Effect::StartRollback]);
    let (s, _) = step(&failed_confirm, op(Operation::RetryConfirm)).unwrap();
    assert!(matches!(
        s.phase,
        Phase::Clearing {
            operation: ClearOperation::Confirm,
            ..
        }
    ));
    let (s, _) = step(&failed_confirm, op(Operation::RetryRollback)).unwrap();
    assert!(matches!(
        s.phase,
        Phase::Clearing {
            operation: ClearOperation::Rollback,
            ..
        }
    ));
    let e = step(&failed_confirm, op(Operation::IgnoreRollback)).unwrap_err();
    assert_eq!(e.reason, Refusal::IgnoreAfterConfirm);
}

#[test]
fn ignore_rollback_returns_the_cleanup_script() {
    for kind in JobKind::ALL {
        let s = st(
            kind,
            Phase::ClearFailed {
                result: JobResult::Success,
                operation: ClearOperation::Rollback,
            },
        );
        let (next, fx) = step(&s, op(Operation::IgnoreRollback)).unwrap();
        assert_eq!(
            next.phase,
            Phase::Reporting {
                result: JobResult::Success,
                ending: Ending::CleanupIgnored
            }
        );
        assert!(fx.contains(&Effect::IssueCleanupScript));
        assert_eq!(fx.last(), Some(&Effect::WriteReport));
    }
}

#[test]
fn extend_rules() {
    let e = op(Operation::ExtendRollbackWait(ext()));
    let done = Phase::Completed {
        result: JobResult::Success,
    };
    let cf = Phase::ClearFailed {
        result: JobResult::Success,
        operation: ClearOperation::Rollback,
    };
    assert!(step(&st(JobKind::OneTimeDrill, done), e.clone()).is_ok());
    assert!(step(&st(JobKind::OneTimeDrill, cf), e.clone()).is_ok());
    assert!(step(&st(JobKind::Dr, cf), e.clone()).is_ok());
    let err = step(&st(JobKind::Dr, done), e.clone()).unwrap_err();
    assert_eq!(err.reason, Refusal::NothingToExtend);
    let (_, fx) = step(&st(JobKind::ScheduledDrill, done), e).unwrap();
    assert_eq!(fx, vec![Effect::PostponeRollback(ext())]);
    assert!(RollbackExtension::parse(0).is_err());
    assert!(RollbackExtension::parse(10_081).is_err());
    assert!(RollbackExtension::parse(u64::MAX).is_err());
    assert_eq!(RollbackExtension::parse(10_080).unwrap().minutes(), 10_080);
}

#[test]
fn finishing() {
    let rep = |ending| Phase::Reporting {
        result: JobResult::Success,
        ending,
    };
    let (s, fx) = step(
        &st(JobKind::Dr, rep(Ending::Confirmed)),
        Event::ReportWritten,
    )
    .unwrap();
    assert_eq!(s.phase.name(), StateName::Finished);
    assert_eq!(
        fx,
        vec![Effect::RemovePlanAndGroup, Effect::RemoveFromJobList]
    );
    let (_, fx) = step(
        &st(JobKind::Dr, rep(Ending::RolledBack)),
        Event::ReportWritten,
    )
    .unwrap();
    assert_eq!(fx, vec![Effect::RemoveFromJobList]);
    let (_, fx) = step(
        &st(JobKind::OneTimeDrill, rep(Ending::RolledBack)),
        Event::ReportWritten,
    )
    .unwrap();
    assert_eq!(fx, vec![Effect::RemoveFromJobList]);
    let (s, fx) = step(
        &st(JobKind::ScheduledDrill, rep(Ending::RolledBack)),
        Event::ReportWritten,
    )
    .unwrap();
    assert_eq!(fx, vec![Effect::ScheduleNextRun]);
    let (s, _) = step(&s, Event::Rearm).unwrap();
    assert_eq!(s.phase, Phase::Waiting);
    let fin = st(
        JobKind::Dr,
        Phase::Finished {
            result: JobResult::Success,
            ending: Ending::Confirmed,
        },
    );
    let e = step(&fin, Event::Rearm).unwrap_err();
    assert_eq!(e.reason, Refusal::Finished);
}

#[test]
fn ten_minute_rule_cancels_a_scheduled_drill_with_its_reason() {
    let (s, fx) = step(
        &st(JobKind::ScheduledDrill, Phase::Pending),
        Event::StartDeadlinePassed,
    )
    .unwrap();
    assert_eq!(
        s.phase,
        Phase::Reporting {
            result: JobResult::Canceled,
            ending: Ending::NotStarted
        }
    );
    assert_eq!(
        fx,
        vec![
            Effect::RecordReason(START_DEADLINE_REASON),
            Effect::WriteReport
        ]
    );
    assert!(START_DEADLINE_REASON.contains("10 minutes"));
    assert!(
        step(
            &st(JobKind::OneTimeDrill, Phase::Pending),
            Event::StartDeadlinePassed
        )
        .is_err()
    );
}

#[test]
fn queue_refusals_name_the_blocking_job() {
    let e = step(
        &st(JobKind::Dr, Phase::Pending),
        op(Operation::Run(StartGate::GroupBusy {
            job: JobId::new("job-7"),
        })),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("job-7 of the same protection group is still active")
    );
    let e = step(&st(JobKind::Dr, Phase::Pending), op(Operation::Cancel)).unwrap_err();
    assert!(e.to_string().contains("delete the job instead"), "{e}");
}

#[test]
fn created_jobs() {
    let (s, fx) = JobState::created(JobKind::Dr, RunType::Now);
    assert_eq!((s.phase, fx), (Phase::Pending, vec![Effect::FreezeCopy]));
    let (s, fx) = JobState::created(JobKind::ScheduledDrill, RunType::Schedule);
    assert_eq!((s.phase, fx), (Phase::Waiting, vec![]));
    assert_eq!(JobKind::of(JobType::Dr, RunType::Schedule), None);
    assert_eq!(
        JobKind::of(JobType::Drill, RunType::Schedule),
        Some(JobKind::ScheduledDrill)
    );
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop::sample::select(all_events())
}

fn arb_start() -> impl Strategy<Value = (JobKind, RunType)> {
    prop::sample::select(vec![
        (JobKind::OneTimeDrill, RunType::Now),
        (JobKind::OneTimeDrill, RunType::At),
        (JobKind::ScheduledDrill, RunType::Schedule),
        (JobKind::Dr, RunType::Now),
        (JobKind::Dr, RunType::At),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No sequence of events reaches an undefined state, and the invariants hold
    /// after every accepted event.
    #[test]
    fn invariants_hold_along_any_event_sequence(
        (kind, run) in arb_start(),
        events in prop::collection::vec(arb_event(), 0..60),
    ) {
        let (mut job, _) = JobState::created(kind, run);
        for event in events {
            let before = job;
            match step(&job, event.clone()) {
                Ok((next, effects)) => {
                    // result set iff state >= completed
                    prop_assert_eq!(next.phase.result().is_some(), next.phase.name() >= StateName::Completed);
                    prop_assert_eq!(next.kind, kind);
                    // the result never changes once set, except that a retry runs again
                    if let (Some(a), Some(b)) = (before.phase.result(), next.phase.result()) {
                        prop_assert_eq!(a, b);
                    }
                    // finished is terminal except for scheduled drills (back to waiting)
                    if before.phase.name() == StateName::Finished {
                        prop_assert_eq!(kind, JobKind::ScheduledDrill);
                        prop_assert_eq!(next.phase, Phase::Waiting);
                    }
                    // drills are never confirmed; DR jobs never get an automatic rollback
                    if kind != JobKind::Dr {
                        let confirming = matches!(next.phase, Phase::Clearing { operation: ClearOperation::Confirm, .. } | Phase::ClearFailed { operation: ClearOperation::Confirm, .. });
                        prop_assert!(!confirming);
                        let confirm_effect = effects.iter().any(|e| matches!(e, Effect::StartConfirm { .. } | Effect::RemovePlanAndGroup));
                        prop_assert!(!confirm_effect);
                    } else {
                        prop_assert!(!effects.contains(&Effect::ArmRollbackTimer));
                    }
                    // only a confirmed DR removes plan and group
                    if effects.contains(&Effect::RemovePlanAndGroup) {
                        let confirmed = matches!(next.phase, Phase::Finished { ending: Ending::Confirmed, .. });
                        prop_assert!(confirmed);
                    }
                    job = next;
                }
                Err(e) => {
                    prop_assert_eq!(e.state, before.phase.name());
                    prop_assert_eq!(e.event, event.name());
                }
            }
        }
    }
}
