//! The end-to-end paths: a drill recovered, rolled back and reported with the target
//! back to its previous state; a DR with one failing volume, confirmed, with the
//! failed instance handed to the plans side.

use holdfast_orchestrator::dr::plan_state::PlanState;
use serde_json::json;

use crate::harness::*;
use crate::helpers::{Backend, error_code, spawn_app};
use crate::support::listing;

async fn drill_rollback_report(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let id = ctx.drill_now("plan-a").await;
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", ctx.monitor(&id).await);
    assert!(done["cleanup_at"].is_string(), "{done}");
    let m = ctx.monitor(&id).await;
    let instances = m["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3, "{m}");
    assert!(instances.iter().all(|i| i["status"] == "success"), "{m}");
    let volumes = m["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 5, "{m}");
    assert!(volumes.iter().all(|v| v["status"] == "recovered"), "{m}");
    assert_eq!(m["progress"]["percent"], 100);
    assert!(!m["log"].as_array().unwrap().is_empty());
    assert!(
        m["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "succeeded")
    );
    assert_ne!(
        listing(&w.clouds).await,
        w.before,
        "the drill built nothing"
    );

    let (s, b) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    assert_eq!(
        listing(&w.clouds).await,
        w.before,
        "the target is back to its state before the drill"
    );
    let r = ctx.report_of(&id).await;
    let sum = &r["summary"];
    assert_eq!(sum["job_type"], "drill");
    assert_eq!(sum["result"], "success");
    assert_eq!(sum["ending"], "rolled_back");
    assert_eq!(sum["resolved_point"], "snapshot:gs-1");
    assert!(sum["rpo_ms"].as_i64().unwrap() >= 60_000, "{sum}");
    assert!(sum["rto_ms"].as_i64().unwrap() > 0, "{sum}");
    assert!(
        r["detail"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["stage"] == "rollback"),
        "the report has the rollback tasks"
    );
    let rid = r["id"].as_str().unwrap();
    let html = ctx
        .app
        .client
        .get(
            ctx.app
                .url(&format!("/api/v1/reports/{rid}/export?format=html")),
        )
        .bearer_auth(&ctx.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert!(html.text().await.unwrap().contains("Recovery report"));
    let (s, json_export) = ctx
        .call(
            "GET",
            &format!("/api/v1/reports/{rid}/export?format=json"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(json_export["id"], rid);
    let (s, b) = ctx
        .call(
            "GET",
            &format!("/api/v1/reports/{rid}/export?format=pdf"),
            None,
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (422, "invalid_field"));
    // the group's history and the events
    let (s, h) = ctx
        .call("GET", "/api/v1/protection-groups/group-a/history", None)
        .await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["finished"]["total"], 1, "{h}");
    // the list's search (job name, any case) and period (end time) filters
    let name = h["finished"]["items"][0]["job_name"].as_str().unwrap();
    let finished = h["finished"]["items"][0]["finished_at"].as_str().unwrap();
    let part = name[1..name.len().min(4)].to_uppercase();
    for (query, total) in [
        (format!("q={part}"), 1),
        ("q=no-such-job".to_owned(), 0),
        (format!("since={finished}"), 1),
        (format!("until={finished}"), 0),
        (
            "since=2026-01-01T00:00:00Z&until=2999-01-01T00:00:00Z".to_owned(),
            1,
        ),
        ("since=2999-01-01T00:00:00Z".to_owned(), 0),
    ] {
        let (s, l) = ctx
            .call("GET", &format!("/api/v1/reports?{query}"), None)
            .await;
        assert_eq!((s, l["total"].as_i64()), (200, Some(total)), "{query}: {l}");
    }
    let (s, b) = ctx
        .call("GET", "/api/v1/reports?since=yesterday", None)
        .await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_query"), "{b}");
    let (_, ev) = ctx
        .call(
            "GET",
            &format!("/api/v1/events?object={id}&limit=500"),
            None,
        )
        .await;
    let codes: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "job.created",
        "job.started",
        "job.completed",
        "job.clearing",
        "job.finished",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    // a drill report can be deleted
    let (s, _) = ctx
        .call("DELETE", &format!("/api/v1/reports/{rid}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = ctx
        .call("GET", &format!("/api/v1/reports/{rid}"), None)
        .await;
    assert_eq!(s, 404);
    ctx.app.stop().await;
}

async fn dr_partial_confirm(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    // creation rules: a plan that is not ready
    *w.source.plan_state.lock().unwrap() = PlanState::Prepare;
    let (s, b) = ctx
        .call(
            "POST",
            "/api/v1/jobs",
            Some(json!({"plan_id": "plan-a", "type": "dr", "run_type": "now",
                "recovery_point": "latest-snapshot"})),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "plan_not_ready"), "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("Prepare"),
        "{b}"
    );
    *w.source.plan_state.lock().unwrap() = PlanState::Emergency;
    let (s, b) = ctx
        .call(
            "POST",
            "/api/v1/jobs",
            Some(json!({"plan_id": "plan-a", "type": "dr", "run_type": "schedule",
                "recovery_point": "latest-snapshot",
                "schedule": {"recurrence": {"kind": "daily", "every_days": 1, "at": {"hour": 2, "minute": 0}}}})),
        )
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (422, "invalid_combination"),
        "{b}"
    );

    // the db server's data volume fails
    let db = w
        .source
        .spec
        .topology
        .instances
        .iter()
        .find(|i| i.name == "db")
        .unwrap()
        .clone();
    let data = db.volumes.iter().find(|v| !v.boot).unwrap().id.clone();
    w.materialiser.failing.lock().unwrap().push(data.clone());
    let id = ctx
        .create(json!({"plan_id": "plan-a", "type": "dr", "run_type": "now",
            "recovery_point": "latest-snapshot"}))
        .await;
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "partial_success", "{done}");
    assert!(
        done["cleanup_at"].is_null(),
        "a DR job has no automatic cleanup"
    );
    let m = ctx.monitor(&id).await;
    for i in m["instances"].as_array().unwrap() {
        let want = if i["id"] == db.id.as_str() {
            "failed"
        } else {
            "success"
        };
        assert_eq!(i["status"], want, "{i}");
    }
    let failed: Vec<_> = m["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{m}");
    assert_eq!(failed[0]["id"], data.as_str());
    // no other job of the group while a DR is in progress
    let (s, b) = ctx
        .call(
            "POST",
            "/api/v1/jobs",
            Some(
                json!({"plan_id": "plan-a", "type": "drill", "run_type": "now",
                "recovery_point": "latest-snapshot"}),
            ),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "dr_in_progress"), "{b}");

    let (s, b) = ctx.op(&id, "confirm", None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    // the failed db server's own resources were rolled back; the rest stays
    let project = crate::support::project_id(&w.clouds.dst, "shop").await;
    let counts = crate::support::project_counts(&w.clouds, &project).await;
    assert_eq!(counts["servers"], 2, "{counts:?}");
    assert_eq!(
        counts["volumes"], 3,
        "app1 root + data, web1 root: {counts:?}"
    );
    let confirmed = w.source.confirmed.lock().unwrap().clone();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].0.as_str(), "plan-a");
    assert_eq!(confirmed[0].1, vec![db.id.clone()]);
    let r = ctx.report_of(&id).await;
    assert_eq!(r["summary"]["result"], "partial_success");
    assert_eq!(r["summary"]["ending"], "confirmed");
    let rid = r["id"].as_str().unwrap();
    let (s, b) = ctx
        .call("DELETE", &format!("/api/v1/reports/{rid}"), None)
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "report_permanent"));
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drill_rollback_report_sqlite() {
    drill_rollback_report(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drill_rollback_report_postgres() {
    drill_rollback_report(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_partial_confirm_sqlite() {
    dr_partial_confirm(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_partial_confirm_postgres() {
    dr_partial_confirm(Backend::Postgres).await;
}

/// `holdfast serve` reaches the plans: a job for a plan that does not exist is a 404
/// naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_for_an_unknown_plan_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.admin().await;
    let (s, b) = app
        .call(
            "POST",
            "/api/v1/jobs",
            Some(&admin),
            Some(
                json!({"plan_id": "no-such-plan", "type": "drill", "run_type": "now",
                "recovery_point": "latest-snapshot"}),
            ),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-plan")
    );
    app.stop().await;
}

/// A DR job's failed instance recovered again (jobs.md, "Retry"), then confirmed.
async fn dr_retry_failed_instance(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(backend, &w, engine_options()).await;
    let topo = &w.source.spec.topology;
    let db = topo
        .instances
        .iter()
        .find(|i| i.name == "db")
        .unwrap()
        .clone();
    let app1 = topo
        .instances
        .iter()
        .find(|i| i.name == "app1")
        .unwrap()
        .id
        .clone();
    let data = db.volumes.iter().find(|v| !v.boot).unwrap().id.clone();
    w.materialiser.failing.lock().unwrap().push(data);
    let id = ctx
        .create(json!({"plan_id": "plan-a", "type": "dr", "run_type": "now",
            "recovery_point": "latest-snapshot"}))
        .await;
    assert_eq!(
        ctx.wait_state(&id, "completed").await["result"],
        "partial_success"
    );
    // refused: a recovered instance, a snapshot the group does not have, no instance
    let (s, b) = ctx
        .op(&id, "retry", Some(json!({"instances": [app1.as_str()]})))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "retry_refused"), "{b}");
    let (s, b) = ctx
        .op(
            &id,
            "retry",
            Some(json!({"instances": [db.id.as_str()], "snapshot_id": "gs-gone"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "unknown_snapshot"),
        "{b}"
    );
    let (s, b) = ctx.op(&id, "retry", Some(json!({"instances": []}))).await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "invalid_transition"),
        "{b}"
    );
    assert_eq!(ctx.job(&id).await.unwrap()["state"], "completed");
    // the volume can be read now: the retry recovers the db server
    w.materialiser.failing.lock().unwrap().clear();
    let (s, b) = ctx
        .op(&id, "retry", Some(json!({"instances": [db.id.as_str()]})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["job"]["state"], "running");
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", ctx.monitor(&id).await);
    let m = ctx.monitor(&id).await;
    assert!(
        m["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "success"),
        "{m}"
    );
    assert!(
        m["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"].as_str().unwrap().starts_with("retry: ")),
        "{m}"
    );
    let (s, _) = ctx.op(&id, "confirm", None).await;
    assert_eq!(s, 200);
    ctx.wait_gone(&id).await;
    assert_eq!(w.source.confirmed.lock().unwrap()[0].1, vec![]);
    let project = crate::support::project_id(&w.clouds.dst, "shop").await;
    let counts = crate::support::project_counts(&w.clouds, &project).await;
    assert_eq!(counts["servers"], 3, "{counts:?}");
    assert_eq!(counts["volumes"], 5, "{counts:?}");
    assert_eq!(ctx.report_of(&id).await["summary"]["result"], "success");
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_retry_failed_instance_sqlite() {
    dr_retry_failed_instance(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_retry_failed_instance_postgres() {
    dr_retry_failed_instance(Backend::Postgres).await;
}
