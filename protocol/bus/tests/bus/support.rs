use std::future::Future;
use std::time::{Duration, Instant};

use holdfast_bus::{Bus, BusConfig};
use holdfast_protocol::messages::ReplicationState;
use holdfast_protocol::messages::ReplicationStatus;
use holdfast_protocol::names::Names;
use holdfast_protocol::{Envelope, NodeId, Sender, UnixMillis, VolumeId};

pub(crate) fn amqp_url() -> String {
    std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub(crate) fn test_config(namespace: &str, url: String, name: &str) -> BusConfig {
    let mut config = BusConfig::new(url, Names::new(namespace), name);
    config.reconnect_initial = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(500);
    config.connect_timeout = Duration::from_secs(10);
    config.publish_timeout = Duration::from_secs(30);
    config
}

pub(crate) fn namespace() -> String {
    format!("hf-test-{}", uuid::Uuid::new_v4().simple())
}

/// Logs to the test's output when `RUST_LOG` is set.
pub(crate) fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub(crate) async fn connect(namespace: &str, name: &str) -> Bus {
    Bus::connect(test_config(namespace, amqp_url(), name))
        .await
        .expect("RabbitMQ must be running for the bus tests")
}

pub(crate) fn node(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

pub(crate) fn status(node_id: &NodeId, seq: u64) -> Envelope {
    Envelope::new(
        Sender::Node(node_id.clone()),
        ReplicationStatus {
            volume_id: VolumeId(format!("vol-{seq}")),
            node_id: node_id.clone(),
            state: ReplicationState::Replicating,
            acked_epoch: seq,
            size_bytes: 1 << 30,
            initial_copy_bytes: 1 << 30,
            bytes_sent_total: seq * 4096,
            last_cycle_bytes: 4096,
            throughput_bps: 1 << 20,
            lag_ms: Some(10),
            last_synced_at: Some(UnixMillis::now()),
            last_error: None,
        },
        UnixMillis::now(),
    )
}

/// Polls `check` until it returns true or `within` has passed.
pub(crate) async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
