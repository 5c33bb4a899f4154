//! The agent-to-agent data plane: frames, authenticated sessions, bandwidth limiting,
//! optional mutual TLS underneath.

pub mod cert_validity;
pub mod frame;
pub mod limiter;
pub mod session;
pub mod tls;
