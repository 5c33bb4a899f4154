//! Configuration: a TOML file (or defaults) plus command-line overrides in the binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Everything a test cloud needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port. Only loopback is accepted.
    pub listen: SocketAddr,
    /// Region name in the service catalog.
    pub region: String,
    /// Root of the volume storage: one directory per backend and pool below it.
    /// `None` makes a fresh directory under the system temp dir.
    pub storage_dir: Option<PathBuf>,
    /// Fixture file (JSON or TOML) loaded at start.
    pub fixture: Option<PathBuf>,
    /// Bootstrap administrator (user `admin` in project `admin`, domain `default`).
    pub admin_password: String,
    /// Lifetime of issued tokens, in seconds.
    pub token_ttl_secs: u64,
    /// Delays of the asynchronous status transitions.
    pub timing: Timing,
    /// Where notifications go.
    pub notifications: Notifications,
    /// Volume backends; the first one is the default volume type's backend.
    pub backends: Vec<Backend>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "RegionOne".into(),
            storage_dir: None,
            fixture: None,
            admin_password: "secret".into(),
            token_ttl_secs: 3600,
            timing: Timing::default(),
            notifications: Notifications::default(),
            backends: vec![Backend::default()],
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("listen address {0} is not a loopback address; the test cloud serves loopback only")]
    NotLoopback(SocketAddr),
    #[error("at least one volume backend is required")]
    NoBackend,
    #[error(
        "backend or pool name {0:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
    )]
    BadBackendName(String),
}

impl Config {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the invariants a config must hold before start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() {
            return Err(ConfigError::NotLoopback(self.listen));
        }
        if self.backends.is_empty() {
            return Err(ConfigError::NoBackend);
        }
        for b in &self.backends {
            for name in [&b.name, &b.pool] {
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    && name != "."
                    && name != "..";
                if !ok {
                    return Err(ConfigError::BadBackendName(name.clone()));
                }
            }
        }
        Ok(())
    }
}

/// Delays, in milliseconds, of the asynchronous transitions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    pub server_build_ms: u64,
    pub server_delete_ms: u64,
    pub server_power_ms: u64,
    pub volume_create_ms: u64,
    pub volume_delete_ms: u64,
    pub volume_attach_ms: u64,
    pub snapshot_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            server_build_ms: 200,
            server_delete_ms: 100,
            server_power_ms: 100,
            volume_create_ms: 100,
            volume_delete_ms: 100,
            volume_attach_ms: 100,
            snapshot_ms: 100,
        }
    }
}

impl Timing {
    /// Every transition immediate (still asynchronous: statuses pass through the
    /// intermediate state first).
    pub fn instant() -> Self {
        Self {
            server_build_ms: 0,
            server_delete_ms: 0,
            server_power_ms: 0,
            volume_create_ms: 0,
            volume_delete_ms: 0,
            volume_attach_ms: 0,
            snapshot_ms: 0,
        }
    }

    pub(crate) fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
}

/// oslo.messaging notification output.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notifications {
    /// AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`. `None` disables sending
    /// (notifications are still counted).
    pub url: Option<String>,
    /// Topic; the routing key is `<topic>.<priority>` (`notifications.info`).
    pub topic: String,
    /// Exchange for Nova's notifications (a real cloud: `nova`).
    pub compute_exchange: String,
    /// Exchange for Cinder's notifications (a real cloud: `openstack`).
    pub volume_exchange: String,
    /// Exchange for Keystone's notifications (a real cloud: `openstack`).
    pub identity_exchange: String,
    /// Exchange for Neutron's notifications (a real cloud: `neutron`).
    pub network_exchange: String,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            url: None,
            topic: "notifications".into(),
            compute_exchange: "nova".into(),
            volume_exchange: "openstack".into(),
            identity_exchange: "openstack".into(),
            network_exchange: "neutron".into(),
        }
    }
}

/// A volume backend and its single pool: Cinder host `testcloud@<name>#<pool>`, data in
/// `<storage_dir>/<name>/<pool>/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backend {
    pub name: String,
    pub pool: String,
    pub capacity_gb: u64,
}

impl Default for Backend {
    fn default() -> Self {
        Self {
            name: "file".into(),
            pool: "file".into(),
            capacity_gb: 1_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_loopback_and_bad_backend_names() {
        let mut c = Config {
            listen: "10.1.2.3:0".parse().unwrap(),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::NotLoopback(_))));
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.backends[0].pool = "../x".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadBackendName(_))));
        c.backends.clear();
        assert!(matches!(c.validate(), Err(ConfigError::NoBackend)));
    }

    #[test]
    fn parses_toml_with_defaults() {
        let c: Config = toml::from_str(
            "region = \"East\"\n[timing]\nserver_build_ms = 5\n[notifications]\nurl = \"amqp://127.0.0.1\"\n",
        )
        .unwrap();
        assert_eq!(c.region, "East");
        assert_eq!(c.timing.server_build_ms, 5);
        assert_eq!(c.timing.volume_create_ms, 100);
        assert_eq!(c.notifications.compute_exchange, "nova");
    }
}
