//! The two clouds of `shared/realstack` as the drill sees them: Keystone, the admin
//! credential, the RabbitMQ vhost of their notifications and the Ceph cluster under
//! their Cinder (`a` under the source, `b` under the target), each checked before use
//! with a message that says how to start what is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use holdfast_agent::rbd::Cluster;
use holdfast_openstack::{Credentials, Options, Password, Session};

/// The Cinder backend (`volume_backend_name`) of both clouds, and the name of the
/// agents' `[[backends]]` entry that serves it.
pub(crate) const BACKEND: &str = "ceph";
/// The RBD pool of Cinder on both Ceph clusters.
pub(crate) const POOL: &str = "rbd";
/// The cephx user of Cinder (and of the agents).
pub(crate) const CLIENT: &str = "cinder";
/// The admin account of both clouds.
pub(crate) const ADMIN: (&str, &str) = ("admin", "secret");

/// One real cloud.
#[derive(Debug, Clone)]
pub(crate) struct RealCloud {
    /// `source` or `target`.
    pub(crate) name: &'static str,
    /// Keystone v3.
    pub(crate) auth_url: String,
    /// `amqp://…/<vhost>` of its notifications.
    pub(crate) broker_url: String,
    /// The Ceph cluster's conf file.
    pub(crate) ceph_conf: PathBuf,
    /// The Cinder client's keyring on that cluster.
    pub(crate) keyring: PathBuf,
    /// The node id of the agent that reaches the cluster.
    pub(crate) agent: &'static str,
}

impl RealCloud {
    /// The cloud `name` of the real stack in `dir`, Keystone on `port`, Ceph cluster
    /// `ceph` reached by the agent `agent`; `broker_url` as `stack.env` gives it
    /// (`rabbit://` or `amqp://`).
    pub(crate) fn new(
        dir: &Path,
        name: &'static str,
        port: u16,
        ceph: &str,
        agent: &'static str,
        broker_url: &str,
    ) -> anyhow::Result<RealCloud> {
        let broker_url = match broker_url.strip_prefix("rabbit://") {
            Some(rest) => format!("amqp://{rest}"),
            None => broker_url.to_owned(),
        };
        if !broker_url.starts_with("amqp://") {
            bail!(
                "the {name} cloud's notification broker {broker_url:?} is not an amqp:// URL: source {}/stack.env",
                dir.display()
            );
        }
        let ceph_dir = dir.join("ceph");
        let cloud = RealCloud {
            name,
            auth_url: format!("http://127.0.0.1:{port}/v3"),
            broker_url,
            ceph_conf: ceph_dir.join(format!("{ceph}.conf")),
            keyring: ceph_dir.join(ceph).join(format!("keyring.client.{CLIENT}")),
            agent,
        };
        for f in [&cloud.ceph_conf, &cloud.keyring] {
            if !f.is_file() {
                bail!(
                    "{} is missing: start the real stack (shared/realstack/up-all.sh)",
                    f.display()
                );
            }
        }
        Ok(cloud)
    }

    /// An admin session scoped to `project`.
    pub(crate) async fn session(&self, project: &str) -> anyhow::Result<Session> {
        Session::connect(
            Credentials {
                auth_url: self.auth_url.clone(),
                username: ADMIN.0.into(),
                password: Password::new(ADMIN.1),
                user_domain: "Default".into(),
                project: project.into(),
                project_domain: "Default".into(),
            },
            Options::default(),
        )
        .await
        .with_context(|| {
            format!(
                "the {} cloud's Keystone at {} (is the real stack up? shared/realstack/up-all.sh)",
                self.name, self.auth_url
            )
        })
    }

    /// Cinder's pool on the cloud's Ceph cluster, through the `rbd` tool.
    pub(crate) fn ceph(&self) -> Cluster {
        Cluster {
            conf: self.ceph_conf.clone(),
            client_id: CLIENT.into(),
            keyring: self.keyring.clone(),
            pool: POOL.into(),
            timeout: Duration::from_secs(300),
        }
    }

    /// The monitors of the Ceph cluster (`host:port`), from its conf's `mon host`.
    pub(crate) fn monitors(&self) -> anyhow::Result<Vec<String>> {
        let text = std::fs::read_to_string(&self.ceph_conf)
            .with_context(|| format!("reading {}", self.ceph_conf.display()))?;
        let line = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                matches!(k.trim(), "mon host" | "mon_host").then_some(v)
            })
            .with_context(|| format!("no `mon host` in {}", self.ceph_conf.display()))?;
        let monitors: Vec<String> = line
            .split([',', '[', ']', ' '])
            .map(|m| m.trim_start_matches("v2:").trim_start_matches("v1:"))
            .filter(|m| !m.is_empty())
            .map(|m| m.split('/').next().unwrap_or(m).to_owned())
            .collect();
        if monitors.is_empty() {
            bail!(
                "`mon host` in {} names no monitor",
                self.ceph_conf.display()
            );
        }
        Ok(monitors)
    }

    /// The storage metadata the orchestrator gets for this cloud: both clouds call
    /// their backend `ceph`, so each names the agent that reaches its cluster.
    pub(crate) fn storage(&self, cinder_host: Option<&str>) -> anyhow::Result<serde_json::Value> {
        let mut ceph = serde_json::json!({
            "type": "ceph", "backend": BACKEND, "monitors": self.monitors()?, "pool": POOL,
            "client": CLIENT, "keyring_ref": self.keyring.display().to_string(),
            "agents": [self.agent],
        });
        if let Some(h) = cinder_host {
            ceph["cinder_host"] = h.into();
        }
        Ok(serde_json::json!([ceph]))
    }

    /// The agent's `[[backends]]` entry for Cinder's pool on this cloud's cluster.
    pub(crate) fn agent_backend(&self) -> String {
        format!(
            "[[backends]]\nname = {BACKEND:?}\nkind = \"rbd\"\nconf = {conf:?}\nclient_id = {CLIENT:?}\nkeyring = {keyring:?}\npool = {POOL:?}\ntimeout_ms = 300000\n",
            conf = self.ceph_conf.display().to_string(),
            keyring = self.keyring.display().to_string(),
        )
    }
}
