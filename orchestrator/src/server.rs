//! `holdfast serve`: start-up, background tasks, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::config::Config;
use crate::db::{self, Db, DbError};
use crate::domain::password::{self, HashCost, NewPassword};
use crate::domain::rbac::Role;
use crate::metrics::Metrics;
use crate::state::{App, AppState, now_ms};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Database connection or migration.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Binding or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Password hashing is misconfigured.
    #[error(transparent)]
    Hash(#[from] password::HashError),
    /// The configured admin password does not meet the policy.
    #[error("the configured admin password does not meet the policy: {0}")]
    AdminPassword(password::PolicyError),
    /// The licence public key is invalid.
    #[error("invalid licence public key: {0}")]
    LicenceKey(String),
    /// TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// `bus_url` is configured but RabbitMQ cannot be used.
    #[error("the agents' bus: {0}")]
    Bus(#[from] holdfast_bus::BusError),
}

impl From<sqlx::Error> for ServeError {
    fn from(e: sqlx::Error) -> Self {
        ServeError::Db(DbError::from(e))
    }
}

/// Binds `config.bind` and runs until `shutdown` completes.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Io {
            addr: config.bind.to_string(),
            source,
        })?;
    run(config, listener, shutdown).await
}

/// Opens the database, applies migrations, creates the first admin, and serves the API
/// on `listener` until `shutdown` completes; in-flight requests then get
/// `shutdown_grace_secs` to finish.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let started = std::time::Instant::now();
    // the job engine reaches protection groups and plans through this source, which
    // needs the running orchestrator: bound once it exists
    let source = crate::protection::job_source::PlansJobSource::new();
    let jobs = crate::jobs::Jobs::new(
        source.clone(),
        crate::jobs::EngineOptions {
            pause_timeout: Duration::from_secs(config.job_pause_timeout_secs),
            ..crate::jobs::EngineOptions::default()
        },
    );
    let state = prepare(config, jobs).await?;
    source.bind(&state.app);
    serve_prepared(state, listener, shutdown, started).await
}

/// [`run`] with the given job engine (its [`crate::jobs::JobSource`] is the seam to
/// protection groups and plans; tests install their own).
pub async fn run_with_jobs(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    jobs: crate::jobs::Jobs,
) -> Result<(), ServeError> {
    let started = std::time::Instant::now();
    let state = prepare(config, jobs).await?;
    serve_prepared(state, listener, shutdown, started).await
}

async fn serve_prepared(
    state: Prepared,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    started: std::time::Instant,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        addr: "listener".to_owned(),
        source,
    })?;
    let (stop_tx, _) = (state.shutdown_tx.clone(), ());
    let app = state.app.clone();
    let node = app.instance_id.clone();
    let lease = tokio::spawn(crate::lease::run(
        app.db.clone(),
        node.clone(),
        crate::lease::LeaseTiming {
            ttl: Duration::from_millis(app.config.lease_ttl_ms),
        },
        state.leader_tx,
        app.shutdown.clone(),
    ));
    let agents = tokio::spawn(crate::agents::run(app.clone()));
    let background = tokio::spawn(crate::scheduler::run(app.clone(), node));
    let cluster_work = tokio::spawn(crate::clusters::run(app.clone()));
    let protection_work = tokio::spawn(crate::protection::runner::run(app.clone()));
    let job_engine = tokio::spawn(crate::jobs::run(app.clone()));
    let router = crate::api::router(app.clone());
    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    let mut stopping = app.shutdown.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutdown requested; draining requests");
        let _ = stop_tx.send(true);
    };
    let tls = app.config.tls.clone();
    tracing::info!(%addr, tls = tls.is_some(), startup_ms = started.elapsed().as_millis() as u64, "holdfast orchestrator listening");
    let served = async {
        match tls {
            None => axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(signal)
            .await
            .map_err(|source| ServeError::Io {
                addr: addr.to_string(),
                source,
            }),
            Some(tls) => {
                let listener = axum::serve::ListenerExt::tap_io(
                    crate::tls::TlsListener::new(listener, &tls)?,
                    |_io| {},
                );
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(signal)
                .await
                .map_err(|source| ServeError::Io {
                    addr: addr.to_string(),
                    source,
                })
            }
        }
    };
    let deadline = async {
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        r = served => r,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "drain deadline passed; closing open connections");
            Ok(())
        }
    };
    background.abort();
    cluster_work.abort();
    protection_work.abort();
    // the engine stops its drivers when it sees the shutdown; jobs resume on restart
    let _ = tokio::time::timeout(Duration::from_secs(5), job_engine).await;
    agents.abort();
    // The lease task saw the shutdown signal: let it release the lease.
    let _ = tokio::time::timeout(Duration::from_secs(5), lease).await;
    if let Some(link) = &app.agents
        && tokio::time::timeout(Duration::from_secs(5), link.bus().close())
            .await
            .is_err()
    {
        tracing::warn!("RabbitMQ did not confirm closing the connection within 5 s");
    }
    app.db.close().await;
    tracing::info!("holdfast orchestrator stopped");
    result
}

struct Prepared {
    app: AppState,
    shutdown_tx: watch::Sender<bool>,
    leader_tx: watch::Sender<Option<i64>>,
}

async fn prepare(config: Config, jobs: crate::jobs::Jobs) -> Result<Prepared, ServeError> {
    let db = Db::connect(&config.effective_database_url()).await?;
    db.migrate().await?;
    tracing::info!(backend = ?db.backend(), "database ready");
    let hash_cost = HashCost {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
    };
    let product_uuid = {
        let mut tx = db.begin().await?;
        let id = db::installation::ensure(&mut tx, now_ms()).await?;
        tx.commit().await?;
        id
    };
    ensure_admin(&db, &config, hash_cost).await?;
    let settings = crate::settings::load_from(&db).await?;
    crate::telemetry::set_level(&settings.log_level);
    let licence_key = crate::licence::verifying_key(config.licence_public_key.as_deref())
        .map_err(ServeError::LicenceKey)?;
    let dummy_hash = password::hash("not-a-password", hash_cost)?;
    let metrics = Metrics::new();
    let clusters = crate::clusters::Clusters::new(&config, &metrics);
    let (events, _) = broadcast::channel(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let instance_id = instance_id();
    let agents = crate::agents::connect(&config, &instance_id).await?;
    let (leader_tx, leader) = crate::lease::Leadership::channel();
    // Without a bus nothing replicates: `NotConnected` says so in every plan's state.
    let replication: Arc<dyn crate::protection::PlanReplication> = match &agents {
        Some(link) => Arc::new(crate::protection::AgentReplication::new(
            db.clone(),
            crate::replication::Replication::from_config(
                db.clone(),
                link.clone(),
                &config,
                crate::replication::ReplicationOptions::default(),
            ),
        )),
        None => Arc::new(crate::protection::NotConnected),
    };
    let app = Arc::new(App {
        db,
        config,
        metrics,
        product_uuid,
        hash_cost,
        events,
        shutdown: shutdown_rx,
        dummy_hash,
        licence_key,
        clusters,
        instance_id,
        leader,
        agents,
        replication,
        jobs,
    });
    Ok(Prepared {
        app,
        shutdown_tx,
        leader_tx,
    })
}

/// `<host>-<pid>-<random>`: unique per process, readable in the lease row.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "holdfast".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

/// Creates the `admin` account on first start, with the configured password or a random
/// one that is written to the log this once.
async fn ensure_admin(db: &Db, config: &Config, cost: HashCost) -> Result<(), ServeError> {
    let mut tx = db.begin().await?;
    if db::users::get(&mut tx, "admin").await?.is_some() {
        tx.commit().await?;
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (
            NewPassword::parse(p.expose()).map_err(ServeError::AdminPassword)?,
            false,
        ),
        None => (NewPassword::generate(), true),
    };
    let now = now_ms();
    let inserted = db::users::insert(
        &mut tx,
        &db::users::UserRecord {
            id: "admin".to_owned(),
            name: "Administrator".to_owned(),
            email: "admin@localhost.localdomain".to_owned(),
            role: Role::Admin,
            password_hash: password::hash(password.expose(), cost)?,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
            groups: Vec::new(),
        },
    )
    .await;
    match inserted {
        Ok(()) => tx.commit().await?,
        Err(e) if e.is_unique_violation() => {
            // Another replica starting at the same time created it.
            tx.rollback().await?;
            tracing::info!(
                user = "admin",
                "the first Admin account was created by another replica"
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if generated {
        tracing::warn!(
            user = "admin",
            password = password.expose(),
            "created the first Admin account; this password is shown only this once: log in and change it"
        );
    } else {
        tracing::info!(
            user = "admin",
            "created the first Admin account with the configured password"
        );
    }
    Ok(())
}
