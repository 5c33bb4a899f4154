use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdfast_bus::Bus;
use uuid::Uuid;

use crate::proxy::Proxy;
use crate::support::{namespace, node, status, test_config};

fn broker_addr() -> SocketAddr {
    std::env::var("HOLDFAST_TEST_AMQP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:5672".into())
        .parse()
        .expect("HOLDFAST_TEST_AMQP_ADDR must be host:port")
}

/// Publisher and consumer both reach the broker through proxies whose connections are
/// cut several times mid-stream. Every publish must eventually be confirmed, every
/// confirmed message must reach the consumer, and no message may be handed to the
/// consumer's handler twice.
#[tokio::test]
async fn confirmed_messages_survive_connection_loss() {
    crate::support::init_logs();
    let ns = namespace();
    let pub_proxy = Proxy::start(broker_addr()).await;
    let sub_proxy = Proxy::start(broker_addr()).await;
    let publisher = Bus::connect(test_config(&ns, pub_proxy.url(), "publisher"))
        .await
        .unwrap();
    let consumer = Bus::connect(test_config(&ns, sub_proxy.url(), "consumer"))
        .await
        .unwrap();
    let queue = consumer.declare_orchestrator_queue().await.unwrap();

    let handled: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let mut sub = consumer.subscribe(&queue).await.unwrap();
    let sink = Arc::clone(&handled);
    let consuming = tokio::spawn(async move {
        while let Some(d) = sub.next().await {
            *sink
                .lock()
                .unwrap()
                .entry(d.envelope().header.message_id)
                .or_default() += 1;
            // An ack lost with a cut connection is fine: the redelivery is deduplicated.
            let _ = d.ack().await;
        }
    });

    let n1 = node("n1");
    let mut confirmed = Vec::new();
    let mut cuts = 0;
    for seq in 0..300u64 {
        match seq {
            60 => cuts += pub_proxy.cut(),
            120 => cuts += sub_proxy.cut(),
            200 => cuts += pub_proxy.cut() + sub_proxy.cut(),
            _ => {}
        }
        let env = status(&n1, seq);
        publisher
            .publish_event(&n1, &env)
            .await
            .unwrap_or_else(|e| panic!("publish {seq} failed across reconnects: {e}"));
        confirmed.push(env.header.message_id);
    }
    assert!(cuts >= 4, "the proxies cut {cuts} connections");

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<usize> = {
            let h = handled.lock().unwrap();
            (0..confirmed.len())
                .filter(|i| !h.contains_key(&confirmed[*i]))
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let depth = publisher.queue_depth(&queue).await;
            panic!("confirmed but never consumed: seqs {missing:?}; ready in queue: {depth:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handled = handled.lock().unwrap().clone();
    let twice: Vec<_> = handled.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    assert_eq!(handled.len(), confirmed.len());

    consuming.abort();
    publisher.delete_namespace().await.unwrap();
    publisher.close().await;
    consumer.close().await;
}
