//! Keystone v3 password authentication with project scope.

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use super::send::execute;
use crate::Result;
use crate::catalog::ServiceType;
use crate::config::{Credentials, Options};
use crate::error::{AuthError, AuthPart, Error, classify};
use crate::keystone::token::Token;

/// Keystone's v3 base URL from an auth URL (`http://h:5000`, `http://h/identity/v3/` →
/// `…/v3`).
pub(super) fn identity_url(auth_url: &str) -> Result<String> {
    let trimmed = auth_url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(Error::Config(format!(
            "auth URL {auth_url:?} must start with http:// or https://"
        )));
    }
    reqwest::Url::parse(trimmed)
        .map_err(|e| Error::Config(format!("invalid auth URL {auth_url:?}: {e}")))?;
    if trimmed.ends_with("/v3") {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}/v3"))
    }
}

pub(super) fn auth_body(c: &Credentials, scoped: bool) -> Value {
    let mut auth = json!({
        "identity": {
            "methods": ["password"],
            "password": {"user": {
                "name": c.username,
                "domain": {"name": c.user_domain},
                "password": c.password.expose(),
            }},
        },
    });
    if scoped {
        auth["scope"] =
            json!({"project": {"name": c.project, "domain": {"name": c.project_domain}}});
    }
    json!({ "auth": auth })
}

async fn post_tokens(
    http: &reqwest::Client,
    identity_url: &str,
    body: &Value,
    options: &Options,
) -> Result<super::send::Answer> {
    let url = super::url::build(identity_url, "auth/tokens", &[])?;
    let bytes = serde_json::to_vec(body).map_err(|e| Error::Config(e.to_string()))?;
    // Issuing a token changes nothing in the cloud: safe to repeat.
    execute(
        &options.retry,
        ServiceType::Identity,
        &Method::POST,
        true,
        &url,
        || {
            http.post(url.clone())
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone())
        },
    )
    .await
}

/// Issues a project-scoped token. On 401, tells whether the credential or the scope
/// is wrong by trying an unscoped token.
#[tracing::instrument(skip_all, fields(user = %c.username, project = %c.project))]
pub(super) async fn issue(
    http: &reqwest::Client,
    identity_url: &str,
    c: &Credentials,
    options: &Options,
) -> Result<Token> {
    let answer = post_tokens(http, identity_url, &auth_body(c, true), options).await?;
    let path = "/v3/auth/tokens";
    if (200..300).contains(&answer.status) {
        let secret = answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AuthError::BadToken("no X-Subject-Token header".into()))?;
        let token = Token::parse(secret.to_owned(), &answer.body).map_err(AuthError::BadToken)?;
        tracing::debug!(expires_at = %token.expires_at, request_id = answer.request_id.as_deref().unwrap_or("-"), "token issued");
        return Ok(token);
    }
    let (failure, kind) = answer.failure(ServiceType::Identity, &Method::POST, path);
    if answer.status != 401 {
        return Err(classify(failure, kind.as_deref(), answer.attempts));
    }
    let unscoped = post_tokens(http, identity_url, &auth_body(c, false), options).await?;
    let part = if (200..300).contains(&unscoped.status) {
        AuthPart::ProjectScope
    } else {
        AuthPart::Credentials
    };
    Err(AuthError::Refused { part, failure }.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Password;

    #[test]
    fn identity_urls() {
        assert_eq!(
            identity_url("http://127.0.0.1:5000").unwrap(),
            "http://127.0.0.1:5000/v3"
        );
        assert_eq!(
            identity_url("http://127.0.0.1/identity/v3/").unwrap(),
            "http://127.0.0.1/identity/v3"
        );
        assert!(identity_url("127.0.0.1:5000").is_err());
        assert!(identity_url("http://").is_err());
    }

    #[test]
    fn auth_body_has_scope_only_when_asked() {
        let c = Credentials {
            auth_url: "http://127.0.0.1/v3".into(),
            username: "admin".into(),
            password: Password::new("pw"),
            user_domain: "Default".into(),
            project: "admin".into(),
            project_domain: "Default".into(),
        };
        let b = auth_body(&c, true);
        assert_eq!(b["auth"]["identity"]["password"]["user"]["password"], "pw");
        assert_eq!(b["auth"]["scope"]["project"]["name"], "admin");
        assert!(auth_body(&c, false)["auth"].get("scope").is_none());
    }
}
