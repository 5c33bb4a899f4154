//! Pause / resume (by hand and by the pause timeout), cancel, the automatic rollback of
//! a drill and its extension, and every refused operation answering 409.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;
use crate::helpers::{Backend, error_code};
use crate::support::listing;

fn done_tasks(m: &Value) -> i64 {
    m["progress"]["done"].as_i64().unwrap()
}

/// The executor's log line when it has stopped between tasks for a pause.
const PARKED: &str =
    "paused: no task is running and none starts until the job is resumed or canceled";

/// Waits until the executor of the paused job has stopped between tasks (its log
/// says so and no task runs), lets the engine look at the job twice more, and checks
/// that nothing moved.
async fn assert_paused_still(ctx: &Ctx, id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = ctx.monitor(id).await;
        let parked = m["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == PARKED);
        if parked
            && m["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["state"] != "running")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the paused job never stopped between tasks: {m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = done_tasks(&ctx.monitor(id).await);
    ctx.engine_passes(2).await;
    let m = ctx.monitor(id).await;
    assert_eq!(done_tasks(&m), before, "a paused job started tasks: {m}");
    assert_eq!(m["job"]["state"], "paused");
    assert!(done_tasks(&m) < m["progress"]["total"].as_i64().unwrap());
}

async fn wait_running_started(ctx: &Ctx, id: &str) {
    ctx.wait_state(id, "running").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while done_tasks(&ctx.monitor(id).await) == 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pause_resume_cancel(backend: Backend) {
    let w = world(1, 1, slow()).await;
    let mut opts = engine_options();
    opts.pause_timeout = Duration::from_secs(4);
    let ctx = start(backend, &w, opts).await;

    // pause, then resume by hand
    let id = ctx.drill_now("plan-a").await;
    wait_running_started(&ctx, &id).await;
    let (s, b) = ctx.op(&id, "pause", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["job"]["state"], "paused");
    assert!(b["job"]["resumes_at"].is_string(), "{b}");
    assert_paused_still(&ctx, &id).await;
    let (s, b) = ctx.op(&id, "run", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["job"]["state"], "running");
    // pause again: the pause timeout resumes it
    let (s, b) = ctx.op(&id, "pause", None).await;
    if s == 200 {
        assert_eq!(b["job"]["state"], "paused");
        // no operation: the pause timeout resumes it (it may complete at once)
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while ctx.job(&id).await.unwrap()["state"] == "paused" {
            assert!(
                std::time::Instant::now() < deadline,
                "the pause never timed out"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        // the job completed meanwhile
        assert_eq!(error_code(&b), "invalid_transition", "{b}");
    }
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", ctx.monitor(&id).await);
    let (s, _) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&id).await;

    // cancel: tasks not started are skipped, the result is canceled
    let id = ctx.drill_now("plan-a").await;
    wait_running_started(&ctx, &id).await;
    let (s, b) = ctx.op(&id, "cancel", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["job"]["state"], "canceling");
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "canceled");
    let m = ctx.monitor(&id).await;
    assert!(
        m["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["state"] == "skipped" && t["error"] == "the job was canceled"),
        "{m}"
    );
    let (s, _) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&id).await;
    assert_eq!(ctx.report_of(&id).await["summary"]["result"], "canceled");
    assert_eq!(listing(&w.clouds).await, w.before);
    ctx.app.stop().await;
}

const OPS: [&str; 11] = [
    "run",
    "pause",
    "cancel",
    "retry",
    "rollback",
    "retry-rollback",
    "ignore-rollback",
    "confirm",
    "retry-confirm",
    "cancel-confirm",
    "extend-rollback-wait",
];

fn body_of(op: &str) -> Option<Value> {
    match op {
        "retry" => Some(json!({"instances": ["i-1"]})),
        "extend-rollback-wait" => Some(json!({"minutes": 30})),
        _ => None,
    }
}

/// Every operation not in `allowed` is refused with 409 naming the state.
async fn assert_refused(ctx: &Ctx, id: &str, state: &str, allowed: &[&str]) {
    for op in OPS.iter().filter(|o| !allowed.contains(o)) {
        let (s, b) = ctx.op(id, op, body_of(op)).await;
        assert_eq!(s, 409, "{op} on a {state} job: {b}");
        assert_eq!(error_code(&b), "invalid_transition", "{op}: {b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(state), "{op}: {msg}");
    }
}

async fn refusals_and_automatic_rollback(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    // a waiting `at` job: only extend-less things... nothing applies
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let waiting = ctx
        .create(
            json!({"plan_id": "plan-b", "type": "drill", "run_type": "at",
            "recovery_point": "latest-snapshot", "at": at}),
        )
        .await;
    assert_eq!(ctx.job(&waiting).await.unwrap()["state"], "waiting");
    assert_refused(&ctx, &waiting, "waiting", &[]).await;
    // its time can change; unknown operations are 404
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string();
    let (s, b) = ctx
        .call(
            "PATCH",
            &format!("/api/v1/jobs/{waiting}"),
            Some(json!({"at": later})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = ctx.op(&waiting, "explode", None).await;
    assert_eq!((s, error_code(&b).as_str()), (404, "unknown_operation"));
    let (s, _) = ctx
        .call("DELETE", &format!("/api/v1/jobs/{waiting}"), None)
        .await;
    assert_eq!(s, 200);

    // a completed drill
    let id = ctx.drill_now("plan-a").await;
    let done = ctx.wait_state(&id, "completed").await;
    assert_refused(
        &ctx,
        &id,
        "completed",
        &["rollback", "extend-rollback-wait"],
    )
    .await;
    let (s, b) = ctx
        .call(
            "PATCH",
            &format!("/api/v1/jobs/{id}"),
            Some(json!({"at": later})),
        )
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "job_not_updatable"),
        "{b}"
    );
    // extend the wait: the cleanup time moves by 30 minutes
    let cleanup = |j: &Value| {
        j["cleanup_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let first = cleanup(&done);
    let (s, b) = ctx
        .op(&id, "extend-rollback-wait", Some(json!({"minutes": 30})))
        .await;
    assert_eq!(s, 200, "{b}");
    let moved = cleanup(&b["job"]);
    assert_eq!(
        moved.duration_since(first),
        jiff::SignedDuration::from_mins(30)
    );
    let (s, b) = ctx
        .op(&id, "extend-rollback-wait", Some(json!({"minutes": 0})))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (422, "invalid_field"), "{b}");
    // a completed job can be deleted: its resources stay, with the cleanup script
    let other = ctx.drill_now("plan-b").await;
    ctx.wait_state(&other, "completed").await;
    let (s, b) = ctx
        .call("DELETE", &format!("/api/v1/jobs/{other}"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["left_resources"], true);
    assert!(
        b["cleanup_script"]
            .as_str()
            .unwrap()
            .contains("openstack server delete"),
        "{b}"
    );
    assert!(ctx.job(&other).await.is_none());
    // the cleanup time comes: the drill rolls back by itself
    make_due(&ctx, &id, "rollback_at").await;
    ctx.wait_gone(&id).await;
    let r = ctx.report_of(&id).await;
    assert_eq!(r["summary"]["ending"], "rolled_back");
    assert_ne!(
        listing(&w.clouds).await,
        w.before,
        "the deleted job's resources stay"
    );
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_resume_cancel_sqlite() {
    pause_resume_cancel(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_resume_cancel_postgres() {
    pause_resume_cancel(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_and_automatic_rollback_sqlite() {
    refusals_and_automatic_rollback(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_and_automatic_rollback_postgres() {
    refusals_and_automatic_rollback(Backend::Postgres).await;
}
