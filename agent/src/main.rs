//! `holdfast-agent`: the Holdfast node daemon.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

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
    Run,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run => Ok(()),
    }
}
