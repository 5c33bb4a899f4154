use std::time::Duration;

use holdfast_protocol::names::Names;

/// How to reach RabbitMQ and how to behave on it.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `amqp://user:password@host:port/vhost` (or `amqps://` with TLS).
    pub url: String,
    /// Names of the exchanges and queues (the namespace is `holdfast` in production).
    pub names: Names,
    /// Shown in the RabbitMQ management UI, e.g. `agent-compute-01`.
    pub connection_name: String,
    /// Unacknowledged deliveries a subscription may hold at once.
    pub prefetch: u16,
    /// Use quorum queues (replicated, RabbitMQ ≥ 3.8); classic durable queues otherwise.
    pub quorum_queues: bool,
    /// Deliveries of one message before a quorum queue dead-letters it.
    pub delivery_limit: u32,
    /// Backoff between reconnection attempts.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    /// How long [`crate::Bus::connect`] keeps trying before it gives up.
    pub connect_timeout: Duration,
    /// How long a publish may take, reconnects included, before it fails.
    pub publish_timeout: Duration,
    /// Message ids a subscription remembers for dropping redeliveries.
    pub dedup_capacity: usize,
}

impl BusConfig {
    pub fn new(url: impl Into<String>, names: Names, connection_name: impl Into<String>) -> Self {
        BusConfig {
            url: url.into(),
            names,
            connection_name: connection_name.into(),
            prefetch: 32,
            quorum_queues: true,
            delivery_limit: 20,
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            publish_timeout: Duration::from_secs(60),
            dedup_capacity: 100_000,
        }
    }

    /// The URL with any password replaced, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("amqp://agent:s3cr%40t@mq.example:5672/prod"),
            "amqp://agent:***@mq.example:5672/prod"
        );
        assert_eq!(redact_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
