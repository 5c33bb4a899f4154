//! The test cloud's own admin API under `/_testcloud` (not OpenStack): health, counters,
//! fault injection, whole-cloud outage, quota overrides, runtime fixtures.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use super::App;
use crate::faults::FaultRule;
use crate::fixture::Fixture;

pub fn router(_app: App) -> Router<App> {
    Router::new()
        .route("/health", get(health))
        .route("/counters", get(counters))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/{id}", delete(remove_fault))
        .route("/outage", put(outage))
        .route("/quotas/{project}", put(set_quotas))
        .route("/fixture", post(load_fixture))
}

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": 400, "message": msg.into()}})),
    )
        .into_response()
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn counters(State(app): State<App>) -> Json<Value> {
    let n = &app.engine.notifier().counters;
    let resources = app.engine.read(|c| {
        json!({
            "projects": c.identity.projects.len(),
            "users": c.identity.users.len(),
            "servers": c.compute.servers.len(),
            "flavors": c.compute.flavors.len(),
            "hypervisors": c.compute.hypervisors.len(),
            "volumes": c.block.volumes.len(),
            "snapshots": c.block.snapshots.len(),
            "networks": c.net.networks.len(),
            "subnets": c.net.subnets.len(),
            "ports": c.net.ports.len(),
            "routers": c.net.routers.len(),
            "floating_ips": c.net.floating_ips.len(),
            "security_groups": c.net.security_groups.len(),
        })
    });
    Json(json!({
        "requests": app.faults.request_counts(),
        "faults_injected": app.faults.injected.load(Ordering::Relaxed),
        "outage": app.faults.outage.load(Ordering::Relaxed),
        "notifications": {
            "emitted": n.emitted.load(Ordering::Relaxed),
            "sent": n.sent.load(Ordering::Relaxed),
            "failed": n.failed.load(Ordering::Relaxed),
        },
        "resources": resources,
    }))
}

async fn list_faults(State(app): State<App>) -> Json<Value> {
    Json(json!({"faults": app.faults.list()}))
}

async fn add_fault(State(app): State<App>, body: Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid fault rule: {e}")),
    };
    match app.faults.add(rule) {
        Ok(r) => (StatusCode::CREATED, Json(json!({"fault": r}))).into_response(),
        Err(e) => bad(e),
    }
}

async fn clear_faults(State(app): State<App>) -> StatusCode {
    app.faults.clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault(State(app): State<App>, Path(id): Path<u64>) -> Response {
    if app.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": format!("no fault {id}")}})),
        )
            .into_response()
    }
}

async fn outage(State(app): State<App>, body: Bytes) -> Response {
    let body = serde_json::from_slice::<Value>(&body).ok();
    if let Some(ms) = body
        .as_ref()
        .and_then(|v| v.get("refuse_connections_ms"))
        .and_then(|v| v.as_u64())
    {
        return if app
            .faults
            .refuse_connections(std::time::Duration::from_millis(ms))
        {
            Json(json!({"refusing_connections_ms": ms})).into_response()
        } else {
            bad("the server is not accepting outage requests")
        };
    }
    match body.and_then(|v| v.get("enabled").and_then(|e| e.as_bool())) {
        Some(on) => {
            app.faults.outage.store(on, Ordering::Relaxed);
            Json(json!({"outage": on})).into_response()
        }
        None => bad("body must be {\"enabled\": true|false} or {\"refuse_connections_ms\": N}"),
    }
}

async fn set_quotas(State(app): State<App>, Path(project): Path<String>, body: Bytes) -> Response {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad("body must be an object of quota resource -> limit");
    };
    let mut updates = vec![];
    for (k, v) in map {
        match v.as_i64().filter(|n| *n >= -1) {
            Some(n) => updates.push((k, n)),
            None => return bad(format!("limit for {k} must be an integer >= -1")),
        }
    }
    let _ = app.engine.apply(|c| {
        for (k, n) in &updates {
            c.quotas.set(&project, k, *n);
        }
        Ok(())
    });
    Json(json!({"project": project, "quotas": updates.into_iter().collect::<std::collections::BTreeMap<_, _>>()})).into_response()
}

async fn load_fixture(State(app): State<App>, body: Bytes) -> Response {
    let fx: Fixture = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("invalid fixture: {e}")),
    };
    let engine = app.engine.clone();
    let result = tokio::task::spawn_blocking(move || engine.load_fixture(&fx)).await;
    match result {
        Ok(Ok(stats)) => Json(json!({"loaded": stats})).into_response(),
        Ok(Err(e)) => bad(e.to_string()),
        Err(e) => bad(format!("fixture load failed: {e}")),
    }
}
