//! `bench --tls`: the initial copy over mutual TLS, for comparison with the plain TCP
//! figure measured in the same run (same volume, same loopback, best of `rounds`).

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::pki::TestCa;
use crate::dataplane::session::Expected;
use crate::dataplane::tls::TlsHandle;
use crate::replication::source::{self, SourceVolume};
use crate::replication::target::{self, TargetRegistry, TargetVolume};

/// The best initial-copy time over TLS, and the bytes the last round wrote.
pub(super) async fn initial_copy(
    dir: &Path,
    src: &Path,
    compression: bool,
    rounds: usize,
) -> anyhow::Result<(Duration, u64)> {
    let ca = TestCa::new(&dir.join("pki"), "bench-ca")?;
    let src_tls = TlsHandle::load(&ca.issue("bench-src", 2)?, "bench-src")?;
    let dst_tls = TlsHandle::load(&ca.issue("bench-dst", 2)?, "bench-dst")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let registry = TargetRegistry::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(target::serve_with_tls(
        listener,
        registry.clone(),
        "bench-dst".into(),
        Some(dst_tls),
        stop_rx,
    ));
    let mirror = dir.join("mirror-tls.img");
    let (state, target_state) = (dir.join("source-state-tls"), dir.join("target-state-tls"));
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for round in 0..rounds {
        let _ = std::fs::remove_file(&mirror);
        let _ = std::fs::remove_dir_all(&state);
        let _ = std::fs::remove_dir_all(&target_state);
        registry.insert(TargetVolume::new(
            "bench-tls",
            mirror.clone(),
            Expected {
                secret: super::SECRET.to_vec(),
                source_node: "bench-src".into(),
            },
            &target_state,
        ));
        let vol = SourceVolume {
            volume_id: "bench-tls".into(),
            source_node: "bench-src".into(),
            target_node: "bench-dst".into(),
            target_addr: addr.clone(),
            secret: super::SECRET.to_vec(),
            path: src.to_owned(),
            state_dir: state.clone(),
            block_size: 4096,
            compression,
            bandwidth_limit_bps: None,
            sync_bytes: source::SYNC_BYTES,
            rbd: None,
            tls: Some(src_tls.clone()),
        };
        std::fs::create_dir_all(&vol.state_dir)?;
        let mut tracker = Some(source::make_tracker(src, &vol.state_dir, 4096, None)?);
        let t = Instant::now();
        let report = source::run_cycle(&vol, &mut tracker, None).await?;
        let took = t.elapsed();
        println!(
            "TLS round {}: holdfast {:.3} s",
            round + 1,
            took.as_secs_f64()
        );
        best = best.min(took);
        bytes = report.bytes_sent;
    }
    anyhow::ensure!(
        super::same(src, &mirror)?,
        "the initial copy over TLS differs from the source"
    );
    let _ = stop_tx.send(true);
    let _ = server.await;
    std::fs::remove_file(&mirror)?;
    Ok((best, bytes))
}
