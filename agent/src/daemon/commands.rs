//! Executing the orchestrator's commands. Every request gets exactly one reply: its
//! reply type, or an `ErrorReport` saying what went wrong and whether a retry may work.

use std::sync::Arc;
use std::time::Duration;

use holdfast_protocol::messages::{
    Compression, CutAbort, CutCommit, CutOutcome, CutPrepare, CutPrepared, CutResult, ErrorCode,
    ErrorReport, RecoveryPoint, ReplicationAck, ReplicationStart, ReplicationState,
    ReplicationStop, TargetSnapshotCreate, TargetSnapshotDelete, TargetSnapshotOp,
    TargetSnapshotResult, VolumeCut, VolumeExport, VolumeExportDiscard, VolumeExportDiscarded,
    VolumeExported,
};
use holdfast_protocol::{AnyMessage, Envelope, MessageKind, UnixMillis, VolumeId};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Agent, PreparedCut, assignments, reports};
use crate::dataplane::session::Expected;
use crate::durable;
use crate::replication::replicator::{self, Command};
use crate::replication::source::SourceVolume;
use crate::replication::target::TargetVolume;
use crate::snapshots::{self, SnapshotName};

type Reply = Result<AnyMessage, ErrorReport>;

fn fail(
    kind: MessageKind,
    code: ErrorCode,
    volume: Option<&VolumeId>,
    msg: impl Into<String>,
) -> ErrorReport {
    let mut r = ErrorReport::for_request(kind, code, msg);
    r.volume_id = volume.cloned();
    r
}

/// Handles one command and publishes its reply.
pub(super) async fn handle(agent: &Arc<Agent>, env: &Envelope) {
    let kind = env.kind();
    let reply: Option<Reply> = match &env.message {
        AnyMessage::AgentWelcome(w) => {
            if w.accepted {
                info!(orchestrator = %w.orchestrator_version, "registered with the orchestrator");
                agent.heartbeat_ms.store(
                    w.heartbeat_interval_ms.max(100),
                    std::sync::atomic::Ordering::Relaxed,
                );
            } else {
                warn!(reason = ?w.reason, "the orchestrator refused this agent");
            }
            None
        }
        AnyMessage::ReplicationStart(m) => Some(start(agent, m, true).await),
        AnyMessage::ReplicationStop(m) => Some(stop(agent, m).await),
        AnyMessage::ReplicationPause(m) => {
            Some(simple(agent, kind, &m.volume_id, Simple::Pause).await)
        }
        AnyMessage::ReplicationResume(m) => {
            Some(simple(agent, kind, &m.volume_id, Simple::Resume).await)
        }
        AnyMessage::ReplicationResync(m) => {
            Some(simple(agent, kind, &m.volume_id, Simple::Resync).await)
        }
        AnyMessage::CutPrepare(m) => Some(cut_prepare(agent, m).await),
        AnyMessage::CutCommit(m) => Some(cut_commit(agent, m).await),
        AnyMessage::CutAbort(m) => Some(cut_abort(agent, m).await),
        AnyMessage::TargetSnapshotCreate(m) => Some(snapshot_create(agent, m).await),
        AnyMessage::TargetSnapshotDelete(m) => Some(snapshot_delete(agent, m).await),
        AnyMessage::VolumeExport(m) => Some(export(agent, m).await),
        AnyMessage::VolumeExportDiscard(m) => Some(discard_export(agent, m).await),
        other => {
            warn!(kind = %other.kind(), "ignoring a message that is not a command for agents");
            None
        }
    };
    if let Some(reply) = reply {
        let msg = reply.unwrap_or_else(AnyMessage::from);
        agent
            .publish(&env.reply(agent.sender(), msg, UnixMillis::now()))
            .await;
    }
}

/// Restarts every volume assignment saved before a restart.
pub(super) async fn readopt(agent: &Arc<Agent>) {
    for a in assignments::load_all(&agent.config.state_dir) {
        match a {
            Ok(start_msg) => {
                if let Err(e) = start(agent, &start_msg, false).await {
                    warn!(error = ?e, "could not re-adopt a volume");
                } else {
                    info!(volume_id = %start_msg.volume_id, "re-adopted after restart");
                }
            }
            Err(e) => warn!(error = %e, "damaged assignment file"),
        }
    }
}

async fn start(agent: &Arc<Agent>, m: &ReplicationStart, persist: bool) -> Reply {
    let k = MessageKind::ReplicationStart;
    let v = Some(&m.volume_id);
    let bs_ok = m.block_size.is_power_of_two() && (512..=16 << 20).contains(&m.block_size);
    if !bs_ok || m.cycle_interval_ms < 100 || m.session_secret.0.len() < 16 {
        return Err(fail(
            k,
            ErrorCode::BadRequest,
            v,
            "block size must be a power of two in 512 B..16 MiB, the cycle interval at least 100 ms and the session secret at least 16 bytes",
        ));
    }
    let me = &agent.node;
    if &m.source.node_id != me && &m.target.node_id != me {
        return Err(fail(
            k,
            ErrorCode::BadRequest,
            v,
            format!("node {me} is neither the source nor the target"),
        ));
    }
    let key = durable::file_key(&m.volume_id.0);
    let mut state = ReplicationState::Starting;
    if &m.target.node_id == me {
        let (mirror, rbd) = locate(agent, &m.target.location)
            .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e))?;
        let t = TargetVolume::new(
            &m.volume_id.0,
            mirror,
            Expected {
                secret: m.session_secret.0.clone(),
                source_node: m.source.node_id.to_string(),
            },
            &agent.config.state_dir,
        );
        agent.targets.insert(match rbd {
            Some(image) => t.with_rbd(image),
            None => t,
        });
    }
    if &m.source.node_id == me {
        let (path, rbd) = locate(agent, &m.source.location)
            .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e))?;
        let exists = match &rbd {
            Some(image) => image
                .size()
                .await
                .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?
                .is_some(),
            None => path.exists(),
        };
        if !exists {
            return Err(fail(
                k,
                ErrorCode::UnknownVolume,
                v,
                format!("{} does not exist", path.display()),
            ));
        }
        let vol = SourceVolume {
            volume_id: m.volume_id.0.clone(),
            source_node: me.to_string(),
            target_node: m.target.node_id.to_string(),
            target_addr: m.target_data_addr.clone(),
            secret: m.session_secret.0.clone(),
            path,
            state_dir: agent.config.state_dir.join("source").join(&key),
            block_size: m.block_size,
            compression: m.compression == Compression::Zstd,
            bandwidth_limit_bps: m.bandwidth_limit_bps.or(agent.config.bandwidth_limit_bps),
            sync_bytes: crate::replication::source::SYNC_BYTES,
            rbd,
            tls: agent.tls.clone(),
        };
        let mut sources = agent.sources.lock().await;
        let same = sources.get(&m.volume_id.0).is_some_and(|r| {
            let o = &r.volume;
            (o.target_addr == vol.target_addr && o.secret == vol.secret && o.path == vol.path)
                && (o.block_size, o.compression, o.bandwidth_limit_bps)
                    == (vol.block_size, vol.compression, vol.bandwidth_limit_bps)
        });
        if same {
            if let Some(r) = sources.get(&m.volume_id.0) {
                state = reports::replication_state(r.progress.borrow().phase);
            }
        } else {
            if let Some(old) = sources.remove(&m.volume_id.0) {
                old.stop().await;
            }
            let r = replicator::spawn(
                vol,
                Duration::from_millis(m.cycle_interval_ms),
                agent.permits.clone(),
            );
            sources.insert(m.volume_id.0.clone(), r);
        }
    } else {
        state = ReplicationState::Replicating;
    }
    if persist {
        assignments::save(&agent.config.state_dir, m).map_err(|e| {
            fail(
                k,
                ErrorCode::Internal,
                v,
                format!("cannot persist the assignment: {e}"),
            )
        })?;
    }
    Ok(ReplicationAck {
        volume_id: m.volume_id.clone(),
        state,
    }
    .into())
}

/// A location's local path, or for an RBD image a `rbd:pool/image` name for messages
/// and the image itself.
fn locate(
    agent: &Agent,
    loc: &holdfast_protocol::messages::VolumeLocation,
) -> Result<(std::path::PathBuf, Option<crate::rbd::Image>), String> {
    if loc.kind == holdfast_protocol::messages::StorageKind::Rbd {
        let image = agent.config.resolve_rbd(loc).map_err(|e| e.to_string())?;
        Ok((format!("rbd:{}", image.spec()).into(), Some(image)))
    } else {
        Ok((agent.config.resolve(loc).map_err(|e| e.to_string())?, None))
    }
}

async fn stop(agent: &Arc<Agent>, m: &ReplicationStop) -> Reply {
    let k = MessageKind::ReplicationStop;
    let id = &m.volume_id.0;
    if let Some(r) = agent.sources.lock().await.remove(id) {
        let dir = r.volume.state_dir.clone();
        let rbd = r.volume.rbd.clone();
        r.stop().await;
        if let Some(image) = rbd
            && let Err(e) = crate::rbd::tracker::release(&image, &dir).await
        {
            return Err(fail(
                k,
                ErrorCode::StorageUnavailable,
                Some(&m.volume_id),
                format!(
                    "could not remove the replication snapshots of {}: {e}",
                    image.spec()
                ),
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(t) = agent.targets.remove(id) {
        let _guard = t.lock.lock().await;
        if m.remove_target_copy {
            t.remove_copy().await.map_err(|e| {
                fail(
                    k,
                    ErrorCode::StorageUnavailable,
                    Some(&m.volume_id),
                    e.to_string(),
                )
            })?;
        }
    }
    assignments::remove(&agent.config.state_dir, id)
        .map_err(|e| fail(k, ErrorCode::Internal, Some(&m.volume_id), e.to_string()))?;
    Ok(ReplicationAck {
        volume_id: m.volume_id.clone(),
        state: ReplicationState::Stopped,
    }
    .into())
}

enum Simple {
    Pause,
    Resume,
    Resync,
}

async fn simple(agent: &Arc<Agent>, kind: MessageKind, volume: &VolumeId, what: Simple) -> Reply {
    let sources = agent.sources.lock().await;
    let Some(r) = sources.get(&volume.0) else {
        return if agent.targets.get(&volume.0).is_some() {
            // The target end follows the source; nothing to do here.
            Ok(ReplicationAck {
                volume_id: volume.clone(),
                state: ReplicationState::Replicating,
            }
            .into())
        } else {
            Err(fail(
                kind,
                ErrorCode::UnknownVolume,
                Some(volume),
                "this agent does not replicate the volume",
            ))
        };
    };
    match what {
        Simple::Pause => {
            r.request(Command::Pause).await;
        }
        Simple::Resume => {
            let _ = r.commands.send(Command::Resume).await;
        }
        Simple::Resync => {
            if let Some(Err(e)) = r.request(Command::Resync).await {
                return Err(fail(kind, ErrorCode::Internal, Some(volume), e));
            }
        }
    }
    let state = match what {
        Simple::Pause => ReplicationState::Paused,
        Simple::Resync => ReplicationState::Resyncing,
        Simple::Resume => reports::replication_state(r.progress.borrow().phase),
    };
    Ok(ReplicationAck {
        volume_id: volume.clone(),
        state,
    }
    .into())
}

async fn resume_all(agent: &Agent, volumes: &[String]) {
    let sources = agent.sources.lock().await;
    for v in volumes {
        if let Some(r) = sources.get(v) {
            let _ = r.commands.send(Command::Resume).await;
        }
    }
}

async fn cut_prepare(agent: &Arc<Agent>, m: &CutPrepare) -> Reply {
    let k = MessageKind::CutPrepare;
    let mut senders = Vec::new();
    {
        let sources = agent.sources.lock().await;
        if let Some(missing) = m.volumes.iter().find(|v| !sources.contains_key(&v.0)) {
            return Err(fail(
                k,
                ErrorCode::UnknownVolume,
                Some(missing),
                "this agent is not the source of the volume",
            ));
        }
        for v in &m.volumes {
            if let Some(r) = sources.get(&v.0) {
                senders.push((v.0.clone(), r.commands.clone()));
            }
        }
    }
    // Every volume stops between cycles, then all fix their cut point together: each
    // scans its changes and stages their data, so whatever is written after this
    // returns is not part of the cut.
    for (_, tx) in &senders {
        let (reply, rx) = oneshot::channel();
        if tx.send(Command::Pause(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (v, tx) in &senders {
        let (v, tx) = (v.clone(), tx.clone());
        tasks.spawn(async move {
            let (reply, rx) = oneshot::channel();
            let r = match tx.send(Command::PrepareCut(reply)).await {
                Ok(()) => rx
                    .await
                    .unwrap_or_else(|_| Err("replicator stopped".into())),
                Err(_) => Err("replicator stopped".into()),
            };
            (v, r)
        });
    }
    let cut_at = UnixMillis::now();
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(_))) => {}
            Ok((v, Err(e))) => failed = Some((v, e)),
            Err(e) => failed = Some((String::new(), e.to_string())),
        }
    }
    let paused: Vec<String> = senders.into_iter().map(|(v, _)| v).collect();
    if let Some((v, e)) = failed {
        resume_all(agent, &paused).await;
        return Err(fail(
            k,
            ErrorCode::StorageUnavailable,
            Some(&VolumeId(v)),
            format!("could not fix the cut point: {e}"),
        ));
    }
    agent.cuts.lock().await.insert(
        m.cut_id,
        PreparedCut {
            volumes: paused,
            cut_at,
        },
    );
    let (agent2, cut_id, hold) = (
        agent.clone(),
        m.cut_id,
        Duration::from_millis(m.hold_timeout_ms),
    );
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        let expired = agent2.cuts.lock().await.remove(&cut_id);
        if let Some(cut) = expired {
            warn!(%cut_id, "cut held too long without commit or abort; resuming replication");
            resume_all(&agent2, &cut.volumes).await;
        }
    });
    Ok(CutPrepared {
        cut_id: m.cut_id,
        volumes: m.volumes.clone(),
        cut_at,
    }
    .into())
}

async fn cut_commit(agent: &Arc<Agent>, m: &CutCommit) -> Reply {
    let k = MessageKind::CutCommit;
    let Some(cut) = agent.cuts.lock().await.remove(&m.cut_id) else {
        return Err(fail(
            k,
            ErrorCode::Conflict,
            None,
            "no such prepared cut (it expired or was aborted)",
        ));
    };
    if let Err(e) = SnapshotName::parse(&m.snapshot_name) {
        resume_all(agent, &cut.volumes).await;
        return Err(fail(k, ErrorCode::BadRequest, None, e.to_string()));
    }
    let mut tasks = tokio::task::JoinSet::new();
    {
        let sources = agent.sources.lock().await;
        for v in &cut.volumes {
            let Some(r) = sources.get(v) else { continue };
            let (tx, name, vol) = (r.commands.clone(), m.snapshot_name.clone(), v.clone());
            tasks.spawn(async move {
                let (reply, rx) = oneshot::channel();
                let sent = tx
                    .send(Command::Cycle {
                        snapshot: Some(name),
                        reply,
                    })
                    .await;
                let result = match sent {
                    Ok(()) => rx
                        .await
                        .unwrap_or_else(|_| Err("replicator stopped".into())),
                    Err(_) => Err("replicator stopped".into()),
                };
                (vol, tx, result)
            });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    let all_ok = results.len() == cut.volumes.len() && results.iter().all(|(_, _, r)| r.is_ok());
    let mut volumes = Vec::new();
    for (vol, tx, r) in results {
        let (epoch, error) = match &r {
            Ok(report) => (report.epoch, None),
            Err(e) => (0, Some(e.clone())),
        };
        if !all_ok && r.is_ok() {
            let (reply, rx) = oneshot::channel();
            let _ = tx
                .send(Command::DeleteSnapshot {
                    name: m.snapshot_name.clone(),
                    reply,
                })
                .await;
            if let Ok(Err(e)) = rx.await {
                warn!(volume_id = %vol, error = %e, "could not roll back a cut snapshot");
            }
        }
        volumes.push(VolumeCut {
            volume_id: VolumeId(vol),
            epoch,
            target_snapshot: all_ok.then(|| m.snapshot_name.clone()),
            error,
        });
    }
    resume_all(agent, &cut.volumes).await;
    Ok(CutResult {
        cut_id: m.cut_id,
        outcome: if all_ok {
            CutOutcome::Committed
        } else {
            CutOutcome::Aborted
        },
        cut_at: Some(cut.cut_at),
        volumes,
    }
    .into())
}

async fn cut_abort(agent: &Arc<Agent>, m: &CutAbort) -> Reply {
    let cut = agent.cuts.lock().await.remove(&m.cut_id);
    if let Some(cut) = &cut {
        info!(cut_id = %m.cut_id, reason = %m.reason, "cut aborted");
        resume_all(agent, &cut.volumes).await;
    }
    Ok(CutResult {
        cut_id: m.cut_id,
        outcome: CutOutcome::Aborted,
        cut_at: cut.map(|c| c.cut_at),
        volumes: Vec::new(),
    }
    .into())
}

async fn snapshot_create(agent: &Arc<Agent>, m: &TargetSnapshotCreate) -> Reply {
    let k = MessageKind::TargetSnapshotCreate;
    let v = Some(&m.volume_id);
    let t = agent.targets.get(&m.volume_id.0).ok_or_else(|| {
        fail(
            k,
            ErrorCode::UnknownVolume,
            v,
            "this agent is not the target of the volume",
        )
    })?;
    let name = SnapshotName::parse(&m.snapshot_name)
        .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
    let _guard = t.lock.lock().await;
    let cursor = t
        .cursor()
        .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?;
    if !cursor.complete {
        return Err(fail(
            k,
            ErrorCode::Conflict,
            v,
            "the copy is between epochs; retry after the running cycle",
        ));
    }
    if let Some(image) = &t.rbd {
        crate::rbd::create_target_snapshot(image, name.as_str(), cursor.epoch)
            .await
            .map_err(|e| {
                let code = match e {
                    crate::rbd::TargetSnapError::Conflict { .. } => ErrorCode::Conflict,
                    crate::rbd::TargetSnapError::Rbd(_) => ErrorCode::StorageUnavailable,
                };
                fail(k, code, v, e.to_string())
            })?;
        return Ok(TargetSnapshotResult {
            volume_id: m.volume_id.clone(),
            snapshot_name: m.snapshot_name.clone(),
            op: TargetSnapshotOp::Created,
            epoch: Some(cursor.epoch),
            created_at: Some(UnixMillis::now()),
        }
        .into());
    }
    let mirror = t.mirror.clone();
    let now = UnixMillis::now();
    let meta =
        tokio::task::spawn_blocking(move || snapshots::create(&mirror, &name, cursor.epoch, now.0))
            .await
            .map_err(|e| fail(k, ErrorCode::Internal, v, e.to_string()))?
            .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?;
    Ok(TargetSnapshotResult {
        volume_id: m.volume_id.clone(),
        snapshot_name: meta.name,
        op: TargetSnapshotOp::Created,
        epoch: Some(meta.epoch),
        created_at: Some(UnixMillis(meta.created_at_ms)),
    }
    .into())
}

async fn snapshot_delete(agent: &Arc<Agent>, m: &TargetSnapshotDelete) -> Reply {
    let k = MessageKind::TargetSnapshotDelete;
    let v = Some(&m.volume_id);
    let t = agent.targets.get(&m.volume_id.0).ok_or_else(|| {
        fail(
            k,
            ErrorCode::UnknownVolume,
            v,
            "this agent is not the target of the volume",
        )
    })?;
    let name = SnapshotName::parse(&m.snapshot_name)
        .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
    match &t.rbd {
        Some(image) => crate::rbd::delete_target_snapshot(image, name.as_str())
            .await
            .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?,
        None => snapshots::delete(&t.mirror, &name)
            .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?,
    }
    Ok(TargetSnapshotResult {
        volume_id: m.volume_id.clone(),
        snapshot_name: m.snapshot_name.clone(),
        op: TargetSnapshotOp::Deleted,
        epoch: None,
        created_at: None,
    }
    .into())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ExportRecord {
    size_bytes: u64,
    point_in_time_ms: Option<u64>,
    /// Where the export was written (absent in records of older agents).
    #[serde(default)]
    destination: Option<holdfast_protocol::messages::VolumeLocation>,
}

async fn export(agent: &Arc<Agent>, m: &VolumeExport) -> Reply {
    let k = MessageKind::VolumeExport;
    let v = Some(&m.volume_id);
    let record_path = agent
        .config
        .state_dir
        .join("exports")
        .join(format!("{}.json", m.export_id));
    let done = |r: &ExportRecord| -> AnyMessage {
        VolumeExported {
            export_id: m.export_id,
            volume_id: m.volume_id.clone(),
            destination: m.destination.clone(),
            size_bytes: r.size_bytes,
            point_in_time: r.point_in_time_ms.map(UnixMillis),
        }
        .into()
    };
    if let Ok(Some(r)) = durable::read_json::<ExportRecord>(&record_path) {
        return Ok(done(&r));
    }
    let t = agent.targets.get(&m.volume_id.0).ok_or_else(|| {
        fail(
            k,
            ErrorCode::UnknownVolume,
            v,
            "this agent is not the target of the volume",
        )
    })?;
    if let Some(image) = &t.rbd {
        let mut record = export_rbd(agent, &t, image, m).await?;
        record.destination = Some(m.destination.clone());
        durable::write_json(&record_path, &record)
            .map_err(|e| fail(k, ErrorCode::Internal, v, e.to_string()))?;
        return Ok(done(&record));
    }
    let dest = agent
        .config
        .resolve(&m.destination)
        .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
    let _guard = t.lock.lock().await;
    // the same export asked again while it was running (the orchestrator restarted, or
    // its request timed out) waited for the lock: it is done now
    if let Ok(Some(r)) = durable::read_json::<ExportRecord>(&record_path) {
        return Ok(done(&r));
    }
    let (from, point) = match &m.point {
        RecoveryPoint::LatestData => {
            let c = t
                .cursor()
                .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?;
            if !c.complete {
                return Err(fail(
                    k,
                    ErrorCode::Conflict,
                    v,
                    "the copy is between epochs; retry after the running cycle",
                ));
            }
            (t.mirror.clone(), None)
        }
        RecoveryPoint::Snapshot { name } => {
            let n = SnapshotName::parse(name)
                .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
            let meta = snapshots::find(&t.mirror, &n)
                .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?
                .ok_or_else(|| {
                    fail(
                        k,
                        ErrorCode::BadRequest,
                        v,
                        format!("snapshot {name:?} does not exist"),
                    )
                })?;
            (
                snapshots::snapshot_path(&t.mirror, &n),
                Some(meta.created_at_ms),
            )
        }
    };
    let dest2 = dest.clone();
    tokio::task::spawn_blocking(move || snapshots::copy_file(&from, &dest2))
        .await
        .map_err(|e| fail(k, ErrorCode::Internal, v, e.to_string()))?
        .map_err(|e| {
            let code = match e {
                snapshots::SnapshotError::DestinationExists(_) => ErrorCode::Conflict,
                _ => ErrorCode::StorageUnavailable,
            };
            fail(k, code, v, e.to_string())
        })?;
    let size_bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    let record = ExportRecord {
        size_bytes,
        point_in_time_ms: point,
        destination: Some(m.destination.clone()),
    };
    durable::write_json(&record_path, &record)
        .map_err(|e| fail(k, ErrorCode::Internal, v, e.to_string()))?;
    info!(volume_id = %m.volume_id, dest = %dest.display(), "volume exported");
    Ok(done(&record))
}

/// Exports an RBD mirror: `rbd cp` of the image (latest data) or of its snapshot into a
/// new independent image of the same cluster, which Cinder can adopt with
/// manage-existing.
async fn export_rbd(
    agent: &Arc<Agent>,
    t: &TargetVolume,
    image: &crate::rbd::Image,
    m: &VolumeExport,
) -> Result<ExportRecord, ErrorReport> {
    let k = MessageKind::VolumeExport;
    let v = Some(&m.volume_id);
    let dest = agent
        .config
        .resolve_rbd(&m.destination)
        .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
    if dest.cluster.conf != image.cluster.conf {
        return Err(fail(
            k,
            ErrorCode::BadRequest,
            v,
            format!(
                "the destination backend {:?} is another Ceph cluster than the copy's; export into a backend of the same cluster",
                m.destination.backend
            ),
        ));
    }
    let storage =
        |e: crate::rbd::RbdError| fail(k, ErrorCode::StorageUnavailable, v, e.to_string());
    let _guard = t.lock.lock().await;
    if dest.size().await.map_err(storage)?.is_some() {
        return Err(fail(
            k,
            ErrorCode::Conflict,
            v,
            format!("destination image {} already exists", dest.spec()),
        ));
    }
    let (snap, point) = match &m.point {
        RecoveryPoint::LatestData => {
            let c = t
                .cursor()
                .map_err(|e| fail(k, ErrorCode::StorageUnavailable, v, e.to_string()))?;
            if !c.complete {
                return Err(fail(
                    k,
                    ErrorCode::Conflict,
                    v,
                    "the copy is between epochs; retry after the running cycle",
                ));
            }
            (None, None)
        }
        RecoveryPoint::Snapshot { name } => {
            let n = SnapshotName::parse(name)
                .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
            let missing = || {
                fail(
                    k,
                    ErrorCode::BadRequest,
                    v,
                    format!("snapshot {name:?} does not exist on {}", image.spec()),
                )
            };
            if !image.snap_exists(n.as_str()).await.map_err(storage)? {
                return Err(missing());
            }
            let (_, created_ms) = image
                .snap_record(n.as_str())
                .await
                .map_err(storage)?
                .ok_or_else(missing)?;
            (Some(n), Some(created_ms))
        }
    };
    let size_bytes = image
        .copy_to(snap.as_ref().map(SnapshotName::as_str), &dest)
        .await
        .map_err(storage)?;
    info!(volume_id = %m.volume_id, dest = %dest.spec(), "RBD volume exported");
    Ok(ExportRecord {
        size_bytes,
        point_in_time_ms: point,
        destination: None,
    })
}

/// Removes an object this agent exported (known by its export record), then the
/// record. Without a record nothing is touched: only exports are ever discarded.
async fn discard_export(agent: &Arc<Agent>, m: &VolumeExportDiscard) -> Reply {
    let k = MessageKind::VolumeExportDiscard;
    let v = Some(&m.volume_id);
    let record_path = agent
        .config
        .state_dir
        .join("exports")
        .join(format!("{}.json", m.export_id));
    let reply = |removed: bool| -> AnyMessage {
        VolumeExportDiscarded {
            export_id: m.export_id,
            destination: m.destination.clone(),
            removed,
        }
        .into()
    };
    let record = durable::read_json::<ExportRecord>(&record_path)
        .map_err(|e| fail(k, ErrorCode::Internal, v, e.to_string()))?;
    let Some(record) = record else {
        return Ok(reply(false));
    };
    if record
        .destination
        .as_ref()
        .is_some_and(|d| d != &m.destination)
    {
        return Err(fail(
            k,
            ErrorCode::BadRequest,
            v,
            format!(
                "export {} was written to {:?}, not {:?}",
                m.export_id, record.destination, m.destination
            ),
        ));
    }
    let storage = |e: String| fail(k, ErrorCode::StorageUnavailable, v, e);
    let removed = if m.destination.kind == holdfast_protocol::messages::StorageKind::Rbd {
        let image = agent
            .config
            .resolve_rbd(&m.destination)
            .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
        let existed = image
            .size()
            .await
            .map_err(|e| storage(e.to_string()))?
            .is_some();
        image.remove().await.map_err(|e| storage(e.to_string()))?;
        existed
    } else {
        let path = agent
            .config
            .resolve(&m.destination)
            .map_err(|e| fail(k, ErrorCode::BadRequest, v, e.to_string()))?;
        match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(storage(format!("cannot remove {}: {e}", path.display()))),
        }
    };
    match std::fs::remove_file(&record_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fail(k, ErrorCode::Internal, v, e.to_string()));
        }
        _ => {}
    }
    info!(volume_id = %m.volume_id, export_id = %m.export_id, removed, "export discarded");
    Ok(reply(removed))
}
