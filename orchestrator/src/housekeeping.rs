//! Upkeep run by the scheduler: event retention and expired sessions.

use crate::db;
use crate::state::{AppState, now_ms};

/// One round: delete events past the retention and expired sessions.
pub async fn once(app: &AppState) -> Result<(u64, u64), db::DbError> {
    let settings = crate::settings::load_from(&app.db).await?;
    let now = now_ms();
    let cutoff = now - i64::from(settings.event_retention_days) * 86_400_000;
    let mut tx = app.db.begin().await?;
    let events = db::events::delete_older_than(&mut tx, cutoff).await?;
    let sessions = db::sessions::delete_expired(&mut tx, now).await?;
    tx.commit().await?;
    if events > 0 {
        tracing::info!(events, "deleted events past the retention");
    }
    Ok((events, sessions))
}
