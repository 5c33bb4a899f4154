//! A plan's state during and after its own drill, on SQLite and PostgreSQL: two test
//! clouds whose volume files are served by two real `holdfast-agent`s over RabbitMQ,
//! two plans mapped to one small target node that fits each plan exactly. While plan
//! A's drill is completed (not rolled back) and the target has been synced again, A
//! stays `Normal` with no reason — what its own drill holds on the target (the
//! instances on the node) is not counted against it — while plan B, whose instance
//! no longer fits next to the drill's, is `Warning` for the node's capacity. After
//! the rollback and another sync both are `Normal` again.
//!
//! Needs the agent binary: `cargo build -p holdfast-agent`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use holdfast_openstack::Filters;
use holdfast_orchestrator::config::Secret;
use holdfast_testcloud::fixture::generate::generate;
use serde_json::{Value, json};

use crate::agents_bus::{AgentProc, delete_namespace, namespace};
use crate::clusters::cloud::{self, Cloud, amqp_url};
use crate::helpers::{Backend, TestApp, eventually, spawn_app_with};

/// The target node both plans map their instances to: the only one of its zone (the
/// test cloud places an instance in the requested zone, not on the requested node).
const NODE: &str = "compute-0001";
const ZONE: &str = "az2";
/// Plan A: an m1.tiny and an m1.small (1 vCPU each) of project-000.
const PLAN_A: [&str; 2] = ["server-00000", "server-00004"];
/// Plan B: an m1.medium (2 vCPUs) of project-000.
const PLAN_B: [&str; 1] = ["server-00002"];

async fn ok(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, b) = app.call(method, path, Some(token), body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

fn pool(c: &Cloud) -> PathBuf {
    c.tc.storage_dir().join("file").join("file")
}

fn storage(node: &str, dir: &Path) -> Value {
    json!([{"type": "file", "backend": "file", "node": node,
        "path_prefix": dir.display().to_string()}])
}

/// A group and a plan of `servers`, every instance mapped to [`NODE`].
async fn protect(
    app: &TestApp,
    admin: &str,
    owner: &str,
    (src, dst): (&str, &str),
    ids: &BTreeMap<String, String>,
    net0: &str,
    (name, servers): (&str, &[&str]),
) -> String {
    let g = ok(
        app,
        admin,
        "POST",
        "/api/v1/protection-groups",
        Some(json!({
            "name": name, "source_cluster_id": src, "owner_group_id": owner,
            "instances": servers.iter().map(|s| ids[*s].clone()).collect::<Vec<_>>(),
            "rpo_minutes": 15, "rto_minutes": 60,
            "snapshot_interval": {"kind": "every_hours", "n": 1},
        })),
    )
    .await;
    let instances: serde_json::Map<String, Value> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| (ids[*s].clone(), json!({"start_order": i, "node": NODE})))
        .collect();
    let p = ok(
        app,
        admin,
        "POST",
        "/api/v1/plans",
        Some(json!({"group_id": g["id"], "name": format!("{name}-dr"),
        "target_cluster_id": dst, "retention": 4, "mapping": {
            "project_name": format!("{name}-dr"), "availability_zone": ZONE,
            "networks": {net0: "create"},
            "volume_types": {"__DEFAULT__": "__DEFAULT__"},
            "instances": instances,
        }})),
    )
    .await;
    p["id"].as_str().unwrap().to_owned()
}

async fn wait_normal(app: &TestApp, token: &str, plan: &str) {
    let normal = eventually(Duration::from_secs(300), || async {
        app.plan_state(token, plan).await.0 == "Normal"
    })
    .await;
    assert!(
        normal,
        "plan {plan} never became Normal: {:?}",
        app.plan_state(token, plan).await
    );
}

async fn own_drill_does_not_warn_its_plan(backend: Backend) {
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
    cloud::license(&app, &admin).await;
    let source = cloud::start(&generate(8, 12, 2)).await;
    // an empty target whose node fits 2 vCPUs: plan A's two instances, or plan B's
    // one, not both
    let mut target_fx = generate(0, 0, 1);
    target_fx.hypervisors[1].vcpus = 2;
    assert_eq!(
        (
            target_fx.hypervisors[1].hostname.as_str(),
            target_fx.hypervisors[1].availability_zone.as_str()
        ),
        (NODE, ZONE)
    );
    let target = cloud::start(&target_fx).await;
    let (src_pool, dst_pool) = (pool(&source), pool(&target));
    std::fs::create_dir_all(&dst_pool).unwrap();
    let mut src_body = source.body("source", &ops, false);
    src_body["storage"] = storage("node-a", &src_pool);
    let mut dst_body = target.body("target", &ops, false);
    dst_body["storage"] = storage("node-b", &dst_pool);
    let src = cloud::register(&app, &admin, src_body).await;
    let dst = cloud::register(&app, &admin, dst_body).await;
    for id in [&src, &dst] {
        cloud::wait_synced(&app, &admin, id, Duration::from_secs(30)).await;
    }
    let ids = source.server_ids().await;
    let net0 = source.network_id("net-000").await;
    let nodes = tempfile::tempdir().unwrap();
    let _a = AgentProc::start_serving(nodes.path(), &ns, "node-a", "file", &src_pool);
    let _b = AgentProc::start_serving(nodes.path(), &ns, "node-b", "file", &dst_pool);
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
    assert!(online, "the agents did not come online");

    let clusters = (src.as_str(), dst.as_str());
    let a = protect(&app, &admin, &ops, clusters, &ids, &net0, ("shop", &PLAN_A)).await;
    let b = protect(&app, &admin, &ops, clusters, &ids, &net0, ("crm", &PLAN_B)).await;
    wait_normal(&app, &admin, &a).await;
    wait_normal(&app, &admin, &b).await;

    // the job is refused while either plan's state is not Normal at that moment (a
    // plan's replication facts may still settle just after it became Normal)
    let job = std::sync::Mutex::new((None::<String>, Vec::<Value>::new()));
    let created = eventually(Duration::from_secs(120), || async {
        let (s, b) = app
            .call(
                "POST",
                "/api/v1/jobs",
                Some(&admin),
                Some(json!({"plan_id": a, "type": "drill", "run_type": "now",
                    "recovery_point": "latest-snapshot"})),
            )
            .await;
        let mut j = job.lock().unwrap();
        if s == 201 || s == 200 {
            j.0 = b["id"].as_str().map(str::to_owned);
            return true;
        }
        assert_eq!(s, 409, "{b}");
        j.1.push(b);
        false
    })
    .await;
    let (job, refusals) = job.into_inner().unwrap();
    assert!(created, "the drill was never accepted: {refusals:?}");
    if !refusals.is_empty() {
        eprintln!("the drill was refused first: {refusals:?}");
    }
    let job = job.unwrap();
    let monitor = format!("/api/v1/jobs/{job}/monitor");
    let completed = eventually(Duration::from_secs(240), || async {
        ok(&app, &admin, "GET", &monitor, None).await["job"]["state"] == "completed"
    })
    .await;
    let m = ok(&app, &admin, "GET", &monitor, None).await;
    assert!(completed, "the drill never completed: {m}");
    assert_eq!(m["job"]["result"], "success", "{m}");

    // the drill's instances are on the node, and the orchestrator's copy says so
    cloud::resync(&app, &admin, &dst, Duration::from_secs(30)).await;
    let session = target.session().await;
    let nova = session.nova();
    let placed: Vec<(String, Option<String>, u32)> = nova
        .servers(&Filters::all_tenants())
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.name, x.hypervisor_hostname, x.flavor.vcpus))
        .collect();
    let hv = nova
        .hypervisors()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.hypervisor_hostname == NODE)
        .unwrap();
    assert_eq!(
        hv.vcpus_used, 2,
        "the drill's instances run on {NODE}: {placed:?}"
    );
    let (state, reasons) = app.plan_state(&admin, &a).await;
    assert_eq!(
        (state.as_str(), reasons.as_slice()),
        ("Normal", &[][..]),
        "plan A during its own completed drill"
    );
    let (state, reasons) = app.plan_state(&admin, &b).await;
    assert_eq!(state, "Warning", "plan B next to A's drill: {reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with(&format!("compute node {NODE} cannot host"))),
        "plan B counts what A's drill takes: {reasons:?}"
    );

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
    assert!(gone, "the drill did not roll back");
    cloud::resync(&app, &admin, &dst, Duration::from_secs(30)).await;
    for plan in [&a, &b] {
        let (state, reasons) = app.plan_state(&admin, plan).await;
        assert_eq!(
            (state.as_str(), reasons.as_slice()),
            ("Normal", &[][..]),
            "plan {plan} after the rollback"
        );
    }
    app.stop().await;
    delete_namespace(&ns, &["node-a", "node-b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    own_drill_does_not_warn_its_plan(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    own_drill_does_not_warn_its_plan(Backend::Postgres).await;
}
