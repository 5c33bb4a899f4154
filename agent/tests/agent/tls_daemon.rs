//! Agent daemons with `[data_plane.tls]`: replication over the bus through mutual TLS,
//! a plain source reporting the mismatch in its replication status, and `status`
//! showing the certificate's expiry.

use std::path::Path;
use std::time::Duration;

use holdfast_agent::bench::pki::TestCa;
use holdfast_agent::config::Config;
use holdfast_agent::daemon;
use holdfast_agent::dataplane::tls::TlsFiles;
use holdfast_agent::status;
use holdfast_bus::{Bus, BusConfig};
use holdfast_protocol::messages::*;
use holdfast_protocol::names::Names;
use holdfast_protocol::{AnyMessage, NodeId, VolumeId};
use tokio::sync::oneshot;

use crate::daemon::{RunningAgent, amqp_url, command, expect};
use crate::helpers::*;

fn config(ns: &str, node: &str, root: &Path, tls: Option<&TlsFiles>) -> Config {
    let state = root.join(node).join("state");
    let vols = root.join(node).join("volumes");
    std::fs::create_dir_all(&vols).unwrap();
    let tls = tls
        .map(|t| {
            format!(
                "\n[data_plane.tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
                t.cert.display().to_string(),
                t.key.display().to_string(),
                t.ca.display().to_string()
            )
        })
        .unwrap_or_default();
    let toml = format!(
        r#"
node_id = "{node}"
bus_url = "{url}"
bus_namespace = "{ns}"
state_dir = "{state}"
heartbeat_interval_ms = 200

[data_plane]
listen = "127.0.0.1:0"
{tls}
[[backends]]
name = "files"
kind = "file"
path = "{vols}"
"#,
        url = amqp_url(),
        state = state.display(),
        vols = vols.display(),
    );
    Config::parse(&toml, |_| None).unwrap()
}

async fn start(config: Config) -> RunningAgent {
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

fn start_message(volume: &str, source: &str, target: &str, addr: &str) -> ReplicationStart {
    ReplicationStart {
        volume_id: VolumeId(volume.into()),
        plan_id: "plan-tls".into(),
        size_bytes: 4 << 20,
        source: ReplicationEndpoint {
            node_id: NodeId::parse(source).unwrap(),
            location: VolumeLocation {
                backend: "files".into(),
                kind: StorageKind::File,
                object: volume.into(),
            },
        },
        target: ReplicationEndpoint {
            node_id: NodeId::parse(target).unwrap(),
            location: VolumeLocation {
                backend: "files".into(),
                kind: StorageKind::File,
                object: format!("{volume}.mirror"),
            },
        },
        target_data_addr: addr.into(),
        session_secret: SessionSecret(SECRET.to_vec()),
        block_size: 4096,
        cycle_interval_ms: 300,
        compression: Compression::None,
        bandwidth_limit_bps: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_replicate_over_tls_and_a_plain_source_reports_the_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ca = TestCa::new(&root.join("pki"), "ca").unwrap();
    let ns = format!("hf-agent-tls-{}", uuid::Uuid::new_v4().simple());
    let mut cfg = BusConfig::new(amqp_url(), Names::new(&ns), "test-orchestrator");
    cfg.connect_timeout = Duration::from_secs(10);
    let bus = Bus::connect(cfg)
        .await
        .expect("RabbitMQ must be running on 127.0.0.1:5672");
    let queue = bus.declare_orchestrator_queue().await.unwrap();
    let mut sub = bus.subscribe(&queue).await.unwrap();

    let a = start(config(
        &ns,
        "node-a",
        root,
        Some(&ca.issue("node-a", 365).unwrap()),
    ))
    .await;
    let b = start(config(
        &ns,
        "node-b",
        root,
        Some(&ca.issue("node-b", 365).unwrap()),
    ))
    .await;
    // node-c runs without TLS.
    let c = start(config(&ns, "node-c", root, None)).await;
    // Commands only once every agent said hello (its command queue is bound then).
    let mut hellos = std::collections::HashSet::new();
    while hellos.len() < 3 {
        let h = expect(&mut sub, "hellos", |e| match &e.message {
            AnyMessage::AgentHello(h) => Some(h.node_id.clone()),
            _ => None,
        })
        .await;
        hellos.insert(h);
    }
    let vol = |node: &str, name: &str| root.join(node).join("volumes").join(name);
    random_file(&vol("node-a", "vol-tls"), 4 << 20, 3 << 20, 51);
    random_file(&vol("node-c", "vol-plain"), 1 << 20, 1 << 20, 52);

    for (m, nodes) in [
        (
            start_message("vol-tls", "node-a", "node-b", &b.addr),
            ["node-b", "node-a"],
        ),
        (
            start_message("vol-plain", "node-c", "node-b", &b.addr),
            ["node-b", "node-c"],
        ),
    ] {
        for node in nodes {
            let env = command(m.clone());
            bus.publish_command(&NodeId::parse(node).unwrap(), &env)
                .await
                .unwrap();
            let id = env.header.message_id;
            expect(&mut sub, "replication ack", |e| match &e.message {
                AnyMessage::ReplicationAck(_) if e.header.correlation_id == Some(id) => Some(()),
                AnyMessage::ErrorReport(r) if e.header.correlation_id == Some(id) => {
                    panic!("{r:?}")
                }
                _ => None,
            })
            .await;
        }
    }

    expect(&mut sub, "vol-tls committed over TLS", |e| {
        match &e.message {
            AnyMessage::ReplicationStatus(s)
                if s.volume_id.0 == "vol-tls" && s.node_id.as_str() == "node-a" =>
            {
                assert_ne!(s.state, ReplicationState::Failed, "{:?}", s.last_error);
                (s.acked_epoch >= 1).then_some(())
            }
            _ => None,
        }
    })
    .await;
    assert_eq!(
        digest(&vol("node-a", "vol-tls")),
        digest(&vol("node-b", "vol-tls.mirror"))
    );

    let error = expect(&mut sub, "vol-plain failing", |e| match &e.message {
        AnyMessage::ReplicationStatus(s)
            if s.volume_id.0 == "vol-plain"
                && s.node_id.as_str() == "node-c"
                && s.state == ReplicationState::Failed =>
        {
            s.last_error.clone()
        }
        _ => None,
    })
    .await;
    assert!(
        error.contains("TLS with the target node-b") && error.contains("[data_plane.tls]"),
        "{error}"
    );
    let mirror = vol("node-b", "vol-plain.mirror");
    assert!(!mirror.exists() || std::fs::metadata(&mirror).unwrap().len() == 0);

    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
    bus.delete_namespace().await.unwrap();
}

#[test]
fn status_shows_tls_and_warns_before_the_certificate_expires() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let lasting = config(
        "ns",
        "node-a",
        dir.path(),
        Some(&ca.issue("node-a", 400).unwrap()),
    );
    let r = status::check(&lasting);
    let line = r
        .lines
        .iter()
        .find(|l| l.starts_with("data plane:"))
        .unwrap();
    // 400 days from issue, minus the seconds since.
    let days_left = |l: &str| {
        ["399 days left", "400 days left"]
            .iter()
            .any(|d| l.contains(d))
    };
    assert!(line.contains("mutual TLS") && days_left(line), "{line}");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let soon = config(
        "ns",
        "node-a",
        dir.path(),
        Some(&ca.issue("node-a", 10).unwrap()),
    );
    let r = status::check(&soon);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    let w = &r.warnings[0];
    assert!(
        w.contains("expires in 9 days") || w.contains("expires in 10 days"),
        "{w}"
    );
    assert!(
        r.problems.iter().all(|p| !p.contains("certificate")),
        "a warning, not a problem"
    );

    let expired = config(
        "ns",
        "node-a",
        dir.path(),
        Some(&ca.issue_expired("node-a").unwrap()),
    );
    let r = status::check(&expired);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("expired on 2020-01-02 00:00:00 UTC")),
        "{:?}",
        r.problems
    );

    let plain = config("ns", "node-a", dir.path(), None);
    let r = status::check(&plain);
    assert!(
        r.lines
            .iter()
            .any(|l| l.starts_with("data plane: plain TCP")),
        "{:?}",
        r.lines
    );
}
