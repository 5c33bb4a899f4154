//! The OpenStack test cloud: a faithful subset of Keystone v3, Nova v2.1, Cinder v3 and
//! Neutron v2.0 served on loopback, with volumes kept as real sparse files and
//! oslo.messaging notifications sent to RabbitMQ.
//!
//! The cloud's state and its consistency rules live in [`model`] (plain Rust, no I/O);
//! [`engine`] performs the effects the model asks for (files, delayed transitions,
//! notifications); [`http`] is the thin axum edge.
#![forbid(unsafe_code)]

pub mod config;
pub mod engine;
pub mod faults;
pub mod fixture;
pub mod http;
pub mod model;
pub mod notifier;
pub mod server;
pub mod storage;
pub mod time;
pub mod views;

pub use config::Config;
pub use server::{StartError, TestCloud};
