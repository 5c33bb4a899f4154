//! The HTTP API: `/api/v1` (JSON), health and metrics endpoints, and the route catalogue
//! that the RBAC matrix test and the OpenAPI document are checked against.
//!
//! A later feature adds its handlers in `api/<resource>.rs`, its routes in [`v1_routes`],
//! its entries in [`ENDPOINTS`], and its paths in [`openapi::ApiDoc`].

pub mod audit;
pub mod auth;
pub mod clusters;
pub mod error;
pub mod events;
pub mod extract;
pub mod groups;
pub mod health;
pub mod jobs;
pub mod licence;
pub mod openapi;
pub mod page;
pub mod plans;
pub mod protection_groups;
pub mod reports;
pub mod settings;
pub mod snapshots;
pub mod users;

pub mod agents;
pub mod schedules;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};

use crate::domain::rbac::{Action, Menu};
use crate::state::AppState;
use error::ApiError;

/// Who may call an endpoint, before object ownership is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Any logged-in user (the handler narrows it, e.g. to one's own objects).
    Authenticated,
    /// The permission table's cell for this menu and action.
    Permission(Menu, Action),
    /// Admins only.
    AdminOnly,
}

/// One endpoint of the API.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// HTTP method.
    pub method: &'static str,
    /// Path template as routed.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn ep(method: &'static str, path: &'static str, access: Access) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
    }
}

use Access::{AdminOnly, Authenticated, Permission, Public};

/// Every endpoint under `/api/v1`.
pub const ENDPOINTS: &[Endpoint] = &[
    ep("POST", "/api/v1/sessions", Public),
    ep("DELETE", "/api/v1/sessions/current", Authenticated),
    ep("GET", "/api/v1/account", Authenticated),
    ep("POST", "/api/v1/account/password", Authenticated),
    ep(
        "GET",
        "/api/v1/users",
        Permission(Menu::Users, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/users",
        Permission(Menu::Users, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/users/{id}",
        Permission(Menu::Users, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/users/{id}",
        Permission(Menu::Users, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/users/{id}",
        Permission(Menu::Users, Action::Delete),
    ),
    ep(
        "POST",
        "/api/v1/users/{id}/password-reset",
        Permission(Menu::Users, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/users/{id}/sessions",
        Permission(Menu::Users, Action::Update),
    ),
    ep(
        "GET",
        "/api/v1/groups",
        Permission(Menu::Users, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/groups",
        Permission(Menu::Users, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/groups/{id}",
        Permission(Menu::Users, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/groups/{id}",
        Permission(Menu::Users, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/groups/{id}",
        Permission(Menu::Users, Action::Delete),
    ),
    ep(
        "PUT",
        "/api/v1/groups/{id}/members",
        Permission(Menu::Users, Action::Update),
    ),
    ep(
        "GET",
        "/api/v1/licence",
        Permission(Menu::Licence, Action::Read),
    ),
    ep(
        "PUT",
        "/api/v1/licence",
        Permission(Menu::Licence, Action::Create),
    ),
    ep("GET", "/api/v1/events", Authenticated),
    ep("GET", "/api/v1/events/stream", Authenticated),
    ep("GET", "/api/v1/events/{id}", Authenticated),
    ep("GET", "/api/v1/settings", AdminOnly),
    ep("PATCH", "/api/v1/settings", AdminOnly),
    ep("GET", "/api/v1/audit", AdminOnly),
    ep("GET", "/api/v1/openapi.json", Public),
    ep(
        "GET",
        "/api/v1/clusters",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/clusters",
        Permission(Menu::Clusters, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/clusters/{id}",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/clusters/{id}",
        Permission(Menu::Clusters, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/clusters/{id}",
        Permission(Menu::Clusters, Action::Delete),
    ),
    ep(
        "POST",
        "/api/v1/clusters/{id}/sync",
        Permission(Menu::Clusters, Action::Update),
    ),
    ep(
        "GET",
        "/api/v1/clusters/{id}/resources/{kind}",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/clusters/{id}/resources/{kind}/{rid}",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/clusters/{id}/unprotected-instances",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/protection-groups",
        Permission(Menu::ProtectionGroups, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/protection-groups",
        Permission(Menu::ProtectionGroups, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/protection-groups/{id}",
        Permission(Menu::ProtectionGroups, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/protection-groups/{id}",
        Permission(Menu::ProtectionGroups, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/protection-groups/{id}",
        Permission(Menu::ProtectionGroups, Action::Delete),
    ),
    ep(
        "GET",
        "/api/v1/protection-groups/{id}/snapshots",
        Permission(Menu::ProtectionGroups, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/protection-groups/{id}/snapshots",
        Permission(Menu::ProtectionGroups, Action::Create),
    ),
    ep(
        "DELETE",
        "/api/v1/protection-groups/{id}/snapshots/{sid}",
        Permission(Menu::ProtectionGroups, Action::Delete),
    ),
    ep(
        "GET",
        "/api/v1/plans",
        Permission(Menu::RecoveryPlans, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/plans",
        Permission(Menu::RecoveryPlans, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/plans/{id}",
        Permission(Menu::RecoveryPlans, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/plans/{id}",
        Permission(Menu::RecoveryPlans, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/plans/{id}",
        Permission(Menu::RecoveryPlans, Action::Delete),
    ),
    ep(
        "GET",
        "/api/v1/plans/{id}/state",
        Permission(Menu::RecoveryPlans, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/plans/{id}/replication",
        Permission(Menu::RecoveryPlans, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/agents",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/agents/{node}",
        Permission(Menu::Clusters, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/jobs",
        Permission(Menu::RecoveryJobs, Action::Read),
    ),
    ep(
        "POST",
        "/api/v1/jobs",
        Permission(Menu::RecoveryJobs, Action::Create),
    ),
    ep(
        "GET",
        "/api/v1/jobs/{id}",
        Permission(Menu::RecoveryJobs, Action::Read),
    ),
    ep(
        "PATCH",
        "/api/v1/jobs/{id}",
        Permission(Menu::RecoveryJobs, Action::Update),
    ),
    ep(
        "DELETE",
        "/api/v1/jobs/{id}",
        Permission(Menu::RecoveryJobs, Action::Delete),
    ),
    ep(
        "POST",
        "/api/v1/jobs/{id}/operations/{op}",
        Permission(Menu::RecoveryJobs, Action::Update),
    ),
    ep(
        "GET",
        "/api/v1/jobs/{id}/monitor",
        Permission(Menu::RecoveryJobs, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/jobs/{id}/stream",
        Permission(Menu::RecoveryJobs, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/reports",
        Permission(Menu::RecoveryResults, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/reports/{id}",
        Permission(Menu::RecoveryResults, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/reports/{id}/export",
        Permission(Menu::RecoveryResults, Action::Read),
    ),
    ep(
        "DELETE",
        "/api/v1/reports/{id}",
        Permission(Menu::RecoveryResults, Action::Delete),
    ),
    ep(
        "GET",
        "/api/v1/protection-groups/{id}/history",
        Permission(Menu::RecoveryResults, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/schedules",
        Permission(Menu::Schedules, Action::Read),
    ),
    ep(
        "GET",
        "/api/v1/schedules/{id}",
        Permission(Menu::Schedules, Action::Read),
    ),
];

fn v1_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(auth::login))
        .route("/api/v1/sessions/current", delete(auth::logout))
        .route("/api/v1/account", get(users::me))
        .route("/api/v1/account/password", post(users::change_password))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/api/v1/users/{id}/password-reset",
            post(users::reset_password),
        )
        .route("/api/v1/users/{id}/sessions", delete(users::logout_user))
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/groups/{id}",
            get(groups::get)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/api/v1/groups/{id}/members", put(groups::set_members))
        .route("/api/v1/licence", get(licence::get).put(licence::put))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/stream", get(events::stream))
        .route("/api/v1/events/{id}", get(events::get))
        .route(
            "/api/v1/settings",
            get(settings::get).patch(settings::update),
        )
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route(
            "/api/v1/clusters",
            get(clusters::list).post(clusters::register),
        )
        .route(
            "/api/v1/clusters/{id}",
            get(clusters::get)
                .patch(clusters::update)
                .delete(clusters::delete),
        )
        .route("/api/v1/clusters/{id}/sync", post(clusters::sync))
        .route(
            "/api/v1/clusters/{id}/resources/{kind}",
            get(clusters::resources::list),
        )
        .route(
            "/api/v1/clusters/{id}/resources/{kind}/{rid}",
            get(clusters::resources::get),
        )
        .route(
            "/api/v1/clusters/{id}/unprotected-instances",
            get(clusters::resources::unprotected_instances),
        )
        .route(
            "/api/v1/protection-groups",
            get(protection_groups::list).post(protection_groups::create),
        )
        .route(
            "/api/v1/protection-groups/{id}",
            get(protection_groups::get)
                .patch(protection_groups::update)
                .delete(protection_groups::delete),
        )
        .route("/api/v1/plans", get(plans::list).post(plans::create))
        .route(
            "/api/v1/plans/{id}",
            get(plans::get).patch(plans::update).delete(plans::delete),
        )
        .route("/api/v1/plans/{id}/state", get(plans::plan_state))
        .route(
            "/api/v1/plans/{id}/replication",
            get(snapshots::replication),
        )
        .route(
            "/api/v1/protection-groups/{id}/snapshots",
            get(snapshots::list).post(snapshots::create),
        )
        .route(
            "/api/v1/protection-groups/{id}/snapshots/{sid}",
            axum::routing::delete(snapshots::delete),
        )
        .route("/api/v1/agents", get(agents::list))
        .route("/api/v1/agents/{node}", get(agents::get))
        .route("/api/v1/jobs", get(jobs::list).post(jobs::create))
        .route(
            "/api/v1/jobs/{id}",
            get(jobs::get).patch(jobs::update).delete(jobs::delete),
        )
        .route("/api/v1/jobs/{id}/operations/{op}", post(jobs::operate))
        .route("/api/v1/jobs/{id}/monitor", get(jobs::monitor_view))
        .route("/api/v1/jobs/{id}/stream", get(jobs::stream))
        .route("/api/v1/reports", get(reports::list))
        .route(
            "/api/v1/reports/{id}",
            get(reports::get).delete(reports::delete),
        )
        .route("/api/v1/reports/{id}/export", get(reports::export))
        .route(
            "/api/v1/protection-groups/{id}/history",
            get(reports::history),
        )
        .route("/api/v1/schedules", get(schedules::list))
        .route("/api/v1/schedules/{id}", get(schedules::get))
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(v1_routes())
        .merge(crate::console::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), audit::record))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not support this method",
    )
}

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .observe(&method, &route, status, elapsed.as_secs_f64());
    tracing::debug!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

/// RFC 3339 text for stored milliseconds.
pub fn time_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// Parses an RFC 3339 query value into milliseconds.
pub fn parse_time(s: &str) -> Result<i64, ApiError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("{s:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z: {e}"),
            )
        })
}
