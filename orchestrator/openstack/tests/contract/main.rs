//! The contract suite: every call of the client layer, end to end, against a cloud.
//!
//! By default each test starts an in-process OpenStack test cloud (`holdfast-testcloud`)
//! on a loopback port. To run the same suite against another cloud — e.g. the source
//! cloud of `shared/realstack` — set:
//!
//! ```text
//! HOLDFAST_CONTRACT_AUTH_URL=http://127.0.0.1:15000/v3   # Keystone
//! HOLDFAST_CONTRACT_USER=admin HOLDFAST_CONTRACT_PASSWORD=secret HOLDFAST_CONTRACT_PROJECT=admin
//! HOLDFAST_CONTRACT_USER_DOMAIN=Default HOLDFAST_CONTRACT_PROJECT_DOMAIN=Default   # defaults
//! HOLDFAST_CONTRACT_EXTERNAL_NET=public   # an external network for routers/floating IPs
//! cargo nextest run -p holdfast-openstack --test contract --test-threads 2
//! ```
//!
//! Against an external cloud every test names what it creates `hf-contract-<random>` and
//! deletes it again, also after a failed assertion where it can.

mod compute;
mod identity;
mod network;
mod recovery;
mod support;
mod volume;
