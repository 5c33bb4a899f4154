//! Users: list (search, role and group filters, pagination), create (the first password
//! shown once), detail with edit, password reset, session end and delete.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::session::Session;
use super::widgets::{self, ApiCall, FieldAttrs, PAGE_SIZE, non_empty};
use crate::api::extract::Params;
use crate::api::groups::{GroupQuery, GroupView};
use crate::api::users::{RoleDto, UserQuery, UserView};
use crate::domain::rbac::{self, Action, Menu, Role, TargetUser, UserChange};
use crate::state::AppState;

/// Filters of the user list, as the filter form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text.
    pub q: Option<String>,
    /// Role (`admin`, ...).
    pub role: Option<String>,
    /// Group id.
    pub group: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// Page size and offset from form text (bad numbers fall back to the defaults).
pub fn paging(limit: Option<&str>, offset: Option<&str>) -> (i64, i64) {
    let limit = limit
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| (1..=crate::api::page::MAX_LIMIT).contains(l))
        .unwrap_or(PAGE_SIZE);
    let offset = offset
        .and_then(|o| o.parse::<i64>().ok())
        .filter(|o| *o >= 0)
        .unwrap_or(0);
    (limit, offset)
}

fn role_dto(s: &str) -> Option<RoleDto> {
    Role::parse(s).map(RoleDto::from)
}

/// Every group the user may see, by id (for names and choices).
pub async fn visible_groups(state: &AppState, s: &Session) -> Vec<GroupView> {
    if !s.may(Menu::Users, Action::Read) {
        return Vec::new();
    }
    crate::api::groups::list(
        State(state.clone()),
        s.auth.clone(),
        Params(GroupQuery {
            q: None,
            limit: Some(crate::api::page::MAX_LIMIT),
            offset: None,
        }),
    )
    .await
    .map(|Json(p)| p.items)
    .unwrap_or_default()
}

fn group_names(groups: &[GroupView]) -> BTreeMap<String, String> {
    groups
        .iter()
        .map(|g| (g.id.clone(), g.name.clone()))
        .collect()
}

fn names_of(ids: &[String], names: &BTreeMap<String, String>) -> String {
    ids.iter()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn target(u: &UserView) -> TargetUser<'_> {
    TargetUser {
        id: &u.id,
        role: Role::from(u.role),
        groups: &u.groups,
    }
}

/// `GET /console/users`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let role = non_empty(q.role).and_then(|r| role_dto(&r));
    let group = non_empty(q.group);
    let page = match crate::api::users::list(
        State(state.clone()),
        s.auth.clone(),
        Params(UserQuery {
            role,
            group: group.clone(),
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::Users, e),
    };
    let groups = visible_groups(&state, &s).await;
    let names = group_names(&groups);
    let role_value = role.map(|r| Role::from(r).as_str().to_owned());
    let pairs = [
        ("q", search.clone().unwrap_or_default()),
        ("role", role_value.clone().unwrap_or_default()),
        ("group", group.clone().unwrap_or_default()),
    ];
    let actions = html! {
        @if s.may(Menu::Users, Action::Create) {
            a .button href="/console/users/new" { (lang.t("users.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("users.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()] placeholder=(lang.t("users.search_hint"));
        }
        div .field {
            label for="f-role" { (lang.t("users.role")) }
            select #f-role name="role" {
                option value="" { (lang.t("list.any")) }
                @for r in Role::ALL {
                    option value=(r.as_str()) selected[role_value.as_deref() == Some(r.as_str())] {
                        (widgets::role_label(lang, r.into()))
                    }
                }
            }
        }
        div .field {
            label for="f-group" { (lang.t("users.group")) }
            select #f-group name="group" {
                option value="" { (lang.t("list.any")) }
                @for g in &groups {
                    option value=(g.id) selected[group.as_deref() == Some(g.id.as_str())] { (g.name) }
                }
            }
        }
    };
    let rows = html! {
        @for u in &page.items {
            tr data-user=(u.id) {
                td { a href=(format!("/console/users/{}", u.id)) { (u.id) } }
                td { (u.name) }
                td { (u.email) }
                td { (widgets::role_label(lang, u.role)) }
                td { (names_of(&u.groups, &names)) }
                td {
                    @if let Some(until) = &u.locked_until {
                        span .badge.sev-warning { (lang.t("users.locked")) } " " (widgets::time_text(until))
                    } @else {
                        span .badge.sev-info { (lang.t("users.active")) }
                    }
                }
            }
        }
    };
    let columns = [
        lang.t("users.id"),
        lang.t("users.name"),
        lang.t("users.email"),
        lang.t("users.role"),
        lang.t("users.groups"),
        lang.t("users.status"),
    ];
    let title = lang.t("users.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/users",
            title,
            actions,
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "users-table",
                title,
                &columns,
                rows,
                page.items.is_empty(),
            ),
            paging: Some(widgets::Paging {
                pairs: &pairs,
                total: page.total,
                limit,
                offset,
            }),
            ..widgets::ListPage::default()
        },
    );
    layout::page(&s, title, Nav::Users, body)
}

/// Roles `s` may give a new user.
fn grantable_roles(s: &Session) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Admin || s.role() == Role::Admin)
        .collect()
}

fn group_checkboxes(s: &Session, groups: &[GroupView], checked: &[String], legend: &str) -> Markup {
    let lang = s.lang;
    html! {
        fieldset .checks {
            legend { (legend) }
            @if groups.is_empty() {
                p .hint { (lang.t("users.no_groups")) }
            }
            @for g in groups {
                label .check {
                    input type="checkbox" name="groups" value=(g.id) data-type="array" checked[checked.contains(&g.id)];
                    " " (g.name)
                }
            }
            // Memberships in groups this user cannot see are kept as they are.
            @for id in checked.iter().filter(|id| !groups.iter().any(|g| &g.id == *id)) {
                input type="hidden" name="groups" value=(id) data-type="array";
            }
        }
    }
}

/// `GET /console/users/new`.
pub async fn new(State(state): State<AppState>, s: Session) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(s.actor(), Menu::Users, Action::Create, rbac::Owner::System) {
        return layout::error(&s, Nav::Users, e.into());
    }
    let groups = visible_groups(&state, &s).await;
    let body = html! {
        (widgets::page_header(lang.t("users.new"), html! {}))
        form .card #user-form data-api="POST /api/v1/users" data-arrays="groups"
            data-success="secret:/console/users/{user.id}" data-toast=(lang.t("users.created")) novalidate {
            (widgets::text_field("u-id", lang.t("users.id"), "id", "", FieldAttrs {
                required: true, maxlength: Some(32), autocomplete: Some("off"), hint: Some(lang.t("users.id_hint")), ..FieldAttrs::default()
            }))
            (widgets::text_field("u-name", lang.t("users.name"), "name", "", FieldAttrs {
                required: true, maxlength: Some(64), autocomplete: Some("off"), ..FieldAttrs::default()
            }))
            (widgets::text_field("u-email", lang.t("users.email"), "email", "", FieldAttrs {
                kind: "email", required: true, autocomplete: Some("off"), ..FieldAttrs::default()
            }))
            div .field {
                label for="u-role" { (lang.t("users.role")) }
                select #u-role name="role" {
                    @for r in grantable_roles(&s) {
                        option value=(r.as_str()) selected[r == Role::Viewer] { (widgets::role_label(lang, r.into())) }
                    }
                }
            }
            (group_checkboxes(&s, &groups, &[], lang.t("users.groups")))
            @if s.role() != Role::Admin { p .hint { (lang.t("users.manager_groups_hint")) } }
            p .hint { (lang.t("users.first_password_hint")) }
            (widgets::form_error())
            div .form-buttons {
                button type="submit" { (lang.t("users.create")) }
                a .button.secondary href="/console/users" { (lang.t("form.cancel")) }
            }
        }
    };
    layout::page(&s, lang.t("users.new"), Nav::Users, body)
}

/// `GET /console/users/{id}`.
pub async fn detail(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let user = match crate::api::users::get(State(state.clone()), s.auth.clone(), Path(id)).await {
        Ok(Json(u)) => u,
        Err(e) => return layout::error(&s, Nav::Users, e),
    };
    let groups = visible_groups(&state, &s).await;
    let names = group_names(&groups);
    let actor = s.actor();
    let t = target(&user);
    let may_edit = rbac::update_user(actor, t, UserChange::default()).is_ok();
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| {
            *r == t.role
                || rbac::update_user(
                    actor,
                    t,
                    UserChange {
                        role: Some(*r),
                        groups: None,
                    },
                )
                .is_ok()
        })
        .collect();
    let may_change_role = t.role != Role::Admin && roles.len() > 1;
    let may_change_groups = rbac::update_user(
        actor,
        t,
        UserChange {
            role: None,
            groups: Some(t.groups),
        },
    )
    .is_ok()
        && s.may(Menu::Users, Action::Update);
    let may_reset = rbac::reset_password(actor, t).is_ok();
    let may_delete = rbac::delete_user(actor, t).is_ok();
    let is_self = actor.user_id == user.id;
    let may_logout = !is_self && rbac::logout_user(actor, t).is_ok();
    let url = format!("/api/v1/users/{}", user.id);
    let title = format!("{} ({})", user.name, user.id);
    let delete_q = lang.f("users.delete_confirm", &[("id", &user.id)]);
    let reset_q = lang.f("users.reset_confirm", &[("id", &user.id)]);
    let logout_q = lang.f("users.logout_confirm", &[("id", &user.id)]);
    let reset_url = format!("{url}/password-reset");
    let sessions_url = format!("{url}/sessions");
    let back = format!("/console/users/{}", user.id);
    let actions = html! {
        @if may_reset {
            (widgets::api_button(lang.t("users.reset_password"), ApiCall {
                method: "POST", url: &reset_url, confirm: Some(&reset_q), success: &format!("secret:{back}"), toast: Some(lang.t("users.reset_done")),
            }, "secondary"))
        }
        @if may_logout {
            (widgets::api_button(lang.t("users.end_sessions"), ApiCall {
                method: "DELETE", url: &sessions_url, confirm: Some(&logout_q), success: "reload", toast: Some(lang.t("users.sessions_ended")),
            }, "secondary"))
        }
        @if may_delete {
            (widgets::api_button(lang.t("users.delete"), ApiCall {
                method: "DELETE", url: &url, confirm: Some(&delete_q), success: "redirect:/console/users", toast: Some(lang.t("users.deleted")),
            }, "danger"))
        }
    };
    let body = html! {
        (widgets::page_header(&title, actions))
        dl .facts {
            dt { (lang.t("users.id")) } dd { (user.id) }
            dt { (lang.t("users.role")) } dd { (widgets::role_label(lang, user.role)) }
            dt { (lang.t("users.groups")) } dd { (names_of(&user.groups, &names)) }
            dt { (lang.t("users.status")) } dd {
                @if let Some(until) = &user.locked_until {
                    (lang.t("users.locked")) " " (widgets::time_text(until))
                } @else { (lang.t("users.active")) }
            }
            dt { (lang.t("users.created_at")) } dd { (widgets::time_text(&user.created_at)) }
            dt { (lang.t("users.updated_at")) } dd { (widgets::time_text(&user.updated_at)) }
        }
        @if is_self {
            p { a href="/console/account" { (lang.t("users.own_account")) } }
        }
        @if may_edit {
            form .card #user-edit data-api=(format!("PATCH {url}")) data-arrays=[may_change_groups.then_some("groups")]
                data-success="reload" data-toast=(lang.t("users.saved")) novalidate {
                h2 { (lang.t("users.edit")) }
                (widgets::text_field("u-name", lang.t("users.name"), "name", &user.name, FieldAttrs {
                    required: true, maxlength: Some(64), ..FieldAttrs::default()
                }))
                (widgets::text_field("u-email", lang.t("users.email"), "email", &user.email, FieldAttrs {
                    kind: "email", required: true, ..FieldAttrs::default()
                }))
                @if may_change_role {
                    div .field {
                        label for="u-role" { (lang.t("users.role")) }
                        select #u-role name="role" {
                            @for r in &roles {
                                option value=(r.as_str()) selected[*r == t.role] { (widgets::role_label(lang, (*r).into())) }
                            }
                        }
                    }
                }
                @if may_change_groups {
                    (group_checkboxes(&s, &groups, &user.groups, lang.t("users.groups")))
                }
                (widgets::form_error())
                div .form-buttons { button type="submit" { (lang.t("form.save")) } }
            }
        }
    };
    layout::page(&s, &title, Nav::Users, body)
}
