//! What the API, the monitor stream and the report show of a job: the job itself
//! ([`JobView`]) and its live detail ([`MonitorView`]: progress, workflow tasks with
//! timings, per-instance and per-volume status, task log, cleanup time), read from
//! the job row and the executor's tables.

pub mod boot;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JobError;
use super::record;
use crate::api::time_text;
use crate::db::job_engine::JobRow;
use crate::db::jobs as runs;
use crate::db::{Db, jobs::TaskRecord};
use crate::dr::recovery_graph::{Scope, TaskGraph, TaskKind};
use crate::dr::{job_operations, job_rules};

/// A job as listed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The plan.
    pub plan_id: String,
    /// The plan's protection group.
    pub group_id: String,
    /// The owning user group.
    pub owner_group_id: String,
    /// `drill` or `dr`.
    pub job_type: String,
    /// `now`, `at` or `schedule`.
    pub run_type: String,
    /// `latest-data`, `latest-snapshot` or `snapshot:<id>`.
    pub recovery_point: String,
    /// The time of an `at` job.
    pub at: Option<String>,
    /// The schedule of a `schedule` job.
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<serde_json::Value>,
    /// One of the ten states of jobs.md.
    pub state: String,
    /// The result, from `completed` on.
    pub result: Option<String>,
    /// `rollback` or `confirm` while clearing or clear-failed.
    pub operation: Option<String>,
    /// Why the job ended as it did, or the last failure of its work.
    pub reason: Option<String>,
    /// When a waiting job runs next.
    pub next_run_at: Option<String>,
    /// Triggered at.
    pub triggered_at: Option<String>,
    /// Recovery started at.
    pub started_at: Option<String>,
    /// Recovery completed at.
    pub completed_at: Option<String>,
    /// A paused job resumes by itself at.
    pub resumes_at: Option<String>,
    /// A completed drill is cleaned up (rolled back) by itself at.
    pub cleanup_at: Option<String>,
    /// The executor's current run.
    pub run_id: Option<String>,
    /// Created by.
    pub created_by: String,
    /// Created at.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl JobView {
    /// The view of a row.
    pub fn of(r: &JobRow) -> Result<JobView, JobError> {
        let state = record::parse_state(&r.state_json)?;
        let (result, operation) = match serde_json::from_str::<serde_json::Value>(&r.state_json) {
            Ok(v) => (
                v.get("result").and_then(|x| x.as_str()).map(str::to_owned),
                v.get("operation")
                    .and_then(|x| x.as_str())
                    .map(str::to_owned),
            ),
            Err(_) => (None, None),
        };
        let t = |v: Option<i64>| v.map(time_text);
        Ok(JobView {
            id: r.id.clone(),
            name: r.name.clone(),
            plan_id: r.plan_id.clone(),
            group_id: r.group_id.clone(),
            owner_group_id: r.owner_group_id.clone(),
            job_type: r.job_type.clone(),
            run_type: r.run_type.clone(),
            recovery_point: r.recovery_point.clone(),
            at: t(r.at_time),
            schedule: r
                .schedule_json
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            state: state.phase.name().to_string(),
            result,
            operation,
            reason: r.reason.clone(),
            next_run_at: t(r.fire_at),
            triggered_at: t(r.triggered_at),
            started_at: t(r.started_at),
            completed_at: t(r.completed_at),
            resumes_at: t(r.pause_until),
            cleanup_at: t(r.rollback_at),
            run_id: r.run_id.clone(),
            created_by: r.created_by.clone(),
            created_at: time_text(r.created_at),
            updated_at: time_text(r.updated_at),
        })
    }
}

/// Tasks done of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Tasks ended (succeeded, failed or skipped).
    pub done: usize,
    /// All tasks.
    pub total: usize,
    /// `done / total` in percent.
    pub percent: u32,
}

/// One workflow task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskView {
    /// `recovery` or `rollback`.
    pub stage: String,
    /// Index in its stage.
    pub index: i64,
    /// What it does.
    pub description: String,
    /// `pending`, `running`, `succeeded`, `failed`, `skipped`.
    pub state: String,
    /// Started at.
    pub started_at: Option<String>,
    /// Ended at.
    pub finished_at: Option<String>,
    /// Duration (ms).
    pub duration_ms: Option<i64>,
    /// Attempts.
    pub attempts: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The status of one instance or volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemStatus {
    /// Its source id.
    pub id: String,
    /// Instances: `preparing`, `recovered`, `booting`, `success`, `failed`; volumes:
    /// `pending`, `materialising`, `importing`, `recovered`, `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// One line of the task log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogView {
    /// At.
    pub at: String,
    /// `recovery` or `rollback`.
    pub stage: String,
    /// `info`, `warn`, `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// The monitor of a job (also the body of its report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonitorView {
    /// The job.
    pub job: JobView,
    /// Recovery progress.
    pub progress: Progress,
    /// The workflow: recovery tasks then rollback tasks.
    pub tasks: Vec<TaskView>,
    /// Per instance.
    pub instances: Vec<ItemStatus>,
    /// Per volume.
    pub volumes: Vec<ItemStatus>,
    /// The task log.
    pub log: Vec<LogView>,
    /// The user operations the job's state allows now (`operations/{op}` names).
    #[serde(default)]
    pub operations: Vec<String>,
    /// Whether the job may be deleted now (it is not running).
    #[serde(default)]
    pub deletable: bool,
    /// The boot plan of the frozen copy (empty until the job is triggered).
    #[serde(default)]
    pub boot: Vec<boot::BootEntry>,
}

/// What changed from one monitor view to the next (the live stream sends the full
/// view first, then these): the job and progress always, then only the tasks,
/// instances and volumes whose status changed and the new log lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonitorChange {
    /// The job.
    pub job: JobView,
    /// Recovery progress.
    pub progress: Progress,
    /// Tasks that are new or changed.
    pub tasks: Vec<TaskView>,
    /// Instances whose status changed.
    pub instances: Vec<ItemStatus>,
    /// Volumes whose status changed.
    pub volumes: Vec<ItemStatus>,
    /// Log lines added.
    pub log: Vec<LogView>,
    /// The user operations the job's state allows now.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Whether the job may be deleted now.
    #[serde(default)]
    pub deletable: bool,
}

impl MonitorChange {
    /// The change from `before` to `after`.
    pub fn between(before: &MonitorView, after: &MonitorView) -> MonitorChange {
        let changed = |old: &[ItemStatus], new: &[ItemStatus]| -> Vec<ItemStatus> {
            new.iter().filter(|n| !old.contains(n)).cloned().collect()
        };
        let log = if after.log.starts_with(&before.log) {
            after.log[before.log.len()..].to_vec()
        } else {
            after
                .log
                .iter()
                .filter(|l| !before.log.contains(l))
                .cloned()
                .collect()
        };
        MonitorChange {
            job: after.job.clone(),
            progress: after.progress.clone(),
            tasks: after
                .tasks
                .iter()
                .filter(|t| !before.tasks.contains(t))
                .cloned()
                .collect(),
            instances: changed(&before.instances, &after.instances),
            volumes: changed(&before.volumes, &after.volumes),
            log,
            operations: after.operations.clone(),
            deletable: after.deletable,
        }
    }
}

fn task_view(t: &TaskRecord) -> TaskView {
    TaskView {
        stage: t.stage.clone(),
        index: t.task_index,
        description: t.description.clone(),
        state: t.state.clone(),
        started_at: t.started_at.map(time_text),
        finished_at: t.finished_at.map(time_text),
        duration_ms: t.started_at.zip(t.finished_at).map(|(a, b)| b - a),
        attempts: t.attempts,
        error: t.error.clone(),
    }
}

fn ended(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "skipped")
}

fn bad(state: &str) -> bool {
    matches!(state, "failed" | "skipped")
}

/// Instance and volume statuses from the task graph and the recovery task states.
fn statuses(graph: &TaskGraph, tasks: &[TaskRecord]) -> (Vec<ItemStatus>, Vec<ItemStatus>) {
    let state_of = |n: usize| -> (&str, Option<String>) {
        tasks
            .iter()
            .find(|t| usize::try_from(t.task_index).ok() == Some(n))
            .map_or(("pending", None), |t| (t.state.as_str(), t.error.clone()))
    };
    let mut instances = Vec::new();
    for i in graph.instances() {
        let mut failed = None;
        let (mut created, mut start) = ("pending", "pending");
        let mut all_ok = true;
        for (n, t) in graph.tasks().iter().enumerate() {
            let (s, err) = state_of(n);
            if t.serves.contains(&i) {
                if bad(s) && failed.is_none() {
                    failed = Some(err.unwrap_or_else(|| format!("{}: {s}", t.kind)));
                }
                all_ok &= s == "succeeded";
            }
            match &t.kind {
                TaskKind::CreateInstance(x) if *x == i => created = s,
                TaskKind::StartInstance(x) if *x == i => start = s,
                _ => {}
            }
        }
        let status = if failed.is_some() {
            "failed"
        } else if all_ok {
            "success"
        } else if start == "running" {
            "booting"
        } else if created == "succeeded" {
            "recovered"
        } else {
            "preparing"
        };
        instances.push(ItemStatus {
            id: i.to_string(),
            status: status.into(),
            error: failed,
        });
    }
    // per volume: (export state, manage state, first error)
    type VolumeTasks<'a> = (Option<&'a str>, Option<&'a str>, Option<String>);
    let mut volumes: BTreeMap<String, VolumeTasks<'_>> = BTreeMap::new();
    for (n, t) in graph.tasks().iter().enumerate() {
        let (s, err) = state_of(n);
        match &t.kind {
            TaskKind::ExportVolume(v) => {
                let e = volumes.entry(v.to_string()).or_default();
                e.0 = Some(s);
                if bad(s) {
                    e.2 = e.2.take().or(err);
                }
            }
            TaskKind::ManageVolume(v) => {
                let e = volumes.entry(v.to_string()).or_default();
                e.1 = Some(s);
                if bad(s) {
                    e.2 = e.2.take().or(err);
                }
            }
            _ => {}
        }
    }
    let volumes = volumes
        .into_iter()
        .map(|(id, (export, manage, error))| {
            let status = match (export.unwrap_or("pending"), manage.unwrap_or("pending")) {
                (e, m) if bad(e) || bad(m) => "failed",
                (_, "succeeded") => "recovered",
                (_, "running") | ("succeeded", _) => "importing",
                ("running", _) => "materialising",
                _ => "pending",
            };
            ItemStatus {
                id,
                status: status.into(),
                error,
            }
        })
        .collect();
    (instances, volumes)
}

/// The monitor of a job, from its row and the executor's tables.
pub async fn monitor(db: &Db, row: &JobRow) -> Result<MonitorView, JobError> {
    let job = JobView::of(row)?;
    let state = record::parse_state(&row.state_json)?;
    let (mut recovery, mut rollback, mut log) = (vec![], vec![], vec![]);
    if let Some(run) = &row.run_id {
        let mut conn = db.conn().await?;
        recovery = runs::tasks(&mut conn, run, "recovery").await?;
        rollback = runs::tasks(&mut conn, run, "rollback").await?;
        log = runs::log_lines(&mut conn, run).await?;
    }
    let frozen = row
        .frozen_json
        .as_deref()
        .map(record::parse_frozen)
        .transpose()?;
    let graph = match (&frozen, record::parse_type(&row.job_type)) {
        (Some(f), Some(t)) => TaskGraph::build(&f.spec.topology, t, &Scope::All).ok(),
        _ => None,
    };
    let (instances, volumes) = graph
        .as_ref()
        .map(|g| statuses(g, &recovery))
        .unwrap_or_default();
    let total = graph.as_ref().map_or(recovery.len(), |g| g.tasks().len());
    let done = recovery.iter().filter(|t| ended(&t.state)).count();
    let percent = (done * 100)
        .checked_div(total)
        .map_or(0, |p| u32::try_from(p).unwrap_or(100));
    Ok(MonitorView {
        job,
        progress: Progress {
            done,
            total,
            percent,
        },
        tasks: recovery.iter().chain(&rollback).map(task_view).collect(),
        instances,
        volumes,
        log: log
            .into_iter()
            .map(|l| LogView {
                at: time_text(l.at),
                stage: l.stage,
                level: l.level,
                message: l.message,
            })
            .collect(),
        operations: job_operations::allowed(&state)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        deletable: job_rules::check_delete(&state).is_ok(),
        boot: frozen
            .as_ref()
            .map(|f| boot::plan(&f.spec.topology))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::job::JobType;
    use crate::dr::recovery_graph::TaskStatus;
    use crate::dr::recovery_graph::fixture::{run, shop};

    fn records(g: &TaskGraph, state: impl Fn(usize) -> &'static str) -> Vec<TaskRecord> {
        (0..g.tasks().len())
            .map(|n| TaskRecord {
                stage: "recovery".into(),
                task_index: n as i64,
                description: g.tasks()[n].kind.to_string(),
                state: state(n).into(),
                attempts: 1,
                started_at: None,
                finished_at: None,
                cloud_ms: 0,
                error: (state(n) == "failed").then(|| "boom".into()),
            })
            .collect()
    }

    fn find<'a>(items: &'a [ItemStatus], id: &str) -> &'a str {
        &items.iter().find(|i| i.id == id).unwrap().status
    }

    #[test]
    fn a_change_holds_only_what_changed() {
        let item = |id: &str, status: &str| ItemStatus {
            id: id.into(),
            status: status.into(),
            error: None,
        };
        let line = |m: &str| LogView {
            at: "t".into(),
            stage: "recovery".into(),
            level: "info".into(),
            message: m.into(),
        };
        let job = JobView::of(&crate::db::job_engine::JobRow {
            id: "j".into(),
            name: "n".into(),
            plan_id: "p".into(),
            group_id: "g".into(),
            owner_group_id: "o".into(),
            job_type: "drill".into(),
            run_type: "now".into(),
            recovery_point: "latest-snapshot".into(),
            at_time: None,
            schedule_json: None,
            state: "running".into(),
            state_json: r#"{"kind":"one_time_drill","state":"running"}"#.into(),
            version: 1,
            queue_seq: None,
            scheduled_slot: None,
            fire_at: None,
            run_id: None,
            frozen_json: None,
            triggered_at: None,
            started_at: None,
            completed_at: None,
            pause_until: None,
            rollback_at: None,
            reason: None,
            cleanup_script: None,
            created_by: "u".into(),
            created_at: 0,
            updated_at: 0,
        })
        .unwrap();
        let progress = Progress {
            done: 1,
            total: 2,
            percent: 50,
        };
        let before = MonitorView {
            job: job.clone(),
            progress: progress.clone(),
            tasks: vec![],
            instances: vec![item("a", "preparing"), item("b", "preparing")],
            volumes: vec![item("v", "pending")],
            log: vec![line("one")],
            operations: vec!["pause".into(), "cancel".into()],
            deletable: false,
            boot: vec![],
        };
        let mut after = before.clone();
        after.instances[1] = item("b", "booting");
        after.log.push(line("two"));
        after.operations = vec!["rollback".into()];
        let c = MonitorChange::between(&before, &after);
        assert_eq!(c.operations, vec!["rollback".to_owned()]);
        assert_eq!(c.instances, vec![item("b", "booting")]);
        assert!(c.volumes.is_empty() && c.tasks.is_empty());
        assert_eq!(c.log, vec![line("two")]);
        assert_eq!(MonitorChange::between(&after, &after).log, vec![]);
    }

    #[test]
    fn nothing_started_everything_pending() {
        let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
        let (inst, vols) = statuses(&g, &[]);
        assert_eq!(inst.len(), 5);
        assert!(inst.iter().all(|i| i.status == "preparing"));
        assert_eq!(vols.len(), 10);
        assert!(vols.iter().all(|v| v.status == "pending"));
    }

    #[test]
    fn a_failed_volume_fails_its_instance_only() {
        let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
        let bad = g
            .tasks()
            .iter()
            .position(|t| {
                t.kind == TaskKind::ManageVolume(crate::dr::ids::VolumeId::new("db-data"))
            })
            .unwrap();
        let (status, _) = run(&g, |t| t.0 == bad);
        let recs = records(&g, |n| {
            match status[&crate::dr::recovery_graph::TaskId(n)] {
                TaskStatus::Succeeded => "succeeded",
                TaskStatus::Failed => "failed",
                TaskStatus::Skipped => "skipped",
            }
        });
        let (inst, vols) = statuses(&g, &recs);
        assert_eq!(find(&inst, "db"), "failed");
        assert_eq!(
            inst.iter().find(|i| i.id == "db").unwrap().error.as_deref(),
            Some("boom")
        );
        assert!(
            inst.iter()
                .filter(|i| i.id != "db")
                .all(|i| i.status == "success")
        );
        assert_eq!(find(&vols, "db-data"), "failed");
        assert_eq!(find(&vols, "db-root"), "recovered");
    }

    #[test]
    fn instance_and_volume_progress() {
        let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
        let idx = |k: TaskKind| g.tasks().iter().position(|t| t.kind == k).unwrap();
        let db = crate::dr::ids::InstanceId::new("db");
        let start = idx(TaskKind::StartInstance(db));
        let export = idx(TaskKind::ExportVolume(crate::dr::ids::VolumeId::new(
            "app1-root",
        )));
        let manage = idx(TaskKind::ManageVolume(crate::dr::ids::VolumeId::new(
            "app1-root",
        )));
        let booting = records(&g, |n| {
            if n == start || n == export {
                "running"
            } else if n == manage {
                "pending"
            } else {
                "succeeded"
            }
        });
        let (inst, vols) = statuses(&g, &booting);
        assert_eq!(find(&inst, "db"), "booting");
        assert_eq!(find(&vols, "app1-root"), "materialising");
        let created = records(&g, |n| if n == start { "pending" } else { "succeeded" });
        let (inst, vols) = statuses(&g, &created);
        assert_eq!(find(&vols, "app1-root"), "recovered");
        assert_eq!(find(&inst, "db"), "recovered");
    }
}
