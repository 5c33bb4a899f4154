//! `/api/v1/settings` (Admin only).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Body;
use crate::domain::rbac;
use crate::settings::{self, Settings, SettingsPatch};
use crate::state::{AppState, now_ms};

/// The system settings as the API shows them: every setting, and whether the write-only
/// SMTP password is set (the password itself is never returned).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// The settings.
    #[serde(flatten)]
    pub settings: Settings,
    /// Whether an SMTP AUTH password is stored (see `smtp_password` in the change).
    pub smtp_password_set: bool,
}

async fn view(state: &AppState, settings: Settings) -> ApiResult<Json<SettingsView>> {
    let smtp_password_set = crate::mail::password_set(state).await?;
    Ok(Json(SettingsView {
        settings,
        smtp_password_set,
    }))
}

/// Shows the system settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsView), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SettingsView>> {
    rbac::admin_only(&auth.actor)?;
    let current = settings::load(&state).await?;
    view(&state, current).await
}

/// Changes system settings; invalid values are refused and nothing is changed.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings", request_body = SettingsPatch,
    responses((status = 200, body = SettingsView), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Body(mut patch): Body<SettingsPatch>,
) -> ApiResult<Json<SettingsView>> {
    rbac::admin_only(&auth.actor)?;
    let password = patch.smtp_password.take();
    let current = settings::load(&state).await?;
    let next = current
        .apply(patch)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    // The password goes with a user name: set together, and removed with it.
    let password = match (password, &next.smtp_username) {
        (Some(Some(p)), Some(_)) => {
            if p.is_empty() || p.len() > 1024 {
                return Err(ApiError::invalid(
                    "setting smtp_password: must be 1–1024 characters",
                ));
            }
            Some(Some(p))
        }
        (Some(Some(_)), None) => {
            return Err(ApiError::invalid(
                "setting smtp_password: set smtp_username too (AUTH needs both)",
            ));
        }
        (_, None) if current.smtp_username.is_some() => Some(None),
        (other, _) => other,
    };
    if let Some(p) = &password {
        crate::mail::set_password(&state, p.as_deref())
            .await
            .map_err(|e| match e {
                crate::mail::PasswordError::NoKey(_) => ApiError::invalid(e.to_string()),
                crate::mail::PasswordError::Db(db) => db.into(),
            })?;
    }
    settings::save(&state.db, &next, now_ms()).await?;
    if next.log_level != current.log_level {
        crate::telemetry::set_level(&next.log_level);
    }
    view(&state, next).await
}
