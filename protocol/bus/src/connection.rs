use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use holdfast_protocol::names::Names;
use holdfast_protocol::{Envelope, NodeId};
use lapin::options::{
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::{Mutex, watch};

use crate::topology::{self, QueueSpec};
use crate::{Backoff, BusConfig, BusError};

/// A handle on the bus. Cheap to clone; every clone shares one connection.
#[derive(Clone, Debug)]
pub struct Bus {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: BusConfig,
    live: Mutex<Option<Live>>,
    queues: std::sync::Mutex<Vec<QueueSpec>>,
    closed: watch::Sender<bool>,
    generations: AtomicU64,
}

/// One established connection with its confirm-mode publishing channel.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) connection: Arc<Connection>,
    pub(crate) publisher: Channel,
    pub(crate) generation: u64,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &self.generation)
            .finish()
    }
}

impl Live {
    fn healthy(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

impl Bus {
    /// Connects, declares the base topology, and returns once both worked — retrying
    /// with backoff for up to `config.connect_timeout`.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let (closed, _) = watch::channel(false);
        let bus = Bus {
            inner: Arc::new(Inner {
                config,
                live: Mutex::new(None),
                queues: std::sync::Mutex::new(Vec::new()),
                closed,
                generations: AtomicU64::new(0),
            }),
        };
        let started = Instant::now();
        let mut backoff = bus.backoff();
        loop {
            match bus.establish().await {
                Ok(live) => {
                    *bus.inner.live.lock().await = Some(live);
                    return Ok(bus);
                }
                Err(e) if started.elapsed() < bus.inner.config.connect_timeout => {
                    tracing::warn!(url = %bus.inner.config.redacted_url(), error = %e, "RabbitMQ not reachable yet; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => {
                    let source = match e {
                        BusError::Amqp { source, .. } | BusError::Connect { source, .. } => source,
                        other => return Err(other),
                    };
                    return Err(BusError::Connect {
                        url: bus.inner.config.redacted_url(),
                        waited_s: started.elapsed().as_secs(),
                        source,
                    });
                }
            }
        }
    }

    pub fn config(&self) -> &BusConfig {
        &self.inner.config
    }

    pub fn names(&self) -> &Names {
        &self.inner.config.names
    }

    /// Declares (idempotently) the orchestrator's queue, bound to every agent event.
    pub async fn declare_orchestrator_queue(&self) -> Result<String, BusError> {
        self.declare(QueueSpec::orchestrator(self.names())).await
    }

    /// Declares (idempotently) the command queue of one agent.
    pub async fn declare_agent_queue(&self, node: &NodeId) -> Result<String, BusError> {
        self.declare(QueueSpec::agent(self.names(), node)).await
    }

    async fn declare(&self, spec: QueueSpec) -> Result<String, BusError> {
        let live = self.live().await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        topology::declare_queue(&channel, &self.inner.config, &spec).await?;
        let _ = channel.close(200, "declared".into()).await;
        let name = spec.name.clone();
        let mut queues = self.inner.queues.lock().unwrap_or_else(|p| p.into_inner());
        if !queues.contains(&spec) {
            queues.push(spec);
        }
        Ok(name)
    }

    /// Publishes a command to one agent's queue; returns once the broker confirmed it.
    pub async fn publish_command(
        &self,
        node: &NodeId,
        envelope: &Envelope,
    ) -> Result<(), BusError> {
        let exchange = self.names().commands_exchange();
        self.publish(&exchange, &Names::command_key(node), envelope)
            .await
    }

    /// Publishes an event from `node` to the orchestrator; returns once confirmed.
    pub async fn publish_event(&self, node: &NodeId, envelope: &Envelope) -> Result<(), BusError> {
        let exchange = self.names().events_exchange();
        self.publish(
            &exchange,
            &Names::event_key(node, envelope.kind()),
            envelope,
        )
        .await
    }

    /// Messages ready (not yet delivered) in a queue.
    pub async fn queue_depth(&self, queue: &str) -> Result<u32, BusError> {
        let live = self.live().await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        let q = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(BusError::amqp("queue.declare (passive)"))?;
        let _ = channel.close(200, "done".into()).await;
        Ok(q.message_count())
    }

    /// Deletes every queue and exchange of this bus's namespace (for tests and for
    /// uninstalling). Messages in them are lost.
    pub async fn delete_namespace(&self) -> Result<(), BusError> {
        let live = self.live().await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        let names = self.names();
        let queues: Vec<String> = {
            let specs = self.inner.queues.lock().unwrap_or_else(|p| p.into_inner());
            specs.iter().map(|s| s.name.clone()).collect()
        };
        for q in queues.iter().chain([&names.dead_letter_queue()]) {
            channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(BusError::amqp("queue.delete"))?;
        }
        for x in [
            names.commands_exchange(),
            names.events_exchange(),
            names.dead_letter_exchange(),
        ] {
            channel
                .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .map_err(BusError::amqp("exchange.delete"))?;
        }
        let _ = channel.close(200, "done".into()).await;
        Ok(())
    }

    /// Closes the connection. Pending and future operations fail with
    /// [`BusError::Closed`].
    pub async fn close(&self) {
        self.inner.closed.send_replace(true);
        if let Some(live) = self.inner.live.lock().await.take() {
            let _ = live.connection.close(200, "shutdown".into()).await;
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    pub(crate) fn closed_signal(&self) -> watch::Receiver<bool> {
        self.inner.closed.subscribe()
    }

    pub(crate) fn backoff(&self) -> Backoff {
        Backoff::new(
            self.inner.config.reconnect_initial,
            self.inner.config.reconnect_max,
        )
    }

    /// The current connection, reconnecting (with backoff, for as long as it takes)
    /// if it is broken. Callers bound the wait with their own deadlines.
    pub(crate) async fn live(&self) -> Result<Live, BusError> {
        let mut guard = self.inner.live.lock().await;
        if let Some(live) = guard.as_ref()
            && live.healthy()
        {
            return Ok(live.clone());
        }
        if let Some(old) = guard.take() {
            tokio::spawn(async move {
                let _ = old.connection.close(200, "reconnecting".into()).await;
            });
        }
        let mut backoff = self.backoff();
        loop {
            if self.is_closed() {
                return Err(BusError::Closed);
            }
            match self.establish().await {
                Ok(live) => {
                    tracing::info!(generation = live.generation, connection = %self.inner.config.connection_name, "reconnected to RabbitMQ");
                    *guard = Some(live.clone());
                    return Ok(live);
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(url = %self.inner.config.redacted_url(), error = %e, retry_in_ms = delay.as_millis() as u64, "RabbitMQ reconnect failed");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Forgets the connection of `generation` after an error on it, so that the next
    /// [`Bus::live`] reconnects. A stale report about an older connection is ignored.
    pub(crate) async fn mark_broken(&self, generation: u64) {
        let mut guard = self.inner.live.lock().await;
        if guard.as_ref().is_some_and(|l| l.generation == generation)
            && let Some(old) = guard.take()
        {
            tokio::spawn(async move {
                let _ = old.connection.close(200, "broken".into()).await;
            });
        }
    }

    async fn establish(&self) -> Result<Live, BusError> {
        let config = &self.inner.config;
        let props = ConnectionProperties::default()
            .with_connection_name(config.connection_name.as_str().into());
        let connection = Connection::connect(&config.url, props)
            .await
            .map_err(|source| BusError::Connect {
                url: config.redacted_url(),
                waited_s: 0,
                source,
            })?;
        let channel = connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        topology::declare_base(&channel, config).await?;
        let queues: Vec<QueueSpec> = self
            .inner
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for spec in &queues {
            topology::declare_queue(&channel, config, spec).await?;
        }
        let _ = channel.close(200, "declared".into()).await;
        let publisher = connection
            .create_channel()
            .await
            .map_err(BusError::amqp("channel.open"))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(BusError::amqp("confirm.select"))?;
        Ok(Live {
            connection: Arc::new(connection),
            publisher,
            generation: self.inner.generations.fetch_add(1, Ordering::Relaxed),
        })
    }
}
