//! `holdfast protection-group snapshot list|create|delete`: a protection group's
//! snapshots (protection.md, "Snapshots").

use clap::Subcommand;
use reqwest::Method;

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast protection-group snapshot ...`
#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// List the group's snapshots, newest first, with the plan snapshot's summary.
    List {
        /// Group id.
        group: String,
        /// Only snapshots taken at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Take a snapshot now (refused while the group's plan does not replicate yet).
    Create {
        /// Group id.
        group: String,
    },
    /// Delete a snapshot from the target storage.
    Delete {
        /// Group id.
        group: String,
        /// Snapshot id.
        id: String,
    },
}

/// Runs a snapshot command.
pub async fn run(c: Client, cmd: SnapshotCmd, fmt: Format) -> Result<String, CliError> {
    let base = |g: &str| format!("/api/v1/protection-groups/{g}/snapshots");
    let v = match cmd {
        SnapshotCmd::List {
            group,
            since,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "since", &since);
            paging(&mut q, &p);
            c.send(Method::GET, &base(&group), &q, None).await?
        }
        SnapshotCmd::Create { group } => c.send(Method::POST, &base(&group), &[], None).await?,
        SnapshotCmd::Delete { group, id } => {
            c.send(Method::DELETE, &format!("{}/{id}", base(&group)), &[], None)
                .await?;
            return Ok(format!("deleted snapshot {id}\n"));
        }
    };
    Ok(output::render(&v, fmt))
}
