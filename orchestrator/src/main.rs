//! `holdfast`: the orchestrator daemon (`holdfast serve`) and its command-line client.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Holdfast: disaster recovery for OpenStack.
#[derive(Debug, Parser)]
#[command(name = "holdfast", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the orchestrator.
    Serve {
        /// TOML configuration file (environment variables HOLDFAST_* override it).
        #[arg(short, long, env = "HOLDFAST_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory (SQLite database); overrides the file and HOLDFAST_DATA_DIR.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Listen address; overrides the file and HOLDFAST_BIND.
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            bind,
        } => {
            let mut cfg =
                holdfast_orchestrator::Config::load(config.as_deref(), |k| std::env::var(k).ok())
                    .context("loading the configuration")?;
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if let Some(b) = bind {
                cfg.bind = b;
            }
            holdfast_orchestrator::telemetry::init(&cfg.log);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime
                .block_on(holdfast_orchestrator::serve(cfg, shutdown_signal()))
                .context("running the orchestrator")
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
