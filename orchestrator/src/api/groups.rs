//! `/api/v1/groups`: user groups and their members.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::groups::GroupRecord;
use crate::domain::names::DisplayName;
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::state::{AppState, now_ms};

/// A group as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupView {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Member user ids.
    pub members: Vec<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

impl From<GroupRecord> for GroupView {
    fn from(g: GroupRecord) -> Self {
        GroupView {
            id: g.id,
            name: g.name,
            description: g.description,
            members: g.members,
            created_at: super::time_text(g.created_at),
            updated_at: super::time_text(g.updated_at),
        }
    }
}

/// Filters of the group list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// Substring of the name.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Lists groups: Admin all, Manager their own.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupQuery),
    responses((status = 200, body = Page<GroupView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<GroupQuery>,
) -> ApiResult<Json<Page<GroupView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    rbac::decide(&auth.actor, Menu::Users, Action::Read, Owner::System)?;
    let member = (auth.actor.role != Role::Admin).then_some(auth.actor.user_id.as_str());
    let mut tx = state.db.begin().await?;
    let (groups, total) =
        db::groups::list(&mut tx, member, q.q.as_deref(), page.limit, page.offset).await?;
    tx.commit().await?;
    Ok(Json(Page::new(
        groups.into_iter().map(GroupView::from).collect(),
        total,
        page,
    )))
}

/// New group.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Unique name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Creates a group; a Manager who creates one becomes its member.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroup,
    responses((status = 201, body = GroupView), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreateGroup>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    rbac::decide(&auth.actor, Menu::Users, Action::Create, Owner::System)?;
    let name = DisplayName::parse("group name", &req.name)?;
    check_description(&req.description)?;
    let now = now_ms();
    let record = GroupRecord {
        id: Uuid::new_v4().to_string(),
        name: name.as_str().to_owned(),
        description: req.description,
        created_at: now,
        updated_at: now,
        members: Vec::new(),
    };
    let mut tx = state.db.begin().await?;
    db::groups::insert(&mut tx, &record).await.map_err(|e| {
        if e.is_unique_violation() {
            ApiError::conflict(format!("a group named {:?} exists", record.name))
        } else {
            e.into()
        }
    })?;
    if auth.actor.role != Role::Admin {
        db::groups::add_member(&mut tx, &record.id, &auth.actor.user_id).await?;
    }
    let created = db::groups::get(&mut tx, &record.id)
        .await?
        .ok_or_else(|| ApiError::not_found("group", &record.id))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 1024 {
        return Err(ApiError::invalid(
            "description must be at most 1024 characters",
        ));
    }
    Ok(())
}

async fn load(state: &AppState, id: &str) -> ApiResult<GroupRecord> {
    let mut tx = state.db.begin().await?;
    let g = db::groups::get(&mut tx, id).await?;
    tx.commit().await?;
    g.ok_or_else(|| ApiError::not_found("group", id))
}

/// Shows one group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = String, Path, description = "group id")),
    responses((status = 200, body = GroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupView>> {
    let g = load(&state, &id).await?;
    rbac::decide(
        &auth.actor,
        Menu::Users,
        Action::Read,
        Owner::Groups(std::slice::from_ref(&g.id)),
    )?;
    Ok(Json(g.into()))
}

/// Changes to a group; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Updates a group.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = UpdateGroup,
    params(("id" = String, Path, description = "group id")),
    responses((status = 200, body = GroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdateGroup>,
) -> ApiResult<Json<GroupView>> {
    let g = load(&state, &id).await?;
    rbac::decide(
        &auth.actor,
        Menu::Users,
        Action::Update,
        Owner::Groups(std::slice::from_ref(&g.id)),
    )?;
    let name = match &req.name {
        Some(n) => DisplayName::parse("group name", n)?.as_str().to_owned(),
        None => g.name.clone(),
    };
    let description = req.description.unwrap_or(g.description);
    check_description(&description)?;
    let mut tx = state.db.begin().await?;
    db::groups::update(&mut tx, &id, &name, &description, now_ms())
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ApiError::conflict(format!("a group named {name:?} exists"))
            } else {
                e.into()
            }
        })?;
    let updated = db::groups::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("group", &id))?;
    tx.commit().await?;
    Ok(Json(updated.into()))
}

/// Deletes a group; its members become "no group" for it.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = String, Path, description = "group id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let g = load(&state, &id).await?;
    rbac::decide(
        &auth.actor,
        Menu::Users,
        Action::Delete,
        Owner::Groups(std::slice::from_ref(&g.id)),
    )?;
    let mut tx = state.db.begin().await?;
    db::groups::delete(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The complete member list of a group.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMembers {
    /// User ids.
    pub user_ids: Vec<String>,
}

/// Replaces a group's members.
#[utoipa::path(put, path = "/api/v1/groups/{id}/members", tag = "groups", request_body = SetMembers,
    params(("id" = String, Path, description = "group id")),
    responses((status = 200, body = GroupView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<SetMembers>,
) -> ApiResult<Json<GroupView>> {
    let g = load(&state, &id).await?;
    let mut wanted = req.user_ids;
    wanted.sort();
    wanted.dedup();
    let added: Vec<&String> = wanted.iter().filter(|u| !g.members.contains(u)).collect();
    let removed: Vec<&String> = g.members.iter().filter(|u| !wanted.contains(u)).collect();
    let mut tx = state.db.begin().await?;
    let mut changed_groups = Vec::new();
    for user_id in added.iter().chain(removed.iter()) {
        let user = db::users::get(&mut tx, user_id)
            .await?
            .ok_or_else(|| ApiError::invalid(format!("user {user_id:?} does not exist")))?;
        changed_groups.push(user.groups);
    }
    let refs: Vec<&[String]> = changed_groups.iter().map(Vec::as_slice).collect();
    rbac::set_members(&auth.actor, &g.id, &refs)?;
    for user_id in &added {
        db::groups::add_member(&mut tx, &id, user_id).await?;
    }
    for user_id in &removed {
        db::groups::remove_member(&mut tx, &id, user_id).await?;
    }
    let updated = db::groups::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("group", &id))?;
    tx.commit().await?;
    Ok(Json(updated.into()))
}
