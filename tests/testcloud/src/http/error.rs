//! One place that turns a [`CloudError`] into each service's status and error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Svc;
use crate::model::CloudError;

/// A handler error; the service's layer renders it (see [`render`]).
#[derive(Debug)]
pub struct ApiError(pub CloudError);

impl From<CloudError> for ApiError {
    fn from(e: CloudError) -> Self {
        Self(e)
    }
}

/// Marker extension: this response is an error still to be rendered for its service.
#[derive(Debug, Clone)]
pub struct Unrendered(pub CloudError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        r.extensions_mut().insert(Unrendered(self.0));
        r
    }
}

/// The status each service answers an error with.
pub fn status(svc: Svc, e: &CloudError) -> StatusCode {
    match e {
        CloudError::BadRequest(_) => StatusCode::BAD_REQUEST,
        CloudError::NotFound { .. } => StatusCode::NOT_FOUND,
        CloudError::Conflict { .. } => StatusCode::CONFLICT,
        CloudError::Forbidden(_) => StatusCode::FORBIDDEN,
        CloudError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        CloudError::QuotaExceeded(_) => match svc {
            Svc::Compute => StatusCode::FORBIDDEN,
            Svc::Volume => StatusCode::PAYLOAD_TOO_LARGE,
            Svc::Network | Svc::Identity => StatusCode::CONFLICT,
        },
    }
}

fn message(svc: Svc, e: &CloudError) -> String {
    match (svc, e) {
        (Svc::Identity, CloudError::NotFound { kind, id }) => {
            format!("Could not find {kind}: {id}.")
        }
        _ => e.to_string(),
    }
}

fn title(code: StatusCode) -> &'static str {
    code.canonical_reason().unwrap_or("Error")
}

/// The body and status of an error as `svc` would send it.
pub fn render(svc: Svc, e: &CloudError) -> Response {
    let code = status(svc, e);
    let msg = message(svc, e);
    let body = match svc {
        _ if code == StatusCode::UNAUTHORIZED => {
            json!({"error": {"code": 401, "title": "Unauthorized", "message": msg}})
        }
        Svc::Identity => {
            json!({"error": {"code": code.as_u16(), "title": title(code), "message": msg}})
        }
        Svc::Compute | Svc::Volume => {
            json!({fault_key(code): {"code": code.as_u16(), "message": msg}})
        }
        Svc::Network => {
            let kind = match e {
                CloudError::NotFound { kind, .. } => format!("{}NotFound", kind.replace(' ', "")),
                CloudError::Conflict { code, .. } => (*code).to_owned(),
                CloudError::QuotaExceeded(_) => "OverQuota".into(),
                CloudError::BadRequest(_) => "HTTPBadRequest".into(),
                CloudError::Forbidden(_) => "HTTPForbidden".into(),
                CloudError::Unauthorized(_) => "HTTPUnauthorized".into(),
            };
            json!({"NeutronError": {"type": kind, "message": msg, "detail": ""}})
        }
    };
    (code, Json(body)).into_response()
}

/// A raw status (fault injection, outage) in the service's error format.
pub fn render_status(svc: Svc, code: StatusCode, msg: &str) -> Response {
    let body = match svc {
        Svc::Identity => {
            json!({"error": {"code": code.as_u16(), "title": title(code), "message": msg}})
        }
        Svc::Compute | Svc::Volume => {
            json!({fault_key(code): {"code": code.as_u16(), "message": msg}})
        }
        Svc::Network => {
            let kind = match code.as_u16() {
                503 => "ServiceUnavailable",
                409 => "Conflict",
                404 => "NotFound",
                _ => "HTTPInternalServerError",
            };
            json!({"NeutronError": {"type": kind, "message": msg, "detail": ""}})
        }
    };
    (code, Json(body)).into_response()
}

/// The key Nova and Cinder wrap an error body in, by status.
fn fault_key(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => "badRequest",
        403 => "forbidden",
        404 => "itemNotFound",
        409 => "conflictingRequest",
        413 => "overLimit",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}
