//! Recovery plans: list with state badges and reasons (search, state and cluster
//! filters, pagination), create and edit through one form ([`form`]: info, boot plan,
//! resource mapping, node mapping, with choices from the synced target cluster), and
//! the detail with the state's every reason and delete ([`detail`]).

pub mod detail;
pub mod form;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::protection_groups::{cluster_names, clusters};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, non_empty};
use crate::api::extract::Params;
use crate::api::plans::PlanQuery;
use crate::domain::rbac::{Action, Menu};
use crate::dr::plan_state::PlanState;
use crate::state::AppState;

/// Filters of the plan list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (name).
    pub q: Option<String>,
    /// Source or target cluster id.
    pub cluster: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// The label of a plan state.
pub fn state_label(lang: Lang, state: &str) -> &'static str {
    match state {
        "Normal" => lang.t("plans.state_normal"),
        "Prepare" => lang.t("plans.state_prepare"),
        "Warning" => lang.t("plans.state_warning"),
        "Critical" => lang.t("plans.state_critical"),
        "Emergency" => lang.t("plans.state_emergency"),
        _ => lang.t("plans.state_unknown"),
    }
}

/// A plan's state badge (`data-value` is the API's state).
pub fn state_badge(lang: Lang, state: &str) -> Markup {
    let class = match state {
        "Normal" => "badge sev-info",
        "Warning" => "badge sev-warning",
        "Critical" => "badge sev-critical",
        "Emergency" => "badge sev-error",
        _ => "badge",
    };
    html! { span class=(class) data-role="plan-state" data-value=(state) { (state_label(lang, state)) } }
}

/// `GET /console/plans`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let cluster = non_empty(q.cluster);
    let plan_state = non_empty(q.state);
    let page = match crate::api::plans::list(
        State(state.clone()),
        s.auth.clone(),
        Params(PlanQuery {
            cluster_id: cluster.clone(),
            state: plan_state.clone(),
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    let all_clusters = clusters(&state, &s).await.unwrap_or_default();
    let cnames = cluster_names(&all_clusters);
    let actions = html! {
        @if s.may(Menu::RecoveryPlans, Action::Create) {
            a .button href="/console/plans/new" { (lang.t("plans.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("plans.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
        div .field {
            label for="f-state" { (lang.t("plans.state")) }
            select #f-state name="state" {
                option value="" { (lang.t("plans.any_state")) }
                @for st in PlanState::ALL {
                    @let v = st.to_string();
                    option value=(v) selected[plan_state.as_deref() == Some(v.as_str())] { (state_label(lang, &v)) }
                }
            }
        }
        div .field {
            label for="f-cluster" { (lang.t("plans.cluster")) }
            select #f-cluster name="cluster" {
                option value="" { (lang.t("pgroups.any_cluster")) }
                @for c in &all_clusters {
                    option value=(c.id) selected[cluster.as_deref() == Some(c.id.as_str())] { (c.name) }
                }
            }
        }
    };
    let rows = html! {
        @for p in &page.items {
            tr data-plan=(p.name) {
                td { a href=(format!("/console/plans/{}", p.id)) { (p.name) } }
                td { a href=(format!("/console/protection-groups/{}", p.group_id)) { (lang.t("plans.group_open")) } }
                td { (cnames.get(&p.target_cluster_id).unwrap_or(&p.target_cluster_id)) }
                td { (state_badge(lang, &p.state)) }
                td {
                    @if p.reasons.is_empty() {
                        span .hint { "—" }
                    } @else {
                        ul .reasons data-role="plan-reasons" { @for r in &p.reasons { li { (r) } } }
                    }
                }
                td { (widgets::time_text(&p.state_changed_at)) }
            }
        }
    };
    let columns = [
        lang.t("plans.name"),
        lang.t("plans.group"),
        lang.t("plans.target_cluster"),
        lang.t("plans.state"),
        lang.t("plans.reasons"),
        lang.t("plans.state_changed_at"),
    ];
    let pairs = [
        ("q", search.unwrap_or_default()),
        ("state", plan_state.unwrap_or_default()),
        ("cluster", cluster.unwrap_or_default()),
    ];
    let title = lang.t("plans.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/plans",
            title,
            actions,
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "plans-table",
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
    layout::page(&s, title, Nav::RecoveryPlans, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_badge_in_both_languages() {
        for st in PlanState::ALL {
            for lang in Lang::ALL {
                let v = st.to_string();
                let b = state_badge(lang, &v).into_string();
                assert!(b.contains(&format!("data-value=\"{v}\"")), "{b}");
                assert_ne!(state_label(lang, &v), state_label(lang, "?"), "{v}");
            }
        }
        assert!(
            state_badge(Lang::Ko, "Critical")
                .into_string()
                .contains("sev-critical")
        );
    }
}
