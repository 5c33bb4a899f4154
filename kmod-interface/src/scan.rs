//! The user-space scan tracker: keeps a BLAKE3 checksum per block of the last
//! replicated state in the state directory, and finds changed blocks by reading and
//! hashing the source only (no access to the target is needed).
//!
//! Files, per volume key `K` in the state directory: `K.scan` (the baseline) and
//! `K.scan.pending` (the table of the scan in flight, which becomes the baseline on
//! commit). Both are `HFSCAN01`, block size, volume size, block count, one 32-byte hash
//! per block, and a BLAKE3 of everything before it, so a torn or altered file is
//! detected rather than trusted.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::durable::{remove_durably, write_atomic};
use crate::shipped::{ShippedTable, zero_hash};
use crate::tracker::{ChangeSet, ChangeTracker, TrackerError, TrackerKind, check_block_size};

const MAGIC: &[u8; 8] = b"HFSCAN01";
const HEADER: usize = 8 + 4 + 8 + 8;
pub(crate) type Hash = [u8; 32];

/// A checksum table: one hash per block of a volume of `volume_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) block_size: u32,
    pub(crate) volume_size: u64,
    pub(crate) hashes: Vec<Hash>,
}

impl Table {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.hashes.len() * 32 + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.block_size.to_le_bytes());
        out.extend_from_slice(&self.volume_size.to_le_bytes());
        out.extend_from_slice(&(self.hashes.len() as u64).to_le_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Table, String> {
        if bytes.len() < HEADER + 32 {
            return Err("file too short".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err("checksum mismatch".into());
        }
        if &body[..8] != MAGIC {
            return Err("bad magic".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap_or([0; 8]));
        let block_size = u32_at(8);
        let volume_size = u64_at(12);
        let count = u64_at(20);
        let hashes_bytes = &body[HEADER..];
        if hashes_bytes.len() as u64 != count.saturating_mul(32) {
            return Err("block count does not match the file length".into());
        }
        let hashes = hashes_bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Table {
            block_size,
            volume_size,
            hashes,
        })
    }
}

/// The user-space scan tracker of one volume.
#[derive(Debug)]
pub struct ScanTracker {
    source: PathBuf,
    table_path: PathBuf,
    pending_path: PathBuf,
    /// The table of an initial copy built while shipping (see [`ShippedTable`]).
    shipping_path: PathBuf,
    block_size: u32,
    threads: usize,
}

impl ScanTracker {
    /// A tracker for the volume at `source`, keeping its tables in `state_dir` under
    /// the file-name-safe `key`.
    pub fn new(
        source: impl Into<PathBuf>,
        state_dir: &Path,
        key: &str,
        block_size: u32,
    ) -> Result<ScanTracker, TrackerError> {
        check_block_size(block_size)?;
        std::fs::create_dir_all(state_dir).map_err(|source| TrackerError::State {
            path: state_dir.to_owned(),
            source,
        })?;
        Ok(ScanTracker {
            source: source.into(),
            table_path: state_dir.join(format!("{key}.scan")),
            pending_path: state_dir.join(format!("{key}.scan.pending")),
            shipping_path: state_dir.join(format!("{key}.scan.shipping")),
            block_size,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
        })
    }

    /// Whether a baseline exists (a replication was committed before).
    pub fn has_baseline(&self) -> bool {
        self.table_path.exists()
    }

    fn load(&self, path: &Path) -> Result<Option<Table>, TrackerError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TrackerError::State {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let table = Table::decode(&bytes).map_err(|reason| TrackerError::CorruptState {
            path: path.to_owned(),
            reason,
        })?;
        if table.block_size != self.block_size {
            return Err(TrackerError::CorruptState {
                path: path.to_owned(),
                reason: format!(
                    "it was built with block size {}, the tracker uses {}",
                    table.block_size, self.block_size
                ),
            });
        }
        Ok(Some(table))
    }

    /// The table of the volume as it is now (reads and hashes all of it).
    pub(crate) fn scan(&self) -> Result<Table, TrackerError> {
        let read_err = |source| TrackerError::ReadSource {
            path: self.source.clone(),
            source,
        };
        let mut file = File::open(&self.source).map_err(read_err)?;
        let volume_size = file.seek(SeekFrom::End(0)).map_err(read_err)?;
        let bs = u64::from(self.block_size);
        let nblocks = volume_size.div_ceil(bs);
        let per_thread = nblocks.div_ceil(self.threads as u64).max(1);
        let mut parts: Vec<Result<Vec<Hash>, std::io::Error>> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads as u64)
                .map(|t| {
                    let first = t * per_thread;
                    let last = ((t + 1) * per_thread).min(nblocks);
                    let file = &file;
                    s.spawn(move || hash_range(file, first, last, bs, volume_size))
                })
                .collect();
            for h in handles {
                parts.push(
                    h.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("a scan thread panicked"))),
                );
            }
        });
        let mut hashes = Vec::with_capacity(nblocks as usize);
        for p in parts {
            hashes.extend(p.map_err(read_err)?);
        }
        Ok(Table {
            block_size: self.block_size,
            volume_size,
            hashes,
        })
    }
}

fn hash_range(
    file: &File,
    first: u64,
    last: u64,
    bs: u64,
    size: u64,
) -> std::io::Result<Vec<Hash>> {
    const CHUNK: u64 = 8 << 20;
    let blocks_per_chunk = (CHUNK / bs).max(1);
    let mut out = Vec::with_capacity(last.saturating_sub(first) as usize);
    let mut buf = vec![0u8; (blocks_per_chunk * bs) as usize];
    let mut block = first;
    while block < last {
        let n = blocks_per_chunk.min(last - block);
        let offset = block * bs;
        let len = (n * bs).min(size - offset) as usize;
        file.read_exact_at(&mut buf[..len], offset)?;
        for chunk in buf[..len].chunks(bs as usize) {
            out.push(*blake3::hash(chunk).as_bytes());
        }
        block += n;
    }
    Ok(out)
}

/// Blocks whose hash in `new` differs from `old` (absent or shorter `old` = zeroes).
fn diff(old: Option<&Table>, new: &Table) -> Vec<u64> {
    let bs = u64::from(new.block_size);
    let full_zero = zero_hash(bs as usize);
    let n = new.hashes.len() as u64;
    let tail_len = new.volume_size - n.saturating_sub(1) * bs;
    let tail_zero = zero_hash(tail_len as usize);
    let same_size = old.is_some_and(|o| o.volume_size == new.volume_size);
    new.hashes
        .iter()
        .enumerate()
        .filter(|&(i, h)| {
            let i = i as u64;
            let previous = match old {
                // A block that was the partial tail of an old size is compared only if
                // the size did not change.
                Some(o)
                    if (i as usize) < o.hashes.len()
                        && (same_size || (i + 1) * bs <= o.volume_size) =>
                {
                    Some(&o.hashes[i as usize])
                }
                _ => None,
            };
            match previous {
                Some(p) => p != h,
                None if i + 1 == n => *h != tail_zero,
                None => *h != full_zero,
            }
        })
        .map(|(i, _)| i as u64)
        .collect()
}

impl ChangeTracker for ScanTracker {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Scan
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn changes(&mut self) -> Result<ChangeSet, TrackerError> {
        // A scan supersedes an initial copy's table built while shipping.
        remove_durably(&self.shipping_path).map_err(|source| TrackerError::State {
            path: self.shipping_path.clone(),
            source,
        })?;
        let baseline = self.load(&self.table_path)?;
        let scanned = self.scan()?;
        let blocks = diff(baseline.as_ref(), &scanned);
        write_atomic(&self.pending_path, &scanned.encode()).map_err(|source| {
            TrackerError::State {
                path: self.pending_path.clone(),
                source,
            }
        })?;
        Ok(ChangeSet {
            volume_size: scanned.volume_size,
            block_size: self.block_size,
            blocks,
            initial: baseline.is_none(),
        })
    }

    fn commit(&mut self) -> Result<(), TrackerError> {
        if !self.pending_path.exists() {
            return Err(TrackerError::NothingPending);
        }
        std::fs::rename(&self.pending_path, &self.table_path)
            .and_then(|()| {
                let dir = self.table_path.parent().unwrap_or(Path::new("."));
                File::open(dir)?.sync_all()
            })
            .map_err(|source| TrackerError::State {
                path: self.table_path.clone(),
                source,
            })?;
        remove_durably(&self.shipping_path).map_err(|source| TrackerError::State {
            path: self.shipping_path.clone(),
            source,
        })
    }

    fn reset(&mut self) -> Result<(), TrackerError> {
        for p in [&self.table_path, &self.pending_path, &self.shipping_path] {
            remove_durably(p).map_err(|source| TrackerError::State {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn start_unscanned_initial_copy(&mut self) -> Option<Result<u64, TrackerError>> {
        if self.has_baseline() {
            return None;
        }
        Some((|| {
            let volume_size = File::open(&self.source)
                .and_then(|mut f| f.seek(SeekFrom::End(0)))
                .map_err(|source| TrackerError::ReadSource {
                    path: self.source.clone(),
                    source,
                })?;
            remove_durably(&self.pending_path).map_err(|source| TrackerError::State {
                path: self.pending_path.clone(),
                source,
            })?;
            ShippedTable::create(
                &self.shipping_path,
                &self.pending_path,
                self.block_size,
                volume_size,
            )?;
            Ok(volume_size)
        })())
    }

    fn shipped_table(&mut self) -> Option<Result<ShippedTable, TrackerError>> {
        if !self.shipping_path.exists() {
            return None;
        }
        Some(ShippedTable::open(
            &self.shipping_path,
            &self.pending_path,
            self.block_size,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_round_trips_and_detects_damage() {
        let t = Table {
            block_size: 4096,
            volume_size: 10_000,
            hashes: vec![[1; 32], [2; 32], [3; 32]],
        };
        let mut bytes = t.encode();
        assert_eq!(Table::decode(&bytes).unwrap(), t);
        bytes[HEADER + 5] ^= 1;
        assert!(Table::decode(&bytes).is_err());
        assert!(Table::decode(&bytes[..10]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Table::decode(&bytes);
        }
    }

    #[test]
    fn diff_against_nothing_skips_zero_blocks() {
        let bs = 4;
        let new = Table {
            block_size: bs,
            volume_size: 10,
            hashes: vec![zero_hash(4), [9; 32], zero_hash(2)],
        };
        assert_eq!(diff(None, &new), vec![1]);
        let grown = Table {
            block_size: bs,
            volume_size: 12,
            hashes: vec![zero_hash(4), [9; 32], [7; 32]],
        };
        // The old partial tail is compared as new data once the volume grew.
        assert_eq!(diff(Some(&new), &grown), vec![2]);
    }
}
