//! Idempotent declaration of the exchanges, queues and bindings of [`Names`].

use holdfast_protocol::NodeId;
use holdfast_protocol::names::{ALL_EVENTS_BINDING, Names};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::{BusConfig, BusError};

/// A work queue some process asked for, re-declared after every reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueSpec {
    pub(crate) name: String,
    pub(crate) exchange: String,
    pub(crate) binding_key: String,
}

impl QueueSpec {
    pub(crate) fn orchestrator(names: &Names) -> QueueSpec {
        QueueSpec {
            name: names.orchestrator_queue(),
            exchange: names.events_exchange(),
            binding_key: ALL_EVENTS_BINDING.to_owned(),
        }
    }

    pub(crate) fn agent(names: &Names, node: &NodeId) -> QueueSpec {
        QueueSpec {
            name: names.agent_queue(node),
            exchange: names.commands_exchange(),
            binding_key: Names::command_key(node),
        }
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

/// Declares the exchanges and the dead-letter queue.
pub(crate) async fn declare_base(channel: &Channel, config: &BusConfig) -> Result<(), BusError> {
    let names = &config.names;
    for (name, kind) in [
        (names.commands_exchange(), ExchangeKind::Direct),
        (names.events_exchange(), ExchangeKind::Topic),
        (names.dead_letter_exchange(), ExchangeKind::Fanout),
    ] {
        channel
            .exchange_declare(
                name.as_str().into(),
                kind,
                durable_exchange(),
                FieldTable::default(),
            )
            .await
            .map_err(BusError::amqp("exchange.declare"))?;
    }
    let dlq = names.dead_letter_queue();
    channel
        .queue_declare(
            dlq.as_str().into(),
            QueueDeclareOptions::durable(),
            queue_type(config, false),
        )
        .await
        .map_err(BusError::amqp("queue.declare (dead-letter)"))?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            names.dead_letter_exchange().as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(BusError::amqp("queue.bind (dead-letter)"))?;
    Ok(())
}

/// Declares one work queue (dead-lettering into the dead-letter exchange) and binds it.
pub(crate) async fn declare_queue(
    channel: &Channel,
    config: &BusConfig,
    spec: &QueueSpec,
) -> Result<(), BusError> {
    channel
        .queue_declare(
            spec.name.as_str().into(),
            QueueDeclareOptions::durable(),
            queue_type(config, true),
        )
        .await
        .map_err(BusError::amqp("queue.declare"))?;
    channel
        .queue_bind(
            spec.name.as_str().into(),
            spec.exchange.as_str().into(),
            spec.binding_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(BusError::amqp("queue.bind"))?;
    Ok(())
}

fn queue_type(config: &BusConfig, dead_letter: bool) -> FieldTable {
    let mut args = FieldTable::default();
    if config.quorum_queues {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        if dead_letter {
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongUInt(config.delivery_limit),
            );
        }
    }
    if dead_letter {
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(config.names.dead_letter_exchange())),
        );
    }
    args
}
