//! `/api/v1/plans`: recovery plans (protection.md, "Recovery plans", "Plan states").
//! A plan's rights are those of its protection group's owner group.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::plans::{PlanFilter, PlanRecord};
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::protection::mapping::PlanMapping;
use crate::protection::plans::{self as ops, PlanInput};
use crate::state::AppState;

/// A plan as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanView {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Its protection group.
    pub group_id: String,
    /// Target cluster.
    pub target_cluster_id: String,
    /// Snapshot retention (1..48).
    pub retention: i64,
    /// Resource mapping and boot plan.
    pub mapping: PlanMapping,
    /// `Normal`, `Prepare`, `Warning`, `Critical` or `Emergency`.
    pub state: String,
    /// Every reason behind the state.
    pub reasons: Vec<String>,
    /// When the state last changed (RFC 3339).
    pub state_changed_at: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

fn view(p: PlanRecord) -> ApiResult<PlanView> {
    let mapping = ops::parse_mapping(&p).map_err(|e| ApiError::internal(&e))?;
    let reasons = serde_json::from_str(&p.reasons_json).unwrap_or_default();
    Ok(PlanView {
        id: p.id,
        name: p.name,
        group_id: p.group_id,
        target_cluster_id: p.target_cluster_id,
        retention: p.retention,
        mapping,
        state: p.state,
        reasons,
        state_changed_at: super::time_text(p.state_changed_at),
        created_at: super::time_text(p.created_at),
        updated_at: super::time_text(p.updated_at),
    })
}

/// Loads a plan and checks the caller's right on it (its protection group's owner).
pub async fn authorised(
    state: &AppState,
    auth: &Auth,
    id: &str,
    action: Action,
) -> ApiResult<PlanRecord> {
    let p = {
        let mut conn = state.db.conn().await?;
        db::plans::get(&mut conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("recovery plan", id))?;
    super::protection_groups::authorised(state, auth, &p.group_id, Menu::RecoveryPlans, action)
        .await?;
    Ok(p)
}

/// Filters of the plan list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Plans whose source or target is this cluster.
    pub cluster_id: Option<String>,
    /// State (`Normal`, `Prepare`, `Warning`, `Critical`, `Emergency`).
    pub state: Option<String>,
    /// Substring of the name.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Lists plans: Admin all, others their groups'.
#[utoipa::path(get, path = "/api/v1/plans", tag = "protection", params(PlanQuery),
    responses((status = 200, body = Page<PlanView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<PlanQuery>,
) -> ApiResult<Json<Page<PlanView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    rbac::decide(
        &auth.actor,
        Menu::RecoveryPlans,
        Action::Read,
        Owner::System,
    )?;
    let member = (auth.actor.role != Role::Admin).then_some(auth.actor.user_id.as_str());
    let (rows, total) = {
        let mut conn = state.db.conn().await?;
        db::plans::list(
            &mut conn,
            &PlanFilter {
                member,
                cluster_id: q.cluster_id.as_deref(),
                state: q.state.as_deref(),
                search: q.q.as_deref(),
            },
            page.limit,
            page.offset,
        )
        .await?
    };
    let items = rows.into_iter().map(view).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Page::new(items, total, page)))
}

/// A plan to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    /// The protection group (one plan per group).
    pub group_id: String,
    /// Unique name.
    pub name: Option<String>,
    /// Target cluster id.
    pub target_cluster_id: Option<String>,
    /// Snapshot retention (1..48).
    pub retention: Option<i64>,
    /// Resource mapping and boot plan.
    pub mapping: PlanMapping,
}

/// Creates the plan of a protection group; replication of its volumes starts.
#[utoipa::path(post, path = "/api/v1/plans", tag = "protection", request_body = CreatePlan,
    responses((status = 201, body = PlanView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreatePlan>,
) -> ApiResult<(StatusCode, Json<PlanView>)> {
    super::protection_groups::authorised(
        &state,
        &auth,
        &req.group_id,
        Menu::RecoveryPlans,
        Action::Create,
    )
    .await?;
    if let Some(t) = &req.target_cluster_id {
        super::clusters::authorised(&state, &auth, t, Action::Read).await?;
    }
    let p = ops::create_plan(
        &state,
        &req.group_id,
        PlanInput {
            name: req.name,
            target_cluster_id: req.target_cluster_id,
            retention: req.retention,
            mapping: Some(req.mapping),
        },
    )
    .await?;
    let p = authorised(&state, &auth, &p.id, Action::Read).await?;
    Ok((StatusCode::CREATED, Json(view(p)?)))
}

/// Shows a plan.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "protection",
    params(("id" = String, Path, description = "plan id")),
    responses((status = 200, body = PlanView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanView>> {
    Ok(Json(view(
        authorised(&state, &auth, &id, Action::Read).await?,
    )?))
}

/// A change of a plan; absent fields stay. Saving also maps the group's current
/// volumes (a plan in `Warning` after instances were added returns to normal once
/// every new resource is mapped).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlan {
    /// New name.
    pub name: Option<String>,
    /// New target cluster.
    pub target_cluster_id: Option<String>,
    /// Snapshot retention (1..48).
    pub retention: Option<i64>,
    /// The whole new mapping and boot plan.
    pub mapping: Option<PlanMapping>,
}

/// Updates a plan.
#[utoipa::path(patch, path = "/api/v1/plans/{id}", tag = "protection",
    params(("id" = String, Path, description = "plan id")), request_body = UpdatePlan,
    responses((status = 200, body = PlanView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdatePlan>,
) -> ApiResult<Json<PlanView>> {
    authorised(&state, &auth, &id, Action::Update).await?;
    if let Some(t) = &req.target_cluster_id {
        super::clusters::authorised(&state, &auth, t, Action::Read).await?;
    }
    let p = ops::update_plan(
        &state,
        &id,
        PlanInput {
            name: req.name,
            target_cluster_id: req.target_cluster_id,
            retention: req.retention,
            mapping: req.mapping,
        },
    )
    .await?;
    Ok(Json(view(p)?))
}

/// Deletes a plan: stops replication and removes the mirror (refused while a job of
/// the plan exists: `job_exists`).
#[utoipa::path(delete, path = "/api/v1/plans/{id}", tag = "protection",
    params(("id" = String, Path, description = "plan id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    authorised(&state, &auth, &id, Action::Delete).await?;
    ops::delete_plan(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A plan's state with every reason.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanStateView {
    /// The plan.
    pub plan_id: String,
    /// `Normal`, `Prepare`, `Warning`, `Critical` or `Emergency`.
    pub state: String,
    /// Recovery jobs may start in this state.
    pub jobs_allowed: bool,
    /// Every reason, in words an operator can act on.
    pub reasons: Vec<String>,
    /// When the state last changed (RFC 3339).
    pub state_changed_at: String,
}

/// Evaluates the plan's state now (from the synced clusters, jobs and replication)
/// and shows it with its reasons.
#[utoipa::path(get, path = "/api/v1/plans/{id}/state", tag = "protection",
    params(("id" = String, Path, description = "plan id")),
    responses((status = 200, body = PlanStateView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn plan_state(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanStateView>> {
    authorised(&state, &auth, &id, Action::Read).await?;
    crate::protection::evaluate_plan(&state, &id).await?;
    let p = authorised(&state, &auth, &id, Action::Read).await?;
    let jobs_allowed = crate::protection::evaluate::parse_state(&p.state)
        .is_some_and(crate::dr::plan_state::PlanState::jobs_allowed);
    Ok(Json(PlanStateView {
        plan_id: p.id,
        jobs_allowed,
        reasons: serde_json::from_str(&p.reasons_json).unwrap_or_default(),
        state: p.state,
        state_changed_at: super::time_text(p.state_changed_at),
    }))
}
