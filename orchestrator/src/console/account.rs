//! The user's own account: profile, password change with the policy, language.

use axum::response::Response;
use maud::html;

use super::layout::{self, Nav};
use super::session::Session;
use super::widgets::{self, FieldAttrs};
use crate::domain::password::{MAX_LEN, MIN_LEN};
use crate::domain::rbac::{self, Role, TargetUser, UserChange};

/// `GET /console/account`.
pub async fn page(s: Session) -> Response {
    let lang = s.lang;
    let user = &s.user;
    let target = TargetUser {
        id: &user.id,
        role: Role::from(user.role),
        groups: &user.groups,
    };
    let may_edit = rbac::update_user(s.actor(), target, UserChange::default()).is_ok();
    let url = format!("/api/v1/users/{}", user.id);
    let min = MIN_LEN.to_string();
    let max = MAX_LEN.to_string();
    let body = html! {
        (widgets::page_header(lang.t("account.title"), html! {}))
        dl .facts {
            dt { (lang.t("users.id")) } dd { (user.id) }
            dt { (lang.t("users.role")) } dd { (widgets::role_label(lang, user.role)) }
            dt { (lang.t("users.groups")) } dd { (user.groups.len()) }
        }
        div .columns {
            @if may_edit {
                form .card #profile-form data-api=(format!("PATCH {url}")) data-success="reload"
                    data-toast=(lang.t("users.saved")) novalidate {
                    h2 { (lang.t("account.profile")) }
                    (widgets::text_field("a-name", lang.t("users.name"), "name", &user.name, FieldAttrs {
                        required: true, maxlength: Some(64), autocomplete: Some("name"), ..FieldAttrs::default()
                    }))
                    (widgets::text_field("a-email", lang.t("users.email"), "email", &user.email, FieldAttrs {
                        kind: "email", required: true, autocomplete: Some("email"), ..FieldAttrs::default()
                    }))
                    (widgets::form_error())
                    div .form-buttons { button type="submit" { (lang.t("form.save")) } }
                }
            }
            form .card #password-form data-api="POST /api/v1/account/password" data-success="reset"
                data-toast=(lang.t("account.password_changed")) novalidate {
                h2 { (lang.t("account.change_password")) }
                (widgets::text_field("p-current", lang.t("account.current_password"), "current_password", "", FieldAttrs {
                    kind: "password", required: true, autocomplete: Some("current-password"), ..FieldAttrs::default()
                }))
                div .field {
                    label for="p-new" { (lang.t("account.new_password")) }
                    input #p-new type="password" name="new_password" required autocomplete="new-password"
                        data-policy="password-policy" aria-describedby="password-policy";
                    ul #password-policy .policy aria-live="polite" {
                        li data-rule="length" data-min=(min) data-max=(max) { (lang.f("account.rule_length", &[("min", &min), ("max", &max)])) }
                        li data-rule="lower" { (lang.t("account.rule_lower")) }
                        li data-rule="upper" { (lang.t("account.rule_upper")) }
                        li data-rule="digit" { (lang.t("account.rule_digit")) }
                        li data-rule="special" { (lang.t("account.rule_special")) }
                        li data-rule="space" { (lang.t("account.rule_space")) }
                    }
                }
                div .field {
                    label for="p-confirm" { (lang.t("account.confirm_password")) }
                    input #p-confirm type="password" name="confirm_password" required autocomplete="new-password"
                        data-send="no" data-same-as="p-new";
                }
                (widgets::form_error())
                div .form-buttons { button type="submit" { (lang.t("account.change_password")) } }
            }
        }
    };
    layout::page(&s, lang.t("account.title"), Nav::Account, body)
}
