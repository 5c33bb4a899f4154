//! The notification listener of one cluster: its own durable queue on the cloud's
//! broker, bound to the configured exchanges with `notifications.*`; batches of
//! deliveries are applied in one transaction and acknowledged after the commit. It
//! reconnects with backoff and never stops on a bad message.

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::watch;

use crate::state::AppState;

/// Deliveries applied together at most.
pub const MAX_BATCH: usize = 500;
/// How long a batch waits for more deliveries once one arrived.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// The queue name of a cluster (one per cluster, shared by the replicas).
pub fn queue_name(cluster_id: &str) -> String {
    format!("holdfast.cluster.{cluster_id}.notifications")
}

/// Deletes a deleted cluster's queue from its broker (best effort: logged on failure).
pub async fn delete_queue(url: String, cluster_id: String) {
    let queue = queue_name(&cluster_id);
    let attempt = async {
        let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        channel
            .queue_delete(
                queue.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await?;
        let _ = conn.close(200, "cluster deleted".into()).await;
        Ok::<_, lapin::Error>(())
    };
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Ok(Ok(())) => {
            tracing::info!(%cluster_id, %queue, "deleted the cluster's notification queue")
        }
        Ok(Err(e)) => {
            tracing::warn!(%cluster_id, %queue, error = %e, "cannot delete the cluster's notification queue; delete it on the broker by hand")
        }
        Err(_) => {
            tracing::warn!(%cluster_id, %queue, "the broker did not answer; delete the cluster's notification queue by hand")
        }
    }
}

/// The broker URL without its password, for logs.
pub fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => url.to_owned(),
    }
}

/// Why a listening session ended.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The broker refused or failed an operation.
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    /// The connection or the consumer is gone.
    #[error("{0}")]
    Lost(&'static str),
}

/// Runs until `stop` turns true (or its sender is dropped).
#[tracing::instrument(skip_all, fields(cluster_id = %cluster_id, broker = %redacted(&url)))]
pub async fn run(
    app: AppState,
    cluster_id: String,
    url: String,
    exchanges: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let session = consume(&app, &cluster_id, &url, &exchanges, &mut stop);
        let result = session.await;
        app.clusters.set_listening(&cluster_id, false);
        match result {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "notification listener interrupted");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { return },
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn declare_exchange(
    conn: &Connection,
    channel: Channel,
    name: &str,
) -> Result<Channel, lapin::Error> {
    // The services declare their exchanges (oslo: not durable); a passive declare
    // accepts whatever exists. When it does not exist yet, declare it as oslo would.
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    match channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            passive,
            FieldTable::default(),
        )
        .await
    {
        Ok(()) => Ok(channel),
        Err(_) => {
            let channel = conn.create_channel().await?;
            channel
                .exchange_declare(
                    name.into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok(channel)
        }
    }
}

async fn consume(
    app: &AppState,
    cluster_id: &str,
    url: &str,
    exchanges: &[String],
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ListenError> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let mut channel = conn.create_channel().await?;
    for x in exchanges {
        channel = declare_exchange(&conn, channel, x).await?;
    }
    let queue = queue_name(cluster_id);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    for x in exchanges {
        channel
            .queue_bind(
                queue.as_str().into(),
                x.as_str().into(),
                "notifications.*".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .basic_qos(MAX_BATCH as u16, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            format!("holdfast-{}", uuid::Uuid::new_v4().simple())
                .as_str()
                .into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    app.clusters.set_listening(cluster_id, true);
    tracing::info!(queue = %queue, ?exchanges, "listening to the cluster's notifications");
    let mut watchdog = tokio::time::interval(Duration::from_secs(2));
    loop {
        let first = tokio::select! {
            next = consumer.next() => next,
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    let _ = conn.close(200, "stopping".into()).await;
                    return Ok(());
                }
                continue;
            }
            _ = watchdog.tick() => {
                if conn.status().connected() && channel.status().connected() {
                    continue;
                }
                return Err(ListenError::Lost("the broker connection is gone"));
            }
        };
        let Some(first) = first else {
            return Err(ListenError::Lost("the broker cancelled the consumer"));
        };
        let mut batch = vec![first?];
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout(BATCH_WINDOW, consumer.next()).await {
                Ok(Some(Ok(d))) => batch.push(d),
                Ok(Some(Err(e))) => return Err(e.into()),
                Ok(None) | Err(_) => break,
            }
        }
        let bodies: Vec<Vec<u8>> = batch.iter().map(|d| d.data.clone()).collect();
        let last = batch.last().map(|d| d.acker.clone());
        match super::apply::apply_batch(app, cluster_id, &bodies).await {
            Ok(c) => {
                let m = &app.clusters.metrics;
                m.notification(cluster_id, "applied", c.applied);
                m.notification(cluster_id, "ignored", c.ignored);
                m.notification(cluster_id, "malformed", c.malformed);
                m.notification(cluster_id, "failed", c.failed);
                if let Some(acker) = last {
                    acker.ack(BasicAckOptions { multiple: true }).await?;
                }
            }
            Err(e) => {
                // The database failed: leave the batch on the queue for a later try.
                tracing::warn!(error = %e, "cannot store notifications; returning them to the queue");
                if let Some(acker) = last {
                    acker
                        .nack(BasicNackOptions {
                            multiple: true,
                            requeue: true,
                        })
                        .await?;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
