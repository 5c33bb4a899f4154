//! The licence: this installation's product UUID, the registered key's terms, and (for
//! whoever may) the form that registers or replaces a key.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::layout::{self, Nav};
use super::session::Session;
use super::widgets;
use crate::domain::rbac::{Action, Menu};
use crate::licence::alerts::UsageLevel;
use crate::state::AppState;

/// `GET /console/licence`.
pub async fn page(State(state): State<AppState>, s: Session) -> Response {
    let lang = s.lang;
    let view = match crate::api::licence::get(State(state), s.auth.clone()).await {
        Ok(Json(v)) => v,
        Err(e) => return layout::error(&s, Nav::Licence, e),
    };
    let registered = view.registered_at.is_some();
    let may_register = if registered {
        s.may(Menu::Licence, Action::Update)
    } else {
        s.may(Menu::Licence, Action::Create)
    };
    let body = html! {
        (widgets::page_header(lang.t("licence.title"), html! {}))
        section .card aria-labelledby="licence-state" {
            h2 #licence-state { (lang.t("licence.state")) " "
                @match (&view.terms, view.expired, registered) {
                    (Some(_), false, _) => span .badge.sev-info data-role="licence-status" { (lang.t("licence.valid")) },
                    (Some(_), true, _) => span .badge.sev-warning data-role="licence-status" { (lang.t("licence.expired")) },
                    (None, _, true) => span .badge.sev-error data-role="licence-status" { (lang.t("licence.unverifiable")) },
                    (None, _, false) => span .badge data-role="licence-status" { (lang.t("licence.none")) },
                }
            }
            dl .facts {
                dt { (lang.t("licence.product_uuid")) } dd { code #product-uuid { (view.product_uuid) } }
                @if let Some(t) = &view.terms {
                    dt { (lang.t("licence.issued")) } dd { (t.issued) }
                    dt { (lang.t("licence.expires")) } dd { (t.expires) }
                    dt { (lang.t("licence.instance_limit")) } dd { (t.instance_limit) }
                    dt { (lang.t("licence.usage")) }
                    dd data-role="licence-usage" {
                        (lang.f("licence.usage_value", &[
                            ("protected", &view.protected_instances.to_string()),
                            ("limit", &t.instance_limit.to_string()),
                        ]))
                        @if let Some(p) = view.usage_percent { " (" (p) " %)" }
                        @match view.usage_level {
                            Some(UsageLevel::Full) => { " " span .badge.sev-error { (lang.t("licence.usage_full")) } }
                            Some(UsageLevel::High) => { " " span .badge.sev-warning { (lang.t("licence.usage_high")) } }
                            _ => {}
                        }
                    }
                    @if let Some(days) = view.days_to_expiry {
                        dt { (lang.t("licence.days_to_expiry")) }
                        dd data-role="licence-days" {
                            @if days >= 0 {
                                (lang.f("licence.days_left", &[("days", &days.to_string())]))
                            } @else {
                                (lang.f("licence.days_ago", &[("days", &(-days).to_string())]))
                            }
                        }
                    }
                    dt { (lang.t("licence.platforms")) } dd { (t.platforms.join(", ")) }
                }
                @if let Some(at) = &view.registered_at {
                    dt { (lang.t("licence.registered_at")) } dd { (widgets::time_text(at)) }
                }
            }
            @if view.expired { p .notice { (lang.t("licence.expired_note")) } }
            @if view.usage_level == Some(UsageLevel::Full) { p .notice { (lang.t("licence.full_note")) } }
            @if view.terms.is_none() && !registered { p .hint { (lang.t("licence.none_note")) } }
        }
        @if may_register {
            form .card #licence-form data-api="PUT /api/v1/licence" data-success="reload"
                data-toast=(lang.t("licence.registered")) novalidate {
                h2 { @if registered { (lang.t("licence.replace")) } @else { (lang.t("licence.register")) } }
                div .field {
                    label for="licence-key" { (lang.t("licence.key")) }
                    textarea #licence-key name="licence_key" rows="4" required spellcheck="false"
                        aria-describedby="licence-key-hint" {}
                    p .hint #licence-key-hint { (lang.t("licence.key_hint")) }
                }
                (widgets::form_error())
                div .form-buttons { button type="submit" { (lang.t("licence.submit")) } }
            }
        }
    };
    layout::page(&s, lang.t("licence.title"), Nav::Licence, body)
}
