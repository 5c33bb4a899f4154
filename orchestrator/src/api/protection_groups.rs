//! `/api/v1/protection-groups`: protection groups (protection.md, "Protection groups").
//! The unprotected instances of a cluster are `/api/v1/clusters/{id}/unprotected-instances`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::protection_groups::{GroupFilter, GroupRecord};
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::domain::schedule::Recurrence;
use crate::protection::groups::{self, GroupPatch, NewGroup};
use crate::state::AppState;

/// A protection group as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProtectionGroupView {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Source cluster.
    pub source_cluster_id: String,
    /// Owner (user) group.
    pub owner_group_id: String,
    /// The source project of its instances.
    pub project_id: String,
    /// Protected instance ids.
    pub instances: Vec<String>,
    /// Recovery point objective (minutes).
    pub rpo_minutes: i64,
    /// Recovery time objective (minutes).
    pub rto_minutes: i64,
    /// Snapshot interval.
    pub snapshot_interval: Recurrence,
    /// Its recovery plan, if any.
    pub plan_id: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

async fn view(state: &AppState, g: GroupRecord) -> ApiResult<ProtectionGroupView> {
    let mut tx = state.db.begin().await?;
    let instances = db::protection_groups::instances(&mut tx, &g.id).await?;
    let plan_id = db::plans::of_group(&mut tx, &g.id).await?.map(|p| p.id);
    tx.commit().await?;
    let snapshot_interval = serde_json::from_str(&g.snapshot_interval_json).map_err(|e| {
        ApiError::internal(&crate::db::DbError::Corrupt {
            table: "protection_groups",
            reason: e.to_string(),
        })
    })?;
    Ok(ProtectionGroupView {
        id: g.id,
        name: g.name,
        description: g.description,
        source_cluster_id: g.source_cluster_id,
        owner_group_id: g.owner_group_id,
        project_id: g.project_id,
        instances,
        rpo_minutes: g.rpo_minutes,
        rto_minutes: g.rto_minutes,
        snapshot_interval,
        plan_id,
        created_at: super::time_text(g.created_at),
        updated_at: super::time_text(g.updated_at),
    })
}

/// Loads a group and checks the caller's right on it.
pub async fn authorised(
    state: &AppState,
    auth: &Auth,
    id: &str,
    menu: Menu,
    action: Action,
) -> ApiResult<GroupRecord> {
    let g = {
        let mut conn = state.db.conn().await?;
        db::protection_groups::get(&mut conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("protection group", id))?;
    rbac::decide(
        &auth.actor,
        menu,
        action,
        Owner::Groups(std::slice::from_ref(&g.owner_group_id)),
    )?;
    Ok(g)
}

/// Filters of the group list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProtectionGroupQuery {
    /// Source cluster id.
    pub cluster_id: Option<String>,
    /// Substring of the name.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Lists protection groups: Admin all, others their groups'.
#[utoipa::path(get, path = "/api/v1/protection-groups", tag = "protection", params(ProtectionGroupQuery),
    responses((status = 200, body = Page<ProtectionGroupView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<ProtectionGroupQuery>,
) -> ApiResult<Json<Page<ProtectionGroupView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    rbac::decide(
        &auth.actor,
        Menu::ProtectionGroups,
        Action::Read,
        Owner::System,
    )?;
    let member = (auth.actor.role != Role::Admin).then_some(auth.actor.user_id.as_str());
    let (rows, total) = {
        let mut conn = state.db.conn().await?;
        db::protection_groups::list(
            &mut conn,
            &GroupFilter {
                member,
                cluster_id: q.cluster_id.as_deref(),
                search: q.q.as_deref(),
            },
            page.limit,
            page.offset,
        )
        .await?
    };
    let mut items = Vec::with_capacity(rows.len());
    for g in rows {
        items.push(view(&state, g).await?);
    }
    Ok(Json(Page::new(items, total, page)))
}

/// A protection group to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProtectionGroup {
    /// Unique name (Hangul, letters, digits, `- _ # .`).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Source cluster id.
    pub source_cluster_id: String,
    /// Owner group: one of the caller's groups (Admin: any).
    pub owner_group_id: String,
    /// Instance ids of the source cluster, all of one project.
    pub instances: Vec<String>,
    /// Recovery point objective (minutes).
    pub rpo_minutes: i64,
    /// Recovery time objective (minutes).
    pub rto_minutes: i64,
    /// Snapshot interval (every N minutes / hours / weeks / months).
    pub snapshot_interval: Recurrence,
}

/// Creates a protection group.
#[utoipa::path(post, path = "/api/v1/protection-groups", tag = "protection",
    request_body = CreateProtectionGroup,
    responses((status = 201, body = ProtectionGroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreateProtectionGroup>,
) -> ApiResult<(StatusCode, Json<ProtectionGroupView>)> {
    rbac::decide(
        &auth.actor,
        Menu::ProtectionGroups,
        Action::Create,
        Owner::Groups(std::slice::from_ref(&req.owner_group_id)),
    )?;
    super::clusters::authorised(&state, &auth, &req.source_cluster_id, Action::Read).await?;
    {
        let mut conn = state.db.conn().await?;
        if db::groups::get(&mut conn, &req.owner_group_id)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(format!(
                "owner group {:?} does not exist",
                req.owner_group_id
            )));
        }
    }
    let g = groups::create_group(
        &state,
        NewGroup {
            name: req.name,
            description: req.description,
            source_cluster_id: req.source_cluster_id,
            owner_group_id: req.owner_group_id,
            instances: req.instances,
            rpo_minutes: req.rpo_minutes,
            rto_minutes: req.rto_minutes,
            snapshot_interval: req.snapshot_interval,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&state, g).await?)))
}

/// Shows a protection group.
#[utoipa::path(get, path = "/api/v1/protection-groups/{id}", tag = "protection",
    params(("id" = String, Path, description = "protection group id")),
    responses((status = 200, body = ProtectionGroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ProtectionGroupView>> {
    let g = authorised(&state, &auth, &id, Menu::ProtectionGroups, Action::Read).await?;
    Ok(Json(view(&state, g).await?))
}

/// A change of a protection group; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProtectionGroup {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The full new instance list (added instances need a plan update; when empty,
    /// the plan is deleted).
    pub instances: Option<Vec<String>>,
    /// RPO (minutes).
    pub rpo_minutes: Option<i64>,
    /// RTO (minutes).
    pub rto_minutes: Option<i64>,
    /// Snapshot interval.
    pub snapshot_interval: Option<Recurrence>,
}

/// Updates a protection group.
#[utoipa::path(patch, path = "/api/v1/protection-groups/{id}", tag = "protection",
    params(("id" = String, Path, description = "protection group id")),
    request_body = UpdateProtectionGroup,
    responses((status = 200, body = ProtectionGroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdateProtectionGroup>,
) -> ApiResult<Json<ProtectionGroupView>> {
    authorised(&state, &auth, &id, Menu::ProtectionGroups, Action::Update).await?;
    let g = groups::update_group(
        &state,
        &id,
        GroupPatch {
            name: req.name,
            description: req.description,
            instances: req.instances,
            rpo_minutes: req.rpo_minutes,
            rto_minutes: req.rto_minutes,
            snapshot_interval: req.snapshot_interval,
        },
    )
    .await?;
    Ok(Json(view(&state, g).await?))
}

/// Deletes a protection group (refused while it has a plan: `group_has_plan`).
#[utoipa::path(delete, path = "/api/v1/protection-groups/{id}", tag = "protection",
    params(("id" = String, Path, description = "protection group id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    authorised(&state, &auth, &id, Menu::ProtectionGroups, Action::Delete).await?;
    groups::delete_group(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
