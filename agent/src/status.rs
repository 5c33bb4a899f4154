//! `holdfast-agent status`: the manual's health checks in one command — the daemon
//! process and its threads (procfs), the change-tracking module (or the user-space
//! tracker in use), storage space, the data plane's TLS certificate, and the
//! replication state the daemon last wrote.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;
use crate::health;

/// A data-plane certificate expiring within this many days is a warning.
pub const CERT_WARNING_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusReport {
    pub lines: Vec<String>,
    /// Needs attention soon; does not make the agent unhealthy.
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

impl StatusReport {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The pid in `agent.pid`, if that process is alive and is a holdfast-agent.
pub fn daemon_pid(state_dir: &Path) -> Option<u32> {
    let pid: i32 = std::fs::read_to_string(state_dir.join("agent.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let p = procfs::process::Process::new(pid).ok()?;
    let cmd = p.cmdline().ok()?;
    let is_agent = cmd.first().is_some_and(|c| c.contains("holdfast-agent"))
        || p.stat().is_ok_and(|s| s.comm.starts_with("holdfast-agent"));
    is_agent.then_some(pid as u32)
}

pub fn check(config: &Config) -> StatusReport {
    let mut r = StatusReport::default();
    let pid = daemon_pid(&config.state_dir);
    match pid {
        Some(pid) => {
            let h = health::gather(pid, &[]);
            r.lines.push(format!(
                "process: holdfast-agent running, pid {pid}, {} threads, {} MiB resident",
                h.threads,
                h.rss_bytes >> 20
            ));
        }
        None => r.problems.push(format!(
            "process: holdfast-agent is not running (no live process in {}/agent.pid); try `systemctl restart holdfast-agent`",
            config.state_dir.display()
        )),
    }
    let h = health::gather(
        pid.unwrap_or_else(std::process::id),
        &config.storage_paths(),
    );
    if h.kmod_loaded {
        let abi = holdfast_kmod::KernelDevice::open()
            .and_then(|d| d.version())
            .map(|v| format!("ABI {}", v.abi_version))
            .unwrap_or_else(|e| format!("device not usable: {e}"));
        r.lines.push(format!(
            "kernel module: {} loaded ({abi})",
            holdfast_kmod::abi::MODULE_NAME
        ));
    } else {
        r.lines.push(format!(
            "kernel module: {} not loaded; the user-space scan tracker is in use",
            holdfast_kmod::abi::MODULE_NAME
        ));
    }
    r.lines.push(format!(
        "load: {:.2} {:.2} {:.2}; memory available {} of {} MiB",
        h.load[0],
        h.load[1],
        h.load[2],
        h.memory_available_bytes >> 20,
        h.memory_total_bytes >> 20
    ));
    for d in &h.disks {
        if let (Some(t), Some(a)) = (d.total_bytes, d.available_bytes) {
            r.lines.push(format!(
                "storage {}: {} of {} MiB free",
                d.path.display(),
                a >> 20,
                t >> 20
            ));
        }
    }
    r.problems.extend(health::problems(&h));
    data_plane_tls(
        config,
        holdfast_protocol::UnixMillis::now().0 as i64 / 1000,
        &mut r,
    );
    if pid.is_some() {
        daemon_status(config, &mut r);
    }
    r
}

/// Whether the data plane uses TLS, and when this node's certificate expires.
fn data_plane_tls(config: &Config, now_unix: i64, r: &mut StatusReport) {
    let Some(files) = &config.tls else {
        r.lines.push(
            "data plane: plain TCP (no [data_plane.tls]): HMAC-authenticated, not encrypted".into(),
        );
        return;
    };
    let cert = files.cert.display();
    match crate::dataplane::tls::cert_validity(files) {
        Ok(v) => {
            let days = v.days_left(now_unix);
            r.lines.push(format!(
                "data plane: mutual TLS, certificate {cert} valid until {} ({days} days left)",
                v.not_after
            ));
            if days < 0 {
                r.problems.push(format!(
                    "the data-plane certificate {cert} expired on {}: peers refuse it; renew it and restart the agent",
                    v.not_after
                ));
            } else if days < CERT_WARNING_DAYS {
                r.warnings.push(format!(
                    "the data-plane certificate {cert} expires in {days} days ({}): renew it and restart the agent",
                    v.not_after
                ));
            }
        }
        Err(e) => r.problems.push(format!("data plane: {e}")),
    }
}

fn daemon_status(config: &Config, r: &mut StatusReport) {
    let status: Option<Value> = std::fs::read(config.state_dir.join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(status) = status else {
        r.problems
            .push("the daemon has not written status.json yet".into());
        return;
    };
    let written = status["written_at_ms"].as_u64().unwrap_or(0);
    let age = holdfast_protocol::UnixMillis::now()
        .0
        .saturating_sub(written);
    let stale_after = Duration::from_millis(config.heartbeat_interval_ms * 3 + 5_000);
    if age > stale_after.as_millis() as u64 {
        r.problems.push(format!(
            "the daemon's last report is {} s old: it may be hung",
            age / 1000
        ));
    }
    for rbd in status["health"]["rbd"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let name = format!(
            "RBD backend {} (pool {})",
            rbd["backend"].as_str().unwrap_or("?"),
            rbd["pool"].as_str().unwrap_or("?")
        );
        match rbd["error"].as_str() {
            None => r.lines.push(format!("{name}: reachable")),
            Some(e) => r.problems.push(format!("{name} does not answer: {e}")),
        }
    }
    let reps = status["replications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    r.lines.push(format!("replications: {}", reps.len()));
    for rep in reps {
        let line = format!(
            "  {}: {} epoch {} lag {} ms",
            rep["volume_id"].as_str().unwrap_or("?"),
            rep["state"].as_str().unwrap_or("?"),
            rep["acked_epoch"],
            rep["lag_ms"]
        );
        r.lines.push(line);
        if rep["state"] == "Failed" {
            r.problems.push(format!(
                "replication of {} failed: {}",
                rep["volume_id"].as_str().unwrap_or("?"),
                rep["last_error"].as_str().unwrap_or("unknown error")
            ));
        }
    }
}
