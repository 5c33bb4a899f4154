//! The pieces together, the way the engine will use them: a DR job from creation to
//! a confirmed partial success, and a drill from trigger to rollback with a failed
//! clearing that is ignored.

use std::collections::BTreeSet;

use super::ids::{GroupId, InstanceId, JobId, SnapshotId};
use super::job::{ClearOperation, Ending, JobResult, JobType, RecoveryPoint, RunType};
use super::job_rules::{JobCreationFacts, JobRequest, check_create};
use super::job_state::{Effect, Event, JobKind, JobState, Operation, Phase, StateName, step};
use super::names::ResourceName;
use super::plan_state::PlanState;
use super::queue::{QueuedJob, start_gate};
use super::recovery_graph::fixture::{run, shop};
use super::recovery_graph::{Scope, TaskGraph, TaskKind};
use super::rollback::{Created, CreatedResources, RecordId, Resource, confirm_split};

fn apply(job: &mut JobState, event: Event) -> Vec<Effect> {
    let (next, effects) = step(job, event).expect("allowed transition");
    *job = next;
    effects
}

fn queued(id: &str, state: StateName) -> QueuedJob {
    QueuedJob {
        id: JobId::new(id),
        group: GroupId::new("g"),
        state,
        queued: 1,
        scheduled_slot: None,
    }
}

/// Records one resource per task that ran (enough for ownership and order).
fn record_all(g: &TaskGraph, order: &[super::recovery_graph::TaskId]) -> CreatedResources {
    let mut c = CreatedResources::new();
    for (n, id) in order.iter().enumerate() {
        let t = g.task(*id).expect("task");
        if matches!(t.kind, TaskKind::StartInstance(_)) {
            continue;
        }
        c.record(Created {
            resource: Resource::Port {
                id: format!("r{n}"),
            },
            task: t.kind.clone(),
            depends_on: vec![],
            serves: t.serves.clone(),
        })
        .expect("record");
    }
    c
}

#[test]
fn dr_partial_success_confirmed_and_split() {
    let facts = JobCreationFacts {
        plan_state: PlanState::Emergency,
        group_jobs: vec![],
        snapshots: vec![SnapshotId::new("s1")],
    };
    let req = JobRequest {
        job_type: JobType::Dr,
        run_type: RunType::Now,
        point: RecoveryPoint::LatestData,
    };
    let kind = check_create(&req, &facts).expect("allowed in Emergency");
    let (mut job, fx) = JobState::created(kind, RunType::Now);
    assert_eq!(fx, vec![Effect::FreezeCopy]);
    let gate = start_gate(&[queued("j", StateName::Pending)], &JobId::new("j")).expect("pending");
    assert_eq!(
        apply(&mut job, Event::Operation(Operation::Run(gate))),
        vec![Effect::StartRecovery]
    );

    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).expect("graph");
    let bad = g
        .tasks()
        .iter()
        .position(|t| t.kind == TaskKind::CreateInstance(InstanceId::new("web2")))
        .expect("task");
    let (status, order) = run(&g, |t| t.0 == bad);
    let outcome = g.job_result(&status).expect("done");
    apply(&mut job, Event::AllTasksDone(outcome));
    assert_eq!(
        job.phase,
        Phase::Completed {
            result: JobResult::PartialSuccess
        }
    );

    let fx = apply(&mut job, Event::Operation(Operation::Confirm));
    assert_eq!(fx, vec![Effect::StartConfirm { split_failed: true }]);
    let created = record_all(&g, &order);
    let failed: BTreeSet<InstanceId> = g
        .instance_outcomes(&status)
        .expect("done")
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(i, _)| i)
        .collect();
    let split = confirm_split(
        &created,
        &failed,
        &ResourceName::parse("shop").expect("name"),
        0,
    );
    assert_eq!(split.instances, [InstanceId::new("web2")].into());
    assert!(!split.rollback.is_empty());

    apply(&mut job, Event::AllClearTasksDone { succeeded: true });
    let fx = apply(&mut job, Event::ReportWritten);
    assert_eq!(
        fx,
        vec![Effect::RemovePlanAndGroup, Effect::RemoveFromJobList]
    );
    assert_eq!(
        job.phase,
        Phase::Finished {
            result: JobResult::PartialSuccess,
            ending: Ending::Confirmed
        }
    );
}

#[test]
fn scheduled_drill_rolled_back_by_timer_then_ignored() {
    let facts = JobCreationFacts {
        plan_state: PlanState::Normal,
        group_jobs: vec![],
        snapshots: vec![SnapshotId::new("s1")],
    };
    let req = JobRequest {
        job_type: JobType::Drill,
        run_type: RunType::Schedule,
        point: RecoveryPoint::LatestSnapshot,
    };
    let kind = check_create(&req, &facts).expect("allowed");
    assert_eq!(kind, JobKind::ScheduledDrill);
    let (mut job, _) = JobState::created(kind, RunType::Schedule);
    assert_eq!(apply(&mut job, Event::Trigger), vec![Effect::FreezeCopy]);
    let gate = start_gate(&[queued("j", StateName::Pending)], &JobId::new("j")).expect("pending");
    apply(&mut job, Event::Operation(Operation::Run(gate)));
    let g = TaskGraph::build(&shop(), JobType::Drill, &Scope::All).expect("graph");
    let (status, order) = run(&g, |_| false);
    let fx = apply(
        &mut job,
        Event::AllTasksDone(g.job_result(&status).expect("done")),
    );
    assert_eq!(fx, vec![Effect::ArmRollbackTimer]);
    assert_eq!(
        apply(&mut job, Event::RollbackTimeout),
        vec![Effect::StartRollback]
    );
    let fx = apply(&mut job, Event::AllClearTasksDone { succeeded: false });
    assert_eq!(fx, vec![Effect::ArmRollbackTimer]);
    assert_eq!(
        job.phase,
        Phase::ClearFailed {
            result: JobResult::Success,
            operation: ClearOperation::Rollback
        }
    );
    let fx = apply(&mut job, Event::Operation(Operation::IgnoreRollback));
    assert!(fx.contains(&Effect::IssueCleanupScript));
    let created = record_all(&g, &order);
    let half: BTreeSet<RecordId> = (0..created.records().len() / 2).map(RecordId).collect();
    let script = created.cleanup_script(&JobId::new("j"), &half);
    assert_eq!(
        script
            .lines()
            .filter(|l| l.starts_with("openstack "))
            .count(),
        created.records().len() - half.len()
    );
    assert_eq!(
        apply(&mut job, Event::ReportWritten),
        vec![Effect::ScheduleNextRun]
    );
    apply(&mut job, Event::Rearm);
    assert_eq!(job.phase, Phase::Waiting);
}
