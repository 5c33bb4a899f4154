//! The web console: server-rendered pages (maud) served by the orchestrator at
//! `/console/`, on the same origin as the API.
//!
//! Pages read through the API's own handlers (so RBAC, filters and visibility are the
//! API's), and show only the actions the domain's RBAC functions allow. Every change is
//! made by the page's script (`assets/console/console.js`) calling the REST API with the
//! session cookie and the `X-CSRF-Token` header, so the server refuses what the console
//! hides, validation messages are the API's, and the audit trail records console
//! changes like any other API call. Live updates come from the API's Server-Sent Events.
//!
//! A new screen adds a module here, its routes in [`routes`], its entry in
//! [`layout::Nav`], and its strings in `assets/console/i18n.toml`.

pub mod account;
pub mod agents;
pub mod assets;
pub mod clusters;
pub mod events;
pub mod groups;
pub mod i18n;
pub mod jobs;
pub mod layout;
pub mod licence;
pub mod login;
pub mod plans;
pub mod protection_groups;
pub mod reports;
pub mod session;
pub mod settings;
pub mod users;
pub mod widgets;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::state::AppState;
use i18n::{LANG_COOKIE, Lang};

/// The console's routes (merged into the orchestrator's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/console", get(home))
        .route("/console/", get(start))
        .route("/console/login", get(login::page))
        .route("/console/lang/{code}", get(set_language))
        .route("/console/assets/{file}", get(assets::serve))
        .route("/console/account", get(account::page))
        .route("/console/users", get(users::list))
        .route("/console/users/new", get(users::new))
        .route("/console/users/{id}", get(users::detail))
        .route("/console/groups", get(groups::list))
        .route("/console/groups/new", get(groups::new))
        .route("/console/groups/{id}", get(groups::detail))
        .route("/console/licence", get(licence::page))
        .route("/console/events", get(events::list))
        .route("/console/events/{id}", get(events::detail))
        .route("/console/settings", get(settings::page))
        .route("/console/clusters", get(clusters::list))
        .route("/console/clusters/new", get(clusters::new))
        .route("/console/clusters/stream", get(clusters::live::stream))
        .route("/console/clusters/{id}", get(clusters::detail::page))
        .route(
            "/console/clusters/{id}/resources/{kind}",
            get(clusters::resources::list),
        )
        .route("/console/protection-groups", get(protection_groups::list))
        .route(
            "/console/protection-groups/new",
            get(protection_groups::new),
        )
        .route(
            "/console/protection-groups/{id}",
            get(protection_groups::detail::page),
        )
        .route("/console/plans", get(plans::list))
        .route("/console/plans/new", get(plans::form::new))
        .route("/console/plans/{id}", get(plans::detail::page))
        .route("/console/plans/{id}/edit", get(plans::form::edit))
        .route("/console/reports", get(reports::list))
        .route("/console/reports/{id}", get(reports::detail::page))
        .route("/console/jobs", get(jobs::list))
        .route("/console/jobs/new", get(jobs::form::new))
        .route("/console/jobs/{id}", get(jobs::monitor::page))
        .route("/console/jobs/{id}/edit", get(jobs::form::edit))
        .route("/console/agents", get(agents::list))
        .route("/console/agents/{node}", get(agents::detail))
        .route("/console/{*rest}", get(not_found))
}

async fn home() -> Redirect {
    Redirect::to("/console/")
}

/// The first screen after login: the event centre (the dashboard comes with the
/// cluster and job screens).
async fn start(_s: session::Session) -> Redirect {
    Redirect::to("/console/events")
}

async fn not_found(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    layout::bare_error(
        lang,
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            lang.t("error_page.no_such_page"),
        ),
    )
}

/// A local path to go back to (never another site).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/console/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

/// Remembers the chosen language in a cookie and goes back.
async fn set_language(Path(code): Path<String>, Query(q): Query<Next>) -> Response {
    let next = safe_next(q.next.as_deref());
    let mut r = Redirect::to(&next).into_response();
    if let Some(lang) = Lang::parse(&code) {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/console/users?q=a")), "/console/users?q=a");
        assert_eq!(safe_next(Some("//evil.example/")), "/console/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/");
        assert_eq!(safe_next(Some("/\\evil")), "/console/");
        assert_eq!(safe_next(None), "/console/");
    }
}
