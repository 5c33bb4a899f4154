//! Consuming with manual acks, bounded prefetch, deduplication and dead-lettering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use futures_util::StreamExt;
use holdfast_protocol::Envelope;
use lapin::Acker;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Bus, BusError, SeenIds};

/// A stream of decoded deliveries from one queue. Dropping it stops consuming;
/// unacknowledged deliveries go back to the queue.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    task: JoinHandle<()>,
}

impl Subscription {
    /// The next delivery; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a subscription knows about the message ids it has seen.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// Ids whose handling finished (acked or dead-lettered).
    done: SeenIds,
    /// Ids handed to the handler and not yet resolved, with the acker of their latest
    /// delivery and the connection generation it came on.
    in_flight: HashMap<Uuid, (u64, Acker)>,
}

/// What to do with a delivery that just arrived.
enum Arrival {
    /// New: hand it to the handler.
    Handle,
    /// Already handled: acknowledge the copy and drop it.
    AckDuplicate,
    /// Being handled, and this copy came over a newer connection (the older one
    /// died, so its acker is useless): the pending handler will ack this copy.
    Adopted,
}

impl Tracker {
    fn new(capacity: usize) -> Tracker {
        Tracker {
            done: SeenIds::new(capacity),
            in_flight: HashMap::new(),
        }
    }

    fn arrive(&mut self, id: Uuid, generation: u64, acker: &Acker) -> Arrival {
        if self.done.contains(&id) {
            return Arrival::AckDuplicate;
        }
        match self.in_flight.get_mut(&id) {
            Some((g, _)) if *g == generation => Arrival::AckDuplicate,
            Some(slot) => {
                *slot = (generation, acker.clone());
                Arrival::Adopted
            }
            None => {
                self.in_flight.insert(id, (generation, acker.clone()));
                Arrival::Handle
            }
        }
    }

    /// The acker to resolve `id` with, ending its flight. `finished` remembers the id
    /// as handled (ack, dead-letter); otherwise it may be handled again (requeue).
    fn resolve(&mut self, id: Uuid, finished: bool) -> Option<Acker> {
        if finished {
            self.done.insert(id);
        }
        self.in_flight.remove(&id).map(|(_, acker)| acker)
    }
}

/// One decoded message. Ack it once its effects are durable; until then the broker
/// keeps it and redelivers it if this process dies. Dropping it unresolved gives it
/// back to the queue.
#[derive(Debug)]
pub struct Delivery {
    envelope: Envelope,
    redelivered: bool,
    resolved: bool,
    tracker: Arc<Mutex<Tracker>>,
}

/// How long an ack or nack may take before the connection is considered gone (the
/// broker then redelivers, and the redelivery is deduplicated).
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a consumer checks that its connection is still alive.
const CONNECTION_CHECK: Duration = Duration::from_millis(500);

impl Delivery {
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Whether the broker delivered this message before (to this or another consumer).
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Acknowledges the message: it is done. Its id stays remembered, so a redelivery
    /// (if the ack is lost with the connection) is dropped.
    pub async fn ack(mut self) -> Result<(), BusError> {
        let acker = self.resolve(true);
        settle("basic.ack", acker, |a| async move {
            a.ack(BasicAckOptions::default()).await
        })
        .await
    }

    /// Gives the message back to the queue to be tried again later (a transient
    /// failure). After the queue's delivery limit it is dead-lettered.
    pub async fn retry_later(mut self) -> Result<(), BusError> {
        let acker = self.resolve(false);
        settle("basic.nack", acker, requeue).await
    }

    /// Refuses the message for good: it goes to the dead-letter queue.
    pub async fn dead_letter(mut self) -> Result<(), BusError> {
        let acker = self.resolve(true);
        settle("basic.reject", acker, |a| async move {
            a.reject(BasicRejectOptions { requeue: false }).await
        })
        .await
    }

    fn resolve(&mut self, finished: bool) -> Option<Acker> {
        self.resolved = true;
        self.tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .resolve(self.envelope.header.message_id, finished)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if self.resolved {
            return;
        }
        if let Some(acker) = self.resolve(false)
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = settle("basic.nack", Some(acker), requeue).await;
            });
        }
    }
}

async fn requeue(acker: Acker) -> lapin::Result<bool> {
    acker
        .nack(BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        })
        .await
}

/// Runs one acknowledgement with a time limit. A missing acker means the message was
/// resolved elsewhere already; a failure means the connection is gone and the broker
/// will redeliver.
async fn settle<F, Fut>(operation: &'static str, acker: Option<Acker>, f: F) -> Result<(), BusError>
where
    F: FnOnce(Acker) -> Fut,
    Fut: std::future::Future<Output = lapin::Result<bool>>,
{
    let Some(acker) = acker else {
        return Ok(());
    };
    match tokio::time::timeout(ACK_TIMEOUT, f(acker)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(BusError::Amqp { operation, source }),
        Err(_) => Err(BusError::Interrupted(
            "acknowledgement timed out; the broker will redeliver",
        )),
    }
}

impl Bus {
    /// Consumes `queue` (declared beforehand) until the returned subscription is
    /// dropped or the bus is closed, re-subscribing after every reconnect.
    pub async fn subscribe(&self, queue: &str) -> Result<Subscription, BusError> {
        // Fail fast if the queue cannot be consumed at all (e.g. it does not exist).
        self.queue_depth(queue).await?;
        let (tx, rx) = mpsc::channel(usize::from(self.inner.config.prefetch.max(1)));
        let seen = Arc::new(Mutex::new(Tracker::new(self.inner.config.dedup_capacity)));
        let bus = self.clone();
        let queue = queue.to_owned();
        let task = tokio::spawn(async move { bus.consume_loop(queue, tx, seen).await });
        Ok(Subscription { rx, task })
    }

    #[tracing::instrument(skip_all, fields(queue = %queue))]
    async fn consume_loop(
        self,
        queue: String,
        tx: mpsc::Sender<Delivery>,
        seen: Arc<Mutex<Tracker>>,
    ) {
        let mut backoff = self.backoff();
        let mut closed = self.closed_signal();
        loop {
            if self.is_closed() || tx.is_closed() {
                return;
            }
            let live = match self.live().await {
                Ok(live) => live,
                Err(_) => return, // closed
            };
            match self
                .consume_once(&live, &queue, &tx, &seen, &mut closed)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "consumer interrupted; re-subscribing");
                    if !live.connection.status().connected() {
                        self.mark_broken(live.generation).await;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// Consumes on one channel until it fails (`Err`) or the subscription/bus ends (`Ok`).
    async fn consume_once(
        &self,
        live: &crate::connection::Live,
        queue: &str,
        tx: &mpsc::Sender<Delivery>,
        seen: &Arc<Mutex<Tracker>>,
        closed: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), BusError> {
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        channel
            .basic_qos(self.inner.config.prefetch, BasicQosOptions::default())
            .await
            .map_err(BusError::amqp("basic.qos"))?;
        let tag = format!(
            "{}-{}",
            self.inner.config.connection_name,
            uuid::Uuid::new_v4()
        );
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(BusError::amqp("basic.consume"))?;
        tracing::debug!(generation = live.generation, "consuming");
        // lapin does not always end a consumer's stream when its connection dies (a
        // race between consumer registration and the I/O error), so the connection is
        // also checked on a timer.
        let mut watchdog = tokio::time::interval(CONNECTION_CHECK);
        loop {
            let next = tokio::select! {
                next = consumer.next() => next,
                _ = closed.changed() => return Ok(()),
                _ = tx.closed() => return Ok(()),
                _ = watchdog.tick() => {
                    if live.connection.status().connected() && channel.status().connected() {
                        continue;
                    }
                    return Err(BusError::Interrupted("the consumer's connection is gone"));
                }
            };
            let delivery = match next {
                Some(Ok(d)) => d,
                Some(Err(source)) => {
                    return Err(BusError::Amqp {
                        operation: "consume",
                        source,
                    });
                }
                None => {
                    return Err(BusError::Interrupted("the broker cancelled the consumer"));
                }
            };
            let redelivered = delivery.redelivered;
            let acker = delivery.acker;
            let envelope = match Envelope::decode(&delivery.data) {
                Ok(env) => env,
                Err(e) => {
                    tracing::warn!(error = %e, bytes = delivery.data.len(), "undecodable message moved to the dead-letter queue");
                    acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await
                        .map_err(BusError::amqp("basic.reject"))?;
                    continue;
                }
            };
            let id = envelope.header.message_id;
            let arrival =
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .arrive(id, live.generation, &acker);
            match arrival {
                Arrival::Handle => {}
                Arrival::AckDuplicate => {
                    tracing::debug!(message_id = %id, "duplicate delivery dropped");
                    acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(BusError::amqp("basic.ack"))?;
                    continue;
                }
                Arrival::Adopted => {
                    tracing::debug!(message_id = %id, "redelivery adopted by the pending handler");
                    continue;
                }
            }
            let delivery = Delivery {
                envelope,
                redelivered,
                resolved: false,
                tracker: Arc::clone(seen),
            };
            if tx.send(delivery).await.is_err() {
                return Ok(());
            }
        }
    }
}
