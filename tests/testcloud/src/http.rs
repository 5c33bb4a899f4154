//! The HTTP edge: one axum router serving Keystone (`/v3`), Nova (`/compute/v2.1`),
//! Cinder (`/volume/v3/{project_id}`), Neutron (`/network/v2.0`) and the test cloud's own
//! admin API (`/_testcloud`). Handlers parse, call the model through the engine, and render.

pub mod admin;
pub mod auth;
pub mod cinder;
pub mod error;
pub mod keystone;
pub mod layers;
pub mod neutron;
pub mod nova;
pub mod query;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::engine::Engine;
use crate::faults::Faults;
use crate::model::CloudError;

pub use error::ApiError;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct App {
    pub engine: Arc<Engine>,
    pub faults: Arc<Faults>,
    /// `http://127.0.0.1:<port>`, the prefix of every URL we hand out.
    pub base: Arc<str>,
}

/// Which OpenStack service a route belongs to (error body format, fault matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    Identity,
    Compute,
    Volume,
    Network,
}

impl Svc {
    pub fn name(self) -> &'static str {
        match self {
            Svc::Identity => "identity",
            Svc::Compute => "compute",
            Svc::Volume => "volume",
            Svc::Network => "network",
        }
    }
}

/// The whole router.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(keystone::router(app.clone()))
        .nest("/compute", nova::router(app.clone()))
        .nest("/volume", cinder::router(app.clone()))
        .nest("/network", neutron::router(app.clone()))
        .nest("/_testcloud", admin::router(app.clone()))
        .with_state(app)
}

/// Parses a JSON request body; malformed bodies are a 400 like OpenStack's.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(CloudError::bad("The server could not comply with the request since it is either malformed or otherwise incorrect.").into());
    }
    serde_json::from_slice(body)
        .map_err(|e| CloudError::bad(format!("Invalid input for request body: {e}")).into())
}

/// The object under `key` in a request body (`{"server": {...}}`).
pub fn member<'a>(body: &'a Value, key: &str) -> Result<&'a Value, ApiError> {
    body.get(key).filter(|v| v.is_object()).ok_or_else(|| {
        CloudError::bad(format!("Invalid input: '{key}' is a required property")).into()
    })
}

/// An optional string field; a non-string is a 400.
pub fn opt_str(v: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(CloudError::bad(format!("Invalid input for field/attribute {key}. Value: {other}. {other} is not of type 'string'")).into()),
    }
}

/// An optional boolean field (also accepting "true"/"false" strings, as the services do).
pub fn opt_bool(v: &Value, key: &str) -> Result<Option<bool>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(CloudError::bad(format!("Invalid input for field/attribute {key}. Value: {other}. {other} is not of type 'boolean'")).into()),
    }
}

/// An optional non-negative integer field (also accepting digit strings).
pub fn opt_u64(v: &Value, key: &str) -> Result<Option<u64>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(other) => Err(CloudError::bad(format!("Invalid input for field/attribute {key}. Value: {other}. {other} is not a valid non-negative integer")).into()),
    }
}

/// A `{"k": "v"}` string map (metadata, extra specs).
pub fn opt_map(
    v: &Value,
    key: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect::<Result<_, ApiError>>()
            .map(Some),
        Some(other) => Err(CloudError::bad(format!("Invalid input for field/attribute {key}. Value: {other}. {other} is not of type 'object'")).into()),
    }
}
