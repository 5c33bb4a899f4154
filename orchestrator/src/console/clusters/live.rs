//! The cluster list's live statuses (server push). `GET /console/clusters/stream` is a
//! Server-Sent Events stream, like the event centre's and the job monitor's: it reads
//! the rows the list page shows (same search and page, through the API's list handler,
//! so the same visibility) every [`POLL`] and sends, as event `rows`, the rows whose
//! status, sync status or last sync changed, rendered as the page renders them. The
//! first message carries every row, so nothing is missed between the page and the
//! stream. It reads the database rather than a signal of this process because a sync
//! may run on another replica (the API call that started it, or the leader's periodic
//! sync), and a successful sync raises no event. `console.js` (`data-live-rows`)
//! replaces the cells in place. The stream ends when the session does.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::Instrument;

use super::super::i18n::Lang;
use super::super::session::{self, Session};
use super::super::users::paging;
use super::super::widgets::non_empty;
use super::{ListQuery, last_sync_cell, status_badge, sync_badge};
use crate::api::clusters::{ClusterQuery, ClusterView};
use crate::api::extract::Params;
use crate::state::AppState;

/// How often the stream reads the list.
pub const POLL: Duration = Duration::from_secs(1);

/// One row's live cells: `key` is the row's `data-live-key`, `cells` maps each
/// `data-live-cell` to its new HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveRow {
    /// The cluster id.
    pub key: String,
    /// Cell name → HTML.
    pub cells: BTreeMap<&'static str, String>,
}

/// The live cells of a cluster's row, as the list page renders them.
pub fn live_row(lang: Lang, c: &ClusterView) -> LiveRow {
    LiveRow {
        key: c.id.clone(),
        cells: BTreeMap::from([
            ("status", status_badge(lang, c).into_string()),
            ("sync", sync_badge(lang, c).into_string()),
            ("last_sync", last_sync_cell(lang, c).into_string()),
        ]),
    }
}

/// The rows of `now` that differ from what was last sent (all of them the first time),
/// remembering `now` as sent.
pub fn changed_rows(sent: &mut HashMap<String, LiveRow>, now: Vec<LiveRow>) -> Vec<LiveRow> {
    let mut out = Vec::new();
    let mut next = HashMap::with_capacity(now.len());
    for row in now {
        if sent.get(&row.key) != Some(&row) {
            out.push(row.clone());
        }
        next.insert(row.key.clone(), row);
    }
    *sent = next;
    out
}

/// `GET /console/clusters/stream?q=&offset=&limit=` (the list page's query).
pub async fn stream(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let query = LiveQuery {
        q: non_empty(q.q),
        limit,
        offset,
    };
    let span = tracing::info_span!("cluster_list_stream", user_id = %s.actor().user_id);
    let s = futures_util::stream::unfold(
        (state, s, query, HashMap::new(), true),
        move |(state, s, query, mut sent, first)| {
            async move {
                let mut shutdown = state.shutdown.clone();
                if !first {
                    tokio::select! {
                        _ = shutdown.changed() => return None,
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
                loop {
                    let stopping = *shutdown.borrow();
                    if stopping || !session::still_valid(&state, &s).await {
                        return None;
                    }
                    let rows = read(&state, &s, &query).await?;
                    let changed = changed_rows(&mut sent, rows);
                    if first || !changed.is_empty() {
                        let data = serde_json::to_string(&changed).unwrap_or_else(|_| "[]".into());
                        let item = SseEvent::default().event("rows").data(data);
                        return Some((Ok::<_, Infallible>(item), (state, s, query, sent, false)));
                    }
                    tokio::select! {
                        _ = shutdown.changed() => return None,
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
            .instrument(span.clone())
        },
    );
    Sse::new(s).keep_alive(KeepAlive::default()).into_response()
}

#[derive(Debug, Clone)]
struct LiveQuery {
    q: Option<String>,
    limit: i64,
    offset: i64,
}

/// The page's rows now; `None` ends the stream (the browser opens it again, and a
/// refusal then shows as a failed stream).
async fn read(state: &AppState, s: &Session, q: &LiveQuery) -> Option<Vec<LiveRow>> {
    let listed = crate::api::clusters::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ClusterQuery {
            q: q.q.clone(),
            limit: Some(q.limit),
            offset: Some(q.offset),
        }),
    )
    .await;
    match listed {
        Ok(Json(page)) => Some(page.items.iter().map(|c| live_row(s.lang, c)).collect()),
        Err(e) => {
            tracing::debug!(code = e.code, error = %e.message, "cluster list stream ends");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, sync: &str) -> LiveRow {
        LiveRow {
            key: key.into(),
            cells: BTreeMap::from([("sync", sync.to_owned())]),
        }
    }

    #[test]
    fn only_changed_rows_are_sent_after_the_first_message() {
        let mut sent = HashMap::new();
        let first = changed_rows(&mut sent, vec![row("a", "Done"), row("b", "INIT")]);
        assert_eq!(first.len(), 2, "the first message carries every row");
        assert!(changed_rows(&mut sent, vec![row("a", "Done"), row("b", "INIT")]).is_empty());
        let next = changed_rows(&mut sent, vec![row("a", "Running"), row("b", "INIT")]);
        assert_eq!(next, vec![row("a", "Running")]);
        // a row that left the page and comes back is sent again
        assert!(changed_rows(&mut sent, vec![row("b", "INIT")]).is_empty());
        assert_eq!(
            changed_rows(&mut sent, vec![row("a", "Running"), row("b", "INIT")]),
            vec![row("a", "Running")]
        );
    }

    #[test]
    fn live_cells_are_the_list_page_cells() {
        let c = super::super::tests::cluster("active", "Running", None);
        let r = live_row(Lang::En, &c);
        assert_eq!(r.key, "c");
        assert!(
            r.cells["sync"].contains(r#"data-value="Running""#),
            "{:?}",
            r.cells
        );
        assert!(r.cells["status"].contains("Active"), "{:?}", r.cells);
        assert!(r.cells["last_sync"].contains("never"), "{:?}", r.cells);
    }
}
