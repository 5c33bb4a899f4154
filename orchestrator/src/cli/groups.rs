//! `holdfast group ...`: user groups and their members.

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast group ...`
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// List groups.
    List {
        /// Substring of the name.
        #[arg(long)]
        search: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a group.
    Show {
        /// Group id.
        id: String,
    },
    /// Create a group.
    Create {
        /// Unique name.
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Update a group.
    Update {
        /// Group id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group (members become "no group").
    Delete {
        /// Group id.
        id: String,
    },
    /// Set the complete member list.
    Members {
        /// Group id.
        id: String,
        /// User ids.
        users: Vec<String>,
    },
}

pub async fn run(c: Client, cmd: GroupCmd, fmt: Format) -> Result<String, CliError> {
    use reqwest::Method;
    let v = match cmd {
        GroupCmd::List { search, paging: p } => {
            let mut q = Vec::new();
            opt(&mut q, "q", &search);
            paging(&mut q, &p);
            c.send(Method::GET, "/api/v1/groups", &q, None).await?
        }
        GroupCmd::Show { id } => {
            c.send(Method::GET, &format!("/api/v1/groups/{id}"), &[], None)
                .await?
        }
        GroupCmd::Create { name, description } => {
            let body = json!({"name": name, "description": description});
            c.send(Method::POST, "/api/v1/groups", &[], Some(&body))
                .await?
        }
        GroupCmd::Update {
            id,
            name,
            description,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(v) = name {
                body.insert("name".into(), json!(v));
            }
            if let Some(v) = description {
                body.insert("description".into(), json!(v));
            }
            c.send(
                Method::PATCH,
                &format!("/api/v1/groups/{id}"),
                &[],
                Some(&Value::Object(body)),
            )
            .await?
        }
        GroupCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("/api/v1/groups/{id}"), &[], None)
                .await?;
            return Ok(format!("deleted group {id}\n"));
        }
        GroupCmd::Members { id, users } => {
            let body = json!({"user_ids": users});
            c.send(
                Method::PUT,
                &format!("/api/v1/groups/{id}/members"),
                &[],
                Some(&body),
            )
            .await?
        }
    };
    Ok(output::render(&v, fmt))
}
