//! `/api/v1/jobs`: recovery jobs (jobs.md) — create, list, show, update, delete, the
//! user operations, the monitor and its live stream. The job engine (`crate::jobs`)
//! applies the rules; this file maps requests and errors.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::db::job_engine::{self as rows, JobFilter, JobRow};
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::dr::ids::{InstanceId, PlanId, SnapshotId};
use crate::dr::job::{JobType, RecoveryPoint, RunType};
use crate::dr::job_rules::CreateJobError;
use crate::dr::job_state::{Operation, RetryPoint, RollbackExtension, StartGate};
use crate::jobs::view::{JobView, MonitorChange, MonitorView, monitor};
use crate::jobs::{CreateJob, JobError, JobSchedule, JobSourceError, JobUpdate, RetryPointError};
use crate::state::AppState;

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let conflict = |code, e: &dyn std::fmt::Display| {
            ApiError::new(StatusCode::CONFLICT, code, e.to_string())
        };
        match &e {
            JobError::NotFound(id) => ApiError::not_found("job", id),
            JobError::Denied(d) => ApiError::from(d.clone()),
            JobError::Source(JobSourceError::Unavailable) => conflict("plans_unavailable", &e),
            JobError::Source(JobSourceError::NotFound(m)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", m.clone())
            }
            JobError::Source(JobSourceError::Failed(_)) => conflict("plan_source_failed", &e),
            JobError::Create(c) => match c {
                CreateJobError::Combination { .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_combination",
                    e.to_string(),
                ),
                CreateJobError::PlanNotReady { .. } => conflict("plan_not_ready", &e),
                CreateJobError::DrInProgress { .. } => conflict("dr_in_progress", &e),
                CreateJobError::NoSnapshot => conflict("no_snapshot", &e),
                CreateJobError::UnknownSnapshot(_) => conflict("unknown_snapshot", &e),
            },
            JobError::Update(_) => conflict("job_not_updatable", &e),
            JobError::Delete(_) => conflict("job_running", &e),
            JobError::Transition(_) => conflict("invalid_transition", &e),
            JobError::Invalid(m) => ApiError::invalid(m.clone()),
            JobError::Changed(_) => conflict("job_changed", &e),
            JobError::RetryPoint(RetryPointError::NotASnapshot(_)) => {
                ApiError::invalid(e.to_string())
            }
            JobError::RetryPoint(RetryPointError::UnknownSnapshot { .. }) => {
                conflict("unknown_snapshot", &e)
            }
            JobError::RetryRefused(_) => conflict("retry_refused", &e),
            JobError::Db(_) | JobError::Recovery(_) | JobError::Corrupt(_) => {
                ApiError::internal(&e)
            }
        }
    }
}

/// A new job.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJobBody {
    /// Name (default: `<type>-<run type>`).
    pub name: Option<String>,
    /// The recovery plan.
    pub plan_id: String,
    /// `drill` or `dr`.
    #[serde(rename = "type")]
    pub job_type: String,
    /// `now`, `at` or `schedule`.
    pub run_type: String,
    /// `latest-data`, `latest-snapshot` or `snapshot`.
    pub recovery_point: String,
    /// The snapshot of a `snapshot` recovery point.
    pub snapshot_id: Option<String>,
    /// The time of an `at` job (RFC 3339).
    pub at: Option<String>,
    /// The schedule of a `schedule` job.
    pub schedule: Option<JobSchedule>,
}

/// A change of a waiting job: the time of an `at` job or the schedule of a
/// `schedule` job.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateJobBody {
    /// The new time (RFC 3339).
    pub at: Option<String>,
    /// The new schedule.
    pub schedule: Option<JobSchedule>,
}

/// Filters of the job list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// Only this protection group.
    pub group: Option<String>,
    /// Only this plan.
    pub plan: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this type (`drill`, `dr`).
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// Only jobs whose name or plan's name contains this.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// The body of an operation (only `retry` and `extend-rollback-wait` take one).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationBody {
    /// `retry`: the instances to recover again.
    #[serde(default)]
    pub instances: Vec<String>,
    /// `retry`: recover from this snapshot instead of the job's point.
    pub snapshot_id: Option<String>,
    /// `extend-rollback-wait`: minutes to add (1 to 10080).
    pub minutes: Option<u64>,
}

/// The answer to an operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OperationResult {
    /// The job afterwards; `null` when it left the job list (its report stays).
    pub job: Option<JobView>,
    /// `ignore-rollback`: the script that deletes what the job left on the target.
    pub cleanup_script: Option<String>,
}

/// The answer to a delete.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedJob {
    /// Whether resources the job created were left on the target.
    pub left_resources: bool,
    /// The script that deletes them (OpenStack CLI commands in dependency order).
    pub cleanup_script: Option<String>,
}

fn parse_type(s: &str) -> Result<JobType, ApiError> {
    crate::jobs::record::parse_type(s)
        .ok_or_else(|| ApiError::invalid(format!("type {s:?}: use drill or dr")))
}

fn parse_run(s: &str) -> Result<RunType, ApiError> {
    crate::jobs::record::parse_run_type(s)
        .ok_or_else(|| ApiError::invalid(format!("run_type {s:?}: use now, at or schedule")))
}

fn parse_point(s: &str, snapshot: Option<&str>) -> Result<RecoveryPoint, ApiError> {
    match (s, snapshot) {
        ("latest-data", None) => Ok(RecoveryPoint::LatestData),
        ("latest-snapshot", None) => Ok(RecoveryPoint::LatestSnapshot),
        ("snapshot", Some(id)) => Ok(RecoveryPoint::Snapshot(SnapshotId::new(id))),
        ("snapshot", None) => Err(ApiError::invalid(
            "recovery_point 'snapshot' needs snapshot_id",
        )),
        ("latest-data" | "latest-snapshot", Some(_)) => Err(ApiError::invalid(
            "snapshot_id is only for recovery_point 'snapshot'",
        )),
        _ => Err(ApiError::invalid(format!(
            "recovery_point {s:?}: use latest-data, latest-snapshot or snapshot"
        ))),
    }
}

fn view(r: &JobRow) -> ApiResult<JobView> {
    JobView::of(r).map_err(ApiError::from)
}

/// Loads a job the actor may act on with `action`.
async fn authorised(state: &AppState, auth: &Auth, id: &str, action: Action) -> ApiResult<JobRow> {
    rbac::decide(&auth.actor, Menu::RecoveryJobs, action, Owner::System)?;
    let row = {
        let mut conn = state.db.conn().await?;
        rows::get(&mut conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("job", id))?;
    rbac::decide(
        &auth.actor,
        Menu::RecoveryJobs,
        action,
        Owner::Groups(std::slice::from_ref(&row.owner_group_id)),
    )?;
    Ok(row)
}

/// Creates a job (jobs.md, "Creating a job"); a `now` job is triggered at once.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = NewJobBody,
    responses((status = 201, body = JobView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<NewJobBody>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    rbac::decide(
        &auth.actor,
        Menu::RecoveryJobs,
        Action::Create,
        Owner::System,
    )?;
    let job_type = parse_type(&req.job_type)?;
    let run_type = parse_run(&req.run_type)?;
    let point = parse_point(&req.recovery_point, req.snapshot_id.as_deref())?;
    let at = req.at.as_deref().map(super::parse_time).transpose()?;
    if run_type != RunType::At && at.is_some() {
        return Err(ApiError::invalid("'at' is only for run_type 'at'"));
    }
    if run_type != RunType::Schedule && req.schedule.is_some() {
        return Err(ApiError::invalid(
            "'schedule' is only for run_type 'schedule'",
        ));
    }
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| format!("{job_type}-{run_type}"));
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err(ApiError::invalid("name: 1 to 128 characters"));
    }
    let actor = auth.actor.clone();
    let row = state
        .jobs
        .create(
            &state,
            CreateJob {
                name,
                plan: PlanId::new(&req.plan_id),
                job_type,
                run_type,
                point,
                at,
                schedule: req.schedule,
                created_by: auth.actor.user_id.clone(),
            },
            |facts| {
                rbac::decide(
                    &actor,
                    Menu::RecoveryJobs,
                    Action::Create,
                    Owner::Groups(std::slice::from_ref(&facts.owner_group)),
                )
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(&row)?)))
}

/// Lists jobs; non-Admins see their groups' jobs.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery),
    responses((status = 200, body = Page<JobView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<JobQuery>,
) -> ApiResult<Json<Page<JobView>>> {
    rbac::decide(&auth.actor, Menu::RecoveryJobs, Action::Read, Owner::System)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = JobFilter {
        visible_to: (auth.actor.role != Role::Admin).then(|| auth.actor.user_id.clone()),
        group_id: q.group,
        plan_id: q.plan,
        state: q.state,
        job_type: q.job_type,
        search: q.q.filter(|s| !s.trim().is_empty()),
        limit: page.limit,
        offset: page.offset,
    };
    let (found, total) = {
        let mut conn = state.db.conn().await?;
        rows::list(&mut conn, &filter).await?
    };
    let items = found.iter().map(view).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Page::new(items, total, page)))
}

/// Shows a job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let row = authorised(&state, &auth, &id, Action::Read).await?;
    Ok(Json(view(&row)?))
}

/// Changes the time of a waiting `at` job or the schedule of a `schedule` job.
#[utoipa::path(patch, path = "/api/v1/jobs/{id}", tag = "jobs", request_body = UpdateJobBody,
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdateJobBody>,
) -> ApiResult<Json<JobView>> {
    authorised(&state, &auth, &id, Action::Update).await?;
    let change = match (req.at, req.schedule) {
        (Some(at), None) => JobUpdate::Time(super::parse_time(&at)?),
        (None, Some(s)) => JobUpdate::Schedule(s),
        _ => {
            return Err(ApiError::invalid(
                "give exactly one of 'at' (an 'at' job's time) or 'schedule'",
            ));
        }
    };
    let row = state.jobs.update(&state, &id, change).await?;
    Ok(Json(view(&row)?))
}

/// Deletes a job that is not running (its report, if any, stays).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = DeletedJob), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeletedJob>> {
    authorised(&state, &auth, &id, Action::Delete).await?;
    let script = state.jobs.delete(&state, &id).await?;
    Ok(Json(DeletedJob {
        left_resources: script.is_some(),
        cleanup_script: script,
    }))
}

fn operation(op: &str, body: OperationBody) -> ApiResult<Operation> {
    Ok(match op {
        "run" => Operation::Run(StartGate::Open),
        "pause" => Operation::Pause,
        "cancel" => Operation::Cancel,
        "retry" => Operation::Retry {
            instances: body.instances.into_iter().map(InstanceId::new).collect(),
            point: match body.snapshot_id {
                None => RetryPoint::JobPoint,
                Some(s) => RetryPoint::Other(RecoveryPoint::Snapshot(SnapshotId::new(s))),
            },
        },
        "rollback" => Operation::Rollback,
        "retry-rollback" => Operation::RetryRollback,
        "ignore-rollback" => Operation::IgnoreRollback,
        "confirm" => Operation::Confirm,
        "retry-confirm" => Operation::RetryConfirm,
        "cancel-confirm" => Operation::CancelConfirm,
        "extend-rollback-wait" => {
            let minutes = body.minutes.ok_or_else(|| {
                ApiError::invalid("extend-rollback-wait needs 'minutes' (1 to 10080)")
            })?;
            Operation::ExtendRollbackWait(
                RollbackExtension::parse(minutes).map_err(|e| ApiError::invalid(e.to_string()))?,
            )
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_operation",
                format!(
                    "no operation {other:?}: use run, pause, cancel, retry, rollback, retry-rollback, ignore-rollback, confirm, retry-confirm, cancel-confirm or extend-rollback-wait"
                ),
            ));
        }
    })
}

/// Applies a user operation (jobs.md, "Operations a user asks for"); one the job's
/// state does not allow is refused with 409 `invalid_transition` naming the state.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/operations/{op}", tag = "jobs",
    request_body(content = Option<OperationBody>),
    params(("id" = String, Path, description = "job id"),
           ("op" = String, Path, description = "run, pause, cancel, retry, rollback, retry-rollback, ignore-rollback, confirm, retry-confirm, cancel-confirm, extend-rollback-wait")),
    responses((status = 200, body = OperationResult), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn operate(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, op)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<OperationResult>> {
    authorised(&state, &auth, &id, Action::Update).await?;
    let body: OperationBody = if body.iter().all(u8::is_ascii_whitespace) {
        OperationBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("operation body: {e}"),
            )
        })?
    };
    let op = operation(&op, body)?;
    let done = state.jobs.operate(&state, &id, op).await?;
    Ok(Json(OperationResult {
        job: done.job.as_ref().map(view).transpose()?,
        cleanup_script: done.cleanup_script,
    }))
}

/// The monitor of a job: state, progress, workflow tasks with timings, per-instance
/// and per-volume status, task log, cleanup time.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/monitor", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = MonitorView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn monitor_view(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<MonitorView>> {
    let row = authorised(&state, &auth, &id, Action::Read).await?;
    Ok(Json(monitor(&state.db, &row).await?))
}

/// The monitor live (`text/event-stream`): first a `monitor` event with the full
/// view, then a `change` event after every change of the job (the job, its progress,
/// and only the tasks, instances and volumes that changed and the new log lines), and
/// `removed` when the job leaves the list (its report stays).
#[utoipa::path(get, path = "/api/v1/jobs/{id}/stream", tag = "jobs",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "Server-Sent Events: `monitor` (MonitorView), then `change` (MonitorChange), `removed`",
               content_type = "text/event-stream"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    authorised(&state, &auth, &id, Action::Read).await?;
    let rx = state.jobs.subscribe();
    let s = futures_util::stream::unfold(
        (state, rx, id, None::<MonitorView>, false),
        |(state, mut rx, id, last, done)| async move {
            if done {
                return None;
            }
            let mut shutdown = state.shutdown.clone();
            if last.is_some() {
                loop {
                    tokio::select! {
                        _ = shutdown.changed() => return None,
                        got = rx.recv() => match got {
                            Ok(changed) if changed == id => break,
                            Ok(_) => continue,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                }
            }
            let row = match state.db.conn().await {
                Ok(mut conn) => rows::get(&mut conn, &id).await.ok().flatten(),
                Err(_) => None,
            };
            let Some(row) = row else {
                let item = SseEvent::default().event("removed").data(id.clone());
                return Some((Ok(item), (state, rx, id, last, true)));
            };
            let (item, next) = match (monitor(&state.db, &row).await, last) {
                (Ok(view), None) => (
                    SseEvent::default()
                        .event("monitor")
                        .data(serde_json::to_string(&view).unwrap_or_default()),
                    Some(view),
                ),
                (Ok(view), Some(before)) => (
                    SseEvent::default().event("change").data(
                        serde_json::to_string(&MonitorChange::between(&before, &view))
                            .unwrap_or_default(),
                    ),
                    Some(view),
                ),
                (Err(e), last) => (SseEvent::default().event("error").data(e.to_string()), last),
            };
            Some((Ok(item), (state, rx, id, next, false)))
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}
