//! One plan: its state evaluated now with every reason (`/api/v1/plans/{id}/state`),
//! its group and clusters, the mapping and boot plan as saved, and the owner's
//! actions: edit ([`super::form::edit`]) and delete (refused by the API while a job of
//! the plan exists).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::super::layout::{self, Nav};
use super::super::protection_groups::{cluster_names, clusters, resources};
use super::super::session::Session;
use super::super::widgets::{self, ApiCall};
use super::state_badge;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::protection::mapping::{FloatingIpChoice, NetworkChoice};
use crate::state::AppState;

/// `GET /console/plans/{id}`.
pub async fn page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    // The state first: evaluating it stores it, so the plan read after shows it too.
    let st =
        match crate::api::plans::plan_state(State(state.clone()), s.auth.clone(), Path(id.clone()))
            .await
        {
            Ok(Json(st)) => st,
            Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
        };
    let p = match crate::api::plans::get(State(state.clone()), s.auth.clone(), Path(id)).await {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    let g = crate::api::protection_groups::get(
        State(state.clone()),
        s.auth.clone(),
        Path(p.group_id.clone()),
    )
    .await
    .ok()
    .map(|Json(g)| g);
    let cnames = cluster_names(&clusters(&state, &s).await.unwrap_or_default());
    let owner: Vec<String> = g.iter().map(|g| g.owner_group_id.clone()).collect();
    let may = |a| rbac::decide(s.actor(), Menu::RecoveryPlans, a, Owner::Groups(&owner)).is_ok();
    let url = format!("/api/v1/plans/{}", p.id);
    let delete_q = lang.f("plans.delete_confirm", &[("name", &p.name)]);
    let actions = html! {
        @if may(Action::Update) {
            a .button href=(format!("/console/plans/{}/edit", p.id)) { (lang.t("plans.edit")) }
        }
        @if may(Action::Delete) {
            (widgets::api_button(lang.t("plans.delete"), ApiCall {
                method: "DELETE", url: &url, confirm: Some(&delete_q), success: "redirect:/console/plans", toast: Some(lang.t("plans.deleted")),
            }, "danger"))
        }
    };
    let m = &p.mapping;
    // Source names of the mapped instances and networks (ids when unknown).
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    if let Some(g) = &g {
        let project = Some(g.project_id.as_str());
        for (kind, of) in [("instances", project), ("networks", None)] {
            for r in resources(&state, &s, &g.source_cluster_id, kind, of, false)
                .await
                .unwrap_or_default()
            {
                names.insert(r.id, r.name);
            }
        }
    }
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let body = html! {
        (widgets::page_header(&p.name, actions))
        section .card #plan-state aria-labelledby="state-title" {
            h2 #state-title { (lang.t("plans.state")) " " (state_badge(lang, &st.state)) }
            p .hint {
                @if st.jobs_allowed { (lang.t("plans.jobs_allowed")) } @else { (lang.t("plans.jobs_not_allowed")) }
                " · " (lang.t("plans.state_changed_at")) " " (widgets::time_text(&st.state_changed_at))
            }
            @if st.reasons.is_empty() {
                p data-role="no-reasons" { (lang.t("plans.no_reasons")) }
            } @else {
                ul data-role="plan-reasons" { @for r in &st.reasons { li { (r) } } }
            }
        }
        dl .facts #plan-facts {
            dt { (lang.t("plans.group")) } dd {
                a href=(format!("/console/protection-groups/{}", p.group_id)) { (g.as_ref().map_or(p.group_id.as_str(), |g| g.name.as_str())) }
            }
            @if let Some(g) = &g {
                dt { (lang.t("plans.source_cluster")) } dd { (cnames.get(&g.source_cluster_id).unwrap_or(&g.source_cluster_id)) }
            }
            dt { (lang.t("plans.target_cluster")) } dd {
                a href=(format!("/console/clusters/{}", p.target_cluster_id)) { (cnames.get(&p.target_cluster_id).unwrap_or(&p.target_cluster_id)) }
            }
            dt { (lang.t("plans.retention")) } dd { (p.retention) }
            dt { (lang.t("plans.project_name")) } dd { (m.project_name) }
            dt { (lang.t("plans.zone")) } dd { (m.availability_zone) }
            dt { (lang.t("plans.external_network")) } dd { (m.external_network.as_deref().unwrap_or(lang.t("plans.external_only"))) }
            dt { (lang.t("plans.drill_external")) } dd { (if m.drill_external_access { lang.t("plans.yes") } else { lang.t("plans.no") }) }
            dt { (lang.t("plans.volume_types")) } dd {
                ul { @for (a, b) in &m.volume_types { li { (a) " → " (b) } } }
            }
            dt { (lang.t("plans.networks")) } dd {
                ul { @for (a, c) in &m.networks { li { (name_of(a)) " → " @match c {
                    NetworkChoice::Create => (lang.t("plans.network_create")),
                    NetworkChoice::Existing(n) => code { (n) },
                } } } }
            }
            dt { (lang.t("plans.floating_ips")) } dd {
                ul { @for (a, c) in &m.floating_ips { li { (a) " → " (match c {
                    FloatingIpChoice::Keep => lang.t("plans.fip_keep"),
                    FloatingIpChoice::Another => lang.t("plans.fip_another"),
                    FloatingIpChoice::None => lang.t("plans.fip_none"),
                }) } } }
            }
            dt { (lang.t("plans.volumes")) } dd { (m.volumes.len()) }
            dt { (lang.t("plans.created_at")) } dd { (widgets::time_text(&p.created_at)) }
        }
        section .card aria-labelledby="boot-title" {
            h2 #boot-title { (lang.t("plans.boot_and_nodes")) }
            (widgets::table(lang, "plan-boot", lang.t("plans.boot_and_nodes"),
                &[lang.t("plans.instance"), lang.t("plans.boot"), lang.t("plans.node"), lang.t("plans.flavor")],
                html! {
                    @for (iid, c) in &m.instances {
                        tr data-instance=(iid) {
                            td { (name_of(iid)) }
                            td { @match c.start_order {
                                Some(n) => (lang.f("plans.boot_group", &[("n", &(n + 1).to_string())])),
                                None => (lang.t("plans.stay_stopped")),
                            } }
                            td { (c.node.as_deref().unwrap_or(lang.t("plans.any_node"))) }
                            td { (c.flavor.as_deref().unwrap_or(lang.t("plans.same_flavor"))) }
                        }
                    }
                }, m.instances.is_empty()))
        }
    };
    layout::page(&s, &p.name, Nav::RecoveryPlans, body)
}
