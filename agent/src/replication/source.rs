//! The source end of one volume: plans an epoch from the change tracker, connects to
//! the target's data plane, resumes where the target's durable position says, ships
//! the extents (verified and authenticated frames, bounded re-sends), and commits the
//! epoch once the target reports it complete and durable.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdfast_kmod::{ChangeTracker, ShippedTable, TrackerError};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, instrument, warn};

use super::cursor::{Resume, TargetCursor, resume};
use super::extent_reader::{self, ExtentSource, Item, SyncEvery};
use super::plan::Plan;
use crate::dataplane::frame::Msg;
use crate::dataplane::limiter::TokenBucket;
use crate::dataplane::session::{self, ClientHello, DataPlaneError, FrameWriter, Session};
use crate::dataplane::tls::{TlsError, TlsHandle};
use crate::durable;

/// Largest extent shipped in one frame.
pub const MAX_EXTENT: u64 = 1 << 20;
/// Ask the target to make data durable after this many bytes (by default)...
pub const SYNC_BYTES: u64 = 32 << 20;
/// ...or this many extents (at most 32 MiB re-sent after a crash), whichever comes first.
const SYNC_EXTENTS: u64 = 8192;
/// Syncs that may be unanswered before the sender waits.
const SYNC_WINDOW: u64 = 2;
/// Re-sends of one extent after a checksum mismatch before the cycle fails.
pub const MAX_RESENDS: u32 = 3;

/// One volume replicated from this node.
#[derive(Clone)]
pub struct SourceVolume {
    pub volume_id: String,
    pub source_node: String,
    pub target_node: String,
    pub target_addr: String,
    pub secret: Vec<u8>,
    pub path: PathBuf,
    /// This volume's directory in the agent's state dir.
    pub state_dir: PathBuf,
    pub block_size: u32,
    pub compression: bool,
    pub bandwidth_limit_bps: Option<u64>,
    /// Ask the target for durability after this many bytes (default 32 MiB).
    pub sync_bytes: u64,
    /// The source is this RBD image (`path` only names it in messages): the tracker
    /// reads changes from snapshots and stages them.
    pub rbd: Option<crate::rbd::Image>,
    /// Connect with mutual TLS (the agent's `[data_plane.tls]`, the material current
    /// at each connect); plain TCP when `None`.
    pub tls: Option<TlsHandle>,
}

impl std::fmt::Debug for SourceVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceVolume")
            .field("volume_id", &self.volume_id)
            .field("target", &self.target_addr)
            .field("path", &self.path)
            .field("secret", &"<redacted>")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("cannot reach the target's data plane at {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with the target {node} at {addr}: {source}")]
    Tls {
        node: String,
        addr: String,
        source: TlsError,
    },
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error("source volume {path}: {source}")]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("replication state in {path}: {reason}")]
    State { path: PathBuf, reason: String },
    #[error("extent {seq} failed verification on the target {attempts} times")]
    ChecksumMismatch { seq: u64, attempts: u32 },
    #[error("snapshot {name:?} on the target failed: {reason}")]
    Snapshot { name: String, reason: String },
    #[error("the target broke the protocol: {0}")]
    Protocol(String),
    #[error("cannot start a thread to read the volume: {0}")]
    ReaderThread(std::io::Error),
}

/// What the source persists besides the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub committed_epoch: u64,
    pub bytes_sent_total: u64,
    pub initial_copy_done: bool,
    /// Scan start of the last committed epoch: the target holds the source as of then.
    pub synced_as_of_ms: Option<u64>,
}

/// The outcome of one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    pub epoch: u64,
    pub volume_size: u64,
    pub initial: bool,
    pub extents: u64,
    /// Bytes of changed data the plan covered.
    pub planned_bytes: u64,
    /// Extent index the shipping started at (non-zero after a resume).
    pub resumed_from: u64,
    /// Bytes written to the data plane in this cycle (frames, MACs, handshake).
    pub bytes_sent: u64,
    pub resends: u32,
    pub scan_started_ms: u64,
    pub snapshot: Option<String>,
}

impl SourceVolume {
    fn plan_path(&self) -> PathBuf {
        self.state_dir.join("plan")
    }

    fn staged_path(&self) -> PathBuf {
        self.state_dir.join("staged")
    }

    fn state_path(&self) -> PathBuf {
        self.state_dir.join("source.json")
    }

    pub fn load_state(&self) -> Result<SourceState, ReplicationError> {
        let p = self.state_path();
        durable::read_json(&p)
            .map(Option::unwrap_or_default)
            .map_err(|e| ReplicationError::State {
                path: p,
                reason: e.to_string(),
            })
    }

    fn save_state(&self, s: &SourceState) -> Result<(), ReplicationError> {
        let p = self.state_path();
        durable::write_json(&p, s).map_err(|e| ReplicationError::State {
            path: p,
            reason: e.to_string(),
        })
    }

    fn load_plan(&self) -> Result<Option<Plan>, ReplicationError> {
        let p = self.plan_path();
        match std::fs::read(&p) {
            Ok(bytes) => Plan::decode(&bytes)
                .map(Some)
                .map_err(|reason| ReplicationError::State { path: p, reason }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ReplicationError::State {
                path: p,
                reason: e.to_string(),
            }),
        }
    }

    fn save_plan(&self, plan: &Plan) -> Result<(), ReplicationError> {
        let p = self.plan_path();
        durable::write_atomic(&p, &plan.encode()).map_err(|e| ReplicationError::State {
            path: p,
            reason: e.to_string(),
        })
    }

    fn drop_plan(&self) -> Result<(), ReplicationError> {
        let p = self.plan_path();
        durable::remove(&p).map_err(|e| ReplicationError::State {
            path: p,
            reason: e.to_string(),
        })
    }

    async fn connect(&self) -> Result<Session, ReplicationError> {
        let unreachable = |source| ReplicationError::Unreachable {
            addr: self.target_addr.clone(),
            source,
        };
        let stream = TcpStream::connect(&self.target_addr)
            .await
            .map_err(unreachable)?;
        stream.set_nodelay(true).map_err(unreachable)?;
        let hello = ClientHello {
            volume: self.volume_id.clone(),
            source_node: self.source_node.clone(),
            target_node: self.target_node.clone(),
        };
        let tls_err = |source| ReplicationError::Tls {
            node: self.target_node.clone(),
            addr: self.target_addr.clone(),
            source,
        };
        let session = match &self.tls {
            Some(tls) => {
                let stream = tls
                    .current()
                    .connect(stream, &self.target_node)
                    .await
                    .map_err(tls_err)?;
                session::connect(stream, &hello, &self.secret).await
            }
            None => session::connect(stream, &hello, &self.secret).await,
        };
        session.map_err(|e| match e {
            DataPlaneError::Tls(t) => tls_err(t),
            other => other.into(),
        })
    }
}

/// Runs `f` on the tracker in a blocking thread (scans read the whole volume).
async fn with_tracker<T: Send + 'static>(
    tracker: &mut Option<Box<dyn ChangeTracker>>,
    f: impl FnOnce(&mut dyn ChangeTracker) -> Result<T, TrackerError> + Send + 'static,
) -> Result<T, ReplicationError> {
    let mut t = tracker
        .take()
        .ok_or_else(|| ReplicationError::Protocol("tracker lost after a failed task".into()))?;
    let (t, r) = tokio::task::spawn_blocking(move || {
        let r = f(t.as_mut());
        (t, r)
    })
    .await
    .map_err(|e| ReplicationError::Protocol(format!("tracker task failed: {e}")))?;
    *tracker = Some(t);
    Ok(r?)
}

async fn new_plan(
    vol: &SourceVolume,
    tracker: &mut Option<Box<dyn ChangeTracker>>,
    epoch: u64,
) -> Result<Plan, ReplicationError> {
    let scan_started_ms = holdfast_protocol::UnixMillis::now().0;
    let unscanned = with_tracker(tracker, |t| {
        let bs = t.block_size();
        t.start_unscanned_initial_copy()
            .map(|r| r.map(|size| (size, bs)))
            .transpose()
    })
    .await?;
    let plan = match unscanned {
        // An initial copy without a scan first: every block is shipped (zero extents
        // are skipped as they are read) and the tracker's table is built from them.
        Some((volume_size, bs)) => {
            let max_len = MAX_EXTENT.max(u64::from(bs));
            let plan = Plan {
                epoch,
                volume_size,
                initial: true,
                scan_started_ms,
                staged: false,
                extents: holdfast_kmod::whole(volume_size, bs, max_len),
            };
            info!(
                epoch,
                extents = plan.extents.len(),
                bytes = plan.bytes(),
                "initial copy planned (hashed while shipping)"
            );
            plan
        }
        None => scan_plan(vol, tracker, epoch).await?,
    };
    vol.save_plan(&plan)?;
    Ok(plan)
}

async fn scan_plan(
    vol: &SourceVolume,
    tracker: &mut Option<Box<dyn ChangeTracker>>,
    epoch: u64,
) -> Result<Plan, ReplicationError> {
    let scan_started_ms = holdfast_protocol::UnixMillis::now().0;
    let staging = vol.staged_path();
    let staged = with_tracker(tracker, move |t| t.stage_changes(&staging).transpose()).await?;
    if let Some(s) = staged {
        let plan = Plan {
            epoch,
            volume_size: s.volume_size,
            initial: s.initial,
            scan_started_ms,
            staged: true,
            extents: s.extents,
        };
        info!(
            epoch,
            initial = plan.initial,
            extents = plan.extents.len(),
            bytes = plan.bytes(),
            "epoch planned from staged changes"
        );
        return Ok(plan);
    }
    let changes = with_tracker(tracker, |t| t.changes()).await?;
    let extents = holdfast_kmod::coalesce(
        &changes.blocks,
        changes.block_size,
        changes.volume_size,
        MAX_EXTENT.max(u64::from(changes.block_size)),
    );
    let plan = Plan {
        epoch,
        volume_size: changes.volume_size,
        initial: changes.initial,
        scan_started_ms,
        staged: false,
        extents,
    };
    info!(
        epoch,
        initial = plan.initial,
        extents = plan.extents.len(),
        bytes = plan.bytes(),
        "epoch planned"
    );
    Ok(plan)
}

/// Runs one cycle: plan (or resume the persisted plan), ship, commit; then, if asked,
/// has the target snapshot the epoch just completed.
pub async fn run_cycle(
    vol: &SourceVolume,
    tracker: &mut Option<Box<dyn ChangeTracker>>,
    snapshot: Option<&str>,
) -> Result<CycleReport, ReplicationError> {
    std::fs::create_dir_all(&vol.state_dir).map_err(|e| ReplicationError::State {
        path: vol.state_dir.clone(),
        reason: e.to_string(),
    })?;
    let mut state = vol.load_state()?;
    let mut plan = match vol.load_plan()? {
        Some(p) if p.epoch > state.committed_epoch => p,
        _ => new_plan(vol, tracker, state.committed_epoch + 1).await?,
    };
    let mut session = vol.connect().await?;
    let target = match session.reader.expect().await? {
        Msg::Position {
            epoch,
            next_seq,
            complete,
        } => TargetCursor {
            epoch,
            next_seq,
            complete,
        },
        other => {
            return Err(ReplicationError::Protocol(format!(
                "expected the target's position, got {other:?}"
            )));
        }
    };
    let mut decision = resume(plan.epoch, plan.initial, target);
    if decision == Resume::NeedsInitialCopy {
        warn!(
            plan_epoch = plan.epoch,
            target_epoch = target.epoch,
            "the target's copy does not match; copying everything again"
        );
        with_tracker(tracker, |t| t.reset()).await?;
        vol.drop_plan()?;
        plan = new_plan(vol, tracker, plan.epoch.max(target.epoch + 1)).await?;
        decision = resume(plan.epoch, plan.initial, target);
    }
    let table = match shipped_table(tracker, &plan, decision).await? {
        Ok(table) => table,
        Err(reason) => {
            warn!(
                plan_epoch = plan.epoch,
                target_epoch = target.epoch,
                %reason,
                "the initial copy's table cannot resume; copying everything again"
            );
            with_tracker(tracker, |t| t.reset()).await?;
            vol.drop_plan()?;
            plan = new_plan(vol, tracker, plan.epoch.max(target.epoch) + 1).await?;
            decision = resume(plan.epoch, plan.initial, target);
            shipped_table(tracker, &plan, decision)
                .await?
                .map_err(|reason| ReplicationError::State {
                    path: vol.state_dir.clone(),
                    reason,
                })?
        }
    };
    let (reader, mut writer) = (session.reader, session.writer);
    let (tx, mut rx) = mpsc::channel::<Result<Msg, DataPlaneError>>(1024);
    let mut reader = reader;
    let reader_task = tokio::spawn(async move {
        loop {
            let m = match reader.recv().await {
                Ok(Some(m)) => Ok(m),
                Ok(None) => Err(DataPlaneError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                Err(e) => Err(e),
            };
            let stop = m.is_err();
            if tx.send(m).await.is_err() || stop {
                return;
            }
        }
    });
    let result = async {
        let (resumed_from, resends) = match decision {
            Resume::From(from) => {
                let r = ship(vol, &plan, from, table, &mut writer, &mut rx).await?;
                (from, r)
            }
            Resume::AlreadyComplete => (plan.extents.len() as u64, 0),
            Resume::NeedsInitialCopy => {
                return Err(ReplicationError::Protocol(
                    "target refused an initial copy".into(),
                ));
            }
        };
        match with_tracker(tracker, |t| t.commit()).await {
            Ok(()) | Err(ReplicationError::Tracker(TrackerError::NothingPending)) => {}
            Err(e) => return Err(e),
        }
        state.committed_epoch = plan.epoch;
        state.initial_copy_done = true;
        state.synced_as_of_ms = Some(plan.scan_started_ms);
        let snapshot_done = match snapshot {
            Some(name) => {
                writer
                    .send_now(&Msg::Snapshot {
                        name: name.to_owned(),
                        epoch: plan.epoch,
                    })
                    .await?;
                loop {
                    match next(&mut rx).await? {
                        Msg::SnapshotDone { name: n, error, .. } if n == name => match error {
                            None => break Some(name.to_owned()),
                            Some(reason) => {
                                break Err(ReplicationError::Snapshot {
                                    name: name.to_owned(),
                                    reason,
                                })?;
                            }
                        },
                        Msg::Ack { .. } => {}
                        other => {
                            return Err(ReplicationError::Protocol(format!(
                                "unexpected {other:?}"
                            )));
                        }
                    }
                }
            }
            None => None,
        };
        Ok((resumed_from, resends, snapshot_done))
    }
    .await;
    reader_task.abort();
    state.bytes_sent_total += writer.bytes_written;
    // Save the counters even when the cycle failed; the epoch only moves on success.
    if result.is_err() {
        let mut persisted = vol.load_state()?;
        persisted.bytes_sent_total = state.bytes_sent_total;
        vol.save_state(&persisted)?;
    }
    let (resumed_from, resends, snapshot) = result?;
    vol.save_state(&state)?;
    vol.drop_plan()?;
    if plan.staged {
        let _ = durable::remove(&vol.staged_path());
    }
    info!(
        epoch = plan.epoch,
        bytes_sent = writer.bytes_written,
        resumed_from,
        "epoch committed"
    );
    Ok(CycleReport {
        epoch: plan.epoch,
        volume_size: plan.volume_size,
        initial: plan.initial,
        extents: plan.extents.len() as u64,
        planned_bytes: plan.bytes(),
        resumed_from,
        bytes_sent: writer.bytes_written,
        resends,
        scan_started_ms: plan.scan_started_ms,
        snapshot,
    })
}

/// The table of an initial copy hashed while shipping, when `plan` is one and is to be
/// shipped; `Err(reason)` when it cannot cover the bytes the target already holds (the
/// copy must start again).
async fn shipped_table(
    tracker: &mut Option<Box<dyn ChangeTracker>>,
    plan: &Plan,
    decision: Resume,
) -> Result<Result<Option<ShippedTable>, String>, ReplicationError> {
    let Resume::From(from) = decision else {
        return Ok(Ok(None));
    };
    if !plan.initial {
        return Ok(Ok(None));
    }
    let table = match with_tracker(tracker, |t| t.shipped_table().transpose()).await {
        Ok(None) => return Ok(Ok(None)),
        Ok(Some(t)) => t,
        Err(ReplicationError::Tracker(e @ TrackerError::CorruptState { .. })) => {
            return Ok(Err(e.to_string()));
        }
        Err(e) => return Err(e),
    };
    let resume_at = plan
        .extents
        .get(from as usize)
        .map_or(plan.volume_size, |e| e.offset);
    Ok(if table.volume_size() != plan.volume_size {
        Err(format!(
            "it describes {} bytes, the plan {}",
            table.volume_size(),
            plan.volume_size
        ))
    } else if table.durable_bytes() < resume_at {
        Err(format!(
            "it covers {} bytes, the target holds {resume_at}",
            table.durable_bytes()
        ))
    } else {
        Ok(Some(table))
    })
}

async fn next(
    rx: &mut mpsc::Receiver<Result<Msg, DataPlaneError>>,
) -> Result<Msg, ReplicationError> {
    match rx.recv().await {
        Some(Ok(Msg::Refused { reason })) => Err(DataPlaneError::Refused(reason).into()),
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(e.into()),
        None => Err(DataPlaneError::Io(std::io::ErrorKind::UnexpectedEof.into()).into()),
    }
}

struct Shipper<'a> {
    plan: &'a Plan,
    source: Arc<ExtentSource>,
    limiter: Option<TokenBucket>,
    attempts: HashMap<u64, u32>,
    resends: u32,
    syncs_sent: u64,
    syncs_acked: u64,
}

impl Shipper<'_> {
    /// Sends one frame; returns a block's buffer for reuse.
    async fn send(
        &mut self,
        writer: &mut FrameWriter,
        frame: Msg,
    ) -> Result<Option<Vec<u8>>, ReplicationError> {
        if let Some(l) = &mut self.limiter {
            let size = match &frame {
                Msg::Block { payload, .. } => payload.len() as u64,
                _ => 64,
            };
            let wait = l.take(size, Instant::now());
            if !wait.is_zero() {
                writer.flush().await?;
                tokio::time::sleep(wait).await;
            }
        }
        writer.send(&frame).await?;
        Ok(match frame {
            Msg::Block { payload, .. } => Some(payload),
            _ => None,
        })
    }

    async fn handle(
        &mut self,
        msg: Msg,
        writer: &mut FrameWriter,
    ) -> Result<Option<bool>, ReplicationError> {
        match msg {
            Msg::Ack { complete, .. } => {
                if complete {
                    return Ok(Some(true));
                }
                self.syncs_acked += 1;
            }
            Msg::Nack { seq, reason } => {
                if seq >= self.plan.extents.len() as u64 {
                    return Err(ReplicationError::Protocol(format!(
                        "nack for unknown extent {seq}"
                    )));
                }
                let n = self.attempts.entry(seq).or_insert(0);
                *n += 1;
                if *n > MAX_RESENDS {
                    return Err(ReplicationError::ChecksumMismatch { seq, attempts: *n });
                }
                warn!(seq, %reason, attempt = *n, "target rejected an extent; sending it again");
                self.resends += 1;
                let source = self.source.clone();
                let frame = tokio::task::spawn_blocking(move || source.resend_frame(seq))
                    .await
                    .map_err(|e| ReplicationError::Protocol(format!("read task failed: {e}")))??;
                if let Some(frame) = frame {
                    self.send(writer, frame).await?;
                }
                writer.flush().await?;
            }
            other => {
                return Err(ReplicationError::Protocol(format!(
                    "unexpected {other:?} while shipping"
                )));
            }
        }
        Ok(None)
    }
}

/// Ships extents `from..` of `plan`; with `table` (an initial copy hashed while
/// shipping) the table is built from the bytes read and completed before the end.
#[instrument(skip_all, fields(volume_id = %vol.volume_id, epoch = plan.epoch, from))]
async fn ship(
    vol: &SourceVolume,
    plan: &Plan,
    from: u64,
    table: Option<ShippedTable>,
    writer: &mut FrameWriter,
    rx: &mut mpsc::Receiver<Result<Msg, DataPlaneError>>,
) -> Result<u32, ReplicationError> {
    let count = plan.extents.len() as u64;
    writer
        .send_now(&Msg::Begin {
            epoch: plan.epoch,
            count,
            volume_size: plan.volume_size,
            initial: plan.initial,
        })
        .await?;
    match next(rx).await? {
        Msg::Ack { epoch, .. } if epoch == plan.epoch => {}
        other => {
            return Err(ReplicationError::Protocol(format!(
                "expected the ack of begin, got {other:?}"
            )));
        }
    }
    let (path, read_at) = if plan.staged {
        let mut at = 0;
        let offsets = plan
            .extents
            .iter()
            .map(|e| {
                let o = at;
                at += e.len;
                o
            })
            .collect();
        (vol.staged_path(), offsets)
    } else {
        (
            vol.path.clone(),
            plan.extents.iter().map(|e| e.offset).collect(),
        )
    };
    let file = File::open(&path).map_err(|source| ReplicationError::Source {
        path: path.clone(),
        source,
    })?;
    let source = Arc::new(ExtentSource {
        volume_id: vol.volume_id.clone(),
        path,
        file,
        extents: plan.extents.clone(),
        read_at,
        initial: plan.initial,
        compression: vol.compression,
        table: table.map(std::sync::Mutex::new),
    });
    let mut reader = extent_reader::spawn(
        source.clone(),
        from,
        SyncEvery {
            bytes: vol.sync_bytes,
            extents: SYNC_EXTENTS,
        },
    )?;
    let mut s = Shipper {
        plan,
        source,
        limiter: vol
            .bandwidth_limit_bps
            .map(|r| TokenBucket::new(r, Instant::now())),
        attempts: HashMap::new(),
        resends: 0,
        syncs_sent: 0,
        syncs_acked: 0,
    };
    loop {
        while let Ok(m) = rx.try_recv() {
            let m = m.map_err(ReplicationError::from)?;
            s.handle(m, writer).await?;
        }
        let item = reader.items.recv().await.ok_or_else(|| {
            ReplicationError::Protocol("the reader thread stopped without a word".into())
        })??;
        match item {
            Item::Frame { frame, .. } => {
                if let Some(frame) = frame
                    && let Some(spent) = s.send(writer, frame).await?
                {
                    let _ = reader.spent.send(spent);
                }
            }
            Item::Sync { seq } => {
                writer.send_now(&Msg::Sync { seq }).await?;
                s.syncs_sent += 1;
                while s.syncs_sent - s.syncs_acked > SYNC_WINDOW {
                    let m = next(rx).await?;
                    s.handle(m, writer).await?;
                }
                debug!(seq, "sync point");
            }
            Item::Done => break,
        }
    }
    writer
        .send_now(&Msg::End {
            epoch: plan.epoch,
            count,
        })
        .await?;
    let deadline = Duration::from_secs(600);
    loop {
        let m = tokio::time::timeout(deadline, next(rx))
            .await
            .map_err(|_| ReplicationError::Protocol("no completion from the target".into()))??;
        let was_nack = matches!(m, Msg::Nack { .. });
        if s.handle(m, writer).await? == Some(true) {
            return Ok(s.resends);
        }
        if was_nack {
            writer
                .send_now(&Msg::End {
                    epoch: plan.epoch,
                    count,
                })
                .await?;
        }
    }
}

/// Fixes a cut point: plans the next epoch now and copies its changed extents into the
/// staging file, so that the epoch (shipped later by [`run_cycle`], e.g. on a cut
/// commit) holds the volume exactly as it was here, whatever is written meanwhile. An
/// unfinished earlier epoch is completed first. Idempotent: a staged plan is kept.
/// Returns the epoch of the cut.
pub async fn prepare_cut(
    vol: &SourceVolume,
    tracker: &mut Option<Box<dyn ChangeTracker>>,
) -> Result<u64, ReplicationError> {
    std::fs::create_dir_all(&vol.state_dir).map_err(|e| ReplicationError::State {
        path: vol.state_dir.clone(),
        reason: e.to_string(),
    })?;
    let state = vol.load_state()?;
    if let Some(p) = vol.load_plan()?
        && p.epoch > state.committed_epoch
    {
        if p.staged {
            return Ok(p.epoch);
        }
        run_cycle(vol, tracker, None).await?;
    }
    let state = vol.load_state()?;
    let mut plan = scan_plan(vol, tracker, state.committed_epoch + 1).await?;
    if !plan.staged {
        let (src, staged, extents) = (vol.path.clone(), vol.staged_path(), plan.extents.clone());
        tokio::task::spawn_blocking(move || stage(&src, &staged, &extents))
            .await
            .map_err(|e| ReplicationError::Protocol(format!("staging task failed: {e}")))?
            .map_err(|source| ReplicationError::Source {
                path: vol.path.clone(),
                source,
            })?;
        plan.staged = true;
    }
    vol.save_plan(&plan)?;
    info!(
        epoch = plan.epoch,
        bytes = plan.bytes(),
        "cut prepared: changed extents staged"
    );
    Ok(plan.epoch)
}

fn stage(src: &Path, staged: &Path, extents: &[holdfast_kmod::Extent]) -> std::io::Result<()> {
    let input = File::open(src)?;
    let out = File::create(staged)?;
    let mut at = 0u64;
    let mut buf = Vec::new();
    for e in extents {
        buf.resize(e.len as usize, 0);
        input.read_exact_at(&mut buf, e.offset)?;
        out.write_all_at(&buf, at)?;
        at += e.len;
    }
    out.sync_all()
}

/// Forgets the tracker's baseline and any planned epoch: the next cycle copies the
/// whole volume again (the target restarts from zeroes).
pub async fn resync(
    vol: &SourceVolume,
    tracker: &mut Option<Box<dyn ChangeTracker>>,
) -> Result<(), ReplicationError> {
    with_tracker(tracker, |t| t.reset()).await?;
    vol.drop_plan()
}

/// Asks the target to delete a snapshot of this volume.
pub async fn delete_target_snapshot(
    vol: &SourceVolume,
    name: &str,
) -> Result<(), ReplicationError> {
    let mut session = vol.connect().await?;
    match session.reader.expect().await? {
        Msg::Position { .. } => {}
        other => {
            return Err(ReplicationError::Protocol(format!(
                "expected position, got {other:?}"
            )));
        }
    }
    session
        .writer
        .send_now(&Msg::DeleteSnapshot {
            name: name.to_owned(),
        })
        .await?;
    match session.reader.expect().await? {
        Msg::SnapshotDone { error: None, .. } => Ok(()),
        Msg::SnapshotDone {
            error: Some(reason),
            ..
        } => Err(ReplicationError::Snapshot {
            name: name.to_owned(),
            reason,
        }),
        other => Err(ReplicationError::Protocol(format!("unexpected {other:?}"))),
    }
}

/// The tracker for a source volume: RBD snapshot diffs for an RBD image; the kernel
/// module's for a block device when the module is loaded, else the user-space scan.
/// Called within the tokio runtime (the RBD tracker keeps a handle on it).
pub fn make_tracker(
    path: &Path,
    state_dir: &Path,
    block_size: u32,
    rbd: Option<&crate::rbd::Image>,
) -> Result<Box<dyn ChangeTracker>, TrackerError> {
    use std::os::unix::fs::FileTypeExt;
    if let Some(image) = rbd {
        return Ok(Box::new(crate::rbd::tracker::RbdTracker::new(
            image.clone(),
            state_dir,
            block_size,
            MAX_EXTENT,
        )?));
    }
    let is_block = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device());
    if is_block && holdfast_kmod::module_loaded() {
        match holdfast_kmod::KernelDevice::open().and_then(|d| {
            holdfast_kmod::KernelTracker::new(d, path, state_dir, "tracker", block_size)
        }) {
            Ok(t) => return Ok(Box::new(t)),
            Err(e) => warn!(error = %e, "kernel tracker unavailable; using the user-space scan"),
        }
    }
    Ok(Box::new(holdfast_kmod::ScanTracker::new(
        path, state_dir, "tracker", block_size,
    )?))
}
