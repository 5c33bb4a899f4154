//! Two agent daemons driven over real RabbitMQ by a test orchestrator: registration,
//! heartbeats, replication start/status, a group cut, snapshot delete, export, stop,
//! graceful shutdown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use holdfast_agent::config::Config;
use holdfast_agent::daemon;
use holdfast_agent::snapshots::{self, SnapshotName};
use holdfast_bus::{Bus, BusConfig, Subscription};
use holdfast_protocol::messages::*;
use holdfast_protocol::names::Names;
use holdfast_protocol::{AnyMessage, Envelope, NodeId, Sender, UnixMillis, VolumeId};
use tokio::sync::oneshot;

use crate::helpers::*;

pub(crate) fn amqp_url() -> String {
    std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A bus namespace of the test's own (`<prefix>-<uuid>`), connected as the orchestrator,
/// with a subscription to the orchestrator's queue.
pub(crate) async fn orchestrator_bus(prefix: &str) -> (String, Bus, holdfast_bus::Subscription) {
    let ns = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let mut cfg = BusConfig::new(amqp_url(), Names::new(&ns), "test-orchestrator");
    cfg.connect_timeout = Duration::from_secs(10);
    let bus = Bus::connect(cfg)
        .await
        .expect("RabbitMQ must be running on 127.0.0.1:5672");
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let sub = bus.subscribe(&queue).await.unwrap();
    (ns, bus, sub)
}

pub(crate) struct RunningAgent {
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub(crate) addr: String,
}

async fn start_agent(ns: &str, node: &str, root: &Path) -> RunningAgent {
    let state = root.join(node).join("state");
    let vols = root.join(node).join("volumes");
    std::fs::create_dir_all(&vols).unwrap();
    let toml = format!(
        r#"
node_id = "{node}"
bus_url = "{url}"
bus_namespace = "{ns}"
state_dir = "{state}"
heartbeat_interval_ms = 200

[data_plane]
listen = "127.0.0.1:0"

[[backends]]
name = "files"
kind = "file"
path = "{vols}"
"#,
        url = amqp_url(),
        state = state.display(),
        vols = vols.display(),
    );
    let config = Config::parse(&toml, |_| None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(daemon::run(config, listener, async move {
        let _ = rx.await;
    }));
    RunningAgent {
        stop: Some(tx),
        task,
        addr,
    }
}

impl RunningAgent {
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("graceful shutdown within the drain deadline")
            .unwrap()
            .unwrap();
    }
}

/// The next message from the agents that `pick` accepts (others are acked and skipped).
pub(crate) async fn expect<T>(
    sub: &mut Subscription,
    what: &str,
    mut pick: impl FnMut(&Envelope) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let d = tokio::time::timeout_at(deadline, sub.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("subscription open");
        let found = pick(d.envelope());
        d.ack().await.unwrap();
        if let Some(t) = found {
            return t;
        }
    }
}

/// Waits until `n` distinct agents said hello (their command queues are bound then).
pub(crate) async fn hellos(sub: &mut Subscription, n: usize) {
    let mut seen = std::collections::HashSet::new();
    while seen.len() < n {
        let node = expect(sub, "hellos", |e| match &e.message {
            AnyMessage::AgentHello(h) => Some(h.node_id.clone()),
            _ => None,
        })
        .await;
        seen.insert(node);
    }
}

/// Sends `msg` to each of `nodes` in turn, each once the previous one acknowledged it;
/// an error report fails the test.
pub(crate) async fn command_each(
    bus: &Bus,
    sub: &mut Subscription,
    msg: impl Into<AnyMessage> + Clone,
    nodes: &[&NodeId],
) {
    for node in nodes {
        let env = command(msg.clone());
        bus.publish_command(node, &env).await.unwrap();
        let id = env.header.message_id;
        expect(sub, "replication ack", |e| match &e.message {
            AnyMessage::ReplicationAck(_) if e.header.correlation_id == Some(id) => Some(()),
            AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(id) => panic!("{r:?}"),
            _ => None,
        })
        .await;
    }
}

pub(crate) fn command(msg: impl Into<AnyMessage>) -> Envelope {
    Envelope::new(Sender::Orchestrator, msg, UnixMillis::now())
}

fn volumes(root: &Path, node: &str) -> PathBuf {
    root.join(node).join("volumes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_register_replicate_cut_export_and_stop_over_the_bus() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (ns, bus, mut sub) = orchestrator_bus("hf-agent-test").await;

    let a = start_agent(&ns, "node-a", root).await;
    let b = start_agent(&ns, "node-b", root).await;
    let (na, nb) = (
        NodeId::parse("node-a").unwrap(),
        NodeId::parse("node-b").unwrap(),
    );
    let mut hellos = std::collections::HashSet::new();
    while hellos.len() < 2 {
        let h = expect(&mut sub, "hellos", |e| match &e.message {
            AnyMessage::AgentHello(h) => Some(h.clone()),
            _ => None,
        })
        .await;
        assert!(h.data_plane_addr.is_some());
        assert_eq!(h.backends.len(), 1);
        hellos.insert(h.node_id);
    }
    let hb = expect(&mut sub, "a heartbeat", |e| match &e.message {
        AnyMessage::Heartbeat(h) => Some(h.clone()),
        _ => None,
    })
    .await;
    assert!(hb.process.threads >= 1 && hb.memory.total_bytes > 0 && !hb.disks.is_empty());
    assert!(!hb.tracker.kmod_loaded);

    // Three volumes on node-a, replicated to node-b.
    let names = ["vol-0", "vol-1", "vol-2"];
    for (i, v) in names.iter().enumerate() {
        random_file(
            &volumes(root, "node-a").join(v),
            4 << 20,
            3 << 20,
            20 + i as u64,
        );
        let start = ReplicationStart {
            volume_id: VolumeId(v.to_string()),
            plan_id: "plan-1".into(),
            size_bytes: 4 << 20,
            source: ReplicationEndpoint {
                node_id: na.clone(),
                location: VolumeLocation {
                    backend: "files".into(),
                    kind: StorageKind::File,
                    object: v.to_string(),
                },
            },
            target: ReplicationEndpoint {
                node_id: nb.clone(),
                location: VolumeLocation {
                    backend: "files".into(),
                    kind: StorageKind::File,
                    object: format!("{v}.mirror"),
                },
            },
            target_data_addr: b.addr.clone(),
            session_secret: SessionSecret(SECRET.to_vec()),
            block_size: 4096,
            cycle_interval_ms: 300,
            compression: Compression::Zstd,
            bandwidth_limit_bps: None,
        };
        // Target first, so the source's first connection finds the volume registered.
        for node in [&nb, &na] {
            let env = command(start.clone());
            bus.publish_command(node, &env).await.unwrap();
            let id = env.header.message_id;
            expect(&mut sub, "replication ack", |e| match &e.message {
                AnyMessage::ReplicationAck(ack) if e.header.correlation_id == Some(id) => {
                    Some(ack.clone())
                }
                AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(id) => {
                    panic!("{r:?}")
                }
                _ => None,
            })
            .await;
        }
    }
    for v in names {
        expect(
            &mut sub,
            "source status with a committed epoch",
            |e| match &e.message {
                AnyMessage::ReplicationStatus(s)
                    if s.volume_id.0 == v && s.node_id == na && s.acked_epoch >= 1 =>
                {
                    assert_eq!(s.state, ReplicationState::Replicating);
                    assert!(s.lag_ms.is_some());
                    Some(())
                }
                _ => None,
            },
        )
        .await;
        assert_eq!(
            digest(&volumes(root, "node-a").join(v)),
            digest(&volumes(root, "node-b").join(format!("{v}.mirror")))
        );
    }

    // A consistent cut across the three volumes.
    let cut_id = uuid::Uuid::new_v4();
    let vids: Vec<VolumeId> = names.iter().map(|v| VolumeId(v.to_string())).collect();
    let env = command(CutPrepare {
        cut_id,
        group_id: "pg-1".into(),
        volumes: vids.clone(),
        hold_timeout_ms: 60_000,
    });
    bus.publish_command(&na, &env).await.unwrap();
    expect(&mut sub, "cut prepared", |e| match &e.message {
        AnyMessage::CutPrepared(p) if p.cut_id == cut_id => Some(()),
        AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(env.header.message_id) => {
            panic!("{r:?}")
        }
        _ => None,
    })
    .await;
    let at_cut: Vec<Vec<u8>> = names
        .iter()
        .map(|v| std::fs::read(volumes(root, "node-a").join(v)).unwrap())
        .collect();
    // Writes after the cut point are not part of the snapshot.
    for (i, v) in names.iter().enumerate() {
        random_writes(&volumes(root, "node-a").join(v), 30, 500 + i as u64);
    }
    let env = command(CutCommit {
        cut_id,
        snapshot_name: "snap-1".into(),
    });
    bus.publish_command(&na, &env).await.unwrap();
    let result = expect(&mut sub, "cut result", |e| match &e.message {
        AnyMessage::CutResult(r) if r.cut_id == cut_id => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(result.outcome, CutOutcome::Committed, "{result:?}");
    assert_eq!(result.volumes.len(), 3);
    let snap = SnapshotName::parse("snap-1").unwrap();
    for (v, expected) in names.iter().zip(&at_cut) {
        let mirror = volumes(root, "node-b").join(format!("{v}.mirror"));
        assert_eq!(
            &std::fs::read(snapshots::snapshot_path(&mirror, &snap)).unwrap(),
            expected
        );
    }

    // Export the snapshot of vol-1 as a new file for Cinder manage-existing.
    let export_id = uuid::Uuid::new_v4();
    let export = VolumeExport {
        export_id,
        volume_id: VolumeId("vol-1".into()),
        point: RecoveryPoint::Snapshot {
            name: "snap-1".into(),
        },
        destination: VolumeLocation {
            backend: "files".into(),
            kind: StorageKind::File,
            object: "volume-restored".into(),
        },
    };
    for _ in 0..2 {
        // Twice: the second answer is the same (idempotent by export id).
        bus.publish_command(&nb, &command(export.clone()))
            .await
            .unwrap();
        let done = expect(&mut sub, "volume exported", |e| match &e.message {
            AnyMessage::VolumeExported(x) if x.export_id == export_id => Some(x.clone()),
            AnyMessage::ErrorReport(r) => panic!("{r:?}"),
            _ => None,
        })
        .await;
        assert_eq!(done.size_bytes, 4 << 20);
    }
    assert_eq!(
        std::fs::read(volumes(root, "node-b").join("volume-restored")).unwrap(),
        at_cut[1]
    );

    // Delete the snapshot of vol-0 on the target.
    bus.publish_command(
        &nb,
        &command(TargetSnapshotDelete {
            volume_id: VolumeId("vol-0".into()),
            snapshot_name: "snap-1".into(),
        }),
    )
    .await
    .unwrap();
    expect(&mut sub, "snapshot deleted", |e| match &e.message {
        AnyMessage::TargetSnapshotResult(r) if r.op == TargetSnapshotOp::Deleted => Some(()),
        _ => None,
    })
    .await;
    let m0 = volumes(root, "node-b").join("vol-0.mirror");
    assert!(snapshots::find(&m0, &snap).unwrap().is_none());

    // A command from someone other than the orchestrator is not obeyed.
    let forged = Envelope::new(
        Sender::Node(na.clone()),
        ReplicationStop {
            volume_id: VolumeId("vol-2".into()),
            remove_target_copy: true,
        },
        UnixMillis::now(),
    );
    bus.publish_command(&nb, &forged).await.unwrap();

    // Stop vol-0 and remove its copy.
    for node in [&na, &nb] {
        bus.publish_command(
            node,
            &command(ReplicationStop {
                volume_id: VolumeId("vol-0".into()),
                remove_target_copy: true,
            }),
        )
        .await
        .unwrap();
        expect(&mut sub, "stop ack", |e| match &e.message {
            AnyMessage::ReplicationAck(a) if a.state == ReplicationState::Stopped => Some(()),
            _ => None,
        })
        .await;
    }
    assert!(!m0.exists());
    assert!(
        volumes(root, "node-b").join("vol-2.mirror").exists(),
        "the forged stop was ignored"
    );

    a.shutdown().await;
    b.shutdown().await;
    bus.delete_namespace().await.unwrap();
}
