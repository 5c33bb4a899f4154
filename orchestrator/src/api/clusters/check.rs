//! "Check connection" before a cluster is stored: each failed check has its own code.

use std::time::Duration;

use axum::http::StatusCode;
use holdfast_openstack::{AuthError, AuthPart, Credentials, Error, Options, Session};

use crate::api::error::ApiError;

fn failed(code: &'static str, what: &str, e: &Error) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("check connection failed: {what}: {e}"),
    )
}

/// The API error for a failed [`Session::check`].
pub fn check_error(e: &Error) -> ApiError {
    match e {
        Error::Unreachable { .. } => failed("cluster_unreachable", "Keystone is not reachable", e),
        Error::Auth(AuthError::Refused {
            part: AuthPart::Credentials,
            ..
        }) => failed(
            "cluster_bad_credential",
            "the user name, password or user domain is wrong",
            e,
        ),
        Error::Auth(AuthError::Refused {
            part: AuthPart::ProjectScope,
            ..
        }) => failed(
            "cluster_bad_project",
            "the project or project domain is wrong, or the user has no role on it",
            e,
        ),
        Error::Auth(
            AuthError::NotAdmin { .. }
            | AuthError::Refused {
                part: AuthPart::AdminRole,
                ..
            },
        ) => failed("cluster_not_admin", "the user has no admin role", e),
        Error::Auth(AuthError::BadToken(_)) => {
            failed("cluster_bad_token", "Keystone issued an unusable token", e)
        }
        Error::NoEndpoint { .. } => failed(
            "cluster_missing_endpoint",
            "the service catalog lacks a service",
            e,
        ),
        Error::Microversion(_) => failed(
            "cluster_unsupported_version",
            "a service's API version is not supported",
            e,
        ),
        Error::Config(_) => failed("invalid_field", "the auth URL is not usable", e),
        _ => failed("cluster_check_failed", "the cloud answered an error", e),
    }
}

/// Connects, authenticates, verifies the admin role, the catalog and the versions.
pub async fn connection(credentials: Credentials) -> Result<Session, ApiError> {
    let options = Options {
        request_timeout: Some(Duration::from_secs(20)),
        connect_timeout: Some(Duration::from_secs(5)),
        retry: holdfast_openstack::RetryPolicy {
            max_attempts: 2,
            ..holdfast_openstack::RetryPolicy::default()
        },
        ..Options::default()
    };
    Session::check(credentials, options)
        .await
        .map_err(|e| check_error(&e))
}

/// Connects to the notification broker once.
pub async fn broker(url: &str) -> Result<(), ApiError> {
    let attempt = tokio::time::timeout(
        Duration::from_secs(10),
        lapin::Connection::connect(url, lapin::ConnectionProperties::default()),
    )
    .await;
    let redacted = crate::clusters::listener::redacted(url);
    match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close(200, "checked".into()).await;
            Ok(())
        }
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "notification_broker_unreachable",
            format!(
                "check connection failed: cannot connect to the notification broker {redacted}: {e}"
            ),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "notification_broker_unreachable",
            format!(
                "check connection failed: the notification broker {redacted} did not answer within 10 s"
            ),
        )),
    }
}
