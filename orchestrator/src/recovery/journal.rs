//! Group commit of the executor's writes: concurrent tasks hand their writes (intent
//! records, results, task states, log lines) to one writer, which commits everything
//! queued in one transaction and then answers each caller. A caller continues only
//! after its write is committed, so "recorded before the call" holds, while N
//! concurrent writes cost one commit (one fsync) instead of N. Writes a caller waits
//! for (intents before create calls, deletions) go first in every batch; queued writes
//! (results of create calls, task states, log lines) follow in their order.
//!
//! Every batch is fenced by the run it belongs to ([`crate::db::jobs::claim_run`]):
//! its transaction first holds the job's row at the run's number, so once a newer run
//! of the job has claimed it, an older run's writes — a writer still committing after
//! its run was aborted, or after its process lost the job — are refused instead of
//! overwriting what the newer run recorded.

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

/// Why a batch was not committed.
enum Refused {
    /// A newer run of the job claimed it: this writer stops.
    Superseded,
    /// The database refused.
    Db(DbError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Refused {
        Refused::Db(e)
    }
}

async fn commit(db: &Db, job: &str, run: i64, batch: &[Request]) -> Result<(), Refused> {
    let mut tx = db.begin().await?;
    if !jobs::holds_run(&mut tx, job, run).await? {
        return Err(Refused::Superseded);
    }
    for (w, _) in batch {
        apply(&mut tx, job, w).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Superseded => write!(f, "a newer run of the job claimed it"),
            Refused::Db(e) => e.fmt(f),
        }
    }
}

impl Journal {
    /// Starts the writer of run `run` of `job`; it stops when every handle is dropped
    /// or a newer run claims the job.
    pub(crate) fn start(db: Db, job: String, run: i64) -> Journal {
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
                // queued writes ride along in bounded numbers, so that a caller's
                // write never waits behind thousands of them
                for _ in 0..256 {
                    match queued_rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                match commit(&db, &job, run, &batch).await {
                    Ok(()) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(Refused::Superseded) => {
                        tracing::warn!(job = %job, run, "a newer run took this job over; this run's writes stop");
                        let why = format!(
                            "run {run} of job {job} was superseded by a newer run of the job; nothing more is written for it"
                        );
                        for (_, reply) in batch {
                            let _ = reply.send(Err(why.clone()));
                        }
                        break;
                    }
                    Err(Refused::Db(_)) if batch.len() > 1 => {
                        // one bad write must not fail its neighbours: one by one
                        for (w, reply) in batch {
                            let r = commit(&db, &job, run, &[(w, oneshot::channel().0)]).await;
                            let _ = reply.send(r.map_err(|e| e.to_string()));
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        for (_, reply) in batch {
                            let _ = reply.send(Err(why.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::jobs::JobRecord;

    async fn db_with_job(dir: &std::path::Path) -> Db {
        let url = format!("sqlite://{}?mode=rwc", dir.join("j.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let mut conn = db.conn().await.unwrap();
        jobs::insert(
            &mut conn,
            &JobRecord {
                id: "job-1".into(),
                plan_id: "p".into(),
                group_id: "g".into(),
                target_cluster_id: "c".into(),
                job_type: "drill".into(),
                recovery_point: "latest-data".into(),
                spec_json: "{}".into(),
                phase: "recovering".into(),
                result: None,
                created_at: 0,
                started_at: None,
                recovered_at: None,
                rollback_started_at: None,
                rolled_back_at: None,
            },
        )
        .await
        .unwrap();
        jobs::ensure_tasks(&mut conn, "job-1", "recovery", &["a".to_owned()])
            .await
            .unwrap();
        db
    }

    fn finished(state: &'static str) -> Write {
        Write::TaskFinished {
            stage: "recovery",
            index: 0,
            state,
            cloud_ms: 1,
            error: None,
        }
    }

    async fn task_state(db: &Db) -> String {
        let mut conn = db.conn().await.unwrap();
        jobs::tasks(&mut conn, "job-1", "recovery").await.unwrap()[0]
            .state
            .clone()
    }

    #[tokio::test]
    async fn a_newer_run_fences_every_write_of_an_older_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_with_job(dir.path()).await;
        let first = {
            let mut conn = db.conn().await.unwrap();
            jobs::claim_run(&mut conn, "job-1").await.unwrap()
        };
        let old = Journal::start(db.clone(), "job-1".into(), first);
        old.write(finished("failed")).await.unwrap();
        assert_eq!(task_state(&db).await, "failed");

        let second = {
            let mut conn = db.conn().await.unwrap();
            jobs::claim_run(&mut conn, "job-1").await.unwrap()
        };
        assert!(second > first);
        let new = Journal::start(db.clone(), "job-1".into(), second);
        new.write(finished("succeeded")).await.unwrap();

        // the older run's writer is refused, says why, and writes nothing more
        let e = old.write(finished("failed")).await.unwrap_err().to_string();
        assert!(e.contains("superseded by a newer run"), "{e}");
        assert!(old.flush().await.is_err(), "the older writer stopped");
        assert_eq!(task_state(&db).await, "succeeded");
        new.flush().await.unwrap();
    }
}
