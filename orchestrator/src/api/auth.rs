//! Sessions: login, logout, and the `Auth` extractor (bearer token or cookie + CSRF).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::AuditSlot;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::users::UserView;
use crate::db;
use crate::domain::lockout::{self, Gate, LoginState};
use crate::domain::password;
use crate::domain::rbac::Actor;
use crate::events::{Event, Severity};
use crate::state::{AppState, now_ms};

/// Cookie that carries the console's session token.
pub const SESSION_COOKIE: &str = "holdfast_session";
/// Header the console echoes the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Who, with role and groups.
    pub actor: Actor,
    /// The session's token hash.
    pub token_hash: String,
}

/// Hex SHA-256 of a token: what the database stores.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    hex(&bytes)
}

fn presented_token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some((t.trim().to_owned(), false));
    }
    for v in headers.get_all(COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, t)) = pair.trim().split_once('=')
                && k == SESSION_COOKIE
                && !t.is_empty()
            {
                return Some((t.to_owned(), true));
            }
        }
    }
    None
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, via_cookie) = presented_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthenticated("log in first: send `Authorization: Bearer <token>`")
        })?;
        let hash = token_hash(&token);
        let session = {
            let mut conn = state.db.read_conn().await?;
            db::sessions::actor(&mut conn, &hash, now_ms()).await?
        }
        .ok_or_else(|| ApiError::unauthenticated("the session has ended; log in again"))?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(session.csrf_token.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong X-CSRF-Token header for a cookie session",
                ));
            }
        }
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.set_actor(&session.user_id);
        }
        Ok(Auth {
            actor: Actor {
                user_id: session.user_id,
                role: session.role,
                groups: session.groups.into_iter().collect::<BTreeSet<_>>(),
            },
            token_hash: hash,
        })
    }
}

/// Login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User id.
    pub id: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Bearer token (also set as the `holdfast_session` cookie).
    pub token: String,
    /// Send this in `X-CSRF-Token` on cookie-authenticated writes.
    pub csrf_token: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
    /// The logged-in user.
    pub user: UserView,
}

/// Logs in; a new login ends the user's previous session.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions",
    request_body = LoginRequest,
    responses((status = 201, body = SessionView),
              (status = 401, body = super::error::ErrorBody, description = "wrong id or password"),
              (status = 423, body = super::error::ErrorBody, description = "account locked")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<axum::Extension<AuditSlot>>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Response> {
    if let Some(axum::Extension(slot)) = &slot {
        slot.set_actor(&req.id);
    }
    let settings = crate::settings::load(&state).await?;
    let policy = settings.lockout_policy();
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let Some(user) = db::users::get(&mut tx, &req.id).await? else {
        tx.commit().await?;
        // Same work as a real check, so that timing does not reveal which ids exist.
        let _ = password::verify(&req.password, &state.dummy_hash);
        state.metrics.login_failures.inc();
        return Err(bad_credentials());
    };
    let login_state = LoginState {
        failures: u32::try_from(user.failed_logins).unwrap_or(u32::MAX),
        locked_until: user.locked_until,
    };
    if let Gate::Locked { until } = lockout::gate(login_state, now) {
        tx.commit().await?;
        return Err(locked(until));
    }
    if !password::verify(&req.password, &user.password_hash) {
        let (next, just_locked) = lockout::after_failure(login_state, now, policy);
        db::users::set_login_state(
            &mut tx,
            &user.id,
            i64::from(next.failures),
            next.locked_until,
        )
        .await?;
        tx.commit().await?;
        state.metrics.login_failures.inc();
        if just_locked {
            let until = next.locked_until.unwrap_or(now);
            crate::events::publish(
                &state,
                Event::new(
                    "login.lockout",
                    Severity::Warning,
                    format!(
                        "user {:?} locked until {} after {} failed logins",
                        user.id,
                        crate::api::time_text(until),
                        policy.max_failures
                    ),
                )
                .object("user", &user.id)
                .group(user.groups.first().cloned()),
            )
            .await?;
            return Err(locked(until));
        }
        return Err(bad_credentials());
    }
    let fresh = lockout::after_success();
    db::users::set_login_state(
        &mut tx,
        &user.id,
        i64::from(fresh.failures),
        fresh.locked_until,
    )
    .await?;
    db::sessions::delete_for_user(&mut tx, &user.id).await?;
    let token = random_token(32);
    let csrf = random_token(16);
    let expires_at = now + i64::from(settings.session_ttl_minutes) * 60_000;
    db::sessions::insert(
        &mut tx,
        &db::sessions::SessionRecord {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at,
            source_ip: peer.ip().to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    let secure = if state.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let body = SessionView {
        token,
        csrf_token: csrf,
        expires_at: crate::api::time_text(expires_at),
        user: UserView::from(user),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(response)
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong user id or password",
    )
}

fn locked(until: i64) -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "account_locked",
        format!(
            "too many failed logins; the account is locked until {}",
            crate::api::time_text(until)
        ),
    )
}

/// Logs out the caller's own session.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    db::sessions::delete(&mut tx, &auth.token_hash).await?;
    tx.commit().await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("holdfast_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}
