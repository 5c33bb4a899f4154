//! A small REST client for the orchestrator's `/api/v1`: bearer token, JSON bodies, and
//! the API's `{ "error": { "code", "message" } }` turned into an error that says which
//! call failed and why.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// The orchestrator's API as the admin.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// The API at `base` (`http://host:port`), not logged in.
    pub(crate) fn new(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// Logs in; later calls carry the session's bearer token.
    pub(crate) async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        let v = self
            .call(
                "POST",
                "/api/v1/sessions",
                Some(serde_json::json!({"id": user, "password": password})),
            )
            .await?;
        let token = v["token"]
            .as_str()
            .context("the login answer has no token")?;
        self.token = Some(token.to_owned());
        Ok(())
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call("GET", path, None).await
    }

    /// `POST path` with `body`.
    pub(crate) async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call("POST", path, Some(body)).await
    }

    /// `PUT path` with `body`.
    pub(crate) async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call("PUT", path, Some(body)).await
    }

    /// `DELETE path`.
    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call("DELETE", path, None).await
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}: the orchestrator did not answer"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let code = value["error"]["code"].as_str().unwrap_or("?");
            let message = value["error"]["message"].as_str().unwrap_or("");
            bail!("{method} {path}: {status} {code}: {message}");
        }
        Ok(value)
    }
}
