//! Failed rollbacks and confirms (`clear-failed`) and every way out of them:
//! retry-rollback, ignore-rollback with its cleanup script, retry-confirm,
//! cancel-confirm.

use holdfast_testcloud::faults::{FaultAction, FaultRule};
use serde_json::json;

use crate::harness::*;
use crate::helpers::{Backend, error_code};
use crate::support::listing;

fn server_deletes_fail() -> FaultRule {
    FaultRule {
        id: 0,
        service: Some("compute".into()),
        method: Some("DELETE".into()),
        path_contains: Some("/servers/".into()),
        probability: None,
        remaining: None,
        action: FaultAction::Error {
            status: 409,
            message: Some("injected: the server is locked".into()),
        },
    }
}

async fn expect_refused(ctx: &Ctx, id: &str, op: &str, part: &str) {
    let (s, b) = ctx.op(id, op, None).await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "invalid_transition"),
        "{op}: {b}"
    );
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("clear-failed") && msg.contains(part),
        "{op}: {msg}"
    );
}

async fn dr_job(ctx: &Ctx) -> String {
    let id = ctx
        .create(json!({"plan_id": "plan-a", "type": "dr", "run_type": "now",
            "recovery_point": "latest-snapshot"}))
        .await;
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", ctx.monitor(&id).await);
    id
}

async fn clear_failed_ways_out(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let faults = w.clouds.target.faults();

    // DR: the rollback fails, then is retried
    let id = dr_job(&ctx).await;
    let rule = faults.add(server_deletes_fail()).unwrap();
    let (s, _) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200);
    let failed = ctx.wait_state(&id, "clear-failed").await;
    assert_eq!(failed["operation"], "rollback");
    assert!(
        failed["reason"].as_str().unwrap().contains("locked"),
        "{failed}"
    );
    expect_refused(&ctx, &id, "retry-confirm", "rollback").await;
    let (s, _) = ctx
        .op(&id, "extend-rollback-wait", Some(json!({"minutes": 10})))
        .await;
    assert_eq!(s, 200, "a DR job's wait can be extended in clear-failed");
    faults.remove(rule.id);
    let (s, b) = ctx.op(&id, "retry-rollback", None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    assert_eq!(ctx.report_of(&id).await["summary"]["ending"], "rolled_back");
    assert_eq!(listing(&w.clouds).await, w.before);

    // DR: the confirm fails; retry it, still failing; cancel it (roll back)
    let id = dr_job(&ctx).await;
    *w.source.refuse_confirm.lock().unwrap() = true;
    let (s, _) = ctx.op(&id, "confirm", None).await;
    assert_eq!(s, 200);
    let failed = ctx.wait_state(&id, "clear-failed").await;
    assert_eq!(failed["operation"], "confirm");
    expect_refused(&ctx, &id, "ignore-rollback", "confirm").await;
    let (s, _) = ctx.op(&id, "retry-confirm", None).await;
    assert_eq!(s, 200);
    ctx.wait_state(&id, "clear-failed").await;
    let (s, b) = ctx.op(&id, "cancel-confirm", None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    assert!(w.source.confirmed.lock().unwrap().is_empty());
    assert_eq!(ctx.report_of(&id).await["summary"]["ending"], "rolled_back");
    assert_eq!(listing(&w.clouds).await, w.before);

    // DR: a failed confirm retried successfully
    *w.source.refuse_confirm.lock().unwrap() = false;
    let id = dr_job(&ctx).await;
    *w.source.refuse_confirm.lock().unwrap() = true;
    ctx.op(&id, "confirm", None).await;
    ctx.wait_state(&id, "clear-failed").await;
    *w.source.refuse_confirm.lock().unwrap() = false;
    let (s, _) = ctx.op(&id, "retry-confirm", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&id).await;
    assert_eq!(w.source.confirmed.lock().unwrap().len(), 1);
    assert_eq!(ctx.report_of(&id).await["summary"]["ending"], "confirmed");
    // the confirmed workload stays on the target
    ctx.app.stop().await;
}

async fn drill_rollback_ignored(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let faults = w.clouds.target.faults();
    let id = ctx.drill_now("plan-a").await;
    ctx.wait_state(&id, "completed").await;
    let rule = faults.add(server_deletes_fail()).unwrap();
    ctx.op(&id, "rollback", None).await;
    let failed = ctx.wait_state(&id, "clear-failed").await;
    assert!(
        failed["cleanup_at"].is_string(),
        "a drill retries at its cleanup time"
    );
    expect_refused(&ctx, &id, "retry-rollback", "by itself").await;
    let (s, b) = ctx.op(&id, "ignore-rollback", None).await;
    assert_eq!(s, 200, "{b}");
    let script = b["cleanup_script"].as_str().unwrap();
    assert!(script.starts_with("#!/bin/sh"), "{script}");
    assert!(script.contains("openstack server delete"), "{script}");
    ctx.wait_gone(&id).await;
    let r = ctx.report_of(&id).await;
    assert_eq!(r["summary"]["ending"], "cleanup_ignored");
    faults.remove(rule.id);
    assert_ne!(listing(&w.clouds).await, w.before, "the leftovers stay");
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clear_failed_ways_out_sqlite() {
    clear_failed_ways_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clear_failed_ways_out_postgres() {
    clear_failed_ways_out(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drill_rollback_ignored_sqlite() {
    drill_rollback_ignored(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drill_rollback_ignored_postgres() {
    drill_rollback_ignored(Backend::Postgres).await;
}
