//! Starting and stopping a test cloud, in-process or from the binary.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::config::{Config, ConfigError};
use crate::engine::Engine;
use crate::faults::Faults;
use crate::fixture::{Fixture, FixtureError};
use crate::http::{self, App};
use crate::model::Cloud;
use crate::notifier::Notifier;

/// Why a test cloud did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("cannot prepare storage directory {path}: {source}")]
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("fixture loading task failed: {0}")]
    Join(String),
}

/// A running test cloud.
#[derive(Debug)]
pub struct TestCloud {
    addr: SocketAddr,
    base: String,
    engine: Arc<Engine>,
    faults: Arc<Faults>,
    storage_dir: PathBuf,
    remove_storage: bool,
    admin_password: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    startup: std::time::Duration,
}

impl TestCloud {
    /// Starts a cloud: binds (port 0 picks a free port), loads the fixture, serves.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let started = Instant::now();
        config.validate()?;
        let (storage_dir, remove_storage) = match &config.storage_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!("holdfast-testcloud-{}", uuid::Uuid::new_v4())),
                true,
            ),
        };
        for b in &config.backends {
            let dir = storage_dir.join(&b.name).join(&b.pool);
            std::fs::create_dir_all(&dir).map_err(|source| StartError::Storage {
                path: dir.clone(),
                source,
            })?;
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let base = format!("http://{addr}");
        let mut cloud = Cloud::new(
            &config.region,
            storage_dir.clone(),
            &config.admin_password,
            &config.backends,
        );
        cloud.token_ttl_secs = config.token_ttl_secs;
        if cloud.compute.hypervisors.is_empty() {
            cloud
                .compute
                .add_hypervisor("testcloud-compute-1", "nova", 64, 256 * 1024, 2000);
        }
        let cloud = match &config.fixture {
            None => cloud,
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || -> Result<Cloud, StartError> {
                    let fx = Fixture::from_file(&path)?;
                    let mut cloud = cloud;
                    if !fx.hypervisors.is_empty() {
                        cloud.compute.hypervisors.clear();
                    }
                    crate::fixture::apply(&mut cloud, &fx)?;
                    cloud.take_effects();
                    Ok(cloud)
                })
                .await
                .map_err(|e| StartError::Join(e.to_string()))??
            }
        };
        let notifier = Notifier::start(config.notifications.clone());
        let engine = Engine::new(cloud, config.timing.clone(), notifier);
        let faults = Arc::new(Faults::default());
        let app = App {
            engine: engine.clone(),
            faults: faults.clone(),
            base: base.clone().into(),
        };
        let router = http::router(app);
        let service = tower::service_fn(move |mut req: Request| {
            trim_trailing_slash(&mut req);
            router.clone().oneshot(req)
        });
        let (tx, rx) = oneshot::channel::<()>();
        let refusals = faults.take_refusals();
        let task = tokio::spawn(supervise(listener, addr, service, rx, refusals));
        tracing::info!(%addr, storage = %storage_dir.display(), "test cloud started");
        Ok(Self {
            addr,
            base,
            engine,
            faults,
            storage_dir,
            remove_storage,
            admin_password: config.admin_password.clone(),
            shutdown: Some(tx),
            task: Some(task),
            startup: started.elapsed(),
        })
    }

    /// `http://127.0.0.1:<port>/v3`: give this to clients as `OS_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/v3", self.base)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `http://127.0.0.1:<port>/_testcloud`: the admin (fault injection, counters) API.
    pub fn admin_url(&self) -> String {
        format!("{}/_testcloud", self.base)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// Root of the volume files (`<dir>/<backend>/<pool>/volume-<id>`).
    pub fn storage_dir(&self) -> &Path {
        &self.storage_dir
    }

    /// The state, for assertions in tests.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// How long `start` took.
    pub fn startup_time(&self) -> std::time::Duration {
        self.startup
    }

    /// Stops serving (in-flight requests finish) and removes a temporary storage dir.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "test cloud server stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "test cloud server task failed"),
                Ok(Ok(())) => {}
            }
        }
        if self.remove_storage {
            let _ = std::fs::remove_dir_all(&self.storage_dir);
        }
    }

    /// Serves until `shutdown` resolves (the binary's entry point).
    pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let mut cloud = Self::start(config).await?;
        println!(
            "holdfast-testcloud listening: OS_AUTH_URL={} admin={}",
            cloud.auth_url(),
            cloud.admin_url()
        );
        shutdown.await;
        cloud.stop().await;
        Ok(())
    }
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if self.remove_storage {
            let _ = std::fs::remove_dir_all(&self.storage_dir);
        }
    }
}

/// Serves until shutdown; a "refuse connections" outage closes the listening socket for
/// its duration (clients get connection refused), then binds the same address again.
async fn supervise<S>(
    listener: TcpListener,
    addr: SocketAddr,
    service: S,
    mut shutdown: oneshot::Receiver<()>,
    mut refusals: tokio::sync::mpsc::UnboundedReceiver<std::time::Duration>,
) -> std::io::Result<()>
where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.take() else {
            return Ok(());
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = axum::serve(
            l,
            axum::ServiceExt::<Request>::into_make_service(service.clone()),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        let mut server = std::pin::pin!(server.into_future());
        let refuse_for = tokio::select! {
            r = &mut server => return r,
            _ = &mut shutdown => None,
            d = refusals.recv() => d,
        };
        let _ = stop_tx.send(());
        server.await?;
        let Some(d) = refuse_for else { return Ok(()) };
        tracing::info!(?d, "outage: refusing connections");
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = &mut shutdown => return Ok(()),
        }
        listener = Some(TcpListener::bind(addr).await?);
        tracing::info!("outage over: accepting connections again");
    }
}

/// `/compute/v2.1/` and `/compute/v2.1` are the same resource, as behind OpenStack's
/// URL maps.
fn trim_trailing_slash(req: &mut Request) {
    let uri = req.uri();
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(new) = pq.parse() {
            *req.uri_mut() = new;
        }
    }
}
