//! What a session needs to connect: the credential and the tunables.

use std::fmt;
use std::time::Duration;

use crate::catalog::Interface;
use crate::retry::RetryPolicy;

/// A password. Its `Debug` output is redacted so that it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for the one place that sends it (the Keystone auth body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A Keystone v3 password credential scoped to a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Keystone URL, e.g. `http://127.0.0.1:5000/v3` (a missing `/v3` is added).
    pub auth_url: String,
    /// User name.
    pub username: String,
    /// The user's password.
    pub password: Password,
    /// Name of the user's domain (usually `Default`).
    pub user_domain: String,
    /// Name of the project to scope the token to.
    pub project: String,
    /// Name of the project's domain (usually `Default`).
    pub project_domain: String,
}

/// Tunables of a session. `Default` suits production.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which catalog endpoint to use.
    pub interface: Interface,
    /// Region of the endpoints; `None` accepts the first endpoint of the interface.
    pub region: Option<String>,
    /// Timeout of one HTTP attempt (connect + response); `None`: no timeout.
    pub request_timeout: Option<Duration>,
    /// Timeout of establishing a connection; `None`: the operating system's.
    pub connect_timeout: Option<Duration>,
    /// How long an idle pooled connection is kept; `None`: forever. Keep it below the
    /// services' keep-alive timeout (Apache, which hosts most OpenStack APIs, closes idle
    /// connections after 5 s): a request sent on a connection the server is closing fails,
    /// and a failed POST is not retried.
    pub pool_idle_timeout: Option<Duration>,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// Re-authenticate when the token expires within this margin.
    pub reauth_margin: Duration,
    /// `limit` sent on paginated lists.
    pub page_size: u32,
    /// Extra trusted CA certificates (PEM) for clouds whose endpoints use a private CA;
    /// the built-in Mozilla roots stay trusted.
    pub ca_certificates_pem: Vec<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            interface: Interface::Public,
            region: None,
            request_timeout: Some(Duration::from_secs(60)),
            connect_timeout: Some(Duration::from_secs(10)),
            pool_idle_timeout: Some(Duration::from_secs(4)),
            retry: RetryPolicy::default(),
            reauth_margin: Duration::from_secs(300),
            page_size: 500,
            ca_certificates_pem: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_redacted() {
        let c = Credentials {
            auth_url: "http://127.0.0.1/v3".into(),
            username: "admin".into(),
            password: Password::new("hunter2"),
            user_domain: "Default".into(),
            project: "admin".into(),
            project_domain: "Default".into(),
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
