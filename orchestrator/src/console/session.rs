//! Who is looking at a console page: the API's own session check (cookie), the user's
//! account, the session's CSRF token (for the page's API calls) and the language.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::Lang;
use crate::api::auth::Auth;
use crate::api::users::UserView;
use crate::db;
use crate::domain::rbac::{Action, Actor, Menu, Role, table_allows};
use crate::state::{AppState, now_ms};

/// A logged-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The API's authentication (actor and session).
    pub auth: Auth,
    /// The account.
    pub user: UserView,
    /// The session's CSRF token, echoed by the page's scripts in `X-CSRF-Token`.
    pub csrf: String,
    /// The UI language.
    pub lang: Lang,
    /// Path and query of the request (to come back after a language change).
    pub here: String,
}

impl Session {
    /// The actor.
    pub fn actor(&self) -> &Actor {
        &self.auth.actor
    }

    /// The user's role.
    pub fn role(&self) -> Role {
        self.auth.actor.role
    }

    /// Does the permission table give the user `action` on `menu`?
    pub fn may(&self, menu: Menu, action: Action) -> bool {
        table_allows(self.role(), menu, action)
    }
}

/// Is the session still open (not logged out, replaced by a new login, or expired)?
/// Long-lived streams ask before each message.
pub async fn still_valid(state: &AppState, s: &Session) -> bool {
    let Ok(mut conn) = state.db.conn().await else {
        return false;
    };
    matches!(
        db::sessions::get(&mut conn, &s.auth.token_hash, now_ms()).await,
        Ok(Some(_))
    )
}

/// The path and query of a request.
pub fn path_and_query(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// `/console/login?next=<here>`.
pub fn login_redirect(here: &str) -> Response {
    let next = super::widgets::encode_query_value(here);
    Redirect::to(&format!("/console/login?next={next}")).into_response()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_headers(&parts.headers);
        let here = path_and_query(parts);
        let auth = match Auth::from_request_parts(parts, state).await {
            Ok(a) => a,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(login_redirect(&here)),
            Err(e) => return Err(super::layout::bare_error(lang, e)),
        };
        let csrf = async {
            let mut tx = state.db.begin().await?;
            let s = db::sessions::get(&mut tx, &auth.token_hash, now_ms()).await?;
            tx.commit().await?;
            Ok::<_, db::DbError>(s.map(|s| s.csrf_token))
        }
        .await
        .map_err(|e| super::layout::bare_error(lang, e.into()))?
        .ok_or_else(|| login_redirect(&here))?;
        let user = crate::api::users::me(State(state.clone()), auth.clone())
            .await
            .map_err(|e| super::layout::bare_error(lang, e))?
            .0;
        Ok(Session {
            auth,
            user,
            csrf,
            lang,
            here,
        })
    }
}
