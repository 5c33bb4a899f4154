//! `holdfast protection-group ...`: list, show, create, update, delete protection
//! groups (the body of create/update is a JSON file, as the API takes it).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast protection-group ...`
#[derive(Debug, Subcommand)]
pub enum ProtectionGroupCmd {
    /// List protection groups.
    List {
        /// Source cluster id.
        #[arg(long)]
        cluster: Option<String>,
        /// Substring of the name.
        #[arg(long)]
        search: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a protection group.
    Show {
        /// Group id.
        id: String,
    },
    /// Create a group from a JSON file (name, source_cluster_id, owner_group_id,
    /// instances, rpo_minutes, rto_minutes, snapshot_interval).
    Create {
        /// The JSON body.
        #[arg(long)]
        file: PathBuf,
    },
    /// Update a group from a JSON file (any of name, description, instances,
    /// rpo_minutes, rto_minutes, snapshot_interval).
    Update {
        /// Group id.
        id: String,
        /// The JSON body.
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete a group (refused while it has a plan).
    Delete {
        /// Group id.
        id: String,
    },
    /// The group's snapshots.
    Snapshot {
        /// What to do.
        #[command(subcommand)]
        cmd: super::snapshots::SnapshotCmd,
    },
}

/// Reads a JSON file given on the command line.
pub(super) fn json_file(p: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", p.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", p.display())))
}

/// Runs a protection-group command.
pub async fn run(c: Client, cmd: ProtectionGroupCmd, fmt: Format) -> Result<String, CliError> {
    const BASE: &str = "/api/v1/protection-groups";
    let v = match cmd {
        ProtectionGroupCmd::List {
            cluster,
            search,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "cluster_id", &cluster);
            opt(&mut q, "q", &search);
            paging(&mut q, &p);
            c.send(Method::GET, BASE, &q, None).await?
        }
        ProtectionGroupCmd::Show { id } => {
            c.send(Method::GET, &format!("{BASE}/{id}"), &[], None)
                .await?
        }
        ProtectionGroupCmd::Create { file } => {
            c.send(Method::POST, BASE, &[], Some(&json_file(&file)?))
                .await?
        }
        ProtectionGroupCmd::Update { id, file } => {
            c.send(
                Method::PATCH,
                &format!("{BASE}/{id}"),
                &[],
                Some(&json_file(&file)?),
            )
            .await?
        }
        ProtectionGroupCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("{BASE}/{id}"), &[], None)
                .await?;
            return Ok(format!("deleted protection group {id}\n"));
        }
        ProtectionGroupCmd::Snapshot { cmd } => return super::snapshots::run(c, cmd, fmt).await,
    };
    Ok(output::render(&v, fmt))
}
