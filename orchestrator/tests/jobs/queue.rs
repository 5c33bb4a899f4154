//! The queue: jobs of one protection group one at a time in queue order, jobs of
//! different groups in parallel.

use serde_json::Value;

use crate::harness::*;
use crate::helpers::{Backend, error_code};
use crate::support::listing;

fn state(j: &Option<Value>) -> String {
    j.as_ref()
        .map_or("gone".into(), |j| j["state"].as_str().unwrap().to_owned())
}

async fn serial_per_group_parallel_across(backend: Backend) {
    let w = world(1, 1, slow()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let a1 = ctx.drill_now("plan-a").await;
    let a2 = ctx.drill_now("plan-a").await;
    let b1 = ctx.drill_now("plan-b").await;
    // b1 runs next to a1; a2 waits its turn
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut saw_parallel = false;
    loop {
        let (sa1, sa2, sb1) = (
            state(&ctx.job(&a1).await),
            state(&ctx.job(&a2).await),
            state(&ctx.job(&b1).await),
        );
        assert_eq!(
            sa2, "pending",
            "a2 waits while a1 occupies the group ({sa1})"
        );
        saw_parallel |= sa1 == "running" && sb1 == "running";
        if sa1 == "completed" && sb1 == "completed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{sa1} {sa2} {sb1}");
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert!(saw_parallel, "jobs of two groups ran at the same time");
    // a2 cannot be started by hand while a1 occupies the group
    let (s, b) = ctx.op(&a2, "run", None).await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "invalid_transition"),
        "{b}"
    );
    assert!(b["error"]["message"].as_str().unwrap().contains(&a1), "{b}");
    // a completed job still occupies its group until it has finished: two more
    // engine passes (each applies the queue) leave a2 pending
    ctx.engine_passes(2).await;
    assert_eq!(state(&ctx.job(&a2).await), "pending");
    for id in [&a1, &b1] {
        let (s, b) = ctx.op(id, "rollback", None).await;
        assert_eq!(s, 200, "{b}");
    }
    ctx.wait_gone(&a1).await;
    let done = ctx.wait_state(&a2, "completed").await;
    assert_eq!(done["result"], "success");
    let (s, _) = ctx.op(&a2, "rollback", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&a2).await;
    ctx.wait_gone(&b1).await;
    assert_eq!(listing(&w.clouds).await, w.before);
    ctx.app.stop().await;
}

/// A scheduled drill whose slot passed more than 10 minutes ago while another job of
/// its group was active is canceled with the reason, and waits for its next run.
async fn late_scheduled_drill_is_canceled(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let busy = ctx.drill_now("plan-a").await;
    ctx.wait_state(&busy, "completed").await;
    let id = ctx
        .create(
            serde_json::json!({"plan_id": "plan-a", "type": "drill", "run_type": "schedule",
            "recovery_point": "latest-snapshot",
            "schedule": {"recurrence": {"kind": "weekly", "every_weeks": 1, "weekday": "monday",
                "at": {"hour": 1, "minute": 0}}}}),
        )
        .await;
    make_due_by(&ctx, &id, "fire_at", 11 * 60 * 1000).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let report = loop {
        let (_, b) = ctx.call("GET", "/api/v1/reports?limit=500", None).await;
        if let Some(r) = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["job_id"] == id)
        {
            break r.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no report of the late drill"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(report["result"], "canceled");
    let r = ctx.report_of(&id).await;
    assert_eq!(r["summary"]["ending"], "not_started");
    assert!(
        r["summary"]["reason"]
            .as_str()
            .unwrap()
            .contains("10 minutes"),
        "{r}"
    );
    let j = ctx.wait_state(&id, "waiting").await;
    assert!(j["next_run_at"].is_string(), "{j}");
    assert_eq!(
        state(&ctx.job(&busy).await),
        "completed",
        "the active job is untouched"
    );
    let (s, _) = ctx.op(&busy, "rollback", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&busy).await;
    let (s, _) = ctx
        .call("DELETE", &format!("/api/v1/jobs/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(listing(&w.clouds).await, w.before);
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_scheduled_drill_is_canceled_sqlite() {
    late_scheduled_drill_is_canceled(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_scheduled_drill_is_canceled_postgres() {
    late_scheduled_drill_is_canceled(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serial_per_group_parallel_across_sqlite() {
    serial_per_group_parallel_across(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serial_per_group_parallel_across_postgres() {
    serial_per_group_parallel_across(Backend::Postgres).await;
}
