//! One report (the manual's 복구결과 상세보기): the summary (type, result and how the job
//! ended, plan, group, clusters, recovery point and its time, trigger/start/end,
//! achieved RTO and RPO against the group's objectives), the per-instance and
//! per-volume results, the task timeline and the task log; the export (JSON or HTML
//! through `/api/v1/reports/{id}/export`) and, for a drill report, delete.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::super::i18n::Lang;
use super::super::layout::{self, Nav};
use super::super::protection_groups::resources;
use super::super::session::Session;
use super::super::widgets;
use super::{delete_button, may_delete, result_badge, type_label};
use crate::jobs::report::{NamedRef, ReportSummary};
use crate::jobs::view::{ItemStatus, LogView, TaskView};
use crate::state::AppState;

/// A duration for people: `12.3 s`, `4 min 5 s`, `2 h 7 min`.
pub fn duration_text(lang: Lang, ms: i64) -> String {
    let ms = ms.max(0);
    let secs = ms / 1000;
    if secs < 60 {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        lang.f("reports.secs", &[("s", &s)])
    } else if secs < 3600 {
        lang.f(
            "reports.mins",
            &[
                ("m", &(secs / 60).to_string()),
                ("s", &(secs % 60).to_string()),
            ],
        )
    } else {
        lang.f(
            "reports.hours",
            &[
                ("h", &(secs / 3600).to_string()),
                ("m", &(secs / 60 % 60).to_string()),
            ],
        )
    }
}

/// An achieved figure against its objective (minutes), when the group still says.
fn figure(lang: Lang, achieved: Option<i64>, objective_minutes: Option<i64>) -> Markup {
    html! {
        @match achieved {
            None => span .hint { (lang.t("reports.not_measured")) },
            Some(ms) => {
                (duration_text(lang, ms))
                @if let Some(min) = objective_minutes {
                    " "
                    @if ms <= min.saturating_mul(60_000) {
                        span .badge.sev-info data-role="objective" data-value="met" {
                            (lang.f("reports.within", &[("n", &min.to_string())]))
                        }
                    } @else {
                        span .badge.sev-warning data-role="objective" data-value="missed" {
                            (lang.f("reports.over", &[("n", &min.to_string())]))
                        }
                    }
                }
            }
        }
    }
}

fn ending_label(lang: Lang, ending: &str) -> &'static str {
    match ending {
        "rolled_back" => lang.t("reports.ending_rolled_back"),
        "confirmed" => lang.t("reports.ending_confirmed"),
        "cleanup_ignored" => lang.t("reports.ending_cleanup_ignored"),
        "not_started" => lang.t("reports.ending_not_started"),
        _ => lang.t("reports.unknown"),
    }
}

fn opt_time(t: &Option<String>) -> Markup {
    html! { @match t { Some(t) => (widgets::time_text(t)), None => span .hint { "—" } } }
}

fn named(r: &NamedRef) -> &str {
    if r.name.is_empty() { &r.id } else { &r.name }
}

/// `GET /console/reports/{id}`.
pub async fn page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let report =
        match crate::api::reports::get(State(state.clone()), s.auth.clone(), Path(id)).await {
            Ok(Json(r)) => r,
            Err(e) => return layout::error(&s, Nav::RecoveryResults, e),
        };
    let sum = &report.summary;
    // The group as it is now (its objectives; gone after a confirmed DR).
    let group = crate::api::protection_groups::get(
        State(state.clone()),
        s.auth.clone(),
        Path(sum.group.id.clone()),
    )
    .await
    .ok()
    .map(|Json(g)| g);
    // Names of the source's instances and volumes (ids when unknown).
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    if !sum.source_cluster.id.is_empty() {
        let project = group.as_ref().map(|g| g.project_id.as_str());
        for kind in ["instances", "volumes"] {
            for r in resources(&state, &s, &sum.source_cluster.id, kind, project, false)
                .await
                .unwrap_or_default()
            {
                names.insert(r.id, r.name);
            }
        }
    }
    let owner = crate::api::reports::owner_group(&state, &s.auth, &report.id)
        .await
        .ok();
    let export = |format: &str| format!("/api/v1/reports/{}/export?format={format}", report.id);
    let actions = html! {
        a .button.secondary href=(export("json")) download data-role="export-json" { (lang.t("reports.export_json")) }
        a .button.secondary href=(export("html")) download data-role="export-html" { (lang.t("reports.export_html")) }
        @if owner.as_deref().is_some_and(|o| may_delete(&s, &sum.job_type, o)) {
            (delete_button(lang, &report.id, &sum.job_name, "redirect:/console/reports"))
        }
    };
    let objectives = group.as_ref().map(|g| (g.rto_minutes, g.rpo_minutes));
    let body = html! {
        (widgets::page_header(&sum.job_name, actions))
        p .hint #export-hint { (lang.t("reports.export_hint")) }
        (summary(lang, sum, objectives))
        (items(lang, "report-instances", lang.t("reports.instances"), "instance", &report.detail.instances, &names))
        (items(lang, "report-volumes", lang.t("reports.volumes"), "volume", &report.detail.volumes, &names))
        (timeline(lang, &report.detail.tasks))
        (log(lang, &report.detail.log))
    };
    layout::page(&s, &sum.job_name, Nav::RecoveryResults, body)
}

fn summary(lang: Lang, sum: &ReportSummary, objectives: Option<(i64, i64)>) -> Markup {
    let point = match (&sum.resolved_point, &sum.recovery_point_at) {
        (Some(p), Some(at)) => html! { code { (p) } " · " (widgets::time_text(at)) },
        (Some(p), None) => html! { code { (p) } },
        _ => html! { span .hint { (lang.t("reports.no_point")) } },
    };
    html! {
        dl .facts #report-summary {
            dt { (lang.t("reports.type")) } dd { (type_label(lang, &sum.job_type)) }
            dt { (lang.t("reports.result")) } dd {
                (result_badge(lang, &sum.result)) " " (ending_label(lang, &sum.ending))
            }
            @if let Some(reason) = &sum.reason {
                dt { (lang.t("reports.reason")) } dd data-role="reason" { (reason) }
            }
            dt { (lang.t("reports.plan")) } dd { a href=(format!("/console/plans/{}", sum.plan.id)) { (named(&sum.plan)) } }
            dt { (lang.t("reports.group")) } dd { a href=(format!("/console/protection-groups/{}", sum.group.id)) { (named(&sum.group)) } }
            dt { (lang.t("reports.source_cluster")) } dd { (named(&sum.source_cluster)) }
            dt { (lang.t("reports.target_cluster")) } dd { (named(&sum.target_cluster)) }
            dt { (lang.t("reports.recovery_point")) } dd { code { (sum.recovery_point) } }
            dt { (lang.t("reports.resolved_point")) } dd { (point) }
            dt { (lang.t("reports.triggered_at")) } dd { (opt_time(&sum.triggered_at)) }
            dt { (lang.t("reports.started_at")) } dd { (opt_time(&sum.started_at)) }
            dt { (lang.t("reports.completed_at")) } dd { (opt_time(&sum.completed_at)) }
            dt { (lang.t("reports.finished_at")) } dd { (widgets::time_text(&sum.finished_at)) }
            dt { (lang.t("reports.rto")) } dd data-role="rto" { (figure(lang, sum.rto_ms, objectives.map(|o| o.0))) }
            dt { (lang.t("reports.rpo")) } dd data-role="rpo" { (figure(lang, sum.rpo_ms, objectives.map(|o| o.1))) }
        }
    }
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "success" | "recovered" | "succeeded" => "badge sev-info",
        "failed" => "badge sev-error",
        "skipped" => "badge sev-warning",
        _ => "badge",
    };
    html! { span class=(class) data-role="status" data-value=(status) { (status) } }
}

fn items(
    lang: Lang,
    id: &str,
    title: &str,
    kind: &str,
    list: &[ItemStatus],
    names: &BTreeMap<String, String>,
) -> Markup {
    let title_id = format!("{id}-title");
    html! {
        section .card aria-labelledby=(title_id) {
            h2 #(title_id) { (title) " (" (list.len()) ")" }
            (widgets::table(lang, id, title,
                &[lang.t("reports.name"), lang.t("reports.id"), lang.t("reports.status"), lang.t("reports.error")],
                html! {
                    @for i in list {
                        tr data-item=(kind) data-id=(i.id) {
                            td { (names.get(&i.id).map_or(i.id.as_str(), String::as_str)) }
                            td { code { (i.id) } }
                            td { (status_badge(&i.status)) }
                            td { (i.error.as_deref().unwrap_or("")) }
                        }
                    }
                }, list.is_empty()))
        }
    }
}

fn timeline(lang: Lang, tasks: &[TaskView]) -> Markup {
    html! {
        section .card aria-labelledby="report-tasks-title" {
            h2 #report-tasks-title { (lang.t("reports.timeline")) }
            (widgets::table(lang, "report-tasks", lang.t("reports.timeline"),
                &[lang.t("reports.stage"), lang.t("reports.task"), lang.t("reports.status"),
                  lang.t("reports.started_at"), lang.t("reports.duration"), lang.t("reports.attempts"),
                  lang.t("reports.error")],
                html! {
                    @for t in tasks {
                        tr data-stage=(t.stage) {
                            td { (if t.stage == "rollback" { lang.t("reports.stage_rollback") } else { lang.t("reports.stage_recovery") }) }
                            td { (t.description) }
                            td { (status_badge(&t.state)) }
                            td { (opt_time(&t.started_at)) }
                            td { @match t.duration_ms { Some(ms) => (duration_text(lang, ms)), None => span .hint { "—" } } }
                            td { (t.attempts) }
                            td { (t.error.as_deref().unwrap_or("")) }
                        }
                    }
                }, tasks.is_empty()))
        }
    }
}

fn log(lang: Lang, lines: &[LogView]) -> Markup {
    html! {
        section .card aria-labelledby="report-log-title" {
            h2 #report-log-title { (lang.t("reports.log")) " (" (lines.len()) ")" }
            @if lines.is_empty() {
                p .hint { (lang.t("list.empty")) }
            } @else {
                ol .report-log #report-log {
                    @for l in lines {
                        li data-level=(l.level) {
                            (widgets::time_text(&l.at)) " "
                            span class=(format!("badge {}", match l.level.as_str() {
                                "error" => "sev-error", "warn" => "sev-warning", _ => "sev-info",
                            })) { (l.level) }
                            " " (l.message)
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(Lang::En, 12_345), "12.3 s");
        assert_eq!(duration_text(Lang::En, 245_000), "4 min 5 s");
        assert_eq!(duration_text(Lang::En, 7_620_000), "2 h 7 min");
        assert_eq!(duration_text(Lang::Ko, 245_000), "4분 5초");
        assert_eq!(duration_text(Lang::En, -5), "0.0 s");
    }

    #[test]
    fn a_figure_is_compared_with_its_objective() {
        let met = figure(Lang::En, Some(59_000), Some(1)).into_string();
        assert!(met.contains("data-value=\"met\""), "{met}");
        let missed = figure(Lang::En, Some(61_000), Some(1)).into_string();
        assert!(missed.contains("data-value=\"missed\""), "{missed}");
        let alone = figure(Lang::En, Some(61_000), None).into_string();
        assert!(!alone.contains("objective"), "{alone}");
        assert!(
            figure(Lang::Ko, None, Some(1))
                .into_string()
                .contains("측정")
        );
    }
}
