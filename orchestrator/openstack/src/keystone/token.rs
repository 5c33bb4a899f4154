//! Tokens: the session's own, and validation of others.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::Keystone;
use crate::Result;
use crate::catalog::{Catalog, CatalogService, ServiceType};
use crate::session::Call;

/// An id and a name (users, roles, domains).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IdName {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// The project a token is scoped to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TokenProject {
    /// Project id.
    pub id: String,
    /// Project name.
    pub name: String,
    /// Its domain.
    pub domain: IdName,
}

/// A Keystone token. `Debug` does not print the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    secret: String,
    /// When it expires.
    pub expires_at: jiff::Timestamp,
    /// Its user.
    pub user: IdName,
    /// Its project (absent for unscoped tokens).
    pub project: Option<TokenProject>,
    /// Its roles on the project.
    pub roles: Vec<IdName>,
    /// The service catalog.
    pub catalog: Catalog,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .field("project", &self.project)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Body {
    token: Raw,
}

#[derive(Deserialize)]
struct Raw {
    expires_at: String,
    user: IdName,
    #[serde(default)]
    project: Option<TokenProject>,
    #[serde(default)]
    roles: Vec<IdName>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

impl Token {
    /// Reads a token from Keystone's answer (`{"token": {...}}`) and the
    /// `X-Subject-Token` header.
    pub fn parse(secret: String, body: &[u8]) -> Result<Self, String> {
        let Body { token } =
            serde_json::from_slice(body).map_err(|e| format!("token body: {e}"))?;
        let expires_at: jiff::Timestamp = token
            .expires_at
            .parse()
            .map_err(|e| format!("expires_at {:?}: {e}", token.expires_at))?;
        Ok(Self {
            secret,
            expires_at,
            user: token.user,
            project: token.project,
            roles: token.roles,
            catalog: Catalog {
                services: token.catalog,
            },
        })
    }

    /// The token itself, for the `X-Auth-Token` header.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether the token expires within `margin` from now.
    pub fn expires_within(&self, margin: Duration) -> bool {
        let margin = jiff::SignedDuration::try_from(margin).unwrap_or(jiff::SignedDuration::MAX);
        let deadline = jiff::Timestamp::now()
            .checked_add(margin)
            .unwrap_or(jiff::Timestamp::MAX);
        deadline >= self.expires_at
    }

    /// Whether the token carries the role `name` (case-insensitive).
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// What `GET /v3/auth/tokens` says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenValidation {
    /// When it expires.
    pub expires_at: jiff::Timestamp,
    /// Its user.
    pub user: IdName,
    /// Its project.
    pub project: Option<TokenProject>,
    /// Its roles.
    pub roles: Vec<IdName>,
}

impl Keystone<'_> {
    /// The session's current token (re-authenticated if about to expire).
    pub async fn current_token(&self) -> Result<std::sync::Arc<Token>> {
        self.session.token().await
    }

    /// Validates `token` (`GET /v3/auth/tokens` with `X-Subject-Token`).
    #[tracing::instrument(skip_all)]
    pub async fn validate_token(&self, token: &str) -> Result<TokenValidation> {
        let reply = self
            .session
            .send(
                Call::new(ServiceType::Identity, "auth/tokens")
                    .header("X-Subject-Token", token.to_owned()),
            )
            .await?;
        let parsed = Token::parse(String::new(), &reply.body).map_err(|e| reply.invalid(e))?;
        Ok(TokenValidation {
            expires_at: parsed.expires_at,
            user: parsed.user,
            project: parsed.project,
            roles: parsed.roles,
        })
    }

    /// Whether the session's user has the `admin` role on its project (the "check
    /// connection" test of cluster registration). Errors with
    /// [`crate::AuthError::NotAdmin`] naming the roles it has.
    pub async fn require_admin(&self) -> Result<()> {
        let token = self.session.token().await?;
        if token.has_role("admin") {
            return Ok(());
        }
        Err(crate::AuthError::NotAdmin {
            user: token.user.name.clone(),
            project: token
                .project
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            roles: token.roles.iter().map(|r| r.name.clone()).collect(),
        }
        .into())
    }

    /// Raw `GET` of an identity path, for diagnostics.
    pub async fn raw(&self, path: &str) -> Result<Value> {
        self.session
            .get(Call::new(ServiceType::Identity, path.to_owned()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of Keystone's "Password authentication with scoped authorization" response.
    const BODY: &str = r#"{"token": {
        "methods": ["password"], "roles": [{"id": "51cc", "name": "member"}, {"id": "8b1f", "name": "Admin"}],
        "expires_at": "2030-01-01T00:00:00.000000Z",
        "project": {"domain": {"id": "default", "name": "Default"}, "id": "a6944d", "name": "admin"},
        "catalog": [{"endpoints": [{"region_id": "RegionOne", "url": "http://127.0.0.1:8774/v2.1", "region": "RegionOne", "interface": "public", "id": "068d"}],
                     "type": "compute", "id": "050726", "name": "nova"}],
        "user": {"domain": {"id": "default", "name": "Default"}, "id": "ee4dfb", "name": "admin", "password_expires_at": null},
        "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"], "issued_at": "2029-12-31T23:00:00.000000Z"}}"#;

    #[test]
    fn parses_a_scoped_token() {
        let t = Token::parse("gAAAA".into(), BODY.as_bytes()).unwrap();
        assert_eq!(t.project.as_ref().unwrap().id, "a6944d");
        assert!(t.has_role("admin"));
        assert!(!t.has_role("reader"));
        assert!(!t.expires_within(Duration::from_secs(60)));
        assert!(t.expires_within(Duration::from_secs(100 * 365 * 86400)));
        assert_eq!(
            t.catalog
                .endpoint(ServiceType::Compute, crate::Interface::Public, None),
            Some("http://127.0.0.1:8774/v2.1")
        );
        assert!(!format!("{t:?}").contains("gAAAA"));
    }

    #[test]
    fn malformed_tokens_are_errors() {
        assert!(Token::parse(String::new(), b"{").is_err());
        assert!(
            Token::parse(
                String::new(),
                br#"{"token": {"expires_at": "soon", "user": {"id": "u"}}}"#
            )
            .is_err()
        );
        assert!(Token::parse(String::new(), br#"{"token": {"user": {"id": "u"}}}"#).is_err());
    }
}
