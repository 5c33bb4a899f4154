//! Pure domain logic: no I/O, exhaustively tested.

pub mod cluster;
pub mod cluster_events;
pub mod lockout;
pub mod names;
pub mod password;
pub mod rbac;
pub mod schedule;
