//! The contract suite: plain HTTP against a cloud's auth URL. By default each test
//! starts an in-process test cloud; set `HOLDFAST_CONTRACT_AUTH_URL` (and
//! `HOLDFAST_CONTRACT_USER`, `_PASSWORD`, `_PROJECT`; default admin/secret/admin) to run
//! the same tests against a real cloud, e.g. the source cloud of `shared/realstack`
//! (`http://127.0.0.1:15000/v3`). Such a cloud needs an external network named by
//! `HOLDFAST_CONTRACT_EXTERNAL_NET` for the router tests (realstack: `public`).

mod compute;
mod identity;
mod network;
mod volume;

use holdfast_testcloud::TestCloud;

use crate::support::{Creds, spawn_cloud};

/// The cloud under test: an external one from the environment, or a fresh test cloud
/// (kept alive by the returned handle).
pub(crate) async fn target() -> (Creds, Option<TestCloud>) {
    match std::env::var("HOLDFAST_CONTRACT_AUTH_URL") {
        Ok(url) => {
            let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
            let creds = Creds {
                auth_url: url,
                user: env("HOLDFAST_CONTRACT_USER", "admin"),
                password: env("HOLDFAST_CONTRACT_PASSWORD", "secret"),
                project: env("HOLDFAST_CONTRACT_PROJECT", "admin"),
            };
            (creds, None)
        }
        Err(_) => {
            let cloud = spawn_cloud().await;
            (Creds::admin_of(&cloud), Some(cloud))
        }
    }
}
