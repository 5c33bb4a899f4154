//! Everything the demo runs, in this one process: the source and target OpenStack test
//! clouds (real volume files under the data dir, notifications on RabbitMQ), a node
//! agent for each cloud's volume storage, and the orchestrator on its embedded SQLite.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use holdfast_testcloud::TestCloud;
use holdfast_testcloud::config::{Notifications, Timing};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use holdfast_testcloud::fixture::Fixture;
use holdfast_testcloud::fixture::shop::Shop;

/// The Cinder backend (and pool) of both test clouds: volumes live in
/// `<storage>/file/file/volume-<id>`.
pub(crate) const BACKEND: &str = "file";

/// Where and how to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The orchestrator's API and console.
    pub(crate) bind: SocketAddr,
    /// Everything the demo writes (recreated at each run).
    pub(crate) data_dir: PathBuf,
    /// RabbitMQ.
    pub(crate) bus_url: String,
}

/// One cloud with its agent's node id.
#[derive(Debug)]
pub(crate) struct Cloud {
    pub(crate) tc: TestCloud,
    /// The agent serving this cloud's volume backend.
    pub(crate) node: String,
    /// The exchanges its notifications go to.
    pub(crate) exchanges: Vec<String>,
}

impl Cloud {
    /// The directory of the cloud's volume files.
    pub(crate) fn pool(&self) -> PathBuf {
        self.tc.storage_dir().join(BACKEND).join(BACKEND)
    }
}

/// How often agents report and how long the leader lease lasts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) heartbeat_ms: u64,
    pub(crate) lease_ttl_ms: u64,
}

impl Pace {
    /// The demo's: quick, on an otherwise idle machine.
    pub(crate) const DEMO: Pace = Pace {
        heartbeat_ms: 1000,
        lease_ttl_ms: 3000,
    };
}

/// The running demo.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) source: Cloud,
    pub(crate) target: Cloud,
    /// The orchestrator and the agents.
    pub(crate) svc: Services,
}

/// The orchestrator (embedded SQLite in the data dir) and node agents running in this
/// process, stopped together.
#[derive(Debug)]
pub(crate) struct Services {
    /// `http://host:port` of the orchestrator.
    pub(crate) base: String,
    /// The first admin's password.
    pub(crate) admin_password: String,
    /// Signs the demo's licence (its public half is the orchestrator's licence key).
    pub(crate) licence_signer: ed25519_dalek::SigningKey,
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

fn timing() -> Timing {
    Timing {
        server_build_ms: 300,
        server_delete_ms: 100,
        server_power_ms: 100,
        volume_create_ms: 100,
        volume_delete_ms: 100,
        volume_attach_ms: 100,
        snapshot_ms: 100,
    }
}

async fn start_cloud(
    opts: &Options,
    name: &str,
    node: &str,
    fixture: Fixture,
) -> anyhow::Result<Cloud> {
    let dir = opts.data_dir.join(format!("{name}-cloud"));
    std::fs::create_dir_all(&dir)?;
    let fixture_path = dir.join("fixture.json");
    std::fs::write(&fixture_path, serde_json::to_vec_pretty(&fixture)?)?;
    let exchanges = vec![
        format!("holdfast-demo-{name}-nova"),
        format!("holdfast-demo-{name}-openstack"),
        format!("holdfast-demo-{name}-neutron"),
    ];
    let tc = TestCloud::start(holdfast_testcloud::Config {
        storage_dir: Some(dir.join("storage")),
        fixture: Some(fixture_path),
        timing: timing(),
        notifications: Notifications {
            url: Some(opts.bus_url.clone()),
            topic: "notifications".into(),
            compute_exchange: exchanges[0].clone(),
            volume_exchange: exchanges[1].clone(),
            identity_exchange: exchanges[1].clone(),
            network_exchange: exchanges[2].clone(),
        },
        ..holdfast_testcloud::Config::default()
    })
    .await
    .with_context(|| format!("starting the {name} test cloud"))?;
    Ok(Cloud {
        tc,
        node: node.to_owned(),
        exchanges,
    })
}

fn agent_config(opts: &Options, cloud: &Cloud) -> anyhow::Result<holdfast_agent::config::Config> {
    let backend = format!(
        "[[backends]]\nname = {BACKEND:?}\nkind = \"file\"\npath = {pool:?}\n",
        pool = cloud.pool().display().to_string(),
    );
    write_agent_config(opts, NAMESPACE, &cloud.node, &backend)
}

/// The bus namespace of the demo's orchestrator and agents.
const NAMESPACE: &str = "holdfast-demo";

/// Writes `agent-<node>/agent.toml` in the data dir (node id, bus, state dir, a data
/// plane on a loopback port, then `backends`) and parses it as the agent would.
pub(crate) fn write_agent_config(
    opts: &Options,
    namespace: &str,
    node: &str,
    backends: &str,
) -> anyhow::Result<holdfast_agent::config::Config> {
    let dir = opts.data_dir.join(format!("agent-{node}"));
    std::fs::create_dir_all(&dir)?;
    let text = format!(
        "node_id = {node:?}\nbus_url = {bus:?}\nbus_namespace = {namespace:?}\n\
         state_dir = {state:?}\nheartbeat_interval_ms = 1000\n\n\
         [data_plane]\nlisten = \"127.0.0.1:0\"\n\n{backends}",
        bus = opts.bus_url,
        state = dir.join("state").display().to_string(),
    );
    std::fs::write(dir.join("agent.toml"), &text)?;
    holdfast_agent::config::Config::parse(&text, |_| None)
        .with_context(|| format!("the agent configuration of {node}"))
}

fn random_password() -> String {
    use rand::Rng;
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(10)
        .map(char::from)
        .collect();
    // the password policy wants lower, upper, digit and special characters
    format!("Hf#{tail}9a")
}

async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("the orchestrator at {base} did not become healthy within 30 s")
}

/// Empties (or creates) the demo's data dir.
pub(crate) fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the previous demo's {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

impl Stack {
    /// Starts the clouds, the orchestrator and the agents in the (fresh) data dir.
    pub(crate) async fn start(opts: &Options) -> anyhow::Result<Stack> {
        let source = start_cloud(opts, "source", "demo-source-node", Shop::DEMO.source()).await?;
        // the target agent's node id is the target cloud's Cinder host name, so that
        // volumes it exports are adopted at `testcloud@file#file`
        let target = start_cloud(opts, "target", "testcloud", Shop::target()).await?;
        let mut svc = Services::start(opts, NAMESPACE, Pace::DEMO).await?;
        for cloud in [&source, &target] {
            svc.spawn_agent(agent_config(opts, cloud)?).await?;
        }
        Ok(Stack {
            source,
            target,
            svc,
        })
    }

    /// Stops the orchestrator and the agents.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.svc.stop().await
    }
}

impl Services {
    /// Starts the orchestrator on `opts.bind` with its bus namespace and pace, and waits
    /// until it is healthy.
    pub(crate) async fn start(
        opts: &Options,
        namespace: &str,
        pace: Pace,
    ) -> anyhow::Result<Services> {
        let (stop, stopped) = watch::channel(false);
        let admin_password = random_password();
        let licence_signer = holdfast_orchestrator::licence::generate_signing_key();
        let config = holdfast_orchestrator::Config {
            bind: opts.bind,
            data_dir: opts.data_dir.join("orchestrator"),
            bus_url: Some(holdfast_orchestrator::config::Secret::new(
                opts.bus_url.clone(),
            )),
            bus_namespace: namespace.into(),
            admin_password: Some(holdfast_orchestrator::config::Secret::new(
                admin_password.clone(),
            )),
            licence_public_key: Some(holdfast_orchestrator::licence::public_key_text(
                &licence_signer.verifying_key(),
            )),
            agent_heartbeat_interval_ms: pace.heartbeat_ms,
            lease_ttl_ms: pace.lease_ttl_ms,
            ..holdfast_orchestrator::Config::default()
        };
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .with_context(|| format!("binding {} (another demo running? use --bind)", opts.bind))?;
        let base = format!("http://{}", listener.local_addr()?);
        let mut stopped2 = stopped.clone();
        let tasks = vec![tokio::spawn(async move {
            holdfast_orchestrator::run(config, listener, async move {
                let _ = stopped2.wait_for(|s| *s).await;
            })
            .await
            .map_err(anyhow::Error::from)
        })];
        wait_ready(&base).await?;
        Ok(Services {
            base,
            admin_password,
            licence_signer,
            stop,
            stopped,
            tasks,
        })
    }

    /// Starts a node agent (its data plane on a loopback port).
    pub(crate) async fn spawn_agent(
        &mut self,
        config: holdfast_agent::config::Config,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut stopped = self.stopped.clone();
        self.tasks.push(tokio::spawn(async move {
            holdfast_agent::daemon::run(config, listener, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        }));
        Ok(())
    }

    /// Stops the orchestrator and the agents.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        for t in self.tasks {
            t.await.context("a demo task panicked")??;
        }
        Ok(())
    }
}
