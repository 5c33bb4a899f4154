//! The JSON shapes of each resource as each service renders it (API responses and
//! notification payloads share them).

pub mod cinder;
pub mod keystone;
pub mod neutron;
pub mod nova;
