//! `/api/v1/settings` (Admin only).

use axum::Json;
use axum::extract::State;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Body;
use crate::domain::rbac;
use crate::settings::{self, Settings, SettingsPatch};
use crate::state::{AppState, now_ms};

/// Shows the system settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Settings>> {
    rbac::admin_only(&auth.actor)?;
    Ok(Json(settings::load(&state).await?))
}

/// Changes system settings; invalid values are refused and nothing is changed.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings", request_body = SettingsPatch,
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Body(patch): Body<SettingsPatch>,
) -> ApiResult<Json<Settings>> {
    rbac::admin_only(&auth.actor)?;
    let current = settings::load(&state).await?;
    let next = current
        .apply(patch)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    settings::save(&state.db, &next, now_ms()).await?;
    if next.log_level != current.log_level {
        crate::telemetry::set_level(&next.log_level);
    }
    Ok(Json(next))
}
