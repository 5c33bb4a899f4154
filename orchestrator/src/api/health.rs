//! Liveness, readiness and metrics (outside `/api/v1`, no authentication).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The process can serve: the database answers. Also says whether the agents' bus
/// answers (or is not configured) and whether this replica holds the leader lease.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if *state.shutdown.borrow() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the orchestrator is shutting down",
        )
        .into_response();
    }
    match state.db.ping().await {
        Ok(()) => {
            let database = match state.db.backend() {
                crate::db::Backend::Sqlite => "sqlite",
                crate::db::Backend::Postgres => "postgres",
            };
            let bus = crate::agents::bus_status(&state).await;
            Json(serde_json::json!({
                "status": "ready",
                "database": database,
                "bus": bus,
                "leader": state.leader.is_leader(),
                "instance": state.instance_id,
            }))
            .into_response()
        }
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            format!("the database does not answer: {e}"),
        )
        .into_response(),
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
