//! Registration: the connection check names each failed step; update, rotation, delete.

use serde_json::json;

use super::cloud::{self, license, register, show, wait_synced};
use crate::helpers::{TestApp, error_code};
use crate::on_both_backends;

async fn code_of(app: &TestApp, token: &str, body: serde_json::Value) -> (u16, String) {
    let (s, b) = app
        .call("POST", "/api/v1/clusters", Some(token), Some(body))
        .await;
    (s, error_code(&b))
}

async fn register_checks_each_step(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    // No licence yet.
    assert_eq!(
        code_of(app, &admin, cloud.body("c1", &group, false)).await,
        (403, "licence_refused".into())
    );
    license(app, &admin).await;
    let mut bad = cloud.body("c1", &group, false);
    bad["credential"]["password"] = json!("wrong");
    assert_eq!(
        code_of(app, &admin, bad).await,
        (422, "cluster_bad_credential".into())
    );
    let mut bad = cloud.body("c1", &group, false);
    bad["credential"]["project"] = json!("no-such-project");
    assert_eq!(
        code_of(app, &admin, bad).await,
        (422, "cluster_bad_project".into())
    );
    let mut bad = cloud.body("c1", &group, false);
    bad["credential"] = json!({"username": "member", "password": "member-pw", "project": "admin"});
    assert_eq!(
        code_of(app, &admin, bad).await,
        (422, "cluster_not_admin".into())
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut bad = cloud.body("c1", &group, false);
    bad["auth_url"] = json!(format!("http://{closed}/v3"));
    assert_eq!(
        code_of(app, &admin, bad).await,
        (422, "cluster_unreachable".into())
    );
    let mut bad = cloud.body("c1", &group, true);
    bad["notification_broker_url"] = json!(format!("amqp://guest:guest@{closed}/%2f"));
    assert_eq!(
        code_of(app, &admin, bad).await,
        (422, "notification_broker_unreachable".into())
    );
    for (field, value) in [
        ("name", json!("bad name!")),
        ("platform", json!("vmware")),
        ("auth_url", json!("ftp://x")),
        (
            "storage",
            json!([{"type": "file", "backend": "b", "node": "n", "path_prefix": "rel"}]),
        ),
    ] {
        let mut bad = cloud.body("c1", &group, false);
        bad[field] = value;
        assert_eq!(code_of(app, &admin, bad).await.0, 422, "{field}");
    }
    // The good one, then the duplicate name.
    let id = register(app, &admin, cloud.body("c1", &group, false)).await;
    assert_eq!(
        code_of(app, &admin, cloud.body("c1", &group, false)).await,
        (409, "conflict".into())
    );
    let v = wait_synced(app, &admin, &id, std::time::Duration::from_secs(30)).await;
    assert_eq!(v["status"], "active");
    assert!(v["sync_error"].is_null(), "{v}");
    assert_eq!(v["resource_counts"]["instances"], 6, "{v}");
    let text = v.to_string();
    assert!(!text.contains(cloud.tc.admin_password()), "{text}");
    let (_, events) = app
        .call(
            "GET",
            "/api/v1/events?code=cluster.registered",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(events["total"], 1, "{events}");
    cloud.tc.shutdown().await;
}

async fn update_rotate_and_delete(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let id = register(app, &admin, cloud.body("c1", &group, false)).await;
    let path = format!("/api/v1/clusters/{id}");
    let storage = json!([{"type": "ceph", "backend": "rbd", "monitors": ["10.0.0.1:6789"],
        "pool": "volumes", "client": "cinder", "keyring_ref": "/etc/ceph/ceph.client.cinder.keyring"}]);
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"name": "클러스터-1", "description": "d", "storage": storage})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "클러스터-1");
    assert_eq!(b["storage"][0]["pool"], "volumes");
    // Immutable fields are refused.
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"auth_url": "http://x/v3"})),
        )
        .await;
    assert!(s == 422 || s == 400, "{s} {b}");
    // Rotation: the old password must match, the new one must authenticate.
    let pw = cloud.tc.admin_password().to_owned();
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"password": {"old_password": "nope", "new_password": pw}})),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "invalid_field".into()), "{b}");
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"password": {"old_password": pw, "new_password": "not-the-password"}})),
        )
        .await;
    assert_eq!(
        (s, error_code(&b)),
        (422, "cluster_bad_credential".into()),
        "{b}"
    );
    let (s, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"password": {"old_password": pw, "new_password": pw}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, events) = app
        .call(
            "GET",
            "/api/v1/events?code=cluster.password_rotated",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(events["total"], 1, "{events}");
    wait_synced(app, &admin, &id, std::time::Duration::from_secs(30)).await;
    let (s, _) = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(s, 204);
    let (s, _) = app.call("GET", &path, Some(&admin), None).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            "GET",
            &format!("{path}/resources/instances"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let _ = show;
    cloud.tc.shutdown().await;
}

on_both_backends!(register_checks_each_step, update_rotate_and_delete);

/// The stored credential is not in the database file in clear text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_encrypted_at_rest() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(&app, &admin).await;
    let password = format!("Pw-{}", uuid::Uuid::new_v4().simple());
    let fx = cloud::small_fixture();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let tc = holdfast_testcloud::TestCloud::start(holdfast_testcloud::Config {
        admin_password: password.clone(),
        ..holdfast_testcloud::Config::default()
    })
    .await
    .unwrap();
    tc.engine().load_fixture(&fx).unwrap();
    let body = json!({"name": format!("enc-{tag}"), "owner_group_id": group, "auth_url": tc.auth_url(),
        "credential": {"username": "admin", "password": password, "project": "admin"}});
    let id = register(&app, &admin, body).await;
    wait_synced(&app, &admin, &id, std::time::Duration::from_secs(30)).await;
    let data = app.config.data_dir.clone();
    let mut found = false;
    for f in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap_or_default();
        if bytes
            .windows(password.len())
            .any(|w| w == password.as_bytes())
        {
            found = true;
        }
    }
    assert!(
        !found,
        "the password is stored in clear text under {}",
        data.display()
    );
    assert!(data.join("secrets.key").exists());
    tc.shutdown().await;
    app.stop().await;
}
