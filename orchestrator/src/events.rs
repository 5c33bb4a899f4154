//! The event centre: events are stored, streamed live, and delivered by webhook.

use serde::{Deserialize, Serialize};

use crate::db::{self, DbError};
use crate::state::{App, now_ms};

/// How serious an event is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention.
    Warning,
    /// Something failed.
    Error,
    /// Protection is at risk.
    Critical,
}

impl Severity {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// An object an event concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectRef {
    /// Kind (`user`, `cluster`, `plan`, ...).
    pub kind: String,
    /// Id.
    pub id: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Id (UUID v7).
    pub id: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// Stable code, e.g. `login.lockout`.
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// Human-readable text.
    pub message: String,
    /// The objects concerned.
    pub objects: Vec<ObjectRef>,
    /// Owner group (none = system event, Admins only).
    pub group_id: Option<String>,
}

impl Event {
    /// A new event happening now.
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Event {
        Event {
            id: uuid::Uuid::now_v7().to_string(),
            at: now_ms(),
            code: code.to_owned(),
            severity,
            message: message.into(),
            objects: Vec::new(),
            group_id: None,
        }
    }

    /// Adds a concerned object.
    pub fn object(mut self, kind: &str, id: &str) -> Event {
        self.objects.push(ObjectRef {
            kind: kind.to_owned(),
            id: id.to_owned(),
        });
        self
    }

    /// Sets the owner group.
    pub fn group(mut self, group_id: Option<String>) -> Event {
        self.group_id = group_id;
        self
    }
}

/// Stores an event, streams it to live listeners and hands it to the webhook.
pub async fn publish(app: &App, event: Event) -> Result<(), DbError> {
    let mut tx = app.db.begin().await?;
    record(&mut tx, &event).await?;
    tx.commit().await?;
    deliver(app, event).await
}

/// Stores an event in the caller's transaction, so that the event and the change it
/// tells of commit together (a crash between the two loses neither alone). After the
/// commit, the caller hands it to [`deliver`].
pub async fn record(conn: &mut sqlx::AnyConnection, event: &Event) -> Result<(), DbError> {
    db::events::insert(conn, event).await
}

/// Streams a stored event to live listeners, e-mail and the webhook.
pub async fn deliver(app: &App, event: Event) -> Result<(), DbError> {
    tracing::info!(code = %event.code, severity = event.severity.as_str(), message = %event.message, "event");
    // No live listener is not an error.
    let _ = app.events.send(event.clone());
    let settings = crate::settings::load_from(&app.db).await?;
    match crate::mail::configured(app, &settings).await {
        Ok(Some(server)) => {
            let mail = crate::mail::Outgoing {
                from: settings.smtp_from.clone(),
                to: settings.smtp_to.clone(),
                subject: format!("[holdfast] {} {}", event.severity.as_str(), event.code),
                body: mail_body(&event),
            };
            let id = event.id.clone();
            tokio::spawn(async move {
                if let Err(err) = crate::mail::send(&server, &mail).await {
                    tracing::warn!(error = %err, event_id = %id, "event e-mail not delivered");
                }
            });
        }
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(error = %err, event_id = %event.id, "event e-mail not delivered")
        }
    }
    if let Some(url) = settings.webhook_url {
        tokio::spawn(deliver_webhook(url, event));
    }
    Ok(())
}

fn mail_body(e: &Event) -> String {
    format!(
        "{}\n\ncode: {}\nseverity: {}\ntime: {}\nobjects: {}\n",
        e.message,
        e.code,
        e.severity.as_str(),
        crate::api::time_text(e.at),
        e.objects
            .iter()
            .map(|o| format!("{} {}", o.kind, o.id))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

async fn deliver_webhook(url: String, event: Event) {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot build the webhook client");
            return;
        }
    };
    match client.post(&url).json(&event).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), %url, "webhook refused the event"),
        Err(e) => tracing::warn!(error = %e, %url, "webhook delivery failed"),
    }
}
