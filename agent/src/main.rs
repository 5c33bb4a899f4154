//! `holdfast-agent`: the Holdfast node daemon.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use holdfast_agent::config::Config;
use holdfast_agent::{bench, bundle, daemon, manual, signals, status};

/// Holdfast node agent: replication and health for one OpenStack node.
#[derive(Debug, Parser)]
#[command(name = "holdfast-agent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent daemon.
    Run {
        #[arg(long, short, default_value = "/etc/holdfast/agent.toml")]
        config: PathBuf,
    },
    /// Check the agent's health; exits non-zero when something is wrong.
    Status {
        #[arg(long, short, default_value = "/etc/holdfast/agent.toml")]
        config: PathBuf,
    },
    /// Collect logs, redacted config, versions, health and replication state.
    SupportBundle {
        #[arg(long, short, default_value = "/etc/holdfast/agent.toml")]
        config: PathBuf,
        #[arg(long, short, default_value = "holdfast-agent-support.tar.gz")]
        output: PathBuf,
    },
    /// Measure replication against cp and rsync on this machine.
    Bench(bench::BenchArgs),
    /// Measure Ceph RBD replication between two clusters against the rbd tool's pipes.
    BenchRbd(bench::rbd::RbdBenchArgs),
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
        Command::Run { config } => {
            // Handled from the start: a SIGHUP never terminates the daemon.
            let reloads = signals::hangups();
            let config = Config::load(&config)?;
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("binding the data plane on {}", config.listen))?;
            daemon::run_with_reload(config, listener, signals::terminated(), reloads).await
        }
        Command::Status { config } => {
            let config = Config::load(&config)?;
            let report = status::check(&config);
            for l in &report.lines {
                println!("{l}");
            }
            for w in &report.warnings {
                println!("WARNING: {w}");
            }
            for p in &report.problems {
                println!("PROBLEM: {p}");
            }
            if report.healthy() {
                println!("healthy");
                Ok(())
            } else {
                std::process::exit(1);
            }
        }
        Command::SupportBundle { config, output } => {
            let config = Config::load(&config)?;
            let files = bundle::write(&config, &output)?;
            println!("wrote {} ({} files)", output.display(), files.len());
            Ok(())
        }
        Command::Bench(args) => bench::run(args).await,
        Command::BenchRbd(args) => bench::rbd::run(args).await,
        Command::ServeTarget(args) => manual::serve_target(args).await,
        Command::Push(args) => manual::push(args).await,
    }
}
