//! One protection group: its fields, instances, its plan (link and state with every
//! reason), its snapshots ([`super::snapshots`]) and history ([`super::history`]), and
//! the owner's actions: edit (name, description, instances, RPO, RTO,
//! snapshot interval) and delete (refused by the API while the group has a plan).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::super::clusters::group_names;
use super::super::layout::{self, Nav};
use super::super::plans::state_badge;
use super::super::session::Session;
use super::super::widgets::{self, ApiCall, FieldAttrs};
use super::{instance_checks, interval_text, objectives_fields, resources, unprotected};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::AppState;

/// `GET /console/protection-groups/{id}`.
pub async fn page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let g = match crate::api::protection_groups::get(State(state.clone()), s.auth.clone(), Path(id))
        .await
    {
        Ok(Json(g)) => g,
        Err(e) => return layout::error(&s, Nav::ProtectionGroups, e),
    };
    let owner = [g.owner_group_id.clone()];
    let may = |a| rbac::decide(s.actor(), Menu::ProtectionGroups, a, Owner::Groups(&owner)).is_ok();
    let may_update = may(Action::Update);
    let may_delete = may(Action::Delete);
    let may_plan = g.plan_id.is_none()
        && rbac::decide(
            s.actor(),
            Menu::RecoveryPlans,
            Action::Create,
            Owner::Groups(&owner),
        )
        .is_ok();
    let cluster = crate::api::clusters::get(
        State(state.clone()),
        s.auth.clone(),
        Path(g.source_cluster_id.clone()),
    )
    .await
    .ok()
    .map(|Json(c)| c);
    // Names of the project's instances (the synced copy); unknown ids show as ids.
    let names: BTreeMap<String, String> = resources(
        &state,
        &s,
        &g.source_cluster_id,
        "instances",
        Some(&g.project_id),
        false,
    )
    .await
    .unwrap_or_default()
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect();
    let project_name = resources(&state, &s, &g.source_cluster_id, "projects", None, false)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.id == g.project_id)
        .map_or_else(|| g.project_id.clone(), |p| p.name);
    let plan = match &g.plan_id {
        Some(p) => crate::api::plans::get(State(state.clone()), s.auth.clone(), Path(p.clone()))
            .await
            .ok()
            .map(|Json(p)| p),
        None => None,
    };
    let gnames = group_names(&state, &s).await;
    let url = format!("/api/v1/protection-groups/{}", g.id);
    let delete_q = lang.f("pgroups.delete_confirm", &[("name", &g.name)]);
    let actions = html! {
        @if may_plan {
            a .button href=(format!("/console/plans/new?group={}", g.id)) { (lang.t("plans.new")) }
        }
        @if may_delete {
            (widgets::api_button(lang.t("pgroups.delete"), ApiCall {
                method: "DELETE", url: &url, confirm: Some(&delete_q), success: "redirect:/console/protection-groups", toast: Some(lang.t("pgroups.deleted")),
            }, "danger"))
        }
    };
    let current: Vec<(String, String)> = g
        .instances
        .iter()
        .map(|i| {
            (
                i.clone(),
                names.get(i).cloned().unwrap_or_else(|| i.clone()),
            )
        })
        .collect();
    let more = if may_update {
        unprotected(&state, &s, &g.source_cluster_id, &g.project_id)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let snapshots = super::snapshots::section(&state, &s, &g).await;
    let history = super::history::section(&state, &s, &g.id).await;
    let body = html! {
        (widgets::page_header(&g.name, actions))
        dl .facts #pgroup-facts {
            dt { (lang.t("pgroups.source_cluster")) } dd {
                a href=(format!("/console/clusters/{}", g.source_cluster_id)) {
                    (cluster.as_ref().map_or(g.source_cluster_id.as_str(), |c| c.name.as_str()))
                }
            }
            dt { (lang.t("pgroups.project")) } dd { (project_name) }
            dt { (lang.t("pgroups.owner_group")) } dd { (gnames.get(&g.owner_group_id).unwrap_or(&g.owner_group_id)) }
            dt { (lang.t("pgroups.rpo")) } dd { (g.rpo_minutes) }
            dt { (lang.t("pgroups.rto")) } dd { (g.rto_minutes) }
            dt { (lang.t("pgroups.interval")) } dd { (interval_text(lang, &g.snapshot_interval)) }
            dt { (lang.t("pgroups.description")) } dd { (g.description) }
            dt { (lang.t("pgroups.plan")) } dd data-role="plan" {
                @match (&g.plan_id, &plan) {
                    (Some(_), Some(p)) => {
                        a href=(format!("/console/plans/{}", p.id)) { (p.name) } " " (state_badge(lang, &p.state))
                        @if !p.reasons.is_empty() {
                            ul data-role="plan-reasons" { @for r in &p.reasons { li { (r) } } }
                        }
                    }
                    (Some(id), None) => a href=(format!("/console/plans/{id}")) { (id) },
                    _ => span .hint { (lang.t("pgroups.no_plan")) },
                }
            }
            dt { (lang.t("pgroups.created_at")) } dd { (widgets::time_text(&g.created_at)) }
        }
        section .card aria-labelledby="instances-title" {
            h2 #instances-title { (lang.t("pgroups.instances")) " (" (g.instances.len()) ")" }
            (widgets::table(lang, "pgroup-instances", lang.t("pgroups.instances"),
                &[lang.t("pgroups.instance_name"), lang.t("pgroups.instance_id")],
                html! {
                    @for (id, name) in &current {
                        tr data-instance=(id) { td { (name) } td { code { (id) } } }
                    }
                }, current.is_empty()))
        }
        (snapshots)
        (history)
        @if may_update {
            form .card #pgroup-edit data-api=(format!("PATCH {url}")) data-arrays="instances" data-success="reload"
                data-toast=(lang.t("pgroups.saved")) novalidate {
                h2 { (lang.t("pgroups.edit")) }
                p .hint { (lang.t("pgroups.edit_hint")) }
                (widgets::text_field("g-name", lang.t("pgroups.name"), "name", &g.name, FieldAttrs {
                    required: true, maxlength: Some(255), hint: Some(lang.t("clusters.name_hint")), ..FieldAttrs::default()
                }))
                div .field {
                    label for="g-description" { (lang.t("pgroups.description")) }
                    textarea #g-description name="description" maxlength="1024" rows="2" { (g.description) }
                }
                (instance_checks(lang, &more, &current))
                (objectives_fields(lang, Some((g.rpo_minutes, g.rto_minutes, &g.snapshot_interval))))
                (widgets::form_error())
                div .form-buttons { button type="submit" { (lang.t("form.save")) } }
            }
        }
    };
    layout::page(&s, &g.name, Nav::ProtectionGroups, body)
}
