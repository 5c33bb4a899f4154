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
