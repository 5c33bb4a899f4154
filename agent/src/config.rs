//! The agent's configuration: a TOML file, with environment overrides, validated at
//! load. Secrets (the bus URL's password) never print.
//!
//! ```toml
//! node_id = "compute-01"
//! bus_url = "amqp://agent-compute-01:password@mq.example:5672/%2f"
//! state_dir = "/var/lib/holdfast-agent"
//! log_dir = "/var/log/holdfast-agent"      # optional, collected by support-bundle
//! heartbeat_interval_ms = 10000            # optional
//! max_concurrent_transfers = 4             # optional
//! bandwidth_limit_bps = 104857600          # optional default for every volume
//!
//! [data_plane]
//! listen = "0.0.0.0:7400"
//! advertise = "10.0.0.5:7400"              # optional; defaults to `listen`
//!
//! [data_plane.tls]                         # optional: mutual TLS between agents
//! cert = "/etc/holdfast/tls/agent.crt"     # issued to this node: SAN DNS:<node_id>
//!                                          # (relative paths: from this file's dir)
//! key = "/etc/holdfast/tls/agent.key"
//! ca = "/etc/holdfast/tls/ca.crt"          # the CA of every agent's certificate
//! crl = "/etc/holdfast/tls/ca.crl"         # optional: the CA's CRLs (PEM); revoked
//!                                          # peers are refused. Reload all four files
//!                                          # without a restart: SIGHUP
//!                                          # (`systemctl reload holdfast-agent`)
//!
//! [[backends]]
//! name = "cinder-files"
//! kind = "file"                            # file | block
//! path = "/var/lib/cinder/volumes"
//!
//! [[backends]]
//! name = "ceph"
//! kind = "rbd"                             # Ceph RBD images, through the `rbd` tool
//! conf = "/etc/ceph/ceph.conf"
//! client_id = "cinder"                     # the cephx user, without "client."
//! keyring = "/etc/ceph/ceph.client.cinder.keyring"
//! pool = "volumes"
//! timeout_ms = 60000                       # optional: per rbd command / stream silence
//! ```
//!
//! Environment overrides: `HOLDFAST_AGENT_NODE_ID`, `HOLDFAST_AGENT_BUS_URL`,
//! `HOLDFAST_AGENT_BUS_NAMESPACE`, `HOLDFAST_AGENT_STATE_DIR`,
//! `HOLDFAST_AGENT_DATA_PLANE_LISTEN`.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use holdfast_protocol::NodeId;
use holdfast_protocol::messages::{StorageKind, VolumeLocation};
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid node id: {0}")]
    NodeId(#[from] holdfast_protocol::IdError),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node_id: String,
    bus_url: String,
    bus_namespace: Option<String>,
    state_dir: PathBuf,
    log_dir: Option<PathBuf>,
    heartbeat_interval_ms: Option<u64>,
    max_concurrent_transfers: Option<usize>,
    bandwidth_limit_bps: Option<u64>,
    data_plane: RawDataPlane,
    #[serde(default)]
    backends: Vec<RawBackend>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataPlane {
    listen: String,
    advertise: Option<String>,
    tls: Option<crate::dataplane::tls::TlsFiles>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    name: String,
    kind: String,
    path: Option<PathBuf>,
    conf: Option<PathBuf>,
    client_id: Option<String>,
    keyring: Option<PathBuf>,
    pool: Option<String>,
    timeout_ms: Option<u64>,
}

/// A string that never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    File,
    Block,
    Rbd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub name: String,
    pub kind: BackendKind,
    /// The directory (file, block); for RBD the cluster's conf file.
    pub path: PathBuf,
    /// The cluster, client and pool of an RBD backend.
    pub rbd: Option<crate::rbd::Cluster>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: NodeId,
    pub bus_url: Secret,
    pub bus_namespace: String,
    pub state_dir: PathBuf,
    pub log_dir: Option<PathBuf>,
    pub heartbeat_interval_ms: u64,
    pub max_concurrent_transfers: usize,
    pub bandwidth_limit_bps: Option<u64>,
    pub listen: String,
    pub advertise: String,
    /// `[data_plane.tls]`: files checked readable at load, loaded by the daemon.
    pub tls: Option<crate::dataplane::tls::TlsFiles>,
    pub backends: Vec<Backend>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().filter(|d| !d.as_os_str().is_empty());
        Config::parse_in(&text, |k| std::env::var(k).ok(), base).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Parses and validates; `env` supplies overrides.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::parse_in(text, env, None)
    }

    /// As [`parse`](Self::parse), for a file in `dir`: relative `[data_plane.tls]`
    /// paths are taken from there.
    fn parse_in(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
        dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            source: Box::new(e),
        })?;
        if let Some(v) = env("HOLDFAST_AGENT_NODE_ID") {
            raw.node_id = v;
        }
        if let Some(v) = env("HOLDFAST_AGENT_BUS_URL") {
            raw.bus_url = v;
        }
        if let Some(v) = env("HOLDFAST_AGENT_BUS_NAMESPACE") {
            raw.bus_namespace = Some(v);
        }
        if let Some(v) = env("HOLDFAST_AGENT_STATE_DIR") {
            raw.state_dir = v.into();
        }
        if let Some(v) = env("HOLDFAST_AGENT_DATA_PLANE_LISTEN") {
            raw.data_plane.listen = v;
        }
        let node_id = NodeId::parse(raw.node_id)?;
        if !(raw.bus_url.starts_with("amqp://") || raw.bus_url.starts_with("amqps://")) {
            return Err(ConfigError::Invalid(
                "bus_url must be an amqp:// or amqps:// URL".into(),
            ));
        }
        if !raw.state_dir.is_absolute() {
            return Err(ConfigError::Invalid(
                "state_dir must be an absolute path".into(),
            ));
        }
        if raw
            .data_plane
            .listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "data_plane.listen {:?} is not an address:port",
                raw.data_plane.listen
            )));
        }
        if let Some(tls) = raw.data_plane.tls.take() {
            let tls = tls.relative_to(dir);
            tls.check().map_err(ConfigError::Invalid)?;
            raw.data_plane.tls = Some(tls);
        }
        let heartbeat_interval_ms = raw.heartbeat_interval_ms.unwrap_or(10_000);
        if heartbeat_interval_ms < 100 {
            return Err(ConfigError::Invalid(
                "heartbeat_interval_ms must be at least 100".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut backends = Vec::new();
        for b in raw.backends {
            if !names.insert(b.name.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "backend {:?} is defined twice",
                    b.name
                )));
            }
            backends.push(backend(b)?);
        }
        let advertise = raw
            .data_plane
            .advertise
            .unwrap_or_else(|| raw.data_plane.listen.clone());
        Ok(Config {
            node_id,
            bus_url: Secret(raw.bus_url),
            bus_namespace: raw
                .bus_namespace
                .unwrap_or_else(|| holdfast_protocol::names::DEFAULT_NAMESPACE.to_owned()),
            state_dir: raw.state_dir,
            log_dir: raw.log_dir,
            heartbeat_interval_ms,
            max_concurrent_transfers: raw.max_concurrent_transfers.unwrap_or(4).max(1),
            bandwidth_limit_bps: raw.bandwidth_limit_bps,
            listen: raw.data_plane.listen,
            advertise,
            tls: raw.data_plane.tls,
            backends,
        })
    }

    /// The config as TOML with the bus password replaced, for support bundles.
    pub fn redacted(&self) -> String {
        let url = redact_url(self.bus_url.expose());
        let mut out = format!(
            "node_id = {:?}\nbus_url = {:?}\nbus_namespace = {:?}\nstate_dir = {:?}\nheartbeat_interval_ms = {}\nmax_concurrent_transfers = {}\n",
            self.node_id.as_str(),
            url,
            self.bus_namespace,
            self.state_dir.display().to_string(),
            self.heartbeat_interval_ms,
            self.max_concurrent_transfers,
        );
        if let Some(l) = &self.log_dir {
            out.push_str(&format!("log_dir = {:?}\n", l.display().to_string()));
        }
        if let Some(b) = self.bandwidth_limit_bps {
            out.push_str(&format!("bandwidth_limit_bps = {b}\n"));
        }
        out.push_str(&format!(
            "\n[data_plane]\nlisten = {:?}\nadvertise = {:?}\n",
            self.listen, self.advertise
        ));
        if let Some(t) = &self.tls {
            out.push_str(&format!(
                "\n[data_plane.tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
                t.cert.display().to_string(),
                t.key.display().to_string(),
                t.ca.display().to_string()
            ));
            if let Some(crl) = &t.crl {
                out.push_str(&format!("crl = {:?}\n", crl.display().to_string()));
            }
        }
        for b in &self.backends {
            if let Some(c) = &b.rbd {
                out.push_str(&format!(
                    "\n[[backends]]\nname = {:?}\nkind = \"rbd\"\nconf = {:?}\nclient_id = {:?}\nkeyring = {:?}\npool = {:?}\ntimeout_ms = {}\n",
                    b.name,
                    c.conf.display().to_string(),
                    c.client_id,
                    c.keyring.display().to_string(),
                    c.pool,
                    c.timeout.as_millis()
                ));
                continue;
            }
            let kind = match b.kind {
                BackendKind::File => "file",
                BackendKind::Block => "block",
                BackendKind::Rbd => "rbd",
            };
            out.push_str(&format!(
                "\n[[backends]]\nname = {:?}\nkind = {kind:?}\npath = {:?}\n",
                b.name,
                b.path.display().to_string()
            ));
        }
        out
    }

    /// Every path whose free space matters: the state dir and each local backend.
    pub fn storage_paths(&self) -> Vec<PathBuf> {
        let mut v = vec![self.state_dir.clone()];
        v.extend(
            self.backends
                .iter()
                .filter(|b| b.kind != BackendKind::Rbd)
                .map(|b| b.path.clone()),
        );
        v
    }

    /// The RBD image of a volume location, refusing names that are not plain image names.
    pub fn resolve_rbd(&self, loc: &VolumeLocation) -> Result<crate::rbd::Image, ConfigError> {
        let cluster = self
            .backends
            .iter()
            .find(|b| b.name == loc.backend)
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "no storage backend named {:?} on this node",
                    loc.backend
                ))
            })?
            .rbd
            .clone()
            .filter(|_| loc.kind == StorageKind::Rbd)
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "backend {:?} does not hold {:?} volumes",
                    loc.backend, loc.kind
                ))
            })?;
        // Cinder names images `volume-<id>`; a `pool/` prefix naming this pool is accepted.
        let name = loc
            .object
            .strip_prefix(&format!("{}/", cluster.pool))
            .unwrap_or(&loc.object);
        if !crate::rbd::valid_name(name) {
            return Err(ConfigError::Invalid(format!(
                "object {:?} is not an image name in pool {:?} of backend {:?}",
                loc.object, cluster.pool, loc.backend
            )));
        }
        Ok(crate::rbd::Image::new(cluster, name))
    }

    /// The local path of a volume location, refusing anything outside its backend.
    pub fn resolve(&self, loc: &VolumeLocation) -> Result<PathBuf, ConfigError> {
        let backend = self
            .backends
            .iter()
            .find(|b| b.name == loc.backend)
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "no storage backend named {:?} on this node",
                    loc.backend
                ))
            })?;
        let kind_ok = matches!(
            (backend.kind, loc.kind),
            (BackendKind::File, StorageKind::File) | (BackendKind::Block, StorageKind::Block)
        );
        if !kind_ok {
            return Err(ConfigError::Invalid(format!(
                "backend {:?} does not hold {:?} volumes",
                loc.backend, loc.kind
            )));
        }
        let object = Path::new(&loc.object);
        let relative = object.strip_prefix(&backend.path).unwrap_or(object);
        let ok = !relative.as_os_str().is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(ConfigError::Invalid(format!(
                "object {:?} is not a plain name inside backend {:?}",
                loc.object, loc.backend
            )));
        }
        Ok(backend.path.join(relative))
    }
}

/// Validates one `[[backends]]` entry.
fn backend(b: RawBackend) -> Result<Backend, ConfigError> {
    let invalid = |what: String| ConfigError::Invalid(format!("backend {:?}: {what}", b.name));
    let kind = match b.kind.as_str() {
        "file" => BackendKind::File,
        "block" => BackendKind::Block,
        "rbd" => BackendKind::Rbd,
        other => {
            return Err(invalid(format!(
                "kind {other:?} is not one of file, block, rbd"
            )));
        }
    };
    if kind != BackendKind::Rbd {
        if let Some(k) = [
            ("conf", b.conf.is_some()),
            ("client_id", b.client_id.is_some()),
            ("keyring", b.keyring.is_some()),
            ("pool", b.pool.is_some()),
            ("timeout_ms", b.timeout_ms.is_some()),
        ]
        .iter()
        .find_map(|(k, set)| set.then_some(*k))
        {
            return Err(invalid(format!("{k} only applies to kind = \"rbd\"")));
        }
        let path = b
            .path
            .clone()
            .ok_or_else(|| invalid("path is required".into()))?;
        if !path.is_absolute() {
            return Err(invalid("path must be absolute".into()));
        }
        return Ok(Backend {
            name: b.name,
            kind,
            path,
            rbd: None,
        });
    }
    if b.path.is_some() {
        return Err(invalid(
            "an rbd backend has no path: give conf, client_id, keyring and pool".into(),
        ));
    }
    let need = |v: Option<PathBuf>, key: &str, example: &str| {
        let p = v.ok_or_else(|| invalid(format!("{key} is required (e.g. {example})")))?;
        if !p.is_absolute() {
            return Err(invalid(format!("{key} must be an absolute path")));
        }
        if !p.is_file() {
            return Err(invalid(format!(
                "{key} {} is not a readable file on this node (copy it from a Ceph admin node)",
                p.display()
            )));
        }
        Ok(p)
    };
    let conf = need(b.conf.clone(), "conf", "/etc/ceph/ceph.conf")?;
    let keyring = need(
        b.keyring.clone(),
        "keyring",
        "/etc/ceph/ceph.client.cinder.keyring",
    )?;
    let client_id = b
        .client_id
        .clone()
        .ok_or_else(|| invalid("client_id is required (e.g. \"cinder\")".into()))?;
    let client_id = client_id
        .strip_prefix("client.")
        .map(str::to_owned)
        .unwrap_or(client_id);
    if !crate::rbd::valid_name(&client_id) {
        return Err(invalid(format!(
            "client_id {client_id:?} is not a cephx user name"
        )));
    }
    let pool = b
        .pool
        .clone()
        .ok_or_else(|| invalid("pool is required (e.g. \"volumes\")".into()))?;
    if !crate::rbd::valid_name(&pool) {
        return Err(invalid(format!("pool {pool:?} is not a pool name")));
    }
    let timeout_ms = b.timeout_ms.unwrap_or(60_000);
    if timeout_ms < 1000 {
        return Err(invalid("timeout_ms must be at least 1000".into()));
    }
    Ok(Backend {
        name: b.name,
        kind,
        path: conf.clone(),
        rbd: Some(crate::rbd::Cluster {
            conf,
            client_id,
            keyring,
            pool,
            timeout: std::time::Duration::from_millis(timeout_ms),
        }),
    })
}

pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
node_id = "compute-01"
bus_url = "amqp://agent:pa55@127.0.0.1:5672/%2f"
state_dir = "/var/lib/holdfast-agent"

[data_plane]
listen = "127.0.0.1:7400"

[[backends]]
name = "files"
kind = "file"
path = "/srv/volumes"

[[backends]]
name = "lvm"
kind = "block"
path = "/dev/vg0"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, |_| None)
    }

    #[test]
    fn a_valid_file_loads_with_defaults() {
        let c = parse(SAMPLE).unwrap();
        assert_eq!(c.node_id.as_str(), "compute-01");
        assert_eq!(c.heartbeat_interval_ms, 10_000);
        assert_eq!(c.advertise, "127.0.0.1:7400");
        assert_eq!(c.backends.len(), 2);
        assert_eq!(c.bus_namespace, "holdfast");
        assert!(!format!("{c:?}").contains("pa55"), "secrets never print");
        assert!(!c.redacted().contains("pa55"));
        assert!(c.redacted().contains("agent:***@"));
    }

    #[test]
    fn environment_overrides_win() {
        let c = Config::parse(SAMPLE, |k| {
            (k == "HOLDFAST_AGENT_NODE_ID").then(|| "other-node".to_owned())
        })
        .unwrap();
        assert_eq!(c.node_id.as_str(), "other-node");
    }

    #[test]
    fn invalid_files_are_refused_with_a_reason() {
        for (bad, why) in [
            (SAMPLE.replace("compute-01", "bad node"), "node id"),
            (SAMPLE.replace("amqp://", "http://"), "amqp"),
            (SAMPLE.replace("127.0.0.1:7400", "nowhere"), "address"),
            (
                SAMPLE.replace("\"/var/lib/holdfast-agent\"", "\"relative\""),
                "absolute",
            ),
            (
                SAMPLE.replace("kind = \"block\"", "kind = \"tape\""),
                "tape",
            ),
            (
                SAMPLE.replace("kind = \"block\"", "kind = \"rbd\""),
                "no path",
            ),
            (
                SAMPLE.replace("name = \"lvm\"", "name = \"files\""),
                "twice",
            ),
            (format!("{SAMPLE}\nunknown = 1\n"), "unknown"),
        ] {
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }

    fn rbd_sample(dir: &Path, extra: &str) -> String {
        let conf = dir.join("ceph.conf");
        let keyring = dir.join("keyring");
        std::fs::write(&conf, "[global]\n").unwrap();
        std::fs::write(&keyring, "[client.cinder]\n").unwrap();
        format!(
            "{SAMPLE}\n[[backends]]\nname = \"ceph\"\nkind = \"rbd\"\nconf = {:?}\nclient_id = \"client.cinder\"\nkeyring = {:?}\npool = \"volumes\"\n{extra}",
            conf.display().to_string(),
            keyring.display().to_string()
        )
    }

    #[test]
    fn rbd_backends_load_and_resolve_image_names() {
        let dir = tempfile::tempdir().unwrap();
        let c = parse(&rbd_sample(dir.path(), "timeout_ms = 5000\n")).unwrap();
        let b = c.backends.iter().find(|b| b.name == "ceph").unwrap();
        let cluster = b.rbd.as_ref().unwrap();
        assert_eq!(b.kind, BackendKind::Rbd);
        assert_eq!(
            cluster.client_id, "cinder",
            "the client. prefix is accepted"
        );
        assert_eq!(cluster.pool, "volumes");
        assert_eq!(cluster.timeout, std::time::Duration::from_secs(5));
        assert!(
            !c.storage_paths().contains(&b.path),
            "no local free space to watch"
        );
        assert!(c.redacted().contains("kind = \"rbd\""));
        let reparsed = Config::parse(&c.redacted().replace("***", "x"), |_| None).unwrap();
        assert_eq!(
            reparsed.backends, c.backends,
            "the redacted config loads back"
        );
        let loc = |object: &str, kind| VolumeLocation {
            backend: "ceph".into(),
            kind,
            object: object.into(),
        };
        let img = c.resolve_rbd(&loc("volume-1", StorageKind::Rbd)).unwrap();
        assert_eq!(img.spec(), "volumes/volume-1");
        let img = c
            .resolve_rbd(&loc("volumes/volume-2", StorageKind::Rbd))
            .unwrap();
        assert_eq!(img.name, "volume-2");
        for bad in [
            loc("other/volume-1", StorageKind::Rbd),
            loc("volume-1@snap", StorageKind::Rbd),
            loc("-x", StorageKind::Rbd),
            loc("", StorageKind::Rbd),
            loc("volume-1", StorageKind::File),
        ] {
            assert!(c.resolve_rbd(&bad).is_err(), "{bad:?}");
        }
        assert!(c.resolve(&loc("volume-1", StorageKind::Rbd)).is_err());
        assert!(
            c.resolve_rbd(&VolumeLocation {
                backend: "files".into(),
                kind: StorageKind::Rbd,
                object: "x".into()
            })
            .is_err()
        );
    }

    #[test]
    fn invalid_rbd_backends_say_what_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let good = rbd_sample(dir.path(), "");
        let missing = dir.path().join("nope").display().to_string();
        let keyring = dir.path().join("keyring").display().to_string();
        for (bad, why) in [
            (good.replace("pool = \"volumes\"\n", ""), "pool is required"),
            (
                good.replace("pool = \"volumes\"", "pool = \"a/b\""),
                "pool name",
            ),
            (
                good.replace("client_id = \"client.cinder\"\n", ""),
                "client_id is required",
            ),
            (good.replace("client.cinder\"", "a b\""), "cephx user"),
            (good.replace(&keyring, &missing), "not a readable file"),
            (good.replace(&keyring, "relative"), "absolute"),
            (format!("{good}timeout_ms = 10\n"), "at least 1000"),
            (format!("{good}path = \"/x\"\n"), "no path"),
            (
                SAMPLE.replace("path = \"/srv/volumes\"", "pool = \"p\""),
                "only applies",
            ),
            (
                SAMPLE.replace("path = \"/srv/volumes\"\n", ""),
                "path is required",
            ),
        ] {
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }

    #[test]
    fn locations_resolve_inside_their_backend_only() {
        let c = parse(SAMPLE).unwrap();
        let loc = |backend: &str, kind, object: &str| VolumeLocation {
            backend: backend.into(),
            kind,
            object: object.into(),
        };
        assert_eq!(
            c.resolve(&loc("files", StorageKind::File, "volume-1"))
                .unwrap(),
            PathBuf::from("/srv/volumes/volume-1")
        );
        assert_eq!(
            c.resolve(&loc("lvm", StorageKind::Block, "/dev/vg0/lv1"))
                .unwrap(),
            PathBuf::from("/dev/vg0/lv1")
        );
        for bad in [
            loc("files", StorageKind::File, "../etc/passwd"),
            loc("files", StorageKind::File, "/etc/passwd"),
            loc("files", StorageKind::File, ""),
            loc("files", StorageKind::Block, "x"),
            loc("nope", StorageKind::File, "x"),
            loc("lvm", StorageKind::Block, "/dev/sda"),
        ] {
            assert!(c.resolve(&bad).is_err(), "{bad:?}");
        }
    }
}
