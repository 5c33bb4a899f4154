//! `holdfast support-bundle`: one `.tar.gz` for support, written on the orchestrator's
//! host (or pod) from its configuration and database directly, so that it works when
//! the API does not: the configuration with every secret redacted, versions, database
//! summary (backend, applied migrations, row counts, the leader lease), the agents
//! with their last health and replication, and the tail of each log file given.

use std::path::{Path, PathBuf};

use clap::Args;
use holdfast_bus::BusConfig;
use holdfast_protocol::names::Names;
use serde_json::{Value, json};

use super::CliError;
use crate::config::Config;
use crate::db::{self, Db};

/// Largest log tail included, per file.
const LOG_TAIL: u64 = 8 << 20;

/// Options of `holdfast support-bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The orchestrator's TOML configuration (environment variables HOLDFAST_* apply).
    #[arg(short, long, env = "HOLDFAST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database), as given to `holdfast serve --data-dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A log file to include (its last 8 MiB); repeatable, e.g. the output of
    /// `journalctl -u holdfast > holdfast.log` or `kubectl logs`.
    #[arg(long = "log")]
    pub logs: Vec<PathBuf>,
    /// The archive to write.
    #[arg(short, long, default_value = "holdfast-support.tar.gz")]
    pub output: PathBuf,
}

/// `scheme://user:***@host/...`: the URL without its password.
fn redact_url(url: &str) -> String {
    BusConfig::new(url, Names::default(), "").redacted_url()
}

fn redacted_urls(config: &Config) -> Value {
    json!({
        "database_url": config.database_url.as_ref().map(|u| redact_url(u.expose())),
        "bus_url": config.bus_url.as_ref().map(|u| redact_url(u.expose())),
    })
}

async fn database(config: &Config) -> Value {
    let url = config.effective_database_url();
    if url.starts_with("sqlite:") {
        let file = config.data_dir.join("holdfast.db");
        if config.database_url.is_none() && !file.exists() {
            return json!({ "error": format!("no SQLite database at {}", file.display()) });
        }
    }
    let db = match Db::connect(&url).await {
        Ok(db) => db,
        Err(e) => return json!({ "error": e.to_string() }),
    };
    let summary = summarise(&db)
        .await
        .unwrap_or_else(|e| json!({ "error": e.to_string() }));
    db.close().await;
    summary
}

async fn summarise(db: &Db) -> Result<Value, db::DbError> {
    let mut conn = db.conn().await?;
    let migrations = db::summary::migrations(&mut conn).await?;
    let counts: serde_json::Map<String, Value> = db::summary::counts(&mut conn)
        .await?
        .into_iter()
        .map(|(t, n)| (t, Value::from(n)))
        .collect();
    let has_agents = counts.contains_key("agents");
    let lease = if counts.contains_key("leader_lease") {
        db::lease::get(&mut conn, crate::lease::LEADER_LEASE)
            .await?
            .map(|l| {
                json!({
                    "holder": l.holder, "token": l.token,
                    "acquired_at": crate::api::time_text(l.acquired_at),
                    "expires_at": crate::api::time_text(l.expires_at),
                })
            })
    } else {
        None
    };
    let agents = if has_agents {
        let reps = db::agents::replications(&mut conn, None).await?;
        db::agents::list(&mut conn)
            .await?
            .into_iter()
            .map(|a| {
                let mine: Vec<Value> = reps
                    .iter()
                    .filter(|r| r.node_id == a.node_id)
                    .map(|r| {
                        json!({
                            "volume_id": r.volume_id, "state": r.state, "lag_ms": r.lag_ms,
                            "rpo_ms": r.rpo_ms, "bytes_sent_total": r.bytes_sent_total,
                            "last_error": r.last_error,
                            "updated_at": crate::api::time_text(r.updated_at),
                        })
                    })
                    .collect();
                json!({
                    "node_id": a.node_id, "hostname": a.hostname, "state": a.state,
                    "agent_version": a.agent_version, "protocol_version": a.protocol_version,
                    "last_seen_at": crate::api::time_text(a.last_seen_at),
                    "last_heartbeat_at": a.last_heartbeat_at.map(crate::api::time_text),
                    "health": a.health_json.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
                    "replications": mine,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({
        "backend": format!("{:?}", db.backend()),
        "migrations": migrations,
        "rows": counts,
        "leader_lease": lease,
        "agents": agents,
    }))
}

fn log_tail(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Writes the bundle; returns what to print (the archive and its members).
pub async fn write(
    args: BundleArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, CliError> {
    let mut config = Config::load(args.config.as_deref(), &env)
        .map_err(|e| CliError::Usage(format!("cannot load the configuration: {e}")))?;
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    files.push((
        "config.txt".into(),
        format!(
            "# Secrets are shown as [redacted].\n{config:#?}\n\n# URLs without passwords\n{}\n",
            serde_json::to_string_pretty(&redacted_urls(&config)).unwrap_or_default()
        )
        .into_bytes(),
    ));
    let versions = json!({
        "holdfast": env!("CARGO_PKG_VERSION"),
        "protocol": holdfast_protocol::ProtocolVersion::CURRENT.to_string(),
        "kernel": std::fs::read_to_string("/proc/version").unwrap_or_default().trim(),
        "collected_at": jiff::Timestamp::now().to_string(),
    });
    files.push(("versions.json".into(), pretty(&versions)));
    let db = database(&config).await;
    files.push(("database.json".into(), pretty(&db)));
    let agents = db
        .get("agents")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    files.push(("agents.json".into(), pretty(&agents)));
    let mut notes = Vec::new();
    for (i, log) in args.logs.iter().enumerate() {
        let name = log
            .file_name()
            .map_or_else(|| format!("log-{i}"), |n| n.to_string_lossy().into_owned());
        match log_tail(log) {
            Ok(bytes) => files.push((format!("logs/{i}-{name}"), bytes)),
            Err(e) => notes.push(format!("log {} not included: {e}", log.display())),
        }
    }
    if args.logs.is_empty() {
        notes.push(
            "no log file given (the orchestrator logs to stdout: pass `--log FILE` with a saved journal or `kubectl logs` output)"
                .to_owned(),
        );
    }
    files.push(("NOTES.txt".into(), (notes.join("\n") + "\n").into_bytes()));
    let output = args.output.clone();
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    tokio::task::spawn_blocking(move || archive(&output, files))
        .await
        .map_err(|e| CliError::Usage(format!("writing the bundle: {e}")))?
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", args.output.display())))?;
    let mut out = format!("wrote {}\n", args.output.display());
    for n in names {
        out.push_str(&format!("  {n}\n"));
    }
    if let Some(err) = db.get("error").and_then(Value::as_str) {
        out.push_str(&format!("note: database not summarised: {err}\n"));
    }
    Ok(out)
}

fn archive(output: &Path, files: Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let file = std::fs::File::create(output)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(mtime);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes.as_slice())?;
    }
    tar.into_inner()?.finish()?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://hf:hunter2@db.example:5432/holdfast"),
            "postgres://hf:***@db.example:5432/holdfast"
        );
    }
}
