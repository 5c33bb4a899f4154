//! Typed configuration: a TOML file plus `HOLDFAST_*` environment overrides, validated at load.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value that must never be printed (passwords, database URLs with credentials).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `plain` or `json`.
    pub format: LogFormat,
    /// A tracing filter directive, e.g. `info` or `holdfast_orchestrator=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Plain,
            level: "info".to_owned(),
        }
    }
}

/// HTTPS: a PEM certificate chain and its PEM private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The orchestrator's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL; unset means SQLite in `data_dir`.
    pub database_url: Option<Secret<String>>,
    /// RabbitMQ URL for the agents' bus (used by later features).
    pub bus_url: Option<Secret<String>>,
    /// File holding the key that encrypts stored secrets (used by later features).
    pub secrets_key_file: Option<PathBuf>,
    /// Logging.
    pub log: LogConfig,
    /// HTTPS; unset means plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Password for the first-start `admin` account; unset means a random one printed once.
    pub admin_password: Option<Secret<String>>,
    /// Base64 Ed25519 public key that verifies licence keys; unset means the vendor key.
    pub licence_public_key: Option<String>,
    /// Seconds to let in-flight requests finish after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// argon2id memory cost in KiB for new password hashes.
    pub argon2_memory_kib: u32,
    /// argon2id iterations for new password hashes.
    pub argon2_iterations: u32,
    /// Milliseconds between cluster status probes.
    pub cluster_probe_interval_ms: u64,
    /// Namespace of the bus's exchanges and queues (`holdfast` in production).
    pub bus_namespace: String,
    /// Heartbeat interval the orchestrator asks agents for (ms).
    pub agent_heartbeat_interval_ms: u64,
    /// Missed heartbeats after which an agent is marked unreachable.
    pub agent_missed_heartbeats: u32,
    /// Lifetime of the leader lease without renewal (ms).
    pub lease_ttl_ms: u64,
    /// A paused recovery job resumes by itself after this many seconds.
    pub job_pause_timeout_secs: u64,
    /// PEM file of CA certificates trusted for event e-mail's TLS in addition to the
    /// public roots (a private CA of the mail server); unset means the public roots only.
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("holdfast-data"),
            database_url: None,
            bus_url: None,
            secrets_key_file: None,
            log: LogConfig::default(),
            tls: None,
            admin_password: None,
            licence_public_key: None,
            shutdown_grace_secs: 10,
            max_body_bytes: 64 * 1024,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            cluster_probe_interval_ms: 30_000,
            bus_namespace: "holdfast".to_owned(),
            agent_heartbeat_interval_ms: 10_000,
            agent_missed_heartbeats: 3,
            lease_ttl_ms: 15_000,
            job_pause_timeout_secs: 30 * 60,
            smtp_ca_file: None,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: Box<toml::de::Error>,
    },
    /// An environment variable has a value that does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads `path` (if any), then applies environment overrides read through `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("HOLDFAST_BIND") {
            self.bind = v
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Env {
                    name: "HOLDFAST_BIND",
                    value: v.clone(),
                    reason: e.to_string(),
                })?;
        }
        if let Some(v) = env("HOLDFAST_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("HOLDFAST_DATABASE_URL") {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = env("HOLDFAST_BUS_URL") {
            self.bus_url = Some(Secret::new(v));
        }
        if let Some(v) = env("HOLDFAST_SECRETS_KEY_FILE") {
            self.secrets_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("HOLDFAST_SMTP_CA_FILE") {
            self.smtp_ca_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("HOLDFAST_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "plain" => LogFormat::Plain,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        name: "HOLDFAST_LOG_FORMAT",
                        value: v,
                        reason: "expected `plain` or `json`".to_owned(),
                    });
                }
            };
        }
        if let Some(v) = env("HOLDFAST_LOG_LEVEL") {
            self.log.level = v;
        }
        match (env("HOLDFAST_TLS_CERT"), env("HOLDFAST_TLS_KEY")) {
            (Some(cert), Some(key)) => {
                self.tls = Some(TlsConfig {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid(
                    "set both HOLDFAST_TLS_CERT and HOLDFAST_TLS_KEY, or neither".to_owned(),
                ));
            }
        }
        if let Some(v) = env("HOLDFAST_ADMIN_PASSWORD") {
            self.admin_password = Some(Secret::new(v));
        }
        if let Some(v) = env("HOLDFAST_LICENCE_PUBLIC_KEY") {
            self.licence_public_key = Some(v);
        }
        if let Some(v) = env("HOLDFAST_BUS_NAMESPACE") {
            self.bus_namespace = v;
        }
        for (name, field) in [
            (
                "HOLDFAST_AGENT_HEARTBEAT_INTERVAL_MS",
                &mut self.agent_heartbeat_interval_ms,
            ),
            ("HOLDFAST_LEASE_TTL_MS", &mut self.lease_ttl_ms),
            (
                "HOLDFAST_JOB_PAUSE_TIMEOUT_SECS",
                &mut self.job_pause_timeout_secs,
            ),
        ] {
            if let Some(v) = env(name) {
                *field = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| ConfigError::Env {
                        name,
                        value: v.clone(),
                        reason: e.to_string(),
                    })?;
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                return Err(ConfigError::Invalid(
                    "database_url must start with postgres://, postgresql:// or sqlite:".to_owned(),
                ));
            }
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".to_owned(),
            ));
        }
        if self.agent_heartbeat_interval_ms < 100 || self.agent_missed_heartbeats < 2 {
            return Err(ConfigError::Invalid(
                "agent_heartbeat_interval_ms must be at least 100 and agent_missed_heartbeats at least 2".to_owned(),
            ));
        }
        if self.lease_ttl_ms < 500 {
            return Err(ConfigError::Invalid(
                "lease_ttl_ms must be at least 500 (15000 is the default)".to_owned(),
            ));
        }
        if self.job_pause_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "job_pause_timeout_secs must be at least 1 (1800 is the default)".to_owned(),
            ));
        }
        holdfast_protocol::NodeId::parse(self.bus_namespace.clone()).map_err(|_| {
            ConfigError::Invalid(format!(
                "bus_namespace {:?} may contain only ASCII letters, digits, '.', '-' and '_'",
                self.bus_namespace
            ))
        })?;
        if self.argon2_memory_kib < 8 || self.argon2_iterations < 1 {
            return Err(ConfigError::Invalid(
                "argon2_memory_kib must be at least 8 and argon2_iterations at least 1".to_owned(),
            ));
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("holdfast.db").display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn zero_configuration_uses_sqlite_on_loopback() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.effective_database_url(),
            "sqlite://holdfast-data/holdfast.db?mode=rwc"
        );
    }

    #[test]
    fn file_then_environment_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("holdfast.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/hf\"\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("HOLDFAST_BIND", "127.0.0.1:9100"),
                ("HOLDFAST_LOG_LEVEL", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9100);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/hf"));
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.log.level, "debug");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("holdfast.toml");
        std::fs::write(&path, "bnid = \"127.0.0.1:9000\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            Config::load(None, env(&[("HOLDFAST_BIND", "nowhere")])),
            Err(ConfigError::Env { .. })
        ));
        assert!(matches!(
            Config::load(None, env(&[("HOLDFAST_DATABASE_URL", "mysql://x")])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load(None, env(&[("HOLDFAST_TLS_CERT", "/x.pem")])),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config::load(
            None,
            env(&[("HOLDFAST_DATABASE_URL", "postgres://u:hunter2@127.0.0.1/db")]),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
