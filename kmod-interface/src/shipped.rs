//! The checksum table of an initial copy, built from the bytes as they are shipped: the
//! scan tracker's alternative to scanning the whole volume before copying it (one read
//! of the volume instead of two, each block hashed once for the table).
//!
//! Progress file `K.scan.shipping`: `HFSHIP01`, block size, volume size, the count of
//! leading blocks whose hashes are durable, then one 32-byte hash per block at a fixed
//! place. [`ShippedTable::persist`] makes the hashes durable before the count that
//! covers them, and the source calls it before it asks the target for durability past
//! them, so after a crash the count covers at least the target's durable position and
//! the copy resumes without a full resync. [`ShippedTable::finish`] writes the complete
//! table as `K.scan.pending` (the scan's checksummed format), which becomes the
//! baseline on the tracker's commit, when the epoch is committed.

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::durable::write_atomic;
use crate::scan::{Hash, Table};
use crate::tracker::TrackerError;

const MAGIC: &[u8; 8] = b"HFSHIP01";
/// Magic, block size, volume size, durable block count.
const HEADER: u64 = 8 + 4 + 8 + 8;
const COUNT_AT: u64 = 8 + 4 + 8;

/// The table of an initial copy in progress (see the module docs).
#[derive(Debug)]
pub struct ShippedTable {
    path: PathBuf,
    pending_path: PathBuf,
    file: File,
    table: Table,
    /// Blocks below this have durable hashes in the progress file.
    durable_blocks: u64,
    /// Blocks below this have a hash that describes shipped bytes.
    known_blocks: u64,
    /// Block ranges recorded since the last persist.
    dirty: Vec<Range<u64>>,
}

impl ShippedTable {
    /// Starts a fresh table for a volume of `volume_size` bytes (no block known yet).
    pub(crate) fn create(
        path: &Path,
        pending_path: &Path,
        block_size: u32,
        volume_size: u64,
    ) -> Result<ShippedTable, TrackerError> {
        let state_err = |source| TrackerError::State {
            path: path.to_owned(),
            source,
        };
        let nblocks = volume_size.div_ceil(u64::from(block_size));
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&block_size.to_le_bytes());
        header.extend_from_slice(&volume_size.to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes());
        write_atomic(path, &header).map_err(state_err)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(state_err)?;
        Ok(ShippedTable {
            path: path.to_owned(),
            pending_path: pending_path.to_owned(),
            file,
            table: Table {
                block_size,
                volume_size,
                hashes: vec![[0; 32]; nblocks as usize],
            },
            durable_blocks: 0,
            known_blocks: 0,
            dirty: Vec::new(),
        })
    }

    /// Reopens the table of an interrupted initial copy: the hashes made durable by the
    /// last [`persist`](ShippedTable::persist) are known again.
    pub(crate) fn open(
        path: &Path,
        pending_path: &Path,
        block_size: u32,
    ) -> Result<ShippedTable, TrackerError> {
        let corrupt = |reason: String| TrackerError::CorruptState {
            path: path.to_owned(),
            reason,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| TrackerError::State {
                path: path.to_owned(),
                source,
            })?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact_at(&mut header, 0)
            .map_err(|e| corrupt(format!("header unreadable: {e}")))?;
        if &header[..8] != MAGIC {
            return Err(corrupt("bad magic".into()));
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&header[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let found_bs = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if found_bs != block_size {
            return Err(corrupt(format!(
                "it was built with block size {found_bs}, the tracker uses {block_size}"
            )));
        }
        let volume_size = u64_at(12);
        let durable_blocks = u64_at(COUNT_AT as usize);
        let nblocks = volume_size.div_ceil(u64::from(block_size));
        if durable_blocks > nblocks {
            return Err(corrupt(format!(
                "{durable_blocks} durable blocks in a volume of {nblocks}"
            )));
        }
        let mut hashes = vec![[0u8; 32]; nblocks as usize];
        file.read_exact_at(hashes[..durable_blocks as usize].as_flattened_mut(), HEADER)
            .map_err(|e| corrupt(format!("hashes unreadable: {e}")))?;
        Ok(ShippedTable {
            path: path.to_owned(),
            pending_path: pending_path.to_owned(),
            file,
            table: Table {
                block_size,
                volume_size,
                hashes,
            },
            durable_blocks,
            known_blocks: durable_blocks,
            dirty: Vec::new(),
        })
    }

    pub fn volume_size(&self) -> u64 {
        self.table.volume_size
    }

    /// Bytes from the start of the volume whose hashes are durable: a copy may resume
    /// at any offset up to this.
    pub fn durable_bytes(&self) -> u64 {
        (self.durable_blocks * u64::from(self.table.block_size)).min(self.table.volume_size)
    }

    fn mark(&mut self, blocks: Range<u64>) {
        if blocks.start <= self.known_blocks {
            self.known_blocks = self.known_blocks.max(blocks.end);
        }
        match self.dirty.last_mut() {
            Some(last) if last.end == blocks.start => last.end = blocks.end,
            _ => self.dirty.push(blocks),
        }
    }

    fn block_range(&self, offset: u64, len: u64) -> Result<Range<u64>, TrackerError> {
        let bs = u64::from(self.table.block_size);
        let end = offset.saturating_add(len);
        let aligned_end = end.is_multiple_of(bs) || end == self.table.volume_size;
        if !offset.is_multiple_of(bs) || !aligned_end || end > self.table.volume_size {
            return Err(TrackerError::CorruptState {
                path: self.path.clone(),
                reason: format!(
                    "shipped range {offset}+{len} is not whole blocks of {bs} within {} bytes",
                    self.table.volume_size
                ),
            });
        }
        Ok(offset / bs..end.div_ceil(bs))
    }

    /// Records the hashes of `data`, the bytes shipped for the volume at `offset` (a
    /// block boundary; `data` is whole blocks or ends at the end of the volume).
    pub fn record(&mut self, offset: u64, data: &[u8]) -> Result<(), TrackerError> {
        let blocks = self.block_range(offset, data.len() as u64)?;
        let bs = self.table.block_size as usize;
        for (h, chunk) in self.table.hashes[blocks.start as usize..blocks.end as usize]
            .iter_mut()
            .zip(data.chunks(bs))
        {
            *h = *blake3::hash(chunk).as_bytes();
        }
        self.mark(blocks);
        Ok(())
    }

    /// Records `len` zero bytes at `offset` (not shipped: an initial copy's target
    /// starts from zeroes).
    pub fn record_zero(&mut self, offset: u64, len: u64) -> Result<(), TrackerError> {
        let blocks = self.block_range(offset, len)?;
        let bs = u64::from(self.table.block_size);
        let full = zero_hash(bs as usize);
        for i in blocks.clone() {
            let block_len = ((i + 1) * bs).min(self.table.volume_size) - i * bs;
            self.table.hashes[i as usize] = if block_len == bs {
                full
            } else {
                zero_hash(block_len as usize)
            };
        }
        self.mark(blocks);
        Ok(())
    }

    /// Makes the hashes recorded so far durable, and declares every block below the
    /// byte offset `below` known (all of them must have been recorded or loaded).
    pub fn persist(&mut self, below: u64) -> Result<(), TrackerError> {
        let state_err = |source| TrackerError::State {
            path: self.path.clone(),
            source,
        };
        let below_blocks = below.div_ceil(u64::from(self.table.block_size));
        if below_blocks > self.known_blocks {
            return Err(TrackerError::CorruptState {
                path: self.path.clone(),
                reason: format!(
                    "asked to make {below_blocks} blocks durable, only {} were shipped",
                    self.known_blocks
                ),
            });
        }
        for r in std::mem::take(&mut self.dirty) {
            let bytes = self.table.hashes[r.start as usize..r.end as usize].as_flattened();
            self.file
                .write_all_at(bytes, HEADER + r.start * 32)
                .map_err(state_err)?;
        }
        self.file.sync_data().map_err(state_err)?;
        if below_blocks > self.durable_blocks {
            self.file
                .write_all_at(&below_blocks.to_le_bytes(), COUNT_AT)
                .map_err(state_err)?;
            self.file.sync_data().map_err(state_err)?;
            self.durable_blocks = below_blocks;
        }
        Ok(())
    }

    /// Writes the complete table as the tracker's pending table (the baseline once the
    /// tracker commits). Fails unless every block was shipped or recorded as zero.
    pub fn finish(&mut self) -> Result<(), TrackerError> {
        let nblocks = self.table.hashes.len() as u64;
        if self.known_blocks < nblocks {
            return Err(TrackerError::CorruptState {
                path: self.path.clone(),
                reason: format!(
                    "the initial copy recorded {} of {nblocks} blocks",
                    self.known_blocks
                ),
            });
        }
        self.persist(self.table.volume_size)?;
        write_atomic(&self.pending_path, &self.table.encode()).map_err(|source| {
            TrackerError::State {
                path: self.pending_path.clone(),
                source,
            }
        })
    }
}

/// The hash of `len` zero bytes.
pub(crate) fn zero_hash(len: usize) -> Hash {
    *blake3::hash(&vec![0u8; len]).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanTracker;
    use crate::tracker::ChangeTracker;
    use crate::whole;
    use rand::{Rng, SeedableRng};

    const BS: u32 = 4096;

    /// A volume of random data with a zero hole in the middle and a partial last block.
    fn volume(dir: &Path) -> (PathBuf, Vec<u8>) {
        let size = 5 * (64 << 10) + 4096 * 3 + 100;
        let mut data = vec![0u8; size];
        rand::rngs::SmallRng::seed_from_u64(5).fill(&mut data[..]);
        data[64 << 10..3 * (64 << 10)].fill(0);
        let path = dir.join("vol.img");
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }

    /// Records `extents` as the source ships them: zero extents as zeroes.
    fn ship(t: &mut ShippedTable, data: &[u8], extents: &[crate::Extent]) {
        for e in extents {
            let bytes = &data[e.offset as usize..e.end() as usize];
            if bytes.iter().all(|&b| b == 0) {
                t.record_zero(e.offset, e.len).unwrap();
            } else {
                t.record(e.offset, bytes).unwrap();
            }
        }
    }

    fn pending(dir: &Path) -> Table {
        Table::decode(&std::fs::read(dir.join("k.scan.pending")).unwrap()).unwrap()
    }

    #[test]
    fn a_table_built_while_shipping_equals_the_scan_of_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, data) = volume(dir.path());
        let mut tracker = ScanTracker::new(&path, dir.path(), "k", BS).unwrap();
        let size = tracker.start_unscanned_initial_copy().unwrap().unwrap();
        assert_eq!(size, data.len() as u64);
        let mut t = tracker.shipped_table().unwrap().unwrap();
        let extents = whole(size, BS, 64 << 10);
        ship(&mut t, &data, &extents);
        t.finish().unwrap();
        let scanned = ScanTracker::new(&path, &dir.path().join("other"), "k", BS)
            .unwrap()
            .scan()
            .unwrap();
        assert_eq!(pending(dir.path()), scanned);

        // Once committed it is the baseline: nothing changed, then exactly one block.
        tracker.commit().unwrap();
        assert!(tracker.shipped_table().is_none());
        assert!(tracker.start_unscanned_initial_copy().is_none());
        let c = tracker.changes().unwrap();
        assert!(!c.initial && c.blocks.is_empty(), "{c:?}");
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[1; 10], 2 * u64::from(BS) + 7).unwrap();
        assert_eq!(tracker.changes().unwrap().blocks, vec![2]);
    }

    #[test]
    fn a_reopened_table_keeps_what_was_made_durable_and_resumes_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let (path, data) = volume(dir.path());
        let mut tracker = ScanTracker::new(&path, dir.path(), "k", BS).unwrap();
        let size = tracker.start_unscanned_initial_copy().unwrap().unwrap();
        let extents = whole(size, BS, 64 << 10);
        let mut t = tracker.shipped_table().unwrap().unwrap();
        ship(&mut t, &data, &extents[..3]);
        t.persist(extents[2].end()).unwrap();
        // Shipped but not made durable before the "crash": not trusted after it.
        ship(&mut t, &data, &extents[3..5]);
        drop(t);

        let mut t = tracker.shipped_table().unwrap().unwrap();
        assert_eq!(t.durable_bytes(), extents[2].end());
        assert!(t.finish().is_err(), "an incomplete table was finished");
        // Resumed at the third extent (the target held less than the table covers).
        ship(&mut t, &data, &extents[2..]);
        t.finish().unwrap();
        let scanned = ScanTracker::new(&path, &dir.path().join("other"), "k", BS)
            .unwrap()
            .scan()
            .unwrap();
        assert_eq!(pending(dir.path()), scanned);
    }

    #[test]
    fn gaps_and_misaligned_ranges_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, data) = volume(dir.path());
        let mut tracker = ScanTracker::new(&path, dir.path(), "k", BS).unwrap();
        let size = tracker.start_unscanned_initial_copy().unwrap().unwrap();
        let extents = whole(size, BS, 64 << 10);
        let mut t = tracker.shipped_table().unwrap().unwrap();
        ship(&mut t, &data, &extents[1..]);
        // The first extent was never recorded: nothing may be declared durable.
        assert!(t.persist(extents[1].end()).is_err());
        assert!(t.finish().is_err());
        assert!(t.record(1, &data[1..4097]).is_err());
        assert!(t.record_zero(0, 100).is_err());
        assert!(t.record(size - 100, &[0; 200]).is_err());
        // The tail is a partial block and may be recorded as such.
        t.record(size - 100, &data[size as usize - 100..]).unwrap();
    }
}
