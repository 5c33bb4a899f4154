//! Reads a plan's extents on a thread of its own, ahead of the sender, so reading and
//! hashing on one core overlap with sending (and the target's writing) on the other.
//! The thread turns extents into frames in order, reusing the sender's spent buffers,
//! records what it reads in the initial copy's [`ShippedTable`] when there is one, and
//! places the sync points: before a sync point it makes the table's hashes of
//! everything before it durable, so the target can never be durably ahead of the
//! source's table.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use holdfast_kmod::{Extent, ShippedTable};
use tokio::sync::mpsc;
use tracing::debug_span;

use super::source::ReplicationError;
use crate::dataplane::frame::{Encoding, Msg};

/// Frames read ahead of the sender (up to 1 MiB each).
const READ_AHEAD: usize = 8;

/// What the reading thread hands to the sender, in order.
#[derive(Debug)]
pub enum Item {
    /// Extent `seq`; `None` for a zero extent of an initial copy (the target starts
    /// from zeroes, nothing is sent).
    Frame { seq: u64, frame: Option<Msg> },
    /// Every extent below `seq` was handed over: ask the target to make it durable.
    Sync { seq: u64 },
    /// Every extent was handed over and the table (if any) is complete.
    Done,
}

/// Where a plan's extents are read, and how they become frames.
#[derive(Debug)]
pub struct ExtentSource {
    pub volume_id: String,
    /// The file read: the volume, or the staging file of a staged plan.
    pub path: PathBuf,
    pub file: File,
    pub extents: Vec<Extent>,
    /// Where each extent's bytes are in `file`.
    pub read_at: Vec<u64>,
    pub initial: bool,
    pub compression: bool,
    /// The initial copy's table, built from the bytes read.
    pub table: Option<Mutex<ShippedTable>>,
}

/// When to place sync points.
#[derive(Debug, Clone, Copy)]
pub struct SyncEvery {
    pub bytes: u64,
    pub extents: u64,
}

impl ExtentSource {
    fn source_err(&self) -> impl FnOnce(std::io::Error) -> ReplicationError + '_ {
        |source| ReplicationError::Source {
            path: self.path.clone(),
            source,
        }
    }

    fn table(&self) -> Option<std::sync::MutexGuard<'_, ShippedTable>> {
        // A poisoned table is still consistent: every method leaves it whole.
        self.table
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads extent `seq` into `buf` (reused) and turns it into a frame, recording the
    /// bytes in the table.
    pub fn frame(&self, seq: u64, mut buf: Vec<u8>) -> Result<Option<Msg>, ReplicationError> {
        let ext = self.extents[seq as usize];
        buf.resize(ext.len as usize, 0);
        self.file
            .read_exact_at(&mut buf, self.read_at[seq as usize])
            .map_err(self.source_err())?;
        if buf.iter().all(|&b| b == 0) {
            if let Some(mut t) = self.table() {
                t.record_zero(ext.offset, ext.len)?;
            }
            return Ok((!self.initial).then_some(Msg::Zero {
                seq,
                offset: ext.offset,
                len: ext.len,
            }));
        }
        if let Some(mut t) = self.table() {
            t.record(ext.offset, &buf)?;
        }
        let checksum = *blake3::hash(&buf).as_bytes();
        let (encoding, payload) = if self.compression {
            match zstd::bulk::compress(&buf, 1) {
                Ok(z) if z.len() < buf.len() => (Encoding::Zstd, z),
                _ => (Encoding::Raw, buf),
            }
        } else {
            (Encoding::Raw, buf)
        };
        Ok(Some(Msg::Block {
            seq,
            offset: ext.offset,
            len: ext.len as u32,
            checksum,
            encoding,
            payload,
        }))
    }

    /// Reads extent `seq` again for a resend; what it records in the table is made
    /// durable at once (the target may make the resent bytes durable at any sync).
    pub fn resend_frame(&self, seq: u64) -> Result<Option<Msg>, ReplicationError> {
        let frame = self.frame(seq, Vec::new())?;
        if let Some(mut t) = self.table() {
            t.persist(0)?;
        }
        Ok(frame)
    }

    fn read_all(
        &self,
        from: u64,
        every: SyncEvery,
        items: &mpsc::Sender<Result<Item, ReplicationError>>,
        spent: &std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<(), ReplicationError> {
        let count = self.extents.len() as u64;
        let (mut bytes, mut extents) = (0u64, 0u64);
        let closed = || ReplicationError::Protocol("the sender stopped".into());
        for seq in from..count {
            let buf = spent.try_recv().unwrap_or_default();
            let frame = self.frame(seq, buf)?;
            items
                .blocking_send(Ok(Item::Frame { seq, frame }))
                .map_err(|_| closed())?;
            bytes += self.extents[seq as usize].len;
            extents += 1;
            if bytes >= every.bytes || extents >= every.extents {
                if let Some(mut t) = self.table() {
                    t.persist(self.extents[seq as usize].end())?;
                }
                items
                    .blocking_send(Ok(Item::Sync { seq: seq + 1 }))
                    .map_err(|_| closed())?;
                (bytes, extents) = (0, 0);
            }
        }
        if let Some(mut t) = self.table() {
            t.finish()?;
        }
        items.blocking_send(Ok(Item::Done)).map_err(|_| closed())
    }
}

/// A running reader: items in order, and where the sender returns spent buffers.
/// Dropping it stops the thread and waits for it (at most one extent read or one
/// table flush), so a later cycle never races a stale reader on the table's file.
#[derive(Debug)]
pub struct Reader {
    pub items: mpsc::Receiver<Result<Item, ReplicationError>>,
    pub spent: std::sync::mpsc::Sender<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.items.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts reading extents `from..` of `source` on a thread of its own; it stops after
/// the last one, at the first error (handed over as the last item), or when the
/// [`Reader`] is dropped.
pub fn spawn(
    source: Arc<ExtentSource>,
    from: u64,
    every: SyncEvery,
) -> Result<Reader, ReplicationError> {
    let (tx, items) = mpsc::channel(READ_AHEAD);
    let (spent, spent_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("hf-extent-reader".into())
        .spawn(move || {
            let _span = debug_span!("read_extents", volume_id = %source.volume_id).entered();
            if let Err(e) = source.read_all(from, every, &tx, &spent_rx) {
                let _ = tx.blocking_send(Err(e));
            }
        })
        .map_err(ReplicationError::ReaderThread)?;
    Ok(Reader {
        items,
        spent,
        thread: Some(thread),
    })
}
