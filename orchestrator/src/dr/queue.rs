//! The job queue as pure functions (jobs.md, "The queue"): jobs of one protection
//! group run one at a time in the order they were queued, jobs of different groups in
//! parallel, and a scheduled drill that cannot start within 10 minutes of its time
//! because another job of its group is still active is canceled.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::ids::{GroupId, JobId};
use super::job_state::{StartGate, StateName};

/// How long a scheduled drill may wait for its group (jobs.md, "The queue").
pub const SCHEDULED_DRILL_START_WINDOW: SignedDuration = SignedDuration::from_mins(10);

/// A job as the queue sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    /// Its id.
    pub id: JobId,
    /// Its protection group.
    pub group: GroupId,
    /// Its state.
    pub state: StateName,
    /// Queue order: a number that grows with the moment the job became `pending`
    /// (ties are broken by id).
    pub queued: u64,
    /// For a scheduled drill, the time of the slot that triggered it.
    pub scheduled_slot: Option<Timestamp>,
}

/// Decision: a job "occupies" its group from `running` until it has `finished`
/// (running, paused, canceling, completed, clearing, clear-failed, reporting): a
/// completed job still holds its recovered resources on the target until it is
/// rolled back or confirmed, so the next job of the group must wait for that.
pub fn occupies_group(state: StateName) -> bool {
    state >= StateName::Running && state < StateName::Finished
}

fn by_group(jobs: &[QueuedJob]) -> BTreeMap<&GroupId, Vec<&QueuedJob>> {
    let mut m: BTreeMap<&GroupId, Vec<&QueuedJob>> = BTreeMap::new();
    for j in jobs {
        m.entry(&j.group).or_default().push(j);
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| a.queued.cmp(&b.queued).then_with(|| a.id.cmp(&b.id)));
    }
    m
}

/// The queue's verdict for one pending job, for [`super::job_state::Operation::Run`].
/// `None` when the job is not in the list or not pending.
pub fn start_gate(jobs: &[QueuedJob], job: &JobId) -> Option<StartGate> {
    let me = jobs
        .iter()
        .find(|j| &j.id == job && j.state == StateName::Pending)?;
    let groups = by_group(jobs);
    let mine = groups.get(&me.group)?;
    if let Some(active) = mine.iter().find(|j| occupies_group(j.state)) {
        return Some(StartGate::GroupBusy {
            job: active.id.clone(),
        });
    }
    let first = mine.iter().find(|j| j.state == StateName::Pending)?;
    if first.id != me.id {
        return Some(StartGate::BehindInQueue {
            first: first.id.clone(),
        });
    }
    Some(StartGate::Open)
}

/// What the engine should do with a pending job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueDecision {
    /// Send it `run` (the gate is open).
    Start(JobId),
    /// A scheduled drill past its 10-minute window behind an active or earlier job:
    /// send it `StartDeadlinePassed` (result `canceled`, with the reason).
    CancelLate(JobId),
}

/// Every decision the queue can take at `now`: per group, the first pending job
/// starts when no job occupies the group; every other pending scheduled drill whose
/// slot is 10 minutes or more in the past is canceled. Decision: a late scheduled drill
/// that is first in its free group starts (the missed-slot policy is the scheduler's).
pub fn decide(jobs: &[QueuedJob], now: Timestamp) -> Vec<QueueDecision> {
    let mut out = Vec::new();
    for (_, group) in by_group(jobs) {
        let busy = group.iter().any(|j| occupies_group(j.state));
        let mut pending = group.iter().filter(|j| j.state == StateName::Pending);
        if !busy && let Some(first) = pending.next() {
            out.push(QueueDecision::Start(first.id.clone()));
        }
        for j in pending {
            let late = j
                .scheduled_slot
                .and_then(|slot| slot.checked_add(SCHEDULED_DRILL_START_WINDOW).ok())
                .is_some_and(|deadline| now >= deadline);
            if late {
                out.push(QueueDecision::CancelLate(j.id.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(mins: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + mins * 60).unwrap()
    }

    fn job(id: &str, group: &str, state: StateName, queued: u64) -> QueuedJob {
        QueuedJob {
            id: JobId::new(id),
            group: GroupId::new(group),
            state,
            queued,
            scheduled_slot: None,
        }
    }

    #[test]
    fn one_group_is_serial_in_queue_order() {
        let jobs = [
            job("b", "g", StateName::Pending, 2),
            job("a", "g", StateName::Pending, 1),
            job("c", "h", StateName::Pending, 3),
        ];
        assert_eq!(start_gate(&jobs, &JobId::new("a")), Some(StartGate::Open));
        assert_eq!(
            start_gate(&jobs, &JobId::new("b")),
            Some(StartGate::BehindInQueue {
                first: JobId::new("a")
            })
        );
        // different groups in parallel
        assert_eq!(start_gate(&jobs, &JobId::new("c")), Some(StartGate::Open));
        assert_eq!(
            decide(&jobs, t(0)),
            vec![
                QueueDecision::Start(JobId::new("a")),
                QueueDecision::Start(JobId::new("c"))
            ]
        );
        assert_eq!(start_gate(&jobs, &JobId::new("zz")), None);
    }

    #[test]
    fn an_occupied_group_waits() {
        for state in StateName::ALL {
            let jobs = [
                job("a", "g", state, 1),
                job("b", "g", StateName::Pending, 2),
            ];
            let gate = start_gate(&jobs, &JobId::new("b"));
            let want = if occupies_group(state) {
                StartGate::GroupBusy {
                    job: JobId::new("a"),
                }
            } else if state == StateName::Pending {
                StartGate::BehindInQueue {
                    first: JobId::new("a"),
                }
            } else {
                StartGate::Open
            };
            assert_eq!(gate, Some(want), "{state}");
        }
        assert!(!occupies_group(StateName::Waiting));
        assert!(!occupies_group(StateName::Pending));
        assert!(occupies_group(StateName::Completed));
        assert!(!occupies_group(StateName::Finished));
    }

    #[test]
    fn late_scheduled_drills_are_canceled() {
        let mut drill = job("d", "g", StateName::Pending, 2);
        drill.scheduled_slot = Some(t(0));
        let active = job("a", "g", StateName::Running, 1);
        let jobs = [active.clone(), drill.clone()];
        assert!(decide(&jobs, t(9)).is_empty());
        assert_eq!(
            decide(&jobs, t(10)),
            vec![QueueDecision::CancelLate(JobId::new("d"))]
        );
        // a one-time job behind an active one just waits
        let mut once = drill.clone();
        once.scheduled_slot = None;
        assert!(decide(&[active, once], t(60)).is_empty());
        // first in a free group: starts even if late
        assert_eq!(
            decide(&[drill], t(60)),
            vec![QueueDecision::Start(JobId::new("d"))]
        );
    }

    fn arb_state() -> impl Strategy<Value = StateName> {
        prop::sample::select(StateName::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn at_most_one_job_per_group_runs_or_starts(
            jobs in prop::collection::vec((0u8..3, arb_state(), 0u64..20, prop::option::of(0i64..30)), 0..12),
            now in 0i64..40,
        ) {
            let jobs: Vec<QueuedJob> = jobs.iter().enumerate().map(|(i, (g, s, q, slot))| QueuedJob {
                id: JobId::new(format!("j{i:02}")),
                group: GroupId::new(format!("g{g}")),
                state: *s,
                queued: *q,
                scheduled_slot: slot.map(t),
            }).collect();
            let decisions = decide(&jobs, t(now));
            for g in 0..3 {
                let gid = GroupId::new(format!("g{g}"));
                let active = jobs.iter().filter(|j| j.group == gid && occupies_group(j.state)).count();
                let starting = decisions.iter().filter(|d| matches!(d, QueueDecision::Start(id) if jobs.iter().any(|j| &j.id == id && j.group == gid))).count();
                prop_assert!(starting <= 1);
                prop_assert!(active == 0 || starting == 0);
            }
            for d in &decisions {
                let (QueueDecision::Start(id) | QueueDecision::CancelLate(id)) = d;
                let j = jobs.iter().find(|j| &j.id == id).unwrap();
                prop_assert_eq!(j.state, StateName::Pending);
                if matches!(d, QueueDecision::Start(_)) {
                    prop_assert_eq!(start_gate(&jobs, id), Some(StartGate::Open));
                }
            }
        }
    }
}
