//! Recovery jobs: the list with search, type/state/group filters and pagination, the
//! create and edit form ([`form`]: plan, type, run type, recovery point — only the
//! combinations of jobs.md's table), and the live monitor ([`monitor`]: boot order,
//! instances, volumes, workflow, task log, cleanup time and the operations the job's
//! state allows, updated from `/api/v1/jobs/{id}/stream` by `assets/console/jobs.js`).

pub mod form;
pub mod monitor;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, non_empty};
use crate::api::extract::Params;
use crate::api::jobs::JobQuery;
use crate::api::page::MAX_LIMIT;
use crate::api::plans::{PlanQuery, PlanView};
use crate::api::protection_groups::{ProtectionGroupQuery, ProtectionGroupView};
use crate::domain::rbac::{Action, Menu};
use crate::dr::job_state::StateName;
use crate::state::AppState;

/// Filters of the job list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (job or plan name).
    pub q: Option<String>,
    /// `drill` or `dr`.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Protection group id.
    pub group: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// The label of a job state (the API's names, jobs.md).
pub fn state_label(lang: Lang, state: &str) -> &'static str {
    match state {
        "waiting" => lang.t("jobs.state_waiting"),
        "pending" => lang.t("jobs.state_pending"),
        "running" => lang.t("jobs.state_running"),
        "paused" => lang.t("jobs.state_paused"),
        "canceling" => lang.t("jobs.state_canceling"),
        "completed" => lang.t("jobs.state_completed"),
        "clearing" => lang.t("jobs.state_clearing"),
        "clear-failed" => lang.t("jobs.state_clear_failed"),
        "reporting" => lang.t("jobs.state_reporting"),
        "finished" => lang.t("jobs.state_finished"),
        _ => lang.t("jobs.state_unknown"),
    }
}

/// The label of a job result.
pub fn result_label(lang: Lang, result: &str) -> &'static str {
    match result {
        "success" => lang.t("jobs.result_success"),
        "partial_success" => lang.t("jobs.result_partial_success"),
        "failed" => lang.t("jobs.result_failed"),
        "canceled" => lang.t("jobs.result_canceled"),
        _ => lang.t("jobs.state_unknown"),
    }
}

/// Drill or DR.
pub fn type_label(lang: Lang, job_type: &str) -> &'static str {
    match job_type {
        "dr" => lang.t("jobs.type_dr"),
        _ => lang.t("jobs.type_drill"),
    }
}

/// Now, at a time, on a schedule.
pub fn run_label(lang: Lang, run_type: &str) -> &'static str {
    match run_type {
        "at" => lang.t("jobs.run_at"),
        "schedule" => lang.t("jobs.run_schedule"),
        _ => lang.t("jobs.run_now"),
    }
}

/// A recovery point as the API gives it (`latest-data`, `latest-snapshot`,
/// `snapshot:<id>`).
pub fn point_label(lang: Lang, point: &str) -> String {
    match point {
        "latest-data" => lang.t("jobs.point_latest_data").to_owned(),
        "latest-snapshot" => lang.t("jobs.point_latest_snapshot").to_owned(),
        p => match p.strip_prefix("snapshot:") {
            Some(id) => lang.f("jobs.point_snapshot_id", &[("id", id)]),
            None => p.to_owned(),
        },
    }
}

/// The badge of a state (`data-value` is the API's state; the class its tone).
pub fn state_badge(lang: Lang, state: &str) -> Markup {
    let class = match state {
        "running" | "clearing" | "canceling" | "reporting" => "badge sev-info",
        "paused" | "pending" => "badge sev-warning",
        "clear-failed" => "badge sev-error",
        _ => "badge",
    };
    html! { span class=(class) data-role="job-state" data-value=(state) { (state_label(lang, state)) } }
}

/// The badge of a result (empty before `completed`).
pub fn result_badge(lang: Lang, result: Option<&str>) -> Markup {
    let class = match result {
        Some("success") => "badge sev-info",
        Some("partial_success" | "canceled") => "badge sev-warning",
        Some("failed") => "badge sev-error",
        _ => "badge",
    };
    html! {
        span class=(class) data-role="job-result" data-value=(result.unwrap_or("")) hidden[result.is_none()] {
            (result.map(|r| result_label(lang, r)).unwrap_or(""))
        }
    }
}

/// The plans the user may see (one API page).
pub async fn plans(state: &AppState, s: &Session) -> Vec<PlanView> {
    crate::api::plans::list(
        State(state.clone()),
        s.auth.clone(),
        Params(PlanQuery {
            cluster_id: None,
            state: None,
            q: None,
            limit: Some(MAX_LIMIT),
            offset: None,
        }),
    )
    .await
    .map(|Json(p)| p.items)
    .unwrap_or_default()
}

/// The protection groups the user may see (one API page).
pub async fn groups(state: &AppState, s: &Session) -> Vec<ProtectionGroupView> {
    crate::api::protection_groups::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ProtectionGroupQuery {
            cluster_id: None,
            q: None,
            limit: Some(MAX_LIMIT),
            offset: None,
        }),
    )
    .await
    .map(|Json(p)| p.items)
    .unwrap_or_default()
}

/// `GET /console/jobs`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let job_type = non_empty(q.job_type);
    let job_state = non_empty(q.state);
    let group = non_empty(q.group);
    let page = match crate::api::jobs::list(
        State(state.clone()),
        s.auth.clone(),
        Params(JobQuery {
            group: group.clone(),
            plan: None,
            state: job_state.clone(),
            job_type: job_type.clone(),
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::RecoveryJobs, e),
    };
    let all_groups = groups(&state, &s).await;
    let gnames: BTreeMap<&str, &str> = all_groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect();
    let all_plans = plans(&state, &s).await;
    let pnames: BTreeMap<&str, &str> = all_plans
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let may_update = s.may(Menu::RecoveryJobs, Action::Update);
    let actions = html! {
        @if s.may(Menu::RecoveryJobs, Action::Create) {
            a .button href="/console/jobs/new" { (lang.t("jobs.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("jobs.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
        div .field {
            label for="f-type" { (lang.t("jobs.type")) }
            select #f-type name="type" {
                option value="" { (lang.t("list.any")) }
                @for t in ["drill", "dr"] {
                    option value=(t) selected[job_type.as_deref() == Some(t)] { (type_label(lang, t)) }
                }
            }
        }
        div .field {
            label for="f-state" { (lang.t("jobs.state")) }
            select #f-state name="state" {
                option value="" { (lang.t("list.any")) }
                @for st in StateName::ALL {
                    @let v = st.to_string();
                    option value=(v) selected[job_state.as_deref() == Some(v.as_str())] { (state_label(lang, &v)) }
                }
            }
        }
        div .field {
            label for="f-group" { (lang.t("jobs.group")) }
            select #f-group name="group" {
                option value="" { (lang.t("list.any")) }
                @for g in &all_groups {
                    option value=(g.id) selected[group.as_deref() == Some(g.id.as_str())] { (g.name) }
                }
            }
        }
    };
    let rows = html! {
        @for j in &page.items {
            tr data-job=(j.name) data-job-id=(j.id) {
                td { a href=(format!("/console/jobs/{}", j.id)) { (j.name) } }
                td { a href=(format!("/console/plans/{}", j.plan_id)) { (pnames.get(j.plan_id.as_str()).copied().unwrap_or(&j.plan_id)) } }
                td { (gnames.get(j.group_id.as_str()).copied().unwrap_or(&j.group_id)) }
                td { (type_label(lang, &j.job_type)) }
                td {
                    (run_label(lang, &j.run_type))
                    @if let Some(t) = j.next_run_at.as_deref().or(j.at.as_deref()) {
                        br; span .hint { (widgets::time_text(t)) }
                    }
                }
                td { (point_label(lang, &j.recovery_point)) }
                td { (state_badge(lang, &j.state)) " " (result_badge(lang, j.result.as_deref())) }
                td { (widgets::time_text(j.triggered_at.as_deref().unwrap_or(&j.created_at))) }
                td .row-actions {
                    a href=(format!("/console/jobs/{}", j.id)) { (lang.t("jobs.monitor")) }
                    @if may_update && j.state == "waiting" && j.run_type != "now" {
                        " · " a href=(format!("/console/jobs/{}/edit", j.id)) { (lang.t("jobs.edit")) }
                    }
                }
            }
        }
    };
    let columns = [
        lang.t("jobs.name"),
        lang.t("jobs.plan"),
        lang.t("jobs.group"),
        lang.t("jobs.type"),
        lang.t("jobs.run_type"),
        lang.t("jobs.point"),
        lang.t("jobs.state"),
        lang.t("jobs.triggered_at"),
        lang.t("jobs.actions"),
    ];
    let pairs = [
        ("q", search.unwrap_or_default()),
        ("type", job_type.unwrap_or_default()),
        ("state", job_state.unwrap_or_default()),
        ("group", group.unwrap_or_default()),
    ];
    let title = lang.t("jobs.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/jobs",
            title,
            actions,
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "jobs-table",
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
    layout::page(&s, title, Nav::RecoveryJobs, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_result_has_a_label_in_both_languages() {
        for lang in Lang::ALL {
            for st in StateName::ALL {
                let v = st.to_string();
                assert_ne!(state_label(lang, &v), state_label(lang, "?"), "{v}");
                assert!(
                    state_badge(lang, &v)
                        .into_string()
                        .contains(&format!("data-value=\"{v}\""))
                );
            }
            for r in ["success", "partial_success", "failed", "canceled"] {
                assert_ne!(result_label(lang, r), result_label(lang, "?"), "{r}");
            }
        }
        assert!(
            result_badge(Lang::En, None)
                .into_string()
                .contains("hidden")
        );
    }

    #[test]
    fn recovery_points_read_as_words() {
        assert_eq!(point_label(Lang::En, "latest-data"), "Latest data");
        assert_eq!(point_label(Lang::En, "snapshot:abc"), "Snapshot abc");
        assert_eq!(point_label(Lang::Ko, "latest-snapshot"), "최신 스냅샷");
    }
}
