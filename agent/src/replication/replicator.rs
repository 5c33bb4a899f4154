//! The long-running task replicating one source volume: delta cycles at an interval,
//! commands (pause, resume, resync, a cycle now with a snapshot, stop), retries with
//! backoff, and progress for status reports.

use std::sync::Arc;
use std::time::Duration;

use holdfast_kmod::ChangeTracker;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, info_span, warn};

use super::source::{self, CycleReport, ReplicationError, SourceVolume};

/// Where a source volume's replication stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Starting,
    InitialCopy,
    Replicating,
    Paused,
    Failed,
    Stopped,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub committed_epoch: u64,
    pub size_bytes: u64,
    pub initial_copy_bytes: u64,
    pub bytes_sent_total: u64,
    pub last_cycle_bytes: u64,
    pub throughput_bps: u64,
    /// The target holds the source as of this time.
    pub synced_as_of_ms: Option<u64>,
    pub last_synced_at_ms: Option<u64>,
    pub last_error: Option<String>,
    pub busy: bool,
}

#[derive(Debug)]
pub enum Command {
    /// Stop starting cycles (the running one finishes first); replies when idle.
    Pause(oneshot::Sender<()>),
    Resume,
    /// Fix a cut point now (scan and stage the changes); replies with its epoch. The
    /// next cycle ships exactly that state.
    PrepareCut(oneshot::Sender<Result<u64, String>>),
    Resync(oneshot::Sender<Result<(), String>>),
    /// Run a cycle now, then snapshot the target at its epoch if a name is given.
    Cycle {
        snapshot: Option<String>,
        reply: oneshot::Sender<Result<CycleReport, String>>,
    },
    DeleteSnapshot {
        name: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// A running replicator.
#[derive(Debug)]
pub struct Replicator {
    pub volume: SourceVolume,
    pub commands: mpsc::Sender<Command>,
    pub progress: watch::Receiver<Progress>,
    task: JoinHandle<()>,
}

impl Replicator {
    /// Stops after the running cycle (if any) and waits for the task to end.
    pub async fn stop(self) {
        drop(self.commands);
        let _ = self.task.await;
    }

    pub async fn request<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// Starts replicating `vol` every `interval`, at most `permits` cycles at once per
/// agent.
pub fn spawn(vol: SourceVolume, interval: Duration, permits: Arc<Semaphore>) -> Replicator {
    let (tx, rx) = mpsc::channel(16);
    let (ptx, prx) = watch::channel(Progress::default());
    let span = info_span!("replicator", volume_id = %vol.volume_id);
    let task = tokio::spawn(run(vol.clone(), interval, permits, rx, ptx).instrument(span));
    Replicator {
        volume: vol,
        commands: tx,
        progress: prx,
        task,
    }
}

struct Worker {
    vol: SourceVolume,
    tracker: Option<Box<dyn ChangeTracker>>,
    permits: Arc<Semaphore>,
    progress: watch::Sender<Progress>,
    failures: u32,
}

impl Worker {
    async fn ensure_tracker(&mut self) -> Result<(), ReplicationError> {
        if self.tracker.is_none() {
            let (path, dir, bs, rbd) = (
                self.vol.path.clone(),
                self.vol.state_dir.clone(),
                self.vol.block_size,
                self.vol.rbd.clone(),
            );
            let t = tokio::task::spawn_blocking(move || {
                source::make_tracker(&path, &dir, bs, rbd.as_ref())
            })
            .await
            .map_err(|e| ReplicationError::Protocol(format!("tracker setup failed: {e}")))??;
            self.tracker = Some(t);
        }
        Ok(())
    }

    async fn cycle(&mut self, snapshot: Option<&str>) -> Result<CycleReport, ReplicationError> {
        let _permit = self.permits.clone().acquire_owned().await;
        self.ensure_tracker().await?;
        let state = self.vol.load_state()?;
        self.progress.send_modify(|p| {
            p.busy = true;
            if !state.initial_copy_done {
                p.phase = Phase::InitialCopy;
            }
        });
        let started = std::time::Instant::now();
        let result = source::run_cycle(&self.vol, &mut self.tracker, snapshot).await;
        let elapsed = started.elapsed().as_secs_f64().max(1e-3);
        let state = self.vol.load_state().unwrap_or(state);
        self.progress.send_modify(|p| {
            p.busy = false;
            p.bytes_sent_total = state.bytes_sent_total;
            p.committed_epoch = state.committed_epoch;
            p.synced_as_of_ms = state.synced_as_of_ms;
            match &result {
                Ok(r) => {
                    p.phase = Phase::Replicating;
                    p.size_bytes = r.volume_size;
                    if r.initial {
                        p.initial_copy_bytes = r.volume_size;
                    } else if state.initial_copy_done {
                        p.initial_copy_bytes = p.initial_copy_bytes.max(r.volume_size);
                    }
                    p.last_cycle_bytes = r.bytes_sent;
                    p.throughput_bps = (r.bytes_sent as f64 / elapsed) as u64;
                    p.last_synced_at_ms = Some(holdfast_protocol::UnixMillis::now().0);
                    p.last_error = None;
                }
                Err(e) => {
                    p.phase = Phase::Failed;
                    p.last_error = Some(e.to_string());
                }
            }
        });
        match &result {
            Ok(_) => self.failures = 0,
            Err(e) => {
                self.failures += 1;
                warn!(error = %e, failures = self.failures, "replication cycle failed");
            }
        }
        result
    }

    fn retry_delay(&self) -> Duration {
        let exp = self.failures.min(6);
        Duration::from_millis(250 * (1 << exp)).min(Duration::from_secs(15))
    }
}

async fn run(
    vol: SourceVolume,
    interval: Duration,
    permits: Arc<Semaphore>,
    mut rx: mpsc::Receiver<Command>,
    progress: watch::Sender<Progress>,
) {
    let mut w = Worker {
        vol,
        tracker: None,
        permits,
        progress,
        failures: 0,
    };
    let mut paused = false;
    let mut next = Instant::now();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Pause(reply)) => {
                    paused = true;
                    w.progress.send_modify(|p| p.phase = Phase::Paused);
                    let _ = reply.send(());
                }
                Some(Command::Resume) => {
                    paused = false;
                    next = Instant::now();
                    w.progress.send_modify(|p| if p.phase == Phase::Paused { p.phase = Phase::Replicating });
                }
                Some(Command::PrepareCut(reply)) => {
                    let r = async {
                        let _permit = w.permits.clone().acquire_owned().await;
                        w.ensure_tracker().await?;
                        source::prepare_cut(&w.vol, &mut w.tracker).await
                    }.await;
                    let _ = reply.send(r.map_err(|e| e.to_string()));
                }
                Some(Command::Resync(reply)) => {
                    let r = async {
                        w.ensure_tracker().await?;
                        source::resync(&w.vol, &mut w.tracker).await
                    }.await;
                    next = Instant::now();
                    let _ = reply.send(r.map_err(|e| e.to_string()));
                }
                Some(Command::Cycle { snapshot, reply }) => {
                    let r = w.cycle(snapshot.as_deref()).await;
                    let _ = reply.send(r.map_err(|e| e.to_string()));
                    next = Instant::now() + interval;
                }
                Some(Command::DeleteSnapshot { name, reply }) => {
                    let r = source::delete_target_snapshot(&w.vol, &name).await;
                    let _ = reply.send(r.map_err(|e| e.to_string()));
                }
            },
            () = tokio::time::sleep_until(next), if !paused => {
                next = match w.cycle(None).await {
                    Ok(_) => Instant::now() + interval,
                    Err(_) => Instant::now() + w.retry_delay(),
                };
            }
        }
    }
    w.progress.send_modify(|p| p.phase = Phase::Stopped);
}
