//! Real `holdfast-agent` processes and a real orchestrator over real RabbitMQ (a fresh
//! bus namespace per test): registration, heartbeats in the API, kill -9 → unreachable
//! with an event → back; `AgentLink` request/reply driving a replication and a target
//! snapshot; an `ErrorReport` answer as a typed error.
//!
//! Needs the agent binary: `cargo build -p holdfast-agent` (next to this test binary).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use holdfast_bus::{Bus, BusConfig};
use holdfast_orchestrator::agents::{self, AgentError};
use holdfast_orchestrator::config::Secret;
use holdfast_orchestrator::db::{self, Db};
use holdfast_orchestrator::lease::Leadership;
use holdfast_orchestrator::state::App;
use holdfast_protocol::messages::*;
use holdfast_protocol::names::Names;
use holdfast_protocol::{NodeId, VolumeId};

use crate::helpers::{Backend, eventually, spawn_app_with, test_config};

pub(crate) fn amqp_url() -> String {
    std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub(crate) fn namespace() -> String {
    format!("hf-orch-test-{}", uuid::Uuid::new_v4().simple())
}

fn agent_binary() -> PathBuf {
    if let Ok(p) = std::env::var("HOLDFAST_AGENT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("holdfast-agent");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p holdfast-agent`",
        bin.display()
    );
    bin
}

/// One agent process; killed (SIGKILL) when dropped.
pub(crate) struct AgentProc {
    child: Child,
    config: PathBuf,
    log: PathBuf,
}

impl AgentProc {
    /// Writes the agent's config under `root/<node>` and starts it. Its own heartbeat
    /// interval is 1 s: only the orchestrator's welcome makes it beat faster (the agent
    /// adopts a new interval after its current sleep).
    pub(crate) fn start(root: &Path, ns: &str, node: &str) -> AgentProc {
        let base = root.join(node);
        let vols = base.join("volumes");
        std::fs::create_dir_all(&vols).unwrap();
        let config = base.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "node_id = \"{node}\"\nbus_url = \"{}\"\nbus_namespace = \"{ns}\"\n\
                 state_dir = \"{}\"\nheartbeat_interval_ms = 1000\n\n[data_plane]\n\
                 listen = \"127.0.0.1:0\"\n\n[[backends]]\nname = \"files\"\nkind = \"file\"\n\
                 path = \"{}\"\n",
                amqp_url(),
                base.join("state").display(),
                vols.display()
            ),
        )
        .unwrap();
        let log = base.join("agent.log");
        AgentProc::spawn(config, log)
    }

    /// Like [`AgentProc::start`], serving the file backend `backend` at `path` (a
    /// test cloud's own volume directory).
    pub(crate) fn start_serving(
        root: &Path,
        ns: &str,
        node: &str,
        backend: &str,
        path: &Path,
    ) -> AgentProc {
        let base = root.join(node);
        std::fs::create_dir_all(&base).unwrap();
        let config = base.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "node_id = \"{node}\"\nbus_url = \"{}\"\nbus_namespace = \"{ns}\"\n\
                 state_dir = \"{}\"\nheartbeat_interval_ms = 1000\n\n[data_plane]\n\
                 listen = \"127.0.0.1:0\"\n\n[[backends]]\nname = \"{backend}\"\nkind = \"file\"\n\
                 path = \"{}\"\n",
                amqp_url(),
                base.join("state").display(),
                path.display()
            ),
        )
        .unwrap();
        AgentProc::spawn(config, base.join("agent.log"))
    }

    fn spawn(config: PathBuf, log: PathBuf) -> AgentProc {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(agent_binary())
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        AgentProc { child, config, log }
    }

    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(mut self) -> AgentProc {
        self.kill9();
        AgentProc::spawn(self.config.clone(), self.log.clone())
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Deletes the test's queues and exchanges (bounded: a cleanup never hangs a test).
pub(crate) async fn delete_namespace(ns: &str, nodes: &[&str]) {
    let cleanup = async {
        let bus = Bus::connect(BusConfig::new(amqp_url(), Names::new(ns), "test-cleanup"))
            .await
            .unwrap();
        bus.declare_orchestrator_queue().await.unwrap();
        for n in nodes {
            bus.declare_agent_queue(&NodeId::parse(*n).unwrap())
                .await
                .unwrap();
        }
        bus.delete_namespace().await.unwrap();
        bus.close().await;
    };
    if tokio::time::timeout(Duration::from_secs(30), cleanup)
        .await
        .is_err()
    {
        eprintln!("warning: bus namespace {ns} not deleted within 30 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_registers_beats_goes_unreachable_when_killed_and_comes_back() {
    let ns = namespace();
    let n2 = ns.clone();
    let app = spawn_app_with(Backend::Sqlite, move |c| {
        c.bus_url = Some(Secret::new(amqp_url()));
        c.bus_namespace = n2;
        c.agent_heartbeat_interval_ms = 500;
        c.agent_missed_heartbeats = 3;
    })
    .await;
    let admin = app.admin().await;
    let (_, ready) = app.call("GET", "/readyz", None, None).await;
    assert_eq!(ready["bus"]["status"], "connected", "{ready}");
    assert_eq!(ready["bus"]["consuming"], true, "{ready}");

    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start(dir.path(), &ns, "node-1");
    let get = || async {
        app.call("GET", "/api/v1/agents/node-1", Some(&admin), None)
            .await
            .1
    };
    // Registered by its hello, then heartbeats at the interval of our welcome.
    let mut first_beat: Option<String> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d = get().await;
        let at = d["last_heartbeat_at"].as_str().map(str::to_owned);
        if d["state"] == "online" && at.is_some() {
            match &first_beat {
                None => first_beat = at,
                Some(f) if Some(f) != at.as_ref() => break,
                Some(_) => {}
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no heartbeats: {d}\nagent log:\n{}",
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // At the welcome's 500 ms, not the agent's own 1 s: at least 5 beats in 3 s.
    let mut beats = std::collections::BTreeSet::new();
    let window = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < window {
        if let Some(at) = get().await["last_heartbeat_at"].as_str() {
            beats.insert(at.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(beats.len() >= 5, "only {} heartbeats in 3 s", beats.len());
    let d = get().await;
    assert!(!d["hostname"].as_str().unwrap().is_empty(), "{d}");
    assert_eq!(d["protocol_version"], "1.0");
    assert!(
        d["data_plane_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(d["backends"][0]["name"], "files");
    assert!(d["health"]["pid"].as_u64().unwrap() > 0, "{d}");
    assert!(!d["health"]["disks"].as_array().unwrap().is_empty(), "{d}");
    let events = |code: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.call(
                "GET",
                &format!("/api/v1/events?code={code}&object=node-1"),
                Some(&admin),
                None,
            )
            .await
            .1["total"]
                .as_i64()
                .unwrap_or(0)
        }
    };
    assert_eq!(events("agent.registered").await, 1);

    // kill -9: silent for 3 intervals → unreachable, with an event.
    let mut agent = agent;
    agent.kill9();
    let killed = std::time::Instant::now();
    let gone = eventually(Duration::from_secs(20), || async {
        get().await["state"] == "unreachable"
    })
    .await;
    assert!(gone, "still {}", get().await);
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "unreachable only after {took:?}"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            events("agent.unreachable").await == 1
        })
        .await
    );
    let (code, out) = {
        let d = get().await;
        (d["state"].clone(), d["problems"].clone())
    };
    assert_eq!(code, "unreachable");
    assert!(
        out[0].as_str().unwrap().starts_with("unreachable since"),
        "{out}"
    );

    // Back.
    let agent = agent.restart();
    let back = eventually(Duration::from_secs(30), || async {
        get().await["state"] == "online"
    })
    .await;
    assert!(back, "not back: {}\n{}", get().await, agent.log());
    assert!(
        eventually(Duration::from_secs(5), || async {
            events("agent.reachable").await == 1
        })
        .await
    );
    assert_eq!(
        events("agent.registered").await,
        1,
        "a restart is no new registration"
    );
    drop(agent);
    app.stop().await;
    delete_namespace(&ns, &["node-1"]).await;
}

/// An orchestrator `App` in-process whose `AgentLink` the test drives directly, on
/// `database_url` (default: SQLite in `dir`).
pub(crate) async fn link_app(
    ns: &str,
    dir: &Path,
    database_url: Option<String>,
) -> (
    Arc<App>,
    tokio::sync::watch::Sender<Option<i64>>,
    tokio::sync::watch::Sender<bool>,
) {
    let mut config = test_config(dir);
    config.bus_url = Some(Secret::new(amqp_url()));
    config.bus_namespace = ns.to_owned();
    config.agent_heartbeat_interval_ms = 500;
    config.database_url = database_url.map(Secret::new);
    let db = Db::connect(&config.effective_database_url()).await.unwrap();
    db.migrate().await.unwrap();
    let link = agents::connect(&config, "test-link").await.unwrap();
    let (leader_tx, leader) = Leadership::channel();
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let metrics = holdfast_orchestrator::metrics::Metrics::new();
    let clusters = holdfast_orchestrator::clusters::Clusters::new(&config, &metrics);
    let app = Arc::new(App {
        db,
        clusters,
        licence_key: holdfast_orchestrator::licence::verifying_key(
            config.licence_public_key.as_deref(),
        )
        .unwrap(),
        config,
        metrics,
        product_uuid: uuid::Uuid::new_v4(),
        hash_cost: holdfast_orchestrator::domain::password::HashCost {
            memory_kib: 64,
            iterations: 1,
        },
        events: tokio::sync::broadcast::channel(64).0,
        shutdown,
        dummy_hash: String::new(),
        instance_id: "test-link".into(),
        leader,
        agents: link,
        replication: Arc::new(holdfast_orchestrator::protection::NotConnected),
        jobs: holdfast_orchestrator::jobs::Jobs::new(
            Arc::new(holdfast_orchestrator::jobs::NoPlans),
            Default::default(),
        ),
    });
    (app, leader_tx, shutdown_tx)
}

async fn wait_row(
    db: &Db,
    what: &str,
    ok: impl Fn(&[db::agents::ReplicationRecord]) -> bool,
    node: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut c = db.conn().await.unwrap();
        let reps = db::agents::replications(&mut c, Some(node)).await.unwrap();
        if ok(&reps) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {reps:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_link_drives_replication_and_a_target_snapshot_and_maps_error_reports() {
    let ns = namespace();
    let dir = tempfile::tempdir().unwrap();
    let (app, leader_tx, shutdown_tx) = link_app(&ns, &dir.path().join("orch"), None).await;
    let link = app.agents.clone().unwrap();
    let src = NodeId::parse("node-a").unwrap();
    let tgt = NodeId::parse("node-b").unwrap();
    // A follower receives no replies: requests are refused at once.
    let refused = link
        .request(
            &tgt,
            ReplicationResync {
                volume_id: VolumeId("v".into()),
            },
            Duration::from_secs(1),
        )
        .await;
    assert!(
        matches!(refused, Err(AgentError::NotLeader { .. })),
        "{refused:?}"
    );

    leader_tx.send_replace(Some(1));
    let consumer = tokio::spawn(agents::run(app.clone()));
    assert!(
        eventually(Duration::from_secs(10), || async { link.is_consuming() }).await,
        "the leader consumes"
    );
    let root = dir.path().join("nodes");
    let a = AgentProc::start(&root, &ns, "node-a");
    let b = AgentProc::start(&root, &ns, "node-b");
    // The source volume: 4 MiB of random bytes.
    let volume = root.join("node-a/volumes/vol-1.img");
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&volume, &data).unwrap();

    // Both registered; the target's data-plane address comes from its hello.
    let registered = eventually(Duration::from_secs(30), || async {
        let mut c = app.db.conn().await.unwrap();
        let all = db::agents::list(&mut c).await.unwrap();
        all.len() == 2 && all.iter().all(|r| r.data_plane_addr.is_some())
    })
    .await;
    assert!(
        registered,
        "agents did not register:\n{}\n{}",
        a.log(),
        b.log()
    );
    let target_addr = {
        let mut c = app.db.conn().await.unwrap();
        db::agents::get(&mut c, "node-b")
            .await
            .unwrap()
            .unwrap()
            .data_plane_addr
            .unwrap()
    };

    let start = ReplicationStart {
        volume_id: VolumeId("vol-1".into()),
        plan_id: "plan-1".into(),
        size_bytes: data.len() as u64,
        source: ReplicationEndpoint {
            node_id: src.clone(),
            location: VolumeLocation {
                backend: "files".into(),
                kind: StorageKind::File,
                object: "vol-1.img".into(),
            },
        },
        target: ReplicationEndpoint {
            node_id: tgt.clone(),
            location: VolumeLocation {
                backend: "files".into(),
                kind: StorageKind::File,
                object: "vol-1.mirror".into(),
            },
        },
        target_data_addr: target_addr,
        session_secret: SessionSecret(vec![9; 32]),
        block_size: 4096,
        cycle_interval_ms: 300,
        compression: Compression::None,
        bandwidth_limit_bps: None,
    };
    let t = Duration::from_secs(30);
    let ack = link.request(&tgt, start.clone(), t).await.unwrap();
    assert_eq!(ack.volume_id.0, "vol-1");
    let ack = link.request(&src, start, t).await.unwrap();
    assert!(
        matches!(
            ack.state,
            ReplicationState::Starting
                | ReplicationState::InitialCopy
                | ReplicationState::Replicating
        ),
        "{ack:?}"
    );
    // The target's status reaches the database: an epoch acknowledged.
    wait_row(
        &app.db,
        "the target to acknowledge an epoch",
        |r| {
            r.iter()
                .any(|r| r.volume_id == "vol-1" && r.acked_epoch >= 1)
        },
        "node-b",
    )
    .await;

    // A target snapshot (retried while a cycle runs: the agent says Conflict then).
    let mut result = None;
    for _ in 0..50 {
        let r = link
            .request(
                &tgt,
                TargetSnapshotCreate {
                    volume_id: VolumeId("vol-1".into()),
                    snapshot_name: "snap-1".into(),
                },
                t,
            )
            .await;
        match r {
            Ok(r) => {
                result = Some(r);
                break;
            }
            Err(AgentError::Refused {
                code: ErrorCode::Conflict,
                ..
            }) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("snapshot: {e}"),
        }
    }
    let snap = result.expect("a snapshot between cycles");
    assert_eq!(snap.op, TargetSnapshotOp::Created);
    assert!(snap.epoch.unwrap() >= 1, "{snap:?}");

    // An ErrorReport answer is a typed error: the source is not the target of vol-1.
    let e = link
        .request(
            &src,
            TargetSnapshotCreate {
                volume_id: VolumeId("vol-1".into()),
                snapshot_name: "snap-1".into(),
            },
            t,
        )
        .await
        .unwrap_err();
    match &e {
        AgentError::Refused {
            code,
            retryable,
            volume_id,
            ..
        } => {
            assert_eq!(*code, ErrorCode::UnknownVolume);
            assert!(!retryable);
            assert_eq!(volume_id.as_deref(), Some("vol-1"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(e.to_string().contains("node-a"), "{e}");
    // A node without a queue.
    let e = link
        .request(
            &NodeId::parse("node-nobody").unwrap(),
            ReplicationResync {
                volume_id: VolumeId("v".into()),
            },
            t,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AgentError::UnknownAgent { .. }), "{e:?}");

    // Losing the lease stops the consumer; requests are refused again.
    leader_tx.send_replace(None);
    assert!(eventually(Duration::from_secs(10), || async { !link.is_consuming() }).await);
    shutdown_tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), consumer).await;
    drop((a, b));
    let _ = tokio::time::timeout(Duration::from_secs(5), link.bus().close()).await;
    app.db.close().await;
    delete_namespace(&ns, &["node-a", "node-b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_started_before_the_orchestrator_registers_by_its_heartbeat() {
    let ns = namespace();
    let dir = tempfile::tempdir().unwrap();
    // The agent's hello finds no orchestrator queue (it is lost); its heartbeats too,
    // until the orchestrator declares its queue.
    let agent = AgentProc::start(dir.path(), &ns, "node-early");
    assert!(
        eventually(Duration::from_secs(20), || async {
            // Its first publish, the hello, was refused as unroutable.
            agent
                .log()
                .contains("could not publish to the orchestrator")
        })
        .await,
        "{}",
        agent.log()
    );
    let n2 = ns.clone();
    let app = spawn_app_with(Backend::Sqlite, move |c| {
        c.bus_url = Some(Secret::new(amqp_url()));
        c.bus_namespace = n2;
        c.agent_heartbeat_interval_ms = 500;
    })
    .await;
    let admin = app.admin().await;
    let get = || async {
        app.call("GET", "/api/v1/agents/node-early", Some(&admin), None)
            .await
            .1
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            get().await["state"] == "online"
        })
        .await,
        "not registered: {}\n{}",
        get().await,
        agent.log()
    );
    let d = get().await;
    assert_eq!(d["hostname"], "", "the hello was missed: {d}");
    // The event follows the commit.
    let registered_event = || async {
        app.call(
            "GET",
            "/api/v1/events?code=agent.registered&object=node-early",
            Some(&admin),
            None,
        )
        .await
        .1
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            registered_event().await["total"] == 1
        })
        .await
    );
    let ev = registered_event().await;
    assert!(
        ev["items"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("by its heartbeat")),
        "{ev}"
    );
    // The unsolicited welcome set its interval to 500 ms.
    let mut beats = std::collections::BTreeSet::new();
    let window = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < window {
        if let Some(at) = get().await["last_heartbeat_at"].as_str() {
            beats.insert(at.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(beats.len() >= 6, "only {} heartbeats in 4 s", beats.len());
    assert!(
        agent.log().contains("registered with the orchestrator"),
        "{}",
        agent.log()
    );
    drop(agent);
    app.stop().await;
    delete_namespace(&ns, &["node-early"]).await;
}
