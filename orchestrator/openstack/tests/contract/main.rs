//! The contract suite: every call of the client layer, end to end, against a cloud.
//!
//! By default each test starts an in-process OpenStack test cloud (`holdfast-testcloud`)
//! on a loopback port:
//!
//! ```text
//! cargo nextest run -p holdfast-openstack --test contract
//! ```
//!
//! To run the same suite against a real OpenStack — e.g. the clouds of
//! `shared/realstack` once `./up-all.sh` has started them (source Keystone on :15000,
//! target on :16000; user `admin`/`secret`, project `admin`, external network `public`):
//!
//! ```text
//! HOLDFAST_CONTRACT_AUTH_URL=http://127.0.0.1:15000/v3 \
//! HOLDFAST_CONTRACT_USER=admin HOLDFAST_CONTRACT_PASSWORD=secret HOLDFAST_CONTRACT_PROJECT=admin \
//! HOLDFAST_CONTRACT_EXTERNAL_NET=public \
//! RUST_LOG=holdfast_openstack=debug \
//! cargo nextest run -p holdfast-openstack --test contract --test-threads 2
//! ```
//!
//! (`HOLDFAST_CONTRACT_USER_DOMAIN` and `HOLDFAST_CONTRACT_PROJECT_DOMAIN` default to
//! `Default`.) Against an external cloud every test names what it creates
//! `hf-contract-<what>-<random>` and deletes it at the end; a failing test may leave its
//! resources behind (find them by that prefix).

mod compute;
mod identity;
mod network;
mod quotas;
mod recovery;
mod support;
mod volume;
