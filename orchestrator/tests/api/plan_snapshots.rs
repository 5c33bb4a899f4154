//! Plans replicate by themselves, on SQLite and PostgreSQL: two test clouds whose
//! volume files are served by two real `holdfast-agent`s over RabbitMQ. Create a group
//! and a plan → the plan goes `Prepare` → `Normal` by itself with one snapshot and the
//! mirror on the target holds the source's bytes; manual snapshots through the API
//! (refused without a plan); retention keeps the plan's N; the scheduled snapshot
//! fires; the replication facts of the plan; deleting the plan stops replication and
//! removes the mirror and the snapshots.
//!
//! Needs the agent binary: `cargo build -p holdfast-agent`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use holdfast_orchestrator::config::Secret;
use holdfast_orchestrator::db::{self, Db};
use serde_json::{Value, json};

use crate::agents_bus::{AgentProc, delete_namespace, namespace};
use crate::clusters::cloud::amqp_url;
use crate::helpers::{Backend, TestApp, error_code, eventually, spawn_app_with};
use crate::protection::env;

fn volumes_dir(tc: &holdfast_testcloud::TestCloud) -> PathBuf {
    tc.storage_dir().join("file").join("file")
}

async fn call_ok(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let (s, b) = app.call(method, path, Some(token), body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

async fn db_of(app: &TestApp) -> Db {
    let db = Db::connect(&app.config.effective_database_url())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

async fn snapshot_count(db: &Db, plan: &str) -> usize {
    let mut c = db.conn().await.unwrap();
    db::replication::snapshots(&mut c, plan)
        .await
        .unwrap()
        .len()
}

async fn plan_state(app: &TestApp, token: &str, plan: &str) -> Value {
    call_ok(
        app,
        "GET",
        &format!("/api/v1/plans/{plan}/state"),
        token,
        None,
    )
    .await
}

async fn events_with(app: &TestApp, token: &str, code: &str) -> Vec<Value> {
    let b = call_ok(app, "GET", "/api/v1/events?limit=500", token, None).await;
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == code)
        .cloned()
        .collect()
}

fn storage(node: &str, dir: &Path) -> Value {
    json!([{"type": "file", "backend": "file", "node": node, "path_prefix": dir.display().to_string()}])
}

async fn plan_replicates_and_snapshots(backend: Backend) {
    let ns = namespace();
    let n2 = ns.clone();
    let app = spawn_app_with(backend, move |c| {
        c.bus_url = Some(Secret::new(amqp_url()));
        c.bus_namespace = n2;
        c.agent_heartbeat_interval_ms = 500;
    })
    .await;
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    let e = env(&app, &admin, &ops).await;
    let target_tc = &e.target().tc;
    let (src_dir, tgt_dir) = (volumes_dir(&e.source.tc), volumes_dir(target_tc));
    // The clusters' storage: served by node-a (source) and node-b (target).
    for (id, node, dir) in [(&e.src, "node-a", &src_dir), (&e.dst, "node-b", &tgt_dir)] {
        call_ok(
            &app,
            "PATCH",
            &format!("/api/v1/clusters/{id}"),
            &admin,
            Some(json!({"storage": storage(node, dir)})),
        )
        .await;
    }
    let nodes = tempfile::tempdir().unwrap();
    let _a = AgentProc::start_serving(nodes.path(), &ns, "node-a", "file", &src_dir);
    let _b = AgentProc::start_serving(nodes.path(), &ns, "node-b", "file", &tgt_dir);
    let db = db_of(&app).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            let mut c = db.conn().await.unwrap();
            db::agents::list(&mut c)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.state == "online" && a.data_plane_addr.is_some())
                .count()
                == 2
        })
        .await,
        "agents did not register"
    );

    // A group of one instance (its boot volume), a snapshot every minute.
    let mut g = e.group_body("shop", &ops, &["server-00000"]);
    g["snapshot_interval"] = json!({"kind": "every_minutes", "n": 1});
    let g = call_ok(&app, "POST", "/api/v1/protection-groups", &admin, Some(g)).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let snaps = format!("/api/v1/protection-groups/{gid}/snapshots");
    // No plan: no snapshot now.
    let (s, b) = app.call("POST", &snaps, Some(&admin), None).await;
    assert_eq!((s, error_code(&b).as_str()), (409, "no_plan"), "{b}");

    let s = e.source.session().await;
    let vol = s
        .cinder()
        .volumes(&holdfast_openstack::Filters::all_tenants())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name.as_deref() == Some("vol-00000"))
        .unwrap()
        .id;
    let src_file = src_dir.join(format!("volume-{vol}"));
    let head: Vec<u8> = (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&src_file)
            .unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&head).unwrap();
    }
    let mut body = e.plan_body("shop-dr", &gid, &["server-00000"]);
    body["retention"] = json!(2);
    let p = call_ok(&app, "POST", "/api/v1/plans", &admin, Some(body)).await;
    let pid = p["id"].as_str().unwrap().to_owned();
    assert_eq!(plan_state(&app, &admin, &pid).await["state"], "Prepare");

    // Prepare → Normal by itself, with exactly one snapshot.
    assert!(
        eventually(Duration::from_secs(120), || async {
            plan_state(&app, &admin, &pid).await["state"] == "Normal"
        })
        .await,
        "plan did not become Normal: {}",
        plan_state(&app, &admin, &pid).await
    );
    assert_eq!(snapshot_count(&db, &pid).await, 1);
    let mirror = tgt_dir.join(format!("holdfast-mirror-{vol}"));
    let got = std::fs::read(&mirror).unwrap_or_default();
    assert!(
        got.len() >= head.len() && got[..head.len()] == head[..],
        "mirror lacks the source's bytes"
    );
    let first = events_with(&app, &admin, "snapshot.created").await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("first snapshot")
    );

    // The replication facts of the plan.
    let r = call_ok(
        &app,
        "GET",
        &format!("/api/v1/plans/{pid}/replication"),
        &admin,
        None,
    )
    .await;
    let vols = r["volumes"].as_array().unwrap();
    assert!(vols.iter().any(|v| v["volume"] == vol.as_str()), "{r}");
    for v in vols {
        assert_eq!(v["phase"], "healthy", "{r}");
        assert_eq!(v["initial_copy_done"], true, "{r}");
        assert_eq!(v["rpo_ms"], 15 * 60_000, "{r}");
    }

    // Manual snapshots; retention keeps 2.
    let m1 = call_ok(&app, "POST", &snaps, &admin, None).await;
    let m2 = call_ok(&app, "POST", &snaps, &admin, None).await;
    let list = call_ok(&app, "GET", &snaps, &admin, None).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    // Newest first; retention keeps 2. The every-minute schedule may have taken a
    // snapshot between the two manual ones (a slow machine): then that one is second.
    assert_eq!(ids.len(), 2, "{list}");
    assert_eq!(ids[0], m2["id"].as_str().unwrap(), "{list}");
    assert!(
        ids[1] == m1["id"].as_str().unwrap()
            || events_with(&app, &admin, "snapshot.created")
                .await
                .iter()
                .any(|e| e["message"].as_str().unwrap().starts_with("scheduled")),
        "{list}"
    );
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["plan"]["plan_name"], "shop-dr", "{list}");
    assert!(
        list["items"][0]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["volume"] == vol.as_str()),
        "{list}"
    );

    // The scheduled snapshot fires (every minute): a third "created" event, 2 kept.
    assert!(
        eventually(Duration::from_secs(100), || async {
            events_with(&app, &admin, "snapshot.created")
                .await
                .iter()
                .any(|e| e["message"].as_str().unwrap().starts_with("scheduled"))
        })
        .await,
        "no scheduled snapshot"
    );
    // The retention runs right after the snapshot is recorded.
    assert!(
        eventually(Duration::from_secs(30), || async {
            snapshot_count(&db, &pid).await == 2
        })
        .await,
        "retention did not keep 2"
    );

    // Delete one snapshot through the API; an unknown one is 404.
    let newest = call_ok(&app, "GET", &snaps, &admin, None).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call_ok(&app, "DELETE", &format!("{snaps}/{newest}"), &admin, None).await;
    assert_eq!(snapshot_count(&db, &pid).await, 1);
    let (s, b) = app
        .call("DELETE", &format!("{snaps}/{newest}"), Some(&admin), None)
        .await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"), "{b}");

    // Deleting the plan stops replication: no mirror, no snapshots.
    call_ok(
        &app,
        "DELETE",
        &format!("/api/v1/plans/{pid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(snapshot_count(&db, &pid).await, 0);
    assert!(
        eventually(Duration::from_secs(30), || async { !mirror.exists() }).await,
        "mirror not removed"
    );
    let mut c = db.conn().await.unwrap();
    assert!(
        db::replication::volumes(&mut c, &pid)
            .await
            .unwrap()
            .is_empty()
    );
    drop(c);
    db.close().await;
    app.stop().await;
    delete_namespace(&ns, &["node-a", "node-b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    plan_replicates_and_snapshots(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    plan_replicates_and_snapshots(Backend::Postgres).await;
}
