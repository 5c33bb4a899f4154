//! The one place errors become HTTP responses: `{ "error": { "code", "message" } }`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::DbError;
use crate::domain::names::NameError;
use crate::domain::password::PolicyError;
use crate::domain::rbac::Denied;

/// An API error: status, stable machine code, human message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code for programs (`not_found`, `forbidden`, ...).
    pub code: &'static str,
    /// What happened and what to do about it.
    pub message: String,
}

/// The error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with code `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 naming the missing object.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id:?} does not exist"),
        )
    }

    /// 409 with code `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 401: no valid session.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 422 with code `invalid_field`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    /// 500; the cause is logged, not returned.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unique_violation() {
            return ApiError::conflict("an object with this name or id already exists");
        }
        ApiError::internal(&e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(DbError::from(e))
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            e.to_string(),
        )
    }
}

impl From<crate::protection::ProtectionError> for ApiError {
    fn from(e: crate::protection::ProtectionError) -> Self {
        use crate::protection::{ErrorKind, ProtectionError};
        if let ProtectionError::Db(db) = e {
            return ApiError::from(db);
        }
        let (code, kind) = e.code();
        let status = match kind {
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Licence => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Internal => return ApiError::internal(&e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<crate::protection::snapshots::SnapshotRefusal> for ApiError {
    fn from(e: crate::protection::snapshots::SnapshotRefusal) -> Self {
        use crate::protection::SnapshotError;
        use crate::protection::snapshots::SnapshotRefusal;
        match e {
            SnapshotRefusal::Plan(p) => ApiError::from(p),
            SnapshotRefusal::Replication(r) => match r {
                SnapshotError::NotConnected(m) => {
                    ApiError::new(StatusCode::CONFLICT, "replication_not_connected", m)
                }
                SnapshotError::NotReplicating(m) => {
                    ApiError::new(StatusCode::CONFLICT, "not_replicating", m)
                }
                SnapshotError::UnknownSnapshot(id) => ApiError::not_found("snapshot", id.as_str()),
                SnapshotError::Failed(m) => {
                    ApiError::new(StatusCode::BAD_GATEWAY, "snapshot_failed", m)
                }
            },
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
