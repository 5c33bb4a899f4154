//! `holdfast cluster ...`: register, show, update, delete, sync, and read the synced
//! resources of a cluster.

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// List clusters.
    List {
        /// Substring of the name.
        #[arg(long)]
        search: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a cluster with its resource counts.
    Show {
        /// Cluster id.
        id: String,
    },
    /// Register a cluster (checks the connection first). The admin password is read
    /// from standard input (or `HOLDFAST_CLUSTER_PASSWORD`).
    Register {
        /// Unique name.
        name: String,
        /// Owner group id.
        #[arg(long)]
        group: String,
        /// Keystone v3 URL.
        #[arg(long)]
        auth_url: String,
        /// Admin user.
        #[arg(long)]
        username: String,
        /// Project to scope to.
        #[arg(long)]
        project: String,
        /// The user's domain.
        #[arg(long, default_value = "Default")]
        user_domain: String,
        /// The project's domain.
        #[arg(long, default_value = "Default")]
        project_domain: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Notification broker URL (amqp://...).
        #[arg(long)]
        broker_url: Option<String>,
        /// Notification exchange (repeat; default nova, openstack, neutron).
        #[arg(long = "exchange")]
        exchanges: Vec<String>,
        /// JSON file with the storage metadata list.
        #[arg(long)]
        storage_file: Option<PathBuf>,
    },
    /// Change name, description or storage metadata; or rotate the password (reads the
    /// old and the new password, one per line, from standard input).
    Update {
        /// Cluster id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// JSON file with the new storage metadata list.
        #[arg(long)]
        storage_file: Option<PathBuf>,
        /// Rotate the admin password.
        #[arg(long)]
        rotate_password: bool,
    },
    /// Delete a cluster and its synced copy.
    Delete {
        /// Cluster id.
        id: String,
    },
    /// Start a full sync now.
    Sync {
        /// Cluster id.
        id: String,
    },
    /// List synced resources of one kind (instances, volumes, networks, ...).
    Resources {
        /// Cluster id.
        id: String,
        /// Kind, e.g. `instances`, `volumes`, `security-groups`.
        kind: String,
        /// Project id.
        #[arg(long)]
        project: Option<String>,
        /// Status.
        #[arg(long)]
        status: Option<String>,
        /// Host.
        #[arg(long)]
        host: Option<String>,
        /// Availability zone.
        #[arg(long)]
        zone: Option<String>,
        /// Parent id.
        #[arg(long)]
        parent: Option<String>,
        /// Substring of the name or id.
        #[arg(long)]
        search: Option<String>,
        /// Include resources deleted from the cloud.
        #[arg(long)]
        include_deleted: bool,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one synced resource with its document.
    Resource {
        /// Cluster id.
        id: String,
        /// Kind.
        kind: String,
        /// The cloud's id.
        resource_id: String,
    },
    /// Instances no protection group protects (today: every instance of the cluster).
    Unprotected {
        /// Cluster id.
        id: String,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
}

fn storage(path: &Option<PathBuf>) -> Result<Option<Value>, CliError> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", p.display())))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", p.display())))
}

/// Runs a cluster command.
pub async fn run(
    c: Client,
    cmd: ClusterCmd,
    fmt: Format,
    env: impl Fn(&str) -> Option<String>,
    stdin: impl FnOnce() -> String,
) -> Result<String, CliError> {
    let v = match cmd {
        ClusterCmd::List { search, paging: p } => {
            let mut q = Vec::new();
            opt(&mut q, "q", &search);
            paging(&mut q, &p);
            c.send(Method::GET, "/api/v1/clusters", &q, None).await?
        }
        ClusterCmd::Show { id } => {
            c.send(Method::GET, &format!("/api/v1/clusters/{id}"), &[], None)
                .await?
        }
        ClusterCmd::Register {
            name,
            group,
            auth_url,
            username,
            project,
            user_domain,
            project_domain,
            description,
            broker_url,
            exchanges,
            storage_file,
        } => {
            let password = match env("HOLDFAST_CLUSTER_PASSWORD") {
                Some(p) => p,
                None => stdin().trim_end_matches(['\r', '\n']).to_owned(),
            };
            if password.is_empty() {
                return Err(CliError::Usage(
                    "give the admin password on standard input or in HOLDFAST_CLUSTER_PASSWORD"
                        .into(),
                ));
            }
            let mut body = json!({
                "name": name, "owner_group_id": group, "auth_url": auth_url,
                "description": description,
                "credential": {"username": username, "password": password, "project": project,
                    "user_domain": user_domain, "project_domain": project_domain},
            });
            if let Some(u) = broker_url {
                body["notification_broker_url"] = json!(u);
            }
            if !exchanges.is_empty() {
                body["notification_exchanges"] = json!(exchanges);
            }
            if let Some(s) = storage(&storage_file)? {
                body["storage"] = s;
            }
            c.send(Method::POST, "/api/v1/clusters", &[], Some(&body))
                .await?
        }
        ClusterCmd::Update {
            id,
            name,
            description,
            storage_file,
            rotate_password,
        } => {
            let mut body = Map::new();
            if let Some(v) = name {
                body.insert("name".into(), json!(v));
            }
            if let Some(v) = description {
                body.insert("description".into(), json!(v));
            }
            if let Some(s) = storage(&storage_file)? {
                body.insert("storage".into(), s);
            }
            if rotate_password {
                let input = stdin();
                let mut lines = input.lines();
                let (Some(old), Some(new)) = (lines.next(), lines.next()) else {
                    return Err(CliError::Usage(
                        "give the old and the new password on two lines of standard input".into(),
                    ));
                };
                body.insert(
                    "password".into(),
                    json!({"old_password": old, "new_password": new}),
                );
            }
            c.send(
                Method::PATCH,
                &format!("/api/v1/clusters/{id}"),
                &[],
                Some(&Value::Object(body)),
            )
            .await?
        }
        ClusterCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("/api/v1/clusters/{id}"), &[], None)
                .await?;
            return Ok(format!("deleted cluster {id}\n"));
        }
        ClusterCmd::Sync { id } => {
            c.send(
                Method::POST,
                &format!("/api/v1/clusters/{id}/sync"),
                &[],
                None,
            )
            .await?
        }
        ClusterCmd::Resources {
            id,
            kind,
            project,
            status,
            host,
            zone,
            parent,
            search,
            include_deleted,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "project_id", &project);
            opt(&mut q, "status", &status);
            opt(&mut q, "host", &host);
            opt(&mut q, "zone", &zone);
            opt(&mut q, "parent_id", &parent);
            opt(&mut q, "q", &search);
            if include_deleted {
                q.push(("include_deleted", "true".into()));
            }
            paging(&mut q, &p);
            c.send(
                Method::GET,
                &format!("/api/v1/clusters/{id}/resources/{kind}"),
                &q,
                None,
            )
            .await?
        }
        ClusterCmd::Resource {
            id,
            kind,
            resource_id,
        } => {
            c.send(
                Method::GET,
                &format!("/api/v1/clusters/{id}/resources/{kind}/{resource_id}"),
                &[],
                None,
            )
            .await?
        }
        ClusterCmd::Unprotected { id, paging: p } => {
            let mut q = Vec::new();
            paging(&mut q, &p);
            c.send(
                Method::GET,
                &format!("/api/v1/clusters/{id}/unprotected-instances"),
                &q,
                None,
            )
            .await?
        }
    };
    Ok(output::render(&v, fmt))
}
