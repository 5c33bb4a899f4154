//! Retry from another recovery point (jobs.md, "Retry (re-recover)"): a DR job from
//! the newest snapshot whose db server fails is retried from an older snapshot. The
//! db server comes back with the older snapshot's bytes (the copies of the job's
//! point are deleted), without any port; the task log says it is not connected. A
//! snapshot that is not the group's and a recovered instance are refused.

use holdfast_openstack::Filters;
use holdfast_orchestrator::dr::ids::{SnapshotId, VolumeId};
use holdfast_orchestrator::jobs::source::SnapshotFact;
use serde_json::json;

use crate::harness::*;
use crate::helpers::{Backend, error_code};
use crate::support::{listing, pool, project_id, same_bytes, scribble, snapshot_all};

async fn dr_retry_from_an_older_snapshot(backend: Backend) {
    let w = world(1, 1, crate::support::timing()).await;
    let volumes: Vec<(String, String)> = w
        .source
        .spec
        .details
        .volumes
        .iter()
        .map(|(id, d)| (id.to_string(), d.name.clone()))
        .collect();
    let gs1 = w.materialiser.snapshots.lock().unwrap()[&SnapshotId::new("gs-1")].clone();
    // written after gs-1, then gs-2: the job's point
    scribble(&w.clouds, &volumes);
    let gs2 = snapshot_all(&w.clouds, &volumes).await;
    w.materialiser
        .snapshots
        .lock()
        .unwrap()
        .insert(SnapshotId::new("gs-2"), gs2.clone());
    w.source.snapshots.lock().unwrap().insert(
        0,
        SnapshotFact {
            id: SnapshotId::new("gs-2"),
            at_ms: jiff::Timestamp::now().as_millisecond(),
        },
    );
    let ctx = start(backend, &w, engine_options()).await;
    let topo = &w.source.spec.topology;
    let db = topo
        .instances
        .iter()
        .find(|i| i.name == "db")
        .unwrap()
        .clone();
    let app1 = topo.instances.iter().find(|i| i.name == "app1").unwrap();
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

    // refused: a snapshot that is not the group's, a recovered instance
    let retry = |instances: Vec<&str>, snapshot: &str| {
        Some(json!({"instances": instances, "snapshot_id": snapshot}))
    };
    let (s, b) = ctx
        .op(&id, "retry", retry(vec![db.id.as_str()], "gs-nope"))
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (409, "unknown_snapshot"),
        "{b}"
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("group-a"),
        "{b}"
    );
    let (s, b) = ctx
        .op(&id, "retry", retry(vec![app1.id.as_str()], "gs-1"))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "retry_refused"), "{b}");
    assert_eq!(ctx.job(&id).await.unwrap()["state"], "completed");

    // the db server again, from gs-1
    w.materialiser.failing.lock().unwrap().clear();
    let (s, b) = ctx
        .op(&id, "retry", retry(vec![db.id.as_str()], "gs-1"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["job"]["state"], "running");
    let done = ctx.wait_state(&id, "completed").await;
    assert_eq!(done["result"], "success", "{}", ctx.monitor(&id).await);
    let m = ctx.monitor(&id).await;
    let log: Vec<&str> = m["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        log.iter().any(|l| l.starts_with("retry: ")
            && l.contains("snapshot:gs-1")
            && l.contains("NOT connected to any network")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("create port") && l.contains("not created")),
        "{log:#?}"
    );

    // on the target: one copy of every volume; db's hold gs-1's bytes, not gs-2's
    let project = project_id(&w.clouds.dst, "shop").await;
    let in_project = || Filters::all_tenants().eq("project_id", &project);
    let target_volumes = w.clouds.dst.cinder().volumes(&in_project()).await.unwrap();
    assert_eq!(target_volumes.len(), volumes.len(), "{target_volumes:?}");
    for v in &db.volumes {
        let name = &w.source.spec.details.volumes[&v.id].name;
        let copies: Vec<_> = target_volumes
            .iter()
            .filter(|t| t.name.as_deref() == Some(name.as_str()))
            .collect();
        assert_eq!(copies.len(), 1, "{name}: {copies:?}");
        let file = pool(&w.clouds.target).join(format!("volume-{}", copies[0].id));
        let snap = |s: &std::collections::BTreeMap<VolumeId, String>| {
            pool(&w.clouds.source).join(format!("snapshot-{}", s[&v.id]))
        };
        assert!(same_bytes(&file, &snap(&gs1)), "{name} is not gs-1's");
        assert!(!same_bytes(&file, &snap(&gs2)), "{name} is gs-2's");
    }
    // the db server has no port; the others keep theirs
    let servers = w.clouds.dst.nova().servers(&in_project()).await.unwrap();
    assert_eq!(servers.len(), 3, "{servers:?}");
    let ports = w
        .clouds
        .dst
        .neutron()
        .ports(&Filters::none().eq("project_id", &project))
        .await
        .unwrap();
    for s in &servers {
        let own = ports.iter().filter(|p| p.device_id == s.id).count();
        if s.name == "db" {
            assert_eq!(own, 0, "the db server is connected: {ports:?}");
        } else {
            assert!(own > 0, "{} lost its port", s.name);
        }
    }
    // the port the db server had from the job's point is gone too
    let instance_ports = ports
        .iter()
        .filter(|p| !p.device_owner.starts_with("network:"))
        .count();
    let connected: usize = topo
        .instances
        .iter()
        .filter(|i| i.id != db.id)
        .map(|i| i.ports.len())
        .sum();
    assert_eq!(instance_ports, connected, "{ports:?}");

    // rolled back, the target is as it was
    let (s, b) = ctx.op(&id, "rollback", None).await;
    assert_eq!(s, 200, "{b}");
    ctx.wait_gone(&id).await;
    assert_eq!(listing(&w.clouds).await, w.before);
    ctx.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_retry_from_an_older_snapshot_sqlite() {
    dr_retry_from_an_older_snapshot(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dr_retry_from_an_older_snapshot_postgres() {
    dr_retry_from_an_older_snapshot(Backend::Postgres).await;
}
