//! The daemon: registers with the orchestrator over the bus, reports health and
//! replication status, executes the orchestrator's commands, serves the data plane,
//! talks to systemd, and shuts down gracefully.

mod assignments;
mod commands;
pub mod reports;
mod systemd;
mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use holdfast_bus::{Bus, BusConfig};
use holdfast_protocol::messages::{AgentHello, BackendInfo, StorageKind, TrackerKind};
use holdfast_protocol::names::Names;
use holdfast_protocol::{AnyMessage, Envelope, NodeId, ProtocolVersion, Sender, UnixMillis};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tracing::{error, info, warn};

use crate::config::{BackendKind, Config};
use crate::dataplane::tls::TlsHandle;
use crate::health;
use crate::replication::replicator::Replicator;
use crate::replication::target::{self, TargetRegistry};

/// How long shutdown waits for running cycles to finish.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// A cut prepared on this agent, waiting for commit or abort.
#[derive(Debug)]
struct PreparedCut {
    volumes: Vec<String>,
    cut_at: UnixMillis,
}

/// The agent's running state, shared by the command handler and the reporters.
#[derive(Debug)]
pub struct Agent {
    config: Config,
    node: NodeId,
    bus: Bus,
    /// The data plane's TLS material (`[data_plane.tls]`), for sources and the listener;
    /// replaced by a reload (SIGHUP).
    tls: Option<TlsHandle>,
    targets: TargetRegistry,
    sources: Mutex<HashMap<String, Replicator>>,
    permits: Arc<Semaphore>,
    cuts: Mutex<HashMap<uuid::Uuid, PreparedCut>>,
    heartbeat_ms: std::sync::atomic::AtomicU64,
    started: Instant,
}

impl Agent {
    fn sender(&self) -> Sender {
        Sender::Node(self.node.clone())
    }

    async fn publish(&self, env: &Envelope) {
        if let Err(e) = self.bus.publish_event(&self.node, env).await {
            warn!(kind = %env.kind(), error = %e, "could not publish to the orchestrator");
        }
    }

    async fn publish_message(&self, msg: impl Into<AnyMessage>) {
        let env = Envelope::new(self.sender(), msg, UnixMillis::now());
        self.publish(&env).await;
    }

    fn hello(&self) -> AgentHello {
        AgentHello {
            node_id: self.node.clone(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: ProtocolVersion::CURRENT,
            data_plane_addr: Some(self.config.advertise.clone()),
            backends: self
                .config
                .backends
                .iter()
                .map(|b| BackendInfo {
                    name: b.name.clone(),
                    kind: match b.kind {
                        BackendKind::File => StorageKind::File,
                        BackendKind::Block => StorageKind::Block,
                        BackendKind::Rbd => StorageKind::Rbd,
                    },
                })
                .collect(),
            tracker: if holdfast_kmod::module_loaded() {
                TrackerKind::Kernel
            } else {
                TrackerKind::Scan
            },
        }
    }

    /// Gathers health, writes `status.json` in the state dir (read by `status` and
    /// `support-bundle`), and publishes a heartbeat and every volume's status.
    async fn report(&self) {
        let mut health = health::gather(std::process::id(), &self.config.storage_paths());
        health::add_rbd(&mut health, &self.config.backends).await;
        let now = UnixMillis::now();
        let mut statuses = Vec::new();
        let mut workers = Vec::new();
        {
            let sources = self.sources.lock().await;
            for (id, r) in sources.iter() {
                let p = r.progress.borrow().clone();
                workers.push((format!("replicator:{id}"), p.phase, p.busy));
                statuses.push(reports::source_status(id, &self.node, &p, now));
            }
        }
        // A failed TLS reload shows as a failed worker (the orchestrator lists it as a
        // problem); the reason is in status.json and the log.
        let tls_state = tls::snapshot(self.tls.as_ref());
        if !tls_state["reload_error"].is_null() {
            workers.push((
                tls::RELOAD_WORKER.to_owned(),
                crate::replication::replicator::Phase::Failed,
                false,
            ));
        }
        for t in self.targets.all() {
            let cursor = t.cursor().unwrap_or_default();
            let acked = if cursor.complete {
                cursor.epoch
            } else {
                cursor.epoch.saturating_sub(1)
            };
            let size = match &t.rbd {
                Some(image) => {
                    let mut image = image.clone();
                    image.cluster.timeout = image.cluster.timeout.min(health::PROBE_TIMEOUT);
                    image.size().await.ok().flatten().unwrap_or(0)
                }
                None => std::fs::metadata(&t.mirror).map(|m| m.len()).unwrap_or(0),
            };
            statuses.push(reports::target_status(
                &t.volume_id,
                &self.node,
                acked,
                size,
                t.stats(),
            ));
        }
        let hb = reports::heartbeat(reports::HeartbeatInput {
            node: &self.node,
            uptime_s: self.started.elapsed().as_secs(),
            health: &health,
            workers,
            tracked_volumes: statuses.len() as u32,
            replications: statuses.len() as u32,
        });
        let snapshot = serde_json::json!({
            "node_id": self.node.as_str(),
            "pid": std::process::id(),
            "written_at_ms": now.0,
            "health": &health,
            "problems": health::problems(&health),
            "data_plane_tls": tls_state,
            "replications": statuses.iter().map(|s| serde_json::json!({
                "volume_id": s.volume_id.0,
                "state": format!("{:?}", s.state),
                "acked_epoch": s.acked_epoch,
                "bytes_sent_total": s.bytes_sent_total,
                "lag_ms": s.lag_ms,
                "last_error": s.last_error,
            })).collect::<Vec<_>>(),
        });
        if let Err(e) =
            crate::durable::write_json(&self.config.state_dir.join("status.json"), &snapshot)
        {
            warn!(error = %e, "cannot write status.json");
        }
        self.publish_message(hb).await;
        for s in statuses {
            self.publish_message(s).await;
        }
    }
}

/// Runs the daemon until `shutdown` resolves. The caller binds the data-plane listener
/// (tests bind port 0). Without a reload channel: see [`run_with_reload`].
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with_reload(config, listener, shutdown, mpsc::channel(1).1).await
}

/// As [`run`]; every message on `reloads` (the binary sends one per SIGHUP) reloads
/// the data plane's TLS material from its configured files.
pub async fn run_with_reload(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    reloads: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating the state dir {}", config.state_dir.display()))?;
    crate::durable::write_atomic(
        &config.state_dir.join("agent.pid"),
        std::process::id().to_string().as_bytes(),
    )
    .context("writing agent.pid")?;
    let mut config = config;
    if config.advertise.ends_with(":0") {
        config.advertise = listener.local_addr()?.to_string();
    }
    let node = config.node_id.clone();
    let tls = match &config.tls {
        Some(files) => Some(tls::load(files, &node)?),
        None => None,
    };
    let bus = Bus::connect(BusConfig::new(
        config.bus_url.expose(),
        Names::new(config.bus_namespace.clone()),
        format!("agent-{node}"),
    ))
    .await
    .context("connecting to RabbitMQ")?;
    let queue = bus
        .declare_agent_queue(&node)
        .await
        .context("declaring the agent queue")?;
    let mut commands_sub = bus
        .subscribe(&queue)
        .await
        .context("subscribing to the agent queue")?;

    let agent = Arc::new(Agent {
        permits: Arc::new(Semaphore::new(config.max_concurrent_transfers)),
        heartbeat_ms: std::sync::atomic::AtomicU64::new(config.heartbeat_interval_ms),
        config,
        node: node.clone(),
        bus: bus.clone(),
        tls: tls.clone(),
        targets: TargetRegistry::default(),
        sources: Mutex::new(HashMap::new()),
        cuts: Mutex::new(HashMap::new()),
        started: Instant::now(),
    });
    commands::readopt(&agent).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let reloader = tls::spawn_reloader(agent.clone(), reloads, stop_rx.clone());
    let data_plane = tokio::spawn(target::serve_with_tls(
        listener,
        agent.targets.clone(),
        node.to_string(),
        tls,
        stop_rx.clone(),
    ));
    let reporter = {
        let agent = agent.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            agent.publish_message(agent.hello()).await;
            let stopped = target::shutdown_signalled(stop);
            tokio::pin!(stopped);
            loop {
                agent.report().await;
                let every = agent
                    .heartbeat_ms
                    .load(std::sync::atomic::Ordering::Relaxed);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(every)) => {}
                    () = &mut stopped => return,
                }
            }
        })
    };
    systemd::ready();
    let watchdog = systemd::spawn_watchdog(stop_rx.clone());
    info!(node = %node, "agent running");

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            delivery = commands_sub.next() => {
                let Some(delivery) = delivery else {
                    error!("the bus subscription ended");
                    break;
                };
                let env = delivery.envelope().clone();
                if env.header.sender != Sender::Orchestrator {
                    warn!(sender = %env.header.sender, kind = %env.kind(), "ignoring a command not sent by the orchestrator");
                    let _ = delivery.dead_letter().await;
                    continue;
                }
                let agent = agent.clone();
                // Long commands (cut commit, export) run beside the loop; the delivery is
                // acked once the reply is published.
                tokio::spawn(async move {
                    commands::handle(&agent, &env).await;
                    if let Err(e) = delivery.ack().await {
                        warn!(error = %e, "could not ack a command");
                    }
                });
            }
        }
    }

    info!("shutting down: draining replication");
    systemd::stopping();
    let _ = stop_tx.send(true);
    drop(commands_sub);
    let sources: Vec<Replicator> = agent.sources.lock().await.drain().map(|(_, r)| r).collect();
    let drain = async {
        for r in sources {
            r.stop().await;
        }
    };
    if tokio::time::timeout(DRAIN_DEADLINE, drain).await.is_err() {
        warn!(
            "replication did not drain within {DRAIN_DEADLINE:?}; resuming from the persisted position next start"
        );
    }
    let _ = reporter.await;
    let _ = reloader.await;
    let _ = data_plane.await;
    watchdog.abort();
    bus.close().await;
    let _ = std::fs::remove_file(agent.config.state_dir.join("agent.pid"));
    info!("agent stopped");
    Ok(())
}
