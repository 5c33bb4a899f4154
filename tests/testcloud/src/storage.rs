//! Volume data as real files: sparse files named `volume-<id>`, snapshots as
//! point-in-time copies (`cp --reflink=auto --sparse=always`: a reflink where the
//! filesystem supports it, a sparse copy otherwise). Blocking; the engine calls these
//! from `spawn_blocking`.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const GIB: u64 = 1024 * 1024 * 1024;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("copy {from} -> {to} failed: {message}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        message: String,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn ensure_parent(path: &Path) -> Result<(), StorageError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    }
    Ok(())
}

/// A new sparse file of `size_gb` GiB with `content` at offset 0.
pub fn create_sparse(
    path: &Path,
    size_gb: u64,
    content: Option<&[u8]>,
) -> Result<(), StorageError> {
    ensure_parent(path)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io("create", path))?;
    f.set_len(size_gb * GIB).map_err(io("truncate", path))?;
    if let Some(c) = content {
        f.seek(SeekFrom::Start(0)).map_err(io("seek", path))?;
        f.write_all(c).map_err(io("write", path))?;
    }
    Ok(())
}

/// A point-in-time copy of `from` at `to`, then grown to `size_gb` if that is larger.
pub fn copy_point_in_time(
    from: &Path,
    to: &Path,
    size_gb: Option<u64>,
) -> Result<(), StorageError> {
    ensure_parent(to)?;
    let out = Command::new("cp")
        .arg("--reflink=auto")
        .arg("--sparse=always")
        .arg("--")
        .arg(from)
        .arg(to)
        .output()
        .map_err(io("run cp for", from))?;
    if !out.status.success() {
        return Err(StorageError::Copy {
            from: from.to_owned(),
            to: to.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    if let Some(gb) = size_gb {
        let f = OpenOptions::new()
            .write(true)
            .open(to)
            .map_err(io("open", to))?;
        let len = f.metadata().map_err(io("stat", to))?.len();
        if gb * GIB > len {
            f.set_len(gb * GIB).map_err(io("truncate", to))?;
        }
    }
    Ok(())
}

/// Grows a file to `size_gb` GiB (sparse).
pub fn extend(path: &Path, size_gb: u64) -> Result<(), StorageError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    f.set_len(size_gb * GIB).map_err(io("truncate", path))
}

/// Removes a file; a file already gone is fine.
pub fn remove(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Renames an existing file (manage-existing).
pub fn adopt(from: &Path, to: &Path) -> Result<(), StorageError> {
    fs::rename(from, to).map_err(io("rename", from))
}

/// Size in bytes of a regular file.
pub fn file_size(path: &Path) -> Result<u64, StorageError> {
    let m = fs::metadata(path).map_err(io("stat", path))?;
    if !m.is_file() {
        return Err(io("stat", path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    Ok(m.len())
}

/// Regular files in a pool directory: (name, size in bytes).
pub fn list_files(dir: &Path) -> Result<Vec<(String, u64)>, StorageError> {
    let mut out = vec![];
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io("list", dir)(e)),
    };
    for e in entries {
        let e = e.map_err(io("list", dir))?;
        let m = e.metadata().map_err(io("stat", &e.path()))?;
        if m.is_file() {
            out.push((e.file_name().to_string_lossy().into_owned(), m.len()));
        }
    }
    out.sort();
    Ok(out)
}

/// Size in GiB, rounded up (how Cinder reports a managed file).
pub fn gib_ceil(bytes: u64) -> u64 {
    bytes.div_ceil(GIB).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn sparse_create_snapshot_is_point_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let vol = dir.path().join("pool/volume-1");
        create_sparse(&vol, 2, Some(b"hello")).unwrap();
        let meta = fs::metadata(&vol).unwrap();
        assert_eq!(meta.len(), 2 * GIB);
        assert!(meta.blocks() * 512 < GIB, "file must be sparse");
        let snap = dir.path().join("pool/snapshot-1");
        copy_point_in_time(&vol, &snap, None).unwrap();
        // Writing to the volume after the snapshot leaves the snapshot unchanged.
        let mut f = OpenOptions::new().write(true).open(&vol).unwrap();
        f.write_all(b"HELLO").unwrap();
        let mut buf = [0u8; 5];
        fs::File::open(&snap).unwrap().read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert!(fs::metadata(&snap).unwrap().blocks() * 512 < GIB);
        extend(&vol, 3).unwrap();
        assert_eq!(file_size(&vol).unwrap(), 3 * GIB);
        assert_eq!(list_files(&dir.path().join("pool")).unwrap().len(), 2);
        assert!(create_sparse(&vol, 1, None).is_err(), "never overwrite");
        remove(&vol).unwrap();
        remove(&vol).unwrap();
        assert_eq!(gib_ceil(1), 1);
        assert_eq!(gib_ceil(GIB + 1), 2);
    }
}
