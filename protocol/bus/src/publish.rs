//! Publishing with publisher confirms, retried across reconnects.

use std::time::Instant;

use holdfast_protocol::Envelope;
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Confirmation};

use crate::{Bus, BusError};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;
pub(crate) const CONTENT_TYPE: &str = "application/msgpack";

pub(crate) fn properties(envelope: &Envelope) -> BasicProperties {
    let header = &envelope.header;
    let mut props = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(header.message_id.to_string().into())
        .with_type(envelope.kind().as_str().into())
        .with_app_id(ShortString::from(header.sender.to_string()))
        .with_timestamp(header.sent_at.0 / 1000);
    if let Some(c) = header.correlation_id {
        props = props.with_correlation_id(c.to_string().into());
    }
    props
}

impl Bus {
    /// Publishes `envelope` and waits for the broker's confirm. On a connection or
    /// channel failure, or a nack, the same bytes (same message id) are published
    /// again after reconnecting, until `publish_timeout`. A message routed to no queue
    /// fails at once with [`BusError::Unroutable`].
    #[tracing::instrument(skip_all, fields(kind = %envelope.kind(), message_id = %envelope.header.message_id, routing_key))]
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<(), BusError> {
        let payload = envelope.encode()?;
        let props = properties(envelope);
        let timeout = self.inner.config.publish_timeout;
        let started = Instant::now();
        let mut backoff = self.backoff();
        loop {
            if self.is_closed() {
                return Err(BusError::Closed);
            }
            let remaining = timeout.saturating_sub(started.elapsed());
            let attempt = tokio::time::timeout(
                remaining,
                self.publish_once(exchange, routing_key, &payload, props.clone()),
            )
            .await;
            match attempt {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e @ (BusError::Unroutable { .. } | BusError::Closed))) => return Err(e),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "publish not confirmed; retrying");
                }
                Err(_) => {}
            }
            if started.elapsed() >= timeout {
                return Err(BusError::PublishTimeout {
                    kind: envelope.kind().to_string(),
                    waited_s: timeout.as_secs(),
                });
            }
            tokio::time::sleep(
                backoff
                    .next_delay()
                    .min(timeout.saturating_sub(started.elapsed())),
            )
            .await;
        }
    }

    async fn publish_once(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
        props: BasicProperties,
    ) -> Result<(), BusError> {
        let live = self.live().await?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = match live
            .publisher
            .basic_publish(exchange.into(), routing_key.into(), options, payload, props)
            .await
        {
            Ok(confirm) => confirm,
            Err(source) => {
                self.mark_broken(live.generation).await;
                return Err(BusError::Amqp {
                    operation: "basic.publish",
                    source,
                });
            }
        };
        match confirm.await {
            Ok(Confirmation::Ack(returned)) => match returned {
                Some(_) => Err(BusError::Unroutable {
                    exchange: exchange.to_owned(),
                    routing_key: routing_key.to_owned(),
                }),
                None => Ok(()),
            },
            Ok(Confirmation::Nack(_)) => {
                Err(BusError::NotConfirmed("the broker nacked the message"))
            }
            Ok(Confirmation::NotRequested) => {
                self.mark_broken(live.generation).await;
                Err(BusError::NotConfirmed(
                    "the channel was not in confirm mode",
                ))
            }
            Err(source) => {
                self.mark_broken(live.generation).await;
                Err(BusError::Amqp {
                    operation: "publisher confirm",
                    source,
                })
            }
        }
    }
}
