//! oslo.messaging notifications reach RabbitMQ (127.0.0.1:5672, guest/guest) on the
//! configured exchanges with the real envelope and event types.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};

use crate::support::{Creds, Session, spawn_with, unique};

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[tokio::test]
async fn notifications_use_the_oslo_envelope_on_configured_exchanges() {
    let tag = unique("tc");
    let (nova, openstack, neutron) = (
        format!("{tag}-nova"),
        format!("{tag}-openstack"),
        format!("{tag}-neutron"),
    );
    let conn = Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("RabbitMQ on 127.0.0.1:5672 (guest/guest)");
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{tag}-notifications.info");
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    for ex in [&nova, &openstack, &neutron] {
        ch.exchange_declare(
            ex.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                auto_delete: false,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_bind(
            queue.as_str().into(),
            ex.as_str().into(),
            "notifications.info".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let cloud = spawn_with(|c| {
        c.notifications.url = Some(BROKER.into());
        c.notifications.compute_exchange = nova.clone();
        c.notifications.volume_exchange = openstack.clone();
        c.notifications.identity_exchange = openstack.clone();
        c.notifications.network_exchange = neutron.clone();
    })
    .await;
    let s = Session::login(&Creds::admin_of(&cloud)).await;
    s.post(
        &format!("{}/projects", s.identity),
        json!({"project": {"name": unique("notified")}}),
    )
    .await;
    let net_id = s
        .post(
            &format!("{}/networks", s.network),
            json!({"network": {"name": "n"}}),
        )
        .await
        .body["network"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.delete(&format!("{}/networks/{net_id}", s.network)).await;
    let vid = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": 1}}),
        )
        .await
        .body["volume"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let wanted = [
        "identity.project.created",
        "network.create.end",
        "network.delete.end",
        "volume.create.start",
        "volume.create.end",
    ];
    let mut seen: Vec<(String, Value, String)> = vec![];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !wanted.iter().all(|w| seen.iter().any(|(e, _, _)| e == w)) {
        let next = tokio::time::timeout_at(deadline, consumer.next())
            .await
            .expect("notifications arrive in time")
            .expect("consumer open")
            .unwrap();
        let outer: Value = serde_json::from_slice(&next.data).unwrap();
        assert_eq!(outer["oslo.version"], "2.0");
        let inner: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
        assert_eq!(inner["priority"], "INFO");
        assert!(inner["message_id"].as_str().is_some() && inner["timestamp"].as_str().is_some());
        seen.push((
            inner["event_type"].as_str().unwrap().to_owned(),
            inner,
            next.exchange.to_string(),
        ));
        next.ack(BasicAckOptions::default()).await.unwrap();
    }
    let find = |e: &str| seen.iter().find(|(x, _, _)| x == e).unwrap();
    let (_, vol, ex) = find("volume.create.end");
    assert_eq!(ex, &openstack);
    assert_eq!(vol["payload"]["volume_id"], vid.as_str());
    assert_eq!(vol["payload"]["status"], "available");
    assert!(vol["publisher_id"].as_str().unwrap().starts_with("volume."));
    let (_, net, ex) = find("network.create.end");
    assert_eq!(ex, &neutron);
    assert_eq!(net["payload"]["network"]["name"], "n");
    // As the real Neutron: the deleted network beside its id.
    let (_, gone, _) = find("network.delete.end");
    assert_eq!(gone["payload"]["network_id"], net_id.as_str());
    assert_eq!(gone["payload"]["network"]["name"], "n");
    let (_, proj, ex) = find("identity.project.created");
    assert_eq!(ex, &openstack);
    assert!(proj["payload"]["resource_info"].as_str().is_some());
    // The broker may deliver before the sender has counted its publish.
    let admin = cloud.admin_url();
    crate::support::eventually("the sent counter", 10, || async {
        let counters: Value = reqwest::get(format!("{admin}/counters"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (counters["notifications"]["sent"].as_u64()? >= 5).then_some(())
    })
    .await;
    cloud.shutdown().await;
    for ex in [&nova, &openstack, &neutron] {
        let _ = ch
            .exchange_delete(ex.as_str().into(), Default::default())
            .await;
    }
}
