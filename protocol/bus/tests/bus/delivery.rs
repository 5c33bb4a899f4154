use std::time::Duration;

use holdfast_bus::{Bus, BusError};
use holdfast_protocol::messages::{ReplicationAck, ReplicationPause, ReplicationState};
use holdfast_protocol::{Envelope, MessageKind, Sender, UnixMillis, VolumeId};
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use crate::support::{amqp_url, connect, eventually, namespace, node, status, test_config};

#[tokio::test]
async fn a_command_reaches_its_agent_and_the_reply_correlates() {
    let ns = namespace();
    let orchestrator = connect(&ns, "orchestrator").await;
    let agent = connect(&ns, "agent-n1").await;
    let n1 = node("n1");
    let events = orchestrator.declare_orchestrator_queue().await.unwrap();
    let commands = agent.declare_agent_queue(&n1).await.unwrap();

    let request = Envelope::new(
        Sender::Orchestrator,
        ReplicationPause {
            volume_id: VolumeId("v1".into()),
        },
        UnixMillis::now(),
    );
    orchestrator.publish_command(&n1, &request).await.unwrap();

    let mut inbox = agent.subscribe(&commands).await.unwrap();
    let got = inbox.next().await.unwrap();
    assert_eq!(got.envelope(), &request);
    assert!(!got.redelivered());
    got.ack().await.unwrap();

    let reply = request.reply(
        Sender::Node(n1.clone()),
        ReplicationAck {
            volume_id: VolumeId("v1".into()),
            state: ReplicationState::Paused,
        },
        UnixMillis::now(),
    );
    agent.publish_event(&n1, &reply).await.unwrap();
    let mut replies = orchestrator.subscribe(&events).await.unwrap();
    let got = replies.next().await.unwrap();
    assert_eq!(
        got.envelope().header.correlation_id,
        Some(request.header.message_id)
    );
    assert_eq!(got.envelope().kind(), MessageKind::ReplicationAck);
    got.ack().await.unwrap();

    orchestrator.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn a_command_for_an_unknown_agent_is_refused_clearly() {
    let ns = namespace();
    let bus = connect(&ns, "orchestrator").await;
    let env = Envelope::new(
        Sender::Orchestrator,
        ReplicationPause {
            volume_id: VolumeId("v1".into()),
        },
        UnixMillis::now(),
    );
    let err = bus
        .publish_command(&node("nobody"), &env)
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Unroutable { .. }), "{err:?}");
    assert!(err.to_string().contains("declared its queue"));
    bus.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn undecodable_messages_go_to_the_dead_letter_queue() {
    let ns = namespace();
    let bus = connect(&ns, "orchestrator").await;
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let n1 = node("n1");

    // Another client writes garbage straight onto the events exchange.
    let raw = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = raw.create_channel().await.unwrap();
    channel
        .basic_publish(
            bus.names().events_exchange().as_str().into(),
            "n1.agent.heartbeat".into(),
            BasicPublishOptions::default(),
            b"\xc1 definitely not msgpack",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let good = status(&n1, 1);
    bus.publish_event(&n1, &good).await.unwrap();

    let mut sub = bus.subscribe(&queue).await.unwrap();
    let got = sub.next().await.unwrap();
    assert_eq!(
        got.envelope(),
        &good,
        "the garbage was skipped, the next message delivered"
    );
    got.ack().await.unwrap();
    let dlq = bus.names().dead_letter_queue();
    eventually(
        Duration::from_secs(10),
        "garbage in the dead-letter queue",
        || async { bus.queue_depth(&dlq).await.unwrap() == 1 },
    )
    .await;
    let _ = raw.close(200, "done".into()).await;
    bus.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn redeliveries_of_handled_messages_are_dropped() {
    let ns = namespace();
    let bus = connect(&ns, "orchestrator").await;
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let n1 = node("n1");
    let first = status(&n1, 1);
    let marker = status(&n1, 2);
    // The same message published twice, as a publisher retrying after a lost confirm does.
    bus.publish_event(&n1, &first).await.unwrap();
    bus.publish_event(&n1, &first).await.unwrap();
    bus.publish_event(&n1, &marker).await.unwrap();

    let mut sub = bus.subscribe(&queue).await.unwrap();
    let a = sub.next().await.unwrap();
    assert_eq!(a.envelope(), &first);
    a.ack().await.unwrap();
    // The queue is FIFO: reaching the marker means the duplicate came and was dropped.
    let b = sub.next().await.unwrap();
    assert_eq!(b.envelope(), &marker);
    b.ack().await.unwrap();
    eventually(Duration::from_secs(10), "queue drained", || async {
        bus.queue_depth(&queue).await.unwrap() == 0
    })
    .await;
    bus.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn unacknowledged_messages_come_back_to_the_next_consumer() {
    let ns = namespace();
    let bus = connect(&ns, "orchestrator").await;
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let n1 = node("n1");
    let env = status(&n1, 7);
    bus.publish_event(&n1, &env).await.unwrap();

    let mut sub = bus.subscribe(&queue).await.unwrap();
    let got = sub.next().await.unwrap();
    assert_eq!(got.envelope(), &env);
    drop(got);
    drop(sub); // the process "dies" before acking

    let mut again = bus.subscribe(&queue).await.unwrap();
    let got = again.next().await.unwrap();
    assert_eq!(got.envelope(), &env);
    assert!(got.redelivered());
    got.ack().await.unwrap();
    bus.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn retry_later_requeues_and_prefetch_bounds_unacked_deliveries() {
    let ns = namespace();
    let mut config = test_config(&ns, amqp_url(), "orchestrator");
    config.prefetch = 3;
    let bus = Bus::connect(config).await.unwrap();
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let n1 = node("n1");
    for i in 0..10 {
        bus.publish_event(&n1, &status(&n1, i)).await.unwrap();
    }
    let mut sub = bus.subscribe(&queue).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(sub.next().await.unwrap());
    }
    eventually(
        Duration::from_secs(10),
        "7 messages still ready in the queue",
        || async { bus.queue_depth(&queue).await.unwrap() == 7 },
    )
    .await;
    let first = held.remove(0);
    first.retry_later().await.unwrap();
    for d in held {
        d.ack().await.unwrap();
    }
    // Everything left, including the requeued one, arrives.
    let mut rest = 0;
    while rest < 8 {
        let d = sub.next().await.unwrap();
        d.ack().await.unwrap();
        rest += 1;
    }
    eventually(Duration::from_secs(10), "queue drained", || async {
        bus.queue_depth(&queue).await.unwrap() == 0
    })
    .await;
    bus.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_broker_fails_with_an_actionable_error() {
    let mut config = test_config(
        &namespace(),
        "amqp://guest:secret@127.0.0.1:1/%2f".into(),
        "x",
    );
    config.connect_timeout = Duration::from_millis(300);
    let err = Bus::connect(config).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    assert!(text.contains("is the broker running"), "{text}");
    assert!(!text.contains("secret"), "password leaked: {text}");
}
