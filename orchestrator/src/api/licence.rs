//! `/api/v1/licence`: view, register, replace.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Body;
use crate::db;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::events::{Event, Severity};
use crate::licence::{self, LicenceTerms};
use crate::state::{AppState, now_ms};

/// The licence as the API shows it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenceView {
    /// This installation's product UUID (a licence must name it).
    pub product_uuid: String,
    /// The registered licence's terms; `null` when none is registered.
    pub terms: Option<LicenceTerms>,
    /// When it was registered (RFC 3339).
    pub registered_at: Option<String>,
    /// Past its expiry date (replication and DR keep working; new protection does not).
    pub expired: bool,
}

/// Shows the licence.
#[utoipa::path(get, path = "/api/v1/licence", tag = "licence",
    responses((status = 200, body = LicenceView), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<LicenceView>> {
    rbac::decide(&auth.actor, Menu::Licence, Action::Read, Owner::System)?;
    let mut tx = state.db.begin().await?;
    let stored = db::licence::get(&mut tx).await?;
    tx.commit().await?;
    let product_uuid = state.product_uuid.to_string();
    let (terms, registered_at) = match stored {
        Some((key, at)) => (
            licence::verify(&key, &state.licence_key, &product_uuid).ok(),
            Some(super::time_text(at)),
        ),
        None => (None, None),
    };
    let expired = terms
        .as_ref()
        .is_some_and(|t| t.expired_on(licence::today()));
    Ok(Json(LicenceView {
        product_uuid,
        terms,
        registered_at,
        expired,
    }))
}

/// A licence key to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterLicence {
    /// The key, `HFL1.<payload>.<signature>`.
    pub licence_key: String,
}

/// Registers a licence key, or replaces the registered one (renewal, new limit).
#[utoipa::path(put, path = "/api/v1/licence", tag = "licence", request_body = RegisterLicence,
    responses((status = 200, body = LicenceView), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    auth: Auth,
    Body(req): Body<RegisterLicence>,
) -> ApiResult<Json<LicenceView>> {
    let mut tx = state.db.begin().await?;
    let existing = db::licence::get(&mut tx).await?;
    tx.commit().await?;
    let action = if existing.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    rbac::decide(&auth.actor, Menu::Licence, action, Owner::System)?;
    let product_uuid = state.product_uuid.to_string();
    let terms =
        licence::verify(&req.licence_key, &state.licence_key, &product_uuid).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_licence",
                e.to_string(),
            )
        })?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    db::licence::put(&mut tx, req.licence_key.trim(), now).await?;
    tx.commit().await?;
    crate::events::publish(
        &state,
        Event::new(
            "licence.registered",
            Severity::Info,
            format!(
                "licence registered: {} instances, {}, expires {}",
                terms.instance_limit,
                terms.platforms.join(", "),
                terms.expires
            ),
        ),
    )
    .await?;
    let expired = terms.expired_on(licence::today());
    Ok(Json(LicenceView {
        product_uuid,
        terms: Some(terms),
        registered_at: Some(super::time_text(now)),
        expired,
    }))
}
