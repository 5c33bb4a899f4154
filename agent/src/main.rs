//! `holdfast-agent`: the Holdfast node daemon.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use holdfast_agent::manual;

/// Holdfast node agent: replication and health for one OpenStack node.
#[derive(Debug, Parser)]
#[command(name = "holdfast-agent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive one volume's replication (manual mode, without the orchestrator).
    ServeTarget(manual::ServeTargetArgs),
    /// Replicate one volume to a target agent (manual mode, without the orchestrator).
    Push(manual::PushArgs),
}

fn init_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs();
    match cli.command {
        Command::ServeTarget(args) => manual::serve_target(args).await,
        Command::Push(args) => manual::push(args).await,
    }
}
