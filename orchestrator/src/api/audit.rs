//! The audit trail: a middleware that records every mutating API call, and the
//! Admin-only query endpoint.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::audit::{AuditFilter, AuditRecord};
use crate::domain::rbac;
use crate::state::{AppState, now_ms};

/// Where the `Auth` extractor (or the login handler) leaves the actor's id for the
/// audit record of the request.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<String>>>);

impl AuditSlot {
    /// Records who the request acts for.
    pub fn set_actor(&self, id: &str) {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(id.to_owned());
    }

    fn actor(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Field names whose values never reach the audit trail.
const SECRET_KEYS: [&str; 6] = [
    "password",
    "token",
    "secret",
    "private",
    "licence_key",
    // A cluster's notification broker URL carries the broker's password.
    "broker_url",
];

/// Replaces the values of secret-looking fields with `"[redacted]"`, recursively.
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let k = k.to_lowercase();
                if SECRET_KEYS.iter().any(|s| k.contains(s)) {
                    *val = Value::String("[redacted]".to_owned());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn object_of(path: &str) -> (String, Option<String>) {
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    let mut parts = rest.split('/').filter(|s| !s.is_empty());
    let kind = parts.next().unwrap_or("").to_owned();
    let id = parts.next().map(str::to_owned);
    (kind, id)
}

/// Records every POST/PUT/PATCH/DELETE under `/api/v1` after it ran.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !mutating || !req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the request body is larger than {} bytes",
                    state.config.max_body_bytes
                ),
            )
            .into_response();
        }
    };
    let change = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) => {
                redact(&mut v);
                v
            }
            Err(_) => serde_json::json!({ "unparsed_bytes": bytes.len() }),
        }
    };
    let slot = AuditSlot::default();
    parts.extensions.insert(slot.clone());
    let req = Request::from_parts(parts, HttpBody::from(bytes));
    let response = next.run(req).await;
    let (object_type, object_id) = object_of(&path);
    let record = AuditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at: now_ms(),
        actor: slot.actor(),
        source_ip,
        method,
        path,
        object_type,
        object_id,
        change_json: change.to_string(),
        status: i64::from(response.status().as_u16()),
    };
    let written = async {
        let mut tx = state.db.begin().await?;
        db::audit::append(&mut tx, &record).await?;
        tx.commit().await?;
        Ok::<_, db::DbError>(())
    }
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, path = %record.path, "cannot write the audit record");
    }
    response
}

/// One audit record on the wire.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditView {
    /// Id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who (user id; for logins the id tried).
    pub actor: Option<String>,
    /// Client address.
    pub source_ip: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Object type.
    pub object_type: String,
    /// Object id.
    pub object_id: Option<String>,
    /// The change requested (secrets redacted).
    pub change: Value,
    /// Response status.
    pub status: i64,
}

/// Filters of the audit query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this object type (`users`, `groups`, ...).
    pub object_type: Option<String>,
    /// From (RFC 3339, inclusive).
    pub since: Option<String>,
    /// Until (RFC 3339, exclusive).
    pub until: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// Queries the audit trail (Admin only), newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    rbac::admin_only(&auth.actor)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = AuditFilter {
        actor: q.actor,
        object_type: q.object_type,
        since: q.since.as_deref().map(super::parse_time).transpose()?,
        until: q.until.as_deref().map(super::parse_time).transpose()?,
        limit: page.limit,
        offset: page.offset,
    };
    let mut tx = state.db.begin().await?;
    let (records, total) = db::audit::list(&mut tx, &filter).await?;
    tx.commit().await?;
    let items = records
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            at: super::time_text(r.at),
            actor: r.actor,
            source_ip: r.source_ip,
            method: r.method,
            path: r.path,
            object_type: r.object_type,
            object_id: r.object_id,
            change: serde_json::from_str(&r.change_json).unwrap_or(Value::Null),
            status: r.status,
        })
        .collect();
    Ok(Json(Page::new(items, total, page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = serde_json::json!({
            "id": "bob", "password": "x", "nested": [{"new_password": "y", "ok": 1}],
            "api_token": "z", "licence_key": "k"
        });
        redact(&mut v);
        let text = v.to_string();
        for secret in ["\"x\"", "\"y\"", "\"z\"", "\"k\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("bob"));
    }

    #[test]
    fn object_from_path() {
        assert_eq!(
            object_of("/api/v1/users/bob/password-reset"),
            ("users".into(), Some("bob".into()))
        );
        assert_eq!(object_of("/api/v1/groups"), ("groups".into(), None));
    }
}
