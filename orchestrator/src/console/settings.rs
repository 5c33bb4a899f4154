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
    let (v, password_set) = match crate::api::settings::get(State(state), s.auth.clone()).await {
        Ok(Json(v)) => (v.settings, v.smtp_password_set),
        Err(e) => return layout::error(&s, Nav::Settings, e),
    };
    let tls = match v.smtp_tls {
        crate::settings::SmtpTls::None => "none",
        crate::settings::SmtpTls::Starttls => "starttls",
        crate::settings::SmtpTls::Tls => "tls",
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
            (number("s-licence-warn", "settings.licence_expiry_warning_days", "settings.licence_expiry_warning_hint", "licence_expiry_warning_days", v.licence_expiry_warning_days))
            fieldset {
                legend { (lang.t("settings.mail")) }
                p .hint { (lang.t("settings.mail_intro")) }
                div .grid-2 {
                    (widgets::text_field("s-relay", lang.t("settings.smtp_relay"), "smtp_relay", v.smtp_relay.as_deref().unwrap_or(""), FieldAttrs {
                        data_empty: Some("null"), hint: Some(lang.t("settings.smtp_relay_hint")), ..FieldAttrs::default()
                    }))
                    (widgets::text_field("s-from", lang.t("settings.smtp_from"), "smtp_from", &v.smtp_from, FieldAttrs {
                        kind: "email", ..FieldAttrs::default()
                    }))
                }
                div .field {
                    label for="s-to" { (lang.t("settings.smtp_to")) }
                    textarea #s-to name="smtp_to" rows="2" data-type="lines" aria-describedby="s-to-hint" {
                        (v.smtp_to.join("\n"))
                    }
                    p .hint #s-to-hint { (lang.t("settings.smtp_to_hint")) }
                }
                div .grid-2 {
                    div .field {
                        label for="s-tls" { (lang.t("settings.smtp_tls")) }
                        select #s-tls name="smtp_tls" aria-describedby="s-tls-hint" {
                            @for (value, key) in [("none", "settings.smtp_tls_none"), ("starttls", "settings.smtp_tls_starttls"), ("tls", "settings.smtp_tls_tls")] {
                                option value=(value) selected[tls == value] { (lang.t(key)) }
                            }
                        }
                        p .hint #s-tls-hint { (lang.t("settings.smtp_tls_hint")) }
                    }
                    (widgets::text_field("s-user", lang.t("settings.smtp_username"), "smtp_username", v.smtp_username.as_deref().unwrap_or(""), FieldAttrs {
                        data_empty: Some("null"), autocomplete: Some("off"), hint: Some(lang.t("settings.smtp_username_hint")), ..FieldAttrs::default()
                    }))
                }
                (widgets::text_field("s-password", lang.t("settings.smtp_password"), "smtp_password", "", FieldAttrs {
                    kind: "password", data_empty: Some("omit"), autocomplete: Some("new-password"),
                    hint: Some(lang.t(if password_set { "settings.smtp_password_set" } else { "settings.smtp_password_unset" })),
                    ..FieldAttrs::default()
                }))
            }
            (widgets::form_error())
            div .form-buttons { button type="submit" { (lang.t("form.save")) } }
        }
    };
    layout::page(&s, lang.t("settings.title"), Nav::Settings, body)
}
