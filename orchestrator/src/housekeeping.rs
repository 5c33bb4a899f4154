//! Periodic upkeep: event retention and expired sessions.

use std::time::Duration;

use crate::db;
use crate::state::{AppState, now_ms};

/// Runs until the task is aborted or shutdown starts.
pub async fn run(app: AppState) {
    let mut shutdown = app.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
            _ = tick.tick() => {
                if let Err(e) = once(&app).await {
                    tracing::warn!(error = %e, "housekeeping failed; retrying next minute");
                }
            }
        }
    }
}

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
