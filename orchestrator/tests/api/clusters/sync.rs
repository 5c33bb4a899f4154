//! Full sync: the copy equals the cloud; 5xx are retried; failures and drift are
//! reported; one sync per cluster at a time.

use std::time::Duration;

use holdfast_openstack::Filters;
use holdfast_testcloud::faults::{FaultAction, FaultRule};

use super::cloud::{self, ids, license, register, wait_synced};
use crate::helpers::{TestApp, eventually};
use crate::on_both_backends;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

async fn full_sync_equals_the_cloud(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let id = register(app, &admin, cloud.body("c1", &group, false)).await;
    wait_synced(app, &admin, &id, Duration::from_secs(30)).await;
    let s = cloud.session().await;
    let all = Filters::all_tenants();
    let none = Filters::none();
    let expect: Vec<(&str, Vec<String>)> = vec![
        (
            "instances",
            s.nova()
                .servers(&all)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "volumes",
            s.cinder()
                .volumes(&all)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "volume-snapshots",
            s.cinder()
                .snapshots(&all)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "volume-types",
            s.cinder()
                .volume_types(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "volume-groups",
            s.cinder()
                .groups(&all)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "networks",
            s.neutron()
                .networks(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "subnets",
            s.neutron()
                .subnets(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "ports",
            s.neutron()
                .ports(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "routers",
            s.neutron()
                .routers(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "floating-ips",
            s.neutron()
                .floating_ips(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "security-groups",
            s.neutron()
                .security_groups(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "security-group-rules",
            s.neutron()
                .security_groups(&none)
                .await
                .unwrap()
                .into_iter()
                .flat_map(|x| x.security_group_rules.into_iter().map(|r| r.id))
                .collect(),
        ),
        (
            "projects",
            s.keystone()
                .projects(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "flavors",
            s.nova()
                .flavors(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "keypairs",
            s.nova()
                .keypairs(&none)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.name)
                .collect(),
        ),
        (
            "hypervisors",
            s.nova()
                .hypervisors()
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect(),
        ),
        (
            "availability-zones",
            s.nova()
                .availability_zones()
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.name)
                .collect(),
        ),
    ];
    for (kind, cloud_ids) in expect {
        assert_eq!(
            ids(app, &admin, &id, kind).await,
            sorted(cloud_ids),
            "{kind}"
        );
    }
    assert_eq!(ids(app, &admin, &id, "instances").await.len(), 6);
    // The indexed columns and the document of an instance.
    let server = &s.nova().servers(&all).await.unwrap()[0];
    let v = cloud::resource(app, &admin, &id, "instances", &server.id)
        .await
        .unwrap();
    assert_eq!(v["status"], server.status.as_str());
    assert_eq!(v["project_id"], server.tenant_id.as_str());
    assert_eq!(v["document"]["flavor"]["vcpus"], server.flavor.vcpus);
    assert!(
        !v["document"]["os-extended-volumes:volumes_attached"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{v}"
    );
    // Filters and pagination.
    let project = server.tenant_id.clone();
    let (st, page) = app
        .call(
            "GET",
            &format!("/api/v1/clusters/{id}/resources/instances?project_id={project}&limit=2"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let in_project = s
        .nova()
        .servers(&all)
        .await
        .unwrap()
        .iter()
        .filter(|x| x.tenant_id == project)
        .count();
    assert_eq!(page["total"], in_project);
    // Pages follow one order (name, id), and a page past the end still counts.
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let servers = s.nova().servers(&all).await.unwrap().len();
    assert!(servers >= 4, "the fixture has {servers} servers");
    let mut pages = Vec::new();
    for query in ["limit=4", "limit=2", "limit=2&offset=2", "offset=500"] {
        let (st, page) = app
            .call(
                "GET",
                &format!("/api/v1/clusters/{id}/resources/instances?{query}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, 200, "{query}: {page}");
        assert_eq!(page["total"], servers, "{query}: {page}");
        pages.push(ids(&page));
    }
    assert_eq!(pages[0].len(), 4);
    assert_eq!(pages[0], [pages[1].clone(), pages[2].clone()].concat());
    assert!(pages[3].is_empty());
    let (st, page) = app
        .call(
            "GET",
            &format!("/api/v1/clusters/{id}/unprotected-instances"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(page["total"], 6);
    let (st, _) = app
        .call(
            "GET",
            &format!("/api/v1/clusters/{id}/resources/servers"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, 404);
    cloud.tc.shutdown().await;
}

async fn sync_retries_5xx_reports_failures_and_drift(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let faults = cloud.tc.faults();
    // Two 503s on the server list: the client retries and the sync completes.
    faults
        .add(FaultRule {
            id: 0,
            service: None,
            method: Some("GET".into()),
            path_contains: Some("servers/detail".into()),
            probability: None,
            remaining: Some(2),
            action: FaultAction::Error {
                status: 503,
                message: None,
            },
        })
        .unwrap();
    let id = register(app, &admin, cloud.body("c1", &group, false)).await;
    let v = wait_synced(app, &admin, &id, Duration::from_secs(60)).await;
    assert!(v["sync_error"].is_null(), "{v}");
    assert_eq!(v["resource_counts"]["instances"], 6, "{v}");
    assert!(faults.injected.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    // A change the cluster hears nothing about (no broker): the next sync repairs it
    // and counts the drift.
    let s = cloud.session().await;
    let vol = s
        .cinder()
        .create_volume(&holdfast_openstack::cinder::VolumeCreate {
            size: 1,
            name: Some("drifted".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let sync = format!("/api/v1/clusters/{id}/sync");
    // Slow the server list down so that a second request finds the sync running.
    faults
        .add(FaultRule {
            id: 0,
            service: None,
            method: Some("GET".into()),
            path_contains: Some("servers/detail".into()),
            probability: None,
            remaining: Some(1),
            action: FaultAction::Latency { ms: 1500 },
        })
        .unwrap();
    let (st, b) = app.call("POST", &sync, Some(&admin), None).await;
    assert_eq!(st, 202, "{b}");
    let (st, b) = app.call("POST", &sync, Some(&admin), None).await;
    assert_eq!(st, 409, "{b}");
    wait_synced(app, &admin, &id, Duration::from_secs(60)).await;
    assert!(
        cloud::resource(app, &admin, &id, "volumes", &vol.id)
            .await
            .is_some()
    );
    assert!(cloud::metric(app, "holdfast_cluster_sync_drift_total").await >= 1.0);
    let (_, events) = app
        .call(
            "GET",
            "/api/v1/events?code=cluster.sync.drift",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(events["total"], 1, "{events}");
    // A cloud that keeps failing: the sync ends with its error and an event.
    faults
        .add(FaultRule {
            id: 0,
            service: None,
            method: Some("GET".into()),
            path_contains: Some("volumes/detail".into()),
            probability: None,
            remaining: None,
            action: FaultAction::Error {
                status: 500,
                message: Some("boom".into()),
            },
        })
        .unwrap();
    let (st, _) = app.call("POST", &sync, Some(&admin), None).await;
    assert_eq!(st, 202);
    let failed = eventually(Duration::from_secs(60), || async {
        let v = cloud::show(app, &admin, &id).await;
        v["sync_status"] == "Done"
            && v["sync_error"]
                .as_str()
                .is_some_and(|e| e.contains("volumes"))
    })
    .await;
    assert!(failed, "{}", cloud::show(app, &admin, &id).await);
    // The event is published just after the status is written.
    let events_url = "/api/v1/events?code=cluster.sync.failed";
    let raised = eventually(Duration::from_secs(10), || async {
        let (_, events) = app.call("GET", events_url, Some(&admin), None).await;
        events["total"] == 1
    })
    .await;
    let (_, events) = app.call("GET", events_url, Some(&admin), None).await;
    assert!(raised, "{events}");
    cloud.tc.shutdown().await;
}

on_both_backends!(
    full_sync_equals_the_cloud,
    sync_retries_5xx_reports_failures_and_drift
);
