//! The leader's licence watch (run by the scheduler's `licence-check` schedule): reads
//! the licence, the protected-instance count and what was raised before, raises the
//! events [`super::alerts::decide`] asks for and stores the new memory.

use crate::db::{self, Db, DbError};
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

use super::LicenceTerms;
use super::alerts::{self, Alert, AlertMemory};

/// The schedule id and purpose of the watch.
pub const SCHEDULE: &str = "builtin:licence-check";
/// The schedule purpose of the watch.
pub const PURPOSE: &str = "licence-check";

/// Protected instances (members of protection groups).
pub async fn protected_instances(db: &Db) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let n = db::protection_groups::protected_count(&mut tx).await?;
    tx.commit().await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The events to raise on `today` for `terms`, and the memory to store once they are
/// raised (see [`remember`]).
pub async fn assess(
    db: &Db,
    terms: Option<&LicenceTerms>,
    today: jiff::civil::Date,
) -> Result<(Vec<Event>, AlertMemory), DbError> {
    let settings = crate::settings::load_from(db).await?;
    let protected = protected_instances(db).await?;
    let mut tx = db.begin().await?;
    let stored = db::licence::alert_memory(&mut tx).await?;
    tx.commit().await?;
    let memory = match stored.as_deref().map(serde_json::from_str::<AlertMemory>) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the stored licence alert memory is unreadable; starting afresh");
            AlertMemory::default()
        }
        None => AlertMemory::default(),
    };
    let (raised, next) = alerts::decide(
        terms,
        protected,
        today,
        settings.licence_expiry_warning_days,
        &memory,
    );
    Ok((raised.iter().map(event).collect(), next))
}

/// Stores the memory after its events were raised.
pub async fn remember(db: &Db, memory: &AlertMemory) -> Result<(), DbError> {
    let text = serde_json::to_string(memory).map_err(|e| DbError::Corrupt {
        table: "licence_alerts",
        reason: e.to_string(),
    })?;
    let mut tx = db.begin().await?;
    db::licence::put_alert_memory(&mut tx, &text, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// One check on `today`: raises what is due and remembers it. Returns how many events
/// were raised.
pub async fn check(app: &App, today: jiff::civil::Date) -> Result<usize, DbError> {
    let terms = super::current(app).await?;
    let (events, memory) = assess(&app.db, terms.as_ref(), today).await?;
    let n = events.len();
    for e in events {
        crate::events::publish(app, e).await?;
    }
    remember(&app.db, &memory).await?;
    Ok(n)
}

fn event(alert: &Alert) -> Event {
    match alert {
        Alert::NearExpiry { expires, days_left } => Event::new(
            "licence.expiry.near",
            Severity::Warning,
            match days_left {
                0 => format!("the licence expires today ({expires}); register a renewed key"),
                1 => format!("the licence expires tomorrow ({expires}); register a renewed key"),
                n => format!("the licence expires in {n} days ({expires}); register a renewed key"),
            },
        ),
        Alert::Expired { expires } => Event::new(
            "licence.expired",
            Severity::Error,
            format!(
                "the licence expired on {expires}: replication and DR keep working, but no \
                 more instances can be protected; register a renewed key"
            ),
        ),
        Alert::UsageHigh { protected, limit } => Event::new(
            "licence.usage.high",
            Severity::Warning,
            format!(
                "{protected} of {limit} licensed instances are protected (at least 90 %); \
                 a licence with a higher instance limit will be needed soon"
            ),
        ),
        Alert::UsageFull { protected, limit } => Event::new(
            "licence.usage.full",
            Severity::Error,
            format!(
                "{protected} of {limit} licensed instances are protected: the limit is \
                 reached and no more instances can be protected; register a licence with a \
                 higher instance limit"
            ),
        ),
    }
    .object("licence", "licence")
}
