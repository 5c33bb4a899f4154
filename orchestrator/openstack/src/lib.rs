//! Holdfast's OpenStack client layer: one authenticated [`Session`] per cloud (Keystone v3
//! password auth with project scope, cached token, re-auth before expiry and on 401,
//! service catalog, microversion negotiation, pagination, retries of idempotent calls),
//! and thin typed calls for the parts of Keystone, Nova, Cinder and Neutron that Holdfast
//! uses.
//!
//! # Idempotency
//!
//! Only idempotent requests (GET, HEAD, PUT, DELETE) are retried after a server error,
//! a timeout or a dropped connection. A POST is retried only when the connection could
//! not be established at all (the request never reached the cloud). A POST that
//! *creates* something is therefore never repeated blindly: callers make creates
//! idempotent themselves by giving the resource a recognisable name, tag or metadata
//! (e.g. the job id), looking it up before creating it again after an error, and
//! recording it before the call that creates it.
//!
//! # Example
//!
//! ```no_run
//! # async fn f() -> Result<(), holdfast_openstack::Error> {
//! use holdfast_openstack::{Credentials, Filters, Options, Password, Session};
//! let credentials = Credentials {
//!     auth_url: "http://127.0.0.1:5000/v3".into(),
//!     username: "admin".into(),
//!     password: Password::new("secret"),
//!     user_domain: "Default".into(),
//!     project: "admin".into(),
//!     project_domain: "Default".into(),
//! };
//! let session = Session::connect(credentials, Options::default()).await?;
//! let servers = session.nova().servers(&Filters::all_tenants()).await?;
//! # let _ = servers; Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod catalog;
pub mod cinder;
mod config;
mod error;
mod filters;
pub mod keystone;
pub mod microversion;
pub mod neutron;
pub mod nova;
pub mod pagination;
pub mod quotas;
pub mod retry;
mod session;

pub use catalog::{Interface, ServiceType};
pub use config::{Credentials, Options, Password};
pub use error::{ApiFailure, AuthError, AuthPart, Error};
pub use filters::Filters;
pub use microversion::Microversion;
pub use quotas::QuotaService;
pub use retry::RetryPolicy;
pub use session::Session;

/// Result of every call of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
