//! The `holdfast` command line: `serve` runs the orchestrator; every other command is a
//! client of the REST API, with credentials in a profile file.

pub mod bench;
pub mod bundle;
pub mod clusters;
pub mod groups;
pub mod jobs;
pub mod licence;
pub mod output;
pub mod plans;
pub mod profile;
pub mod protection_groups;
pub mod schedules;
pub mod snapshots;
pub mod status;
pub mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use output::Format;
use profile::{Profile, ProfileFile};

/// Holdfast: disaster recovery for OpenStack.
#[derive(Debug, Parser)]
#[command(name = "holdfast", version, about, long_about = None)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every client command.
#[derive(Debug, Args)]
pub struct Global {
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value = "table", global = true)]
    pub format: Format,
    /// Profile (named connection) to use.
    #[arg(
        long,
        env = "HOLDFAST_PROFILE",
        default_value = "default",
        global = true
    )]
    pub profile: String,
    /// Profile file (default `$HOLDFAST_PROFILE_FILE` or `~/.config/holdfast/profiles.toml`).
    #[arg(long, global = true)]
    pub profile_file: Option<PathBuf>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the orchestrator.
    Serve {
        /// TOML configuration file (environment variables HOLDFAST_* override it).
        #[arg(short, long, env = "HOLDFAST_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory (SQLite database); overrides the file and HOLDFAST_DATA_DIR.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Listen address; overrides the file and HOLDFAST_BIND.
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Log in and store the session in the profile.
    Login {
        /// Orchestrator URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// User id.
        #[arg(long, short)]
        user: String,
        /// Read the password from standard input (else `HOLDFAST_PASSWORD`).
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the session and forget it.
    Logout,
    /// The logged-in account.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Users.
    #[command(subcommand)]
    User(users::UserCmd),
    /// User groups.
    #[command(subcommand)]
    Group(groups::GroupCmd),
    /// The licence.
    #[command(subcommand, alias = "licence")]
    License(licence::LicenseCmd),
    /// The event centre.
    #[command(subcommand)]
    Event(EventCmd),
    /// System settings (Admin).
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// The audit trail (Admin).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Measure API latency: concurrent clients listing users (prints figures).
    Bench(bench::BenchArgs),
    /// OpenStack clusters and their synced resources.
    #[command(subcommand)]
    Cluster(clusters::ClusterCmd),
    /// Protection groups.
    #[command(subcommand)]
    ProtectionGroup(protection_groups::ProtectionGroupCmd),
    /// Recovery plans and their states.
    #[command(subcommand)]
    Plan(plans::PlanCmd),
    /// Recovery jobs: create, operate, monitor.
    #[command(subcommand)]
    Job(jobs::JobCmd),
    /// Recovery reports.
    #[command(subcommand)]
    Report(jobs::ReportCmd),
    /// Node agents: registration, health, replication.
    #[command(subcommand, alias = "agent")]
    Agents(AgentsCmd),
    /// Check orchestrator, database, bus, agents and replication lag; exits 1 when
    /// something is unhealthy.
    Status {
        /// Orchestrator URL (default: the profile's).
        #[arg(long)]
        url: Option<String>,
    },
    /// Write a support archive (redacted config, versions, database summary, agents,
    /// logs) from this host's configuration and database.
    SupportBundle(bundle::BundleArgs),
    /// The scheduler's schedules: next and last slot, last result (Admin, Manager).
    #[command(subcommand)]
    Schedule(schedules::ScheduleCmd),
}

/// `holdfast agents ...`
#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// List agents with their state and last heartbeat.
    List {
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show an agent: health, backends, per-volume replication lag vs RPO.
    Show {
        /// Node id.
        node: String,
    },
}

/// Paging options.
#[derive(Debug, Args)]
pub struct Paging {
    /// Page size.
    #[arg(long)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[arg(long)]
    pub offset: Option<i64>,
}

/// `holdfast account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Show the logged-in user.
    Show,
    /// Change the own password (reads current and new password, one per line, from stdin).
    Password,
}

/// `holdfast event ...`
#[derive(Debug, Subcommand)]
pub enum EventCmd {
    /// List events, newest first.
    List {
        /// Only this severity (info, warning, error, critical).
        #[arg(long)]
        severity: Option<String>,
        /// Only this code.
        #[arg(long)]
        code: Option<String>,
        /// Only events about this object id.
        #[arg(long)]
        object: Option<String>,
        /// From (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Until (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show an event.
    Show {
        /// Event id.
        id: String,
    },
}

/// `holdfast settings ...`
#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    /// Show the settings.
    Show,
    /// Change settings: `name=value` pairs (values are JSON or plain text);
    /// `smtp_password=-` reads the SMTP password from stdin.
    Set {
        /// `name=value`.
        #[arg(required = true)]
        pairs: Vec<String>,
    },
}

/// `holdfast audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Query the audit trail.
    List {
        /// Only this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only this object type.
        #[arg(long)]
        object_type: Option<String>,
        /// From (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Until (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
}

/// Why a CLI command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The profile file is unreadable or unwritable.
    #[error("profile file: {0}")]
    Profile(String),
    /// Not logged in.
    #[error("not logged in for profile {0:?}: run `holdfast login --url URL --user ID`")]
    NotLoggedIn(String),
    /// The server could not be reached.
    #[error("cannot reach the orchestrator at {url}: {reason}")]
    Connect {
        /// URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The API refused the request.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// `holdfast status` found problems; the report is the payload.
    #[error("{0}")]
    Unhealthy(String),
}

/// A logged-in API client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    /// A client for `url`, with a bearer token if given.
    pub fn new(url: &str, token: Option<String>) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// Sends a request; returns the JSON answer (`null` for no content).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .query(query);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| CliError::Connect {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| CliError::Connect {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            Ok(value)
        } else {
            Err(CliError::Api {
                status: status.as_u16(),
                code: value["error"]["code"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
                message: value["error"]["message"]
                    .as_str()
                    .unwrap_or("no error message")
                    .to_owned(),
            })
        }
    }
}

fn paging(q: &mut Vec<(&'static str, String)>, p: &Paging) {
    if let Some(l) = p.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(o) = p.offset {
        q.push(("offset", o.to_string()));
    }
}

fn opt(q: &mut Vec<(&'static str, String)>, name: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        q.push((name, v.clone()));
    }
}

/// Runs a client command (anything but `serve`) and returns what to print.
/// `stdin` supplies passwords and keys where a command reads them.
pub async fn execute(
    global: &Global,
    command: Command,
    env: impl Fn(&str) -> Option<String>,
    stdin: impl FnOnce() -> String,
) -> Result<String, CliError> {
    use reqwest::Method;
    let path = global
        .profile_file
        .clone()
        .unwrap_or_else(|| profile::default_path(&env));
    let mut file = ProfileFile::load(&path)?;
    let name = global.profile.clone();
    let fmt = global.format;
    let client = || -> Result<Client, CliError> {
        let p = file
            .profiles
            .get(&name)
            .filter(|p| p.token.is_some())
            .ok_or_else(|| CliError::NotLoggedIn(name.clone()))?;
        Ok(Client::new(&p.url, p.token.clone()))
    };
    let out = |v: Value| Ok(output::render(&v, fmt));
    match command {
        Command::Serve { .. } => Err(CliError::Usage("`serve` is not a client command".into())),
        Command::Bench(args) => bench::run(args, env).await,
        Command::Login {
            url,
            user,
            password_stdin,
        } => {
            let password = if password_stdin {
                stdin().trim_end_matches(['\r', '\n']).to_owned()
            } else {
                env("HOLDFAST_PASSWORD").ok_or_else(|| {
                    CliError::Usage(
                        "give the password with --password-stdin or HOLDFAST_PASSWORD".into(),
                    )
                })?
            };
            let c = Client::new(&url, None);
            let v = c
                .send(
                    Method::POST,
                    "/api/v1/sessions",
                    &[],
                    Some(&json!({"id": user, "password": password})),
                )
                .await?;
            let token = v["token"].as_str().map(str::to_owned);
            file.profiles.insert(
                name.clone(),
                Profile {
                    url,
                    user: user.clone(),
                    token,
                },
            );
            file.save(&path)?;
            Ok(format!(
                "logged in as {user} (profile {name:?}, {})\n",
                path.display()
            ))
        }
        Command::Logout => {
            let c = client()?;
            c.send(Method::DELETE, "/api/v1/sessions/current", &[], None)
                .await?;
            if let Some(p) = file.profiles.get_mut(&name) {
                p.token = None;
            }
            file.save(&path)?;
            Ok("logged out\n".to_owned())
        }
        Command::Account(AccountCmd::Show) => out(client()?
            .send(Method::GET, "/api/v1/account", &[], None)
            .await?),
        Command::Account(AccountCmd::Password) => {
            let input = stdin();
            let mut lines = input.lines();
            let (Some(current), Some(new)) = (lines.next(), lines.next()) else {
                return Err(CliError::Usage(
                    "give the current and the new password on two lines of stdin".into(),
                ));
            };
            let body = json!({"current_password": current, "new_password": new});
            client()?
                .send(Method::POST, "/api/v1/account/password", &[], Some(&body))
                .await?;
            Ok("password changed\n".to_owned())
        }
        Command::User(cmd) => users::run(client()?, cmd, fmt).await,
        Command::Group(cmd) => groups::run(client()?, cmd, fmt).await,
        Command::Cluster(cmd) => clusters::run(client()?, cmd, fmt, env, stdin).await,
        Command::ProtectionGroup(cmd) => protection_groups::run(client()?, cmd, fmt).await,
        Command::Plan(cmd) => plans::run(client()?, cmd, fmt).await,
        Command::Job(cmd) => jobs::run(client()?, cmd, fmt).await,
        Command::Report(cmd) => jobs::report(client()?, cmd, fmt).await,
        Command::Schedule(cmd) => schedules::run(client()?, cmd, fmt).await,
        Command::License(cmd) => licence::run(client, cmd, fmt, stdin).await,
        Command::Event(EventCmd::List {
            severity,
            code,
            object,
            since,
            until,
            paging: p,
        }) => {
            let mut q = Vec::new();
            opt(&mut q, "severity", &severity);
            opt(&mut q, "code", &code);
            opt(&mut q, "object", &object);
            opt(&mut q, "since", &since);
            opt(&mut q, "until", &until);
            paging(&mut q, &p);
            out(client()?
                .send(Method::GET, "/api/v1/events", &q, None)
                .await?)
        }
        Command::Event(EventCmd::Show { id }) => out(client()?
            .send(Method::GET, &format!("/api/v1/events/{id}"), &[], None)
            .await?),
        Command::Settings(SettingsCmd::Show) => out(client()?
            .send(Method::GET, "/api/v1/settings", &[], None)
            .await?),
        Command::Settings(SettingsCmd::Set { pairs }) => {
            let mut body = serde_json::Map::new();
            let mut stdin = Some(stdin);
            for pair in pairs {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| CliError::Usage(format!("expected name=value, got {pair:?}")))?;
                let value = if k == "smtp_password" && v == "-" {
                    let read = stdin.take().map(|f| f()).unwrap_or_default();
                    Value::String(read.trim_end_matches(['\r', '\n']).to_owned())
                } else {
                    serde_json::from_str(v).unwrap_or(Value::String(v.to_owned()))
                };
                body.insert(k.to_owned(), value);
            }
            out(client()?
                .send(
                    Method::PATCH,
                    "/api/v1/settings",
                    &[],
                    Some(&Value::Object(body)),
                )
                .await?)
        }
        Command::Audit(AuditCmd::List {
            actor,
            object_type,
            since,
            until,
            paging: p,
        }) => {
            let mut q = Vec::new();
            opt(&mut q, "actor", &actor);
            opt(&mut q, "object_type", &object_type);
            opt(&mut q, "since", &since);
            opt(&mut q, "until", &until);
            paging(&mut q, &p);
            out(client()?
                .send(Method::GET, "/api/v1/audit", &q, None)
                .await?)
        }
        Command::Agents(AgentsCmd::List { paging: p }) => {
            let mut q = Vec::new();
            paging(&mut q, &p);
            out(client()?
                .send(Method::GET, "/api/v1/agents", &q, None)
                .await?)
        }
        Command::Agents(AgentsCmd::Show { node }) => out(client()?
            .send(Method::GET, &format!("/api/v1/agents/{node}"), &[], None)
            .await?),
        Command::Status { url } => {
            let profile = file.profiles.get(&name);
            let url = url
                .or_else(|| profile.map(|p| p.url.clone()))
                .ok_or_else(|| CliError::NotLoggedIn(name.clone()))?;
            let token = profile.and_then(|p| p.token.clone());
            let logged_in = token.is_some();
            let checks = status::checks(&Client::new(&url, token), logged_in).await;
            let (text, healthy) = status::render(&checks, fmt);
            if healthy {
                Ok(text)
            } else {
                Err(CliError::Unhealthy(text))
            }
        }
        Command::SupportBundle(args) => bundle::write(args, env).await,
    }
}
