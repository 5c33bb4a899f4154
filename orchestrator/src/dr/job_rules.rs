//! Rules for creating, updating and deleting recovery jobs (jobs.md, "Creating a
//! job"; operations.md, known constraints 5 and 7).

use std::fmt;

use super::ids::{JobId, SnapshotId};
use super::job::{JobType, RecoveryPoint, RecoveryPointKind, RunType};
use super::job_state::{JobKind, JobState, Phase, StateName};
use super::plan_state::PlanState;

use JobType::{Dr, Drill};
use RecoveryPointKind::{LatestData, LatestSnapshot, Snapshot};
use RunType::{At, Now, Schedule};

/// The allowed (type, run type, recovery point) combinations, exactly the table of
/// jobs.md ("Allowed combinations"). Anything absent is refused.
pub const ALLOWED_COMBINATIONS: &[(JobType, RunType, &[RecoveryPointKind])] = &[
    (Drill, Now, &[LatestSnapshot, Snapshot]),
    (Drill, At, &[LatestSnapshot]),
    (Drill, Schedule, &[LatestSnapshot]),
    (Dr, Now, &[LatestData, LatestSnapshot, Snapshot]),
    (Dr, At, &[LatestSnapshot, Snapshot]),
];

/// Whether the table allows the combination.
pub fn combination_allowed(t: JobType, r: RunType, p: RecoveryPointKind) -> bool {
    ALLOWED_COMBINATIONS
        .iter()
        .any(|(tt, rr, ps)| *tt == t && *rr == r && ps.contains(&p))
}

fn allowed_points(t: JobType, r: RunType) -> String {
    let points: Vec<String> = ALLOWED_COMBINATIONS
        .iter()
        .filter(|(tt, rr, _)| *tt == t && *rr == r)
        .flat_map(|(_, _, ps)| ps.iter().map(ToString::to_string))
        .collect();
    if points.is_empty() {
        "none (schedules are for drills only)".to_owned()
    } else {
        points.join(", ")
    }
}

/// A job as a user asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// Drill or DR.
    pub job_type: JobType,
    /// Now, at a time, or on a schedule.
    pub run_type: RunType,
    /// Which data to recover.
    pub point: RecoveryPoint,
}

/// Another job of the same protection group, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingJob {
    /// Its id.
    pub id: JobId,
    /// Drill or DR.
    pub job_type: JobType,
    /// Its state.
    pub state: StateName,
}

impl ExistingJob {
    /// Triggered and not yet finished: `pending` up to `reporting`.
    pub fn in_progress(&self) -> bool {
        self.state >= StateName::Pending && self.state < StateName::Finished
    }
}

/// What job creation needs to know about the group and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCreationFacts {
    /// The plan's evaluated state.
    pub plan_state: PlanState,
    /// The group's other jobs.
    pub group_jobs: Vec<ExistingJob>,
    /// The group's snapshots on the target.
    pub snapshots: Vec<SnapshotId>,
}

/// Why a job cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateJobError {
    /// Not in the combination table.
    #[error("a {job_type} job run '{run_type}' cannot recover from {point}; allowed recovery points: {allowed}", allowed = allowed_points(*.job_type, *.run_type))]
    Combination {
        /// Drill or DR.
        job_type: JobType,
        /// The run type.
        run_type: RunType,
        /// The recovery point asked for.
        point: RecoveryPointKind,
    },
    /// The plan is `Prepare`, `Warning` or `Critical`.
    #[error("the recovery plan is {state}: {hint}")]
    PlanNotReady {
        /// The plan's state.
        state: PlanState,
        /// What to do.
        hint: &'static str,
    },
    /// A DR job of the group is in progress.
    #[error("DR job {job} of this protection group is in progress; wait until it has finished")]
    DrInProgress {
        /// That job.
        job: JobId,
    },
    /// A snapshot is needed and there is none.
    #[error(
        "the protection group has no snapshot yet: take a protection-group snapshot ('add snapshot') or wait for the snapshot schedule"
    )]
    NoSnapshot,
    /// The chosen snapshot does not exist.
    #[error(
        "snapshot {0} does not exist (any more) for this protection group; choose one from the snapshot list"
    )]
    UnknownSnapshot(SnapshotId),
}

/// Checks a new job against every "cannot create" rule (jobs.md, "Creating a job";
/// operations.md, known constraint 5), in this order: the combination table, the
/// plan state (only `Normal` and `Emergency` allow jobs), a DR job of the group in
/// progress (pending up to reporting), and the snapshot rules (a drill, or any
/// snapshot recovery point, needs a snapshot; a chosen snapshot must exist).
/// Returns the job's kind for [`JobState::created`].
pub fn check_create(req: &JobRequest, facts: &JobCreationFacts) -> Result<JobKind, CreateJobError> {
    let point = req.point.kind();
    let kind = JobKind::of(req.job_type, req.run_type)
        .filter(|_| combination_allowed(req.job_type, req.run_type, point))
        .ok_or(CreateJobError::Combination {
            job_type: req.job_type,
            run_type: req.run_type,
            point,
        })?;
    let hint = match facts.plan_state {
        PlanState::Normal | PlanState::Emergency => None,
        PlanState::Prepare => {
            Some("wait until the initial copy (or the repair of the mirroring) is done")
        }
        PlanState::Warning => Some(
            "resolve the reasons shown on the plan (e.g. update the plan to map new resources, or wait for the running job)",
        ),
        PlanState::Critical => Some("the target cluster is inactive; restore its connection first"),
    };
    if let Some(hint) = hint {
        return Err(CreateJobError::PlanNotReady {
            state: facts.plan_state,
            hint,
        });
    }
    if let Some(j) = facts
        .group_jobs
        .iter()
        .find(|j| j.job_type == JobType::Dr && j.in_progress())
    {
        return Err(CreateJobError::DrInProgress { job: j.id.clone() });
    }
    if point != LatestData && facts.snapshots.is_empty() {
        return Err(CreateJobError::NoSnapshot);
    }
    if let RecoveryPoint::Snapshot(id) = &req.point
        && !facts.snapshots.contains(id)
    {
        return Err(CreateJobError::UnknownSnapshot(id.clone()));
    }
    Ok(kind)
}

/// What an update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// The time of an `at` job.
    Time,
    /// The schedule of a `schedule` job.
    Schedule,
    /// Anything else (type, recovery point, plan).
    Other,
}

impl fmt::Display for JobChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobChange::Time => "the time",
            JobChange::Schedule => "the schedule",
            JobChange::Other => "this field",
        })
    }
}

/// Why a job cannot be updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateJobError {
    /// Only the time of an `at` job and the schedule of a `schedule` job change.
    #[error(
        "{change} of a '{run_type}' job cannot be changed: only the time of an 'at' job or the schedule of a 'schedule' job can; delete the job and create a new one"
    )]
    NotChangeable {
        /// What was asked.
        change: JobChange,
        /// The job's run type.
        run_type: RunType,
    },
    /// Not while pending or running.
    #[error("the job is {state}: it cannot be changed while it is pending or running")]
    Busy {
        /// The job's state.
        state: StateName,
    },
    /// An `at` job that was triggered already.
    #[error("the 'at' job was already triggered ({state}); its time can no longer be changed")]
    AlreadyTriggered {
        /// The job's state.
        state: StateName,
    },
}

/// Update rule (jobs.md): only the time of an `at` job or the schedule of a
/// `schedule` job; not while the job is pending or running (running, paused,
/// canceling). Decision: an `at` job runs once, so its time changes only while
/// `waiting`; a schedule may change whenever the job is not pending or running (it
/// applies from the next run).
pub fn check_update(
    run_type: RunType,
    state: StateName,
    change: JobChange,
) -> Result<(), UpdateJobError> {
    let fits = matches!(
        (run_type, change),
        (RunType::At, JobChange::Time) | (RunType::Schedule, JobChange::Schedule)
    );
    if !fits {
        return Err(UpdateJobError::NotChangeable { change, run_type });
    }
    if matches!(
        state,
        StateName::Pending | StateName::Running | StateName::Paused | StateName::Canceling
    ) {
        return Err(UpdateJobError::Busy { state });
    }
    if run_type == RunType::At && state != StateName::Waiting {
        return Err(UpdateJobError::AlreadyTriggered { state });
    }
    Ok(())
}

/// What deleting a job leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Nothing on the target.
    Clean,
    /// Target resources created by the job that were not cleaned up: Holdfast keeps
    /// their record and offers the cleanup script (jobs.md, "Delete"; operations.md,
    /// known constraint 7).
    LeavesResources,
}

/// Why a job cannot be deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeleteJobError {
    /// Work is in progress on the target.
    #[error(
        "the job is {state}: it cannot be deleted while it is running; cancel it (or wait for its clearing) first"
    )]
    Running {
        /// The job's state.
        state: StateName,
    },
    /// The report is being written.
    #[error("the job's report is being written; delete the job when it has finished")]
    Reporting,
}

/// Delete rule (jobs.md): not while running. Decision: "running" means work in
/// progress on the target (running, paused, canceling, clearing), and `reporting` is
/// refused too (it lasts a moment). Deleting a `completed` or `clear-failed` job
/// leaves its resources on the target ([`DeleteOutcome::LeavesResources`]).
pub fn check_delete(job: &JobState) -> Result<DeleteOutcome, DeleteJobError> {
    match job.phase {
        Phase::Running | Phase::Paused | Phase::Canceling | Phase::Clearing { .. } => {
            Err(DeleteJobError::Running {
                state: job.phase.name(),
            })
        }
        Phase::Reporting { .. } => Err(DeleteJobError::Reporting),
        Phase::Completed { .. } | Phase::ClearFailed { .. } => Ok(DeleteOutcome::LeavesResources),
        Phase::Waiting | Phase::Pending | Phase::Finished { .. } => Ok(DeleteOutcome::Clean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::job::JobResult;

    const TYPES: [JobType; 2] = [Drill, Dr];
    const RUNS: [RunType; 3] = [Now, At, Schedule];
    const POINTS: [RecoveryPointKind; 3] = [LatestData, LatestSnapshot, Snapshot];

    fn point(k: RecoveryPointKind) -> RecoveryPoint {
        match k {
            LatestData => RecoveryPoint::LatestData,
            LatestSnapshot => RecoveryPoint::LatestSnapshot,
            Snapshot => RecoveryPoint::Snapshot(SnapshotId::new("s1")),
        }
    }

    fn ready() -> JobCreationFacts {
        JobCreationFacts {
            plan_state: PlanState::Normal,
            group_jobs: vec![],
            snapshots: vec![SnapshotId::new("s1")],
        }
    }

    #[test]
    fn combination_table_is_exactly_the_spec() {
        // the 9 allowed triples of jobs.md, written out independently
        let spec = [
            (Drill, Now, LatestSnapshot),
            (Drill, Now, Snapshot),
            (Drill, At, LatestSnapshot),
            (Drill, Schedule, LatestSnapshot),
            (Dr, Now, LatestData),
            (Dr, Now, LatestSnapshot),
            (Dr, Now, Snapshot),
            (Dr, At, LatestSnapshot),
            (Dr, At, Snapshot),
        ];
        let mut allowed = 0;
        for t in TYPES {
            for r in RUNS {
                for p in POINTS {
                    let want = spec.contains(&(t, r, p));
                    assert_eq!(combination_allowed(t, r, p), want, "{t} {r} {p}");
                    let req = JobRequest {
                        job_type: t,
                        run_type: r,
                        point: point(p),
                    };
                    let got = check_create(&req, &ready());
                    assert_eq!(got.is_ok(), want, "{t} {r} {p}: {got:?}");
                    if want {
                        allowed += 1;
                    } else {
                        assert!(matches!(got, Err(CreateJobError::Combination { .. })));
                    }
                }
            }
        }
        assert_eq!(allowed, 9);
        let msg = check_create(
            &JobRequest {
                job_type: Drill,
                run_type: At,
                point: point(Snapshot),
            },
            &ready(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            msg,
            "a drill job run 'at' cannot recover from snapshot; allowed recovery points: latest-snapshot"
        );
    }

    #[test]
    fn plan_state_gate() {
        let req = JobRequest {
            job_type: Dr,
            run_type: Now,
            point: RecoveryPoint::LatestData,
        };
        for s in PlanState::ALL {
            let facts = JobCreationFacts {
                plan_state: s,
                ..ready()
            };
            let ok = matches!(s, PlanState::Normal | PlanState::Emergency);
            let got = check_create(&req, &facts);
            assert_eq!(got.is_ok(), ok, "{s}");
            if !ok {
                assert!(
                    matches!(got, Err(CreateJobError::PlanNotReady { state, .. }) if state == s)
                );
            }
        }
    }

    #[test]
    fn dr_in_progress_blocks_every_new_job() {
        let req = JobRequest {
            job_type: Drill,
            run_type: Now,
            point: RecoveryPoint::LatestSnapshot,
        };
        for state in StateName::ALL {
            for job_type in TYPES {
                let facts = JobCreationFacts {
                    group_jobs: vec![ExistingJob {
                        id: JobId::new("j1"),
                        job_type,
                        state,
                    }],
                    ..ready()
                };
                let blocked =
                    job_type == Dr && state != StateName::Waiting && state != StateName::Finished;
                assert_eq!(
                    check_create(&req, &facts),
                    if blocked {
                        Err(CreateJobError::DrInProgress {
                            job: JobId::new("j1"),
                        })
                    } else {
                        Ok(JobKind::OneTimeDrill)
                    },
                    "{job_type} {state}"
                );
            }
        }
    }

    #[test]
    fn snapshot_rules() {
        let none = JobCreationFacts {
            snapshots: vec![],
            ..ready()
        };
        for (t, r, p) in [
            (Drill, Now, LatestSnapshot),
            (Drill, Schedule, LatestSnapshot),
            (Dr, Now, Snapshot),
            (Dr, At, LatestSnapshot),
        ] {
            let req = JobRequest {
                job_type: t,
                run_type: r,
                point: point(p),
            };
            assert_eq!(check_create(&req, &none), Err(CreateJobError::NoSnapshot));
        }
        let dr_latest = JobRequest {
            job_type: Dr,
            run_type: Now,
            point: RecoveryPoint::LatestData,
        };
        assert_eq!(check_create(&dr_latest, &none), Ok(JobKind::Dr));
        let other = JobRequest {
            job_type: Dr,
            run_type: Now,
            point: RecoveryPoint::Snapshot(SnapshotId::new("zz")),
        };
        assert_eq!(
            check_create(&other, &ready()),
            Err(CreateJobError::UnknownSnapshot(SnapshotId::new("zz")))
        );
    }

    #[test]
    fn update_rules() {
        use JobChange as C;
        for run in RUNS {
            for change in [C::Time, C::Schedule, C::Other] {
                for state in StateName::ALL {
                    let got = check_update(run, state, change);
                    let fits = matches!((run, change), (At, C::Time) | (Schedule, C::Schedule));
                    let busy = matches!(
                        state,
                        StateName::Pending
                            | StateName::Running
                            | StateName::Paused
                            | StateName::Canceling
                    );
                    let want_ok = fits && !busy && (run != At || state == StateName::Waiting);
                    assert_eq!(got.is_ok(), want_ok, "{run} {change} {state}: {got:?}");
                }
            }
        }
        assert_eq!(
            check_update(Schedule, StateName::Pending, C::Schedule)
                .unwrap_err()
                .to_string(),
            "the job is pending: it cannot be changed while it is pending or running"
        );
    }

    #[test]
    fn delete_rules() {
        let r = JobResult::Success;
        use crate::dr::job::{ClearOperation, Ending};
        let cases = [
            (Phase::Waiting, Some(DeleteOutcome::Clean)),
            (Phase::Pending, Some(DeleteOutcome::Clean)),
            (Phase::Running, None),
            (Phase::Paused, None),
            (Phase::Canceling, None),
            (
                Phase::Completed { result: r },
                Some(DeleteOutcome::LeavesResources),
            ),
            (
                Phase::Clearing {
                    result: r,
                    operation: ClearOperation::Rollback,
                },
                None,
            ),
            (
                Phase::ClearFailed {
                    result: r,
                    operation: ClearOperation::Rollback,
                },
                Some(DeleteOutcome::LeavesResources),
            ),
            (
                Phase::Reporting {
                    result: r,
                    ending: Ending::RolledBack,
                },
                None,
            ),
            (
                Phase::Finished {
                    result: r,
                    ending: Ending::RolledBack,
                },
                Some(DeleteOutcome::Clean),
            ),
        ];
        for (phase, want) in cases {
            let job = JobState {
                kind: JobKind::Dr,
                phase,
            };
            assert_eq!(check_delete(&job).ok(), want, "{phase:?}");
        }
        let running = JobState {
            kind: JobKind::Dr,
            phase: Phase::Running,
        };
        assert!(
            check_delete(&running)
                .unwrap_err()
                .to_string()
                .contains("cancel it")
        );
    }
}
