//! The errors of the client layer, with messages an operator can act on.

use std::fmt;

use crate::catalog::{Interface, ServiceType};
use crate::microversion::MicroversionError;

mod body;

pub(crate) use body::{classify, service_message};

/// What an OpenStack service said when it refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The service that answered.
    pub service: ServiceType,
    /// HTTP method of the call.
    pub method: String,
    /// Path of the call (no query, no host).
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// The service's own message (from its error body), or the start of the body.
    pub message: String,
    /// `x-openstack-request-id` / `x-compute-request-id`, to find the call in the
    /// service's logs.
    pub request_id: Option<String>,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} answered {}: {}",
            self.service, self.method, self.path, self.status, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Which part of the credential Keystone refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPart {
    /// User name, password or user domain (Keystone refused even an unscoped token).
    Credentials,
    /// The project or its domain: the user authenticates but cannot be scoped to the
    /// project (it does not exist, or the user has no role on it).
    ProjectScope,
    /// The token has no admin role on the project.
    AdminRole,
}

/// Authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Keystone refused the credential.
    #[error("{}: {}", refused_text(*.part), .failure)]
    Refused {
        /// Which part is wrong.
        part: AuthPart,
        /// Keystone's answer.
        failure: ApiFailure,
    },
    /// The user authenticates but has no admin role on the project.
    #[error(
        "user {user:?} has no admin role on project {project:?} (roles: {roles:?}): grant it with `openstack role add --user {user} --project {project} admin`"
    )]
    NotAdmin {
        /// User name.
        user: String,
        /// Project name.
        project: String,
        /// The roles the token has.
        roles: Vec<String>,
    },
    /// Keystone issued a token but the answer lacks what a token must have.
    #[error("Keystone issued an unusable token: {0}")]
    BadToken(String),
}

fn refused_text(part: AuthPart) -> &'static str {
    match part {
        AuthPart::Credentials => "Keystone refused the user name, password or user domain",
        AuthPart::ProjectScope => {
            "Keystone accepted the user but not the project scope (check the project name, its domain, and that the user has a role on it)"
        }
        AuthPart::AdminRole => "the token has no admin role",
    }
}

/// Every failure of the client layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service could not be reached (connection refused, DNS, TLS, timeouts) even
    /// after retrying.
    #[error("cannot reach {service} at {url} after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// The service.
        service: ServiceType,
        /// The URL called.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The transport error, with its causes.
        reason: String,
    },
    /// Authentication failed; see the part.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// 403: the credential may not do this (policy).
    #[error("forbidden: {0}")]
    Forbidden(ApiFailure),
    /// 404.
    #[error("not found: {0}")]
    NotFound(ApiFailure),
    /// 409: the resource's state does not allow this now (e.g. in use, busy).
    #[error("conflict: {0}")]
    Conflict(ApiFailure),
    /// A quota of the project is exhausted (413, or 403/409 naming a quota).
    #[error("quota exceeded (raise the project's quota or free resources): {0}")]
    QuotaExceeded(ApiFailure),
    /// 400: the service rejected the request; its message says why.
    #[error("bad request: {0}")]
    BadRequest(ApiFailure),
    /// 5xx, still failing after the retries.
    #[error("server error after {attempts} attempt(s): {failure}")]
    ServerError {
        /// The last answer.
        failure: ApiFailure,
        /// Attempts made.
        attempts: u32,
    },
    /// Any other status.
    #[error("unexpected answer: {0}")]
    UnexpectedStatus(ApiFailure),
    /// The service answered 2xx with a body this client cannot read.
    #[error("{service} {method} {path} returned an unreadable body{}: {reason}", request_id_suffix(.request_id))]
    InvalidResponse {
        /// The service.
        service: ServiceType,
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Request id, if any.
        request_id: Option<String>,
        /// What was wrong.
        reason: String,
    },
    /// The catalog has no endpoint for a service.
    #[error(
        "the service catalog has no {interface} endpoint for {service}{}: check the cloud's catalog (`openstack catalog list`) or the configured interface/region",
        region.as_deref().map(|r| format!(" in region {r}")).unwrap_or_default()
    )]
    NoEndpoint {
        /// The service.
        service: ServiceType,
        /// Interface asked for.
        interface: Interface,
        /// Region asked for.
        region: Option<String>,
    },
    /// No common microversion.
    #[error(transparent)]
    Microversion(#[from] MicroversionError),
    /// A configured URL or value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A list kept returning the same next page.
    #[error("{service} pagination of {path} does not advance (marker {marker:?} repeated)")]
    PaginationLoop {
        /// The service.
        service: ServiceType,
        /// Path.
        path: String,
        /// The repeated marker.
        marker: String,
    },
}

fn request_id_suffix(id: &Option<String>) -> String {
    id.as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl Error {
    /// The service's answer, for errors that carry one.
    pub fn failure(&self) -> Option<&ApiFailure> {
        match self {
            Self::Forbidden(f)
            | Self::NotFound(f)
            | Self::Conflict(f)
            | Self::QuotaExceeded(f)
            | Self::BadRequest(f)
            | Self::UnexpectedStatus(f)
            | Self::ServerError { failure: f, .. } => Some(f),
            Self::Auth(AuthError::Refused { failure, .. }) => Some(failure),
            _ => None,
        }
    }

    /// The request id of the failing call, if the service sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => self.failure().and_then(|f| f.request_id.as_deref()),
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}
