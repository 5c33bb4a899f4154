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
//! another size; each instance has two volumes).

#[allow(dead_code)]
#[path = "../tests/recovery/materialiser.rs"]
mod materialiser;
#[allow(dead_code)]
#[path = "../tests/recovery/support.rs"]
mod support;

use std::time::{Duration, Instant};

use holdfast_orchestrator::dr::job::{JobType, RecoveryPoint};
use holdfast_orchestrator::dr::recovery_graph::{Scope, TaskGraph};
use holdfast_orchestrator::recovery::ExecutorOptions;
use holdfast_testcloud::config::Timing;

use support::*;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let instances: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let web = instances * 2 / 5;
    let app = instances - 1 - web;
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
    let ex = executor(&c, &tdb.db, materialiser(&c), options).await;
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
    let wall_sum: i64 = report
        .tasks
        .iter()
        .map(|t| t.finished_at.unwrap_or(0) - t.started_at.unwrap_or(0))
        .sum();
    let cloud_sum: i64 = cloud.iter().sum();
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
    println!("sum of task cloud time        {cloud_sum} ms");
    println!(
        "sum of task database time     {} ms",
        (wall_sum - cloud_sum).max(0)
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
