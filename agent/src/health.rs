//! Node and agent health, from procfs and statvfs, and the rules that say whether it is
//! healthy (pure).

use std::path::{Path, PathBuf};

use procfs::Current;
use serde::{Deserialize, Serialize};

/// One reading of everything the heartbeat and `status` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub load: [f64; 3],
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub pid: u32,
    pub threads: u32,
    pub rss_bytes: u64,
    pub disks: Vec<Disk>,
    pub kmod_loaded: bool,
    /// The module's ABI version, when it is loaded and its device answers.
    pub kmod_abi_version: Option<u32>,
    pub tracker: String,
    /// Every Ceph RBD backend: does its cluster answer, and the pool's space.
    #[serde(default)]
    pub rbd: Vec<RbdHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RbdHealth {
    pub backend: String,
    pub pool: String,
    /// `None` when `rbd ls` of the pool answered in time, else what went wrong.
    pub error: Option<String>,
}

impl RbdHealth {
    /// How it appears among the storage paths.
    pub fn path(&self) -> PathBuf {
        format!("rbd:{}/{}", self.backend, self.pool).into()
    }
}

/// Longest wait for one RBD backend's answer in a health check.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks every RBD backend (each `rbd ls` with the backend's timeout) and the space of
/// its pool (`ceph df`), and adds them to `report` (its space as a storage path
/// `rbd:<backend>/<pool>`).
pub async fn add_rbd(report: &mut HealthReport, backends: &[crate::config::Backend]) {
    for b in backends {
        let Some(cluster) = &b.rbd else { continue };
        // A heartbeat never waits long for a cluster that does not answer.
        let mut cluster = cluster.clone();
        cluster.timeout = cluster.timeout.min(PROBE_TIMEOUT);
        let error = crate::rbd::probe(&cluster)
            .await
            .err()
            .map(|e| e.to_string());
        let h = RbdHealth {
            backend: b.name.clone(),
            pool: cluster.pool.clone(),
            error,
        };
        let space = match &h.error {
            None => cluster.pool_space().await.ok(),
            Some(_) => None,
        };
        report.disks.push(Disk {
            path: h.path(),
            total_bytes: space.map(|(t, _)| t),
            available_bytes: space.map(|(_, a)| a),
        });
        report.rbd.push(h);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub path: PathBuf,
    /// `None` when the path could not be examined (missing, unreadable).
    pub total_bytes: Option<u64>,
    pub available_bytes: Option<u64>,
}

/// Reads the process `pid` (the agent itself, or the daemon seen from `status`).
pub fn gather(pid: u32, storage: &[PathBuf]) -> HealthReport {
    let load = procfs::LoadAverage::current()
        .map(|l| [f64::from(l.one), f64::from(l.five), f64::from(l.fifteen)])
        .unwrap_or_default();
    let (total, available) = procfs::Meminfo::current()
        .map(|m| (m.mem_total, m.mem_available.unwrap_or(m.mem_free)))
        .unwrap_or_default();
    let (threads, rss_bytes) = procfs::process::Process::new(pid as i32)
        .and_then(|p| p.stat())
        .map(|s| (s.num_threads.max(0) as u32, s.rss * procfs::page_size()))
        .unwrap_or_default();
    let kmod_loaded = holdfast_kmod::module_loaded();
    let kmod_abi_version = kmod_loaded
        .then(|| {
            holdfast_kmod::KernelDevice::open()
                .and_then(|d| d.version())
                .ok()
        })
        .flatten()
        .map(|v| v.abi_version);
    HealthReport {
        kmod_abi_version,
        load,
        memory_total_bytes: total,
        memory_available_bytes: available,
        pid,
        threads,
        rss_bytes,
        disks: storage.iter().map(|p| disk(p)).collect(),
        kmod_loaded,
        rbd: Vec::new(),
        tracker: if kmod_loaded {
            "kernel".into()
        } else {
            "scan".into()
        },
    }
}

fn disk(path: &Path) -> Disk {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => Disk {
            path: path.to_owned(),
            total_bytes: Some(s.blocks() * s.fragment_size()),
            available_bytes: Some(s.blocks_available() * s.fragment_size()),
        },
        Err(_) => Disk {
            path: path.to_owned(),
            total_bytes: None,
            available_bytes: None,
        },
    }
}

/// Below this share of free space a storage path is a problem.
pub const MIN_FREE_SHARE: f64 = 0.05;

/// What is wrong, in words an operator can act on; empty when healthy.
pub fn problems(report: &HealthReport) -> Vec<String> {
    let mut out = Vec::new();
    for r in &report.rbd {
        if let Some(e) = &r.error {
            out.push(format!(
                "RBD backend {:?} (pool {}) does not answer: {e}",
                r.backend, r.pool
            ));
        }
    }
    for d in &report.disks {
        let rbd = report.rbd.iter().any(|r| r.path() == d.path);
        match (d.total_bytes, d.available_bytes) {
            (Some(total), Some(avail)) if total > 0 => {
                if (avail as f64) < MIN_FREE_SHARE * total as f64 {
                    out.push(format!(
                        "{} has only {} MiB free of {} MiB",
                        d.path.display(),
                        avail >> 20,
                        total >> 20
                    ));
                }
            }
            // An RBD pool whose space is unknown is reported above if unreachable.
            _ if rbd => {}
            _ => out.push(format!("{} is missing or unreadable", d.path.display())),
        }
    }
    if report.memory_total_bytes > 0
        && report.memory_available_bytes < report.memory_total_bytes / 50
    {
        out.push("less than 2 % of memory is available".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(disks: Vec<Disk>) -> HealthReport {
        HealthReport {
            load: [0.1, 0.2, 0.3],
            memory_total_bytes: 1000,
            memory_available_bytes: 500,
            pid: 1,
            threads: 4,
            rss_bytes: 1,
            disks,
            kmod_loaded: false,
            kmod_abi_version: None,
            tracker: "scan".into(),
            rbd: vec![],
        }
    }

    #[test]
    fn unreachable_or_full_rbd_pools_are_problems() {
        let rbd = |backend: &str, error: Option<&str>| RbdHealth {
            backend: backend.into(),
            pool: "volumes".into(),
            error: error.map(Into::into),
        };
        let mut r = report(vec![
            Disk {
                path: "rbd:up/volumes".into(),
                total_bytes: Some(100 << 30),
                available_bytes: Some(50 << 30),
            },
            Disk {
                path: "rbd:down/volumes".into(),
                total_bytes: None,
                available_bytes: None,
            },
        ]);
        r.rbd = vec![
            rbd("up", None),
            rbd("down", Some("`rbd ls volumes` did not finish")),
        ];
        let p = problems(&r);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("\"down\"") && p[0].contains("did not finish"));
        r.disks[0].available_bytes = Some(1 << 20);
        assert_eq!(problems(&r).len(), 2);
    }

    #[test]
    fn full_or_missing_disks_and_low_memory_are_problems() {
        let ok = Disk {
            path: "/a".into(),
            total_bytes: Some(100),
            available_bytes: Some(50),
        };
        assert!(problems(&report(vec![ok.clone()])).is_empty());
        let full = Disk {
            path: "/b".into(),
            total_bytes: Some(100 << 20),
            available_bytes: Some(1 << 20),
        };
        let missing = Disk {
            path: "/c".into(),
            total_bytes: None,
            available_bytes: None,
        };
        let p = problems(&report(vec![ok, full, missing]));
        assert_eq!(p.len(), 2);
        assert!(p[0].contains("/b") && p[1].contains("/c"));
        let mut low = report(vec![]);
        low.memory_available_bytes = 10;
        assert_eq!(problems(&low).len(), 1);
    }

    #[test]
    fn gathering_the_real_machine_works() {
        let dir = tempfile::tempdir().unwrap();
        let r = gather(
            std::process::id(),
            &[dir.path().to_owned(), "/nonexistent".into()],
        );
        assert!(r.threads >= 1);
        assert!(r.rss_bytes > 0);
        assert!(r.memory_total_bytes > 0);
        assert!(r.disks[0].total_bytes.is_some());
        assert!(r.disks[1].total_bytes.is_none());
    }
}
