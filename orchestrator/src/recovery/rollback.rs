//! Rollback: deletes exactly what the job recorded, in reverse dependency order
//! (concurrent waves), each deletion recorded, so that a crash at any point resumes
//! with nothing deleted twice and nothing left behind. Intents whose create call may
//! or may not have gone through are resolved by their tag first.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use futures_util::stream;
use tracing::Instrument;

use super::journal::Write;
use super::ledger::{Checkpoint, Clock, Ledger, LedgerEntry};
use super::lookup::{delete, find};
use super::{Executor, LoadedJob, ROLLBACK, RecoveryError, RollbackReport, now_ms};
use crate::db::jobs;
use crate::dr::ids::InstanceId;
use crate::dr::recovery_graph::TaskGraph;
use crate::dr::rollback::{Created, CreatedResources, RecordId};

/// The live records (created, not deleted) as the domain's record, and the ledger
/// entry of each record.
pub(super) fn created_resources(entries: &[LedgerEntry]) -> (CreatedResources, Vec<LedgerEntry>) {
    created_with(entries, None)
}

fn created_with(
    entries: &[LedgerEntry],
    graph: Option<&TaskGraph>,
) -> (CreatedResources, Vec<LedgerEntry>) {
    let mut c = CreatedResources::new();
    let mut of_seq: BTreeMap<i64, RecordId> = BTreeMap::new();
    let mut live = Vec::new();
    for e in entries {
        let Some(resource) = e.resource.clone().filter(|_| !e.deleted) else {
            continue;
        };
        let task = graph
            .and_then(|g| g.tasks().get(e.task))
            .map(|t| t.kind.clone())
            .unwrap_or(crate::dr::recovery_graph::TaskKind::CreateProject);
        let depends_on = e
            .depends_on
            .iter()
            .filter_map(|s| of_seq.get(s).copied())
            .collect();
        if let Ok(id) = c.record(Created {
            resource,
            task,
            depends_on,
            serves: e.serves.clone(),
        }) {
            of_seq.insert(e.seq, id);
            live.push(e.clone());
        }
    }
    (c, live)
}

async fn log(
    ex: &Executor,
    job: &LoadedJob,
    task: Option<i64>,
    level: &str,
    message: String,
) -> Result<(), RecoveryError> {
    let mut conn = ex.db.conn().await?;
    jobs::log(
        &mut conn,
        job.id.as_str(),
        &jobs::LogLine {
            stage: ROLLBACK.into(),
            task_index: task,
            at: now_ms(),
            level: level.into(),
            message,
        },
    )
    .await?;
    Ok(())
}

/// Intents: created (record it) or never created (nothing to delete).
async fn resolve_intents(
    ex: &Executor,
    ledger: &Ledger,
    clock: &Clock,
) -> Result<(), RecoveryError> {
    for e in ledger.entries() {
        if e.resource.is_none() && !e.deleted {
            match find(&ex.cloud, &e.lookup, &e.tag).await? {
                Some(r) => ledger.resolve(clock, &e.tag, &r).await?,
                None => ledger.mark_deleted(clock, &e.tag).await?,
            }
        }
    }
    Ok(())
}

/// Deletes only the resources that serve nothing but `instances` (the confirm of a
/// partial success: the failed instances go back to the source side), one by one in
/// rollback order; the rest of the job stays. Resumable like [`run`].
pub(super) async fn run_for_instances(
    ex: &Executor,
    job: &LoadedJob,
    instances: &BTreeSet<InstanceId>,
) -> Result<RollbackReport, RecoveryError> {
    let id = job.id.as_str();
    log(
        ex,
        job,
        None,
        "info",
        format!(
            "rolling back what only the {} failed instance(s) use",
            instances.len()
        ),
    )
    .await?;
    let ledger = Ledger::load(ex.db.clone(), id, ex.hook.clone()).await?;
    let clock = Clock::new();
    resolve_intents(ex, &ledger, &clock).await?;
    let (created, live) = created_with(&ledger.entries(), Some(&job.graph));
    let order = created.rollback_of(|c| !c.serves.is_empty() && c.serves.is_subset(instances));
    {
        let mut conn = ex.db.conn().await?;
        for rid in &order {
            if let (Some(e), Some(r)) = (live.get(rid.0), created.get(*rid)) {
                let d = format!("delete {}", r.resource.delete_command());
                jobs::insert_task(&mut conn, id, ROLLBACK, e.seq, &d).await?;
            }
        }
    }
    let (mut deleted, mut failed) = (0usize, Vec::new());
    for rid in order {
        let Some(e) = live.get(rid.0) else { continue };
        let r = delete_one(ex, &ledger, &clock, e).await;
        let error = r.as_ref().err().map(ToString::to_string);
        ledger
            .journal()
            .write(Write::TaskFinished {
                stage: ROLLBACK,
                index: e.seq,
                state: if error.is_none() {
                    "succeeded"
                } else {
                    "failed"
                },
                cloud_ms: 0,
                error: error.clone(),
            })
            .await?;
        match error {
            None => deleted += 1,
            Some(msg) => failed.push((e.tag.clone(), msg)),
        }
    }
    ledger.journal().flush().await?;
    log(
        ex,
        job,
        None,
        if failed.is_empty() { "info" } else { "error" },
        format!(
            "failed instances rolled back: {deleted} resources deleted, {} not",
            failed.len()
        ),
    )
    .await?;
    Ok(RollbackReport { deleted, failed })
}

/// Before a retry from another point runs its tasks: deletes what an earlier
/// generation created for the tasks it runs again (the instance, its volumes and
/// their materialised data, its ports and floating IPs), dependants first. Resumable:
/// a deleted record is not deleted twice. An error leaves the retry to be tried
/// again (no new resource is created next to one that could not be removed).
pub(super) async fn remove_replaced(ex: &Executor, job: &LoadedJob) -> Result<(), RecoveryError> {
    let ledger = Ledger::load(ex.db.clone(), job.id.as_str(), ex.hook.clone()).await?;
    let clock = Clock::new();
    let replaced = |e: &LedgerEntry| !e.deleted && job.is_stale(e.task, &e.tag);
    for e in ledger.entries().iter().filter(|e| replaced(e)) {
        if e.resource.is_none() {
            match find(&ex.cloud, &e.lookup, &e.tag).await? {
                Some(r) => ledger.resolve(&clock, &e.tag, &r).await?,
                None => ledger.mark_deleted(&clock, &e.tag).await?,
            }
        }
    }
    let entries = ledger.entries();
    let gone: Vec<_> = entries
        .iter()
        .filter(|e| replaced(e))
        .filter_map(|e| e.resource.clone())
        .collect();
    if gone.is_empty() {
        ledger.journal().flush().await?;
        return Ok(());
    }
    let (created, live) = created_with(&entries, Some(&job.graph));
    let order = created.rollback_of(|c| gone.contains(&c.resource));
    let mut deleted = 0usize;
    for rid in order {
        let (Some(e), Some(c)) = (live.get(rid.0), created.get(rid)) else {
            continue;
        };
        delete(&ex.cloud, &c.resource).await.map_err(|err| {
            RecoveryError::Conflict(format!(
                "the retry cannot replace {}: {err}; the retry is tried again",
                c.resource.delete_command()
            ))
        })?;
        ledger.mark_deleted(&clock, &e.tag).await?;
        deleted += 1;
    }
    ledger.journal().flush().await?;
    let mut conn = ex.db.conn().await?;
    jobs::log(
        &mut conn,
        job.id.as_str(),
        &jobs::LogLine {
            stage: super::RECOVERY.into(),
            task_index: None,
            at: now_ms(),
            level: "info".into(),
            message: format!(
                "retry: {deleted} resource(s) recovered from the earlier point deleted before recovering again"
            ),
        },
    )
    .await?;
    Ok(())
}

/// Runs (or resumes) the rollback.
pub(super) async fn run(ex: &Executor, job: &LoadedJob) -> Result<RollbackReport, RecoveryError> {
    let id = job.id.as_str();
    {
        let mut conn = ex.db.conn().await?;
        jobs::set_phase(&mut conn, id, "rolling_back", None, now_ms()).await?;
    }
    log(ex, job, None, "info", "rollback started".into()).await?;
    let ledger = Ledger::load(ex.db.clone(), id, ex.hook.clone()).await?;
    let clock = Clock::new();
    resolve_intents(ex, &ledger, &clock).await?;
    let (created, live) = created_with(&ledger.entries(), Some(&job.graph));
    let descriptions: BTreeMap<i64, String> = live
        .iter()
        .zip(created.records())
        .map(|(e, r)| (e.seq, format!("delete {}", r.resource.delete_command())))
        .collect();
    {
        let mut conn = ex.db.conn().await?;
        // rollback tasks are numbered by record (stable across resumes)
        for (seq, d) in &descriptions {
            jobs::insert_task(&mut conn, id, ROLLBACK, *seq, d).await?;
        }
    }
    let concurrency = ex.cloud.options().concurrency.max(1);
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut failed_records: BTreeSet<RecordId> = BTreeSet::new();
    let mut deleted = 0usize;
    for wave in created.rollback_waves() {
        let work: Vec<(RecordId, LedgerEntry)> =
            wave.iter().map(|r| (*r, live[r.0].clone())).collect();
        let results: Vec<(RecordId, LedgerEntry, Result<(), RecoveryError>)> = stream::iter(work)
            .map(|(rid, e)| {
                let blocked = created.records().iter().enumerate().any(|(n, r)| {
                    failed_records.contains(&RecordId(n)) && r.depends_on.contains(&rid)
                });
                let ledger = &ledger;
                let clock = &clock;
                let span = tracing::info_span!("rollback_task", job_id = %job.id, record = e.seq);
                async move {
                    if blocked {
                        let err = RecoveryError::Conflict(
                            "not deleted: a resource depending on it could not be deleted".into(),
                        );
                        return (rid, e, Err(err));
                    }
                    let r = delete_one(ex, ledger, clock, &e).await;
                    (rid, e, r)
                }
                .instrument(span)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (rid, e, r) in results {
            let state = if r.is_ok() { "succeeded" } else { "failed" };
            let error = r.as_ref().err().map(ToString::to_string);
            ledger
                .journal()
                .write(Write::TaskFinished {
                    stage: ROLLBACK,
                    index: e.seq,
                    state,
                    cloud_ms: 0,
                    error: error.clone(),
                })
                .await?;
            match error {
                None => deleted += 1,
                Some(msg) => {
                    log(
                        ex,
                        job,
                        Some(e.seq),
                        "error",
                        format!("{}: {msg}", descriptions[&e.seq]),
                    )
                    .await?;
                    failed_records.insert(rid);
                    failed.push((e.tag.clone(), msg));
                }
            }
            ledger
                .checkpoint(Checkpoint::TaskFinished {
                    stage: ROLLBACK,
                    index: usize::try_from(e.seq).unwrap_or(usize::MAX),
                })
                .await;
        }
    }
    ledger.journal().flush().await?;
    let mut conn = ex.db.conn().await?;
    if failed.is_empty() {
        jobs::set_phase(&mut conn, id, "rolled_back", None, now_ms()).await?;
        drop(conn);
        log(
            ex,
            job,
            None,
            "info",
            format!("rollback ended: {deleted} resources deleted"),
        )
        .await?;
    } else {
        drop(conn);
        log(
            ex,
            job,
            None,
            "error",
            format!(
                "rollback incomplete: {} resources could not be deleted; retry the rollback",
                failed.len()
            ),
        )
        .await?;
    }
    Ok(RollbackReport { deleted, failed })
}

async fn delete_one(
    ex: &Executor,
    ledger: &Ledger,
    clock: &Clock,
    e: &LedgerEntry,
) -> Result<(), RecoveryError> {
    let index = usize::try_from(e.seq).unwrap_or(usize::MAX);
    ledger.journal().send(Write::TaskRunning {
        stage: ROLLBACK,
        index: e.seq,
    })?;
    ledger
        .checkpoint(Checkpoint::TaskStarting {
            stage: ROLLBACK,
            index,
        })
        .await;
    let Some(resource) = &e.resource else {
        return Ok(());
    };
    delete(&ex.cloud, resource).await?;
    ledger
        .checkpoint(Checkpoint::DeletedNotRecorded { tag: e.tag.clone() })
        .await;
    ledger.mark_deleted(clock, &e.tag).await
}
