//! Upkeep run by the scheduler: event retention and expired sessions.

use crate::db::{self, Db};

/// One round at `now` (ms): delete events older than the retention setting and expired
/// sessions; returns how many of each.
pub async fn once(database: &Db, now: i64) -> Result<(u64, u64), db::DbError> {
    let settings = crate::settings::load_from(database).await?;
    let cutoff = now - i64::from(settings.event_retention_days) * 86_400_000;
    let mut tx = database.begin().await?;
    let events = db::events::delete_older_than(&mut tx, cutoff).await?;
    let sessions = db::sessions::delete_expired(&mut tx, now).await?;
    tx.commit().await?;
    if events > 0 {
        tracing::info!(events, "deleted events past the retention");
    }
    Ok((events, sessions))
}
