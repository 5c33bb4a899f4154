//! Volume assignments (the `ReplicationStart` each volume was started with), persisted
//! in the state dir so a restarted agent re-adopts its volumes without waiting for the
//! orchestrator. Files are readable by the agent's user only: they hold session secrets.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use holdfast_protocol::messages::ReplicationStart;

use crate::durable;

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("assignments")
}

fn path(state_dir: &Path, volume_id: &str) -> PathBuf {
    dir(state_dir).join(format!("{}.json", durable::file_key(volume_id)))
}

pub(super) fn save(state_dir: &Path, start: &ReplicationStart) -> std::io::Result<()> {
    let d = dir(state_dir);
    std::fs::create_dir_all(&d)?;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
    durable::write_json(&path(state_dir, &start.volume_id.0), start)
}

pub(super) fn remove(state_dir: &Path, volume_id: &str) -> std::io::Result<()> {
    durable::remove(&path(state_dir, volume_id))
}

/// Every saved assignment; damaged files are reported and skipped.
pub(super) fn load_all(state_dir: &Path) -> Vec<Result<ReplicationStart, String>> {
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            durable::read_json::<ReplicationStart>(&p)
                .map_err(|e| e.to_string())
                .and_then(|o| o.ok_or_else(|| format!("{} vanished", p.display())))
        })
        .collect()
}
