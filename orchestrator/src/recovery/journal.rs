//! Group commit of the executor's writes: concurrent tasks hand their writes (intent
//! records, results, task states, log lines) to one writer, which commits everything
//! queued in one transaction and then answers each caller. A caller continues only
//! after its write is committed, so "recorded before the call" holds, while N
//! concurrent writes cost one commit (one fsync) instead of N. Writes a caller waits
//! for (the records around cloud calls) go first in every batch; queued writes (task
//! states, log lines) follow in their order.

use tokio::sync::{mpsc, oneshot};

use super::RecoveryError;
use crate::db::{Db, DbError, jobs, recovery_resources as rows};

/// One write.
#[derive(Debug)]
pub(crate) enum Write {
    /// Record an intent.
    Intent(rows::ResourceRecord),
    /// Complete a recorded intent.
    Complete {
        /// Tag.
        tag: String,
        /// The resource (JSON).
        json: String,
    },
    /// Mark a resource deleted.
    Deleted {
        /// Tag.
        tag: String,
    },
    /// A task starts.
    TaskRunning {
        /// Stage.
        stage: &'static str,
        /// Task.
        index: i64,
    },
    /// A task ended.
    TaskFinished {
        /// Stage.
        stage: &'static str,
        /// Task.
        index: i64,
        /// `succeeded`, `failed`, `skipped`.
        state: &'static str,
        /// Cloud time.
        cloud_ms: i64,
        /// Why it failed.
        error: Option<String>,
    },
    /// A log line.
    Log(jobs::LogLine),
    /// Nothing: a barrier for [`Journal::flush`].
    Flush,
}

type Request = (Write, oneshot::Sender<Result<(), String>>);

/// The writer of one job's run.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    /// Writes a caller waits for (records before and after cloud calls).
    urgent: mpsc::UnboundedSender<Request>,
    /// Queued writes (task states, log lines, flush barriers), in order.
    queued: mpsc::UnboundedSender<Request>,
}

fn now() -> i64 {
    crate::db::millis(jiff::Timestamp::now())
}

async fn apply(conn: &mut sqlx::AnyConnection, job: &str, w: &Write) -> Result<(), DbError> {
    match w {
        Write::Intent(r) => rows::record_intent(conn, job, r, now()).await,
        Write::Complete { tag, json } => rows::complete(conn, job, tag, json, now()).await,
        Write::Deleted { tag } => rows::mark_deleted(conn, job, tag, now()).await,
        Write::TaskRunning { stage, index } => {
            jobs::task_running(conn, job, stage, *index, now()).await
        }
        Write::TaskFinished {
            stage,
            index,
            state,
            cloud_ms,
            error,
        } => {
            jobs::task_finished(
                conn,
                job,
                stage,
                *index,
                state,
                *cloud_ms,
                error.as_deref(),
                now(),
            )
            .await
        }
        Write::Log(line) => jobs::log(conn, job, line).await,
        Write::Flush => Ok(()),
    }
}

async fn commit(db: &Db, job: &str, batch: &[Request]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (w, _) in batch {
        apply(&mut tx, job, w).await?;
    }
    tx.commit().await?;
    Ok(())
}

impl Journal {
    /// Starts the writer of `job`'s writes; it stops when every handle is dropped.
    pub(crate) fn start(db: Db, job: String) -> Journal {
        let (urgent, mut urgent_rx) = mpsc::unbounded_channel::<Request>();
        let (queued, mut queued_rx) = mpsc::unbounded_channel::<Request>();
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    biased;
                    Some(r) = urgent_rx.recv() => r,
                    Some(r) = queued_rx.recv() => r,
                    else => break,
                };
                // what callers wait for first, then queued writes, in their order
                let mut batch = vec![first];
                while batch.len() < 1024 {
                    match urgent_rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                while batch.len() < 4096 {
                    match queued_rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                match commit(&db, &job, &batch).await {
                    Ok(()) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(_) if batch.len() > 1 => {
                        // one bad write must not fail its neighbours: one by one
                        for (w, reply) in batch {
                            let r = commit(&db, &job, &[(w, oneshot::channel().0)]).await;
                            let _ = reply.send(r.map_err(|e| e.to_string()));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Journal { urgent, queued }
    }

    /// Queues a write without waiting for its commit (task states and log lines:
    /// losing the last of them in a crash only makes the resumed job run an
    /// idempotent task again). Writes are committed in the order they are queued.
    pub(crate) fn send(&self, w: Write) -> Result<(), RecoveryError> {
        let (reply, _) = oneshot::channel();
        self.queued
            .send((w, reply))
            .map_err(|_| RecoveryError::Journal("the journal writer stopped".into()))
    }

    /// Returns once every write queued before is committed.
    pub(crate) async fn flush(&self) -> Result<(), RecoveryError> {
        let (reply, answer) = oneshot::channel();
        self.queued
            .send((Write::Flush, reply))
            .map_err(|_| RecoveryError::Journal("the journal writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecoveryError::Journal("the journal writer stopped".into()))?
            .map_err(RecoveryError::Journal)
    }

    /// Writes and returns once the write is committed.
    pub(crate) async fn write(&self, w: Write) -> Result<(), RecoveryError> {
        let (reply, answer) = oneshot::channel();
        self.urgent
            .send((w, reply))
            .map_err(|_| RecoveryError::Journal("the journal writer stopped".into()))?;
        answer
            .await
            .map_err(|_| RecoveryError::Journal("the journal writer stopped".into()))?
            .map_err(RecoveryError::Journal)
    }
}
