//! Plan facts against the test clouds: the admin membership asked of the source's
//! Keystone at group creation, the target's capacity in the plan state, and the plan
//! sync reactions to changes arriving by notification and by full sync.

use std::time::Duration;

use holdfast_openstack::Filters;
use holdfast_testcloud::fixture::Fixture;
use holdfast_testcloud::fixture::generate::generate;
use serde_json::{Value, json};

use crate::clusters::cloud::{self, Cloud};
use crate::helpers::{TestApp, error_code, eventually};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);

struct Clouds {
    source: Cloud,
    target: Cloud,
    src: String,
    dst: String,
    /// server name → id on the source.
    servers: std::collections::BTreeMap<String, String>,
}

/// A source registered with notifications and a target (with notifications when
/// `target_notifies`, otherwise brought up to date by full syncs only), both synced.
async fn clouds(
    app: &TestApp,
    admin: &str,
    group: &str,
    (source, target): (Fixture, Fixture),
    target_notifies: bool,
) -> Clouds {
    cloud::license(app, admin).await;
    let source = cloud::start(&source).await;
    let target = cloud::start(&target).await;
    let src = cloud::register(app, admin, source.body("source", group, true)).await;
    let dst = cloud::register(app, admin, target.body("target", group, target_notifies)).await;
    for id in [&src, &dst] {
        cloud::wait_synced(app, admin, id, Duration::from_secs(30)).await;
    }
    cloud::wait_listening(app, admin, &src).await;
    if target_notifies {
        cloud::wait_listening(app, admin, &dst).await;
    }
    let servers = source.server_ids().await;
    Clouds {
        source,
        target,
        src,
        dst,
        servers,
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.call(method, path, Some(token), body).await
}

async fn ok(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (s, b) = call(app, method, path, token, body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

impl Clouds {
    fn group_body(&self, name: &str, owner: &str, servers: &[&str]) -> Value {
        json!({
            "name": name, "source_cluster_id": self.src, "owner_group_id": owner,
            "instances": servers.iter().map(|s| self.servers[*s].clone()).collect::<Vec<_>>(),
            "rpo_minutes": 15, "rto_minutes": 60,
            "snapshot_interval": {"kind": "every_hours", "n": 1},
        })
    }

    /// A plan of `servers` (all of project-000, network net-000).
    async fn plan(
        &self,
        app: &TestApp,
        admin: &str,
        group: &str,
        servers: &[&str],
        network: Value,
        node: Option<&str>,
    ) -> String {
        let net0 = self.source.network_id("net-000").await;
        let instances: serde_json::Map<String, Value> = servers
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    self.servers[*n].clone(),
                    json!({"start_order": i, "node": node}),
                )
            })
            .collect();
        let b = ok(
            app,
            "POST",
            "/api/v1/plans",
            admin,
            Some(
                json!({"group_id": group, "name": "shop-dr", "target_cluster_id": self.dst,
                "retention": 4, "mapping": {
                    "project_name": "shop-dr", "availability_zone": "nova",
                    "networks": {net0: network},
                    "volume_types": {"__DEFAULT__": "__DEFAULT__"},
                    "instances": instances,
                }}),
            ),
        )
        .await;
        b["id"].as_str().unwrap().to_owned()
    }
}

async fn events(app: &TestApp, token: &str, code: &str) -> Vec<String> {
    let b = ok(
        app,
        "GET",
        &format!("/api/v1/events?code={code}&limit=100"),
        token,
        None,
    )
    .await;
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn wait_for_event(app: &TestApp, token: &str, code: &str, needle: &str) {
    let ok = eventually(WAIT, || async {
        events(app, token, code)
            .await
            .iter()
            .any(|m| m.contains(needle))
    })
    .await;
    assert!(
        ok,
        "no {code} event containing {needle:?}: {:?}",
        events(app, token, code).await
    );
}

async fn admin_membership_is_asked_of_the_cloud(app: &TestApp) {
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    let mut fx = generate(8, 12, 2);
    // project-001 was made by someone else: the admin account is no member
    fx.projects[1].admin_member = false;
    let c = clouds(app, &admin, &ops, (fx, generate(2, 2, 1)), true).await;
    let s = c.source.session().await;
    let project = s
        .keystone()
        .projects(&Filters::none().eq("name", "project-001"))
        .await
        .unwrap()[0]
        .id
        .clone();
    let pg = "/api/v1/protection-groups";
    let (st, b) = call(
        app,
        "POST",
        pg,
        &admin,
        Some(c.group_body("p1", &ops, &["server-00001"])),
    )
    .await;
    assert_eq!(
        (st, error_code(&b).as_str()),
        (422, "no_admin_membership"),
        "{b}"
    );
    let m = b["error"]["message"].as_str().unwrap();
    assert!(
        m.contains(&format!(
            "openstack role add --user admin --project {project} admin"
        )),
        "{m}"
    );
    // a project with the membership is accepted
    ok(
        app,
        "POST",
        pg,
        &admin,
        Some(c.group_body("p0", &ops, &["server-00000"])),
    )
    .await;
    // the operator grants the role: the next creation sees it at once (no sync needed)
    let user = s.token().await.unwrap().user.id.clone();
    let role = s
        .keystone()
        .role_by_name("admin")
        .await
        .unwrap()
        .unwrap()
        .id;
    s.keystone()
        .grant_project_role(&project, &user, &role)
        .await
        .unwrap();
    ok(
        app,
        "POST",
        pg,
        &admin,
        Some(c.group_body("p1", &ops, &["server-00001"])),
    )
    .await;
    // and a revocation too
    s.keystone()
        .revoke_project_role(&project, &user, &role)
        .await
        .unwrap();
    let (st, b) = call(
        app,
        "POST",
        pg,
        &admin,
        Some(c.group_body("p3", &ops, &["server-00003"])),
    )
    .await;
    assert_eq!(
        (st, error_code(&b).as_str()),
        (422, "no_admin_membership"),
        "{b}"
    );
}

async fn target_capacity_is_in_the_plan_state(app: &TestApp) {
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    let mut target = generate(2, 2, 1);
    // compute-0000 (zone nova) has one vCPU; server-00002 is an m1.medium (2 vCPUs)
    target.hypervisors[0].vcpus = 1;
    target
        .hypervisors
        .push(holdfast_testcloud::fixture::HypervisorFx {
            hostname: "compute-big".into(),
            availability_zone: "nova".into(),
            vcpus: 64,
            memory_mb: 65536,
            local_gb: 1000,
        });
    let c = clouds(app, &admin, &ops, (generate(8, 12, 2), target), true).await;
    let g = ok(
        app,
        "POST",
        "/api/v1/protection-groups",
        &admin,
        Some(c.group_body("shop", &ops, &["server-00002"])),
    )
    .await;
    let gid = g["id"].as_str().unwrap();
    let plan = c
        .plan(
            app,
            &admin,
            gid,
            &["server-00002"],
            json!("create"),
            Some("compute-0000"),
        )
        .await;
    let (_, reasons) = app.plan_state(&admin, &plan).await;
    let r = reasons
        .iter()
        .find(|r| r.starts_with("compute node compute-0000 cannot host"))
        .unwrap_or_else(|| panic!("no capacity reason: {reasons:?}"));
    assert!(r.contains("short by ") && r.contains(" vCPUs"), "{r}");
    assert!(r.contains("counted as 1.0"), "{r}");
    // mapped to any node of zone nova: compute-big fits it
    let mut p = ok(app, "GET", &format!("/api/v1/plans/{plan}"), &admin, None).await;
    let sid = &c.servers["server-00002"];
    p["mapping"]["instances"][sid]["node"] = Value::Null;
    ok(
        app,
        "PATCH",
        &format!("/api/v1/plans/{plan}"),
        &admin,
        Some(json!({"mapping": p["mapping"]})),
    )
    .await;
    let (_, reasons) = app.plan_state(&admin, &plan).await;
    assert!(
        !reasons
            .iter()
            .any(|r| r.contains("cannot host") || r.contains("fits on no")),
        "{reasons:?}"
    );
}

async fn plan_mapping(app: &TestApp, token: &str, plan: &str) -> Value {
    ok(app, "GET", &format!("/api/v1/plans/{plan}"), token, None).await["mapping"].clone()
}

async fn source_changes_update_the_plan(app: &TestApp) {
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    let c = clouds(
        app,
        &admin,
        &ops,
        (generate(8, 12, 2), generate(2, 2, 1)),
        true,
    )
    .await;
    // server-00000: vol-00000 (boot) + vol-00008; server-00002: vol-00002 + vol-00010;
    // server-00004: vol-00004; all on net-000
    let g = ok(
        app,
        "POST",
        "/api/v1/protection-groups",
        &admin,
        Some(c.group_body(
            "shop",
            &ops,
            &["server-00000", "server-00002", "server-00004"],
        )),
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let plan = c
        .plan(
            app,
            &admin,
            &gid,
            &["server-00000", "server-00002", "server-00004"],
            json!("create"),
            None,
        )
        .await;
    let s = c.source.session().await;
    let vols: std::collections::BTreeMap<String, String> = s
        .cinder()
        .volumes(&Filters::all_tenants())
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name.unwrap_or_default(), v.id))
        .collect();
    assert_eq!(
        plan_mapping(app, &admin, &plan).await["volumes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // a data volume detached (then deleted): it leaves the plan (notification)
    let (srv0, vol8) = (&c.servers["server-00000"], &vols["vol-00008"]);
    s.nova().detach_volume(srv0, vol8).await.unwrap();
    let gone = eventually(WAIT, || async {
        !plan_mapping(app, &admin, &plan).await["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == vol8.as_str())
    })
    .await;
    assert!(gone, "{}", plan_mapping(app, &admin, &plan).await);
    wait_for_event(
        app,
        &admin,
        "plan.sync.updated",
        "volume vol-00008 was detached from instance server-00000",
    )
    .await;
    s.cinder().delete_volume(vol8).await.unwrap();

    // a source instance deleted: it leaves group and plan (notification)
    let srv4 = c.servers["server-00004"].clone();
    s.nova().delete_server(&srv4).await.unwrap();
    let left = eventually(WAIT, || async {
        let m = plan_mapping(app, &admin, &plan).await;
        m["instances"].get(&srv4).is_none()
            && !m["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == vols["vol-00004"].as_str())
    })
    .await;
    assert!(left, "{}", plan_mapping(app, &admin, &plan).await);
    let g = ok(
        app,
        "GET",
        &format!("/api/v1/protection-groups/{gid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(g["instances"].as_array().unwrap().len(), 2, "{g}");
    wait_for_event(
        app,
        &admin,
        "plan.sync.updated",
        "was deleted on the source: it left the protection group and the plan",
    )
    .await;

    // the instances' ports deleted (notifications); the last one takes net-000 out of
    // the mapping
    let net0 = c.source.network_id("net-000").await;
    let ports = s
        .neutron()
        .ports(&Filters::none().eq("network_id", net0.clone()))
        .await
        .unwrap();
    for p in ports
        .iter()
        .filter(|p| p.device_owner.starts_with("compute:") && p.device_id != srv4)
    {
        s.neutron().delete_port(&p.id).await.unwrap();
    }
    let unmapped = eventually(WAIT, || async {
        plan_mapping(app, &admin, &plan).await["networks"]
            .get(&net0)
            .is_none()
    })
    .await;
    assert!(unmapped, "{}", plan_mapping(app, &admin, &plan).await);
    wait_for_event(
        app,
        &admin,
        "plan.sync.updated",
        "left the plan's network mapping",
    )
    .await;

    // the last instances deleted: the plan is deleted
    for n in ["server-00000", "server-00002"] {
        s.nova().delete_server(&c.servers[n]).await.unwrap();
    }
    let deleted = eventually(WAIT, || async {
        call(app, "GET", &format!("/api/v1/plans/{plan}"), &admin, None)
            .await
            .0
            == 404
    })
    .await;
    assert!(deleted, "the plan was not deleted");
    wait_for_event(
        app,
        &admin,
        "plan.deleted",
        "the last instance of its protection group was deleted",
    )
    .await;
}

async fn a_deleted_target_network_warns_until_the_plan_is_saved(app: &TestApp) {
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    // the target is brought up to date by full syncs only: the reactions of the sync's
    // reconciliation
    let c = clouds(
        app,
        &admin,
        &ops,
        (generate(8, 12, 2), generate(2, 2, 1)),
        false,
    )
    .await;
    let t = c.target.session().await;
    let net = t
        .neutron()
        .create_network(&holdfast_openstack::neutron::NetworkCreate {
            name: "dr-landing".into(),
            admin_state_up: true,
            ..Default::default()
        })
        .await
        .unwrap();
    cloud::resync(app, &admin, &c.dst, WAIT).await;
    let synced = eventually(WAIT, || async {
        cloud::resource(app, &admin, &c.dst, "networks", &net.id)
            .await
            .is_some()
    })
    .await;
    assert!(synced, "the new target network did not reach the copy");
    let g = ok(
        app,
        "POST",
        "/api/v1/protection-groups",
        &admin,
        Some(c.group_body("shop", &ops, &["server-00000"])),
    )
    .await;
    let gid = g["id"].as_str().unwrap();
    let plan = c
        .plan(
            app,
            &admin,
            gid,
            &["server-00000"],
            json!({"existing": net.id}),
            None,
        )
        .await;
    let (_, before) = app.plan_state(&admin, &plan).await;
    assert!(
        !before.iter().any(|r| r.contains("was deleted")),
        "{before:?}"
    );
    t.neutron().delete_network(&net.id).await.unwrap();
    cloud::resync(app, &admin, &c.dst, WAIT).await;
    let expected = format!(
        "target network {} was deleted: choose another network in the plan",
        net.id
    );
    let warned = eventually(WAIT, || async {
        app.plan_state(&admin, &plan).await.1.contains(&expected)
    })
    .await;
    assert!(warned, "{:?}", app.plan_state(&admin, &plan).await);
    wait_for_event(app, &admin, "plan.sync.warning", &expected).await;
    // replication is not connected in this test (the state is Prepare and says so);
    // the warning is among the reasons and stays until a user saves the plan
    let (state, reasons) = app.plan_state(&admin, &plan).await;
    assert_eq!(state, "Prepare", "{reasons:?}");
    let mut m = plan_mapping(app, &admin, &plan).await;
    let net0 = c.source.network_id("net-000").await;
    m["networks"][&net0] = json!("create");
    ok(
        app,
        "PATCH",
        &format!("/api/v1/plans/{plan}"),
        &admin,
        Some(json!({"mapping": m})),
    )
    .await;
    let (_, reasons) = app.plan_state(&admin, &plan).await;
    assert!(!reasons.contains(&expected), "{reasons:?}");
}

on_both_backends!(
    admin_membership_is_asked_of_the_cloud,
    target_capacity_is_in_the_plan_state,
    source_changes_update_the_plan,
    a_deleted_target_network_warns_until_the_plan_is_saved,
);
