//! The event centre: filters (severity, code, object, time), pagination, new events
//! added live from the API's stream, and the detail of one event.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, non_empty};
use crate::api::events::EventQuery;
use crate::api::extract::Params;
use crate::events::{Event, Severity};
use crate::state::AppState;

/// Filters of the event list, as the filter form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Severity.
    pub severity: Option<String>,
    /// Event code.
    pub code: Option<String>,
    /// Object id.
    pub object: Option<String>,
    /// From (UTC, `YYYY-MM-DDTHH:MM` or RFC 3339).
    pub since: Option<String>,
    /// Until (UTC).
    pub until: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// A `datetime-local` value (`2026-01-31T12:00`) is taken as UTC; RFC 3339 passes.
pub fn utc_time(v: &str) -> String {
    let time = v.split_once(['T', 't', ' ']).map_or("", |(_, t)| t);
    let has_zone = time.ends_with(['Z', 'z']) || time.contains(['+', '-']);
    if has_zone {
        v.to_owned()
    } else if time.chars().count() == 5 {
        format!("{v}:00Z")
    } else {
        format!("{v}Z")
    }
}

const SEVERITIES: [Severity; 4] = [
    Severity::Info,
    Severity::Warning,
    Severity::Error,
    Severity::Critical,
];

fn objects(e: &Event) -> String {
    e.objects
        .iter()
        .map(|o| format!("{}:{}", o.kind, o.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the event table (the script builds the same from `#event-row`).
fn row(lang: Lang, e: &Event) -> Markup {
    html! {
        tr data-event-id=(e.id) {
            td { (widgets::time(e.at)) }
            td { (widgets::severity_badge(lang, e.severity)) }
            td { code { (e.code) } }
            td { a href=(format!("/console/events/{}", e.id)) { (e.message) } }
            td { (objects(e)) }
        }
    }
}

/// `GET /console/events`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let severity = non_empty(q.severity).and_then(|v| Severity::parse(&v));
    let code = non_empty(q.code);
    let object = non_empty(q.object);
    let since = non_empty(q.since);
    let until = non_empty(q.until);
    let result = crate::api::events::list(
        State(state),
        s.auth.clone(),
        Params(EventQuery {
            severity,
            code: code.clone(),
            object: object.clone(),
            since: since.as_deref().map(utc_time),
            until: until.as_deref().map(utc_time),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await;
    let (page, problem) = match result {
        Ok(Json(p)) => (Some(p), None),
        Err(e) if e.status == StatusCode::BAD_REQUEST => (None, Some(e.message)),
        Err(e) => return layout::error(&s, Nav::Events, e),
    };
    let sev_value = severity.map(|v| v.as_str().to_owned()).unwrap_or_default();
    let pairs = [
        ("severity", sev_value.clone()),
        ("code", code.clone().unwrap_or_default()),
        ("object", object.clone().unwrap_or_default()),
        ("since", since.clone().unwrap_or_default()),
        ("until", until.clone().unwrap_or_default()),
    ];
    let live = offset == 0 && until.is_none() && page.is_some();
    let filter_fields = html! {
        div .field {
            label for="f-severity" { (lang.t("events.severity")) }
            select #f-severity name="severity" {
                option value="" { (lang.t("list.any")) }
                @for v in SEVERITIES {
                    option value=(v.as_str()) selected[sev_value == v.as_str()] { (widgets::severity_label(lang, v)) }
                }
            }
        }
        div .field {
            label for="f-code" { (lang.t("events.code")) }
            input #f-code name="code" value=[code.as_deref()] placeholder="login.lockout";
        }
        div .field {
            label for="f-object" { (lang.t("events.object")) }
            input #f-object name="object" value=[object.as_deref()];
        }
        div .field {
            label for="f-since" { (lang.t("events.since")) }
            input #f-since type="datetime-local" name="since" value=[since.as_deref()];
        }
        div .field {
            label for="f-until" { (lang.t("events.until")) }
            input #f-until type="datetime-local" name="until" value=[until.as_deref()];
        }
    };
    let columns = [
        lang.t("events.time"),
        lang.t("events.severity"),
        lang.t("events.code"),
        lang.t("events.message"),
        lang.t("events.objects"),
    ];
    let rows = html! {
        @if let Some(p) = &page { @for e in &p.items { (row(lang, e)) } }
    };
    let empty = page.as_ref().is_none_or(|p| p.items.is_empty());
    let live_status = if live {
        lang.t("events.live_on")
    } else {
        lang.t("events.live_off")
    };
    let title = lang.t("events.title");
    let list = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/events",
            title,
            actions: html! { span .live-status data-role="live-status" data-live=(live) { (live_status) } },
            filters: Some(filter_fields),
            table: html! {
                p .hint { (lang.t("events.utc_hint")) }
                @if let Some(m) = &problem { div .alert.error role="alert" { p { (m) } } }
                div #event-list data-live=[live.then_some("/api/v1/events/stream")]
                    data-severity=(sev_value) data-code=[code.as_deref()] data-object=[object.as_deref()] {
                    (widgets::table(lang, "events-table", title, &columns, rows, empty))
                }
            },
            paging: page.as_ref().map(|p| widgets::Paging {
                pairs: &pairs,
                total: p.total,
                limit,
                offset,
            }),
            ..widgets::ListPage::default()
        },
    );
    let body = html! {
        (list)
        template #event-row {
            tr {
                td { time {} }
                td { span .badge {} }
                td { code {} }
                td { a {} }
                td {}
            }
        }
    };
    layout::page(&s, title, Nav::Events, body)
}

/// `GET /console/events/{id}`.
pub async fn detail(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let e = match crate::api::events::get(State(state), s.auth.clone(), Path(id)).await {
        Ok(Json(e)) => e,
        Err(e) => return layout::error(&s, Nav::Events, e),
    };
    let body = html! {
        (widgets::page_header(lang.t("events.detail"), html! {
            a .button.secondary href="/console/events" { (lang.t("events.back")) }
        }))
        dl .facts {
            dt { (lang.t("events.time")) } dd { (widgets::time(e.at)) }
            dt { (lang.t("events.severity")) } dd { (widgets::severity_badge(lang, e.severity)) }
            dt { (lang.t("events.code")) } dd { code { (e.code) } }
            dt { (lang.t("events.message")) } dd { (e.message) }
            dt { (lang.t("events.objects")) } dd {
                @if e.objects.is_empty() { "—" }
                ul { @for o in &e.objects { li { (o.kind) ": " code { (o.id) } } } }
            }
            dt { (lang.t("events.group")) } dd { (e.group_id.as_deref().unwrap_or("—")) }
            dt { (lang.t("events.id")) } dd { code { (e.id) } }
        }
    };
    layout::page(&s, lang.t("events.detail"), Nav::Events, body)
}

#[cfg(test)]
mod tests {
    use super::utc_time;

    #[test]
    fn form_times_are_utc() {
        assert_eq!(utc_time("2026-01-31T12:00"), "2026-01-31T12:00:00Z");
        assert_eq!(utc_time("2026-01-31T12:00:30"), "2026-01-31T12:00:30Z");
        assert_eq!(utc_time("2026-01-31T12:00:00Z"), "2026-01-31T12:00:00Z");
        assert_eq!(
            utc_time("2026-01-31T12:00:00+09:00"),
            "2026-01-31T12:00:00+09:00"
        );
    }
}
