//! `/api/v1/users` and `/api/v1/account`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::users::{UserFilter, UserRecord};
use crate::domain::names::{DisplayName, Email, UserId};
use crate::domain::password::{self, NewPassword};
use crate::domain::rbac::{self, Role, TargetUser, UserChange};
use crate::state::{AppState, now_ms};

/// A role on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    /// Admin.
    Admin,
    /// Manager.
    Manager,
    /// Operator.
    Operator,
    /// Viewer.
    Viewer,
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Role {
        match r {
            RoleDto::Admin => Role::Admin,
            RoleDto::Manager => Role::Manager,
            RoleDto::Operator => Role::Operator,
            RoleDto::Viewer => Role::Viewer,
        }
    }
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> RoleDto {
        match r {
            Role::Admin => RoleDto::Admin,
            Role::Manager => RoleDto::Manager,
            Role::Operator => RoleDto::Operator,
            Role::Viewer => RoleDto::Viewer,
        }
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// Login id; never changes.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: RoleDto,
    /// Group ids.
    pub groups: Vec<String>,
    /// Locked until (RFC 3339), when locked by failed logins.
    pub locked_until: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        let now = now_ms();
        UserView {
            id: u.id,
            name: u.name,
            email: u.email,
            role: u.role.into(),
            groups: u.groups,
            locked_until: u.locked_until.filter(|t| *t > now).map(super::time_text),
            created_at: super::time_text(u.created_at),
            updated_at: super::time_text(u.updated_at),
        }
    }
}

fn target(u: &UserRecord) -> TargetUser<'_> {
    TargetUser {
        id: &u.id,
        role: u.role,
        groups: &u.groups,
    }
}

/// Filters of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Only this role.
    pub role: Option<RoleDto>,
    /// Only members of this group id.
    pub group: Option<String>,
    /// Substring of id, name or e-mail.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Lists users: Admin all, Manager the users of their groups.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = Page<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<UserQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    rbac::decide(
        &auth.actor,
        rbac::Menu::Users,
        rbac::Action::Read,
        rbac::Owner::System,
    )?;
    let filter = UserFilter {
        visible_to: (auth.actor.role != Role::Admin).then(|| auth.actor.user_id.clone()),
        role: q.role.map(Role::from),
        group: q.group,
        search: q.q,
        limit: page.limit,
        offset: page.offset,
    };
    let mut conn = state.db.conn().await?;
    let (users, total) = db::users::list(&mut conn, &filter).await?;
    drop(conn);
    Ok(Json(Page::new(
        users.into_iter().map(UserView::from).collect(),
        total,
        page,
    )))
}

/// New user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login id (2–32 characters a-z 0-9 . _ -, starting with a letter).
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address (unique).
    pub email: String,
    /// Role.
    pub role: RoleDto,
    /// Group ids.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A created user and their first password, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedUser {
    /// The user.
    pub user: UserView,
    /// The first password (random); it is not stored and not shown again.
    pub password: String,
}

/// Creates a user with a random first password.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = CreatedUser), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<CreateUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let id = UserId::parse(&req.id)?;
    let name = DisplayName::parse("name", &req.name)?;
    let email = Email::parse(&req.email)?;
    let mut groups = req.groups.clone();
    groups.sort();
    groups.dedup();
    rbac::create_user(&auth.actor, req.role.into(), &groups)?;
    let first = NewPassword::generate();
    let hash =
        password::hash(first.expose(), state.hash_cost).map_err(|e| ApiError::internal(&e))?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if db::users::get(&mut tx, id.as_str()).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "user id {:?} is taken",
            id.as_str()
        )));
    }
    if db::users::email_taken(&mut tx, email.as_str(), id.as_str()).await? {
        return Err(ApiError::conflict(format!(
            "e-mail address {:?} is used by another user",
            email.as_str()
        )));
    }
    let found = db::groups::existing(&mut tx, &groups).await?;
    if let Some(missing) = groups.iter().find(|g| !found.contains(g)) {
        return Err(ApiError::invalid(format!(
            "group {missing:?} does not exist"
        )));
    }
    let record = UserRecord {
        id: id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        email: email.as_str().to_owned(),
        role: req.role.into(),
        password_hash: hash,
        failed_logins: 0,
        locked_until: None,
        created_at: now,
        updated_at: now,
        groups: groups.clone(),
    };
    db::users::insert(&mut tx, &record).await?;
    db::users::set_groups(&mut tx, &record.id, &groups).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: record.into(),
            password: first.expose().to_owned(),
        }),
    ))
}

async fn load(state: &AppState, id: &str) -> ApiResult<UserRecord> {
    let mut tx = state.db.begin().await?;
    let user = db::users::get(&mut tx, id).await?;
    tx.commit().await?;
    user.ok_or_else(|| ApiError::not_found("user", id))
}

/// Shows one user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = load(&state, &id).await?;
    rbac::read_user(&auth.actor, target(&user))?;
    Ok(Json(user.into()))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New full name.
    pub name: Option<String>,
    /// New e-mail address.
    pub email: Option<String>,
    /// New role (never `admin`).
    pub role: Option<RoleDto>,
    /// New group ids (replaces the list).
    pub groups: Option<Vec<String>>,
}

/// Updates a user.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUser,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let user = load(&state, &id).await?;
    let groups = req.groups.map(|mut g| {
        g.sort();
        g.dedup();
        g
    });
    let role = req.role.map(Role::from);
    rbac::read_user(&auth.actor, target(&user))?;
    rbac::update_user(
        &auth.actor,
        target(&user),
        UserChange {
            role,
            groups: groups.as_deref(),
        },
    )?;
    let name = match &req.name {
        Some(n) => DisplayName::parse("name", n)?.as_str().to_owned(),
        None => user.name.clone(),
    };
    let email = match &req.email {
        Some(e) => Email::parse(e)?.as_str().to_owned(),
        None => user.email.clone(),
    };
    let mut tx = state.db.begin().await?;
    if db::users::email_taken(&mut tx, &email, &id).await? {
        return Err(ApiError::conflict(format!(
            "e-mail address {email:?} is used by another user"
        )));
    }
    if let Some(groups) = &groups {
        let found = db::groups::existing(&mut tx, groups).await?;
        if let Some(missing) = groups.iter().find(|g| !found.contains(g)) {
            return Err(ApiError::invalid(format!(
                "group {missing:?} does not exist"
            )));
        }
        db::users::set_groups(&mut tx, &id, groups).await?;
    }
    db::users::update_profile(
        &mut tx,
        &id,
        &name,
        &email,
        role.unwrap_or(user.role),
        now_ms(),
    )
    .await?;
    let updated = db::users::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    tx.commit().await?;
    Ok(Json(updated.into()))
}

/// Deletes a user (never an Admin account).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = load(&state, &id).await?;
    rbac::delete_user(&auth.actor, target(&user))?;
    let mut tx = state.db.begin().await?;
    db::users::delete(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A newly generated password, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResetPassword {
    /// The new password.
    pub password: String,
}

/// Resets a user's password to a new random one and ends their sessions.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = ResetPassword), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ResetPassword>> {
    let user = load(&state, &id).await?;
    rbac::reset_password(&auth.actor, target(&user))?;
    let fresh = NewPassword::generate();
    let hash =
        password::hash(fresh.expose(), state.hash_cost).map_err(|e| ApiError::internal(&e))?;
    let mut tx = state.db.begin().await?;
    db::users::set_password_hash(&mut tx, &id, &hash, now_ms()).await?;
    db::sessions::delete_for_user(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(Json(ResetPassword {
        password: fresh.expose().to_owned(),
    }))
}

/// Logs a user out (ends their session).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn logout_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = load(&state, &id).await?;
    rbac::logout_user(&auth.actor, target(&user))?;
    let mut tx = state.db.begin().await?;
    db::sessions::delete_for_user(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<UserView>> {
    Ok(Json(load(&state, &auth.actor.user_id).await?.into()))
}

/// Change of one's own password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password.
    pub current_password: String,
    /// The new password (6–16 characters with lower, upper, digit and special).
    pub new_password: String,
}

/// Changes the caller's own password.
#[utoipa::path(post, path = "/api/v1/account/password", tag = "account",
    request_body = ChangePassword,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<ChangePassword>,
) -> ApiResult<StatusCode> {
    let new = NewPassword::parse(&req.new_password)?;
    let user = load(&state, &auth.actor.user_id).await?;
    if !password::verify(&req.current_password, &user.password_hash) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_password",
            "the current password is wrong",
        ));
    }
    let hash = password::hash(new.expose(), state.hash_cost).map_err(|e| ApiError::internal(&e))?;
    let mut tx = state.db.begin().await?;
    db::users::set_password_hash(&mut tx, &user.id, &hash, now_ms()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
