use holdfast_protocol::{DecodeError, EncodeError};

/// What went wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(
        "cannot connect to RabbitMQ at {url} within {waited_s} s: {source}; is the broker running and are the credentials right?"
    )]
    Connect {
        url: String,
        waited_s: u64,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ error during {operation}: {source}")]
    Amqp {
        operation: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error(
        "no queue is bound for routing key {routing_key:?} on exchange {exchange:?}; has the receiving side declared its queue?"
    )]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error(
        "publishing {kind} did not complete within {waited_s} s (broker unreachable or refusing the message)"
    )]
    PublishTimeout { kind: String, waited_s: u64 },
    #[error("message not confirmed: {0}")]
    NotConfirmed(&'static str),
    #[error("consumer interrupted: {0}")]
    Interrupted(&'static str),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the bus was shut down")]
    Closed,
}

impl BusError {
    pub(crate) fn amqp(operation: &'static str) -> impl FnOnce(lapin::Error) -> BusError {
        move |source| BusError::Amqp { operation, source }
    }
}
