//! Applying a batch of notifications: decode, classify with the event table, read the
//! changed resources again (concurrently), write everything in one transaction.

use std::collections::HashMap;

use futures_util::StreamExt as _;

use super::fetch::{self, FetchError, Refreshed};
use crate::db::{self, DbError, resources};
use crate::domain::cluster::ResourceKind;
use crate::domain::cluster_events::{self, Change};
use crate::protection::sync_changes::ResourceDelta;
use crate::state::{App, now_ms};

/// Concurrent reads from the cloud while applying a batch.
const FETCH_CONCURRENCY: usize = 16;

/// Outcome counts of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Notifications whose changes were written.
    pub applied: u64,
    /// Outside the event table.
    pub ignored: u64,
    /// Unreadable.
    pub malformed: u64,
    /// A change could not be read from the cloud (the periodic sync repairs it).
    pub failed: u64,
}

enum Outcome {
    Row(Option<Box<Refreshed>>),
    Failed(String),
}

/// Applies notification bodies; returns the counts once the transaction committed.
#[tracing::instrument(skip_all, fields(cluster_id = %cluster_id, batch = bodies.len()))]
pub async fn apply_batch(
    app: &App,
    cluster_id: &str,
    bodies: &[Vec<u8>],
) -> Result<BatchCounts, DbError> {
    let mut counts = BatchCounts::default();
    // (kind, id) → latest change, and which notifications depend on it.
    let mut latest: HashMap<(ResourceKind, String), Change> = HashMap::new();
    let mut per_notification: Vec<Vec<(ResourceKind, String)>> = Vec::new();
    for body in bodies {
        let decoded = cluster_events::decode(body).and_then(|n| {
            let c = cluster_events::classify(&n)?;
            Ok((n, c))
        });
        match decoded {
            Err(e) => {
                counts.malformed += 1;
                tracing::warn!(error = %e, bytes = body.len(), "malformed notification skipped");
            }
            Ok((n, None)) => {
                counts.ignored += 1;
                tracing::debug!(event_type = %n.event_type, "notification outside the event table");
            }
            Ok((n, Some(changes))) => {
                tracing::debug!(event_type = %n.event_type, message_id = ?n.message_id, "notification");
                let mut keys = Vec::new();
                for c in changes {
                    let key = match &c {
                        Change::Refresh(k, id) | Change::Delete(k, id) => (*k, id.clone()),
                    };
                    keys.push(key.clone());
                    latest.insert(key, c);
                }
                per_notification.push(keys);
            }
        }
    }
    if latest.is_empty() {
        return Ok(counts);
    }
    let session = app.clusters.session(app, cluster_id).await;
    let refreshes: Vec<(ResourceKind, String)> = latest
        .values()
        .filter_map(|c| match c {
            Change::Refresh(k, id) => Some((*k, id.clone())),
            Change::Delete(..) => None,
        })
        .collect();
    let fetched: HashMap<(ResourceKind, String), Outcome> = match &session {
        Ok(s) => {
            futures_util::stream::iter(refreshes)
                .map(|(k, id)| async move {
                    let r = fetch::refresh(s, k, &id).await;
                    let outcome = match r {
                        Ok(v) => Outcome::Row(v.map(Box::new)),
                        Err(FetchError::Cloud(e)) => Outcome::Failed(e.to_string()),
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    ((k, id), outcome)
                })
                .buffer_unordered(FETCH_CONCURRENCY)
                .collect()
                .await
        }
        Err(e) => refreshes
            .into_iter()
            .map(|key| (key, Outcome::Failed(e.clone())))
            .collect(),
    };
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    // the plan sync reactions need each change with its document before, only when
    // a plan uses the cluster
    let track = !db::plans::ids_using_cluster(&mut tx, cluster_id)
        .await?
        .is_empty();
    let mut deltas = Vec::new();
    let mut upserts = Vec::new();
    for (key, change) in &latest {
        if track && let Some(d) = delta(&mut tx, cluster_id, key, change, &fetched).await? {
            deltas.push(d);
        }
        match change {
            Change::Delete(k, id) => {
                resources::mark_deleted(&mut tx, cluster_id, k.as_str(), id, now).await?;
                if *k == ResourceKind::SecurityGroup {
                    resources::mark_children_deleted(
                        &mut tx,
                        cluster_id,
                        ResourceKind::SecurityGroupRule.as_str(),
                        id,
                        &[],
                        now,
                    )
                    .await?;
                }
            }
            Change::Refresh(k, id) => match fetched.get(key) {
                Some(Outcome::Row(Some(r))) => {
                    upserts.push(r.row.clone());
                    if let Some((child_kind, children)) = &r.children {
                        let keep: Vec<String> = children.iter().map(|c| c.id.clone()).collect();
                        resources::mark_children_deleted(
                            &mut tx,
                            cluster_id,
                            child_kind.as_str(),
                            id,
                            &keep,
                            now,
                        )
                        .await?;
                        upserts.extend(children.iter().cloned());
                    }
                }
                Some(Outcome::Row(None)) => {
                    resources::mark_deleted(&mut tx, cluster_id, k.as_str(), id, now).await?;
                }
                Some(Outcome::Failed(e)) => {
                    tracing::warn!(kind = k.as_str(), id = %id, error = %e, "cannot read a changed resource; the next full sync will repair it");
                }
                None => {}
            },
        }
    }
    resources::upsert(&mut tx, cluster_id, &upserts, now).await?;
    tx.commit().await?;
    for keys in &per_notification {
        let failed = keys
            .iter()
            .any(|k| matches!(fetched.get(k), Some(Outcome::Failed(_))));
        if failed {
            counts.failed += 1;
        } else {
            counts.applied += 1;
        }
    }
    let changed: Vec<Change> = latest.into_values().collect();
    super::plan_hooks::reevaluate_plans_after_resource_changes(app, cluster_id, &changed, &deltas)
        .await;
    Ok(counts)
}

/// The change of one resource with its stored document before; `None` when nothing is
/// written for it (the read from the cloud failed) or the document is unchanged.
async fn delta(
    conn: &mut sqlx::AnyConnection,
    cluster_id: &str,
    (kind, id): &(ResourceKind, String),
    change: &Change,
    fetched: &HashMap<(ResourceKind, String), Outcome>,
) -> Result<Option<ResourceDelta>, DbError> {
    let after = match change {
        Change::Delete(..) => None,
        Change::Refresh(..) => match fetched.get(&(*kind, id.clone())) {
            Some(Outcome::Row(Some(r))) => Some(r.row.doc_json.clone()),
            Some(Outcome::Row(None)) => None,
            Some(Outcome::Failed(_)) | None => return Ok(None),
        },
    };
    let before = resources::get(conn, cluster_id, kind.as_str(), id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.row.doc_json);
    if before == after {
        return Ok(None);
    }
    Ok(Some(ResourceDelta {
        kind: *kind,
        id: id.clone(),
        before,
        after,
    }))
}
