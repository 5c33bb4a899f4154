//! `/api/v1/reports`: job reports (jobs.md, "Results") — list (filter by type,
//! result, group, job name and end time), detail, export as JSON or HTML, delete (drill reports only; DR reports
//! are permanent). And a protection group's history, from the job tables only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::db::job_engine::{self as jobs, JobFilter};
use crate::db::job_reports::{self, ReportFilter, ReportRow};
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::jobs::report::Report;
use crate::jobs::view::JobView;
use crate::state::AppState;

/// A report in the list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportItem {
    /// Report id.
    pub id: String,
    /// The job.
    pub job_id: String,
    /// The job's name.
    pub job_name: String,
    /// The plan.
    pub plan_id: String,
    /// The protection group.
    pub group_id: String,
    /// The plan's name when the job ran (empty when the report does not say).
    #[serde(default)]
    pub plan_name: String,
    /// The group's name when the job ran (empty when the report does not say).
    #[serde(default)]
    pub group_name: String,
    /// The user group owning the report (its protection group's owner).
    #[serde(default)]
    pub owner_group_id: String,
    /// `drill` or `dr`.
    pub job_type: String,
    /// The result.
    pub result: String,
    /// Recovery started.
    pub started_at: Option<String>,
    /// The job ended.
    pub finished_at: String,
}

/// The names a list shows, read from the stored report (the plan and group may be
/// gone since: a confirmed DR deletes them).
#[derive(Deserialize)]
struct Names {
    summary: NamesSummary,
}

#[derive(Deserialize)]
struct NamesSummary {
    plan: crate::jobs::report::NamedRef,
    group: crate::jobs::report::NamedRef,
}

fn item(r: &ReportRow) -> ReportItem {
    let names = serde_json::from_str::<Names>(&r.report_json).ok();
    ReportItem {
        id: r.id.clone(),
        job_id: r.job_id.clone(),
        job_name: r.job_name.clone(),
        plan_id: r.plan_id.clone(),
        group_id: r.group_id.clone(),
        plan_name: names
            .as_ref()
            .map(|n| n.summary.plan.name.clone())
            .unwrap_or_default(),
        group_name: names.map(|n| n.summary.group.name).unwrap_or_default(),
        owner_group_id: r.owner_group_id.clone(),
        job_type: r.job_type.clone(),
        result: r.result.clone(),
        started_at: r.started_at.map(super::time_text),
        finished_at: super::time_text(r.finished_at),
    }
}

/// Filters of the report list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Only this job type (`drill`, `dr`).
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// Only this result (`success`, `partial_success`, `failed`, `canceled`).
    pub result: Option<String>,
    /// Only this protection group.
    pub group: Option<String>,
    /// Only jobs whose name contains this text (case-insensitive).
    pub q: Option<String>,
    /// Only jobs that ended at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only jobs that ended before this time (RFC 3339).
    pub until: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Export format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `html`.
    pub format: Option<String>,
}

fn visible_to(auth: &Auth) -> Option<String> {
    (auth.actor.role != Role::Admin).then(|| auth.actor.user_id.clone())
}

/// Lists reports, newest first; non-Admins see their groups' reports.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportQuery),
    responses((status = 200, body = Page<ReportItem>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<ReportQuery>,
) -> ApiResult<Json<Page<ReportItem>>> {
    rbac::decide(
        &auth.actor,
        Menu::RecoveryResults,
        Action::Read,
        Owner::System,
    )?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = ReportFilter {
        visible_to: visible_to(&auth),
        group_id: q.group,
        job_type: q.job_type,
        result: q.result,
        search: q.q.filter(|s| !s.trim().is_empty()),
        finished_from: q.since.as_deref().map(super::parse_time).transpose()?,
        finished_before: q.until.as_deref().map(super::parse_time).transpose()?,
        limit: page.limit,
        offset: page.offset,
    };
    let (found, total) = {
        let mut conn = state.db.conn().await?;
        job_reports::list(&mut conn, &filter).await?
    };
    Ok(Json(Page::new(
        found.iter().map(item).collect(),
        total,
        page,
    )))
}

async fn authorised(
    state: &AppState,
    auth: &Auth,
    id: &str,
    action: Action,
) -> ApiResult<ReportRow> {
    rbac::decide(&auth.actor, Menu::RecoveryResults, action, Owner::System)?;
    let row = {
        let mut conn = state.db.conn().await?;
        job_reports::get(&mut conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("report", id))?;
    rbac::decide(
        &auth.actor,
        Menu::RecoveryResults,
        action,
        Owner::Groups(std::slice::from_ref(&row.owner_group_id)),
    )?;
    Ok(row)
}

fn document(r: &ReportRow) -> ApiResult<Report> {
    serde_json::from_str(&r.report_json).map_err(|e| ApiError::internal(&e))
}

/// Shows a report.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")),
    responses((status = 200, body = Report), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    let row = authorised(&state, &auth, &id, Action::Read).await?;
    Ok(Json(document(&row)?))
}

/// The user group owning a report (for the console's decision to offer delete), with
/// the same access check as [`get`].
pub async fn owner_group(state: &AppState, auth: &Auth, id: &str) -> ApiResult<String> {
    Ok(authorised(state, auth, id, Action::Read)
        .await?
        .owner_group_id)
}

/// Exports a report as a file (`?format=json|html`).
#[utoipa::path(get, path = "/api/v1/reports/{id}/export", tag = "reports",
    params(("id" = String, Path, description = "report id"), ExportQuery),
    responses((status = 200, description = "the report as a JSON or HTML file"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Params(q): Params<ExportQuery>,
) -> ApiResult<Response> {
    let row = authorised(&state, &auth, &id, Action::Read).await?;
    let report = document(&row)?;
    let (body, mime, ext) = match q.format.as_deref().unwrap_or("json") {
        "json" => (
            serde_json::to_string_pretty(&report).map_err(|e| ApiError::internal(&e))?,
            "application/json",
            "json",
        ),
        "html" => (html(&report), "text/html; charset=utf-8", "html"),
        other => {
            return Err(ApiError::invalid(format!(
                "format {other:?}: use json or html"
            )));
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"holdfast-report-{}.{ext}\"",
        report.id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn html(r: &Report) -> String {
    use maud::{DOCTYPE, html};
    let s = &r.summary;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    let ms =
        |v: Option<i64>| v.map_or_else(|| "–".into(), |m| format!("{:.1} s", m as f64 / 1000.0));
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Holdfast report " (r.id) } }
            body {
                h1 { "Recovery report: " (s.job_name) }
                table {
                    tr { th { "Job" } td { (s.job_id) " (" (s.job_type) ")" } }
                    tr { th { "Plan" } td { (s.plan.name) " (" (s.plan.id) ")" } }
                    tr { th { "Protection group" } td { (s.group.name) " (" (s.group.id) ")" } }
                    tr { th { "Source cluster" } td { (s.source_cluster.name) } }
                    tr { th { "Target cluster" } td { (s.target_cluster.name) } }
                    tr { th { "Recovery point" } td { (s.recovery_point) " → " (opt(&s.resolved_point)) " at " (opt(&s.recovery_point_at)) } }
                    tr { th { "Triggered" } td { (opt(&s.triggered_at)) } }
                    tr { th { "Started" } td { (opt(&s.started_at)) } }
                    tr { th { "Completed" } td { (opt(&s.completed_at)) } }
                    tr { th { "Finished" } td { (s.finished_at) } }
                    tr { th { "Achieved RTO" } td { (ms(s.rto_ms)) } }
                    tr { th { "Achieved RPO" } td { (ms(s.rpo_ms)) } }
                    tr { th { "Result" } td { (s.result) " (" (s.ending) ")" } }
                    @if let Some(reason) = &s.reason { tr { th { "Reason" } td { (reason) } } }
                }
                h2 { "Instances" }
                table {
                    @for i in &r.detail.instances { tr { td { (i.id) } td { (i.status) } td { (opt(&i.error)) } } }
                }
                h2 { "Volumes" }
                table {
                    @for v in &r.detail.volumes { tr { td { (v.id) } td { (v.status) } td { (opt(&v.error)) } } }
                }
                h2 { "Workflow" }
                table {
                    tr { th { "stage" } th { "task" } th { "state" } th { "started" } th { "ended" } th { "error" } }
                    @for t in &r.detail.tasks {
                        tr { td { (t.stage) } td { (t.description) } td { (t.state) }
                             td { (opt(&t.started_at)) } td { (opt(&t.finished_at)) } td { (opt(&t.error)) } }
                    }
                }
                h2 { "Task log" }
                pre { @for l in &r.detail.log { (l.at) " " (l.level) " " (l.message) "\n" } }
            }
        }
    }
    .into_string()
}

/// Deletes a drill report (DR reports are permanent audit records).
#[utoipa::path(delete, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")),
    responses((status = 204), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row = authorised(&state, &auth, &id, Action::Delete).await?;
    if row.job_type != "drill" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "report_permanent",
            "a DR report is a permanent audit record and cannot be deleted; only drill reports can",
        ));
    }
    let mut conn = state.db.conn().await?;
    if !job_reports::delete_drill(&mut conn, &id).await? {
        return Err(ApiError::not_found("report", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A protection group's history: its current jobs and its finished jobs' reports.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupHistory {
    /// Jobs of the group still in the job list.
    pub jobs: Vec<JobView>,
    /// Finished jobs (their reports), newest first, paginated.
    pub finished: Page<ReportItem>,
}

/// Page of a history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Page size of the finished jobs (1–500, default 50).
    pub limit: Option<i64>,
    /// Finished jobs to skip.
    pub offset: Option<i64>,
}

/// Every job of a protection group, with type, times and result.
#[utoipa::path(get, path = "/api/v1/protection-groups/{id}/history", tag = "reports",
    params(("id" = String, Path, description = "protection group id"), HistoryQuery),
    responses((status = 200, body = GroupHistory), (status = 403, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Params(q): Params<HistoryQuery>,
) -> ApiResult<Json<GroupHistory>> {
    rbac::decide(
        &auth.actor,
        Menu::RecoveryResults,
        Action::Read,
        Owner::System,
    )?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = state.db.conn().await?;
    let (current, _) = jobs::list(
        &mut conn,
        &JobFilter {
            visible_to: visible_to(&auth),
            group_id: Some(id.clone()),
            limit: crate::api::page::MAX_LIMIT,
            ..JobFilter::default()
        },
    )
    .await?;
    let (done, total) = job_reports::list(
        &mut conn,
        &ReportFilter {
            visible_to: visible_to(&auth),
            group_id: Some(id),
            limit: page.limit,
            offset: page.offset,
            ..ReportFilter::default()
        },
    )
    .await?;
    Ok(Json(GroupHistory {
        jobs: current
            .iter()
            .map(|r| JobView::of(r).map_err(ApiError::from))
            .collect::<ApiResult<_>>()?,
        finished: Page::new(done.iter().map(item).collect(), total, page),
    }))
}
