//! The target end: accepts authenticated data-plane sessions for the volumes this node
//! is the target of, verifies every extent and writes it into the mirror, persists its
//! position at every sync, and creates or deletes snapshots between epochs.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{Instrument, debug, info, info_span, warn};

use super::cursor::{BeginAction, TargetCursor};
use crate::dataplane::frame::{Encoding, MAX_PAYLOAD, Msg};
use crate::dataplane::session::{self, DataPlaneError, Expected, Session};
use crate::dataplane::tls::{DataPlaneTls, TlsError, TlsHandle};
use crate::durable;
use crate::rbd::sink::RbdSink;
use crate::snapshots::{self, SnapshotName};

/// A peer silent for this long is considered gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// One volume this node receives.
#[derive(Debug)]
pub struct TargetVolume {
    pub volume_id: String,
    pub mirror: PathBuf,
    pub expected: Expected,
    /// The mirror is this RBD image (`mirror` only names it in messages).
    pub rbd: Option<crate::rbd::Image>,
    cursor_path: PathBuf,
    /// Held by a session, a snapshot or an export: one at a time per volume.
    pub lock: tokio::sync::Mutex<()>,
    stats: Mutex<TargetStats>,
}

/// Counters of a target volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetStats {
    pub bytes_received: u64,
    pub extents_written: u64,
    pub checksum_failures: u64,
    pub sessions: u64,
}

#[derive(Serialize, Deserialize)]
struct CursorFile {
    epoch: u64,
    next_seq: u64,
    complete: bool,
}

impl TargetVolume {
    pub fn new(
        volume_id: &str,
        mirror: PathBuf,
        expected: Expected,
        state_dir: &Path,
    ) -> TargetVolume {
        TargetVolume {
            volume_id: volume_id.to_owned(),
            mirror,
            expected,
            rbd: None,
            cursor_path: state_dir
                .join("target")
                .join(format!("{}.cursor.json", durable::file_key(volume_id))),
            lock: tokio::sync::Mutex::new(()),
            stats: Mutex::new(TargetStats::default()),
        }
    }

    /// Makes the mirror an RBD image.
    pub fn with_rbd(mut self, image: crate::rbd::Image) -> TargetVolume {
        self.rbd = Some(image);
        self
    }

    /// The durable position (all zero when nothing was received yet).
    pub fn cursor(&self) -> std::io::Result<TargetCursor> {
        Ok(durable::read_json::<CursorFile>(&self.cursor_path)?
            .map(|c| TargetCursor {
                epoch: c.epoch,
                next_seq: c.next_seq,
                complete: c.complete,
            })
            .unwrap_or_default())
    }

    fn save_cursor(&self, c: TargetCursor) -> std::io::Result<()> {
        durable::write_json(
            &self.cursor_path,
            &CursorFile {
                epoch: c.epoch,
                next_seq: c.next_seq,
                complete: c.complete,
            },
        )
    }

    pub fn stats(&self) -> TargetStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut TargetStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Forgets the position and removes the mirror and its snapshots.
    pub async fn remove_copy(&self) -> Result<(), TargetError> {
        match &self.rbd {
            Some(image) => image.remove().await?,
            None => snapshots::remove_all(&self.mirror)
                .map_err(|e| TargetError::Protocol(e.to_string()))?,
        }
        durable::remove(&self.cursor_path).map_err(|source| TargetError::Storage {
            path: self.cursor_path.clone(),
            source,
        })
    }
}

/// The volumes this node is the target of, by volume id.
#[derive(Debug, Clone, Default)]
pub struct TargetRegistry(Arc<Mutex<HashMap<String, Arc<TargetVolume>>>>);

impl TargetRegistry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<TargetVolume>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, v: TargetVolume) -> Arc<TargetVolume> {
        let v = Arc::new(v);
        self.map().insert(v.volume_id.clone(), v.clone());
        v
    }

    pub fn get(&self, volume_id: &str) -> Option<Arc<TargetVolume>> {
        self.map().get(volume_id).cloned()
    }

    pub fn remove(&self, volume_id: &str) -> Option<Arc<TargetVolume>> {
        self.map().remove(volume_id)
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn all(&self) -> Vec<Arc<TargetVolume>> {
        self.map().values().cloned().collect()
    }
}

/// Accepts plain data-plane connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    registry: TargetRegistry,
    my_node: String,
    shutdown: watch::Receiver<bool>,
) {
    serve_with_tls(listener, registry, my_node, None, shutdown).await
}

/// Accepts data-plane connections until `shutdown` turns true: with `tls`, only
/// mutual-TLS connections whose client certificate the CA issued, each with the
/// material current when it is accepted.
pub async fn serve_with_tls(
    listener: TcpListener,
    registry: TargetRegistry,
    my_node: String,
    tls: Option<TlsHandle>,
    shutdown: watch::Receiver<bool>,
) {
    let stopped = shutdown_signalled(shutdown);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let registry = registry.clone();
                    let node = my_node.clone();
                    let tls = tls.as_ref().map(TlsHandle::current);
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, tls.as_deref(), &registry, &node).await {
                            warn!(%peer, error = %e, "data-plane session ended with an error");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "data-plane accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut stopped => return,
        }
    }
}

/// Resolves once `rx` turns true (or its sender is gone).
pub async fn shutdown_signalled(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
    #[error("TLS with a source: {0}")]
    Tls(#[from] TlsError),
    #[error("target storage {path}: {source}")]
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Protocol(String),
    #[error(transparent)]
    Rbd(#[from] crate::rbd::RbdError),
}

async fn handle(
    stream: TcpStream,
    tls: Option<&DataPlaneTls>,
    registry: &TargetRegistry,
    my_node: &str,
) -> Result<(), TargetError> {
    stream
        .set_nodelay(true)
        .map_err(|e| TargetError::DataPlane(e.into()))?;
    let lookup = |v: &str| registry.get(v).map(|t| t.expected.clone());
    let accepted = match tls {
        Some(tls) => {
            let (stream, peer) = tls.accept(stream).await?;
            session::accept(stream, my_node, Some(&peer), lookup).await
        }
        None => session::accept(stream, my_node, None, lookup).await,
    };
    let (session, hello) = accepted.map_err(|e| match e {
        DataPlaneError::Tls(t) => TargetError::Tls(t),
        other => other.into(),
    })?;
    let vol = registry
        .get(&hello.volume)
        .ok_or_else(|| TargetError::Protocol("volume was removed during the handshake".into()))?;
    let span =
        info_span!("target_session", volume_id = %vol.volume_id, source = %hello.source_node);
    async move {
        let _guard = vol.lock.lock().await;
        vol.count(|s| s.sessions += 1);
        receive(session, vol.clone()).await
    }
    .instrument(span)
    .await
}

fn serr(vol: &TargetVolume) -> impl FnOnce(std::io::Error) -> TargetError + 'static {
    let path = vol.mirror.clone();
    move |source| TargetError::Storage { path, source }
}

struct Receiver<'a> {
    vol: &'a TargetVolume,
    file: Option<File>,
    /// The writer of an RBD mirror (instead of `file`).
    sink: Option<RbdSink>,
    cursor: TargetCursor,
    volume_size: u64,
    /// Extents below this were received (or skipped by the source).
    received_upto: u64,
    /// Extents that failed verification and wait for a resend.
    holes: BTreeSet<u64>,
}

impl Receiver<'_> {
    fn storage_err(&self) -> impl FnOnce(std::io::Error) -> TargetError + 'static {
        serr(self.vol)
    }

    fn open(&mut self) -> Result<&File, TargetError> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.vol.mirror)
                .map_err(self.storage_err())?;
            self.file = Some(f);
        }
        self.file
            .as_ref()
            .ok_or_else(|| TargetError::Protocol("mirror not open".into()))
    }

    async fn begin(
        &mut self,
        epoch: u64,
        volume_size: u64,
        initial: bool,
    ) -> Result<Msg, TargetError> {
        let (cursor, action) = self
            .cursor
            .begin(epoch, initial)
            .map_err(|e| TargetError::Protocol(e.to_string()))?;
        self.volume_size = volume_size;
        let vol = self.vol;
        if let Some(image) = &vol.rbd {
            let sink = self.sink.get_or_insert_with(|| RbdSink::new(image.clone()));
            match action {
                BeginAction::AlreadyComplete => {}
                BeginAction::Continue => sink.prepare(volume_size, false).await?,
                BeginAction::Start { zero_first } => {
                    sink.prepare(volume_size, zero_first).await?;
                    vol.save_cursor(cursor).map_err(serr(vol))?;
                }
            }
        } else {
            self.begin_file(cursor, action, volume_size)?;
        }
        info!(epoch, ?action, next_seq = cursor.next_seq, "epoch begins");
        self.cursor = cursor;
        self.received_upto = cursor.next_seq;
        self.holes.clear();
        Ok(Msg::Ack {
            epoch: cursor.epoch,
            next_seq: cursor.next_seq,
            complete: cursor.complete,
        })
    }

    fn begin_file(
        &mut self,
        cursor: TargetCursor,
        action: BeginAction,
        volume_size: u64,
    ) -> Result<(), TargetError> {
        let vol = self.vol;
        let f = self.open()?;
        match action {
            BeginAction::AlreadyComplete => {}
            BeginAction::Continue => f.set_len(volume_size).map_err(serr(vol))?,
            BeginAction::Start { zero_first } => {
                if zero_first {
                    f.set_len(0).map_err(serr(vol))?;
                }
                f.set_len(volume_size).map_err(serr(vol))?;
                f.sync_all().map_err(serr(vol))?;
                vol.save_cursor(cursor).map_err(serr(vol))?;
            }
        }
        Ok(())
    }

    fn in_epoch(&self) -> Result<(), TargetError> {
        let opened = self.file.is_some() || self.sink.is_some();
        if self.cursor.epoch == 0 || self.cursor.complete || !opened {
            return Err(TargetError::Protocol(
                "data outside of an open epoch".into(),
            ));
        }
        Ok(())
    }

    /// Whether this sequence number should be applied (not a duplicate).
    fn wanted(&mut self, seq: u64) -> bool {
        if self.holes.contains(&seq) {
            return true;
        }
        if seq >= self.received_upto {
            self.received_upto = seq + 1;
            return true;
        }
        false
    }

    fn check_bounds(&self, offset: u64, len: u64) -> Result<(), TargetError> {
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.volume_size)
        {
            return Err(TargetError::Protocol(format!(
                "extent {offset}+{len} is past the end of the volume ({})",
                self.volume_size
            )));
        }
        Ok(())
    }

    async fn block(
        &mut self,
        seq: u64,
        offset: u64,
        len: u32,
        checksum: [u8; 32],
        encoding: Encoding,
        payload: Vec<u8>,
    ) -> Result<Option<Msg>, TargetError> {
        self.in_epoch()?;
        self.check_bounds(offset, u64::from(len))?;
        if !self.wanted(seq) {
            return Ok(None);
        }
        let data = match encoding {
            Encoding::Raw => Ok(payload),
            Encoding::Zstd => zstd::bulk::decompress(&payload, (len as usize).min(MAX_PAYLOAD)),
        };
        let verified = match data {
            Ok(d) if d.len() == len as usize && blake3::hash(&d).as_bytes() == &checksum => Some(d),
            _ => None,
        };
        let Some(data) = verified else {
            self.holes.insert(seq);
            self.vol.count(|s| s.checksum_failures += 1);
            warn!(
                seq,
                offset, len, "extent failed verification; asking for a resend"
            );
            return Ok(Some(Msg::Nack {
                seq,
                reason: "checksum mismatch".into(),
            }));
        };
        if let Some(sink) = &mut self.sink {
            sink.write(offset, &data).await?;
        } else {
            let f = self.open()?;
            f.write_all_at(&data, offset).map_err(self.storage_err())?;
        }
        self.holes.remove(&seq);
        self.vol.count(|s| {
            s.bytes_received += u64::from(len);
            s.extents_written += 1;
        });
        Ok(None)
    }

    async fn zero(&mut self, seq: u64, offset: u64, len: u64) -> Result<(), TargetError> {
        self.in_epoch()?;
        self.check_bounds(offset, len)?;
        if !self.wanted(seq) {
            return Ok(());
        }
        if let Some(sink) = &mut self.sink {
            sink.zero(offset, len).await?;
            self.holes.remove(&seq);
            return Ok(());
        }
        let vol = self.vol;
        let f = self.open()?;
        let punched = nix::fcntl::fallocate(
            f.as_fd(),
            nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
                | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
            offset as i64,
            len as i64,
        );
        if punched.is_err() {
            let zeroes = vec![0u8; (1 << 20).min(len as usize)];
            let mut at = offset;
            while at < offset + len {
                let n = zeroes.len().min((offset + len - at) as usize);
                f.write_all_at(&zeroes[..n], at).map_err(serr(vol))?;
                at += n as u64;
            }
        }
        self.holes.remove(&seq);
        Ok(())
    }

    /// Starts making everything below `seq` durable: returns the cursor to persist once
    /// the mirror is flushed, and a handle on the mirror to flush (in the background,
    /// while later extents keep arriving).
    fn start_sync(&mut self, seq: u64) -> Result<(TargetCursor, Flush), TargetError> {
        self.in_epoch()?;
        let durable_below = self.holes.first().copied().unwrap_or(seq).min(seq);
        let vol = self.vol;
        let flush = match (&mut self.sink, &vol.rbd) {
            (Some(sink), Some(image)) => Flush::Rbd(image.clone(), sink.take().map(Box::new)),
            _ => Flush::File(self.open()?.try_clone().map_err(serr(vol))?),
        };
        Ok((self.cursor.synced(durable_below), flush))
    }

    async fn end(&mut self, epoch: u64, count: u64) -> Result<Vec<Msg>, TargetError> {
        if self.cursor.epoch == epoch && self.cursor.complete {
            return Ok(vec![self.complete_ack()]);
        }
        self.in_epoch()?;
        if epoch != self.cursor.epoch {
            return Err(TargetError::Protocol(format!(
                "end of epoch {epoch} during epoch {}",
                self.cursor.epoch
            )));
        }
        if !self.holes.is_empty() {
            return Ok(self
                .holes
                .iter()
                .map(|&seq| Msg::Nack {
                    seq,
                    reason: "still missing".into(),
                })
                .collect());
        }
        if let Some(sink) = &mut self.sink {
            sink.flush().await?;
        } else {
            self.open()?.sync_data().map_err(self.storage_err())?;
        }
        self.cursor = self.cursor.completed(count);
        self.vol
            .save_cursor(self.cursor)
            .map_err(self.storage_err())?;
        info!(epoch, extents = count, "epoch complete and durable");
        Ok(vec![self.complete_ack()])
    }

    fn complete_ack(&self) -> Msg {
        Msg::Ack {
            epoch: self.cursor.epoch,
            next_seq: self.cursor.next_seq,
            complete: true,
        }
    }
}

type PendingSync = tokio::task::JoinHandle<std::io::Result<TargetCursor>>;

/// What a sync point makes durable.
enum Flush {
    File(File),
    /// The RBD stream written since the last sync (none if nothing was).
    Rbd(crate::rbd::Image, Option<Box<crate::rbd::sink::Batch>>),
}

impl Flush {
    /// Flushes in the background, then persists `cursor`.
    fn spawn(self, vol: Arc<TargetVolume>, cursor: TargetCursor) -> PendingSync {
        match self {
            Flush::File(file) => tokio::task::spawn_blocking(move || {
                file.sync_data()?;
                vol.save_cursor(cursor)?;
                Ok(cursor)
            }),
            Flush::Rbd(image, batch) => tokio::spawn(async move {
                if let Some(b) = batch {
                    crate::rbd::sink::finish(&image, *b)
                        .await
                        .map_err(std::io::Error::other)?;
                }
                tokio::task::spawn_blocking(move || vol.save_cursor(cursor).map(|()| cursor))
                    .await
                    .map_err(std::io::Error::other)?
            }),
        }
    }
}

/// Waits for a background flush (if any), records its cursor and acknowledges it.
async fn finish_sync(
    pending: &mut Option<PendingSync>,
    rx: &mut Receiver<'_>,
    writer: &mut crate::dataplane::session::FrameWriter,
) -> Result<(), TargetError> {
    let Some(task) = pending.take() else {
        return Ok(());
    };
    flushed(task.await, rx, writer).await
}

async fn flushed(
    result: Result<std::io::Result<TargetCursor>, tokio::task::JoinError>,
    rx: &mut Receiver<'_>,
    writer: &mut crate::dataplane::session::FrameWriter,
) -> Result<(), TargetError> {
    let cursor = result
        .map_err(|e| TargetError::Protocol(format!("flush task failed: {e}")))?
        .map_err(serr(rx.vol))?;
    rx.cursor = rx.cursor.synced(cursor.next_seq);
    debug!(next_seq = rx.cursor.next_seq, "synced");
    writer
        .send_now(&Msg::Ack {
            epoch: rx.cursor.epoch,
            next_seq: rx.cursor.next_seq,
            complete: false,
        })
        .await?;
    Ok(())
}

async fn receive(session: Session, vol: Arc<TargetVolume>) -> Result<(), TargetError> {
    let cursor = vol.cursor().map_err(|source| TargetError::Storage {
        path: vol.mirror.clone(),
        source,
    })?;
    let Session {
        mut reader,
        mut writer,
    } = session;
    writer
        .send_now(&Msg::Position {
            epoch: cursor.epoch,
            next_seq: cursor.next_seq,
            complete: cursor.complete,
        })
        .await?;
    // Frames are read by their own task, so waiting for a flush never cuts a read short.
    let (tx, mut frames) = tokio::sync::mpsc::channel(64);
    let reading = tokio::spawn(async move {
        loop {
            let r = reader.recv().await;
            let last = !matches!(r, Ok(Some(_)));
            if tx.send(r).await.is_err() || last {
                return;
            }
        }
    });
    let _stop_reading = AbortOnDrop(reading);
    let mut rx = Receiver {
        vol: &vol,
        file: None,
        sink: None,
        cursor,
        volume_size: 0,
        received_upto: cursor.next_seq,
        holes: BTreeSet::new(),
    };
    let mut pending: Option<PendingSync> = None;
    loop {
        let next = tokio::select! {
            m = tokio::time::timeout(IDLE_TIMEOUT, frames.recv()) => m,
            r = async {
                match pending.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            } => {
                pending = None;
                flushed(r, &mut rx, &mut writer).await?;
                continue;
            }
        };
        let msg = match next {
            Err(_) => return Err(TargetError::Protocol("source went silent".into())),
            Ok(None) | Ok(Some(Ok(None))) => {
                finish_sync(&mut pending, &mut rx, &mut writer).await?;
                return Ok(());
            }
            Ok(Some(Ok(Some(m)))) => m,
            Ok(Some(Err(e))) => return Err(e.into()),
        };
        if !matches!(msg, Msg::Block { .. } | Msg::Zero { .. }) {
            // Everything but data waits for the flush in progress: acks stay in order.
            finish_sync(&mut pending, &mut rx, &mut writer).await?;
        }
        let replies: Vec<Msg> = match msg {
            Msg::Begin {
                epoch,
                volume_size,
                initial,
                ..
            } => vec![rx.begin(epoch, volume_size, initial).await?],
            Msg::Block {
                seq,
                offset,
                len,
                checksum,
                encoding,
                payload,
            } => rx
                .block(seq, offset, len, checksum, encoding, payload)
                .await?
                .into_iter()
                .collect(),
            Msg::Zero { seq, offset, len } => {
                rx.zero(seq, offset, len).await?;
                vec![]
            }
            Msg::Sync { seq } => {
                let (cursor, flush) = rx.start_sync(seq)?;
                pending = Some(flush.spawn(vol.clone(), cursor));
                vec![]
            }
            Msg::End { epoch, count } => rx.end(epoch, count).await?,
            Msg::Snapshot { name, epoch } => vec![snapshot(&vol, rx.cursor, &name, epoch).await],
            Msg::DeleteSnapshot { name } => {
                let error = match (SnapshotName::parse(&name), &vol.rbd) {
                    (Ok(n), Some(image)) => crate::rbd::delete_target_snapshot(image, n.as_str())
                        .await
                        .err()
                        .map(|e| e.to_string()),
                    (Ok(n), None) => snapshots::delete(&vol.mirror, &n)
                        .err()
                        .map(|e| e.to_string()),
                    (Err(e), _) => Some(e.to_string()),
                };
                vec![Msg::SnapshotDone {
                    name,
                    epoch: 0,
                    error,
                }]
            }
            other => {
                return Err(TargetError::Protocol(format!(
                    "unexpected message {other:?}"
                )));
            }
        };
        if !replies.is_empty() {
            for r in &replies {
                writer.send(r).await?;
            }
            writer.flush().await?;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn snapshot(vol: &TargetVolume, cursor: TargetCursor, name: &str, epoch: u64) -> Msg {
    let done = |error: Option<String>| Msg::SnapshotDone {
        name: name.to_owned(),
        epoch,
        error,
    };
    let parsed = match SnapshotName::parse(name) {
        Ok(n) => n,
        Err(e) => return done(Some(e.to_string())),
    };
    if cursor.epoch != epoch || !cursor.complete {
        return done(Some(format!(
            "the target holds epoch {} (complete: {}), not epoch {epoch}",
            cursor.epoch, cursor.complete
        )));
    }
    if let Some(image) = &vol.rbd {
        return match crate::rbd::create_target_snapshot(image, parsed.as_str(), epoch).await {
            Ok(()) => {
                info!(snapshot = %name, epoch, image = %image.spec(), "target RBD snapshot created");
                done(None)
            }
            Err(e) => done(Some(e.to_string())),
        };
    }
    let mirror = vol.mirror.clone();
    let now = holdfast_protocol::UnixMillis::now().0;
    match tokio::task::spawn_blocking(move || snapshots::create(&mirror, &parsed, epoch, now)).await
    {
        Ok(Ok(meta)) => {
            info!(snapshot = %meta.name, epoch, method = ?meta.method, "target snapshot created");
            done(None)
        }
        Ok(Err(e)) => done(Some(e.to_string())),
        Err(e) => done(Some(format!("snapshot task failed: {e}"))),
    }
}
