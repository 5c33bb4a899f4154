//! User groups: list (search, pagination), create, detail with edit, members, delete.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, ApiCall, FieldAttrs, non_empty};
use crate::api::extract::Params;
use crate::api::groups::GroupQuery;
use crate::api::users::UserQuery;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::AppState;

/// Filters of the group list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (name).
    pub q: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// `GET /console/groups`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let page = match crate::api::groups::list(
        State(state.clone()),
        s.auth.clone(),
        Params(GroupQuery {
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::Groups, e),
    };
    let actions = html! {
        @if s.may(Menu::Users, Action::Create) {
            a .button href="/console/groups/new" { (lang.t("groups.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("groups.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
    };
    let rows = html! {
        @for g in &page.items {
            tr data-group=(g.name) {
                td { a href=(format!("/console/groups/{}", g.id)) { (g.name) } }
                td { (g.description) }
                td .num { (g.members.len()) }
                td { (widgets::time_text(&g.created_at)) }
            }
        }
    };
    let columns = [
        lang.t("groups.name"),
        lang.t("groups.description"),
        lang.t("groups.members"),
        lang.t("groups.created_at"),
    ];
    let pairs = [("q", search.unwrap_or_default())];
    let title = lang.t("groups.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/groups",
            title,
            actions,
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "groups-table",
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
    layout::page(&s, title, Nav::Groups, body)
}

/// `GET /console/groups/new`.
pub async fn new(s: Session) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(s.actor(), Menu::Users, Action::Create, Owner::System) {
        return layout::error(&s, Nav::Groups, e.into());
    }
    let body = html! {
        (widgets::page_header(lang.t("groups.new"), html! {}))
        form .card #group-form data-api="POST /api/v1/groups" data-success="redirect:/console/groups/{id}"
            data-toast=(lang.t("groups.created")) novalidate {
            (widgets::text_field("g-name", lang.t("groups.name"), "name", "", FieldAttrs {
                required: true, maxlength: Some(64), autocomplete: Some("off"), ..FieldAttrs::default()
            }))
            div .field {
                label for="g-description" { (lang.t("groups.description")) }
                textarea #g-description name="description" maxlength="1024" rows="3" {}
            }
            (widgets::form_error())
            div .form-buttons {
                button type="submit" { (lang.t("groups.create")) }
                a .button.secondary href="/console/groups" { (lang.t("form.cancel")) }
            }
        }
    };
    layout::page(&s, lang.t("groups.new"), Nav::Groups, body)
}

/// `GET /console/groups/{id}`.
pub async fn detail(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let group = match crate::api::groups::get(State(state.clone()), s.auth.clone(), Path(id)).await
    {
        Ok(Json(g)) => g,
        Err(e) => return layout::error(&s, Nav::Groups, e),
    };
    let owner = [group.id.clone()];
    let may = |a| rbac::decide(s.actor(), Menu::Users, a, Owner::Groups(&owner)).is_ok();
    let may_update = may(Action::Update);
    let may_delete = may(Action::Delete);
    // Users the caller may add (Admin: everyone; Manager: the users of their groups).
    let candidates = if may_update {
        crate::api::users::list(
            State(state.clone()),
            s.auth.clone(),
            Params(UserQuery {
                role: None,
                group: None,
                q: None,
                limit: Some(crate::api::page::MAX_LIMIT),
                offset: None,
            }),
        )
        .await
        .map(|Json(p)| p.items)
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    let url = format!("/api/v1/groups/{}", group.id);
    let delete_q = lang.f("groups.delete_confirm", &[("name", &group.name)]);
    let actions = html! {
        @if may_delete {
            (widgets::api_button(lang.t("groups.delete"), ApiCall {
                method: "DELETE", url: &url, confirm: Some(&delete_q), success: "redirect:/console/groups", toast: Some(lang.t("groups.deleted")),
            }, "danger"))
        }
    };
    let body = html! {
        (widgets::page_header(&group.name, actions))
        dl .facts {
            dt { (lang.t("groups.description")) } dd { (group.description) }
            dt { (lang.t("groups.created_at")) } dd { (widgets::time_text(&group.created_at)) }
            dt { (lang.t("groups.updated_at")) } dd { (widgets::time_text(&group.updated_at)) }
        }
        div .columns {
            @if may_update {
                form .card #group-edit data-api=(format!("PATCH {url}")) data-success="reload"
                    data-toast=(lang.t("groups.saved")) novalidate {
                    h2 { (lang.t("groups.edit")) }
                    (widgets::text_field("g-name", lang.t("groups.name"), "name", &group.name, FieldAttrs {
                        required: true, maxlength: Some(64), ..FieldAttrs::default()
                    }))
                    div .field {
                        label for="g-description" { (lang.t("groups.description")) }
                        textarea #g-description name="description" maxlength="1024" rows="3" { (group.description) }
                    }
                    (widgets::form_error())
                    div .form-buttons { button type="submit" { (lang.t("form.save")) } }
                }
            }
            section .card aria-labelledby="members-title" {
                h2 #members-title { (lang.t("groups.members")) " (" (group.members.len()) ")" }
                @if may_update {
                    form #members-form data-api=(format!("PUT {url}/members")) data-arrays="user_ids"
                        data-success="reload" data-toast=(lang.t("groups.members_saved")) novalidate {
                        fieldset .checks {
                            legend .visually-hidden { (lang.t("groups.members")) }
                            @if group.members.is_empty() && candidates.is_empty() {
                                p .hint { (lang.t("groups.no_members")) }
                            }
                            @for m in &group.members {
                                label .check {
                                    input type="checkbox" name="user_ids" value=(m) data-type="array" checked;
                                    " " (m)
                                }
                            }
                            @for u in candidates.iter().filter(|u| !group.members.contains(&u.id)) {
                                label .check {
                                    input type="checkbox" name="user_ids" value=(u.id) data-type="array";
                                    " " (u.id) " — " (u.name)
                                }
                            }
                        }
                        (widgets::form_error())
                        div .form-buttons { button type="submit" { (lang.t("groups.save_members")) } }
                    }
                } @else {
                    @if group.members.is_empty() {
                        p .hint { (lang.t("groups.no_members")) }
                    }
                    ul { @for m in &group.members { li { (m) } } }
                }
            }
        }
    };
    layout::page(&s, &group.name, Nav::Groups, body)
}
