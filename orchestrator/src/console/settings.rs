//! System settings (Admin only): the values in force and a form that changes them
//! through `PATCH /api/v1/settings` (which checks every range).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::layout::{self, Nav};
use super::session::Session;
use super::widgets::{self, FieldAttrs};
use crate::state::AppState;

/// `GET /console/settings`.
pub async fn page(State(state): State<AppState>, s: Session) -> Response {
    let lang = s.lang;
    let v = match crate::api::settings::get(State(state), s.auth.clone()).await {
        Ok(Json(v)) => v.settings,
        Err(e) => return layout::error(&s, Nav::Settings, e),
    };
    let number = |id: &str, key: &'static str, hint: &'static str, name: &str, value: u32| {
        widgets::text_field(
            id,
            lang.t(key),
            name,
            &value.to_string(),
            FieldAttrs {
                kind: "number",
                required: true,
                data_type: Some("number"),
                hint: Some(lang.t(hint)),
                ..FieldAttrs::default()
            },
        )
    };
    let body = html! {
        (widgets::page_header(lang.t("settings.title"), html! {}))
        p .hint { (lang.t("settings.intro")) }
        form .card #settings-form data-api="PATCH /api/v1/settings" data-success="reload"
            data-toast=(lang.t("settings.saved")) novalidate {
            div .field {
                label for="s-log" { (lang.t("settings.log_level")) }
                select #s-log name="log_level" {
                    @for l in ["error", "warn", "info", "debug", "trace"] {
                        option value=(l) selected[v.log_level == l] { (l) }
                    }
                }
            }
            div .grid-2 {
                (number("s-retention", "settings.event_retention_days", "settings.event_retention_hint", "event_retention_days", v.event_retention_days))
                (number("s-failures", "settings.lockout_max_failures", "settings.lockout_max_failures_hint", "lockout_max_failures", v.lockout_max_failures))
                (number("s-lock", "settings.lockout_minutes", "settings.lockout_minutes_hint", "lockout_minutes", v.lockout_minutes))
                (number("s-session", "settings.session_ttl_minutes", "settings.session_ttl_hint", "session_ttl_minutes", v.session_ttl_minutes))
                (number("s-rollback", "settings.rollback_wait_minutes", "settings.rollback_wait_hint", "rollback_wait_minutes", v.rollback_wait_minutes))
                (number("s-sync", "settings.sync_interval_minutes", "settings.sync_interval_hint", "sync_interval_minutes", v.sync_interval_minutes))
            }
            (widgets::text_field("s-webhook", lang.t("settings.webhook_url"), "webhook_url", v.webhook_url.as_deref().unwrap_or(""), FieldAttrs {
                kind: "url", data_empty: Some("null"), hint: Some(lang.t("settings.webhook_hint")), ..FieldAttrs::default()
            }))
            (widgets::form_error())
            div .form-buttons { button type="submit" { (lang.t("form.save")) } }
        }
    };
    layout::page(&s, lang.t("settings.title"), Nav::Settings, body)
}
