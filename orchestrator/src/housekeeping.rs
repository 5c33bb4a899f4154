//! Upkeep run by the scheduler: event retention, expired sessions, and the fire records
//! of schedules (kept as long as events; each schedule's latest is always kept).

use crate::db::{self, Db};

/// One round at `now` (ms): delete events older than the retention setting and expired
/// sessions; returns how many of each.
pub async fn once(database: &Db, now: i64) -> Result<(u64, u64), db::DbError> {
    let settings = crate::settings::load_from(database).await?;
    let cutoff = now - i64::from(settings.event_retention_days) * 86_400_000;
    let mut tx = database.begin().await?;
    let events = db::events::delete_older_than(&mut tx, cutoff).await?;
    let sessions = db::sessions::delete_expired(&mut tx, now).await?;
    let fires = db::schedules::prune_fires(&mut tx, cutoff).await?;
    tx.commit().await?;
    if events > 0 || fires > 0 {
        tracing::info!(
            events,
            fires,
            "deleted events and schedule fire records past the retention"
        );
    }
    Ok((events, sessions))
}
