//! `/api/v1/events`: list, detail, live stream (Server-Sent Events).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Deserialize;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::events::EventFilter;
use crate::domain::rbac::{Actor, Role};
use crate::events::{Event, Severity};
use crate::state::AppState;

/// Filters of the event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this code.
    pub code: Option<String>,
    /// Only events concerning this object id.
    pub object: Option<String>,
    /// From (RFC 3339, inclusive).
    pub since: Option<String>,
    /// Until (RFC 3339, exclusive).
    pub until: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

fn visible(actor: &Actor, e: &Event) -> bool {
    actor.role == Role::Admin
        || e.group_id
            .as_ref()
            .is_some_and(|g| actor.groups.contains(g))
}

/// Lists events, newest first; non-Admins see their groups' events only.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = Page<Event>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<EventQuery>,
) -> ApiResult<Json<Page<Event>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = EventFilter {
        visible_to: (auth.actor.role != Role::Admin).then(|| auth.actor.user_id.clone()),
        severity: q.severity,
        code: q.code,
        object_id: q.object,
        since: q.since.as_deref().map(super::parse_time).transpose()?,
        until: q.until.as_deref().map(super::parse_time).transpose()?,
        limit: page.limit,
        offset: page.offset,
    };
    let mut tx = state.db.begin().await?;
    let (events, total) = db::events::list(&mut tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::new(events, total, page)))
}

/// Shows one event.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "event id")),
    responses((status = 200, body = Event), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Event>> {
    let mut tx = state.db.begin().await?;
    let event = db::events::get(&mut tx, &id).await?;
    tx.commit().await?;
    match event {
        // Events of other groups are not revealed to exist.
        Some(e) if visible(&auth.actor, &e) => Ok(Json(e)),
        _ => Err(ApiError::not_found("event", &id)),
    }
}

/// New events as they happen (`text/event-stream`, one `event` per event, JSON data).
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    responses((status = 200, description = "Server-Sent Events stream of Event objects",
               content_type = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    auth: Auth,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let actor = auth.actor;
    let s = futures_util::stream::unfold(
        (rx, shutdown, actor),
        |(mut rx, mut shutdown, actor)| async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                tokio::select! {
                    _ = shutdown.changed() => return None,
                    received = rx.recv() => match received {
                        Ok(e) if visible(&actor, &e) => {
                            let data = serde_json::to_string(&e).unwrap_or_default();
                            let item = SseEvent::default().event("event").id(e.id.clone()).data(data);
                            return Some((Ok(item), (rx, shutdown, actor)));
                        }
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            let item = SseEvent::default().event("lagged").data(n.to_string());
                            return Some((Ok(item), (rx, shutdown, actor)));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    Sse::new(s).keep_alive(KeepAlive::default())
}
