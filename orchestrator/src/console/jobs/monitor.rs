//! One job's live monitor (jobs.md "Monitoring"; the manual's figures 23–32): state and
//! progress, the boot-order view (boot groups, each instance's status), per-volume
//! status, the workflow, the task log, "cleanup scheduled at" with extend and clean up
//! now, and a button for exactly each operation the job's state allows (the monitor
//! view's `operations`; destructive ones ask first). The page is rendered from
//! `/api/v1/jobs/{id}/monitor`, then `assets/console/jobs.js` follows
//! `/api/v1/jobs/{id}/stream` and changes it in place.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};

use super::super::assets;
use super::super::i18n::{CATALOGUE, Lang};
use super::super::layout::{self, Nav};
use super::super::session::Session;
use super::super::widgets::{self, ApiCall};
use super::{point_label, result_badge, run_label, state_badge, type_label};
use crate::api::snapshots::SnapshotView;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::dr::job_operations::{self, ALL};
use crate::jobs::view::boot::BootEntry;
use crate::jobs::view::{ItemStatus, MonitorView, TaskView};
use crate::state::AppState;

/// The label of an instance, volume or task status.
pub fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "preparing" => lang.t("jobs.status_preparing"),
        "recovered" => lang.t("jobs.status_recovered"),
        "booting" => lang.t("jobs.status_booting"),
        "success" => lang.t("jobs.status_success"),
        "failed" => lang.t("jobs.status_failed"),
        "pending" => lang.t("jobs.status_pending"),
        "materialising" => lang.t("jobs.status_materialising"),
        "importing" => lang.t("jobs.status_importing"),
        "running" => lang.t("jobs.status_running"),
        "succeeded" => lang.t("jobs.status_succeeded"),
        "skipped" => lang.t("jobs.status_skipped"),
        _ => lang.t("jobs.state_unknown"),
    }
}

fn op_label(lang: Lang, op: &str) -> &'static str {
    match op {
        "run" => lang.t("jobs.op_run"),
        "pause" => lang.t("jobs.op_pause"),
        "cancel" => lang.t("jobs.op_cancel"),
        "retry" => lang.t("jobs.op_retry"),
        "rollback" => lang.t("jobs.op_rollback"),
        "confirm" => lang.t("jobs.op_confirm"),
        "extend-rollback-wait" => lang.t("jobs.op_extend"),
        "retry-rollback" => lang.t("jobs.op_retry_rollback"),
        "ignore-rollback" => lang.t("jobs.op_ignore_rollback"),
        "retry-confirm" => lang.t("jobs.op_retry_confirm"),
        _ => lang.t("jobs.op_cancel_confirm"),
    }
}

fn status_chip(lang: Lang, item: Option<&ItemStatus>) -> Markup {
    let status = item.map_or("preparing", |i| i.status.as_str());
    html! {
        span .status data-role="status" data-value=(status) title=[item.and_then(|i| i.error.as_deref())] {
            (status_label(lang, status))
        }
    }
}

/// The boot-order view: instances left stopped, then each boot group in order.
fn boot_view(lang: Lang, boot: &[BootEntry], instances: &[ItemStatus]) -> Markup {
    let status_of = |id: &str| instances.iter().find(|i| i.id == id);
    let mut groups: Vec<(u32, Vec<&BootEntry>)> = Vec::new();
    for e in boot.iter().filter(|e| e.start_order.is_some()) {
        let n = e.start_order.unwrap_or_default();
        match groups.last_mut() {
            Some((m, list)) if *m == n => list.push(e),
            _ => groups.push((n, vec![e])),
        }
    }
    let stopped: Vec<&BootEntry> = boot.iter().filter(|e| e.start_order.is_none()).collect();
    let entry = |e: &BootEntry| {
        html! {
            li .boot-instance data-instance=(e.id) data-status=(status_of(&e.id).map_or("preparing", |i| i.status.as_str())) {
                span .name { (e.name) }
                (status_chip(lang, status_of(&e.id)))
            }
        }
    };
    html! {
        @if boot.is_empty() {
            p .hint data-role="boot-empty" { (lang.t("jobs.boot_not_frozen")) }
        }
        div .boot-order {
            @if !stopped.is_empty() {
                section .boot-group aria-label=(lang.t("jobs.not_started")) {
                    h3 { (lang.t("jobs.not_started")) }
                    ul { @for e in &stopped { (entry(e)) } }
                }
            }
            @for (i, (_, list)) in groups.iter().enumerate() {
                @let title = lang.f("plans.boot_group", &[("n", &(i + 1).to_string())]);
                section .boot-group aria-label=(title) {
                    h3 { (title) }
                    ul { @for e in list { (entry(e)) } }
                }
            }
        }
        ul .legend aria-label=(lang.t("jobs.legend")) {
            @for st in ["preparing", "recovered", "booting", "success", "failed"] {
                li { span .status data-value=(st) { (status_label(lang, st)) } }
            }
        }
    }
}

fn task_row(lang: Lang, t: &TaskView) -> Markup {
    html! {
        tr data-task=(format!("{}:{}", t.stage, t.index)) {
            td { (if t.stage == "rollback" { lang.t("jobs.stage_rollback") } else { lang.t("jobs.stage_recovery") }) }
            td .num { (t.index + 1) }
            td { (t.description) }
            td { span .status data-value=(t.state) { (status_label(lang, &t.state)) } }
            td { @if let Some(s) = &t.started_at { (widgets::time_text(s)) } }
            td .num { @if let Some(ms) = t.duration_ms { (format!("{:.1} s", ms as f64 / 1000.0)) } }
            td .num { (t.attempts) }
            td { (t.error.as_deref().unwrap_or("")) }
        }
    }
}

/// The retry's recovery point: the job's own (nothing sent), or one of the group's
/// snapshots, by time and id (the API still refuses one the retention has removed:
/// 409 `unknown_snapshot`, shown in the form).
fn retry_point_field(lang: Lang, job_point: &str, snapshots: &[SnapshotView]) -> Markup {
    let own = lang.f(
        "jobs.retry_point_own",
        &[("point", &point_label(lang, job_point))],
    );
    html! {
        div .field {
            label for="j-retry-snapshot" { (lang.t("jobs.retry_snapshot")) }
            select #j-retry-snapshot name="snapshot_id" data-empty="omit" aria-describedby="j-retry-snapshot-hint" {
                option value="" selected { (own) }
                @for sn in snapshots {
                    option value=(sn.id) data-taken-at=(sn.taken_at) { (sn.taken_at) " · " (sn.id) }
                }
            }
            p .hint #j-retry-snapshot-hint { (lang.t("jobs.retry_snapshot_hint")) }
            @if snapshots.is_empty() { p .hint data-role="no-snapshots" { (lang.t("jobs.no_snapshots")) } }
        }
    }
}

fn operation_controls(lang: Lang, m: &MonitorView, snapshots: &[SnapshotView]) -> Markup {
    let id = &m.job.id;
    let shown = |op: &str| m.operations.iter().any(|o| o == op);
    html! {
        div .page-actions #job-operations data-role="operations" {
            @for op in ALL.iter().filter(|o| !matches!(**o, "retry" | "extend-rollback-wait")) {
                @let url = format!("/api/v1/jobs/{id}/operations/{op}");
                @let q = lang.f("jobs.op_confirm_question", &[("op", op_label(lang, op)), ("name", &m.job.name)]);
                @let class = if job_operations::destructive(op) { "danger" } else { "" };
                span data-op=(op) hidden[!shown(op)] {
                    (widgets::api_button(op_label(lang, op), ApiCall {
                        method: "POST", url: &url,
                        confirm: job_operations::destructive(op).then_some(q.as_str()),
                        success: if *op == "ignore-rollback" { "script" } else { "stay" },
                        toast: Some(lang.t("jobs.op_done")),
                    }, class))
                }
            }
        }
        form .card #job-retry data-op="retry" hidden[!shown("retry")]
            data-api=(format!("POST /api/v1/jobs/{id}/operations/retry")) data-arrays="instances"
            data-success="stay" data-toast=(lang.t("jobs.op_done")) novalidate {
            h2 { (lang.t("jobs.op_retry")) }
            fieldset .checks {
                legend { (lang.t("jobs.retry_instances")) }
                @for e in &m.boot {
                    label .check { input type="checkbox" name="instances" value=(e.id) data-type="array"; (e.name) }
                }
            }
            (retry_point_field(lang, &m.job.recovery_point, snapshots))
            (widgets::form_error())
            div .form-buttons { button type="submit" { (lang.t("jobs.op_retry")) } }
        }
    }
}

/// `GET /console/jobs/{id}`.
pub async fn page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let m = match crate::api::jobs::monitor_view(State(state.clone()), s.auth.clone(), Path(id))
        .await
    {
        Ok(Json(m)) => m,
        Err(e) => return layout::error(&s, Nav::RecoveryJobs, e),
    };
    let j = &m.job;
    let owner = [j.owner_group_id.clone()];
    let may = |a| rbac::decide(s.actor(), Menu::RecoveryJobs, a, Owner::Groups(&owner)).is_ok();
    let report_id = j.run_id.clone().unwrap_or_else(|| j.id.clone());
    let delete_q = lang.f("jobs.delete_confirm", &[("name", &j.name)]);
    let api_url = format!("/api/v1/jobs/{}", j.id);
    let plan_name = super::plans(&state, &s)
        .await
        .into_iter()
        .find(|p| p.id == j.plan_id)
        .map_or_else(|| j.plan_id.clone(), |p| p.name);
    // The retry form (shown live once the job's state allows a retry) offers them.
    let snapshots = if may(Action::Update) {
        super::form::snapshots(&state, &s, &j.group_id).await
    } else {
        Vec::new()
    };
    let actions = html! {
        @if may(Action::Update) && j.run_type != "now" {
            a .button.secondary href=(format!("/console/jobs/{}/edit", j.id)) data-role="job-edit" hidden[j.state != "waiting"] { (lang.t("jobs.edit")) }
        }
        @if may(Action::Delete) {
            span data-role="job-delete" hidden[!m.deletable] {
                (widgets::api_button(lang.t("jobs.delete"), ApiCall {
                    method: "DELETE", url: &api_url, confirm: Some(&delete_q),
                    success: "script:/console/jobs", toast: Some(lang.t("jobs.deleted")),
                }, "danger"))
            }
        }
    };
    let strings = CATALOGUE.subset(
        lang,
        &[
            "jobs.state",
            "jobs.result",
            "jobs.status",
            "jobs.stage",
            "jobs.not_started",
            "plans.boot_group",
        ],
    );
    let strings = serde_json::to_string(&strings)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c");
    let finished = j.state == "finished" && j.run_type != "schedule";
    let body = html! {
        (widgets::page_header(&j.name, actions))
        div #job-monitor data-stream=(format!("/api/v1/jobs/{}/stream", j.id)) data-job=(j.id) {
            section .card #job-summary aria-labelledby="summary-title" {
                h2 #summary-title {
                    (type_label(lang, &j.job_type)) " " (state_badge(lang, &j.state)) " " (result_badge(lang, j.result.as_deref()))
                    span .live-dot data-role="job-live" title=(lang.t("jobs.live")) aria-label=(lang.t("jobs.live")) {}
                }
                div .progress-line {
                    label for="job-progress" { (lang.t("jobs.progress")) }
                    progress #job-progress max="100" value=(m.progress.percent) { (m.progress.percent) "%" }
                    span data-role="progress-text" { (m.progress.done) " / " (m.progress.total) " · " (m.progress.percent) "%" }
                }
                dl .facts #job-facts {
                    dt { (lang.t("jobs.plan")) } dd { a href=(format!("/console/plans/{}", j.plan_id)) { (plan_name) } }
                    dt { (lang.t("jobs.run_type")) } dd { (run_label(lang, &j.run_type)) }
                    dt { (lang.t("jobs.point")) } dd { (point_label(lang, &j.recovery_point)) }
                    dt { (lang.t("jobs.next_run_at")) } dd data-field="next_run_at" { (j.next_run_at.as_deref().map(widgets::time_text).unwrap_or_default()) }
                    dt { (lang.t("jobs.triggered_at")) } dd data-field="triggered_at" { (j.triggered_at.as_deref().map(widgets::time_text).unwrap_or_default()) }
                    dt { (lang.t("jobs.started_at")) } dd data-field="started_at" { (j.started_at.as_deref().map(widgets::time_text).unwrap_or_default()) }
                    dt { (lang.t("jobs.completed_at")) } dd data-field="completed_at" { (j.completed_at.as_deref().map(widgets::time_text).unwrap_or_default()) }
                    dt { (lang.t("jobs.reason")) } dd data-field="reason" { (j.reason.as_deref().unwrap_or("")) }
                }
            }
            section .card #job-cleanup aria-labelledby="cleanup-title" hidden[j.cleanup_at.is_none()] {
                h2 #cleanup-title { (lang.t("jobs.cleanup_at")) " " span data-field="cleanup_at" { (j.cleanup_at.as_deref().map(widgets::time_text).unwrap_or_default()) } }
                @if may(Action::Update) {
                    form .inline-form #job-extend data-op="extend-rollback-wait" hidden[!m.operations.iter().any(|o| o == "extend-rollback-wait")]
                        data-api=(format!("POST /api/v1/jobs/{}/operations/extend-rollback-wait", j.id))
                        data-success="stay" data-toast=(lang.t("jobs.op_done")) novalidate {
                        (widgets::text_field("j-extend", lang.t("jobs.extend_minutes"), "minutes", "60", widgets::FieldAttrs {
                            kind: "number", required: true, data_type: Some("number"), ..widgets::FieldAttrs::default()
                        }))
                        button type="submit" { (lang.t("jobs.op_extend")) }
                        (widgets::form_error())
                    }
                }
            }
            @if may(Action::Update) { (operation_controls(lang, &m, &snapshots)) }
            div .notice #job-finished role="status" hidden[!finished] {
                p { (lang.t("jobs.finished_notice")) " "
                    a href=(format!("/console/reports/{report_id}")) data-role="report-link" { (lang.t("jobs.report_link")) } }
            }
            section .card #job-boot aria-labelledby="boot-title" {
                h2 #boot-title { (lang.t("jobs.boot_order")) }
                div data-role="boot" { (boot_view(lang, &m.boot, &m.instances)) }
            }
            section .card aria-labelledby="volumes-title" {
                h2 #volumes-title { (lang.t("jobs.volumes")) }
                (widgets::table(lang, "job-volumes", lang.t("jobs.volumes"), &[lang.t("jobs.volume"), lang.t("jobs.status"), lang.t("jobs.error")], html! {
                    @for v in &m.volumes {
                        tr data-volume=(v.id) { td { code { (v.id) } } td { (status_chip(lang, Some(v))) } td data-role="error" { (v.error.as_deref().unwrap_or("")) } }
                    }
                }, false))
            }
            section .card aria-labelledby="workflow-title" {
                h2 #workflow-title { (lang.t("jobs.workflow")) }
                (widgets::table(lang, "job-tasks", lang.t("jobs.workflow"), &[
                    lang.t("jobs.stage"), "#", lang.t("jobs.task"), lang.t("jobs.status"), lang.t("jobs.started_at"),
                    lang.t("jobs.duration"), lang.t("jobs.attempts"), lang.t("jobs.error"),
                ], html! { @for t in &m.tasks { (task_row(lang, t)) } }, false))
            }
            section .card aria-labelledby="log-title" {
                h2 #log-title { (lang.t("jobs.log")) }
                ol .task-log #job-log aria-live="polite" {
                    @for l in &m.log {
                        li data-level=(l.level) { (widgets::time_text(&l.at)) " " span .message { (l.message) } }
                    }
                }
            }
        }
        dialog #script-dialog aria-labelledby="script-title" {
            h2 #script-title { (lang.t("jobs.script_title")) }
            p { (lang.t("jobs.script_text")) }
            pre .script { code #script-value {} }
            div .dialog-buttons {
                button type="button" .secondary data-role="copy" { (lang.t("dialog.copy")) }
                button type="button" data-role="close" { (lang.t("jobs.script_done")) }
            }
        }
        script type="application/json" #job-strings { (PreEscaped(strings)) }
        script src=(assets::jobs_js_url()) defer {}
    };
    layout::page(&s, &j.name, Nav::RecoveryJobs, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, order: Option<u32>) -> BootEntry {
        BootEntry {
            id: id.into(),
            name: format!("{id}-name"),
            start_order: order,
        }
    }

    #[test]
    fn the_boot_view_groups_instances_in_boot_order_with_their_status() {
        let boot = [
            entry("a", Some(0)),
            entry("b", Some(2)),
            entry("c", Some(2)),
            entry("d", None),
        ];
        let inst = [ItemStatus {
            id: "b".into(),
            status: "booting".into(),
            error: None,
        }];
        let m = boot_view(Lang::En, &boot, &inst).into_string();
        assert_eq!(m.matches("class=\"boot-group\"").count(), 3, "{m}");
        // boot groups are numbered from 1 whatever their stored order
        assert!(
            m.contains("Boot group 2") && !m.contains("Boot group 3"),
            "{m}"
        );
        assert!(
            m.contains(r#"data-instance="b" data-status="booting""#),
            "{m}"
        );
        assert!(
            m.contains(r#"data-instance="a" data-status="preparing""#),
            "{m}"
        );
        let stopped = m.find("d-name").unwrap();
        assert!(
            stopped < m.find("a-name").unwrap(),
            "stopped instances come first"
        );
    }

    fn snapshot(id: &str, taken_at: &str) -> SnapshotView {
        SnapshotView {
            id: id.into(),
            plan_id: "p".into(),
            taken_at: taken_at.into(),
            snapshot_name: format!("holdfast-{id}"),
            volumes: Vec::new(),
            plan: None,
        }
    }

    #[test]
    fn the_retry_offers_the_jobs_point_then_the_groups_snapshots_by_time_and_id() {
        let snaps = [
            snapshot("s2", "2026-11-27T12:00:00Z"),
            snapshot("s1", "2026-11-27T11:00:00Z"),
        ];
        let m = retry_point_field(Lang::En, "latest-snapshot", &snaps).into_string();
        assert!(
            m.contains(r#"<select id="j-retry-snapshot" name="snapshot_id" data-empty="omit""#),
            "{m}"
        );
        // the job's own point first and chosen: nothing is sent for it
        let own = m
            .find(r#"<option value="" selected>The job's own recovery point (Latest snapshot)</option>"#)
            .expect(&m);
        let s2 = m.find("2026-11-27T12:00:00Z · s2").expect(&m);
        let s1 = m.find("2026-11-27T11:00:00Z · s1").expect(&m);
        assert!(own < s2 && s2 < s1, "{m}");
        assert!(m.contains(r#"option value="s2""#), "{m}");
        assert!(!m.contains("no-snapshots"), "{m}");
        let none = retry_point_field(Lang::Ko, "latest-data", &[]).into_string();
        assert!(
            none.contains("data-role=\"no-snapshots\"") && none.contains("작업의 복구데이터 시점"),
            "{none}"
        );
    }

    #[test]
    fn every_status_and_operation_has_a_label() {
        for lang in Lang::ALL {
            for st in [
                "preparing",
                "recovered",
                "booting",
                "success",
                "failed",
                "pending",
                "materialising",
                "importing",
                "running",
                "succeeded",
                "skipped",
            ] {
                assert_ne!(status_label(lang, st), status_label(lang, "?"), "{st}");
            }
            let labels: std::collections::BTreeSet<&str> =
                ALL.iter().map(|o| op_label(lang, o)).collect();
            assert_eq!(labels.len(), ALL.len());
        }
    }
}
