//! oslo.messaging (driver `messagingv2`) notifications to RabbitMQ via lapin.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::Notifications;
use crate::model::{Notification, Service};

/// Counts of what happened to notifications.
#[derive(Debug, Default)]
pub struct NotifyCounters {
    pub emitted: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

/// Hands notifications to the sender task (or only counts them when no broker is set).
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: Option<mpsc::UnboundedSender<Notification>>,
    pub counters: Arc<NotifyCounters>,
}

/// The exchange a service's notifications go to.
pub fn exchange_for(cfg: &Notifications, s: Service) -> &str {
    match s {
        Service::Compute => &cfg.compute_exchange,
        Service::Volume => &cfg.volume_exchange,
        Service::Identity => &cfg.identity_exchange,
        Service::Network => &cfg.network_exchange,
    }
}

/// The oslo envelope: `{"oslo.version": "2.0", "oslo.message": "<json>"}`.
pub fn envelope(n: &Notification, message_id: &str, timestamp: &str) -> Value {
    let inner = json!({
        "message_id": message_id,
        "publisher_id": format!("{}.{}", n.service.publisher_prefix(), n.host),
        "event_type": n.event_type,
        "priority": n.priority.upper(),
        "payload": n.payload,
        "timestamp": timestamp,
    });
    json!({"oslo.version": "2.0", "oslo.message": inner.to_string()})
}

impl Notifier {
    /// Starts the sender task when a broker URL is configured.
    pub fn start(cfg: Notifications) -> Self {
        let counters = Arc::new(NotifyCounters::default());
        let tx = cfg.url.clone().map(|url| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(send_loop(url, cfg, rx, counters.clone()));
            tx
        });
        Self { tx, counters }
    }

    pub fn send(&self, n: Notification) {
        self.counters.emitted.fetch_add(1, Ordering::Relaxed);
        if let Some(tx) = &self.tx
            && tx.send(n).is_err()
        {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Link {
    _conn: Connection,
    channel: Channel,
    declared: HashSet<String>,
}

async fn connect(url: &str) -> Result<Link, lapin::Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    Ok(Link {
        _conn: conn,
        channel,
        declared: HashSet::new(),
    })
}

async fn publish(
    link: &mut Link,
    exchange: &str,
    key: &str,
    body: &[u8],
) -> Result<(), lapin::Error> {
    if !link.declared.contains(exchange) {
        link.channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
        link.declared.insert(exchange.to_owned());
    }
    link.channel
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default()
                .with_content_type("application/json".into())
                .with_content_encoding("utf-8".into())
                .with_delivery_mode(2),
        )
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn send_loop(
    url: String,
    cfg: Notifications,
    mut rx: mpsc::UnboundedReceiver<Notification>,
    counters: Arc<NotifyCounters>,
) {
    let mut link: Option<Link> = None;
    while let Some(n) = rx.recv().await {
        let body = envelope(
            &n,
            &uuid::Uuid::new_v4().to_string(),
            &crate::time::oslo(crate::time::now()),
        )
        .to_string();
        let exchange = exchange_for(&cfg, n.service).to_owned();
        let key = format!("{}.{}", cfg.topic, n.priority.as_str());
        let mut ok = false;
        for _attempt in 0..2 {
            if link.is_none() {
                match connect(&url).await {
                    Ok(l) => link = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect to the notification broker");
                        break;
                    }
                }
            }
            if let Some(l) = link.as_mut() {
                match publish(l, &exchange, &key, body.as_bytes()).await {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, exchange, "publishing a notification failed; reconnecting");
                        link = None;
                    }
                }
            }
        }
        let c = if ok { &counters.sent } else { &counters.failed };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_wraps_the_message_as_a_json_string() {
        let n = Notification::info(
            Service::Volume,
            "volume.create.end",
            "h1",
            json!({"volume_id": "v"}),
        );
        let e = envelope(&n, "m1", "2026-01-01 00:00:00.000000");
        assert_eq!(e["oslo.version"], "2.0");
        let inner: Value = serde_json::from_str(e["oslo.message"].as_str().unwrap()).unwrap();
        assert_eq!(inner["event_type"], "volume.create.end");
        assert_eq!(inner["publisher_id"], "volume.h1");
        assert_eq!(inner["priority"], "INFO");
        assert_eq!(inner["payload"]["volume_id"], "v");
        assert_eq!(inner["message_id"], "m1");
        let cfg = Notifications::default();
        assert_eq!(exchange_for(&cfg, Service::Compute), "nova");
        assert_eq!(exchange_for(&cfg, Service::Identity), "openstack");
    }
}
