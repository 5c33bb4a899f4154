//! `/api/v1/schedules`: the built-in schedules with their next and last slot and the
//! last result, paging and filters, who may read what, and the CLI.

use std::time::Duration;

use holdfast_orchestrator::db::Db;
use holdfast_orchestrator::domain::schedule::{MissedPolicy, Recurrence};
use holdfast_orchestrator::scheduler;
use serde_json::Value;

use crate::helpers::{TestApp, error_code, eventually};
use crate::on_both_backends;

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    app.call("GET", path, Some(token), None).await
}

async fn schedules_are_listed_and_shown_with_their_last_result(app: &TestApp) {
    let admin = app.admin().await;
    // The leader registers and fires the built-in schedules at start.
    let fired = eventually(Duration::from_secs(30), || async {
        let (_, b) = get(app, &admin, "/api/v1/schedules/builtin:event-retention").await;
        b["last_fire"]["result"] == "ok"
    })
    .await;
    assert!(fired, "the event-retention schedule did not fire");
    let (s, b) = get(app, &admin, "/api/v1/schedules/builtin:event-retention").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["kind"], "event-retention");
    assert_eq!(b["owner"]["kind"], "system");
    assert_eq!(b["time_zone"], "UTC");
    assert_eq!(b["missed_policy"], "run_once_late");
    assert_eq!(b["recurrence"]["kind"], "every_hours", "{b}");
    assert_eq!(b["recurrence"]["n"], 1, "{b}");
    assert!(
        b["next_fire_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{b}"
    );
    assert!(
        b["last_fire"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("deleted")),
        "{b}"
    );
    let licence_checked = eventually(Duration::from_secs(30), || async {
        let (_, b) = get(app, &admin, "/api/v1/schedules/builtin:licence-check").await;
        b["last_fire"]["result"] == "ok"
    })
    .await;
    assert!(licence_checked, "the licence check did not run");

    // A plan's snapshot schedule whose plan is gone: owned by nobody.
    let db = Db::connect(&app.config.effective_database_url())
        .await
        .unwrap();
    scheduler::ensure(
        &db,
        "plan-snapshot:gone",
        "plan-snapshot",
        Recurrence::EveryHours { n: 6 },
        "UTC",
        4_102_444_800_000, // 2100-01-01: does not fire during the test
        MissedPolicy::RunOnceLate,
    )
    .await
    .unwrap();
    db.close().await;

    let (s, b) = get(app, &admin, "/api/v1/schedules").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 3, "{b}");
    let ids: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "builtin:event-retention",
            "builtin:licence-check",
            "plan-snapshot:gone"
        ]
    );
    let (_, b) = get(app, &admin, "/api/v1/schedules?limit=1&offset=1").await;
    assert_eq!(b["total"], 3);
    assert_eq!(b["items"][0]["id"], "builtin:licence-check");
    let (_, b) = get(app, &admin, "/api/v1/schedules?kind=plan-snapshot").await;
    assert_eq!(b["total"], 1);
    assert_eq!(b["items"][0]["owner"]["kind"], "plan");
    assert_eq!(b["items"][0]["owner"]["id"], "gone");
    assert!(b["items"][0]["last_fire"].is_null());
    assert_eq!(b["items"][0]["next_fire_at"], "2100-01-01T00:00:00Z");
    let (_, b) = get(app, &admin, "/api/v1/schedules?owner=gone").await;
    assert_eq!(b["total"], 1);
    let (s, b) = get(app, &admin, "/api/v1/schedules?limit=0").await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_query"));
    let (s, b) = get(app, &admin, "/api/v1/schedules/nope").await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"));

    // Managers read the system's schedules, not those of objects outside their groups;
    // Operators and Viewers read none.
    let group = app.create_group(&admin, "sched").await;
    let mut tokens = Vec::new();
    for role in ["manager", "operator", "viewer"] {
        let id = format!("sched-{role}");
        let (_, pw) = app.create_user(&admin, &id, role, &[&group]).await;
        tokens.push((role, app.login(&id, &pw).await));
    }
    let manager = &tokens[0].1;
    let (s, b) = get(app, manager, "/api/v1/schedules").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 2, "{b}");
    let (s, _) = get(app, manager, "/api/v1/schedules/builtin:licence-check").await;
    assert_eq!(s, 200);
    let (s, b) = get(app, manager, "/api/v1/schedules/plan-snapshot:gone").await;
    assert_eq!((s, error_code(&b).as_str()), (403, "forbidden"));
    for (role, token) in &tokens[1..] {
        let (s, b) = get(app, token, "/api/v1/schedules").await;
        assert_eq!((s, error_code(&b).as_str()), (403, "forbidden"), "{role}");
        let (s, _) = get(app, token, "/api/v1/schedules/builtin:licence-check").await;
        assert_eq!(s, 403, "{role}");
    }
}

on_both_backends!(schedules_are_listed_and_shown_with_their_last_result);
