//! The cloud under test, polling, unique names.

use std::future::Future;
use std::time::{Duration, Instant};

use holdfast_openstack::{Credentials, Options, Password, Session};
use holdfast_testcloud::config::Timing;
use holdfast_testcloud::{Config, TestCloud};

/// A cloud to test: an external one from the environment, or a fresh test cloud (kept
/// alive by `_cloud`).
pub(crate) struct Target {
    pub(crate) credentials: Credentials,
    pub(crate) session: Session,
    /// `Some` for an in-process test cloud.
    pub(crate) cloud: Option<TestCloud>,
    /// Name of an external network, if the cloud has one the suite may use.
    pub(crate) external_net: Option<String>,
}

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

pub(crate) async fn target() -> Target {
    // `RUST_LOG=holdfast_openstack=debug` shows every call with its request id.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (credentials, cloud, external_net) = match std::env::var("HOLDFAST_CONTRACT_AUTH_URL") {
        Ok(url) => (
            Credentials {
                auth_url: url,
                username: env("HOLDFAST_CONTRACT_USER", "admin"),
                password: Password::new(env("HOLDFAST_CONTRACT_PASSWORD", "secret")),
                user_domain: env("HOLDFAST_CONTRACT_USER_DOMAIN", "Default"),
                project: env("HOLDFAST_CONTRACT_PROJECT", "admin"),
                project_domain: env("HOLDFAST_CONTRACT_PROJECT_DOMAIN", "Default"),
            },
            None,
            std::env::var("HOLDFAST_CONTRACT_EXTERNAL_NET").ok(),
        ),
        Err(_) => {
            let config = Config {
                timing: Timing {
                    server_build_ms: 30,
                    server_delete_ms: 10,
                    server_power_ms: 10,
                    volume_create_ms: 10,
                    volume_delete_ms: 10,
                    volume_attach_ms: 10,
                    snapshot_ms: 10,
                },
                ..Config::default()
            };
            let cloud = TestCloud::start(config).await.expect("test cloud starts");
            let credentials = Credentials {
                auth_url: cloud.auth_url(),
                username: "admin".into(),
                password: Password::new(cloud.admin_password()),
                user_domain: "Default".into(),
                project: "admin".into(),
                project_domain: "Default".into(),
            };
            (credentials, Some(cloud), None)
        }
    };
    let session = Session::connect(credentials.clone(), Options::default())
        .await
        .expect("authenticates against the cloud under test");
    Target {
        credentials,
        session,
        cloud,
        external_net,
    }
}

/// A name nothing else uses: `hf-contract-<what>-<random>`.
pub(crate) fn unique(what: &str) -> String {
    format!("hf-contract-{what}-{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish() as u32
}

/// Polls `check` until it yields `Some`; fails after `secs` seconds (clouds change state
/// asynchronously: BUILD → ACTIVE, creating → available, deleting → gone).
pub(crate) async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a volume has `status`.
pub(crate) async fn volume_status(
    session: &Session,
    id: &str,
    status: &str,
) -> holdfast_openstack::cinder::Volume {
    eventually(&format!("volume {id} {status}"), 120, || async {
        let v = session.cinder().volume(id).await.expect("show volume");
        assert!(
            !v.status.starts_with("error") || status.starts_with("error"),
            "volume {id} went {}",
            v.status
        );
        (v.status == status).then_some(v)
    })
    .await
}

/// Waits until a volume is gone.
pub(crate) async fn volume_gone(session: &Session, id: &str) {
    eventually(&format!("volume {id} deleted"), 120, || async {
        match session.cinder().volume(id).await {
            Err(e) if e.is_not_found() => Some(()),
            Ok(v) if v.status == "deleted" => Some(()),
            Ok(_) => None,
            Err(e) => panic!("show volume {id}: {e}"),
        }
    })
    .await;
}

/// Waits until a server has `status`.
pub(crate) async fn server_status(
    session: &Session,
    id: &str,
    status: &str,
) -> holdfast_openstack::nova::Server {
    eventually(&format!("server {id} {status}"), 180, || async {
        let s = session.nova().server(id).await.expect("show server");
        assert!(
            s.status != "ERROR" || status == "ERROR",
            "server {id} went ERROR: {:?}",
            s.extra.get("fault")
        );
        (s.status == status).then_some(s)
    })
    .await
}

/// Waits until a server is gone.
pub(crate) async fn server_gone(session: &Session, id: &str) {
    eventually(&format!("server {id} deleted"), 180, || async {
        match session.nova().server(id).await {
            Err(e) if e.is_not_found() => Some(()),
            Ok(s) if s.status == "DELETED" => Some(()),
            Ok(_) => None,
            Err(e) => panic!("show server {id}: {e}"),
        }
    })
    .await;
}
