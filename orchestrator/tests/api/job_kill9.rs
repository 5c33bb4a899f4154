//! kill -9 of the orchestrator in the middle of a drill: a real `holdfast serve`
//! process with two real agents runs a drill of two instances through the
//! production plans path (clusters, group, plan, replication, snapshot). The process
//! is SIGKILLed while recovery tasks are running, and the job resumes and completes
//! with every instance recovered exactly once (no duplicate server or volume on the
//! target, nothing left behind by the rollback), then rolls back to the target as it
//! was. On SQLite a new process is started on the same database; on PostgreSQL a
//! second process serves the same database from the start (the production shape of
//! two replicas): it does not touch the job while the leader lives, and takes the
//! lease and the job over when the leader is killed.
//!
//! Needs the agent binary: `cargo build -p holdfast-agent`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_openstack::Filters;
use holdfast_orchestrator::Config;
use holdfast_testcloud::config::Timing;
use serde_json::{Value, json};

use crate::agents_bus::{AgentProc, delete_namespace, namespace};
use crate::clusters::cloud::{Cloud, amqp_url};
use crate::helpers::{
    ADMIN_PASSWORD, Backend, PgDatabase, TestApp, create_pg_database, eventually,
    test_licence_signer,
};
use crate::protection::env_with_target;

/// A `holdfast serve` process; SIGKILLed when dropped.
struct Serve {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The configuration both runs share (the same data directory, so the same SQLite
/// database and secrets key).
fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        ..Config::default()
    }
}

/// Where the processes keep their data: the data directory's SQLite file, or a
/// PostgreSQL database (with the secrets key file an external database needs).
enum Store {
    Sqlite,
    Postgres { url: String, key: PathBuf },
}

fn serve(dir: &Path, ns: &str, run: &str, store: &Store) -> Serve {
    let port = free_port();
    let file = dir.join(format!("{run}.toml"));
    let key =
        holdfast_orchestrator::licence::public_key_text(&test_licence_signer().verifying_key());
    let database = match store {
        Store::Sqlite => String::new(),
        Store::Postgres { url, key } => format!(
            "database_url = \"{url}\"\nsecrets_key_file = \"{}\"\n",
            key.display()
        ),
    };
    std::fs::write(
        &file,
        format!(
            "bind = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nbus_url = \"{}\"\n\
             bus_namespace = \"{ns}\"\nadmin_password = \"{ADMIN_PASSWORD}\"\n\
             licence_public_key = \"{key}\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n\
             agent_heartbeat_interval_ms = 2000\nlease_ttl_ms = 6000\nshutdown_grace_secs = 1\n\
             {database}",
            dir.join("data").display(),
            amqp_url(),
        ),
    )
    .unwrap();
    let log = dir.join(format!("{run}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOLDFAST_CONFIG", &file)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{run}.err"))).unwrap(),
        ))
        .spawn()
        .unwrap();
    Serve {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// Waits until the process answers and leads (it drives jobs only then).
async fn leading(s: &Serve) {
    let client = reqwest::Client::new();
    let ok = eventually(Duration::from_secs(60), || async {
        let Ok(r) = client.get(format!("{}/readyz", s.base)).send().await else {
            return false;
        };
        r.status() == 200 && r.json::<Value>().await.is_ok_and(|v| v["leader"] == true)
    })
    .await;
    assert!(ok, "holdfast serve never led:\n{}", s.log());
}

async fn ok(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, b) = app.call(method, path, Some(token), body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

/// Every resource of the target cloud (ids), and the files of its volume backend.
async fn listing(target: &Cloud) -> BTreeMap<&'static str, BTreeSet<String>> {
    let s = target.session().await;
    let n = s.neutron();
    let all = Filters::all_tenants();
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut put = |k: &'static str, v: String| {
        out.entry(k).or_default().insert(v);
    };
    for p in s.keystone().projects(&Filters::none()).await.unwrap() {
        put("projects", format!("{} {}", p.id, p.name));
    }
    for x in n.security_groups(&Filters::none()).await.unwrap() {
        put("security_groups", x.id);
    }
    for x in n.networks(&Filters::none()).await.unwrap() {
        put("networks", x.id);
    }
    for x in n.subnets(&Filters::none()).await.unwrap() {
        put("subnets", x.id);
    }
    for x in n.routers(&Filters::none()).await.unwrap() {
        put("routers", x.id);
    }
    for x in n.ports(&Filters::none()).await.unwrap() {
        put("ports", x.id);
    }
    for x in n.floating_ips(&Filters::none()).await.unwrap() {
        put("floating_ips", x.id);
    }
    for x in s.cinder().volumes(&all).await.unwrap() {
        put("volumes", x.id);
    }
    for x in s.nova().servers(&all).await.unwrap() {
        put("servers", x.id);
    }
    let pool = target.tc.storage_dir().join("file").join("file");
    for f in std::fs::read_dir(pool).into_iter().flatten() {
        put(
            "files",
            f.unwrap().file_name().to_string_lossy().into_owned(),
        );
    }
    out
}

const SERVERS: [&str; 2] = ["server-00000", "server-00004"];

/// Waits until the process answers as a follower (it serves the API, drives nothing).
async fn following(s: &Serve) {
    let client = reqwest::Client::new();
    let ok = eventually(Duration::from_secs(60), || async {
        let Ok(r) = client.get(format!("{}/readyz", s.base)).send().await else {
            return false;
        };
        r.json::<Value>().await.is_ok_and(|v| v["leader"] == false)
    })
    .await;
    assert!(
        ok,
        "holdfast serve never answered as a follower:\n{}",
        s.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_drill_resumes_and_recovers_every_instance_once() {
    kill_9_mid_drill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_leader_mid_drill_the_standby_takes_the_job_over_postgres() {
    kill_9_mid_drill(Backend::Postgres).await;
}

async fn kill_9_mid_drill(backend: Backend) {
    let ns = namespace();
    let dir = tempfile::tempdir().unwrap();
    let (store, _pg) = match backend {
        Backend::Sqlite => (Store::Sqlite, None),
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            let key = dir.path().join("secrets.key");
            std::fs::write(
                &key,
                holdfast_orchestrator::secrets::SecretBox::generate_text(),
            )
            .unwrap();
            (Store::Postgres { url, key }, Some(PgDatabase { name }))
        }
    };
    let first = serve(dir.path(), &ns, "first", &store);
    leading(&first).await;
    // PostgreSQL: the second replica runs beside the leader from the start
    let standby = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let s = serve(dir.path(), &ns, "standby", &store);
            following(&s).await;
            Some(s)
        }
    };
    let app = TestApp::external(&first.base, config(dir.path()), backend);
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    // servers take a while to build on the target: the drill is caught mid-way
    let slow = Timing {
        server_build_ms: 1_500,
        ..Timing::instant()
    };
    let e = env_with_target(&app, &admin, &ops, slow).await;
    let pools = [
        (
            &e.src,
            "node-a",
            e.source.tc.storage_dir().join("file").join("file"),
        ),
        (
            &e.dst,
            "node-b",
            e.target().tc.storage_dir().join("file").join("file"),
        ),
    ];
    for (id, node, pool) in &pools {
        let storage = json!([{"type": "file", "backend": "file", "node": node,
            "path_prefix": pool.display().to_string()}]);
        ok(
            &app,
            &admin,
            "PATCH",
            &format!("/api/v1/clusters/{id}"),
            Some(json!({"storage": storage})),
        )
        .await;
    }
    let nodes = tempfile::tempdir().unwrap();
    let _a = AgentProc::start_serving(nodes.path(), &ns, "node-a", "file", &pools[0].2);
    let _b = AgentProc::start_serving(nodes.path(), &ns, "node-b", "file", &pools[1].2);
    let online = eventually(Duration::from_secs(60), || async {
        let mut n = 0;
        for node in ["node-a", "node-b"] {
            let (s, b) = app
                .call("GET", &format!("/api/v1/agents/{node}"), Some(&admin), None)
                .await;
            n +=
                usize::from(s == 200 && b["state"] == "online" && b["data_plane_addr"].is_string());
        }
        n == 2
    })
    .await;
    assert!(online, "the agents did not come online:\n{}", first.log());

    let g = ok(
        &app,
        &admin,
        "POST",
        "/api/v1/protection-groups",
        Some(e.group_body("shop", &ops, &SERVERS)),
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let p = ok(
        &app,
        &admin,
        "POST",
        "/api/v1/plans",
        Some(e.plan_body("shop-dr", &gid, &SERVERS)),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_owned();
    let normal = eventually(Duration::from_secs(300), || async {
        app.call(
            "GET",
            &format!("/api/v1/plans/{pid}/state"),
            Some(&admin),
            None,
        )
        .await
        .1["state"]
            == "Normal"
    })
    .await;
    assert!(
        normal,
        "the plan never became Normal: {}\n{}",
        app.call(
            "GET",
            &format!("/api/v1/plans/{pid}/state"),
            Some(&admin),
            None
        )
        .await
        .1,
        first.log()
    );
    let before = listing(e.target()).await;

    let job = ok(
        &app,
        &admin,
        "POST",
        "/api/v1/jobs",
        Some(json!({"plan_id": pid, "type": "drill", "run_type": "now",
            "recovery_point": "latest-snapshot"})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let monitor = format!("/api/v1/jobs/{job}/monitor");
    // kill -9 while recovery tasks are running, after the instances' creation began
    let deadline = Instant::now() + Duration::from_secs(180);
    let caught = loop {
        let m = ok(&app, &admin, "GET", &monitor, None).await;
        let tasks = m["tasks"].as_array().cloned().unwrap_or_default();
        let creating = tasks.iter().any(|t| {
            t["stage"] == "recovery"
                && t["state"] == "running"
                && t["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("create instance"))
        });
        if creating {
            break m;
        }
        assert_ne!(
            m["job"]["state"], "completed",
            "the drill ended before the kill: {m}"
        );
        assert!(
            Instant::now() < deadline,
            "no instance was being created: {m}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if let Some(s) = &standby {
        // the follower has not driven the job: nothing of it in its log, where the
        // leader's names it (its tasks' spans carry the job id)
        assert!(
            first.log().contains(job.as_str()),
            "the leader's log does not name the job it drives:\n{}",
            first.log()
        );
        let log = s.log();
        assert!(
            !log.contains(job.as_str()),
            "the follower worked on the job while the leader lived:\n{log}"
        );
    }
    drop(first);
    let done_at_kill = caught["progress"]["done"].as_i64().unwrap();
    let total = caught["progress"]["total"].as_i64().unwrap();
    assert!(done_at_kill < total, "{caught}");
    eprintln!("kill -9 with {done_at_kill} of {total} recovery tasks done");

    // SQLite: a new process on the same database; PostgreSQL: the standby. Either
    // takes the lease and resumes the job.
    let second = match standby {
        Some(s) => s,
        None => serve(dir.path(), &ns, "second", &store),
    };
    leading(&second).await;
    let app = TestApp::external(&second.base, config(dir.path()), backend);
    let admin = app.admin().await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let m = loop {
        let m = ok(&app, &admin, "GET", &monitor, None).await;
        if m["job"]["state"] == "completed" {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the drill never completed after the restart: {m}\n{}",
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(m["job"]["result"], "success", "{m}");
    let log: Vec<&str> = m["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(log.contains(&"recovery resumed after a restart"), "{log:?}");
    let instances = m["instances"].as_array().unwrap();
    assert_eq!(instances.len(), SERVERS.len(), "{m}");
    assert!(instances.iter().all(|i| i["status"] == "success"), "{m}");
    let volumes = m["volumes"].as_array().unwrap();
    assert!(volumes.iter().all(|v| v["status"] == "recovered"), "{m}");

    // exactly once: one server per instance and one volume per protected volume in
    // the drill's project, nothing else new on the target
    let s = e.target().session().await;
    let project = s
        .keystone()
        .projects(&Filters::none())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name.starts_with("shop-dr-drill-"))
        .expect("the drill's project")
        .id;
    let in_project = Filters::all_tenants().eq("project_id", &project);
    let servers = s.nova().servers(&in_project).await.unwrap();
    let names: BTreeSet<&str> = servers.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(servers.len(), SERVERS.len(), "{names:?}");
    assert_eq!(
        names,
        SERVERS.into_iter().collect(),
        "one server per instance"
    );
    let vols = s.cinder().volumes(&in_project).await.unwrap();
    assert_eq!(vols.len(), volumes.len(), "one volume per protected volume");
    let after = listing(e.target()).await;
    assert_eq!(
        after["servers"].len() - before.get("servers").map_or(0, BTreeSet::len),
        SERVERS.len(),
        "no server outside the drill's project"
    );
    assert_eq!(
        after["volumes"].len() - before.get("volumes").map_or(0, BTreeSet::len),
        volumes.len(),
        "no volume outside the drill's project"
    );

    // rolled back, the target is as it was: nothing the crash created is left
    ok(
        &app,
        &admin,
        "POST",
        &format!("/api/v1/jobs/{job}/operations/rollback"),
        None,
    )
    .await;
    let gone = eventually(Duration::from_secs(120), || async {
        app.call("GET", &format!("/api/v1/jobs/{job}"), Some(&admin), None)
            .await
            .0
            == 404
    })
    .await;
    assert!(
        gone,
        "the drill did not roll back: {}",
        ok(&app, &admin, "GET", &monitor, None).await
    );
    assert_eq!(listing(e.target()).await, before);
    let report = ok(&app, &admin, "GET", "/api/v1/reports?limit=50", None).await;
    assert!(
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["job_id"] == job.as_str() && r["result"] == "success"),
        "{report}"
    );
    drop(second);
    delete_namespace(&ns, &["node-a", "node-b"]).await;
}
