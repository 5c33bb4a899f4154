//! One call: retries, re-authentication on 401, request ids, error mapping.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::field::Empty;

use super::Session;
use crate::Result;
use crate::catalog::ServiceType;
use crate::error::{ApiFailure, AuthError, AuthPart, Error, classify, service_message};
use crate::retry::{Failure, RetryPolicy, is_idempotent};

/// A call to make: service, method, path relative to the service's endpoint (or an
/// absolute URL), query, JSON body, extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) service: ServiceType,
    pub(crate) method: Method,
    target: Target,
    pub(crate) query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
    microversion: bool,
}

#[derive(Debug, Clone)]
enum Target {
    Relative(String),
    Absolute(String),
}

impl Call {
    /// `GET {endpoint}/{path}`; change the method with [`Call::method`].
    pub(crate) fn new(service: ServiceType, path: impl Into<String>) -> Self {
        Self {
            service,
            method: Method::GET,
            target: Target::Relative(path.into()),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            microversion: true,
        }
    }

    pub(crate) fn absolute(service: ServiceType, url: &str) -> Self {
        Self {
            target: Target::Absolute(url.to_owned()),
            ..Self::new(service, "")
        }
    }

    pub(crate) fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    pub(crate) fn json<B: Serialize>(mut self, body: &B) -> Result<Self> {
        self.body = Some(
            serde_json::to_vec(body)
                .map_err(|e| Error::Config(format!("cannot encode the request body: {e}")))?,
        );
        Ok(self)
    }

    pub(crate) fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn no_microversion(mut self) -> Self {
        self.microversion = false;
        self
    }

    fn path(&self) -> &str {
        match &self.target {
            Target::Relative(p) => p,
            Target::Absolute(u) => u,
        }
    }
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) body: Vec<u8>,
    pub(crate) request_id: Option<String>,
    service: ServiceType,
    method: Method,
    path: String,
}

impl Reply {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.is_empty() {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| self.invalid(e.to_string()))
    }

    pub(crate) fn invalid(&self, reason: String) -> Error {
        Error::InvalidResponse {
            service: self.service,
            method: self.method.to_string(),
            path: self.path.clone(),
            request_id: self.request_id.clone(),
            reason,
        }
    }
}

/// An HTTP answer that was not retried (any status).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) request_id: Option<String>,
    pub(crate) attempts: u32,
}

impl Answer {
    pub(crate) fn failure(
        &self,
        service: ServiceType,
        method: &Method,
        path: &str,
    ) -> (ApiFailure, Option<String>) {
        let (message, kind) = service_message(&self.body);
        (
            ApiFailure {
                service,
                method: method.to_string(),
                path: path.to_owned(),
                status: self.status,
                message,
                request_id: self.request_id.clone(),
            },
            kind,
        )
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-openstack-request-id", "x-compute-request-id"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::Connect
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Transport
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Sends a request built by `build`, retrying per `policy`. Returns the first answer
/// that is not retried (whatever its status), or `Unreachable`.
pub(crate) async fn execute(
    policy: &RetryPolicy,
    service: ServiceType,
    method: &Method,
    idempotent: bool,
    url: &reqwest::Url,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Answer> {
    // For the policy, a call is what its idempotency says, whatever its method.
    let as_method = if idempotent {
        Method::GET
    } else {
        Method::POST
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        tracing::Span::current().record("attempts", attempt);
        let delay_hint = match build().send().await {
            Err(e) => {
                let failure = transport_failure(&e);
                if !policy.should_retry(&as_method, failure, attempt) {
                    return Err(Error::Unreachable {
                        service,
                        url: url
                            .as_str()
                            .split('?')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                        attempts: attempt,
                        reason: error_chain(&e),
                    });
                }
                tracing::warn!(%service, %method, attempt, error = %error_chain(&e), "transport failure, retrying");
                None
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let request_id = request_id(&headers);
                let span = tracing::Span::current();
                span.record("status", status);
                if let Some(id) = &request_id {
                    span.record("request_id", id.as_str());
                }
                tracing::debug!(
                    status,
                    attempt,
                    request_id = request_id.as_deref().unwrap_or("-"),
                    "answered"
                );
                match resp.bytes().await {
                    Ok(body) => {
                        let failure = Failure::Status(status);
                        if !policy.should_retry(&as_method, failure, attempt) {
                            return Ok(Answer {
                                status,
                                headers,
                                body: body.to_vec(),
                                request_id,
                                attempts: attempt,
                            });
                        }
                        tracing::warn!(%service, %method, status, attempt, request_id = request_id.as_deref().unwrap_or("-"), "server error, retrying");
                        retry_after(&headers)
                    }
                    Err(e) => {
                        let failure = if e.is_timeout() {
                            Failure::Timeout
                        } else {
                            Failure::Transport
                        };
                        if !policy.should_retry(&as_method, failure, attempt) {
                            return Err(Error::Unreachable {
                                service,
                                url: url
                                    .as_str()
                                    .split('?')
                                    .next()
                                    .unwrap_or_default()
                                    .to_owned(),
                                attempts: attempt,
                                reason: format!("reading the answer: {}", error_chain(&e)),
                            });
                        }
                        None
                    }
                }
            }
        };
        let delay = policy.delay(attempt, delay_hint, &mut rand::rng());
        tokio::time::sleep(delay).await;
    }
}

impl Session {
    /// Sends `call` with the session's token and negotiated microversion; re-authenticates
    /// once on 401; maps non-2xx answers to typed errors.
    #[tracing::instrument(name = "openstack", skip_all, fields(service = %call.service, method = %call.method, path = call.path(), status = Empty, request_id = Empty, attempts = Empty))]
    pub(crate) async fn send(&self, call: Call) -> Result<Reply> {
        let mut reauthenticated = false;
        loop {
            let token = self.token().await?;
            let base = match &call.target {
                Target::Relative(_) => self.endpoint_of(&token, call.service)?,
                Target::Absolute(url) => url.clone(),
            };
            let path = match &call.target {
                Target::Relative(p) => p.as_str(),
                Target::Absolute(_) => "",
            };
            let url = super::url::build(&base, path, &call.query)?;
            let mut headers: Vec<(&str, String)> = call.headers.clone();
            if call.microversion
                && let Some(v) = Box::pin(self.microversion(call.service)).await?
            {
                match call.service {
                    ServiceType::Compute => {
                        headers.push(("OpenStack-API-Version", format!("compute {v}")));
                        headers.push(("X-OpenStack-Nova-API-Version", v.to_string()));
                    }
                    _ => headers.push(("OpenStack-API-Version", format!("volume {v}"))),
                }
            }
            let build = || {
                let mut rb = self
                    .inner
                    .http
                    .request(call.method.clone(), url.clone())
                    .header(ACCEPT, "application/json")
                    .header("X-Auth-Token", token.secret());
                for (k, v) in &headers {
                    rb = rb.header(*k, v.as_str());
                }
                if let Some(body) = &call.body {
                    rb = rb
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                rb
            };
            let answer = execute(
                &self.inner.options.retry,
                call.service,
                &call.method,
                is_idempotent(&call.method),
                &url,
                build,
            )
            .await?;
            if (200..300).contains(&answer.status) {
                return Ok(Reply {
                    body: answer.body,
                    request_id: answer.request_id,
                    service: call.service,
                    method: call.method.clone(),
                    path: url.path().to_owned(),
                });
            }
            if answer.status == 401 && !reauthenticated {
                // The token was revoked or expired early: the request was not executed.
                tracing::info!(
                    request_id = answer.request_id.as_deref().unwrap_or("-"),
                    "401, re-authenticating"
                );
                reauthenticated = true;
                self.reauthenticate(&token).await?;
                continue;
            }
            let (failure, kind) = answer.failure(call.service, &call.method, url.path());
            if answer.status == 401 {
                return Err(AuthError::Refused {
                    part: AuthPart::Credentials,
                    failure,
                }
                .into());
            }
            return Err(classify(failure, kind.as_deref(), answer.attempts));
        }
    }
}
