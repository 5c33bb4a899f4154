//! The agent-to-agent data plane: frames, authenticated sessions, bandwidth limiting.

pub mod frame;
pub mod limiter;
pub mod session;
