//! Mutual TLS on the data plane: replication through it, every mismatch refused with a
//! typed error, revoked peers refused in both directions (`crl`), and the material
//! replaced by a reload (certificates from a throwaway CA made with `openssl`).

use std::path::{Path, PathBuf};

use holdfast_agent::bench::pki::TestCa;
use holdfast_agent::dataplane::session::{DataPlaneError, Expected};
use holdfast_agent::dataplane::tls::{DataPlaneTls, TlsError, TlsFiles, TlsHandle};
use holdfast_agent::replication::source::{self, ReplicationError, SourceVolume, run_cycle};
use holdfast_agent::replication::target::{self, TargetRegistry, TargetVolume};
use tokio::sync::watch;

use crate::helpers::*;

pub(crate) struct TlsTarget {
    pub(crate) addr: String,
    registry: TargetRegistry,
    state: std::path::PathBuf,
    _shutdown: watch::Sender<bool>,
}

/// A target `node-b` serving with `tls` (plain when `None`).
async fn spawn_tls_target(dir: &Path, tls: Option<TlsFiles>) -> TlsTarget {
    spawn_tls_target_as(dir, tls, "node-b").await
}

/// A target serving with the TLS material of `node` (the source still expects node-b).
async fn spawn_tls_target_as(dir: &Path, tls: Option<TlsFiles>, node: &str) -> TlsTarget {
    let tls = tls.map(|f| TlsHandle::load(&f, node).unwrap());
    spawn_target_with(dir, tls).await
}

/// A target `node-b` serving with the material of `tls`, as it is at each accept.
async fn spawn_target_with(dir: &Path, tls: Option<TlsHandle>) -> TlsTarget {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let registry = TargetRegistry::default();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(target::serve_with_tls(
        listener,
        registry.clone(),
        "node-b".into(),
        tls,
        rx,
    ));
    TlsTarget {
        addr,
        registry,
        state: dir.join("target-state"),
        _shutdown: tx,
    }
}

impl TlsTarget {
    fn add(&self, volume: &str, mirror: &Path) {
        self.registry.insert(TargetVolume::new(
            volume,
            mirror.to_owned(),
            Expected {
                secret: SECRET.to_vec(),
                source_node: "node-a".into(),
            },
            &self.state,
        ));
    }
}

fn tls_source(
    volume: &str,
    path: &Path,
    dir: &Path,
    addr: &str,
    tls: Option<(&TlsFiles, &str)>,
) -> SourceVolume {
    let mut v = source(volume, path, dir, addr);
    v.tls = tls.map(|(f, node)| TlsHandle::load(f, node).unwrap());
    v
}

/// Runs one cycle that must fail; returns its TLS error and checks nothing arrived.
async fn refused(vol: &SourceVolume, mirror: &Path) -> TlsError {
    let mut tracker = Some(source::make_tracker(&vol.path, &vol.state_dir, 4096, None).unwrap());
    let err = run_cycle(vol, &mut tracker, None).await.unwrap_err();
    assert!(
        !mirror.exists() || std::fs::metadata(mirror).unwrap().len() == 0,
        "no data reached the mirror"
    );
    match err {
        ReplicationError::Tls { source, node, .. } => {
            assert_eq!(node, "node-b");
            source
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_replicates_byte_for_byte_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let (a, b) = (
        ca.issue("node-a", 365).unwrap(),
        ca.issue("node-b", 365).unwrap(),
    );
    let target = spawn_tls_target(dir.path(), Some(b)).await;
    let (src, mirror) = (dir.path().join("src.img"), dir.path().join("mirror.img"));
    random_file(&src, 16 << 20, 12 << 20, 41);
    target.add("vol-1", &mirror);
    let mut vol = tls_source(
        "vol-1",
        &src,
        dir.path(),
        &target.addr,
        Some((&a, "node-a")),
    );
    vol.compression = true;
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());

    let r = run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert!(r.initial);
    assert_eq!(digest(&src), digest(&mirror));

    // A delta cycle over a new TLS connection ships only the changed blocks.
    let changed = random_writes(&src, 25, 42) as u64;
    let r = run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));
    assert!(!r.initial);
    assert!(r.planned_bytes <= changed * 4096, "{}", r.planned_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_plain_agents_refuse_each_other_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let (a, b) = (
        ca.issue("node-a", 365).unwrap(),
        ca.issue("node-b", 365).unwrap(),
    );
    let src = dir.path().join("src.img");
    random_file(&src, 1 << 20, 1 << 20, 43);

    // Plain source, TLS target.
    let target = spawn_tls_target(&dir.path().join("t1"), Some(b)).await;
    let mirror = dir.path().join("m1.img");
    target.add("vol-1", &mirror);
    let vol = tls_source("vol-1", &src, &dir.path().join("s1"), &target.addr, None);
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::PeerUsesTls);
    assert!(e.to_string().contains("configure [data_plane.tls]"), "{e}");

    // TLS source, plain target: no fallback to plain.
    let target = spawn_tls_target(&dir.path().join("t2"), None).await;
    let mirror = dir.path().join("m2.img");
    target.add("vol-1", &mirror);
    let vol = tls_source(
        "vol-1",
        &src,
        &dir.path().join("s2"),
        &target.addr,
        Some((&a, "node-a")),
    );
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::ClosedDuringHandshake);
    assert!(e.to_string().contains("[data_plane.tls]"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_of_another_ca_or_node_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let other = TestCa::new(&dir.path().join("pki"), "other-ca").unwrap();
    let a = ca.issue("node-a", 365).unwrap();
    let b = ca.issue("node-b", 365).unwrap();
    let src = dir.path().join("src.img");
    random_file(&src, 1 << 20, 1 << 20, 44);
    let mut n = 0;
    let mut attempt = async |target_tls: (TlsFiles, &str), source_tls: (&TlsFiles, &str)| {
        n += 1;
        let d = dir.path().join(format!("case-{n}"));
        let target = spawn_tls_target_as(&d, Some(target_tls.0), target_tls.1).await;
        let mirror = d.join("mirror.img");
        target.add("vol-1", &mirror);
        let vol = tls_source("vol-1", &src, &d, &target.addr, Some(source_tls));
        refused(&vol, &mirror).await
    };

    // The target's certificate comes from a CA the source does not trust.
    let e = attempt(
        (other.issue("node-b", 365).unwrap(), "node-b"),
        (&a, "node-a"),
    )
    .await;
    assert_eq!(e, TlsError::UnknownIssuer);
    assert!(e.to_string().contains("same CA"), "{e}");

    // The source's certificate comes from a CA the target does not trust (the source
    // trusts both CAs).
    let both = dir.path().join("both-cas.pem");
    let pem = |p: &Path| std::fs::read_to_string(p).unwrap();
    std::fs::write(&both, pem(&ca.cert()) + &pem(&other.cert())).unwrap();
    let foreign_a = TlsFiles {
        ca: both,
        ..other.issue("node-a", 365).unwrap()
    };
    let e = attempt((b.clone(), "node-b"), (&foreign_a, "node-a")).await;
    assert!(
        matches!(&e, TlsError::RefusedByPeer { .. }),
        "{e:?}: the source learns its certificate was refused"
    );

    // The address the source was given leads to another node (node-x).
    let e = attempt((ca.issue("node-x", 365).unwrap(), "node-x"), (&a, "node-a")).await;
    assert!(matches!(&e, TlsError::WrongName { .. }), "{e:?}");
    assert!(e.to_string().contains("node-x"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificates_are_refused_on_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let src = dir.path().join("src.img");
    random_file(&src, 1 << 20, 1 << 20, 46);
    let a = ca.issue("node-a", 365).unwrap();
    let expired_a = ca.issue_expired("node-a").unwrap();
    let expired_b = ca.issue_expired("node-b").unwrap();

    // The target's certificate expired: the source says so.
    let d = dir.path().join("t1");
    let target = spawn_tls_target(&d, Some(expired_b)).await;
    let mirror = d.join("mirror.img");
    target.add("vol-1", &mirror);
    let vol = tls_source("vol-1", &src, &d, &target.addr, Some((&a, "node-a")));
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::PeerExpired);

    // The source's own certificate expired: the target refuses it, the source learns why.
    let d = dir.path().join("t2");
    let target = spawn_tls_target(&d, Some(ca.issue("node-b", 365).unwrap())).await;
    let mirror = d.join("mirror.img");
    target.add("vol-1", &mirror);
    let vol = tls_source(
        "vol-1",
        &src,
        &d,
        &target.addr,
        Some((&expired_a, "node-a")),
    );
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::OursExpired);
    assert!(e.to_string().contains("renew data_plane.tls.cert"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_certificate_of_another_node_cannot_push_the_volume() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let target = spawn_tls_target(dir.path(), Some(ca.issue("node-b", 365).unwrap())).await;
    let (src, mirror) = (dir.path().join("src.img"), dir.path().join("mirror.img"));
    random_file(&src, 1 << 20, 1 << 20, 45);
    target.add("vol-1", &mirror);
    // node-c holds a valid certificate and even the session secret, but claims node-a.
    let c = ca.issue("node-c", 365).unwrap();
    let mut vol = source("vol-1", &src, dir.path(), &target.addr);
    vol.tls = Some(TlsHandle::load(&c, "node-c").unwrap());
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
    let err = run_cycle(&vol, &mut tracker, None).await.unwrap_err();
    assert!(
        matches!(err, ReplicationError::DataPlane(DataPlaneError::Refused(_))),
        "{err:?}"
    );
    assert!(!mirror.exists());
}

fn with_crl(files: &TlsFiles, crl: &Path) -> TlsFiles {
    TlsFiles {
        crl: Some(crl.to_owned()),
        ..files.clone()
    }
}

/// One TLS handshake on loopback: what the server (`accept`) and the client (`connect`,
/// then a read: a TLS 1.3 client learns of a refused certificate from the alert) see.
async fn handshake(
    server: &DataPlaneTls,
    client: &DataPlaneTls,
    server_node: &str,
) -> (Result<(), TlsError>, Result<(), TlsError>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = async {
        let (tcp, _) = listener.accept().await.unwrap();
        server.accept(tcp).await.map(|_| ())
    };
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut stream = client.connect(tcp, server_node).await?;
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await {
            Err(e) => match holdfast_agent::dataplane::tls::classify_io(&e) {
                Some(refused) => Err(refused),
                // No TLS alert: the server accepted, then dropped the stream.
                None => Ok(()),
            },
            Ok(_) => Ok(()),
        }
    };
    let (s, c) = tokio::join!(accept, connect);
    (s, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_peers_are_refused_in_either_direction_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new(&d.join("pki"), "ca").unwrap();
    let src = d.join("src.img");
    random_file(&src, 2 << 20, 2 << 20, 48);

    // The source's certificate is revoked; the target has the CRL.
    let revoked_a = ca.issue("node-a", 365).unwrap();
    let b = ca.issue("node-b", 365).unwrap();
    ca.revoke("node-a").unwrap();
    let crl = ca.crl().unwrap();
    let target_tls = TlsHandle::load(&with_crl(&b, &crl), "node-b").unwrap();
    let source_tls = TlsHandle::load(&revoked_a, "node-a").unwrap();
    let (server, client) = handshake(&target_tls.current(), &source_tls.current(), "node-b").await;
    assert_eq!(server, Err(TlsError::PeerRevoked), "the target refuses it");
    assert_eq!(client, Err(TlsError::OursRevoked), "the source learns why");
    let t1 = d.join("t1");
    let target = spawn_target_with(&t1, Some(target_tls)).await;
    let mirror = t1.join("mirror.img");
    target.add("vol-1", &mirror);
    let mut vol = source("vol-1", &src, &t1, &target.addr);
    vol.tls = Some(source_tls);
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::OursRevoked);
    assert!(e.to_string().contains("issue this agent a new"), "{e}");
    assert!(!mirror.exists(), "nothing was written to the target volume");
    assert!(
        target
            .registry
            .get("vol-1")
            .unwrap()
            .cursor()
            .unwrap()
            .epoch
            == 0,
        "the target's position did not move"
    );

    // The target's certificate is revoked; the source has the CRL (and a new,
    // unrevoked certificate of its own).
    let a = ca.issue("node-a", 365).unwrap();
    ca.revoke("node-b").unwrap();
    let crl = ca.crl().unwrap();
    let target_tls = TlsHandle::load(&b, "node-b").unwrap();
    let source_tls = TlsHandle::load(&with_crl(&a, &crl), "node-a").unwrap();
    let (server, client) = handshake(&target_tls.current(), &source_tls.current(), "node-b").await;
    assert_eq!(client, Err(TlsError::PeerRevoked), "the source refuses it");
    assert!(
        server.is_err(),
        "the target learns of the refusal: {server:?}"
    );
    let t2 = d.join("t2");
    let target = spawn_target_with(&t2, Some(target_tls)).await;
    let mirror = t2.join("mirror.img");
    target.add("vol-1", &mirror);
    let mut vol = source("vol-1", &src, &t2, &target.addr);
    vol.tls = Some(source_tls.clone());
    let e = refused(&vol, &mirror).await;
    assert_eq!(e, TlsError::PeerRevoked);
    assert!(
        e.to_string().contains("issue that agent a new certificate"),
        "{e}"
    );
    assert!(!mirror.exists());

    // Neither certificate revoked, both sides with the CRL: the volume replicates.
    let b = ca.issue("node-b", 365).unwrap();
    let t3 = d.join("t3");
    let target = spawn_tls_target(&t3, Some(with_crl(&b, &crl))).await;
    let mirror = t3.join("mirror.img");
    target.add("vol-1", &mirror);
    let mut vol = source("vol-1", &src, &t3, &target.addr);
    vol.tls = Some(source_tls);
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
    run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));
}

/// Copies `files`' certificate and key to `cert` and `key` (a node's configured paths).
fn install(files: &TlsFiles, cert: &Path, key: &Path) {
    std::fs::copy(&files.cert, cert).unwrap();
    std::fs::copy(&files.key, key).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_puts_new_material_in_use_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new(&d.join("pki"), "ca").unwrap();
    let a = ca.issue("node-a", 365).unwrap();
    // The target's configured files hold an expired certificate at first.
    let (cert, key): (PathBuf, PathBuf) = (d.join("b.crt"), d.join("b.key"));
    install(&ca.issue_expired("node-b").unwrap(), &cert, &key);
    let files = TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        ca: ca.cert(),
        crl: None,
    };
    let handle = TlsHandle::load(&files, "node-b").unwrap();
    let target = spawn_target_with(d, Some(handle.clone())).await;
    let (src, mirror) = (d.join("src.img"), d.join("mirror.img"));
    random_file(&src, 4 << 20, 3 << 20, 49);
    target.add("vol-1", &mirror);
    let vol = tls_source("vol-1", &src, d, &target.addr, Some((&a, "node-a")));
    assert_eq!(refused(&vol, &mirror).await, TlsError::PeerExpired);

    // A renewed certificate in the same files: after the reload, new connections
    // present it and the source accepts it.
    let renewed = ca.issue("node-b", 365).unwrap();
    install(&renewed, &cert, &key);
    let before = handle.current();
    let now = holdfast_protocol::UnixMillis::now().0 as i64 / 1000;
    assert!(before.validity.days_left(now) < 0);
    let after = handle.reload().unwrap();
    assert!(after.validity.days_left(now) >= 364, "{:?}", after.validity);
    assert_eq!(handle.current().validity, after.validity);
    assert_eq!(handle.reload_error(), None);
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
    run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));

    // A broken key: the reload fails, says which file and why, and the material in use
    // stays (the next cycle's new connection still succeeds).
    std::fs::write(&key, "not a key\n").unwrap();
    let e = handle.reload().unwrap_err();
    assert!(matches!(e, TlsError::Material { key: "key", .. }), "{e:?}");
    assert!(e.to_string().contains(&key.display().to_string()), "{e}");
    assert_eq!(handle.reload_error(), Some(e));
    assert_eq!(handle.current().validity, after.validity);
    random_writes(&src, 10, 50);
    run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));

    // Fixed: the next successful reload clears the error.
    install(&renewed, &cert, &key);
    handle.reload().unwrap();
    assert_eq!(handle.reload_error(), None);
}

#[test]
fn tls_material_is_checked_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let other = TestCa::new(&dir.path().join("pki"), "other-ca").unwrap();
    let a = ca.issue("node-a", 365).unwrap();
    let b = ca.issue("node-b", 365).unwrap();
    assert!(DataPlaneTls::load(&a, "node-a").is_ok());

    let e = DataPlaneTls::load(&a, "node-b").unwrap_err();
    assert!(matches!(e, TlsError::NotOurName { .. }), "{e:?}");
    assert!(e.to_string().contains("DNS:node-b"), "{e}");

    let mismatched = TlsFiles {
        key: b.key.clone(),
        ..a.clone()
    };
    let e = DataPlaneTls::load(&mismatched, "node-a").unwrap_err();
    assert!(
        matches!(e, TlsError::Material { key: "key", .. }),
        "{e:?}: a key of another certificate"
    );

    let foreign = TlsFiles {
        ca: ca.cert(),
        ..other.issue("node-a", 365).unwrap()
    };
    let e = DataPlaneTls::load(&foreign, "node-a").unwrap_err();
    assert!(
        e.to_string().contains("not issued by data_plane.tls.ca"),
        "{e}"
    );

    let not_pem = TlsFiles {
        ca: a.key.clone(),
        ..a.clone()
    };
    let e = DataPlaneTls::load(&not_pem, "node-a").unwrap_err();
    assert!(matches!(e, TlsError::Material { key: "ca", .. }), "{e:?}");
}

#[test]
fn manual_mode_serves_and_pushes_over_tls() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new(&d.join("pki"), "ca").unwrap();
    let (a, b) = (
        ca.issue("node-a", 365).unwrap(),
        ca.issue("node-b", 365).unwrap(),
    );
    let tls_args = |f: &TlsFiles| {
        [
            ("--tls-cert", &f.cert),
            ("--tls-key", &f.key),
            ("--tls-ca", &f.ca),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v.display().to_string()])
        .collect::<Vec<_>>()
    };
    let (src, mirror, secret) = (d.join("src.img"), d.join("mirror.img"), d.join("secret"));
    random_file(&src, 4 << 20, 3 << 20, 47);
    std::fs::write(&secret, SECRET).unwrap();
    let agent = || Command::new(env!("CARGO_BIN_EXE_holdfast-agent"));
    let mut target = agent()
        .args([
            "serve-target",
            "--node",
            "node-b",
            "--source-node",
            "node-a",
        ])
        .args(["--volume", "vol-1", "--listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(d.join("tstate"))
        .arg("--mirror")
        .arg(&mirror)
        .arg("--secret-file")
        .arg(&secret)
        .args(tls_args(&b))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let push = |tls: Vec<String>| {
        agent()
            .args(["push", "--node", "node-a", "--target-node", "node-b"])
            .args(["--volume", "vol-1", "--target", &addr])
            .arg("--state-dir")
            .arg(d.join("sstate"))
            .arg("--source")
            .arg(&src)
            .arg("--secret-file")
            .arg(&secret)
            .args(tls)
            .output()
            .unwrap()
    };
    // Without TLS the target refuses; with it the copy completes.
    let plain = push(Vec::new());
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains("configure [data_plane.tls]"),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
    let out = push(tls_args(&a));
    let _ = target.kill();
    let _ = target.wait();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(digest(&src), digest(&mirror));
}
