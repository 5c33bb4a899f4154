//! Agent daemons with `[data_plane.tls]`: replication over the bus through mutual TLS,
//! a plain source reporting the mismatch in its replication status, `status` showing
//! the certificate's expiry, and SIGHUP reloading the material (a failed reload
//! reported in the heartbeat and status.json).

use std::path::Path;
use std::time::Duration;

use holdfast_agent::bench::pki::TestCa;
use holdfast_agent::config::Config;
use holdfast_agent::daemon;
use holdfast_agent::dataplane::tls::TlsFiles;
use holdfast_agent::status;
use holdfast_protocol::messages::*;
use holdfast_protocol::{AnyMessage, NodeId, VolumeId};
use tokio::sync::oneshot;

use crate::daemon::{RunningAgent, amqp_url, command_each, expect, hellos, orchestrator_bus};
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
            ) + &t
                .crl
                .as_ref()
                .map(|c| format!("crl = {:?}\n", c.display().to_string()))
                .unwrap_or_default()
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
    start_reloading(config, tokio::sync::mpsc::channel(1).1).await
}

/// A daemon that reloads its TLS material on every message of `reloads`.
async fn start_reloading(config: Config, reloads: tokio::sync::mpsc::Receiver<()>) -> RunningAgent {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let task = tokio::spawn(daemon::run_with_reload(config, listener, shutdown, reloads));
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
    let (ns, bus, mut sub) = orchestrator_bus("hf-agent-tls").await;

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
    hellos(&mut sub, 3).await;
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
        let nodes = nodes.map(|n| NodeId::parse(n).unwrap());
        command_each(&bus, &mut sub, m, &[&nodes[0], &nodes[1]]).await;
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

/// Copies `files`' certificate and key to `cert` and `key` (a node's configured paths).
fn install(files: &TlsFiles, cert: &Path, key: &Path) {
    std::fs::copy(&files.cert, cert).unwrap();
    std::fs::copy(&files.key, key).unwrap();
}

/// Sends SIGHUP to this process, as `systemctl reload holdfast-agent` does to the agent.
fn sighup() {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP");
}

/// The reload error in the daemon's status.json once `done` accepts it (a report
/// begun before the reload may still be writing the previous state).
async fn reported_reload_error(
    status_json: &Path,
    done: impl Fn(&Option<String>) -> bool,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status: serde_json::Value =
            serde_json::from_slice(&std::fs::read(status_json).unwrap()).unwrap();
        let tls = &status["data_plane_tls"];
        assert!(
            tls.is_object(),
            "status.json reports the TLS material: {status}"
        );
        let e = tls["reload_error"].as_str().map(str::to_owned);
        if done(&e) {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status.json still says {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn reload_worker_failed(h: &Heartbeat) -> bool {
    h.workers
        .iter()
        .any(|w| w.name == "data-plane-tls-reload" && w.state == WorkerState::Failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_tls_material_and_a_failed_reload_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ca = TestCa::new(&root.join("pki"), "ca").unwrap();
    let (ns, bus, mut sub) = orchestrator_bus("hf-agent-tls").await;

    // node-b's configured files hold an expired certificate at first.
    let tls_dir = root.join("node-b-tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let (cert, key) = (tls_dir.join("agent.crt"), tls_dir.join("agent.key"));
    install(&ca.issue_expired("node-b").unwrap(), &cert, &key);
    let b_files = TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        ca: ca.cert(),
        crl: None,
    };
    let a = start(config(
        &ns,
        "node-a",
        root,
        Some(&ca.issue("node-a", 365).unwrap()),
    ))
    .await;
    let b = start_reloading(
        config(&ns, "node-b", root, Some(&b_files)),
        holdfast_agent::signals::hangups(),
    )
    .await;
    hellos(&mut sub, 2).await;
    let vol = |node: &str, name: &str| root.join(node).join("volumes").join(name);
    random_file(&vol("node-a", "vol-r"), 2 << 20, 2 << 20, 53);
    let m = start_message("vol-r", "node-a", "node-b", &b.addr);
    let (na, nb) = (
        NodeId::parse("node-a").unwrap(),
        NodeId::parse("node-b").unwrap(),
    );
    command_each(&bus, &mut sub, m, &[&nb, &na]).await;
    let source_status = |e: &holdfast_protocol::Envelope| match &e.message {
        AnyMessage::ReplicationStatus(s)
            if s.volume_id.0 == "vol-r" && s.node_id.as_str() == "node-a" =>
        {
            Some(s.clone())
        }
        _ => None,
    };
    let error = expect(
        &mut sub,
        "vol-r refused: node-b's certificate expired",
        |e| {
            source_status(e)
                .and_then(|s| s.last_error.filter(|_| s.state == ReplicationState::Failed))
        },
    )
    .await;
    assert!(error.contains("expired"), "{error}");

    // Renewed files and SIGHUP: the next connection presents the new certificate.
    let renewed = ca.issue("node-b", 365).unwrap();
    install(&renewed, &cert, &key);
    sighup();
    let epoch = expect(&mut sub, "vol-r replicated after the reload", |e| {
        source_status(e).and_then(|s| (s.acked_epoch >= 1).then_some(s.acked_epoch))
    })
    .await;
    assert_eq!(
        digest(&vol("node-a", "vol-r")),
        digest(&vol("node-b", "vol-r.mirror"))
    );

    // A broken key: the reload fails, the heartbeat and status.json say so, and the
    // material in use stays (later cycles still replicate).
    std::fs::write(&key, "not a key\n").unwrap();
    sighup();
    expect(
        &mut sub,
        "node-b's heartbeat with the failed reload",
        |e| match &e.message {
            AnyMessage::Heartbeat(h) if h.node_id.as_str() == "node-b" => {
                reload_worker_failed(h).then_some(())
            }
            _ => None,
        },
    )
    .await;
    let status_json = root.join("node-b").join("state").join("status.json");
    let reload_error = reported_reload_error(&status_json, |e| e.is_some())
        .await
        .unwrap();
    assert!(
        reload_error.contains("data_plane.tls.key")
            && reload_error.contains(&key.display().to_string()),
        "{reload_error}"
    );
    random_writes(&vol("node-a", "vol-r"), 20, 54);
    expect(
        &mut sub,
        "vol-r still replicating with the old material",
        |e| {
            source_status(e).and_then(|s| {
                assert_ne!(s.state, ReplicationState::Failed, "{:?}", s.last_error);
                (s.acked_epoch > epoch).then_some(())
            })
        },
    )
    .await;

    // Fixed: the next reload succeeds and clears the report.
    install(&renewed, &cert, &key);
    sighup();
    expect(
        &mut sub,
        "node-b's heartbeat without the failed reload",
        |e| match &e.message {
            AnyMessage::Heartbeat(h) if h.node_id.as_str() == "node-b" => {
                (!reload_worker_failed(h)).then_some(())
            }
            _ => None,
        },
    )
    .await;
    reported_reload_error(&status_json, |e| e.is_none()).await;

    a.shutdown().await;
    b.shutdown().await;
    bus.delete_namespace().await.unwrap();
}
