//! Who sees what: Admin all; others their groups' clusters and those clusters'
//! resources; the permission table for changes.

use std::time::Duration;

use super::cloud::{self, license, register, wait_synced};
use crate::helpers::TestApp;
use crate::on_both_backends;

async fn visibility_follows_groups(app: &TestApp) {
    let admin = app.admin().await;
    let own = app.create_group(&admin, "own").await;
    let other = app.create_group(&admin, "other").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let (m, mpw) = app.create_user(&admin, "mgr", "manager", &[&own]).await;
    let manager = app.login(&m, &mpw).await;
    let (o, opw) = app.create_user(&admin, "op", "operator", &[&own]).await;
    let operator = app.login(&o, &opw).await;
    let (v, vpw) = app
        .create_user(&admin, "outsider", "viewer", &[&other])
        .await;
    let outsider = app.login(&v, &vpw).await;
    // A Manager registers only into own groups.
    let (s, b) = app
        .call(
            "POST",
            "/api/v1/clusters",
            Some(&manager),
            Some(cloud.body("x", &other, false)),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    let id = register(app, &manager, cloud.body("mine", &own, false)).await;
    wait_synced(app, &manager, &id, Duration::from_secs(30)).await;
    let paths = [
        format!("/api/v1/clusters/{id}"),
        format!("/api/v1/clusters/{id}/resources/instances"),
        format!("/api/v1/clusters/{id}/unprotected-instances"),
    ];
    for (who, token, allowed) in [
        ("admin", &admin, true),
        ("manager", &manager, true),
        ("operator", &operator, true),
        ("outsider", &outsider, false),
    ] {
        let (_, list) = app.call("GET", "/api/v1/clusters", Some(token), None).await;
        assert_eq!(list["total"], i64::from(allowed), "{who}: {list}");
        for p in &paths {
            let (s, _) = app.call("GET", p, Some(token), None).await;
            assert_eq!(s, if allowed { 200 } else { 403 }, "{who} {p}");
        }
    }
    let server = {
        let (_, page) = app.call("GET", &paths[1], Some(&operator), None).await;
        page["items"][0]["id"].as_str().unwrap().to_owned()
    };
    let one = format!("/api/v1/clusters/{id}/resources/instances/{server}");
    assert_eq!(app.call("GET", &one, Some(&operator), None).await.0, 200);
    assert_eq!(app.call("GET", &one, Some(&outsider), None).await.0, 403);
    // Operators and Viewers read only.
    let sync = format!("/api/v1/clusters/{id}/sync");
    assert_eq!(app.call("POST", &sync, Some(&operator), None).await.0, 403);
    assert_eq!(
        app.call(
            "PATCH",
            &paths[0],
            Some(&operator),
            Some(serde_json::json!({"description": "x"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call("DELETE", &paths[0], Some(&outsider), None).await.0,
        403
    );
    assert_eq!(app.call("POST", &sync, Some(&manager), None).await.0, 202);
    cloud.tc.shutdown().await;
}

on_both_backends!(visibility_follows_groups);
