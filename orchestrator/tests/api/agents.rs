//! The agents' read API, `holdfast status` exit codes and `holdfast support-bundle`,
//! on both backends, with agent rows as the bus handler stores them.

use std::process::Command;

use holdfast_orchestrator::db::{self, Db};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::on_both_backends;

const HEALTH: &str = r#"{"agent_version":"0.1.0","uptime_s":12,"load":[0.5,0.4,0.3],
"memory_total_bytes":1000,"memory_available_bytes":500,"pid":42,"threads":7,"rss_bytes":9,
"disks":[{"path":"/srv/volumes","total_bytes":1000,"available_bytes":10}],
"workers":[{"name":"replicator:vol-1","state":"busy"}],
"tracker":{"kind":"scan","kmod_loaded":false,"kmod_abi_version":null,"tracked_volumes":1},
"replications":1}"#;

async fn db_of(app: &TestApp) -> Db {
    Db::connect(&app.config.effective_database_url())
        .await
        .unwrap()
}

/// Runs `f` (one transaction) until SQLite stops answering "database is locked": the
/// test writes through its own pool beside the server's, so a transaction that reads
/// before it writes may lose the upgrade to the server's writer and must start again.
async fn retry_locked<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, db::DbError>>,
{
    for attempt in 0.. {
        match f().await {
            Ok(t) => return t,
            Err(e) if attempt < 100 && e.to_string().contains("database is locked") => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    unreachable!()
}

/// Registers an online agent `node`; returns its id.
pub(crate) async fn insert_agent(app: &TestApp, node: &str) -> String {
    let db = &db_of(app).await;
    let reg = &db::agents::Registration {
        node_id: node.to_owned(),
        hostname: format!("{node}.example"),
        agent_version: "0.1.0".into(),
        protocol_version: "1.0".into(),
        data_plane_addr: Some("10.0.0.5:7400".into()),
        backends_json: r#"[{"name":"files","kind":"file"}]"#.into(),
        tracker: "scan".into(),
    };
    retry_locked(move || async move {
        let mut tx = db.begin().await?;
        let now = jiff::Timestamp::now().as_millisecond();
        db::agents::register(&mut tx, reg, now).await?;
        tx.commit().await?;
        Ok(())
    })
    .await;
    db.close().await;
    node.to_owned()
}

async fn heartbeat_and_lagging_volume(app: &TestApp, node: &str, lag_ms: i64, rpo_ms: i64) {
    let db = &db_of(app).await;
    let updated = retry_locked(move || async move {
        let mut tx = db.begin().await?;
        let now = jiff::Timestamp::now().as_millisecond();
        db::agents::record_heartbeat(&mut tx, node, "0.1.0", "scan", HEALTH, now).await?;
        let rec = db::agents::ReplicationRecord {
            node_id: node.into(),
            volume_id: "vol-1".into(),
            state: "replicating".into(),
            acked_epoch: 7,
            size_bytes: 1 << 20,
            initial_copy_bytes: 1 << 20,
            bytes_sent_total: 3 << 20,
            last_cycle_bytes: 4096,
            throughput_bps: 1000,
            lag_ms: Some(lag_ms),
            last_synced_at: Some(now - lag_ms),
            last_error: None,
            rpo_ms: None,
            updated_at: now,
        };
        db::agents::upsert_replication(&mut tx, &rec).await?;
        let n = db::agents::set_rpo(&mut tx, "vol-1", Some(rpo_ms)).await?;
        tx.commit().await?;
        Ok(n)
    })
    .await;
    assert_eq!(updated, 1);
    db.close().await;
}

async fn mark_all_unreachable(app: &TestApp) -> Vec<(String, i64)> {
    let db = &db_of(app).await;
    let changed = retry_locked(move || async move {
        let mut tx = db.begin().await?;
        let far_future = jiff::Timestamp::now().as_millisecond() + 3_600_000;
        let changed = db::agents::mark_unreachable(&mut tx, far_future, far_future).await?;
        tx.commit().await?;
        Ok(changed)
    })
    .await;
    db.close().await;
    changed
}

async fn agents_api_shows_health_and_lag_against_rpo(app: &TestApp) {
    let admin = app.admin().await;
    let (s, ready) = app.call("GET", "/readyz", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(ready["bus"]["status"], "not_configured", "{ready}");
    assert!(
        ready["bus"]["message"]
            .as_str()
            .unwrap()
            .contains("without agents"),
        "{ready}"
    );
    assert_eq!(ready["leader"], true, "a single replica takes the lease");

    let (s, list) = app.call("GET", "/api/v1/agents", Some(&admin), None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["total"], 0);

    insert_agent(app, "compute-1").await;
    heartbeat_and_lagging_volume(app, "compute-1", 5_000, 60_000).await;
    let (s, d) = app
        .call("GET", "/api/v1/agents/compute-1", Some(&admin), None)
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["state"], "online");
    assert_eq!(d["hostname"], "compute-1.example");
    assert_eq!(d["backends"][0]["kind"], "file");
    assert_eq!(d["health"]["pid"], 42);
    assert_eq!(d["health"]["workers"][0]["state"], "busy");
    assert_eq!(d["replications"][0]["within_rpo"], true);
    // 10 of 1000 bytes free on the storage path is a problem.
    let problems = d["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{d}");
    assert!(problems[0].as_str().unwrap().contains("/srv/volumes"));

    // Lag beyond the RPO.
    heartbeat_and_lagging_volume(app, "compute-1", 120_000, 60_000).await;
    let (_, d) = app
        .call("GET", "/api/v1/agents/compute-1", Some(&admin), None)
        .await;
    assert_eq!(d["replications"][0]["within_rpo"], false, "{d}");
    assert!(
        d["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("beyond its RPO of 60 s")),
        "{d}"
    );
    let (_, list) = app.call("GET", "/api/v1/agents", Some(&admin), None).await;
    assert_eq!(list["items"][0]["behind_rpo"], 1, "{list}");
    assert_eq!(list["items"][0]["replications"], 1);

    // Unreachable.
    assert_eq!(mark_all_unreachable(app).await.len(), 1);
    assert!(mark_all_unreachable(app).await.is_empty(), "only once");
    let (_, d) = app
        .call("GET", "/api/v1/agents/compute-1", Some(&admin), None)
        .await;
    assert_eq!(d["state"], "unreachable");
    assert!(
        d["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("unreachable since")
    );

    let (s, e) = app
        .call("GET", "/api/v1/agents/nowhere", Some(&admin), None)
        .await;
    assert_eq!(s, 404, "{e}");
    let (s, _) = app.call("GET", "/api/v1/agents", None, None).await;
    assert_eq!(s, 401);
}

fn holdfast(profile: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("--profile-file")
        .arg(profile)
        .args(args)
        .env("HOLDFAST_PASSWORD", ADMIN_PASSWORD)
        .env_remove("HOLDFAST_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn status_exit_codes(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profiles.toml");
    let p = profile.clone();
    let base = app.base.clone();
    let run = move |args: Vec<String>| {
        let p = p.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            holdfast(&p, &a)
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    // Not logged in: the clusters and agents cannot be checked.
    let (code, out, _) = run(args(&["status", "--url", &base])).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM  clusters and agents"), "{out}");
    assert!(out.contains("OK       database"), "{out}");

    let (code, _, err) = run(args(&["login", "--url", &base, "--user", "admin"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(args(&["status"])).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("INFO     bus"), "{out}");
    assert!(out.contains("without agents"), "{out}");
    assert!(out.contains("INFO     clusters"), "{out}");
    assert!(out.contains("none registered"), "{out}");
    assert!(out.ends_with("healthy\n"), "{out}");

    insert_agent(app, "compute-2").await;
    heartbeat_and_lagging_volume(app, "compute-2", 1_000, 60_000).await;
    let (code, out, _) = run(args(&["status"])).await.unwrap();
    // The nearly full storage path of the heartbeat is a problem.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM  agent compute-2"), "{out}");
    assert!(out.contains("volume vol-1"), "{out}");
    assert!(out.contains("lag 1 s, RPO 60 s"), "{out}");

    let (code, out, _) = run(args(&["-f", "json", "status"])).await.unwrap();
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["healthy"], false);

    let (code, out, _) = run(args(&["agents", "list"])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("compute-2"), "{out}");
    let (code, out, _) = run(args(&["-f", "json", "agents", "show", "compute-2"]))
        .await
        .unwrap();
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["replications"][0]["volume_id"], "vol-1");

    // Orchestrator unreachable.
    let (code, out, _) = run(args(&["status", "--url", "http://127.0.0.1:9"]))
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM  orchestrator"), "{out}");
}

async fn support_bundle_redacts_and_summarises(app: &TestApp) {
    insert_agent(app, "compute-3").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("holdfast.log");
    std::fs::write(&log, "line one\nline two\n").unwrap();
    let config = dir.path().join("holdfast.toml");
    let mut toml = format!(
        "data_dir = {:?}\nadmin_password = \"Sup3r!secret\"\nbus_url = \"amqp://hf:bus-pass-123@127.0.0.1:5672/%2f\"\n",
        app.config.data_dir.display().to_string()
    );
    if let Some(url) = &app.config.database_url {
        toml.push_str(&format!("database_url = {:?}\n", url.expose()));
    }
    std::fs::write(&config, toml).unwrap();
    let output = dir.path().join("bundle.tar.gz");
    let (c, o, l) = (config.clone(), output.clone(), log.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        holdfast(
            std::path::Path::new("/nonexistent/profiles.toml"),
            &[
                "support-bundle",
                "--config",
                c.to_str().unwrap(),
                "--log",
                l.to_str().unwrap(),
                "--output",
                o.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&output).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut files = std::collections::BTreeMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut e, &mut text).unwrap();
        files.insert(name, text);
    }
    let all: String = files.values().cloned().collect();
    assert!(!all.contains("Sup3r!secret"), "admin password leaked");
    assert!(!all.contains("bus-pass-123"), "bus password leaked");
    assert!(files["config.txt"].contains("amqp://hf:***@127.0.0.1:5672"));
    let db: Value = serde_json::from_str(&files["database.json"]).unwrap();
    assert_eq!(db["rows"]["agents"], 1, "{db}");
    assert_eq!(db["rows"]["users"], 1, "{db}");
    assert!(
        db["migrations"]
            .as_array()
            .unwrap()
            .contains(&Value::from(3))
    );
    let agents: Value = serde_json::from_str(&files["agents.json"]).unwrap();
    assert_eq!(agents[0]["node_id"], "compute-3");
    assert!(
        files
            .keys()
            .any(|k| k.starts_with("logs/") && files[k] == "line one\nline two\n")
    );
    assert!(files.contains_key("versions.json"));
}

on_both_backends!(
    agents_api_shows_health_and_lag_against_rpo,
    status_exit_codes,
    support_bundle_redacts_and_summarises
);
