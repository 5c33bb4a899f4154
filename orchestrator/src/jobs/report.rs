//! The report of a job, written once at `reporting` (jobs.md, "Results"): a summary
//! (plan, group, clusters, type, recovery point and its time, start and end,
//! achieved RTO and RPO, result) and the monitor at that moment (workflow,
//! instances, volumes, task log). Then the job moves on to `finished`.

use serde::{Deserialize, Serialize};

use super::view::{MonitorView, monitor};
use super::{JobError, Jobs, record};
use crate::api::time_text;
use crate::db::job_engine::JobRow;
use crate::db::job_reports::{self, ReportRow};
use crate::dr::job_state::{Event, Phase};
use crate::state::{AppState, now_ms};

/// The summary of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportSummary {
    /// The job.
    pub job_id: String,
    /// Its name.
    pub job_name: String,
    /// `drill` or `dr`.
    pub job_type: String,
    /// The plan (id and name).
    pub plan: NamedRef,
    /// The protection group.
    pub group: NamedRef,
    /// The source cluster.
    pub source_cluster: NamedRef,
    /// The target cluster.
    pub target_cluster: NamedRef,
    /// The recovery point as asked (`latest-snapshot`, ...).
    pub recovery_point: String,
    /// The point it resolved to (`snapshot:<id>` or `latest-data`).
    pub resolved_point: Option<String>,
    /// The point's time.
    pub recovery_point_at: Option<String>,
    /// Triggered (the disaster, or the drill's time).
    pub triggered_at: Option<String>,
    /// Recovery started.
    pub started_at: Option<String>,
    /// Recovery completed.
    pub completed_at: Option<String>,
    /// The job ended.
    pub finished_at: String,
    /// Achieved RTO: trigger to recovery completed (ms).
    pub rto_ms: Option<i64>,
    /// Achieved RPO: recovery point to trigger (ms).
    pub rpo_ms: Option<i64>,
    /// The result.
    pub result: String,
    /// How the job ended: `rolled_back`, `confirmed`, `cleanup_ignored`, `not_started`.
    pub ending: String,
    /// Why (e.g. the 10-minute rule, or a failed rollback).
    pub reason: Option<String>,
}

/// An object by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// Report id.
    pub id: String,
    /// The summary.
    pub summary: ReportSummary,
    /// Workflow, instances, volumes and task log at the end.
    pub detail: MonitorView,
}

fn named(id: &str, name: &str) -> NamedRef {
    NamedRef {
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

/// Writes the report of a job in `reporting` (once) and feeds "report written".
pub(crate) async fn write(jobs: &Jobs, app: &AppState, row: JobRow) -> Result<(), JobError> {
    let state = record::parse_state(&row.state_json)?;
    let Phase::Reporting { result, ending } = state.phase else {
        return Ok(());
    };
    let now = now_ms();
    let frozen = row
        .frozen_json
        .as_deref()
        .map(record::parse_frozen)
        .transpose()?;
    let detail = monitor(&app.db, &row).await?;
    let (plan, group, source, target, resolved, point_at) = match &frozen {
        Some(f) => (
            named(f.plan.as_str(), &f.plan_name),
            named(f.group.as_str(), &f.group_name),
            named(f.source.id.as_str(), &f.source.name),
            named(f.target.id.as_str(), &f.target.name),
            Some(record::point_string(&f.point)),
            Some(f.point_at_ms),
        ),
        None => (
            named(&row.plan_id, ""),
            named(&row.group_id, ""),
            named("", ""),
            named("", ""),
            None,
            None,
        ),
    };
    let id = row.run_id.clone().unwrap_or_else(|| row.id.clone());
    let report = Report {
        id: id.clone(),
        summary: ReportSummary {
            job_id: row.id.clone(),
            job_name: row.name.clone(),
            job_type: row.job_type.clone(),
            plan,
            group,
            source_cluster: source,
            target_cluster: target,
            recovery_point: row.recovery_point.clone(),
            resolved_point: resolved,
            recovery_point_at: point_at.map(time_text),
            triggered_at: row.triggered_at.map(time_text),
            started_at: row.started_at.map(time_text),
            completed_at: row.completed_at.map(time_text),
            finished_at: time_text(now),
            rto_ms: row.triggered_at.zip(row.completed_at).map(|(t, c)| c - t),
            rpo_ms: point_at.zip(row.triggered_at).map(|(p, t)| t - p),
            result: record::result_text(result).to_owned(),
            ending: record::ending_text(ending).to_owned(),
            reason: row.reason.clone(),
        },
        detail,
    };
    let json =
        serde_json::to_string(&report).map_err(|e| record::CorruptJob(format!("report: {e}")))?;
    {
        let mut conn = app.db.conn().await?;
        job_reports::insert_once(
            &mut conn,
            &ReportRow {
                id,
                job_id: row.id.clone(),
                job_name: row.name.clone(),
                plan_id: row.plan_id.clone(),
                group_id: row.group_id.clone(),
                owner_group_id: row.owner_group_id.clone(),
                job_type: row.job_type.clone(),
                result: record::result_text(result).to_owned(),
                started_at: row.started_at,
                finished_at: now,
                report_json: json,
                created_at: now,
            },
        )
        .await?;
    }
    jobs.apply(app, row, Event::ReportWritten).await.map(|_| ())
}
