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
    let written: Option<Value> = pid.and_then(|_| {
        std::fs::read(config.state_dir.join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    });
    let now_unix = holdfast_protocol::UnixMillis::now().0 as i64 / 1000;
    data_plane_tls(config, now_unix, &mut r);
    if let Some(status) = &written {
        tls_in_use(config, &status["data_plane_tls"], now_unix, &mut r);
    }
    if pid.is_some() {
        daemon_status(written, config, &mut r);
    }
    r
}

/// What the running daemon reported about its TLS material: a failed reload, or a
/// certificate in use other than the one in the files.
fn tls_in_use(config: &Config, tls: &Value, now_unix: i64, r: &mut StatusReport) {
    if config.tls.is_none() || tls.is_null() {
        return;
    }
    let until = tls["not_after"].as_str().unwrap_or("?");
    if let Some(e) = tls["reload_error"].as_str() {
        r.problems.push(format!(
            "data plane: reloading the TLS material failed: {e}; the agent still uses the material loaded before (certificate valid until {until}): fix the file, then `systemctl reload holdfast-agent`"
        ));
        return;
    }
    let on_disk = config
        .tls
        .as_ref()
        .and_then(|f| crate::dataplane::tls::cert_validity(f).ok())
        .map(|v| v.not_after.to_string());
    if on_disk.as_deref().is_some_and(|d| d != until) {
        let expired = tls["not_after_unix"].as_i64().is_some_and(|t| t < now_unix);
        let msg = format!(
            "data plane: the running agent still uses the certificate valid until {until}, not the one in the files: `systemctl reload holdfast-agent`"
        );
        if expired {
            r.problems.push(msg);
        } else {
            r.warnings.push(msg);
        }
    }
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
                    "the data-plane certificate {cert} expired on {}: peers refuse it; renew it and `systemctl reload holdfast-agent`",
                    v.not_after
                ));
            } else if days < CERT_WARNING_DAYS {
                r.warnings.push(format!(
                    "the data-plane certificate {cert} expires in {days} days ({}): renew it and `systemctl reload holdfast-agent`",
                    v.not_after
                ));
            }
        }
        Err(e) => r.problems.push(format!("data plane: {e}")),
    }
}

fn daemon_status(status: Option<Value>, config: &Config, r: &mut StatusReport) {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::bench::pki::TestCa;

    #[test]
    fn a_failed_reload_or_a_certificate_not_yet_reloaded_shows_in_status() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
        let f = ca.issue("node-a", 365).unwrap();
        let toml = format!(
            "node_id = \"node-a\"\nbus_url = \"amqp://u:p@127.0.0.1/%2f\"\nstate_dir = \"/var/lib/x\"\n\n[data_plane]\nlisten = \"127.0.0.1:7400\"\n\n[data_plane.tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
            f.cert.display().to_string(),
            f.key.display().to_string(),
            f.ca.display().to_string()
        );
        let config = Config::parse(&toml, |_| None).unwrap();
        let on_disk = crate::dataplane::tls::cert_validity(&f).unwrap().not_after;
        let now = holdfast_protocol::UnixMillis::now().0 as i64 / 1000;
        let in_use = |not_after: String, unix: i64, error: Option<&str>| json!({ "not_after": not_after, "not_after_unix": unix, "reload_error": error });
        let run = |tls: &Value| {
            let mut r = StatusReport::default();
            tls_in_use(&config, tls, now, &mut r);
            r
        };

        // The daemon uses what the files hold: nothing to add.
        let same = in_use(on_disk.to_string(), on_disk.unix_seconds(), None);
        assert_eq!(run(&same), StatusReport::default());

        // A failed reload: a problem, with its reason and the command to retry.
        let failed = in_use(
            on_disk.to_string(),
            on_disk.unix_seconds(),
            Some("data_plane.tls.key /etc/holdfast/tls/agent.key: not a readable PEM private key"),
        );
        let r = run(&failed);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        let p = &r.problems[0];
        assert!(p.contains("reloading the TLS material failed"), "{p}");
        assert!(
            p.contains("agent.key: not a readable PEM private key"),
            "{p}"
        );
        assert!(p.contains("systemctl reload holdfast-agent"), "{p}");

        // Renewed files not reloaded yet: a problem while the one in use is expired,
        // a warning otherwise.
        let expired = in_use("2020-01-02 00:00:00 UTC".into(), 1_577_923_200, None);
        let r = run(&expired);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert!(r.problems[0].contains("valid until 2020-01-02"), "{r:?}");
        assert!(
            r.problems[0].contains("systemctl reload holdfast-agent"),
            "{r:?}"
        );
        let older = in_use("2099-01-01 00:00:00 UTC".into(), now + 86_400, None);
        let r = run(&older);
        assert!(r.problems.is_empty() && r.warnings.len() == 1, "{r:?}");

        // A daemon without TLS reports nothing about it.
        assert_eq!(run(&Value::Null), StatusReport::default());
    }
}
