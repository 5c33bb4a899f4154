//! One cluster: its fields, status and sync status (watched while a sync runs), the
//! synced resource counts linking to the resource lists, and the owner's actions: sync,
//! edit (name, description, storage metadata), password rotation, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::super::layout::{self, Nav};
use super::super::session::Session;
use super::super::widgets::{self, ApiCall, FieldAttrs};
use super::kind_label;
use super::{group_names, status_badge, storage, sync_badge};
use crate::domain::cluster::ResourceKind;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::AppState;

/// `GET /console/clusters/{id}`.
pub async fn page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let c = match crate::api::clusters::get(State(state.clone()), s.auth.clone(), Path(id)).await {
        Ok(Json(c)) => c,
        Err(e) => return layout::error(&s, Nav::Clusters, e),
    };
    let names = group_names(&state, &s).await;
    let owner = [c.owner_group_id.clone()];
    let may = |a| rbac::decide(s.actor(), Menu::Clusters, a, Owner::Groups(&owner)).is_ok();
    let may_update = may(Action::Update);
    let may_delete = may(Action::Delete);
    let url = format!("/api/v1/clusters/{}", c.id);
    let sync_url = format!("{url}/sync");
    let delete_q = lang.f("clusters.delete_confirm", &[("name", &c.name)]);
    let counts = c.resource_counts.clone().unwrap_or_default();
    let actions = html! {
        @if may_update {
            (widgets::api_button(lang.t("clusters.sync"), ApiCall {
                method: "POST", url: &sync_url, confirm: None, success: "reload", toast: Some(lang.t("clusters.sync_started")),
            }, "secondary"))
        }
        @if may_delete {
            (widgets::api_button(lang.t("clusters.delete"), ApiCall {
                method: "DELETE", url: &url, confirm: Some(&delete_q), success: "redirect:/console/clusters", toast: Some(lang.t("clusters.deleted")),
            }, "danger"))
        }
    };
    // While a sync has not finished, the page watches the API and reloads on a change.
    let watching = c.sync_status != "Done";
    let body = html! {
        (widgets::page_header(&c.name, actions))
        dl .facts #cluster-facts data-watch=[watching.then_some(url.as_str())]
            data-watch-field="sync_status" data-watch-value=(c.sync_status) {
            dt { (lang.t("clusters.status")) } dd {
                (status_badge(lang, &c))
                @if let Some(r) = &c.status_reason { " " span .hint { (r) } }
            }
            dt { (lang.t("clusters.sync_status")) } dd { (sync_badge(lang, &c)) }
            dt { (lang.t("clusters.last_sync")) } dd {
                @match &c.sync_finished_at {
                    Some(t) => (widgets::time_text(t)),
                    None => (lang.t("clusters.never")),
                }
            }
            dt { (lang.t("clusters.owner_group")) } dd { (names.get(&c.owner_group_id).unwrap_or(&c.owner_group_id)) }
            dt { (lang.t("clusters.platform")) } dd { (c.platform) }
            dt { (lang.t("clusters.auth_url")) } dd { code { (c.auth_url) } }
            dt { (lang.t("clusters.username")) } dd { (c.username) " @ " (c.user_domain) }
            dt { (lang.t("clusters.project")) } dd { (c.project) " @ " (c.project_domain) }
            dt { (lang.t("clusters.description")) } dd { (c.description) }
            dt { (lang.t("clusters.notifications")) } dd {
                @match c.notifications.as_str() {
                    "listening" => span .badge.sev-info { (lang.t("clusters.listening")) },
                    "disconnected" => span .badge.sev-warning { (lang.t("clusters.disconnected")) },
                    _ => span .badge { (lang.t("clusters.not_configured")) },
                }
                @if let Some(b) = &c.notification_broker { " " code { (b) } " (" (c.notification_exchanges.join(", ")) ")" }
            }
            dt { (lang.t("clusters.created_at")) } dd { (widgets::time_text(&c.created_at)) }
        }
        section .card aria-labelledby="resources-title" {
            h2 #resources-title { (lang.t("clusters.resources")) }
            div .table-wrap {
                table .list #resource-counts {
                    caption .visually-hidden { (lang.t("clusters.resources")) }
                    thead { tr { th scope="col" { (lang.t("clusters.kind")) } th scope="col" .num { (lang.t("clusters.count")) } } }
                    tbody {
                        @for k in ResourceKind::ALL {
                            tr data-kind=(k.as_str()) {
                                td { a href=(format!("/console/clusters/{}/resources/{}", c.id, k.as_str())) { (kind_label(lang, k)) } }
                                td .num { (counts.get(k.as_str()).copied().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
        @if !c.storage.is_empty() {
            section .card aria-labelledby="storage-title" {
                h2 #storage-title { (lang.t("clusters.storage")) }
                (storage::storage_table(lang, &c.storage))
            }
        }
        @if may_update {
            div .columns {
                form .card #cluster-edit data-api=(format!("PATCH {url}")) data-success="reload"
                    data-toast=(lang.t("clusters.saved")) novalidate {
                    h2 { (lang.t("clusters.edit")) }
                    (widgets::text_field("c-name", lang.t("clusters.name"), "name", &c.name, FieldAttrs {
                        required: true, maxlength: Some(255), hint: Some(lang.t("clusters.name_hint")), ..FieldAttrs::default()
                    }))
                    div .field {
                        label for="c-description" { (lang.t("clusters.description")) }
                        textarea #c-description name="description" maxlength="1024" rows="2" { (c.description) }
                    }
                    (storage::storage_fields(lang, "edit", &c.storage))
                    (widgets::form_error())
                    div .form-buttons { button type="submit" { (lang.t("form.save")) } }
                }
                form .card #cluster-password data-api=(format!("PATCH {url}")) data-success="reload"
                    data-toast=(lang.t("clusters.password_rotated")) novalidate {
                    h2 { (lang.t("clusters.rotate_password")) }
                    p .hint { (lang.t("clusters.rotate_hint")) }
                    (widgets::text_field("c-old-password", lang.t("clusters.old_password"), "password.old_password", "", FieldAttrs {
                        kind: "password", required: true, autocomplete: Some("off"), ..FieldAttrs::default()
                    }))
                    (widgets::text_field("c-new-password", lang.t("clusters.new_password"), "password.new_password", "", FieldAttrs {
                        kind: "password", required: true, autocomplete: Some("new-password"), ..FieldAttrs::default()
                    }))
                    div .field {
                        label for="c-new-password2" { (lang.t("clusters.new_password_again")) }
                        input #c-new-password2 type="password" autocomplete="new-password" required data-same-as="c-new-password";
                    }
                    (widgets::form_error())
                    div .form-buttons { button type="submit" { (lang.t("clusters.rotate")) } }
                }
            }
        }
    };
    layout::page(&s, &c.name, Nav::Clusters, body)
}
