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
use crate::licence::alerts::{self, UsageLevel};
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
    /// Instances protected now (members of protection groups).
    pub protected_instances: u64,
    /// Protected instances as a percentage of the instance limit (rounded down); `null`
    /// without a licence or with a limit of 0.
    pub usage_percent: Option<u64>,
    /// `normal`, `high` (at least 90 % of the limit) or `full` (the limit is reached);
    /// `null` without a licence.
    pub usage_level: Option<UsageLevel>,
    /// Days to the last valid day: 0 on that day, negative once expired; `null` without
    /// a licence.
    pub days_to_expiry: Option<i64>,
}

/// The view of `terms` today, with the current usage.
async fn view(
    state: &AppState,
    terms: Option<LicenceTerms>,
    registered_at: Option<String>,
) -> ApiResult<LicenceView> {
    let protected = licence::watch::protected_instances(&state.db).await?;
    let today = licence::today();
    Ok(LicenceView {
        product_uuid: state.product_uuid.to_string(),
        expired: terms.as_ref().is_some_and(|t| t.expired_on(today)),
        protected_instances: protected,
        usage_percent: terms
            .as_ref()
            .and_then(|t| alerts::usage_percent(protected, t.instance_limit)),
        usage_level: terms
            .as_ref()
            .map(|t| UsageLevel::of(protected, t.instance_limit)),
        days_to_expiry: terms
            .as_ref()
            .and_then(|t| alerts::days_to_expiry(t, today)),
        terms,
        registered_at,
    })
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
    Ok(Json(view(&state, terms, registered_at).await?))
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
    Ok(Json(
        view(&state, Some(terms), Some(super::time_text(now))).await?,
    ))
}
