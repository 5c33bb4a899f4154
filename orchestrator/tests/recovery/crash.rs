//! A crash (the executor's task aborted) at every checkpoint of a recovery — every
//! task boundary, between "intent recorded" and "call made", between "call made" and
//! "result recorded" — and of a rollback: the resumed run ends with the same result,
//! no duplicate and no orphan, and rollback leaves the target as before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use holdfast_openstack::Filters;
use holdfast_orchestrator::dr::job::{JobType, RecoveryPoint};
use holdfast_orchestrator::dr::job_state::TasksOutcome;
use holdfast_orchestrator::recovery::{Checkpoint, CheckpointHook, ExecutorOptions};
use holdfast_testcloud::config::Timing;
use tokio::sync::Notify;

use crate::support::*;

/// Counts checkpoints; at number `stop` signals and stalls forever (until aborted).
#[derive(Debug)]
struct CrashAt {
    stop: usize,
    seen: AtomicUsize,
    hit: Notify,
    at: std::sync::Mutex<Option<Checkpoint>>,
}

impl CrashAt {
    fn new(stop: usize) -> Arc<CrashAt> {
        Arc::new(CrashAt {
            stop,
            seen: AtomicUsize::new(0),
            hit: Notify::new(),
            at: std::sync::Mutex::new(None),
        })
    }
}

impl CheckpointHook for CrashAt {
    fn reached<'a>(&'a self, c: &'a Checkpoint) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.seen.fetch_add(1, Ordering::SeqCst) == self.stop {
                *self.at.lock().unwrap() = Some(c.clone());
                self.hit.notify_one();
                std::future::pending::<()>().await;
            }
        })
    }
}

fn serial() -> ExecutorOptions {
    // one task at a time: checkpoint numbers mean the same point in every run
    ExecutorOptions {
        concurrency: 1,
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_every_checkpoint_of_recovery_and_rollback_sqlite() {
    crash_suite(Backend::Sqlite, 1).await;
}

/// The same on PostgreSQL, at every third checkpoint (every kind is still hit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_checkpoints_of_recovery_and_rollback_postgres() {
    crash_suite(Backend::Postgres, 3).await;
}

async fn crash_suite(backend: Backend, stride: usize) {
    let c = start_clouds(1, 1, Timing::instant()).await;
    let (spec, _) = plan_from_source(&c).await;
    let before = listing(&c).await;
    let tdb = TestDb::new(backend).await;
    let m = materialiser(&c);
    let plain = executor(&c, &tdb.db, m.clone(), serial()).await;

    // a clean run: how many checkpoints, and what the recovered project holds
    let count = CrashAt::new(usize::MAX);
    let ex = plain.clone().with_hook(count.clone());
    let job = new_job(&spec, JobType::Drill, RecoveryPoint::LatestData);
    ex.create_job(&job).await.unwrap();
    let clean = ex.recover(&job.id).await.unwrap();
    assert_eq!(clean.outcome, TasksOutcome::Success);
    let recovery_points = count.seen.swap(0, Ordering::SeqCst);
    let project = project_id(&c.dst, &format!("shop-drill-{}", &job.id.as_str()[..8])).await;
    let expected = project_counts(&c, &project).await;
    ex.rollback(&job.id).await.unwrap();
    let rollback_points = count.seen.load(Ordering::SeqCst);
    assert_eq!(listing(&c).await, before);
    assert!(recovery_points > 60, "{recovery_points} checkpoints");
    eprintln!(
        "{} tasks; crashing at each of {recovery_points} recovery and {rollback_points} rollback checkpoints",
        clean.tasks.len()
    );

    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for stop in (0..recovery_points).step_by(stride) {
        let hook = CrashAt::new(stop);
        let ex = plain.clone().with_hook(hook.clone());
        let job = new_job(&spec, JobType::Drill, RecoveryPoint::LatestData);
        ex.create_job(&job).await.unwrap();
        let id = job.id.clone();
        let run = tokio::spawn(async move { ex.recover(&id).await });
        tokio::time::timeout(Duration::from_secs(30), hook.hit.notified())
            .await
            .unwrap_or_else(|_| panic!("checkpoint {stop} never reached"));
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        let at = hook.at.lock().unwrap().clone().unwrap();
        *kinds
            .entry(match at {
                Checkpoint::TaskStarting { .. } => "task starting",
                Checkpoint::TaskFinished { .. } => "task finished",
                Checkpoint::IntentRecorded { .. } => "intent recorded, call not made",
                Checkpoint::CreatedNotRecorded { .. } => "call made, result not recorded",
                Checkpoint::DeletedNotRecorded { .. } => "deleted, not recorded",
            })
            .or_default() += 1;
        // a restarted orchestrator resumes the job from the database
        let report = plain.recover(&job.id).await.unwrap();
        assert_eq!(report.outcome, TasksOutcome::Success, "crash at {at:?}");
        let project = project_id(&c.dst, &format!("shop-drill-{}", &job.id.as_str()[..8])).await;
        assert_eq!(
            project_counts(&c, &project).await,
            expected,
            "no duplicate, nothing missing after a crash at {at:?}"
        );
        let servers = c
            .dst
            .nova()
            .servers(&Filters::all_tenants().eq("project_id", &project))
            .await
            .unwrap();
        assert!(servers.iter().all(|s| s.status == "ACTIVE"));
        let rb = plain.rollback(&job.id).await.unwrap();
        assert!(rb.failed.is_empty(), "{:?}", rb.failed);
        assert_eq!(
            listing(&c).await,
            before,
            "no orphan after a crash at {at:?}"
        );
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    eprintln!("recovery crash points by kind: {kinds:?}");

    for stop in (0..rollback_points).step_by(stride) {
        let job = new_job(&spec, JobType::Drill, RecoveryPoint::LatestData);
        plain.create_job(&job).await.unwrap();
        plain.recover(&job.id).await.unwrap();
        let hook = CrashAt::new(stop);
        let ex = plain.clone().with_hook(hook.clone());
        let id = job.id.clone();
        let run = tokio::spawn(async move { ex.rollback(&id).await });
        tokio::time::timeout(Duration::from_secs(30), hook.hit.notified())
            .await
            .unwrap_or_else(|_| panic!("rollback checkpoint {stop} never reached"));
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        let at = hook.at.lock().unwrap().clone().unwrap();
        let rb = plain.rollback(&job.id).await.unwrap();
        assert!(rb.failed.is_empty(), "{:?}", rb.failed);
        assert_eq!(listing(&c).await, before, "rollback crashed at {at:?}");
    }
    tdb.close().await;
    c.source.shutdown().await;
    c.target.shutdown().await;
}
