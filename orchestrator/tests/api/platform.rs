//! Health, readiness, metrics, shutdown, errors for unknown routes, OpenAPI.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, TestApp, error_code, spawn_app};
use crate::on_both_backends;

async fn health_ready_and_metrics(app: &TestApp) {
    let (s, b) = app.call("GET", "/healthz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = app.call("GET", "/readyz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ready")));
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(b["database"], expected);
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("holdfast_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/readyz\""), "{text}");
}

async fn unknown_routes_use_the_error_body(app: &TestApp) {
    let (s, b) = app.call("GET", "/api/v1/nothing-here", None, None).await;
    assert_eq!(s, 404);
    assert_eq!(error_code(&b), "not_found");
    let (s, b) = app.call("PUT", "/healthz", None, None).await;
    assert_eq!(s, 405);
    assert_eq!(error_code(&b), "method_not_allowed");
    let (s, b) = app.call("GET", "/api/v1/users", None, None).await;
    assert_eq!(s, 401);
    assert_eq!(error_code(&b), "unauthenticated");
}

async fn migrations_are_idempotent_on_restart(app: &TestApp) {
    // A second server on the same database applies nothing twice and keeps the data.
    let token = app.admin().await;
    app.create_group(&token, "survivors").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut config = app.config.clone();
    config.admin_password = None;
    let task = tokio::spawn(holdfast_orchestrator::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/api/v1/groups");
    let client = reqwest::Client::new();
    let ok = crate::helpers::eventually(Duration::from_secs(20), || {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            match client.get(&url).bearer_auth(&token).send().await {
                Ok(r) if r.status() == 200 => {
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    v["items"][0]["name"] == "survivors"
                }
                _ => false,
            }
        }
    })
    .await;
    assert!(ok, "second server did not serve the same data");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

on_both_backends!(
    health_ready_and_metrics,
    unknown_routes_use_the_error_body,
    migrations_are_idempotent_on_restart,
);

#[tokio::test]
async fn graceful_shutdown_finishes_and_stops_listening() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = app.addr;
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let app = spawn_app(Backend::Sqlite).await;
    let (s, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut catalogue: Vec<String> = holdfast_orchestrator::api::ENDPOINTS
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    documented.sort();
    catalogue.sort();
    assert_eq!(documented, catalogue);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_start_together_on_one_postgres() {
    let (name, url) = crate::helpers::create_pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut handles = Vec::new();
    let mut stops = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let mut config = crate::helpers::test_config(dir.path());
        config.database_url = Some(holdfast_orchestrator::config::Secret::new(url.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        handles.push(tokio::spawn(holdfast_orchestrator::run(
            config,
            listener,
            async move {
                let _ = stopped.await;
            },
        )));
    }
    let client = reqwest::Client::new();
    for addr in &addrs {
        let url = format!("http://{addr}/readyz");
        let ready = crate::helpers::eventually(Duration::from_secs(30), || {
            let (client, url) = (client.clone(), url.clone());
            async move { matches!(client.get(&url).send().await, Ok(r) if r.status() == 200) }
        })
        .await;
        assert!(ready, "replica {addr} did not become ready");
    }
    // Both serve the same installation.
    let mut uuids = Vec::new();
    for addr in &addrs {
        let r: Value = client
            .post(format!("http://{addr}/api/v1/sessions"))
            .json(&serde_json::json!({"id": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["token"].as_str().unwrap().to_owned();
        let l: Value = client
            .get(format!("http://{addr}/api/v1/licence"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        uuids.push(l["product_uuid"].as_str().unwrap().to_owned());
    }
    assert_eq!(uuids[0], uuids[1]);
    for stop in stops {
        let _ = stop.send(());
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    use sqlx::Connection;
    let mut c = sqlx::AnyConnection::connect(&crate::helpers::postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await
        .unwrap();
}

/// PostgreSQL read connections plan each statement for its values: the resource table
/// is skewed (one cluster's kind is 1 row or 20,000), and a generic plan cached after
/// five runs made a page's count walk the table (`db::custom_plans`). Writers keep the
/// plan cache (planning every executor statement cost 10–15 %).
#[tokio::test]
async fn postgres_read_connections_plan_each_statement_for_its_values() {
    let (name, url) = crate::helpers::create_pg_database().await;
    let _drop = crate::helpers::PgDatabase { name };
    let db = holdfast_orchestrator::db::Db::connect(&url).await.unwrap();
    // more than one connection of each pool, each set up the same way
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut read = db.read_conn().await.unwrap();
        assert_eq!(plan_cache_mode(&mut read).await, "force_custom_plan");
        let mut write = db.conn().await.unwrap();
        assert_eq!(plan_cache_mode(&mut write).await, "auto");
        held.push((read, write));
    }
}

async fn plan_cache_mode(conn: &mut sqlx::AnyConnection) -> String {
    let (mode,): (String,) = sqlx::query_as("SHOW plan_cache_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    mode
}
