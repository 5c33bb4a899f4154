//! The world of a job test (two test clouds, the plan, a snapshot, the test source)
//! and the orchestrator with its job engine, plus small API helpers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdfast_openstack::Options;
use holdfast_orchestrator::Config;
use holdfast_orchestrator::db::Db;
use holdfast_orchestrator::dr::ids::SnapshotId;
use holdfast_orchestrator::jobs::{EngineOptions, Jobs};
use holdfast_orchestrator::recovery::TargetCloud;
use holdfast_testcloud::config::Timing;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_jobs};
use crate::materialiser::FileMaterialiser;
use crate::source::TestSource;
use crate::support::*;

pub(crate) struct World {
    pub(crate) clouds: Clouds,
    pub(crate) source: Arc<TestSource>,
    pub(crate) materialiser: Arc<FileMaterialiser>,
    pub(crate) before: BTreeMap<&'static str, BTreeSet<String>>,
}

/// The shop (`web` web servers, `app` app servers, the db) snapshotted as `gs-1`.
pub(crate) async fn world(web: usize, app: usize, timing: Timing) -> World {
    let clouds = start_clouds(web, app, timing).await;
    let (spec, volumes) = plan_from_source(&clouds).await;
    let snaps = snapshot_all(&clouds, &volumes).await;
    let m = materialiser(&clouds);
    m.snapshots
        .lock()
        .unwrap()
        .insert(SnapshotId::new("gs-1"), snaps);
    let before = listing(&clouds).await;
    let cloud = TargetCloud::connect(
        credentials(&clouds.target),
        Options::default(),
        m.clone(),
        options(),
    )
    .await
    .unwrap();
    World {
        source: TestSource::new(spec, cloud, "gs-1"),
        clouds,
        materialiser: m,
        before,
    }
}

/// Slow enough to pause and cancel a running job.
pub(crate) fn slow() -> Timing {
    Timing {
        server_build_ms: 600,
        ..timing()
    }
}

pub(crate) fn engine_options() -> EngineOptions {
    EngineOptions {
        tick: Duration::from_millis(100),
        pause_timeout: Duration::from_secs(60),
        retry_after: Duration::from_millis(300),
    }
}

pub(crate) struct Ctx {
    pub(crate) app: TestApp,
    pub(crate) admin: String,
    /// Completed passes of the app's job engine.
    pub(crate) passes: tokio::sync::watch::Receiver<u64>,
}

/// The orchestrator with the world's job source; the owner group is created.
pub(crate) async fn start(backend: Backend, w: &World, opts: EngineOptions) -> Ctx {
    start_with(backend, w, opts, |_| {}).await
}

pub(crate) async fn start_with(
    backend: Backend,
    w: &World,
    opts: EngineOptions,
    adjust: impl FnOnce(&mut Config),
) -> Ctx {
    let jobs = Jobs::new(w.source.clone(), opts);
    let passes = jobs.passes();
    let app = spawn_app_jobs(
        backend,
        |c| {
            c.lease_ttl_ms = 2_000;
            adjust(c);
        },
        Some(jobs),
    )
    .await;
    let admin = app.admin().await;
    let owner = w.source.owner_group.lock().unwrap().clone();
    if owner.is_empty() {
        let group = app.create_group(&admin, "ops").await;
        *w.source.owner_group.lock().unwrap() = group;
    }
    Ctx { app, admin, passes }
}

impl Ctx {
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.app.call(method, path, Some(&self.admin), body).await
    }

    pub(crate) async fn create(&self, body: Value) -> String {
        let (s, b) = self.call("POST", "/api/v1/jobs", Some(body)).await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn drill_now(&self, plan: &str) -> String {
        self.create(json!({"plan_id": plan, "type": "drill", "run_type": "now",
            "recovery_point": "latest-snapshot"}))
            .await
    }

    pub(crate) async fn job(&self, id: &str) -> Option<Value> {
        let (s, b) = self.call("GET", &format!("/api/v1/jobs/{id}"), None).await;
        match s {
            200 => Some(b),
            404 => None,
            _ => panic!("GET job {id}: {s} {b}"),
        }
    }

    pub(crate) async fn monitor(&self, id: &str) -> Value {
        let (s, b) = self
            .call("GET", &format!("/api/v1/jobs/{id}/monitor"), None)
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    pub(crate) async fn op(&self, id: &str, op: &str, body: Option<Value>) -> (u16, Value) {
        self.call("POST", &format!("/api/v1/jobs/{id}/operations/{op}"), body)
            .await
    }

    /// Waits until the job engine has completed `n` more passes (each pass looks at
    /// every job: the queue, the timers, the drivers).
    pub(crate) async fn engine_passes(&self, n: u64) {
        let mut passes = self.passes.clone();
        let target = *passes.borrow_and_update() + n;
        tokio::time::timeout(Duration::from_secs(30), passes.wait_for(|p| *p >= target))
            .await
            .expect("the job engine made no pass for 30 s")
            .expect("the job engine stopped");
    }

    /// Waits until the job is in `state` (panics on a deadline or if it leaves).
    pub(crate) async fn wait_state(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let j = self.job(id).await;
            match &j {
                Some(j) if j["state"] == state => return j.clone(),
                None => panic!("job {id} left the list while waiting for {state}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never became {state}: {j:?}\n{}",
                self.monitor(id).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the job has left the job list.
    pub(crate) async fn wait_gone(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while let Some(j) = self.job(id).await {
            assert!(Instant::now() < deadline, "job {id} never finished: {j}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The one report of a job.
    pub(crate) async fn report_of(&self, job: &str) -> Value {
        let (s, b) = self.call("GET", "/api/v1/reports?limit=500", None).await;
        assert_eq!(s, 200, "{b}");
        let items: Vec<&Value> = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["job_id"] == job)
            .collect();
        assert_eq!(items.len(), 1, "one report of job {job}: {b}");
        let id = items[0]["id"].as_str().unwrap();
        let (s, r) = self
            .call("GET", &format!("/api/v1/reports/{id}"), None)
            .await;
        assert_eq!(s, 200, "{r}");
        r
    }

    /// The app's database (a second connection, for clock tricks).
    pub(crate) async fn db(&self) -> Db {
        Db::connect(&self.app.config.effective_database_url())
            .await
            .unwrap()
    }
}

/// Moves a job's clock-driven field into the past: `rollback_at` or `fire_at`.
pub(crate) async fn make_due(ctx: &Ctx, id: &str, field: &str) {
    make_due_by(ctx, id, field, 1_000).await;
}

/// [`make_due`], `ago_ms` before now.
pub(crate) async fn make_due_by(ctx: &Ctx, id: &str, field: &str, ago_ms: i64) {
    use holdfast_orchestrator::db::job_engine;
    let db = ctx.db().await;
    for _ in 0..20 {
        let mut conn = db.conn().await.unwrap();
        let mut row = job_engine::get(&mut conn, id).await.unwrap().unwrap();
        let past = Some(jiff::Timestamp::now().as_millisecond() - ago_ms);
        match field {
            "rollback_at" => row.rollback_at = past,
            "fire_at" => row.fire_at = past,
            other => panic!("{other}"),
        }
        if job_engine::update(&mut conn, &row).await.unwrap() {
            drop(conn);
            db.close().await;
            return;
        }
    }
    panic!("could not move {field} of job {id}");
}
