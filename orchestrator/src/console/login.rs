//! The login screen. The form posts to `POST /api/v1/sessions`, which sets the session
//! cookie; wrong passwords and the lockout are the API's answers, shown in words.

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::Lang;
use super::session::Session;
use super::widgets::{self, FieldAttrs};

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after logging in.
    pub next: Option<String>,
}

/// `GET /console/login`.
pub async fn page(
    headers: HeaderMap,
    session: Result<Session, Response>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = super::safe_next(q.next.as_deref());
    if session.is_ok() {
        return Redirect::to(&next).into_response();
    }
    let lang = Lang::from_headers(&headers);
    let here = widgets::url_with("/console/login", &[("next", next.clone())]);
    let body = html! {
        section .login-card aria-labelledby="page-title" {
            h1 #page-title { (lang.t("login.title")) }
            p .subtitle { (lang.t("login.subtitle")) }
            form #login-form data-api="POST /api/v1/sessions" data-success=(format!("redirect:{next}")) data-clear-on-error="password" novalidate {
                (widgets::text_field("login-id", lang.t("login.id"), "id", "", FieldAttrs {
                    required: true, autocomplete: Some("username"), maxlength: Some(64), ..FieldAttrs::default()
                }))
                (widgets::text_field("login-password", lang.t("login.password"), "password", "", FieldAttrs {
                    kind: "password", required: true, autocomplete: Some("current-password"), ..FieldAttrs::default()
                }))
                (widgets::form_error())
                button type="submit" .wide { (lang.t("login.submit")) }
            }
            p .hint { (lang.t("login.first_admin")) }
        }
    };
    super::layout::bare_page(lang, StatusCode::OK, lang.t("login.title"), &here, body)
}
