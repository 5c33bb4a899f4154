//! Node agents: list (reachable or not, last heartbeat, problems) and detail (health:
//! load, memory, disk per storage path, workers, tracker and kernel module; per-volume
//! replication state and lag against the RPO), read from `/api/v1/agents`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets;
use crate::api::agents::AgentQuery;
use crate::api::extract::Params;
use crate::state::AppState;

/// Paging of the agent list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

fn state_badge(lang: Lang, state: &str) -> Markup {
    if state == "online" {
        html! { span .badge.sev-info data-role="agent-state" { (lang.t("agents.reachable")) } }
    } else {
        html! { span .badge.sev-error data-role="agent-state" { (lang.t("agents.unreachable")) } }
    }
}

/// Bytes in binary units (`1.5 GiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Milliseconds as `1h 2m 3s` (or `850 ms`).
pub fn duration(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

fn problems(lang: Lang, list: &[String]) -> Markup {
    html! {
        @if list.is_empty() {
            span .hint { (lang.t("agents.no_problems")) }
        } @else {
            ul .problems { @for p in list { li { (p) } } }
        }
    }
}

/// `GET /console/agents`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let page = match crate::api::agents::list(
        State(state.clone()),
        s.auth.clone(),
        Params(AgentQuery {
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::Agents, e),
    };
    let rows = html! {
        @for a in &page.items {
            tr data-agent=(a.node_id) {
                td { a href=(format!("/console/agents/{}", widgets::encode_query_value(&a.node_id))) { (a.node_id) } }
                td { (a.hostname) }
                td { (a.agent_version) }
                td { (state_badge(lang, &a.state)) }
                td {
                    @match &a.last_heartbeat_at {
                        Some(t) => { (widgets::time_text(t)) }
                        None => span .hint { (lang.t("agents.no_heartbeat")) },
                    }
                }
                td .num { (a.replications) @if a.behind_rpo > 0 { " " span .badge.sev-warning { (lang.f("agents.behind_rpo", &[("n", &a.behind_rpo.to_string())])) } } }
                td { (problems(lang, &a.problems)) }
            }
        }
    };
    let columns = [
        lang.t("agents.node"),
        lang.t("agents.host"),
        lang.t("agents.version"),
        lang.t("agents.state"),
        lang.t("agents.last_heartbeat"),
        lang.t("agents.replications"),
        lang.t("agents.problems"),
    ];
    let title = lang.t("agents.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/agents",
            title,
            intro: html! { @if page.total == 0 { p .hint #agents-empty { (lang.t("agents.empty_hint")) } } },
            table: widgets::table(
                lang,
                "agents-table",
                title,
                &columns,
                rows,
                page.items.is_empty(),
            ),
            paging: Some(widgets::Paging {
                pairs: &[],
                total: page.total,
                limit,
                offset,
            }),
            ..widgets::ListPage::default()
        },
    );
    layout::page(&s, title, Nav::Agents, body)
}

/// `GET /console/agents/{node}`.
pub async fn detail(
    State(state): State<AppState>,
    s: Session,
    Path(node): Path<String>,
) -> Response {
    let lang = s.lang;
    let a = match crate::api::agents::get(State(state.clone()), s.auth.clone(), Path(node)).await {
        Ok(Json(a)) => a,
        Err(e) => return layout::error(&s, Nav::Agents, e),
    };
    let title = format!("{} ({})", a.node_id, a.hostname);
    let body = html! {
        (widgets::page_header(&title, html! {}))
        dl .facts #agent-facts {
            dt { (lang.t("agents.state")) } dd { (state_badge(lang, &a.state)) " " (lang.t("agents.since")) " " (widgets::time_text(&a.state_since)) }
            dt { (lang.t("agents.last_heartbeat")) } dd {
                @match (&a.last_heartbeat_at, a.heartbeat_age_ms) {
                    (Some(t), Some(age)) => { (widgets::time_text(t)) " (" (lang.f("agents.ago", &[("age", &duration(age))])) ")" }
                    _ => (lang.t("agents.no_heartbeat")),
                }
            }
            dt { (lang.t("agents.version")) } dd { (a.agent_version) " / " (lang.t("agents.protocol")) " " (a.protocol_version) }
            dt { (lang.t("agents.data_plane")) } dd { (a.data_plane_addr.as_deref().unwrap_or("-")) }
            dt { (lang.t("agents.backends")) } dd {
                @for b in &a.backends { span .badge { (b.name) " (" (b.kind) ")" } " " }
            }
            dt { (lang.t("agents.tracker")) } dd { (a.tracker) }
            dt { (lang.t("agents.problems")) } dd { (problems(lang, &a.problems)) }
        }
        @match &a.health {
            None => p .hint { (lang.t("agents.no_health")) },
            Some(h) => section .card aria-labelledby="health-title" {
                h2 #health-title { (lang.t("agents.health")) }
                dl .facts {
                    dt { (lang.t("agents.load")) } dd { (format!("{:.2} {:.2} {:.2}", h.load[0], h.load[1], h.load[2])) }
                    dt { (lang.t("agents.memory")) } dd {
                        (lang.f("agents.memory_free", &[("free", &bytes(h.memory_available_bytes)), ("total", &bytes(h.memory_total_bytes))]))
                    }
                    dt { (lang.t("agents.process")) } dd { (lang.f("agents.process_text", &[
                        ("pid", &h.pid.to_string()), ("threads", &h.threads.to_string()), ("rss", &bytes(h.rss_bytes)),
                        ("uptime", &duration(i64::try_from(h.uptime_s.saturating_mul(1000)).unwrap_or(i64::MAX))),
                    ])) }
                    dt { (lang.t("agents.kmod")) } dd {
                        (h.tracker.kind) ", "
                        @if h.tracker.kmod_loaded {
                            (lang.t("agents.kmod_loaded"))
                            @if let Some(v) = h.tracker.kmod_abi_version { " (ABI " (v) ")" }
                        } @else { (lang.t("agents.kmod_not_loaded")) }
                        ", " (lang.f("agents.tracked", &[("n", &h.tracker.tracked_volumes.to_string())]))
                    }
                }
                h3 { (lang.t("agents.disks")) }
                (widgets::table(lang, "disks-table", lang.t("agents.disks"),
                    &[lang.t("agents.path"), lang.t("agents.available"), lang.t("agents.total")],
                    html! { @for d in &h.disks { tr { td { code { (d.path) } } td .num { (bytes(d.available_bytes)) } td .num { (bytes(d.total_bytes)) } } } },
                    h.disks.is_empty()))
                h3 { (lang.t("agents.workers")) }
                (widgets::table(lang, "workers-table", lang.t("agents.workers"),
                    &[lang.t("agents.worker"), lang.t("agents.state")],
                    html! { @for w in &h.workers { tr { td { (w.name) } td { (w.state) } } } },
                    h.workers.is_empty()))
            },
        }
        section .card aria-labelledby="repl-title" {
            h2 #repl-title { (lang.t("agents.replication")) }
            (widgets::table(lang, "replication-table", lang.t("agents.replication"),
                &[lang.t("agents.volume"), lang.t("agents.state"), lang.t("agents.lag"), lang.t("agents.rpo"),
                  lang.t("agents.throughput"), lang.t("agents.last_synced"), lang.t("agents.last_error")],
                html! {
                    @for r in &a.replications {
                        tr data-volume=(r.volume_id) {
                            td { code { (r.volume_id) } }
                            td { (r.state) }
                            td .num { (r.lag_ms.map(duration).unwrap_or_else(|| "-".to_owned())) }
                            td {
                                (r.rpo_ms.map(duration).unwrap_or_else(|| "-".to_owned())) " "
                                @match r.within_rpo {
                                    Some(true) => span .badge.sev-info { (lang.t("agents.within_rpo")) },
                                    Some(false) => span .badge.sev-error { (lang.t("agents.beyond_rpo")) },
                                    None => span .badge { (lang.t("agents.rpo_unknown")) },
                                }
                            }
                            td .num { (bytes(u64::try_from(r.throughput_bps).unwrap_or(0))) "/s" }
                            td { @if let Some(t) = &r.last_synced_at { (widgets::time_text(t)) } }
                            td { (r.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                },
                a.replications.is_empty()))
        }
    };
    layout::page(&s, &title, Nav::Agents, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(61_000), "1m 1s");
        assert_eq!(duration(3_723_000), "1h 2m 3s");
    }
}
