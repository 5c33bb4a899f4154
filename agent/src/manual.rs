//! Manual mode: replicate one volume between two agents without the orchestrator
//! (`holdfast-agent serve-target` on the target node, `holdfast-agent push` on the
//! source). For operators checking the data path, for the benchmarks and for the
//! crash tests. The session secret is read from a file both ends share; `--tls-cert`,
//! `--tls-key`, `--tls-ca` (and optionally `--tls-crl`) put the data plane under mutual
//! TLS as `[data_plane.tls]` does for the daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::dataplane::session::Expected;
use crate::dataplane::tls::{TlsFiles, TlsHandle};
use crate::replication::source::{self, SourceVolume};
use crate::replication::target::{self, TargetRegistry, TargetVolume};

/// Mutual TLS on the data plane: this node's certificate and key and the CA (PEM), all
/// three or none; optionally the CA's certificate revocation lists.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, requires_all = ["tls_cert", "tls_ca"])]
    pub tls_key: Option<PathBuf>,
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// PEM CRL(s) of the CA: peers whose certificates they revoke are refused.
    #[arg(long, requires = "tls_cert")]
    pub tls_crl: Option<PathBuf>,
}

impl TlsArgs {
    /// The loaded material for `node`, when the options are given.
    fn load(&self, node: &str) -> anyhow::Result<Option<TlsHandle>> {
        let (Some(cert), Some(key), Some(ca)) = (&self.tls_cert, &self.tls_key, &self.tls_ca)
        else {
            return Ok(None);
        };
        let files = TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: ca.clone(),
            crl: self.tls_crl.clone(),
        };
        files.check().map_err(anyhow::Error::msg)?;
        Ok(Some(TlsHandle::load(&files, node)?))
    }
}

/// `serve-target`: accept one volume's replication on `listen`.
#[derive(Debug, clap::Args)]
pub struct ServeTargetArgs {
    /// This node's id.
    #[arg(long)]
    pub node: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    #[arg(long)]
    pub state_dir: PathBuf,
    #[arg(long)]
    pub volume: String,
    /// Where the copy is written.
    #[arg(long)]
    pub mirror: PathBuf,
    /// The node allowed to send this volume.
    #[arg(long)]
    pub source_node: String,
    #[arg(long)]
    pub secret_file: PathBuf,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `push`: replicate one volume to a target agent.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[arg(long)]
    pub node: String,
    #[arg(long)]
    pub target_node: String,
    /// `host:port` of the target's data plane.
    #[arg(long)]
    pub target: String,
    #[arg(long)]
    pub state_dir: PathBuf,
    #[arg(long)]
    pub volume: String,
    /// The volume to replicate (file or block device).
    #[arg(long)]
    pub source: PathBuf,
    #[arg(long)]
    pub secret_file: PathBuf,
    #[arg(long, default_value_t = 4096)]
    pub block_size: u32,
    /// Bytes per second.
    #[arg(long)]
    pub bandwidth_limit: Option<u64>,
    #[arg(long)]
    pub zstd: bool,
    /// Bytes between durability points.
    #[arg(long, default_value_t = source::SYNC_BYTES)]
    pub sync_bytes: u64,
    /// Number of cycles to run (0 = forever).
    #[arg(long, default_value_t = 1)]
    pub cycles: u64,
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Keep retrying a failing cycle for this long.
    #[arg(long, default_value_t = 0)]
    pub retry_for_s: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
}

pub async fn serve_target(args: ServeTargetArgs) -> anyhow::Result<()> {
    let secret = std::fs::read(&args.secret_file)
        .with_context(|| format!("reading {}", args.secret_file.display()))?;
    let tls = args.tls.load(&args.node)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let registry = TargetRegistry::default();
    registry.insert(TargetVolume::new(
        &args.volume,
        args.mirror,
        Expected {
            secret,
            source_node: args.source_node,
        },
        &args.state_dir,
    ));
    println!("listening on {}", listener.local_addr()?);
    let (tx, rx) = watch::channel(false);
    let serve = tokio::spawn(target::serve_with_tls(
        listener, registry, args.node, tls, rx,
    ));
    crate::signals::terminated().await;
    let _ = tx.send(true);
    let _ = serve.await;
    Ok(())
}

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let secret = std::fs::read(&args.secret_file)
        .with_context(|| format!("reading {}", args.secret_file.display()))?;
    let tls = args.tls.load(&args.node)?;
    let vol = SourceVolume {
        volume_id: args.volume.clone(),
        source_node: args.node,
        target_node: args.target_node,
        target_addr: args.target,
        secret,
        path: args.source.clone(),
        state_dir: args
            .state_dir
            .join("source")
            .join(crate::durable::file_key(&args.volume)),
        block_size: args.block_size,
        compression: args.zstd,
        bandwidth_limit_bps: args.bandwidth_limit,
        sync_bytes: args.sync_bytes,
        rbd: None,
        tls,
    };
    std::fs::create_dir_all(&vol.state_dir)?;
    let mut tracker = Some(source::make_tracker(
        &vol.path,
        &vol.state_dir,
        vol.block_size,
        None,
    )?);
    let _permits = Arc::new(tokio::sync::Semaphore::new(1));
    let mut done = 0;
    while args.cycles == 0 || done < args.cycles {
        let started = std::time::Instant::now();
        let report = loop {
            match source::run_cycle(&vol, &mut tracker, None).await {
                Ok(r) => break r,
                Err(e) => {
                    println!(
                        "{}",
                        serde_json::json!({ "event": "error", "error": e.to_string() })
                    );
                    if started.elapsed() > Duration::from_secs(args.retry_for_s) {
                        return Err(e.into());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let state = vol.load_state()?;
        println!(
            "{}",
            serde_json::json!({
                "event": "cycle",
                "epoch": report.epoch,
                "initial": report.initial,
                "extents": report.extents,
                "planned_bytes": report.planned_bytes,
                "resumed_from": report.resumed_from,
                "bytes_sent": report.bytes_sent,
                "bytes_sent_total": state.bytes_sent_total,
                "resends": report.resends,
                "seconds": started.elapsed().as_secs_f64(),
            })
        );
        done += 1;
        if args.cycles == 0 || done < args.cycles {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
    Ok(())
}
