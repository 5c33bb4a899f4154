//! A protection group's history on its page (jobs.md, "Results": every job, with type,
//! times, result): the group's jobs still in the job list, and its latest finished
//! jobs linked to their reports, with a link to all of them in the results list.

use axum::Json;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::super::reports::{result_badge, type_label};
use super::super::session::Session;
use super::super::widgets::{self, url_with};
use crate::api::extract::Params;
use crate::api::reports::HistoryQuery;
use crate::domain::rbac::{Action, Menu};
use crate::state::AppState;

/// Finished jobs shown on the group page.
const SHOWN: i64 = 10;

/// The history section of the group page (nothing for users who may not read results).
pub async fn section(state: &AppState, s: &Session, group_id: &str) -> Markup {
    let lang = s.lang;
    if !s.may(Menu::RecoveryResults, Action::Read) {
        return html! {};
    }
    let history = match crate::api::reports::history(
        State(state.clone()),
        s.auth.clone(),
        Path(group_id.to_owned()),
        Params(HistoryQuery {
            limit: Some(SHOWN),
            offset: None,
        }),
    )
    .await
    {
        Ok(Json(h)) => h,
        Err(e) => {
            return html! {
                section .card #pgroup-history aria-labelledby="history-title" {
                    h2 #history-title { (lang.t("history.title")) }
                    div .alert.error role="alert" { p { (e.message) } }
                }
            };
        }
    };
    let all = url_with("/console/reports", &[("group", group_id.to_owned())]);
    html! {
        section .card #pgroup-history aria-labelledby="history-title" {
            div .section-header {
                h2 #history-title { (lang.t("history.title")) }
                a href=(all) data-role="all-results" {
                    (lang.f("history.all", &[("total", &history.finished.total.to_string())]))
                }
            }
            @if !history.jobs.is_empty() {
                h3 { (lang.t("history.current")) }
                (widgets::table(lang, "history-jobs", lang.t("history.current"),
                    &[lang.t("reports.job"), lang.t("reports.type"), lang.t("history.state"), lang.t("reports.triggered_at")],
                    html! {
                        @for j in &history.jobs {
                            tr data-job=(j.name) {
                                td { a href=(format!("/console/jobs/{}", j.id)) { (j.name) } }
                                td { (type_label(lang, &j.job_type)) }
                                td { span .badge { (j.state) } }
                                td { @match &j.triggered_at { Some(t) => (widgets::time_text(t)), None => span .hint { "—" } } }
                            }
                        }
                    }, false))
            }
            h3 { (lang.t("history.finished")) }
            (widgets::table(lang, "history-reports", lang.t("history.finished"),
                &[lang.t("reports.job"), lang.t("reports.type"), lang.t("reports.result"), lang.t("reports.finished_at")],
                html! {
                    @for r in &history.finished.items {
                        tr data-report=(r.id) {
                            td { a href=(format!("/console/reports/{}", r.id)) { (r.job_name) } }
                            td { (type_label(lang, &r.job_type)) }
                            td { (result_badge(lang, &r.result)) }
                            td { (widgets::time_text(&r.finished_at)) }
                        }
                    }
                }, history.finished.items.is_empty()))
        }
    }
}
