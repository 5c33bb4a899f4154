//! The record of what a job created, kept in the database and mirrored in memory:
//! every resource is recorded (intent, with its tag and lookup hint) BEFORE the call
//! that creates it and completed with the target's ids after. [`Ledger::ensure`] is
//! the create-once protocol: a resumed job finds a resource whose create call went
//! through but whose id was not recorded by its tag, so a crash at any point leaves
//! no duplicate and no orphan.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use futures_util::future::BoxFuture;

use super::RecoveryError;
use super::cloud::TargetCloud;
use super::journal::{Journal, Write};
use super::lookup::{Lookup, find};
use crate::db::{Db, recovery_resources as rows};
use crate::dr::ids::InstanceId;
use crate::dr::rollback::Resource;

/// Where the executor is, for crash tests (and tracing): a hook sees each point and
/// may stall there while the test aborts the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// A task is about to run (its state is `running` in the database).
    TaskStarting {
        /// `recovery` or `rollback`.
        stage: &'static str,
        /// The task.
        index: usize,
    },
    /// A task's end is handed to the journal (committed in order, before the job ends).
    TaskFinished {
        /// `recovery` or `rollback`.
        stage: &'static str,
        /// The task.
        index: usize,
    },
    /// The intent is recorded; the create call has not been made.
    IntentRecorded {
        /// The resource's tag.
        tag: String,
    },
    /// The create call went through; its result is not recorded yet.
    CreatedNotRecorded {
        /// The resource's tag.
        tag: String,
    },
    /// The delete call went through; the deletion is not recorded yet.
    DeletedNotRecorded {
        /// The resource's tag.
        tag: String,
    },
}

/// Sees every [`Checkpoint`].
pub trait CheckpointHook: Send + Sync + std::fmt::Debug {
    /// Called at the checkpoint; the executor continues when the future completes.
    fn reached<'a>(&'a self, checkpoint: &'a Checkpoint) -> BoxFuture<'a, ()>;
}

/// Time a task spent in the database (orchestration time, not cloud time).
#[derive(Debug, Default)]
pub struct Clock {
    db_micros: AtomicU64,
}

impl Clock {
    /// A fresh clock.
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Adds the time since `since`.
    pub fn add(&self, since: Instant) {
        let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.db_micros.fetch_add(us, Ordering::Relaxed);
    }

    /// The database time so far.
    pub fn db_time(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.db_micros.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    seq: i64,
    task: usize,
    lookup: Lookup,
    resource: Option<Resource>,
    deleted: bool,
    depends_on: Vec<i64>,
    serves: BTreeSet<InstanceId>,
}

/// One recorded resource, as rollback sees it.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// Its tag.
    pub tag: String,
    /// Recording order.
    pub seq: i64,
    /// The recovery task that created it.
    pub task: usize,
    /// How to find it.
    pub lookup: Lookup,
    /// The created resource, once known.
    pub resource: Option<Resource>,
    /// Already deleted.
    pub deleted: bool,
    /// Records it depends on.
    pub depends_on: Vec<i64>,
    /// Instances it serves.
    pub serves: BTreeSet<InstanceId>,
}

/// The job's record of created resources.
#[derive(Debug)]
pub struct Ledger {
    journal: Journal,
    next_seq: AtomicI64,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Records by task (sequence numbers).
    by_task: Mutex<BTreeMap<usize, Vec<i64>>>,
    hook: Option<std::sync::Arc<dyn CheckpointHook>>,
}

fn corrupt(reason: impl std::fmt::Display) -> RecoveryError {
    RecoveryError::Corrupt(reason.to_string())
}

/// The records of a job as stored, by tag, with the next free sequence number.
async fn stored_entries(
    db: &Db,
    job: &str,
) -> Result<(BTreeMap<String, Entry>, i64), RecoveryError> {
    let mut conn = db.conn().await?;
    let records = rows::all(&mut conn, job).await?;
    drop(conn);
    let mut entries = BTreeMap::new();
    let mut next = 0;
    for r in records {
        next = next.max(r.seq + 1);
        let lookup: Lookup = serde_json::from_str(&r.lookup_json).map_err(corrupt)?;
        let resource = match &r.resource_json {
            Some(j) => Some(serde_json::from_str::<Resource>(j).map_err(corrupt)?),
            None => None,
        };
        entries.insert(
            r.tag.clone(),
            Entry {
                seq: r.seq,
                task: usize::try_from(r.task_index).map_err(corrupt)?,
                lookup,
                resource,
                deleted: r.state == "deleted",
                depends_on: serde_json::from_str(&r.depends_on_json).map_err(corrupt)?,
                serves: serde_json::from_str(&r.serves_json).map_err(corrupt)?,
            },
        );
    }
    Ok((entries, next))
}

/// Every record of `entries`, in recording order.
fn in_order(entries: &BTreeMap<String, Entry>) -> Vec<LedgerEntry> {
    let mut v: Vec<LedgerEntry> = entries
        .iter()
        .map(|(tag, e)| LedgerEntry {
            tag: tag.clone(),
            seq: e.seq,
            task: e.task,
            lookup: e.lookup.clone(),
            resource: e.resource.clone(),
            deleted: e.deleted,
            depends_on: e.depends_on.clone(),
            serves: e.serves.clone(),
        })
        .collect();
    v.sort_by_key(|e| e.seq);
    v
}

/// A job's records as they are in the database, without opening a run (nothing is
/// written; a run in progress is not disturbed).
pub async fn stored(db: &Db, job: &str) -> Result<Vec<LedgerEntry>, RecoveryError> {
    Ok(in_order(&stored_entries(db, job).await?.0))
}

impl Ledger {
    /// Opens a run of the job: claims it — from now on the writes of any earlier run
    /// of this job (one still committing after its process lost the job, or a task
    /// aborted in a crash test) are refused — and loads its records.
    pub async fn load(
        db: Db,
        job: &str,
        hook: Option<std::sync::Arc<dyn CheckpointHook>>,
    ) -> Result<Ledger, RecoveryError> {
        let run = {
            let mut conn = db.conn().await?;
            crate::db::jobs::claim_run(&mut conn, job).await?
        };
        let (entries, next) = stored_entries(&db, job).await?;
        let mut by_task: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
        for e in entries.values() {
            by_task.entry(e.task).or_default().push(e.seq);
        }
        Ok(Ledger {
            by_task: Mutex::new(by_task),
            journal: Journal::start(db, job.to_owned(), run),
            next_seq: AtomicI64::new(next),
            entries: Mutex::new(entries),
            hook,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The job's writer (group commit).
    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Passes a checkpoint.
    pub async fn checkpoint(&self, c: Checkpoint) {
        if let Some(h) = &self.hook {
            h.reached(&c).await;
        }
    }

    /// The created resource of a tag.
    pub fn resource(&self, tag: &str) -> Option<Resource> {
        self.lock()
            .get(tag)
            .filter(|e| !e.deleted)
            .and_then(|e| e.resource.clone())
    }

    /// Whether the tag is recorded (intent or created).
    pub fn is_recorded(&self, tag: &str) -> bool {
        self.lock().contains_key(tag)
    }

    /// Sequence numbers of the records a task created.
    pub fn records_of_task(&self, task: usize) -> Vec<i64> {
        self.by_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&task)
            .cloned()
            .unwrap_or_default()
    }

    /// Every record, in recording order.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        in_order(&self.lock())
    }

    async fn record_intent(
        &self,
        clock: &Clock,
        tag: &str,
        task: usize,
        lookup: &Lookup,
        depends_on: Vec<i64>,
        serves: &BTreeSet<InstanceId>,
    ) -> Result<(), RecoveryError> {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let record = rows::ResourceRecord {
            seq,
            tag: tag.to_owned(),
            task_index: i64::try_from(task).map_err(corrupt)?,
            kind: lookup.kind().to_owned(),
            state: "intent".into(),
            lookup_json: serde_json::to_string(lookup).map_err(corrupt)?,
            resource_json: None,
            depends_on_json: serde_json::to_string(&depends_on).map_err(corrupt)?,
            serves_json: serde_json::to_string(serves).map_err(corrupt)?,
        };
        let t = Instant::now();
        self.journal.write(Write::Intent(record)).await?;
        clock.add(t);
        self.by_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task)
            .or_default()
            .push(seq);
        self.lock().insert(
            tag.to_owned(),
            Entry {
                seq,
                task,
                lookup: lookup.clone(),
                resource: None,
                deleted: false,
                depends_on,
                serves: serves.clone(),
            },
        );
        Ok(())
    }

    async fn complete(
        &self,
        clock: &Clock,
        tag: &str,
        resource: &Resource,
    ) -> Result<(), RecoveryError> {
        let json = serde_json::to_string(resource).map_err(corrupt)?;
        let t = Instant::now();
        self.journal
            .write(Write::Complete {
                tag: tag.to_owned(),
                json,
            })
            .await?;
        clock.add(t);
        if let Some(e) = self.lock().get_mut(tag) {
            e.resource = Some(resource.clone());
        }
        Ok(())
    }

    /// Records the result of a create call without waiting for the commit: the intent
    /// is committed already, so a crash before this write commits leaves an intent
    /// that a resumed run or the rollback finds on the target by its tag — the same
    /// as a crash right after the call. Dependent tasks read the result from memory.
    fn complete_queued(&self, tag: &str, resource: &Resource) -> Result<(), RecoveryError> {
        let json = serde_json::to_string(resource).map_err(corrupt)?;
        self.journal.send(Write::Complete {
            tag: tag.to_owned(),
            json,
        })?;
        if let Some(e) = self.lock().get_mut(tag) {
            e.resource = Some(resource.clone());
        }
        Ok(())
    }

    /// Records that a resource is gone (or was never created).
    pub async fn mark_deleted(&self, clock: &Clock, tag: &str) -> Result<(), RecoveryError> {
        let t = Instant::now();
        self.journal
            .write(Write::Deleted {
                tag: tag.to_owned(),
            })
            .await?;
        clock.add(t);
        if let Some(e) = self.lock().get_mut(tag) {
            e.deleted = true;
        }
        Ok(())
    }

    /// Records a resource found after an intent (rollback resolving a crash).
    pub async fn resolve(
        &self,
        clock: &Clock,
        tag: &str,
        resource: &Resource,
    ) -> Result<(), RecoveryError> {
        self.complete(clock, tag, resource).await
    }

    /// Creates a resource exactly once: returns the recorded resource when the tag is
    /// complete; after an intent without result, looks the tag up on the target
    /// first; otherwise records the intent, calls `create`, and records the result.
    /// When `create` fails, the tag is looked up once more (the call may have gone
    /// through before the error) before the error is returned.
    #[allow(clippy::too_many_arguments)]
    pub async fn ensure<F, Fut>(
        &self,
        cloud: &TargetCloud,
        clock: &Clock,
        tag: &str,
        task: usize,
        lookup: Lookup,
        depends_on: Vec<i64>,
        serves: &BTreeSet<InstanceId>,
        create: F,
    ) -> Result<Resource, RecoveryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Resource, RecoveryError>>,
    {
        let known = self.lock().get(tag).cloned();
        match known {
            Some(e) if e.deleted => {
                return Err(corrupt(format!(
                    "resource {tag} is recorded as deleted; the job was rolled back"
                )));
            }
            Some(Entry {
                resource: Some(r), ..
            }) => return Ok(r),
            Some(e) => {
                if let Some(r) = find(cloud, &e.lookup, tag).await? {
                    tracing::info!(tag, "found a resource created before a restart");
                    self.complete(clock, tag, &r).await?;
                    return Ok(r);
                }
            }
            None => {
                self.record_intent(clock, tag, task, &lookup, depends_on, serves)
                    .await?
            }
        }
        self.checkpoint(Checkpoint::IntentRecorded {
            tag: tag.to_owned(),
        })
        .await;
        match create().await {
            Ok(r) => {
                self.checkpoint(Checkpoint::CreatedNotRecorded {
                    tag: tag.to_owned(),
                })
                .await;
                self.complete_queued(tag, &r)?;
                Ok(r)
            }
            Err(e) => match find(cloud, &lookup, tag).await {
                Ok(Some(r)) => {
                    tracing::warn!(tag, error = %e, "the create call failed but the resource exists: adopted");
                    self.complete(clock, tag, &r).await?;
                    Ok(r)
                }
                _ => Err(e),
            },
        }
    }
}
