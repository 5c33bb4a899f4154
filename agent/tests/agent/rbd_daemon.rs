//! Two agent daemons with Ceph RBD backends (node-a on cluster `a`, node-b on cluster
//! `b`) driven over real RabbitMQ: heartbeat with the pools, replication of an image,
//! a cut with a target snapshot, snapshot create/delete, export at a snapshot, stop
//! with nothing left behind. Ignored in CI (no Ceph): `.ci/realstack-agent` runs it.

use std::path::Path;

use holdfast_agent::config::Config;
use holdfast_agent::daemon;
use holdfast_agent::rbd::Image;
use holdfast_agent::rbd::stream::Record;
use holdfast_protocol::messages::*;
use holdfast_protocol::{AnyMessage, NodeId, VolumeId};
use tokio::sync::oneshot;

use crate::daemon::{RunningAgent, amqp_url, command, expect};
use crate::helpers::SECRET;
use crate::rbd::{Cleanup, cluster, holdfast_snaps, random, sha, unique, write};

async fn start_agent(ns: &str, node: &str, ceph: &str, root: &Path) -> RunningAgent {
    let c = cluster(ceph);
    let toml = format!(
        r#"
node_id = "{node}"
bus_url = "{url}"
bus_namespace = "{ns}"
state_dir = "{state}"
heartbeat_interval_ms = 500

[data_plane]
listen = "127.0.0.1:0"

[[backends]]
name = "ceph"
kind = "rbd"
conf = "{conf}"
client_id = "cinder"
keyring = "{keyring}"
pool = "rbd"
"#,
        url = amqp_url(),
        state = root.join(node).display(),
        conf = c.conf.display(),
        keyring = c.keyring.display(),
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

fn rbd_loc(object: &str) -> VolumeLocation {
    VolumeLocation {
        backend: "ceph".into(),
        kind: StorageKind::Rbd,
        object: object.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Ceph clusters a and b and RabbitMQ: run .ci/realstack-agent"]
async fn daemons_replicate_snapshot_export_and_stop_an_rbd_volume_over_the_bus() {
    let (a, b) = (cluster("a"), cluster("b"));
    let src = Image::new(a.clone(), unique("src"));
    let mirror = Image::new(b.clone(), unique("mirror"));
    let restored = Image::new(b.clone(), unique("restored"));
    let _cleanup = Cleanup(vec![src.clone(), mirror.clone(), restored.clone()]);
    a.run(&["create", "--size", "16M", &src.spec()])
        .await
        .unwrap();
    write(
        &src,
        &[Record::Data {
            offset: 1 << 20,
            data: random(6 << 20, 11),
        }],
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let (ns, bus, mut sub) = crate::daemon::orchestrator_bus("hf-agent-test").await;
    let agent_a = start_agent(&ns, "node-a", "a", dir.path()).await;
    let agent_b = start_agent(&ns, "node-b", "b", dir.path()).await;
    let (na, nb) = (
        NodeId::parse("node-a").unwrap(),
        NodeId::parse("node-b").unwrap(),
    );

    // The heartbeat carries the pool as a storage path with its space.
    let hb = expect(&mut sub, "a heartbeat with the RBD pool", |e| {
        match &e.message {
            AnyMessage::Heartbeat(h) => h.disks.iter().find(|d| d.path == "rbd:ceph/rbd").cloned(),
            _ => None,
        }
    })
    .await;
    assert!(hb.total_bytes > 0 && hb.available_bytes > 0, "{hb:?}");

    let vid = VolumeId("vol-rbd".into());
    let start = ReplicationStart {
        volume_id: vid.clone(),
        plan_id: "plan-1".into(),
        size_bytes: 16 << 20,
        source: ReplicationEndpoint {
            node_id: na.clone(),
            location: rbd_loc(&src.name),
        },
        target: ReplicationEndpoint {
            node_id: nb.clone(),
            location: rbd_loc(&mirror.name),
        },
        target_data_addr: agent_b.addr.clone(),
        session_secret: SessionSecret(SECRET.to_vec()),
        block_size: 4096,
        cycle_interval_ms: 1000,
        compression: Compression::None,
        bandwidth_limit_bps: None,
    };
    crate::daemon::command_each(&bus, &mut sub, start.clone(), &[&nb, &na]).await;
    expect(&mut sub, "a committed epoch", |e| match &e.message {
        AnyMessage::ReplicationStatus(s) if s.node_id == na && s.acked_epoch >= 1 => Some(()),
        _ => None,
    })
    .await;

    // A cut: the target snapshot holds the source as of the cut.
    let cut_id = uuid::Uuid::new_v4();
    let env = command(CutPrepare {
        cut_id,
        group_id: "pg-1".into(),
        volumes: vec![vid.clone()],
        hold_timeout_ms: 120_000,
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
    // The cut's source snapshot is the newest holdfast snapshot.
    let cut_snap = holdfast_snaps(&src).await.into_iter().max().unwrap();
    let at_cut = sha(&a, &src.snap_spec(&cut_snap)).await;
    write(
        &src,
        &[Record::Data {
            offset: 0,
            data: random(1 << 20, 12),
        }],
    )
    .await;
    bus.publish_command(
        &na,
        &command(CutCommit {
            cut_id,
            snapshot_name: "snap-1".into(),
        }),
    )
    .await
    .unwrap();
    let result = expect(&mut sub, "cut result", |e| match &e.message {
        AnyMessage::CutResult(r) if r.cut_id == cut_id => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(result.outcome, CutOutcome::Committed, "{result:?}");
    assert_eq!(sha(&b, &mirror.snap_spec("snap-1")).await, at_cut);
    assert_ne!(
        sha(&a, &src.spec()).await,
        at_cut,
        "the write after the cut is not in it"
    );

    // Export the snapshot as a new image Cinder can adopt; twice (idempotent).
    let export_id = uuid::Uuid::new_v4();
    let export = VolumeExport {
        export_id,
        volume_id: vid.clone(),
        point: RecoveryPoint::Snapshot {
            name: "snap-1".into(),
        },
        destination: rbd_loc(&restored.name),
    };
    for _ in 0..2 {
        bus.publish_command(&nb, &command(export.clone()))
            .await
            .unwrap();
        let done = expect(&mut sub, "volume exported", |e| match &e.message {
            AnyMessage::VolumeExported(x) if x.export_id == export_id => Some(x.clone()),
            AnyMessage::ErrorReport(r) => panic!("{r:?}"),
            _ => None,
        })
        .await;
        assert_eq!(done.size_bytes, 16 << 20);
        assert!(done.point_in_time.is_some());
    }
    assert_eq!(sha(&b, &restored.spec()).await, at_cut);

    // Target snapshots through their own commands.
    for (msg, op) in [
        (
            AnyMessage::from(TargetSnapshotCreate {
                volume_id: vid.clone(),
                snapshot_name: "snap-2".into(),
            }),
            TargetSnapshotOp::Created,
        ),
        (
            AnyMessage::from(TargetSnapshotDelete {
                volume_id: vid.clone(),
                snapshot_name: "snap-1".into(),
            }),
            TargetSnapshotOp::Deleted,
        ),
    ] {
        let env = command(msg);
        let id = env.header.message_id;
        bus.publish_command(&nb, &env).await.unwrap();
        let r = expect(&mut sub, "snapshot result", |e| match &e.message {
            AnyMessage::TargetSnapshotResult(r) if e.header.correlation_id == Some(id) => {
                Some(r.clone())
            }
            AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(id) => panic!("{r:?}"),
            _ => None,
        })
        .await;
        assert_eq!(r.op, op);
    }
    assert!(mirror.snap_exists("snap-2").await.unwrap());
    assert!(!mirror.snap_exists("snap-1").await.unwrap());

    // Stop on both ends: the source's replication snapshots and the target copy go.
    for node in [&na, &nb] {
        let env = command(ReplicationStop {
            volume_id: vid.clone(),
            remove_target_copy: true,
        });
        let id = env.header.message_id;
        bus.publish_command(node, &env).await.unwrap();
        expect(&mut sub, "stop ack", |e| match &e.message {
            AnyMessage::ReplicationAck(a) if e.header.correlation_id == Some(id) => {
                assert_eq!(a.state, ReplicationState::Stopped);
                Some(())
            }
            AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(id) => panic!("{r:?}"),
            _ => None,
        })
        .await;
    }
    assert!(holdfast_snaps(&src).await.is_empty());
    assert_eq!(mirror.size().await.unwrap(), None);
    assert!(
        restored.size().await.unwrap().is_some(),
        "the export is the cloud's now"
    );
    agent_a.shutdown().await;
    agent_b.shutdown().await;
}
