//! Several orchestrators and restarts: a scheduled drill fires once with two replicas
//! on one PostgreSQL (only the leader drives jobs), and a job interrupted by an
//! orchestrator restart resumes where it was.

use std::time::{Duration, Instant};

use holdfast_orchestrator::config::Secret;
use serde_json::json;

use crate::harness::*;
use crate::helpers::{Backend, create_pg_database, postgres_admin_url};
use crate::support::listing;

async fn leader_of(a: &Ctx, b: &Ctx) -> (bool, bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, ra) = a.app.call("GET", "/readyz", None, None).await;
        let (_, rb) = b.app.call("GET", "/readyz", None, None).await;
        let (la, lb) = (ra["leader"] == true, rb["leader"] == true);
        if la != lb {
            return (la, lb);
        }
        assert!(
            Instant::now() < deadline,
            "never exactly one leader: {ra} {rb}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn drop_pg(name: &str) {
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::AnyConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}

/// Both replicas over one external database (PostgreSQL) with one secrets key.
fn shared_db(url: &str, key: &std::path::Path) -> impl FnOnce(&mut holdfast_orchestrator::Config) {
    let (url, key) = (url.to_owned(), key.to_owned());
    move |c| {
        c.database_url = Some(Secret::new(url));
        c.secrets_key_file = Some(key);
    }
}

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("secrets.key");
    std::fs::write(
        &key,
        holdfast_orchestrator::secrets::SecretBox::generate_text(),
    )
    .unwrap();
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_drill_fires_once_with_two_replicas() {
    let w = world(1, 1, crate::support::timing()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (name, url) = create_pg_database().await;
    let mut one = start_with(Backend::Sqlite, &w, engine_options(), shared_db(&url, &key)).await;
    let two = start_with(Backend::Sqlite, &w, engine_options(), shared_db(&url, &key)).await;
    // a new login ended the first session; sessions are shared through the database
    one.admin = two.admin.clone();
    let (l1, l2) = leader_of(&one, &two).await;
    assert!(l1 ^ l2);
    let id = one
        .create(json!({"plan_id": "plan-a", "type": "drill", "run_type": "schedule",
            "recovery_point": "latest-snapshot",
            "schedule": {"recurrence": {"kind": "daily", "every_days": 1, "at": {"hour": 3, "minute": 30}},
                         "time_zone": "Asia/Seoul"}}))
        .await;
    let job = two.job(&id).await.unwrap();
    assert_eq!(job["state"], "waiting");
    let first_slot: jiff::Timestamp = job["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(first_slot > jiff::Timestamp::now());
    // its time comes
    make_due(&one, &id, "fire_at").await;
    let done = two.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success");
    assert_eq!(w.source.freezes.lock().unwrap().values().sum::<usize>(), 1);
    let (_, ev) = one
        .call(
            "GET",
            &format!("/api/v1/events?object={id}&code=job.pending"),
            None,
        )
        .await;
    assert_eq!(ev["total"], 1, "the slot fired once: {ev}");
    // rolled back, the scheduled drill waits for its next run; its report stays
    let (s, b) = two.op(&id, "rollback", None).await;
    assert_eq!(s, 200, "{b}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = one
            .job(&id)
            .await
            .expect("a scheduled drill stays in the list");
        if j["state"] == "waiting" {
            assert!(j["run_id"].is_null(), "{j}");
            let next: jiff::Timestamp = j["next_run_at"].as_str().unwrap().parse().unwrap();
            assert!(next > jiff::Timestamp::now(), "{j}");
            break;
        }
        assert!(Instant::now() < deadline, "{j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(one.report_of(&id).await["summary"]["result"], "success");
    assert_eq!(w.source.freezes.lock().unwrap().values().sum::<usize>(), 1);
    assert_eq!(listing(&w.clouds).await, w.before);
    one.app.stop().await;
    two.app.stop().await;
    drop_pg(&name).await;
}

async fn restart_mid_job_resumes(backend: Backend) {
    let w = world(1, 1, slow()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let data = dir.path().join("data");
    let pg = match backend {
        Backend::Postgres => Some(create_pg_database().await),
        Backend::Sqlite => None,
    };
    let adjust = |c: &mut holdfast_orchestrator::Config| {
        c.data_dir = data.clone();
        if let Some((_, url)) = &pg {
            shared_db(url, &key)(c);
        }
    };
    let one = start_with(Backend::Sqlite, &w, engine_options(), adjust).await;
    let id = one.drill_now("plan-a").await;
    one.wait_state(&id, "running").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while one.monitor(&id).await["progress"]["done"].as_i64().unwrap() < 5 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    one.app.stop().await;

    let two = start_with(Backend::Sqlite, &w, engine_options(), adjust).await;
    let done = two.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", two.monitor(&id).await);
    let m = two.monitor(&id).await;
    assert!(
        m["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "recovery resumed after a restart"),
        "{m}"
    );
    let (s, _) = two.op(&id, "rollback", None).await;
    assert_eq!(s, 200);
    two.wait_gone(&id).await;
    assert_eq!(listing(&w.clouds).await, w.before);
    two.app.stop().await;
    if let Some((name, _)) = pg {
        drop_pg(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_mid_job_resumes_sqlite() {
    restart_mid_job_resumes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_mid_job_resumes_postgres() {
    restart_mid_job_resumes(Backend::Postgres).await;
}
