//! `holdfast-agent bench`: the replication engine against `cp` and `rsync` on the same
//! machine, in the same run, on loopback. Prints figures and ratios; asserts nothing.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, watch};

pub mod pki;
pub mod rbd;
mod tls;

use crate::dataplane::session::Expected;
use crate::replication::replicator;
use crate::replication::source::{self, SourceVolume};
use crate::replication::target::{self, TargetRegistry, TargetVolume};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Working directory (needs about 5 × the volume size free).
    #[arg(long, default_value = "/tmp/holdfast-bench")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 1024)]
    pub size_mib: u64,
    /// Share of 4 KiB blocks rewritten for the delta test, in percent.
    #[arg(long, default_value_t = 1.0)]
    pub change_percent: f64,
    /// Rate of the steady writer in the lag test.
    #[arg(long, default_value_t = 20)]
    pub writer_mb_s: u64,
    #[arg(long, default_value_t = 20)]
    pub lag_seconds: u64,
    #[arg(long, default_value_t = 1000)]
    pub cycle_interval_ms: u64,
    #[arg(long)]
    pub zstd: bool,
    /// Also measure the initial copy over mutual TLS (certificates made with `openssl`).
    #[arg(long)]
    pub tls: bool,
}

const SECRET: &[u8] = b"holdfast-bench-session-secret-0123456789";

fn fill_random(path: &Path, size: u64) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)?;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut buf = vec![0u8; 4 << 20];
    let mut at = 0;
    while at < size {
        let n = (buf.len() as u64).min(size - at) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    f.sync_all()?;
    Ok(())
}

fn timed(cmd: &mut Command) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let took = t.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn fsync(path: &Path) -> anyhow::Result<Duration> {
    let t = Instant::now();
    std::fs::File::open(path)?.sync_all()?;
    Ok(t.elapsed())
}

fn same(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let h = |p: &Path| -> anyhow::Result<blake3::Hash> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(p)?)?;
        Ok(h.finalize())
    };
    Ok(h(a)? == h(b)?)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// CPU seconds (user + system) used so far by this process (both ends of the
/// replication run in it) and by its waited-for children (`cp`, `rsync`): figures that
/// hold when other work shares the CPUs, unlike elapsed times.
fn cpu() -> anyhow::Result<(f64, f64)> {
    use nix::sys::resource::{Usage, UsageWho, getrusage};
    let total = |u: Usage| {
        let t = |v: nix::sys::time::TimeVal| v.tv_sec() as f64 + v.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    };
    Ok((
        total(getrusage(UsageWho::RUSAGE_SELF)?),
        total(getrusage(UsageWho::RUSAGE_CHILDREN)?),
    ))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let size = args.size_mib << 20;
    let src = args.dir.join("source.img");
    let mirror = args.dir.join("mirror.img");
    println!(
        "holdfast-agent bench: {} MiB volume in {} ({} CPUs, load average {})",
        args.size_mib,
        args.dir.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load()
    );
    fill_random(&src, size)?;
    // Warm the page cache for every contender alike.
    let _ = same(&src, &src)?;

    // --- initial copy vs cp: alternating, best of `ROUNDS` each (the first writer of a
    // run often pays for page-cache reclaim; alternating shares that fairly)
    const ROUNDS: usize = 2;
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
    let cp_dest = args.dir.join("cp.img");
    let (mut cp_time, mut cp_sync) = (Duration::MAX, Duration::MAX);
    let mut ours_initial = Duration::MAX;
    let (mut cp_cpu, mut ours_cpu) = (f64::MAX, f64::MAX);
    let mut last = None;
    for round in 0..ROUNDS {
        let before = cpu()?;
        let (round_cp, _) = timed(Command::new("cp").arg(&src).arg(&cp_dest))?;
        cp_cpu = cp_cpu.min(cpu()?.1 - before.1);
        let s = fsync(&cp_dest)?;
        let t = round_cp;
        std::fs::remove_file(&cp_dest)?;
        if cp_time == Duration::MAX || t + s < cp_time.saturating_add(cp_sync) {
            (cp_time, cp_sync) = (t, s);
        }
        let _ = std::fs::remove_file(&mirror);
        let _ = std::fs::remove_dir_all(args.dir.join("target-state"));
        let _ = std::fs::remove_dir_all(args.dir.join("source-state"));
        registry.insert(TargetVolume::new(
            "bench",
            mirror.clone(),
            Expected {
                secret: SECRET.to_vec(),
                source_node: "bench-src".into(),
            },
            &args.dir.join("target-state"),
        ));
        let vol = SourceVolume {
            volume_id: "bench".into(),
            source_node: "bench-src".into(),
            target_node: "bench-dst".into(),
            target_addr: addr.clone(),
            secret: SECRET.to_vec(),
            path: src.clone(),
            state_dir: args.dir.join("source-state"),
            block_size: 4096,
            compression: args.zstd,
            bandwidth_limit_bps: None,
            sync_bytes: source::SYNC_BYTES,
            rbd: None,
            tls: None,
        };
        std::fs::create_dir_all(&vol.state_dir)?;
        let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None)?);
        let (before, t) = (cpu()?, Instant::now());
        let report = source::run_cycle(&vol, &mut tracker, None).await?;
        let took = t.elapsed();
        ours_cpu = ours_cpu.min(cpu()?.0 - before.0);
        println!(
            "round {}: cp {:.3} s, holdfast {:.3} s",
            round + 1,
            secs(round_cp),
            secs(took)
        );
        ours_initial = ours_initial.min(took);
        last = Some((vol, tracker, report));
    }
    let Some((vol, mut tracker, initial)) = last else {
        bail!("no round ran");
    };
    anyhow::ensure!(same(&src, &mirror)?, "initial copy differs from the source");
    println!(
        "\n== initial copy ({} MiB, random data, durable on the target; best of {ROUNDS})",
        args.size_mib
    );
    println!("cp                      {:8.3} s", secs(cp_time));
    println!("cp + fsync              {:8.3} s", secs(cp_time + cp_sync));
    println!(
        "holdfast                {:8.3} s   ({:.0} MiB/s, {} bytes on the wire)",
        secs(ours_initial),
        size as f64 / 1048576.0 / secs(ours_initial),
        initial.bytes_sent
    );
    println!(
        "ratio holdfast / cp          {:6.2}x   (goal <= 1.2)",
        secs(ours_initial) / secs(cp_time)
    );
    println!(
        "ratio holdfast / (cp+fsync)  {:6.2}x",
        secs(ours_initial) / secs(cp_time + cp_sync)
    );
    println!(
        "CPU time: cp {cp_cpu:.3} s, holdfast {ours_cpu:.3} s (both ends), ratio {:.2}x",
        ours_cpu / cp_cpu.max(1e-3)
    );
    if args.tls {
        let (over_tls, wire) = tls::initial_copy(&args.dir, &src, args.zstd, ROUNDS).await?;
        let mib_s = |d: Duration| size as f64 / 1048576.0 / secs(d);
        println!(
            "holdfast over TLS       {:8.3} s   ({:.0} MiB/s, {wire} bytes of frames before TLS records)",
            secs(over_tls),
            mib_s(over_tls)
        );
        println!(
            "throughput TLS / plain       {:6.2}x   ({:.0} vs {:.0} MiB/s)",
            mib_s(over_tls) / mib_s(ours_initial),
            mib_s(over_tls),
            mib_s(ours_initial)
        );
    }

    // --- delta vs rsync
    let rsync_dest = args.dir.join("rsync.img");
    timed(Command::new("cp").arg(&mirror).arg(&rsync_dest))?;
    let writes = ((size / 4096) as f64 * args.change_percent / 100.0) as u64;
    let changed = {
        let f = std::fs::OpenOptions::new().write(true).open(&src)?;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        let mut blocks = std::collections::HashSet::new();
        let mut buf = [0u8; 4096];
        for _ in 0..writes {
            let b = rng.random_range(0..size / 4096);
            rng.fill(&mut buf[..]);
            f.write_all_at(&buf, b * 4096)?;
            blocks.insert(b);
        }
        blocks.len() as u64
    };
    let before = cpu()?;
    let (rsync_time, rsync_out) = timed(
        Command::new("rsync")
            .args(["--inplace", "--no-whole-file", "--ignore-times", "--stats"])
            .arg(&src)
            .arg(&rsync_dest),
    )?;
    let rsync_sent = rsync_out
        .lines()
        .find_map(|l| l.strip_prefix("Total bytes sent: "))
        .map(|s| s.replace(',', ""))
        .unwrap_or_default();
    let rsync_cpu = cpu()?.1 - before.1;
    let (before, t) = (cpu()?, Instant::now());
    let delta = source::run_cycle(&vol, &mut tracker, None).await?;
    let ours_delta = t.elapsed();
    let delta_cpu = cpu()?.0 - before.0;
    anyhow::ensure!(same(&src, &mirror)?, "delta result differs from the source");
    let changed_bytes = changed * 4096;
    println!(
        "\n== delta after {:.1} % random 4 KiB writes ({} writes, {} distinct blocks, {} bytes changed)",
        args.change_percent, writes, changed, changed_bytes
    );
    println!(
        "rsync --inplace --no-whole-file {:8.3} s   (sent {} bytes)",
        secs(rsync_time),
        rsync_sent
    );
    println!(
        "holdfast                        {:8.3} s   (sent {} bytes, {} extents)",
        secs(ours_delta),
        delta.bytes_sent,
        delta.extents
    );
    println!(
        "ratio holdfast / rsync time          {:6.3}x   (goal <= 0.15)",
        secs(ours_delta) / secs(rsync_time)
    );
    println!(
        "ratio bytes sent / changed blocks    {:6.3}x   (goal <= 1.1)",
        delta.bytes_sent as f64 / changed_bytes.max(1) as f64
    );
    println!(
        "CPU time: rsync {rsync_cpu:.3} s, holdfast {delta_cpu:.3} s (both ends), ratio {:.3}x",
        delta_cpu / rsync_cpu.max(1e-3)
    );

    // --- lag under a steady writer
    let rep = replicator::spawn(
        vol.clone(),
        Duration::from_millis(args.cycle_interval_ms),
        Arc::new(Semaphore::new(1)),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (src, stop, written) = (src.clone(), stop.clone(), written.clone());
        let rate = args.writer_mb_s * 1_000_000;
        std::thread::spawn(move || -> std::io::Result<()> {
            let f = std::fs::OpenOptions::new().write(true).open(&src)?;
            let mut rng = rand::rngs::SmallRng::seed_from_u64(13);
            let mut buf = [0u8; 4096];
            let start = Instant::now();
            let blocks = f.metadata()?.len() / 4096;
            while !stop.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                if written.load(Ordering::Relaxed) >= due {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                rng.fill(&mut buf[..]);
                f.write_all_at(&buf, rng.random_range(0..blocks) * 4096)?;
                written.fetch_add(4096, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let started = Instant::now();
    let mut lags = Vec::new();
    while started.elapsed() < Duration::from_secs(args.lag_seconds) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let p = rep.progress.borrow().clone();
        if let Some(at) = p.synced_as_of_ms
            && started.elapsed() > Duration::from_secs(3)
        {
            lags.push(holdfast_protocol::UnixMillis::now().0.saturating_sub(at));
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
    let rate = written.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64() / 1e6;
    let final_progress = rep.progress.borrow().clone();
    rep.stop().await;
    lags.sort_unstable();
    let pct = |q: f64| {
        lags.get(((lags.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "\n== lag under a steady writer ({rate:.1} MB/s of random 4 KiB writes for {} s, cycle interval {} ms)",
        args.lag_seconds, args.cycle_interval_ms
    );
    println!(
        "lag p50 {:6.2} s   p95 {:6.2} s   max {:6.2} s   (goal <= 5 s)",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
    println!(
        "epochs committed {}, last cycle {} bytes, throughput {:.1} MB/s",
        final_progress.committed_epoch,
        final_progress.last_cycle_bytes,
        final_progress.throughput_bps as f64 / 1e6
    );

    println!("\nload average at the end: {}", load());
    let _ = stop_tx.send(true);
    let _ = server.await;
    std::fs::remove_dir_all(&args.dir)?;
    Ok(())
}
