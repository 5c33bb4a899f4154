//! Who may do what with jobs and reports (the permission table of platform.md through
//! `rbac::decide`, with the object's owner group), and the live monitor stream.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;
use crate::helpers::{Backend, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_and_groups_decide() {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(Backend::Sqlite, &w, engine_options()).await;
    let owner = w.source.owner_group.lock().unwrap().clone();
    let other = ctx.app.create_group(&ctx.admin, "elsewhere").await;
    let app = &ctx.app;
    let (_, p) = app
        .create_user(&ctx.admin, "viewer1", "viewer", &[&owner])
        .await;
    let viewer = app.login("viewer1", &p).await;
    let (_, p) = app
        .create_user(&ctx.admin, "operator1", "operator", &[&owner])
        .await;
    let operator = app.login("operator1", &p).await;
    let (_, p) = app
        .create_user(&ctx.admin, "stranger", "manager", &[&other])
        .await;
    let stranger = app.login("stranger", &p).await;
    let body = json!({"plan_id": "plan-a", "type": "drill", "run_type": "now",
        "recovery_point": "latest-snapshot"});

    // a Viewer reads but does not create; a Manager of another group does not create
    let (s, b) = app
        .call("POST", "/api/v1/jobs", Some(&viewer), Some(body.clone()))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (403, "forbidden"));
    let (s, b) = app
        .call("POST", "/api/v1/jobs", Some(&stranger), Some(body.clone()))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (403, "forbidden"), "{b}");
    // an Operator of the owner group creates and operates
    let (s, b) = app
        .call("POST", "/api/v1/jobs", Some(&operator), Some(body))
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    ctx.wait_state(&id, "completed").await;
    for (token, want) in [(&viewer, 200), (&operator, 200), (&stranger, 403)] {
        let (s, _) = app
            .call("GET", &format!("/api/v1/jobs/{id}"), Some(token), None)
            .await;
        assert_eq!(s, want);
        let (s, _) = app
            .call(
                "GET",
                &format!("/api/v1/jobs/{id}/monitor"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, want);
    }
    let (_, l) = app.call("GET", "/api/v1/jobs", Some(&stranger), None).await;
    assert_eq!(l["total"], 0, "{l}");
    let (_, l) = app.call("GET", "/api/v1/jobs", Some(&viewer), None).await;
    assert_eq!(l["total"], 1, "{l}");
    let path = format!("/api/v1/jobs/{id}/operations/rollback");
    for token in [&viewer, &stranger] {
        let (s, b) = app.call("POST", &path, Some(token), None).await;
        assert_eq!((s, error_code(&b).as_str()), (403, "forbidden"));
    }
    let (s, b) = app.call("POST", &path, Some(&operator), None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    // reports: read by the group, deleted by an Operator but not a Viewer
    let rid = ctx.report_of(&id).await["id"].as_str().unwrap().to_owned();
    let rpath = format!("/api/v1/reports/{rid}");
    let (s, _) = app.call("GET", &rpath, Some(&viewer), None).await;
    assert_eq!(s, 200);
    let (s, _) = app.call("GET", &rpath, Some(&stranger), None).await;
    assert_eq!(s, 403);
    let (_, l) = app
        .call("GET", "/api/v1/reports", Some(&stranger), None)
        .await;
    assert_eq!(l["total"], 0);
    let (s, _) = app.call("DELETE", &rpath, Some(&viewer), None).await;
    assert_eq!(s, 403);
    let (s, _) = app.call("DELETE", &rpath, Some(&operator), None).await;
    assert_eq!(s, 204);
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_sends_the_monitor_then_changes() {
    let w = world(1, 1, slow()).await;
    let ctx = start(Backend::Postgres, &w, engine_options()).await;
    let id = ctx.drill_now("plan-a").await;
    let resp = ctx
        .app
        .client
        .get(ctx.app.url(&format!("/api/v1/jobs/{id}/stream")))
        .bearer_auth(&ctx.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resp = resp;
    let mut text = String::new();
    let mut states = Vec::new();
    let mut log_lines = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !states.iter().any(|s: &String| s == "completed") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("the stream reaches completed")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let kind = event.lines().find_map(|l| l.strip_prefix("event: "));
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                assert!(v["tasks"].is_array() && v["instances"].is_array(), "{v}");
                // the full view first, then changes only
                let want = if states.is_empty() {
                    "monitor"
                } else {
                    "change"
                };
                assert_eq!(kind, Some(want), "{event}");
                if want == "monitor" {
                    assert_eq!(v["instances"].as_array().unwrap().len(), 3, "{v}");
                } else {
                    log_lines += v["log"].as_array().unwrap().len();
                }
                states.push(v["job"]["state"].as_str().unwrap().to_owned());
            }
        }
    }
    // the first event is the full view of a job that has not completed yet
    assert_ne!(states[0], "completed", "{states:?}");
    assert!(states.len() >= 2, "{states:?}");
    assert!(log_lines > 0, "the changes carry the new log lines");
    let (s, _) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&id).await;
    ctx.app.stop().await;
}
