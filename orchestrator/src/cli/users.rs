//! `holdfast user ...`: list, show, create, update, password reset and change,
//! delete and logout of users (Admin and Manager; the server enforces the roles).

use clap::Subcommand;
use serde_json::{Value, json};

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// List users.
    List {
        /// Only this role.
        #[arg(long)]
        role: Option<String>,
        /// Only members of this group id.
        #[arg(long)]
        group: Option<String>,
        /// Substring of id, name or e-mail.
        #[arg(long)]
        search: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a user.
    Show {
        /// User id.
        id: String,
    },
    /// Create a user; prints the first password once.
    Create {
        /// User id.
        id: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// E-mail.
        #[arg(long)]
        email: String,
        /// Role: manager, operator, viewer (admin only by an Admin).
        #[arg(long)]
        role: String,
        /// Group id (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// Update a user.
    Update {
        /// User id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New e-mail.
        #[arg(long)]
        email: Option<String>,
        /// New role.
        #[arg(long)]
        role: Option<String>,
        /// New groups (repeatable; replaces the list).
        #[arg(long = "group")]
        groups: Option<Vec<String>>,
    },
    /// Delete a user.
    Delete {
        /// User id.
        id: String,
    },
    /// Reset a user's password; prints the new one once.
    ResetPassword {
        /// User id.
        id: String,
    },
    /// End a user's session.
    Logout {
        /// User id.
        id: String,
    },
}

pub async fn run(c: Client, cmd: UserCmd, fmt: Format) -> Result<String, CliError> {
    use reqwest::Method;
    let v = match cmd {
        UserCmd::List {
            role,
            group,
            search,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "role", &role);
            opt(&mut q, "group", &group);
            opt(&mut q, "q", &search);
            paging(&mut q, &p);
            c.send(Method::GET, "/api/v1/users", &q, None).await?
        }
        UserCmd::Show { id } => {
            c.send(Method::GET, &format!("/api/v1/users/{id}"), &[], None)
                .await?
        }
        UserCmd::Create {
            id,
            name,
            email,
            role,
            groups,
        } => {
            let body =
                json!({"id": id, "name": name, "email": email, "role": role, "groups": groups});
            c.send(Method::POST, "/api/v1/users", &[], Some(&body))
                .await?
        }
        UserCmd::Update {
            id,
            name,
            email,
            role,
            groups,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(v) = name {
                body.insert("name".into(), json!(v));
            }
            if let Some(v) = email {
                body.insert("email".into(), json!(v));
            }
            if let Some(v) = role {
                body.insert("role".into(), json!(v));
            }
            if let Some(v) = groups {
                body.insert("groups".into(), json!(v));
            }
            c.send(
                Method::PATCH,
                &format!("/api/v1/users/{id}"),
                &[],
                Some(&Value::Object(body)),
            )
            .await?
        }
        UserCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("/api/v1/users/{id}"), &[], None)
                .await?;
            return Ok(format!("deleted user {id}\n"));
        }
        UserCmd::ResetPassword { id } => {
            c.send(
                Method::POST,
                &format!("/api/v1/users/{id}/password-reset"),
                &[],
                None,
            )
            .await?
        }
        UserCmd::Logout { id } => {
            c.send(
                Method::DELETE,
                &format!("/api/v1/users/{id}/sessions"),
                &[],
                None,
            )
            .await?;
            return Ok(format!("logged out {id}\n"));
        }
    };
    Ok(output::render(&v, fmt))
}
