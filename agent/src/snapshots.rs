//! Snapshots of target copies (files), and exports for recovery.
//!
//! A snapshot of the mirror `DIR/NAME` is the file `DIR/.holdfast-snapshots/NAME/SNAP`
//! with its metadata `SNAP.json` beside it. It is made with `FICLONE` (copy-on-write:
//! no data space until the mirror's blocks are rewritten) where the filesystem
//! supports it (btrfs, XFS with reflink, bcachefs), else by a sparse copy (space: the
//! mirror's allocated, non-zero blocks, once per snapshot). The image appears under its
//! final name only once complete (temp file + fsync + rename), metadata last, so a crash
//! never leaves a half snapshot that looks whole.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::durable;

/// A validated snapshot name: `[A-Za-z0-9._-]{1,128}`, not starting with `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotName(String);

impl SnapshotName {
    pub fn parse(s: &str) -> Result<SnapshotName, SnapshotError> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok && !s.ends_with(".json") && !s.ends_with(".tmp") {
            Ok(SnapshotName(s.to_owned()))
        } else {
            Err(SnapshotError::BadName(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error(
        "snapshot name {0:?} is invalid: use 1-128 of A-Z a-z 0-9 . - _, not starting with '.'"
    )]
    BadName(String),
    #[error("snapshot {0:?} does not exist")]
    NotFound(String),
    #[error("snapshot {name:?} already exists with epoch {existing}, not {requested}")]
    Conflict {
        name: String,
        existing: u64,
        requested: u64,
    },
    #[error("destination {0} already exists")]
    DestinationExists(PathBuf),
    #[error("snapshot storage I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let path = path.to_owned();
    move |source| SnapshotError::Io { path, source }
}

/// How a copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMethod {
    Reflink,
    SparseCopy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub name: String,
    pub epoch: u64,
    pub created_at_ms: u64,
    pub size_bytes: u64,
    pub method: CopyMethod,
}

pub fn snapshot_dir(mirror: &Path) -> PathBuf {
    let dir = mirror.parent().unwrap_or(Path::new("."));
    let name = mirror.file_name().unwrap_or_default();
    dir.join(".holdfast-snapshots").join(name)
}

pub fn snapshot_path(mirror: &Path, name: &SnapshotName) -> PathBuf {
    snapshot_dir(mirror).join(name.as_str())
}

fn meta_path(mirror: &Path, name: &SnapshotName) -> PathBuf {
    snapshot_dir(mirror).join(format!("{}.json", name.as_str()))
}

pub fn find(mirror: &Path, name: &SnapshotName) -> Result<Option<SnapshotMeta>, SnapshotError> {
    let p = meta_path(mirror, name);
    durable::read_json(&p).map_err(io(&p))
}

/// Creates snapshot `name` of `mirror` holding `epoch`. Idempotent for the same epoch.
pub fn create(
    mirror: &Path,
    name: &SnapshotName,
    epoch: u64,
    now_ms: u64,
) -> Result<SnapshotMeta, SnapshotError> {
    if let Some(existing) = find(mirror, name)? {
        return if existing.epoch == epoch {
            Ok(existing)
        } else {
            Err(SnapshotError::Conflict {
                name: name.0.clone(),
                existing: existing.epoch,
                requested: epoch,
            })
        };
    }
    let dir = snapshot_dir(mirror);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let image = snapshot_path(mirror, name);
    let method = copy_file(mirror, &image)?;
    let size_bytes = std::fs::metadata(&image).map_err(io(&image))?.len();
    let meta = SnapshotMeta {
        name: name.0.clone(),
        epoch,
        created_at_ms: now_ms,
        size_bytes,
        method,
    };
    let mp = meta_path(mirror, name);
    durable::write_json(&mp, &meta).map_err(io(&mp))?;
    Ok(meta)
}

/// Deletes a snapshot; deleting one that does not exist succeeds.
pub fn delete(mirror: &Path, name: &SnapshotName) -> Result<(), SnapshotError> {
    let mp = meta_path(mirror, name);
    durable::remove(&mp).map_err(io(&mp))?;
    let image = snapshot_path(mirror, name);
    durable::remove(&image).map_err(io(&image))
}

/// Every complete snapshot of `mirror`, oldest first.
pub fn list(mirror: &Path) -> Result<Vec<SnapshotMeta>, SnapshotError> {
    let dir = snapshot_dir(mirror);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Some(meta) = durable::read_json::<SnapshotMeta>(&path).map_err(io(&path))?
        {
            out.push(meta);
        }
    }
    out.sort_by_key(|m| (m.created_at_ms, m.epoch));
    Ok(out)
}

/// Removes every snapshot of `mirror` and the mirror itself.
pub fn remove_all(mirror: &Path) -> Result<(), SnapshotError> {
    let dir = snapshot_dir(mirror);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&dir)(e)),
    }
    durable::remove(mirror).map_err(io(mirror))
}

/// Copies `src` to a new file `dest` (which must not exist): a reflink where the
/// filesystem can, else a sparse copy that skips all-zero 4 KiB blocks. The result
/// appears under `dest` only when complete and durable.
pub fn copy_file(src: &Path, dest: &Path) -> Result<CopyMethod, SnapshotError> {
    if dest.exists() {
        return Err(SnapshotError::DestinationExists(dest.to_owned()));
    }
    let mut tmp_name = dest.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dest.with_file_name(tmp_name);
    let input = File::open(src).map_err(io(src))?;
    let out = File::create(&tmp).map_err(io(&tmp))?;
    let method = match holdfast_kmod::clone::reflink(&input, &out) {
        Ok(()) => CopyMethod::Reflink,
        Err(_) => {
            sparse_copy(&input, &out).map_err(io(&tmp))?;
            CopyMethod::SparseCopy
        }
    };
    out.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    if let Some(dir) = dest.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(method)
}

fn sparse_copy(input: &File, out: &File) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    const BLOCK: usize = 4096;
    let size = input.metadata()?.len();
    out.set_len(size)?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    while offset < size {
        let n = CHUNK.min((size - offset) as usize);
        input.read_exact_at(&mut buf[..n], offset)?;
        for (i, block) in buf[..n].chunks(BLOCK).enumerate() {
            if block.iter().any(|&b| b != 0) {
                out.write_all_at(block, offset + (i * BLOCK) as u64)?;
            }
        }
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(SnapshotName::parse("pg-2024-01-01T00.00").is_ok());
        for bad in [
            "",
            ".hidden",
            "a/b",
            "x.json",
            "x.tmp",
            &"y".repeat(129),
            "a b",
        ] {
            assert!(SnapshotName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_list_delete_round_trip_and_copies_are_sparse_and_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("vol");
        let f = File::create(&mirror).unwrap();
        f.set_len(8 << 20).unwrap();
        f.write_all_at(b"hello", 5 << 20).unwrap();
        let name = SnapshotName::parse("s1").unwrap();
        let meta = create(&mirror, &name, 3, 1000).unwrap();
        assert_eq!(meta.epoch, 3);
        assert_eq!(create(&mirror, &name, 3, 2000).unwrap(), meta, "idempotent");
        assert!(matches!(
            create(&mirror, &name, 4, 2000),
            Err(SnapshotError::Conflict { .. })
        ));
        let snap = std::fs::read(snapshot_path(&mirror, &name)).unwrap();
        assert_eq!(snap, std::fs::read(&mirror).unwrap());
        assert_eq!(list(&mirror).unwrap(), vec![meta]);
        delete(&mirror, &name).unwrap();
        delete(&mirror, &name).unwrap();
        assert!(list(&mirror).unwrap().is_empty());
        assert!(!snapshot_path(&mirror, &name).exists());
    }
}
