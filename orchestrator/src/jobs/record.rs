//! The stored forms of a job's state and frozen copy (JSON in `jobs.state_json` and
//! `jobs.frozen_json`). Domain types are not `Serialize`: they convert here.

use serde::{Deserialize, Serialize};

use super::source::{ClusterRef, FrozenJob};
use crate::dr::ids::{GroupId, PlanId};
use crate::dr::job::{ClearOperation, Ending, JobResult, JobType, RecoveryPoint, RunType};
use crate::dr::job_state::{JobKind, JobState, Phase};
use crate::recovery::{JobSpec, parse_point, point_text};

/// A stored value that does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt job record: {0}")]
pub struct CorruptJob(pub String);

#[derive(Debug, Serialize, Deserialize)]
struct StoredState {
    kind: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ending: Option<String>,
}

fn kind_text(k: JobKind) -> &'static str {
    match k {
        JobKind::OneTimeDrill => "one_time_drill",
        JobKind::ScheduledDrill => "scheduled_drill",
        JobKind::Dr => "dr",
    }
}

/// The text of a result.
pub fn result_text(r: JobResult) -> &'static str {
    match r {
        JobResult::Success => "success",
        JobResult::PartialSuccess => "partial_success",
        JobResult::Failed => "failed",
        JobResult::Canceled => "canceled",
    }
}

/// Reads [`result_text`].
pub fn parse_result(s: &str) -> Option<JobResult> {
    JobResult::ALL.into_iter().find(|r| result_text(*r) == s)
}

/// The text of an ending.
pub fn ending_text(e: Ending) -> &'static str {
    match e {
        Ending::RolledBack => "rolled_back",
        Ending::Confirmed => "confirmed",
        Ending::CleanupIgnored => "cleanup_ignored",
        Ending::NotStarted => "not_started",
    }
}

fn parse_ending(s: &str) -> Option<Ending> {
    [
        Ending::RolledBack,
        Ending::Confirmed,
        Ending::CleanupIgnored,
        Ending::NotStarted,
    ]
    .into_iter()
    .find(|e| ending_text(*e) == s)
}

fn parse_operation(s: &str) -> Option<ClearOperation> {
    match s {
        "rollback" => Some(ClearOperation::Rollback),
        "confirm" => Some(ClearOperation::Confirm),
        _ => None,
    }
}

/// Reads `drill` / `dr`.
pub fn parse_type(s: &str) -> Option<JobType> {
    match s {
        "drill" => Some(JobType::Drill),
        "dr" => Some(JobType::Dr),
        _ => None,
    }
}

/// Reads `now` / `at` / `schedule`.
pub fn parse_run_type(s: &str) -> Option<RunType> {
    match s {
        "now" => Some(RunType::Now),
        "at" => Some(RunType::At),
        "schedule" => Some(RunType::Schedule),
        _ => None,
    }
}

/// The JSON of a state.
pub fn state_json(s: &JobState) -> String {
    let (result, operation, ending) = match s.phase {
        Phase::Clearing { result, operation } | Phase::ClearFailed { result, operation } => {
            (Some(result), Some(operation), None)
        }
        Phase::Reporting { result, ending } | Phase::Finished { result, ending } => {
            (Some(result), None, Some(ending))
        }
        Phase::Completed { result } => (Some(result), None, None),
        _ => (None, None, None),
    };
    let stored = StoredState {
        kind: kind_text(s.kind).to_owned(),
        state: s.phase.name().to_string(),
        result: result.map(|r| result_text(r).to_owned()),
        operation: operation.map(|o| o.to_string()),
        ending: ending.map(|e| ending_text(e).to_owned()),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// Reads [`state_json`].
pub fn parse_state(json: &str) -> Result<JobState, CorruptJob> {
    let bad = |what: &str| CorruptJob(format!("{what} in state {json}"));
    let s: StoredState = serde_json::from_str(json).map_err(|e| CorruptJob(e.to_string()))?;
    let kind = JobKind::ALL
        .into_iter()
        .find(|k| kind_text(*k) == s.kind)
        .ok_or_else(|| bad("unknown kind"))?;
    let result = || {
        s.result
            .as_deref()
            .and_then(parse_result)
            .ok_or_else(|| bad("missing result"))
    };
    let operation = || {
        s.operation
            .as_deref()
            .and_then(parse_operation)
            .ok_or_else(|| bad("missing operation"))
    };
    let ending = || {
        s.ending
            .as_deref()
            .and_then(parse_ending)
            .ok_or_else(|| bad("missing ending"))
    };
    let phase = match s.state.as_str() {
        "waiting" => Phase::Waiting,
        "pending" => Phase::Pending,
        "running" => Phase::Running,
        "paused" => Phase::Paused,
        "canceling" => Phase::Canceling,
        "completed" => Phase::Completed { result: result()? },
        "clearing" => Phase::Clearing {
            result: result()?,
            operation: operation()?,
        },
        "clear-failed" => Phase::ClearFailed {
            result: result()?,
            operation: operation()?,
        },
        "reporting" => Phase::Reporting {
            result: result()?,
            ending: ending()?,
        },
        "finished" => Phase::Finished {
            result: result()?,
            ending: ending()?,
        },
        _ => return Err(bad("unknown state")),
    };
    Ok(JobState { kind, phase })
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFrozen {
    plan: PlanId,
    plan_name: String,
    group: GroupId,
    group_name: String,
    source: ClusterRef,
    target: ClusterRef,
    point: String,
    point_at_ms: i64,
    spec: JobSpec,
}

/// The JSON of a frozen copy.
pub fn frozen_json(f: &FrozenJob) -> String {
    serde_json::to_string(&StoredFrozen {
        plan: f.plan.clone(),
        plan_name: f.plan_name.clone(),
        group: f.group.clone(),
        group_name: f.group_name.clone(),
        source: f.source.clone(),
        target: f.target.clone(),
        point: point_text(&f.point),
        point_at_ms: f.point_at_ms,
        spec: f.spec.clone(),
    })
    .unwrap_or_default()
}

/// Reads [`frozen_json`].
pub fn parse_frozen(json: &str) -> Result<FrozenJob, CorruptJob> {
    let s: StoredFrozen =
        serde_json::from_str(json).map_err(|e| CorruptJob(format!("frozen copy: {e}")))?;
    Ok(FrozenJob {
        point: parse_point(&s.point).map_err(|e| CorruptJob(e.to_string()))?,
        plan: s.plan,
        plan_name: s.plan_name,
        group: s.group,
        group_name: s.group_name,
        source: s.source,
        target: s.target,
        point_at_ms: s.point_at_ms,
        spec: s.spec,
    })
}

/// The stored text of a recovery point.
pub fn point_string(p: &RecoveryPoint) -> String {
    point_text(p)
}

/// Reads [`point_string`].
pub fn parse_point_string(s: &str) -> Result<RecoveryPoint, CorruptJob> {
    parse_point(s).map_err(|e| CorruptJob(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::job_state::StateName;

    #[test]
    fn every_state_reads_back() {
        let mut phases = vec![
            Phase::Waiting,
            Phase::Pending,
            Phase::Running,
            Phase::Paused,
            Phase::Canceling,
        ];
        for result in JobResult::ALL {
            phases.push(Phase::Completed { result });
            for operation in [ClearOperation::Rollback, ClearOperation::Confirm] {
                phases.push(Phase::Clearing { result, operation });
                phases.push(Phase::ClearFailed { result, operation });
            }
            for ending in [
                Ending::RolledBack,
                Ending::Confirmed,
                Ending::CleanupIgnored,
                Ending::NotStarted,
            ] {
                phases.push(Phase::Reporting { result, ending });
                phases.push(Phase::Finished { result, ending });
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for kind in JobKind::ALL {
            for phase in &phases {
                let s = JobState {
                    kind,
                    phase: *phase,
                };
                assert_eq!(parse_state(&state_json(&s)), Ok(s));
                names.insert(phase.name());
            }
        }
        assert_eq!(names.len(), StateName::ALL.len());
        assert!(parse_state("{\"kind\":\"dr\",\"state\":\"completed\"}").is_err());
        assert!(parse_state("nonsense").is_err());
    }
}
