//! `holdfast`: the orchestrator daemon (`holdfast serve`) and its command-line client.

#![forbid(unsafe_code)]

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
    Serve,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => Ok(()),
    }
}
