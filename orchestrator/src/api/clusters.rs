//! `/api/v1/clusters`: register (after a connection check), read, update, delete, sync.
//! The synced resources are in [`resources`].

pub mod check;
pub mod resources;
pub mod views;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Body, Params};
use super::page::{Page, PageRequest};
use crate::clusters::{broker_aad, password_aad};
use crate::db::{self, clusters::ClusterRecord};
use crate::domain::cluster::{
    self as dc, BackendStorage, ClusterStatus, DEFAULT_EXCHANGES, SyncStatus,
};
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::dr::names::ResourceName;
use crate::events::{Event, Severity};
use crate::state::{AppState, now_ms};
pub use views::ClusterView;

/// The admin credential of a cluster.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// Keystone user (with the admin role on the project).
    pub username: String,
    /// Its password (stored encrypted; never returned).
    pub password: String,
    /// The user's domain.
    #[serde(default = "default_domain")]
    pub user_domain: String,
    /// Project to scope to.
    pub project: String,
    /// The project's domain.
    #[serde(default = "default_domain")]
    pub project_domain: String,
}

fn default_domain() -> String {
    "Default".to_owned()
}

fn default_platform() -> String {
    "openstack".to_owned()
}

/// A cluster to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCluster {
    /// Unique name (Hangul, letters, digits, `- _ # .`).
    pub name: String,
    /// Owner group: one of the caller's groups (Admin: any).
    pub owner_group_id: String,
    /// Platform; only `openstack`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Keystone v3 URL.
    pub auth_url: String,
    /// Admin credential.
    pub credential: CredentialInput,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The cloud's notification broker, e.g. `amqp://user:pass@host:5672/%2f`.
    #[serde(default)]
    pub notification_broker_url: Option<String>,
    /// Exchanges to bind (default `nova`, `openstack`, `neutron`).
    #[serde(default)]
    pub notification_exchanges: Option<Vec<String>>,
    /// Storage metadata per volume backend.
    #[serde(default)]
    pub storage: Vec<BackendStorage>,
}

fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 1024 {
        return Err(ApiError::invalid(
            "description must be at most 1024 characters",
        ));
    }
    Ok(())
}

fn field(e: dc::ClusterFieldError) -> ApiError {
    ApiError::invalid(e.to_string())
}

fn secrets_missing(reason: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "secrets_key_missing",
        reason,
    )
}

/// Registers a cluster after checking the connection, the credential and the admin
/// role; starts its first full sync.
#[utoipa::path(post, path = "/api/v1/clusters", tag = "clusters", request_body = RegisterCluster,
    responses((status = 201, body = ClusterView), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<RegisterCluster>,
) -> ApiResult<(StatusCode, Json<ClusterView>)> {
    rbac::decide(
        &auth.actor,
        Menu::Clusters,
        Action::Create,
        Owner::Groups(std::slice::from_ref(&req.owner_group_id)),
    )?;
    let name = ResourceName::parse(&req.name)
        .map_err(|e| ApiError::invalid(format!("cluster name: {e}")))?;
    check_description(&req.description)?;
    if req.platform != "openstack" {
        return Err(ApiError::invalid(format!(
            "platform {:?} is not supported; the only platform is \"openstack\"",
            req.platform
        )));
    }
    if !(req.auth_url.starts_with("http://") || req.auth_url.starts_with("https://")) {
        return Err(ApiError::invalid(
            "auth_url must be the Keystone v3 URL, e.g. https://keystone.example.com:5000/v3",
        ));
    }
    let exchanges = req
        .notification_exchanges
        .clone()
        .unwrap_or_else(|| DEFAULT_EXCHANGES.map(str::to_owned).to_vec());
    dc::validate_notifications(req.notification_broker_url.as_deref(), &exchanges)
        .map_err(field)?;
    dc::validate_storage(&req.storage).map_err(field)?;
    let sb = state.clusters.secret_box().map_err(secrets_missing)?;
    {
        let mut tx = state.db.begin().await?;
        if db::groups::get(&mut tx, &req.owner_group_id)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(format!(
                "owner group {:?} does not exist",
                req.owner_group_id
            )));
        }
        let taken = db::clusters::name_taken(&mut tx, name.as_str()).await?;
        tx.commit().await?;
        if taken {
            return Err(ApiError::conflict(format!(
                "a cluster named {:?} exists",
                name.as_str()
            )));
        }
    }
    let terms = crate::licence::current(&state).await?;
    crate::licence::check(
        terms.as_ref(),
        &crate::licence::Use::RegisterCluster {
            platform: &req.platform,
        },
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    )
    .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "licence_refused", e.to_string()))?;
    let c = &req.credential;
    let credentials = holdfast_openstack::Credentials {
        auth_url: req.auth_url.clone(),
        username: c.username.clone(),
        password: holdfast_openstack::Password::new(c.password.clone()),
        user_domain: c.user_domain.clone(),
        project: c.project.clone(),
        project_domain: c.project_domain.clone(),
    };
    check::connection(credentials).await?;
    if let Some(url) = &req.notification_broker_url {
        check::broker(url).await?;
    }
    let id = Uuid::new_v4().to_string();
    let now = now_ms();
    let storage_json = serde_json::to_string(&req.storage).unwrap_or_else(|_| "[]".into());
    let record = ClusterRecord {
        id: id.clone(),
        name: name.as_str().to_owned(),
        description: req.description.clone(),
        owner_group_id: req.owner_group_id.clone(),
        platform: req.platform.clone(),
        auth_url: req.auth_url.clone(),
        username: c.username.clone(),
        user_domain: c.user_domain.clone(),
        project: c.project.clone(),
        project_domain: c.project_domain.clone(),
        password_enc: sb.encrypt(&c.password, &password_aad(&id)),
        broker_url_enc: req
            .notification_broker_url
            .as_ref()
            .map(|u| sb.encrypt(u, &broker_aad(&id))),
        exchanges_json: serde_json::to_string(&exchanges).unwrap_or_else(|_| "[]".into()),
        storage_json,
        status: ClusterStatus::Active.as_str().to_owned(),
        status_reason: None,
        status_changed_at: now,
        sync_status: SyncStatus::Init.as_str().to_owned(),
        sync_started_at: None,
        sync_finished_at: None,
        sync_error: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    db::clusters::insert(&mut tx, &record).await.map_err(|e| {
        if e.is_unique_violation() {
            ApiError::conflict(format!("a cluster named {:?} exists", record.name))
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    let event = Event::new(
        "cluster.registered",
        Severity::Info,
        format!(
            "cluster {} registered by {}",
            record.name, auth.actor.user_id
        ),
    )
    .object("cluster", &id)
    .group(Some(record.owner_group_id.clone()));
    crate::events::publish(&state, event).await?;
    crate::clusters::start_sync(&state, &id).await?;
    state.clusters.wake();
    let view = views::load(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Filters of the cluster list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClusterQuery {
    /// Substring of the name.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Lists clusters: Admin all, others their groups'.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "clusters", params(ClusterQuery),
    responses((status = 200, body = Page<ClusterView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<ClusterQuery>,
) -> ApiResult<Json<Page<ClusterView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    rbac::decide(&auth.actor, Menu::Clusters, Action::Read, Owner::System)?;
    let member = (auth.actor.role != Role::Admin).then_some(auth.actor.user_id.as_str());
    let (records, total) = {
        let mut conn = state.db.read_conn().await?;
        db::clusters::list(&mut conn, member, q.q.as_deref(), page.limit, page.offset).await?
    };
    let items = records
        .into_iter()
        .map(|r| views::view(&state, r, None))
        .collect();
    Ok(Json(Page::new(items, total, page)))
}

/// The cluster, if `action` on it is allowed.
pub async fn authorised(
    state: &AppState,
    auth: &Auth,
    id: &str,
    action: Action,
) -> ApiResult<ClusterRecord> {
    let record = {
        let mut conn = state.db.read_conn().await?;
        db::clusters::get(&mut conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("cluster", id))?;
    rbac::decide(
        &auth.actor,
        Menu::Clusters,
        action,
        Owner::Groups(std::slice::from_ref(&record.owner_group_id)),
    )?;
    Ok(record)
}

/// Shows a cluster with its resource counts.
#[utoipa::path(get, path = "/api/v1/clusters/{id}", tag = "clusters",
    params(("id" = String, Path, description = "cluster id")),
    responses((status = 200, body = ClusterView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ClusterView>> {
    authorised(&state, &auth, &id, Action::Read).await?;
    Ok(Json(views::load(&state, &id).await?))
}

/// A password rotation: the current password and the new one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRotation {
    /// The password stored now.
    pub old_password: String,
    /// The new password (checked against Keystone before it is stored).
    pub new_password: String,
}

/// Changes to a cluster; absent fields stay. Type, owner group, URL and credential
/// (except the password rotation) cannot change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCluster {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New storage metadata (replaces the list).
    pub storage: Option<Vec<BackendStorage>>,
    /// Password rotation.
    pub password: Option<PasswordRotation>,
}

/// Updates a cluster.
#[utoipa::path(patch, path = "/api/v1/clusters/{id}", tag = "clusters", request_body = UpdateCluster,
    params(("id" = String, Path, description = "cluster id")),
    responses((status = 200, body = ClusterView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Body(req): Body<UpdateCluster>,
) -> ApiResult<Json<ClusterView>> {
    let record = authorised(&state, &auth, &id, Action::Update).await?;
    let name = match &req.name {
        Some(n) => ResourceName::parse(n)
            .map_err(|e| ApiError::invalid(format!("cluster name: {e}")))?
            .as_str()
            .to_owned(),
        None => record.name.clone(),
    };
    let description = req
        .description
        .clone()
        .unwrap_or(record.description.clone());
    check_description(&description)?;
    let storage_json = match &req.storage {
        Some(s) => {
            dc::validate_storage(s).map_err(field)?;
            serde_json::to_string(s).unwrap_or_else(|_| "[]".into())
        }
        None => record.storage_json.clone(),
    };
    let new_password = match &req.password {
        None => None,
        Some(rot) => {
            let sb = state.clusters.secret_box().map_err(secrets_missing)?;
            let current = sb
                .decrypt(&record.password_enc, &password_aad(&id))
                .map_err(|e| ApiError::internal(&e))?;
            if current != rot.old_password {
                return Err(ApiError::invalid(
                    "old_password does not match the stored password",
                ));
            }
            let mut credentials = state
                .clusters
                .credentials(&record)
                .map_err(secrets_missing)?;
            credentials.password = holdfast_openstack::Password::new(rot.new_password.clone());
            check::connection(credentials).await?;
            Some(sb.encrypt(&rot.new_password, &password_aad(&id)))
        }
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    db::clusters::update_meta(&mut tx, &id, &name, &description, &storage_json, now)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ApiError::conflict(format!("a cluster named {name:?} exists"))
            } else {
                e.into()
            }
        })?;
    if let Some(p) = &new_password {
        db::clusters::set_secrets(&mut tx, &id, p, record.broker_url_enc.as_deref(), now).await?;
    }
    tx.commit().await?;
    if new_password.is_some() {
        state.clusters.forget_session(&id).await;
        let event = Event::new(
            "cluster.password_rotated",
            Severity::Info,
            format!(
                "the admin password of cluster {name} was rotated by {}",
                auth.actor.user_id
            ),
        )
        .object("cluster", &id)
        .group(Some(record.owner_group_id.clone()));
        crate::events::publish(&state, event).await?;
    }
    Ok(Json(views::load(&state, &id).await?))
}

/// Deletes a cluster and its synced copy.
///
/// The spec refuses deletion while a recovery plan uses the cluster; recovery plans do
/// not exist yet, so there is nothing to check against today.
#[utoipa::path(delete, path = "/api/v1/clusters/{id}", tag = "clusters",
    params(("id" = String, Path, description = "cluster id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let record = authorised(&state, &auth, &id, Action::Delete).await?;
    let mut tx = state.db.begin().await?;
    let plans = db::plans::ids_using_cluster(&mut tx, &id).await?;
    let groups = db::protection_groups::using_cluster(&mut tx, &id).await?;
    if !plans.is_empty() || !groups.is_empty() {
        let mut users = Vec::new();
        for p in &plans {
            if let Some(p) = db::plans::get(&mut tx, p).await? {
                users.push(format!("recovery plan {}", p.name));
            }
        }
        users.extend(
            groups
                .iter()
                .map(|g| format!("protection group {}", g.name)),
        );
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cluster_in_use",
            format!(
                "cluster {} is used by {}: delete those first",
                record.name,
                users.join(", ")
            ),
        ));
    }
    db::clusters::delete(&mut tx, &id).await?;
    tx.commit().await?;
    state.clusters.forget_session(&id).await;
    state.clusters.wake();
    if let (Some(enc), Ok(sb)) = (&record.broker_url_enc, state.clusters.secret_box())
        && let Ok(url) = sb.decrypt(enc, &broker_aad(&id))
    {
        tokio::spawn(crate::clusters::listener::delete_queue(url, id.clone()));
    }
    let event = Event::new(
        "cluster.deleted",
        Severity::Info,
        format!("cluster {} deleted by {}", record.name, auth.actor.user_id),
    )
    .object("cluster", &id)
    .group(Some(record.owner_group_id));
    crate::events::publish(&state, event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a full sync now; 409 while one runs.
#[utoipa::path(post, path = "/api/v1/clusters/{id}/sync", tag = "clusters",
    params(("id" = String, Path, description = "cluster id")),
    responses((status = 202, body = ClusterView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ClusterView>)> {
    authorised(&state, &auth, &id, Action::Update).await?;
    if !crate::clusters::start_sync(&state, &id).await? {
        return Err(ApiError::conflict(
            "a sync of this cluster is running; wait until its sync_status is Done",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(views::load(&state, &id).await?)))
}
