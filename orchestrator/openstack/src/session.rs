//! The authenticated session: one HTTP client, the current token and catalog, the
//! negotiated microversions.

use std::sync::{Arc, Mutex, PoisonError};

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::catalog::ServiceType;
use crate::config::{Credentials, Options};
use crate::error::Error;
use crate::keystone::token::Token;
use crate::microversion::Microversion;
use crate::{Result, cinder, keystone, neutron, nova};

mod auth;
mod list;
mod send;
mod url;

pub(crate) use list::Paging;
pub(crate) use send::{Call, Reply};
pub(crate) use url::enc;

/// An authenticated connection to one OpenStack cloud. Cheap to clone; clones share the
/// token, the catalog and the negotiated microversions.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    credentials: Credentials,
    options: Options,
    /// Keystone's base URL (`…/v3`), from the auth URL.
    identity_url: String,
    token: Mutex<Arc<Token>>,
    refresh: tokio::sync::Mutex<()>,
    compute_version: OnceCell<Microversion>,
    volume_version: OnceCell<Microversion>,
}

impl Session {
    /// Authenticates (project-scoped password auth) and returns the session.
    ///
    /// Errors say what failed: [`Error::Unreachable`] (Keystone cannot be reached),
    /// [`Error::Auth`] with [`crate::AuthPart::Credentials`] (user, password or user
    /// domain wrong) or [`crate::AuthPart::ProjectScope`] (project or project domain
    /// wrong, or no role on it).
    #[tracing::instrument(skip_all, fields(auth_url = %credentials.auth_url, user = %credentials.username, project = %credentials.project))]
    pub async fn connect(credentials: Credentials, options: Options) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("holdfast/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(options.pool_idle_timeout);
        if let Some(t) = options.request_timeout {
            builder = builder.timeout(t);
        }
        if let Some(t) = options.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        for pem in &options.ca_certificates_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::Config(format!("invalid CA certificate (PEM expected): {e}"))
            })?;
            if certs.is_empty() {
                return Err(Error::Config(
                    "a CA certificate file holds no PEM certificate".into(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let identity_url = auth::identity_url(&credentials.auth_url)?;
        let token = auth::issue(&http, &identity_url, &credentials, &options).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                credentials,
                options,
                identity_url,
                token: Mutex::new(Arc::new(token)),
                refresh: tokio::sync::Mutex::new(()),
                compute_version: OnceCell::new(),
                volume_version: OnceCell::new(),
            }),
        })
    }

    /// The "check connection" of cluster registration: [`Session::connect`], then the
    /// admin role on the project ([`crate::AuthError::NotAdmin`]), the compute,
    /// block-storage and network endpoints in the catalog ([`Error::NoEndpoint`]) and
    /// usable Nova and Cinder microversions ([`Error::Microversion`]). Each failed check
    /// is its own error.
    #[tracing::instrument(skip_all, fields(auth_url = %credentials.auth_url))]
    pub async fn check(credentials: Credentials, options: Options) -> Result<Self> {
        let session = Self::connect(credentials, options).await?;
        session.keystone().require_admin().await?;
        for service in [
            ServiceType::Compute,
            ServiceType::BlockStorage,
            ServiceType::Network,
        ] {
            session.endpoint(service).await?;
        }
        session.microversion(ServiceType::Compute).await?;
        session.microversion(ServiceType::BlockStorage).await?;
        Ok(session)
    }

    /// Keystone calls.
    pub fn keystone(&self) -> keystone::Keystone<'_> {
        keystone::Keystone::new(self)
    }

    /// Nova calls.
    pub fn nova(&self) -> nova::Nova<'_> {
        nova::Nova::new(self)
    }

    /// Cinder calls.
    pub fn cinder(&self) -> cinder::Cinder<'_> {
        cinder::Cinder::new(self)
    }

    /// Neutron calls.
    pub fn neutron(&self) -> neutron::Neutron<'_> {
        neutron::Neutron::new(self)
    }

    /// The current token (re-authenticating first if it expires soon).
    pub async fn token(&self) -> Result<Arc<Token>> {
        let current = self.current_token();
        if !current.expires_within(self.inner.options.reauth_margin) {
            return Ok(current);
        }
        self.reauthenticate(&current).await
    }

    /// The options the session was made with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The base URL of a service, from the current token's catalog (Keystone: the auth URL).
    pub async fn endpoint(&self, service: ServiceType) -> Result<String> {
        let token = self.token().await?;
        self.endpoint_of(&token, service)
    }

    fn endpoint_of(&self, token: &Token, service: ServiceType) -> Result<String> {
        if service == ServiceType::Identity {
            return Ok(self.inner.identity_url.clone());
        }
        let o = &self.inner.options;
        let url = token
            .catalog
            .endpoint(service, o.interface, o.region.as_deref())
            .ok_or_else(|| Error::NoEndpoint {
                service,
                interface: o.interface,
                region: o.region.clone(),
            })?;
        let url = url.trim_end_matches('/');
        // Neutron's catalog entry is the server root; its API lives under /v2.0.
        if service == ServiceType::Network && !url.ends_with("/v2.0") {
            return Ok(format!("{url}/v2.0"));
        }
        Ok(url.to_owned())
    }

    fn current_token(&self) -> Arc<Token> {
        self.inner
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces `stale` with a fresh token, unless another task already did.
    async fn reauthenticate(&self, stale: &Arc<Token>) -> Result<Arc<Token>> {
        let _guard = self.inner.refresh.lock().await;
        let current = self.current_token();
        if !Arc::ptr_eq(&current, stale)
            && !current.expires_within(self.inner.options.reauth_margin)
        {
            return Ok(current);
        }
        tracing::debug!("re-authenticating");
        let fresh = Arc::new(
            auth::issue(
                &self.inner.http,
                &self.inner.identity_url,
                &self.inner.credentials,
                &self.inner.options,
            )
            .await?,
        );
        *self
            .inner
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fresh.clone();
        Ok(fresh)
    }

    // ---- helpers used by the service modules ----

    pub(crate) async fn get<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let reply = self.send(call.method(Method::GET)).await?;
        reply.json()
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        call: Call,
        body: &B,
    ) -> Result<T> {
        let reply = self.send(call.method(Method::POST).json(body)?).await?;
        reply.json()
    }

    pub(crate) async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        call: Call,
        body: &B,
    ) -> Result<T> {
        let reply = self.send(call.method(Method::PUT).json(body)?).await?;
        reply.json()
    }

    /// A POST whose answer body Holdfast does not need (actions answering 202).
    pub(crate) async fn post_no_content<B: Serialize>(&self, call: Call, body: &B) -> Result<()> {
        self.send(call.method(Method::POST).json(body)?)
            .await
            .map(drop)
    }

    pub(crate) async fn delete(&self, call: Call) -> Result<()> {
        self.send(call.method(Method::DELETE)).await.map(drop)
    }

    /// The negotiated microversion of Nova or Cinder (negotiated once per session).
    pub async fn microversion(&self, service: ServiceType) -> Result<Option<Microversion>> {
        let (cell, major, need) = match service {
            ServiceType::Compute => (&self.inner.compute_version, 2, nova::MICROVERSIONS),
            ServiceType::BlockStorage => (&self.inner.volume_version, 3, cinder::MICROVERSIONS),
            _ => return Ok(None),
        };
        let v = cell
            .get_or_try_init(|| async {
                let endpoint = self.endpoint(service).await?;
                let root = crate::microversion::version_root(&endpoint).ok_or_else(|| {
                    Error::Config(format!(
                        "{service} endpoint {endpoint} has no version in its path"
                    ))
                })?;
                let doc: Value = self
                    .get(Call::absolute(service, &root).no_microversion())
                    .await?;
                let range = crate::microversion::parse_range(&doc, major).map_err(|reason| {
                    crate::microversion::MicroversionError::BadDocument {
                        service: service.name(),
                        reason,
                    }
                })?;
                let v = crate::microversion::negotiate(service.name(), range, need)?;
                tracing::debug!(%service, microversion = %v, "negotiated");
                Ok::<_, Error>(v)
            })
            .await?;
        Ok(Some(*v))
    }
}
