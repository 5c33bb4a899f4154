//! The client layer's HTTP behaviour (auth, re-auth, retries, pagination, microversion
//! headers, error mapping) against a small recorded-response server on loopback. This
//! server is a test double for the *transport* only; OpenStack semantics are checked by
//! the contract suite against the test cloud.

mod auth;
mod double;
mod errors;
mod lists;
mod retries;
