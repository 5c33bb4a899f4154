//! Notifications: a change made on the cloud through its API is in the copy within a
//! second; malformed and unknown notifications are counted and survived.

use std::time::{Duration, Instant};

use holdfast_openstack::Filters;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::cloud::{self, license, register, resource, wait_listening, wait_synced};
use crate::helpers::{TestApp, eventually};
use crate::on_both_backends;

async fn within_a_second<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(1), check).await,
        "{what} did not reach the copy within a second"
    );
    eprintln!("{what}: {} ms", started.elapsed().as_millis());
}

async fn cloud_changes_arrive_through_notifications(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let id = register(app, &admin, cloud.body("c1", &group, true)).await;
    wait_synced(app, &admin, &id, Duration::from_secs(30)).await;
    wait_listening(app, &admin, &id).await;
    let s = cloud.session().await;
    // Volume created, resized, deleted.
    let vol = s
        .cinder()
        .create_volume(&holdfast_openstack::cinder::VolumeCreate {
            size: 1,
            name: Some("notified".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    within_a_second("volume created", || async {
        resource(app, &admin, &id, "volumes", &vol.id)
            .await
            .is_some_and(|v| v["status"] == "available")
    })
    .await;
    s.cinder().extend_volume(&vol.id, 3).await.unwrap();
    within_a_second("volume resized", || async {
        resource(app, &admin, &id, "volumes", &vol.id)
            .await
            .is_some_and(|v| v["document"]["size"] == 3)
    })
    .await;
    s.cinder().delete_volume(&vol.id).await.unwrap();
    within_a_second("volume deleted", || async {
        resource(app, &admin, &id, "volumes", &vol.id)
            .await
            .is_none()
    })
    .await;
    // Instance stopped.
    let server = s.nova().servers(&Filters::all_tenants()).await.unwrap()[0].clone();
    s.nova().stop_server(&server.id).await.unwrap();
    within_a_second("instance stopped", || async {
        resource(app, &admin, &id, "instances", &server.id)
            .await
            .is_some_and(|v| v["status"] == "SHUTOFF")
    })
    .await;
    // Network created and deleted.
    let net = s
        .neutron()
        .create_network(&holdfast_openstack::neutron::NetworkCreate {
            name: "notified-net".into(),
            admin_state_up: true,
            ..Default::default()
        })
        .await
        .unwrap();
    within_a_second("network created", || async {
        resource(app, &admin, &id, "networks", &net.id)
            .await
            .is_some()
    })
    .await;
    s.neutron().delete_network(&net.id).await.unwrap();
    within_a_second("network deleted", || async {
        resource(app, &admin, &id, "networks", &net.id)
            .await
            .is_none()
    })
    .await;
    // Security group and a rule.
    let sg = s
        .neutron()
        .create_security_group(&holdfast_openstack::neutron::SecurityGroupCreate {
            name: "notified-sg".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    within_a_second("security group created", || async {
        resource(app, &admin, &id, "security-groups", &sg.id)
            .await
            .is_some()
    })
    .await;
    let (_, before) = app
        .call(
            "GET",
            &format!(
                "/api/v1/clusters/{id}/resources/security-group-rules?parent_id={}",
                sg.id
            ),
            Some(&admin),
            None,
        )
        .await;
    let rule = s
        .neutron()
        .create_security_group_rule(&holdfast_openstack::neutron::SecurityGroupRuleCreate {
            security_group_id: sg.id.clone(),
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: Some("tcp".into()),
            port_range_min: Some(22),
            port_range_max: Some(22),
            ..Default::default()
        })
        .await
        .unwrap();
    within_a_second("security group rule created", || async {
        resource(app, &admin, &id, "security-group-rules", &rule.id)
            .await
            .is_some()
    })
    .await;
    s.neutron()
        .delete_security_group_rule(&rule.id)
        .await
        .unwrap();
    within_a_second("security group rule deleted", || async {
        resource(app, &admin, &id, "security-group-rules", &rule.id)
            .await
            .is_none()
    })
    .await;
    assert!(before["total"].as_i64().is_some());
    assert!(cloud::metric(app, "holdfast_cluster_notifications_total{").await >= 8.0);
    cloud.tc.shutdown().await;
}

async fn malformed_notifications_are_survived(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let id = register(app, &admin, cloud.body("c1", &group, true)).await;
    wait_synced(app, &admin, &id, Duration::from_secs(30)).await;
    wait_listening(app, &admin, &id).await;
    let conn = Connection::connect(&cloud::amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let unknown = serde_json::json!({"oslo.version": "2.0", "oslo.message":
        serde_json::json!({"event_type": "compute.metrics.update", "payload": {}}).to_string()})
    .to_string();
    let no_id = serde_json::json!({"oslo.version": "2.0", "oslo.message":
        serde_json::json!({"event_type": "volume.delete.end", "payload": {}}).to_string()})
    .to_string();
    let bodies: Vec<Vec<u8>> = vec![
        b"not json at all".to_vec(),
        br#"{"event_type": "volume.create.end"}"#.to_vec(),
        br#"{"oslo.message": "{broken"}"#.to_vec(),
        vec![0xff, 0xfe, 0x00],
        no_id.into_bytes(),
        unknown.into_bytes(),
    ];
    for b in &bodies {
        ch.basic_publish(
            cloud.exchanges[1].as_str().into(),
            "notifications.info".into(),
            BasicPublishOptions::default(),
            b,
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let counted = eventually(Duration::from_secs(5), || async {
        cloud::metric(app, "holdfast_cluster_notifications_total{").await >= 6.0
    })
    .await;
    assert!(counted, "the bad notifications were not counted");
    assert!(
        cloud::metric(
            app,
            &format!(
                "holdfast_cluster_notifications_total{{cluster=\"{id}\",outcome=\"malformed\"}}"
            )
        )
        .await
            >= 5.0
    );
    // The listener still applies real changes.
    let s = cloud.session().await;
    let vol = s
        .cinder()
        .create_volume(&holdfast_openstack::cinder::VolumeCreate {
            size: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || async {
            resource(app, &admin, &id, "volumes", &vol.id)
                .await
                .is_some()
        })
        .await
    );
    let _ = conn.close(200, "done".into()).await;
    // The broker URL (with its password) is neither shown nor audited in clear.
    let (_, audit) = app.call("GET", "/api/v1/audit", Some(&admin), None).await;
    assert!(audit["total"].as_i64().unwrap_or(0) > 0, "{audit}");
    let (_, view) = app
        .call("GET", &format!("/api/v1/clusters/{id}"), Some(&admin), None)
        .await;
    let url = cloud::amqp_url();
    let userinfo = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(u, _)| u.to_owned())
        .expect("the test broker URL has user:password@");
    for text in [audit.to_string(), view.to_string()] {
        assert!(!text.contains(&userinfo), "{text}");
    }
    // Deleting the cluster removes its queue from the broker.
    let (st, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/clusters/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let queue = format!("holdfast.cluster.{id}.notifications");
    let gone = eventually(Duration::from_secs(10), || async {
        let Ok(c) = Connection::connect(&cloud::amqp_url(), ConnectionProperties::default()).await
        else {
            return false;
        };
        let Ok(ch) = c.create_channel().await else {
            return false;
        };
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let exists = ch
            .queue_declare(
                queue.as_str().into(),
                passive,
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = c.close(200, "checked".into()).await;
        !exists
    })
    .await;
    assert!(gone, "queue {queue} still exists");
    cloud.tc.shutdown().await;
}

on_both_backends!(
    cloud_changes_arrive_through_notifications,
    malformed_notifications_are_survived
);
