//! `holdfast-agent bench-rbd`: RBD replication between two Ceph clusters through the
//! agent's data plane (on loopback, in-process target) against the `rbd` tool's own
//! pipes, in the same run: initial copy vs `rbd export | rbd import`, and the delta
//! after rewriting a share of 4 KiB blocks vs `rbd export-diff | rbd import-diff`.
//! Prints figures and ratios; asserts only that the copies are equal. Its images are
//! named `hf-agent-bench-<random>-*` and removed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::dataplane::session::Expected;
use crate::rbd::sink::RbdSink;
use crate::rbd::{Cluster, Image, tracker};
use crate::replication::source::{self, SourceVolume};
use crate::replication::target::{self, TargetRegistry, TargetVolume};

#[derive(Debug, clap::Args)]
pub struct RbdBenchArgs {
    /// Source cluster conf (e.g. /tmp/holdfast-realstack/ceph/a.conf).
    #[arg(long)]
    pub source_conf: PathBuf,
    #[arg(long)]
    pub source_keyring: PathBuf,
    /// Target cluster conf.
    #[arg(long)]
    pub target_conf: PathBuf,
    #[arg(long)]
    pub target_keyring: PathBuf,
    #[arg(long, default_value = "cinder")]
    pub client_id: String,
    #[arg(long, default_value = "rbd")]
    pub pool: String,
    #[arg(long, default_value_t = 1024)]
    pub size_mib: u64,
    /// Share of 4 KiB blocks rewritten for the delta, in percent.
    #[arg(long, default_value_t = 1.0)]
    pub change_percent: f64,
    /// Working directory for the agent's state.
    #[arg(long, default_value = "/tmp/holdfast-bench-rbd")]
    pub dir: PathBuf,
}

const SECRET: &[u8] = b"holdfast-bench-session-secret-0123456789";

fn cluster(conf: &Path, keyring: &Path, a: &RbdBenchArgs) -> Cluster {
    Cluster {
        conf: conf.to_owned(),
        client_id: a.client_id.clone(),
        keyring: keyring.to_owned(),
        pool: a.pool.clone(),
        timeout: Duration::from_secs(600),
    }
}

/// Pipes `from`'s stdout into `to`'s stdin; returns the time and the bytes piped.
async fn pipe(
    from: (&Cluster, &[&str]),
    to: (&Cluster, &[&str]),
) -> anyhow::Result<(Duration, u64)> {
    let t = Instant::now();
    let mut src = from.0.spawn(from.1, false)?;
    let mut dst = to.0.spawn(to.1, true)?;
    let mut out = src.child.stdout.take().context("no stdout")?;
    let mut inp = dst.child.stdin.take().context("no stdin")?;
    let bytes = tokio::io::copy(&mut out, &mut inp).await?;
    drop(inp);
    from.0.finish(src).await?;
    to.0.finish(dst).await?;
    Ok((t.elapsed(), bytes))
}

/// SHA-256 of `rbd export <spec> -`.
async fn sha(c: &Cluster, spec: &str) -> anyhow::Result<String> {
    let mut s = c.spawn(&["export", "--no-progress", spec, "-"], false)?;
    let mut out = s.child.stdout.take().context("no stdout")?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = out.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    c.finish(s).await?;
    Ok(format!("{:x}", h.finalize()))
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64().max(1e-6)
}

pub async fn run(args: RbdBenchArgs) -> anyhow::Result<()> {
    let a = cluster(&args.source_conf, &args.source_keyring, &args);
    let b = cluster(&args.target_conf, &args.target_keyring, &args);
    crate::rbd::probe(&a).await.context("source cluster")?;
    crate::rbd::probe(&b).await.context("target cluster")?;
    let tag: u32 = rand::rng().random();
    let name = |what: &str| format!("hf-agent-bench-{tag:08x}-{what}");
    let src = Image::new(a.clone(), name("src"));
    let mirror = Image::new(b.clone(), name("mirror"));
    let base = Image::new(b.clone(), name("baseline"));
    let base_delta = Image::new(b.clone(), name("baseline-delta"));
    let images = [
        src.clone(),
        mirror.clone(),
        base.clone(),
        base_delta.clone(),
    ];
    let result = bench(&args, &src, &mirror, &base, &base_delta).await;
    for img in &images {
        if let Err(e) = img.remove().await {
            eprintln!("could not remove {}: {e}", img.spec());
        }
    }
    result
}

async fn bench(
    args: &RbdBenchArgs,
    src: &Image,
    mirror: &Image,
    base: &Image,
    base_delta: &Image,
) -> anyhow::Result<()> {
    let (a, b) = (&src.cluster, &mirror.cluster);
    let size = args.size_mib << 20;
    println!(
        "holdfast-agent bench-rbd: {} MiB image, {} -> {} (pool {})",
        args.size_mib,
        a.conf.display(),
        b.conf.display(),
        args.pool
    );
    // The source image as Cinder creates it (default features), full of random data.
    a.run(&["create", "--size", &format!("{size}B"), &src.spec()])
        .await?;
    let mut sink = RbdSink::new(src.clone());
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut buf = vec![0u8; 4 << 20];
    let mut at = 0;
    while at < size {
        let n = (buf.len() as u64).min(size - at) as usize;
        rng.fill(&mut buf[..n]);
        sink.write(at, &buf[..n]).await?;
        at += n as u64;
    }
    sink.flush().await?;
    src.snap_create("bench-s0").await?;

    // --- initial copy: rbd export | rbd import (baseline) vs the agent.
    let s0 = src.snap_spec("bench-s0");
    let (base_t, base_bytes) = pipe(
        (a, &["export", "--no-progress", &s0, "-"]),
        (b, &["import", "--no-progress", "-", &base.spec()]),
    )
    .await?;
    let dir = &args.dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let registry = TargetRegistry::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(target::serve(
        listener,
        registry.clone(),
        "bench-dst".into(),
        stop_rx,
    ));
    registry.insert(
        TargetVolume::new(
            "bench-rbd",
            format!("rbd:{}", mirror.spec()).into(),
            Expected {
                secret: SECRET.to_vec(),
                source_node: "bench-src".into(),
            },
            &dir.join("target"),
        )
        .with_rbd(mirror.clone()),
    );
    let vol = SourceVolume {
        volume_id: "bench-rbd".into(),
        source_node: "bench-src".into(),
        target_node: "bench-dst".into(),
        target_addr: addr,
        secret: SECRET.to_vec(),
        path: format!("rbd:{}", src.spec()).into(),
        state_dir: dir.join("source"),
        block_size: 4096,
        compression: false,
        bandwidth_limit_bps: None,
        sync_bytes: source::SYNC_BYTES,
        rbd: Some(src.clone()),
        tls: None,
    };
    std::fs::create_dir_all(&vol.state_dir)?;
    let mut tr = Some(source::make_tracker(
        &vol.path,
        &vol.state_dir,
        vol.block_size,
        vol.rbd.as_ref(),
    )?);
    let t = Instant::now();
    let r = source::run_cycle(&vol, &mut tr, None).await?;
    let ours_t = t.elapsed();
    let snap = latest(src).await?;
    if sha(a, &src.snap_spec(&snap)).await? != sha(b, &mirror.spec()).await? {
        bail!("the initial copy on the target differs from the source");
    }
    println!(
        "initial copy: rbd export | rbd import {:.2} s ({:.0} MiB/s, {} MiB piped); holdfast {:.2} s ({:.0} MiB/s, {} MiB sent); time ratio holdfast/rbd {:.2}",
        base_t.as_secs_f64(),
        mib_s(size, base_t),
        base_bytes >> 20,
        ours_t.as_secs_f64(),
        mib_s(size, ours_t),
        r.bytes_sent >> 20,
        ours_t.as_secs_f64() / base_t.as_secs_f64()
    );

    // The baseline for deltas: a target image holding the snapshot bench-s0.
    b.run(&["create", "--size", &format!("{size}B"), &base_delta.spec()])
        .await?;
    pipe(
        (a, &["export-diff", "--no-progress", &s0, "-"]),
        (
            b,
            &["import-diff", "--no-progress", "-", &base_delta.spec()],
        ),
    )
    .await?;

    // --- delta: rewrite change_percent of the 4 KiB blocks.
    let blocks = size / 4096;
    let count = ((blocks as f64) * args.change_percent / 100.0)
        .round()
        .max(1.0) as u64;
    let mut chosen = std::collections::BTreeSet::new();
    while (chosen.len() as u64) < count {
        chosen.insert(rng.random_range(0..blocks));
    }
    let mut sink = RbdSink::new(src.clone());
    let mut block = [0u8; 4096];
    for blk in &chosen {
        rng.fill(&mut block[..]);
        sink.write(blk * 4096, &block).await?;
    }
    sink.flush().await?;
    let changed = count * 4096;
    let t = Instant::now();
    src.snap_create("bench-s1").await?;
    let snap_t = t.elapsed();
    let s1 = src.snap_spec("bench-s1");
    let (diff_t, diff_bytes) = pipe(
        (
            a,
            &[
                "export-diff",
                "--no-progress",
                "--from-snap",
                "bench-s0",
                &s1,
                "-",
            ],
        ),
        (
            b,
            &["import-diff", "--no-progress", "-", &base_delta.spec()],
        ),
    )
    .await?;
    let t = Instant::now();
    let r = source::run_cycle(&vol, &mut tr, None).await?;
    let ours_t = t.elapsed();
    let snap = latest(src).await?;
    if sha(a, &src.snap_spec(&snap)).await? != sha(b, &mirror.spec()).await? {
        bail!("the delta on the target differs from the source");
    }
    println!(
        "delta of {count} x 4 KiB ({:.2} %, {} KiB changed): rbd snap create {:.2} s + rbd export-diff | rbd import-diff {:.2} s, {} KiB piped; holdfast (its own snapshot included) {:.2} s, {} KiB sent ({:.3} x changed); time ratio holdfast/rbd (snapshot included) {:.2}",
        args.change_percent,
        changed >> 10,
        snap_t.as_secs_f64(),
        diff_t.as_secs_f64(),
        diff_bytes >> 10,
        ours_t.as_secs_f64(),
        r.bytes_sent >> 10,
        r.bytes_sent as f64 / changed as f64,
        ours_t.as_secs_f64() / (snap_t + diff_t).as_secs_f64()
    );
    tracker::release(src, &vol.state_dir).await?;
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(())
}

/// The tracker's current baseline snapshot of the source.
async fn latest(src: &Image) -> anyhow::Result<String> {
    src.snapshots()
        .await?
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with(tracker::SNAP_PREFIX))
        .max()
        .context("no holdfast snapshot on the source")
}
