//! Benchmark of the recovery executor (issue 7): a drill of 100 instances / 200
//! volumes on the test cloud with its default transition delays (server build
//! 200 ms, power 100 ms, volume 100 ms), SQLite database, then its rollback.
//!
//! Baseline, measured in the same run: the cloud's own critical path, i.e. the
//! longest dependency chain of the task graph weighted by each task's cloud time
//! (time in OpenStack calls and waiting for the cloud's transitions; a task's
//! database time is excluded). Orchestration overhead = total / critical path - 1.
//!
//! `cargo bench -p holdfast-orchestrator --bench recovery` (add `-- <instances>` for
//! another size; each instance has two volumes; `-- postgres` for PostgreSQL;
//! `-- --chain` prints the critical chain task by task).

#[allow(dead_code)]
#[path = "../tests/recovery/materialiser.rs"]
mod materialiser;
#[allow(dead_code)]
#[path = "../tests/recovery/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use holdfast_orchestrator::dr::job::{JobType, RecoveryPoint};
use holdfast_orchestrator::dr::recovery_graph::{Scope, TaskGraph};
use holdfast_orchestrator::recovery::{Checkpoint, CheckpointHook, ExecutorOptions};
use holdfast_testcloud::config::Timing;

use support::*;

/// A task's start and end, as far as seen.
type Span = (Option<Instant>, Option<Instant>);

/// When each recovery task really started and ended (the database's task times are
/// commit times of the group-committed journal).
#[derive(Debug, Default)]
struct Timeline {
    at: Mutex<BTreeMap<usize, Span>>,
}

impl CheckpointHook for Timeline {
    fn reached<'a>(&'a self, c: &'a Checkpoint) -> BoxFuture<'a, ()> {
        let now = Instant::now();
        let mut at = self.at.lock().unwrap();
        match c {
            Checkpoint::TaskStarting {
                stage: "recovery",
                index,
            } => at.entry(*index).or_default().0 = Some(now),
            Checkpoint::TaskFinished {
                stage: "recovery",
                index,
            } => at.entry(*index).or_default().1 = Some(now),
            _ => {}
        }
        Box::pin(async {})
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let instances: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let web = instances * 2 / 5;
    let app = instances - 1 - web;
    let verbose = std::env::args().any(|a| a == "--chain");
    let backend = if std::env::args().any(|a| a == "postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let c = start_sized(web, app, true, Timing::default()).await;
    let (spec, volumes) = plan_from_source(&c).await;
    println!(
        "drill of {} instances / {} volumes (test cloud default timings), {backend:?}",
        spec.topology.instances.len(),
        volumes.len()
    );
    let tdb = TestDb::new(backend).await;
    let options = ExecutorOptions {
        concurrency: 256,
        poll_interval: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(120),
        task_attempts: 3,
    };
    let timeline = Arc::new(Timeline::default());
    let ex = executor(&c, &tdb.db, materialiser(&c), options)
        .await
        .with_hook(timeline.clone());
    let job = new_job(&spec, JobType::Drill, RecoveryPoint::LatestData);
    ex.create_job(&job).await.unwrap();
    let t0 = Instant::now();
    let report = ex.recover(&job.id).await.unwrap();
    let total = t0.elapsed();
    assert!(
        report.instances.values().all(|ok| *ok),
        "every instance recovered: {:?}",
        report.outcome
    );
    let graph = TaskGraph::build(&spec.topology, JobType::Drill, &Scope::All).unwrap();
    let cloud: Vec<i64> = report.tasks.iter().map(|t| t.cloud_ms).collect();
    let mut finish = vec![0i64; cloud.len()];
    for (n, t) in graph.tasks().iter().enumerate() {
        let start = t.deps.iter().map(|(d, _)| finish[d.0]).max().unwrap_or(0);
        finish[n] = start + cloud[n];
    }
    let critical = finish.iter().copied().max().unwrap_or(0).max(1);
    // the critical chain, walked back from its last task: what its tasks spent outside
    // cloud calls (database) and how long each waited after its last dependency ended
    let at = timeline.at.lock().unwrap().clone();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut chain = Vec::new();
    let mut cur = (0..finish.len()).max_by_key(|&n| finish[n]);
    while let Some(n) = cur {
        chain.push(n);
        cur = graph.tasks()[n]
            .deps
            .iter()
            .map(|(d, _)| d.0)
            .max_by_key(|&d| finish[d]);
    }
    chain.reverse();
    let (mut chain_db, mut chain_gap) = (0.0, 0.0);
    for (i, &n) in chain.iter().enumerate() {
        let Some((Some(start), Some(end))) = at.get(&n).copied() else {
            continue;
        };
        let db = (ms(end - start) - cloud[n] as f64).max(0.0);
        chain_db += db;
        let ready = graph.tasks()[n]
            .deps
            .iter()
            .filter_map(|(d, _)| at.get(&d.0).and_then(|t| t.1))
            .max();
        let gap = match ready {
            Some(ready) => ms(start.saturating_duration_since(ready)),
            None if i == 0 => ms(start.saturating_duration_since(t0)),
            None => 0.0,
        };
        chain_gap += gap;
        if verbose {
            println!(
                "  chain task {n:4} {:40} cloud {:5} ms, database {db:5.0} ms, waited {gap:5.0} ms",
                graph.tasks()[n].kind.to_string(),
                cloud[n]
            );
        }
    }
    let last_end = at.values().filter_map(|t| t.1).max().unwrap_or(t0);
    let tail = ms(total.saturating_sub(last_end.saturating_duration_since(t0)));
    let cloud_sum: i64 = cloud.iter().sum();
    let wall_sum: f64 = at.values().filter_map(|t| Some(ms(t.1? - t.0?))).sum();
    let total_ms = total.as_millis() as i64;
    let t1 = Instant::now();
    let rb = ex.rollback(&job.id).await.unwrap();
    let rollback = t1.elapsed();
    assert!(rb.failed.is_empty());
    println!("tasks                         {}", report.tasks.len());
    println!("total recovery time           {total_ms} ms");
    println!("cloud critical path           {critical} ms");
    println!(
        "orchestration overhead        {:.1} % (total / critical path - 1)",
        (total_ms as f64 / critical as f64 - 1.0) * 100.0
    );
    println!(
        "critical chain                {} tasks: {chain_db:.0} ms outside cloud calls, {chain_gap:.0} ms waiting to start",
        chain.len()
    );
    println!("after the last task           {tail:.0} ms (job marked recovered, report read)");
    println!("sum of task cloud time        {cloud_sum} ms");
    println!(
        "sum of task database time     {:.0} ms",
        (wall_sum - cloud_sum as f64).max(0.0)
    );
    println!(
        "rollback ({} resources)      {} ms",
        rb.deleted,
        rollback.as_millis()
    );
    tdb.close().await;
    c.source.shutdown().await;
    c.target.shutdown().await;
}
