//! Recovery results (the manual's 복구결과): the list of job reports with search (job
//! name), filters (type, result, protection group, period of the job's end) and
//! pagination, delete of a drill report after a confirmation (DR reports are
//! permanent), and the report itself ([`detail`]).

pub mod detail;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, ApiCall, non_empty};
use crate::api::extract::Params;
use crate::api::page::MAX_LIMIT;
use crate::api::protection_groups::{ProtectionGroupQuery, ProtectionGroupView};
use crate::api::reports::{ReportItem, ReportQuery};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::AppState;

/// Filters of the results list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (job name).
    pub q: Option<String>,
    /// `drill` or `dr`.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// Result.
    pub result: Option<String>,
    /// Protection group id.
    pub group: Option<String>,
    /// First day of the period (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Last day of the period (`YYYY-MM-DD`, UTC, inclusive).
    pub to: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// The job types, as the API names them.
pub const JOB_TYPES: [&str; 2] = ["drill", "dr"];
/// The results, as the API names them.
pub const RESULTS: [&str; 4] = ["success", "partial_success", "failed", "canceled"];

/// The label of a job type.
pub fn type_label(lang: Lang, job_type: &str) -> &'static str {
    match job_type {
        "drill" => lang.t("reports.type_drill"),
        "dr" => lang.t("reports.type_dr"),
        _ => lang.t("reports.unknown"),
    }
}

/// The label of a result.
pub fn result_label(lang: Lang, result: &str) -> &'static str {
    match result {
        "success" => lang.t("reports.result_success"),
        "partial_success" => lang.t("reports.result_partial_success"),
        "failed" => lang.t("reports.result_failed"),
        "canceled" => lang.t("reports.result_canceled"),
        _ => lang.t("reports.unknown"),
    }
}

/// A result badge (`data-value` is the API's result).
pub fn result_badge(lang: Lang, result: &str) -> Markup {
    let class = match result {
        "success" => "badge sev-info",
        "partial_success" => "badge sev-warning",
        "failed" => "badge sev-error",
        _ => "badge",
    };
    html! { span class=(class) data-role="result" data-value=(result) { (result_label(lang, result)) } }
}

/// The API's period bounds for the form's days: `from` at 00:00 UTC, and the day after
/// `to` at 00:00 UTC (the API's `until` is exclusive). A value that is not a date is
/// passed on as it is, for the API to refuse in its own words.
pub fn period(from: Option<&str>, to: Option<&str>) -> (Option<String>, Option<String>) {
    let start = |d: &str| match d.parse::<jiff::civil::Date>() {
        Ok(d) => format!("{d}T00:00:00Z"),
        Err(_) => d.to_owned(),
    };
    let end = |d: &str| match d.parse::<jiff::civil::Date>().map(|d| d.tomorrow()) {
        Ok(Ok(next)) => format!("{next}T00:00:00Z"),
        _ => d.to_owned(),
    };
    (from.map(start), to.map(end))
}

/// The protection groups the user may see (first `MAX_LIMIT`).
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

/// May the user delete this report? Only drill reports, by their group's deleters.
pub fn may_delete(s: &Session, job_type: &str, owner_group_id: &str) -> bool {
    job_type == "drill"
        && rbac::decide(
            s.actor(),
            Menu::RecoveryResults,
            Action::Delete,
            Owner::Groups(&[owner_group_id.to_owned()]),
        )
        .is_ok()
}

/// The delete button of a drill report (after a confirmation).
pub fn delete_button(lang: Lang, id: &str, job_name: &str, success: &str) -> Markup {
    let url = format!("/api/v1/reports/{id}");
    let question = lang.f("reports.delete_confirm", &[("name", job_name)]);
    widgets::api_button(
        lang.t("reports.delete"),
        ApiCall {
            method: "DELETE",
            url: &url,
            confirm: Some(&question),
            success,
            toast: Some(lang.t("reports.deleted")),
        },
        "danger",
    )
}

/// `GET /console/reports`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let job_type = non_empty(q.job_type);
    let result = non_empty(q.result);
    let group = non_empty(q.group);
    let from = non_empty(q.from);
    let to = non_empty(q.to);
    let (since, until) = period(from.as_deref(), to.as_deref());
    let page = match crate::api::reports::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ReportQuery {
            job_type: job_type.clone(),
            result: result.clone(),
            group: group.clone(),
            q: search.clone(),
            since,
            until,
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::RecoveryResults, e),
    };
    let all_groups = groups(&state, &s).await;
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("reports.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
        div .field {
            label for="f-type" { (lang.t("reports.type")) }
            select #f-type name="type" {
                option value="" { (lang.t("reports.any_type")) }
                @for t in JOB_TYPES {
                    option value=(t) selected[job_type.as_deref() == Some(t)] { (type_label(lang, t)) }
                }
            }
        }
        div .field {
            label for="f-result" { (lang.t("reports.result")) }
            select #f-result name="result" {
                option value="" { (lang.t("reports.any_result")) }
                @for r in RESULTS {
                    option value=(r) selected[result.as_deref() == Some(r)] { (result_label(lang, r)) }
                }
            }
        }
        div .field {
            label for="f-group" { (lang.t("reports.group")) }
            select #f-group name="group" {
                option value="" { (lang.t("reports.any_group")) }
                @for g in &all_groups {
                    option value=(g.id) selected[group.as_deref() == Some(g.id.as_str())] { (g.name) }
                }
            }
        }
        div .field {
            label for="f-from" { (lang.t("reports.from")) }
            input #f-from type="date" name="from" value=[from.as_deref()];
        }
        div .field {
            label for="f-to" { (lang.t("reports.to")) }
            input #f-to type="date" name="to" value=[to.as_deref()];
        }
    };
    let rows = html! {
        @for r in &page.items { (row(lang, &s, r)) }
    };
    let columns = [
        lang.t("reports.job"),
        lang.t("reports.type"),
        lang.t("reports.result"),
        lang.t("reports.group"),
        lang.t("reports.started_at"),
        lang.t("reports.finished_at"),
        lang.t("reports.actions"),
    ];
    let pairs = [
        ("q", search.unwrap_or_default()),
        ("type", job_type.unwrap_or_default()),
        ("result", result.unwrap_or_default()),
        ("group", group.unwrap_or_default()),
        ("from", from.unwrap_or_default()),
        ("to", to.unwrap_or_default()),
    ];
    let title = lang.t("reports.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/reports",
            title,
            intro: html! { p .hint { (lang.t("reports.intro")) } },
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "reports-table",
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
    layout::page(&s, title, Nav::RecoveryResults, body)
}

fn row(lang: Lang, s: &Session, r: &ReportItem) -> Markup {
    let group = if r.group_name.is_empty() {
        r.group_id.as_str()
    } else {
        r.group_name.as_str()
    };
    html! {
        tr data-report=(r.id) data-job=(r.job_name) {
            td { a href=(format!("/console/reports/{}", r.id)) { (r.job_name) } }
            td { (type_label(lang, &r.job_type)) }
            td { (result_badge(lang, &r.result)) }
            td { (group) }
            td { @match &r.started_at { Some(t) => (widgets::time_text(t)), None => span .hint { "—" } } }
            td { (widgets::time_text(&r.finished_at)) }
            td {
                @if may_delete(s, &r.job_type, &r.owner_group_id) {
                    (delete_button(lang, &r.id, &r.job_name, "reload"))
                } @else if r.job_type != "drill" {
                    span .hint { (lang.t("reports.permanent")) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_covers_whole_utc_days() {
        assert_eq!(
            period(Some("2026-02-28"), Some("2026-02-28")),
            (
                Some("2026-02-28T00:00:00Z".to_owned()),
                Some("2026-03-01T00:00:00Z".to_owned())
            )
        );
        assert_eq!(period(None, None), (None, None));
        // Not a date: the API refuses it in its own words.
        assert_eq!(
            period(Some("yesterday"), None).0.as_deref(),
            Some("yesterday")
        );
    }

    #[test]
    fn every_type_and_result_has_a_label_in_both_languages() {
        for lang in Lang::ALL {
            for t in JOB_TYPES {
                assert_ne!(type_label(lang, t), type_label(lang, "?"), "{t}");
            }
            for r in RESULTS {
                assert_ne!(result_label(lang, r), result_label(lang, "?"), "{r}");
                let b = result_badge(lang, r).into_string();
                assert!(b.contains(&format!("data-value=\"{r}\"")), "{b}");
            }
        }
    }
}
