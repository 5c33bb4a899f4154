//! `holdfast plan ...`: list, show, create, update, delete recovery plans and show a
//! plan's state; the mapping is a JSON file (`--mapping file.json`).

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::output::{self, Format};
use super::protection_groups::json_file;
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast plan ...`
#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// List plans.
    List {
        /// Plans whose source or target is this cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// State (Normal, Prepare, Warning, Critical, Emergency).
        #[arg(long)]
        state: Option<String>,
        /// Substring of the name.
        #[arg(long)]
        search: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a plan.
    Show {
        /// Plan id.
        id: String,
    },
    /// Create the plan of a protection group.
    Create {
        /// Protection group id.
        #[arg(long)]
        group: String,
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Target cluster id.
        #[arg(long)]
        target: String,
        /// Snapshot retention (1..48).
        #[arg(long)]
        retention: i64,
        /// JSON file with the mapping and boot plan.
        #[arg(long)]
        mapping: PathBuf,
    },
    /// Update a plan.
    Update {
        /// Plan id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New target cluster id.
        #[arg(long)]
        target: Option<String>,
        /// Snapshot retention (1..48).
        #[arg(long)]
        retention: Option<i64>,
        /// JSON file with the whole new mapping and boot plan.
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Delete a plan (stops replication).
    Delete {
        /// Plan id.
        id: String,
    },
    /// Evaluate and show a plan's state with every reason.
    State {
        /// Plan id.
        id: String,
    },
    /// Show the plan's replication per volume (phase, progress, lag vs RPO).
    Replication {
        /// Plan id.
        id: String,
    },
}

/// Runs a plan command.
pub async fn run(c: Client, cmd: PlanCmd, fmt: Format) -> Result<String, CliError> {
    const BASE: &str = "/api/v1/plans";
    let v = match cmd {
        PlanCmd::List {
            cluster,
            state,
            search,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "cluster_id", &cluster);
            opt(&mut q, "state", &state);
            opt(&mut q, "q", &search);
            paging(&mut q, &p);
            c.send(Method::GET, BASE, &q, None).await?
        }
        PlanCmd::Show { id } => {
            c.send(Method::GET, &format!("{BASE}/{id}"), &[], None)
                .await?
        }
        PlanCmd::Create {
            group,
            name,
            target,
            retention,
            mapping,
        } => {
            let body = json!({"group_id": group, "name": name, "target_cluster_id": target,
                "retention": retention, "mapping": json_file(&mapping)?});
            c.send(Method::POST, BASE, &[], Some(&body)).await?
        }
        PlanCmd::Update {
            id,
            name,
            target,
            retention,
            mapping,
        } => {
            let mut body = Map::new();
            if let Some(v) = name {
                body.insert("name".into(), json!(v));
            }
            if let Some(v) = target {
                body.insert("target_cluster_id".into(), json!(v));
            }
            if let Some(v) = retention {
                body.insert("retention".into(), json!(v));
            }
            if let Some(m) = mapping {
                body.insert("mapping".into(), json_file(&m)?);
            }
            c.send(
                Method::PATCH,
                &format!("{BASE}/{id}"),
                &[],
                Some(&Value::Object(body)),
            )
            .await?
        }
        PlanCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("{BASE}/{id}"), &[], None)
                .await?;
            return Ok(format!("deleted plan {id}\n"));
        }
        PlanCmd::State { id } => {
            c.send(Method::GET, &format!("{BASE}/{id}/state"), &[], None)
                .await?
        }
        PlanCmd::Replication { id } => {
            c.send(Method::GET, &format!("{BASE}/{id}/replication"), &[], None)
                .await?
        }
    };
    Ok(output::render(&v, fmt))
}
