//! A drill and a DR of the shop, each rolled back to the target's exact listing; an
//! injected failure on one instance.

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::Filters;
use holdfast_orchestrator::dr::ids::{InstanceId, SnapshotId};
use holdfast_orchestrator::dr::job::{JobType, RecoveryPoint};
use holdfast_orchestrator::dr::job_state::TasksOutcome;
use holdfast_orchestrator::dr::topology::Boot;
use holdfast_orchestrator::recovery::RecoveryReport;
use holdfast_testcloud::faults::{FaultAction, FaultRule};

use crate::support::*;

/// Every started instance's start task ended before any start of a later group began.
fn assert_boot_order(spec: &holdfast_orchestrator::recovery::JobSpec, report: &RecoveryReport) {
    let group_of: BTreeMap<String, u32> = spec
        .topology
        .instances
        .iter()
        .filter_map(|i| match i.boot {
            Boot::Started(g) => Some((i.id.to_string(), g)),
            Boot::Stopped => None,
        })
        .collect();
    let mut spans: BTreeMap<u32, Vec<(i64, i64)>> = BTreeMap::new();
    for t in &report.tasks {
        if let Some(rest) = t.description.strip_prefix("start instance ") {
            let id = rest.split_whitespace().next().unwrap();
            spans
                .entry(group_of[id])
                .or_default()
                .push((t.started_at.unwrap(), t.finished_at.unwrap()));
        }
    }
    assert_eq!(spans.len(), 3, "three boot groups: {spans:?}");
    let groups: Vec<_> = spans.values().collect();
    for w in groups.windows(2) {
        let end = w[0].iter().map(|s| s.1).max().unwrap();
        let start = w[1].iter().map(|s| s.0).min().unwrap();
        assert!(
            end <= start,
            "a boot group started before the previous one was running"
        );
    }
}

async fn recovered_project(c: &Clouds, name_prefix: &str) -> String {
    let projects = c.dst.keystone().projects(&Filters::none()).await.unwrap();
    let found: Vec<_> = projects
        .iter()
        .filter(|p| p.name.starts_with(name_prefix))
        .collect();
    assert_eq!(found.len(), 1, "exactly one recovered project: {found:?}");
    found[0].id.clone()
}

async fn drill_then_dr(backend: Backend) {
    let c = start_clouds(2, 2, timing()).await;
    let (spec, volumes) = plan_from_source(&c).await;
    assert_eq!(volumes.len(), 8);
    write_patterns(&c, &volumes);
    let snaps = snapshot_all(&c, &volumes).await;
    let m = materialiser(&c);
    m.snapshots
        .lock()
        .unwrap()
        .insert(SnapshotId::new("gs-1"), snaps.clone());
    // written after the recovery point: must not reach the target
    scribble(&c, &volumes);
    let before = listing(&c).await;
    let tdb = TestDb::new(backend).await;
    let ex = executor(&c, &tdb.db, m.clone(), options()).await;

    // ---- drill
    let job = new_job(
        &spec,
        JobType::Drill,
        RecoveryPoint::Snapshot(SnapshotId::new("gs-1")),
    );
    ex.create_job(&job).await.unwrap();
    let report = ex.recover(&job.id).await.unwrap();
    assert_eq!(report.outcome, TasksOutcome::Success, "{:#?}", report.tasks);
    assert!(report.instances.values().all(|ok| *ok));
    assert_boot_order(&spec, &report);
    let project = recovered_project(&c, "shop-drill-").await;
    let servers = c
        .dst
        .nova()
        .servers(&Filters::all_tenants().eq("project_id", &project))
        .await
        .unwrap();
    assert_eq!(servers.len(), 5);
    assert!(servers.iter().all(|s| s.status == "ACTIVE"), "{servers:?}");
    // volume bytes equal the source at the snapshot, not the data written after it
    let target_volumes = c
        .dst
        .cinder()
        .volumes(&Filters::all_tenants().eq("project_id", &project))
        .await
        .unwrap();
    assert_eq!(target_volumes.len(), 8);
    for (id, name) in &volumes {
        let t = target_volumes
            .iter()
            .find(|v| v.name.as_deref() == Some(name.as_str()))
            .unwrap();
        let target_file = pool(&c.target).join(format!("volume-{}", t.id));
        let snap_file = pool(&c.source).join(format!(
            "snapshot-{}",
            snaps[&holdfast_orchestrator::dr::ids::VolumeId::new(id)]
        ));
        assert!(
            same_bytes(&target_file, &snap_file),
            "volume {name} differs from the snapshot"
        );
        assert!(
            !same_bytes(&target_file, &pool(&c.source).join(format!("volume-{id}"))),
            "volume {name} holds data written after the recovery point"
        );
    }
    // the drill is isolated: copied networks, no gateway, no floating IP
    let n = c.dst.neutron();
    let f = || Filters::none().eq("project_id", &project);
    assert!(n.floating_ips(&f()).await.unwrap().is_empty());
    let routers = n.routers(&f()).await.unwrap();
    assert_eq!(routers.len(), 1);
    assert!(routers[0].external_gateway_info.is_none());
    assert!(n.networks(&f()).await.unwrap().iter().all(|x| !x.external));
    // security groups copied with their rules, on the instances' ports
    let groups = n.security_groups(&f()).await.unwrap();
    let names: BTreeSet<_> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["db", "default", "web"]));
    let web = groups.iter().find(|g| g.name == "web").unwrap();
    let ports: BTreeSet<_> = web
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .filter_map(|r| r.port_range_min)
        .collect();
    assert_eq!(ports, BTreeSet::from([80, 443]));
    for s in &servers {
        let want = if s.name.starts_with("web") {
            "web"
        } else {
            "db"
        };
        let ps = n
            .ports(&Filters::none().eq("device_id", &s.id))
            .await
            .unwrap();
        assert_eq!(ps.len(), 1);
        let g = groups
            .iter()
            .find(|g| g.id == ps[0].security_groups[0])
            .unwrap();
        assert_eq!(g.name, want);
        // fixed IP kept on the copied subnet
        let port = &spec
            .topology
            .instances
            .iter()
            .find(|i| i.name == s.name)
            .unwrap()
            .ports[0]
            .id;
        let src_ip = &spec.details.ports[port].fixed_ip;
        assert_eq!(ps[0].fixed_ips[0].ip_address.as_ref(), src_ip.as_ref());
    }
    // rollback: the target is exactly as before
    let rb = ex.rollback(&job.id).await.unwrap();
    assert!(rb.failed.is_empty(), "{:?}", rb.failed);
    assert_eq!(listing(&c).await, before);

    // ---- DR from the same point: floating IPs keep their addresses, gateway set
    let job = new_job(
        &spec,
        JobType::Dr,
        RecoveryPoint::Snapshot(SnapshotId::new("gs-1")),
    );
    ex.create_job(&job).await.unwrap();
    let report = ex.recover(&job.id).await.unwrap();
    assert_eq!(report.outcome, TasksOutcome::Success, "{:#?}", report.tasks);
    let project = recovered_project(&c, "shop").await;
    let fips: BTreeSet<String> = n
        .floating_ips(&Filters::none().eq("project_id", &project))
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.floating_ip_address)
        .collect();
    let source_fips: BTreeSet<String> = c
        .src
        .neutron()
        .floating_ips(&Filters::none())
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.floating_ip_address)
        .collect();
    assert_eq!(fips.len(), 2);
    assert_eq!(fips, source_fips);
    let routers = n
        .routers(&Filters::none().eq("project_id", &project))
        .await
        .unwrap();
    assert!(routers[0].external_gateway_info.is_some());
    let rb = ex.rollback(&job.id).await.unwrap();
    assert!(rb.failed.is_empty(), "{:?}", rb.failed);
    assert_eq!(listing(&c).await, before);
    tdb.close().await;
    c.source.shutdown().await;
    c.target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_and_dr_then_rollback_sqlite() {
    drill_then_dr(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_and_dr_then_rollback_postgres() {
    drill_then_dr(Backend::Postgres).await;
}

async fn one_instance_fails(backend: Backend) {
    let c = start_clouds(2, 2, timing()).await;
    let (spec, volumes) = plan_from_source(&c).await;
    let before = listing(&c).await;
    let tdb = TestDb::new(backend).await;
    let ex = executor(&c, &tdb.db, materialiser(&c), options()).await;
    // Nova refuses the first server creation it receives (quota)
    c.target
        .faults()
        .add(FaultRule {
            id: 0,
            service: Some("compute".into()),
            method: Some("POST".into()),
            path_contains: Some("/servers".into()),
            probability: None,
            remaining: Some(1),
            action: FaultAction::QuotaExceeded {
                resource: "instances".into(),
            },
        })
        .unwrap();
    let job = new_job(&spec, JobType::Drill, RecoveryPoint::LatestData);
    ex.create_job(&job).await.unwrap();
    let report = ex.recover(&job.id).await.unwrap();
    assert_eq!(report.outcome, TasksOutcome::PartialSuccess);
    let failed: Vec<&InstanceId> = report
        .instances
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", report.instances);
    let project = recovered_project(&c, "shop-drill-").await;
    let servers = c
        .dst
        .nova()
        .servers(&Filters::all_tenants().eq("project_id", &project))
        .await
        .unwrap();
    let active = servers.iter().filter(|s| s.status == "ACTIVE").count();
    assert_eq!(active, 4, "the other instances are recovered and running");
    assert!(
        report
            .tasks
            .iter()
            .any(|t| t.state == "failed" && t.error.as_deref().is_some_and(|e| e.contains("uota")))
    );
    let _ = volumes;
    let rb = ex.rollback(&job.id).await.unwrap();
    assert!(rb.failed.is_empty(), "{:?}", rb.failed);
    assert_eq!(listing(&c).await, before);
    tdb.close().await;
    c.source.shutdown().await;
    c.target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_instance_gives_partial_success_sqlite() {
    one_instance_fails(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_instance_gives_partial_success_postgres() {
    one_instance_fails(Backend::Postgres).await;
}
