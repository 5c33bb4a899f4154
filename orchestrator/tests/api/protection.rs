//! Protection groups and recovery plans against two in-process test clouds (source and
//! target), on SQLite and PostgreSQL: every create / update / delete rule, the plan
//! state's reasons, `freeze_plan` checked against the source cloud, RBAC, and the
//! cluster delete refused while a group or plan uses it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use holdfast_openstack::Filters;
use holdfast_orchestrator::db::Db;
use holdfast_orchestrator::dr::ids::PlanId;
use holdfast_orchestrator::protection::{self, ProtectionError};
use serde_json::{Value, json};

use crate::clusters::cloud::{self, Cloud};
use crate::helpers::{TestApp, error_code};
use crate::on_both_backends;

/// Two synced clusters owned by `group`: the source (8 servers in two projects) and a
/// small target.
pub(crate) struct Env {
    pub(crate) source: Cloud,
    pub(crate) src: String,
    pub(crate) dst: String,
    /// server name → id on the source.
    pub(crate) servers: BTreeMap<String, String>,
    /// The network of project-000 (its id on the source).
    pub(crate) net0: String,
    _target: Cloud,
}

pub(crate) async fn env(app: &TestApp, admin: &str, group: &str) -> Env {
    env_with_target(
        app,
        admin,
        group,
        holdfast_testcloud::config::Timing::instant(),
    )
    .await
}

/// [`env`] with the target cloud's own pace.
pub(crate) async fn env_with_target(
    app: &TestApp,
    admin: &str,
    group: &str,
    target_timing: holdfast_testcloud::config::Timing,
) -> Env {
    cloud::license(app, admin).await;
    let source = cloud::start(&holdfast_testcloud::fixture::generate::generate(8, 12, 2)).await;
    let target = cloud::start_timed(
        &holdfast_testcloud::fixture::generate::generate(2, 2, 1),
        target_timing,
    )
    .await;
    let src = cloud::register(app, admin, source.body("source", group, false)).await;
    let dst = cloud::register(app, admin, target.body("target", group, false)).await;
    cloud::wait_synced(app, admin, &src, Duration::from_secs(30)).await;
    cloud::wait_synced(app, admin, &dst, Duration::from_secs(30)).await;
    let servers = source.server_ids().await;
    let net0 = source.network_id("net-000").await;
    Env {
        source,
        src,
        dst,
        servers,
        net0,
        _target: target,
    }
}

impl Env {
    /// The target cloud.
    pub(crate) fn target(&self) -> &Cloud {
        &self._target
    }

    pub(crate) fn ids(&self, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| self.servers[*n].clone()).collect()
    }

    pub(crate) fn group_body(&self, name: &str, owner: &str, servers: &[&str]) -> Value {
        json!({
            "name": name, "source_cluster_id": self.src, "owner_group_id": owner,
            "instances": self.ids(servers), "rpo_minutes": 15, "rto_minutes": 60,
            "snapshot_interval": {"kind": "every_hours", "n": 1},
        })
    }

    pub(crate) fn mapping(&self, servers: &[&str]) -> Value {
        let instances: serde_json::Map<String, Value> = servers
            .iter()
            .enumerate()
            .map(|(i, n)| (self.servers[*n].clone(), json!({"start_order": i})))
            .collect();
        json!({
            "project_name": "shop-dr", "availability_zone": "nova",
            "networks": {self.net0.clone(): "create"},
            "volume_types": {"__DEFAULT__": "__DEFAULT__"},
            "instances": instances,
        })
    }

    pub(crate) fn plan_body(&self, name: &str, group: &str, servers: &[&str]) -> Value {
        json!({"group_id": group, "name": name, "target_cluster_id": self.dst,
               "retention": 4, "mapping": self.mapping(servers)})
    }
}

async fn ok(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (s, b) = app.call(method, path, Some(token), body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

async fn refused(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    status: u16,
    code: &str,
) -> String {
    let (s, b) = app.call(method, path, Some(token), body).await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (status, code),
        "{method} {path}: {b}"
    );
    b["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn db_of(app: &TestApp) -> Db {
    let db = Db::connect(&app.config.effective_database_url())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

async fn unprotected(app: &TestApp, token: &str, cluster: &str) -> BTreeSet<String> {
    let b = ok(
        app,
        "GET",
        &format!("/api/v1/clusters/{cluster}/unprotected-instances?limit=500"),
        token,
        None,
    )
    .await;
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn group_rules(app: &TestApp) {
    let admin = app.admin().await;
    let ops = app.create_group(&admin, "ops").await;
    let e = env(app, &admin, &ops).await;
    let pg = "/api/v1/protection-groups";
    // every creation refusal, with a specific code
    let m = refused(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("mixed", &ops, &["server-00000", "server-00001"])),
        422,
        "mixed_projects",
    )
    .await;
    assert!(m.contains("different projects"), "{m}");
    let mut b = e.group_body("ghost", &ops, &[]);
    b["instances"] = json!(["no-such-instance"]);
    let m = refused(app, "POST", pg, &admin, Some(b), 422, "unknown_instance").await;
    assert!(m.contains("no-such-instance"), "{m}");
    refused(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("empty", &ops, &[])),
        422,
        "no_instances",
    )
    .await;
    refused(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("bad name!", &ops, &["server-00000"])),
        422,
        "invalid_name",
    )
    .await;
    let mut b = e.group_body("daily", &ops, &["server-00000"]);
    b["snapshot_interval"] =
        json!({"kind": "daily", "every_days": 1, "at": {"hour": 1, "minute": 0}});
    refused(app, "POST", pg, &admin, Some(b), 422, "invalid_field").await;

    let all = unprotected(app, &admin, &e.src).await;
    assert_eq!(all.len(), 8);
    let g = ok(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("shop", &ops, &["server-00000", "server-00002"])),
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["instances"].as_array().unwrap().len(), 2);
    let left = unprotected(app, &admin, &e.src).await;
    assert_eq!(left.len(), 6);
    assert!(!left.contains(&e.servers["server-00000"]));
    // an instance is in one group only; names are unique
    let m = refused(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("shop2", &ops, &["server-00002", "server-00004"])),
        409,
        "instance_in_other_group",
    )
    .await;
    assert!(m.contains(&e.servers["server-00002"]), "{m}");
    refused(
        app,
        "POST",
        pg,
        &admin,
        Some(e.group_body("shop", &ops, &["server-00004"])),
        409,
        "name_taken",
    )
    .await;
    // update: other project refused; a valid change applies
    refused(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": e.ids(&["server-00000", "server-00001"])})),
        422,
        "mixed_projects",
    )
    .await;
    let g = ok(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"description": "the shop", "rpo_minutes": 5})),
    )
    .await;
    assert_eq!(
        (g["description"].as_str(), g["rpo_minutes"].as_i64()),
        (Some("the shop"), Some(5))
    );
    // the licence is validated when instances are added
    let key = app.licence_key(&admin, "2099-12-31", 3).await;
    ok(
        app,
        "PUT",
        "/api/v1/licence",
        &admin,
        Some(json!({"licence_key": key})),
    )
    .await;
    let m = refused(app, "PATCH", &format!("{pg}/{gid}"), &admin,
        Some(json!({"instances": e.ids(&["server-00000", "server-00002", "server-00004", "server-00006"])})),
        403, "licence_refused").await;
    assert!(m.contains("allows 3"), "{m}");
    cloud::license(app, &admin).await;

    // plans: every refusal
    let plans = "/api/v1/plans";
    let mut b = e.plan_body("shop-dr", &gid, &["server-00000", "server-00002"]);
    b["mapping"]["networks"] = json!({});
    b["mapping"]["instances"] = json!({});
    b.as_object_mut().unwrap().remove("retention");
    let m = refused(app, "POST", plans, &admin, Some(b), 422, "missing_field").await;
    assert!(m.contains("the snapshot retention is required"), "{m}");
    assert!(m.contains("a mapping for network net-000"), "{m}");
    assert!(m.contains("for instance server-00000"), "{m}");
    let mut b = e.plan_body("shop-dr", &gid, &["server-00000", "server-00002"]);
    b["retention"] = json!(49);
    refused(
        app,
        "POST",
        plans,
        &admin,
        Some(b),
        422,
        "invalid_retention",
    )
    .await;
    let p = ok(
        app,
        "POST",
        plans,
        &admin,
        Some(e.plan_body("shop-dr", &gid, &["server-00000", "server-00002"])),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_owned();
    assert_eq!(
        p["mapping"]["volumes"].as_array().unwrap().len(),
        2 + 2,
        "{p}"
    );
    refused(
        app,
        "POST",
        plans,
        &admin,
        Some(e.plan_body("other-dr", &gid, &["server-00000", "server-00002"])),
        409,
        "group_has_plan",
    )
    .await;
    // replication is not connected: Prepare, and it says so
    let (state, r) = app.plan_state(&admin, &pid).await;
    assert_eq!(state, "Prepare");
    assert!(r[0].starts_with("replication is not connected"), "{r:?}");
    assert_eq!(r.len(), 1, "{r:?}");

    // freeze_plan, checked against the source cloud
    let db = db_of(app).await;
    let frozen = protection::freeze_plan(&db, &PlanId::new(&pid))
        .await
        .unwrap();
    let s = e.source.session().await;
    let mut want_volumes = BTreeSet::new();
    for name in ["server-00000", "server-00002"] {
        let srv = s.nova().server(&e.servers[name]).await.unwrap();
        for a in &srv.volumes_attached {
            let v = s.cinder().volume(&a.id).await.unwrap();
            want_volumes.insert((v.id.clone(), v.size, v.host.clone().unwrap_or_default()));
        }
    }
    let got_volumes: BTreeSet<_> = frozen
        .volumes
        .iter()
        .map(|v| (v.id.to_string(), v.size_gb, v.backend_host.clone()))
        .collect();
    assert_eq!(got_volumes, want_volumes);
    assert_eq!(frozen.group.name.as_str(), "shop");
    assert_eq!(frozen.plan.name.as_str(), "shop-dr");
    assert_eq!(frozen.plan.retention.get(), 4);
    assert_eq!(
        (frozen.source.name.as_str(), frozen.target.name.as_str()),
        ("source", "target")
    );
    let t = &frozen.spec.topology;
    assert_eq!(t.project_name, "shop-dr");
    let names: Vec<&str> = t.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        BTreeSet::from_iter(names),
        BTreeSet::from(["server-00000", "server-00002"])
    );
    assert_eq!(t.networks.len(), 1);
    assert_eq!(t.networks[0].name, "net-000");
    assert_eq!(t.routers.len(), 1);
    assert!(t.routers[0].external_gateway);
    let tgt_flavors: BTreeMap<String, String> = e
        ._target
        .session()
        .await
        .nova()
        .flavors(&Filters::none())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect();
    for i in &t.instances {
        let d = &frozen.spec.details.instances[&i.id];
        let srv = s.nova().server(i.id.as_str()).await.unwrap();
        assert_eq!(
            Some(&tgt_flavors[&d.flavor]),
            srv.flavor.original_name.as_ref()
        );
        assert_eq!(i.ports.len(), 1);
    }
    assert!(frozen.spec.details.external_network.is_some());

    // adding an instance: not mapped until the plan is saved
    ok(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": e.ids(&["server-00000", "server-00002", "server-00004"])})),
    )
    .await;
    let (_, r) = app.plan_state(&admin, &pid).await;
    assert!(
        r.iter()
            .any(|x| x.contains("instance server-00004 was added to the group and is not mapped")),
        "{r:?}"
    );
    assert!(
        r.iter().any(|x| x.contains("volume vol-00004 was added")),
        "{r:?}"
    );
    match protection::freeze_plan(&db, &PlanId::new(&pid)).await {
        Err(ProtectionError::NotReady(v)) => assert!(format!("{v:?}").contains("server-00004")),
        other => panic!("freeze should be refused: {other:?}"),
    }
    ok(
        app,
        "PATCH",
        &format!("{plans}/{pid}"),
        &admin,
        Some(json!({"mapping": e.mapping(&["server-00000", "server-00002", "server-00004"])})),
    )
    .await;
    let (_, r) = app.plan_state(&admin, &pid).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        protection::freeze_plan(&db, &PlanId::new(&pid))
            .await
            .unwrap()
            .spec
            .topology
            .instances
            .len(),
        3
    );
    // removing an instance updates the plan automatically
    ok(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": e.ids(&["server-00000", "server-00002"])})),
    )
    .await;
    let p = ok(app, "GET", &format!("{plans}/{pid}"), &admin, None).await;
    assert!(
        p["mapping"]["instances"]
            .get(&e.servers["server-00004"])
            .is_none(),
        "{p}"
    );
    assert_eq!(
        protection::freeze_plan(&db, &PlanId::new(&pid))
            .await
            .unwrap()
            .spec
            .topology
            .instances
            .len(),
        2
    );

    // deletes refused while in use
    refused(
        app,
        "DELETE",
        &format!("{pg}/{gid}"),
        &admin,
        None,
        409,
        "group_has_plan",
    )
    .await;
    for c in [&e.src, &e.dst] {
        let m = refused(
            app,
            "DELETE",
            &format!("/api/v1/clusters/{c}"),
            &admin,
            None,
            409,
            "cluster_in_use",
        )
        .await;
        assert!(m.contains("shop"), "{m}");
    }

    // RBAC: a Viewer of the owner group reads only; a Manager of another group sees nothing
    let (_, pw) = app.create_user(&admin, "viewer1", "viewer", &[&ops]).await;
    let viewer = app.login("viewer1", &pw).await;
    ok(app, "GET", &format!("{pg}/{gid}"), &viewer, None).await;
    ok(app, "GET", &format!("{plans}/{pid}/state"), &viewer, None).await;
    refused(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &viewer,
        Some(json!({"description": "x"})),
        403,
        "forbidden",
    )
    .await;
    refused(
        app,
        "DELETE",
        &format!("{plans}/{pid}"),
        &viewer,
        None,
        403,
        "forbidden",
    )
    .await;
    let others = app.create_group(&admin, "others").await;
    let (_, pw) = app
        .create_user(&admin, "manager2", "manager", &[&others])
        .await;
    let mgr = app.login("manager2", &pw).await;
    refused(
        app,
        "GET",
        &format!("{pg}/{gid}"),
        &mgr,
        None,
        403,
        "forbidden",
    )
    .await;
    refused(
        app,
        "GET",
        &format!("{plans}/{pid}"),
        &mgr,
        None,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(ok(app, "GET", plans, &mgr, None).await["total"], 0);
    assert_eq!(ok(app, "GET", pg, &mgr, None).await["total"], 0);
    assert_eq!(
        ok(
            app,
            "GET",
            &format!("{plans}?cluster_id={}", e.dst),
            &admin,
            None
        )
        .await["total"],
        1
    );

    // removing every instance deletes the plan; then the group can go, then the clusters
    ok(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": []})),
    )
    .await;
    refused(
        app,
        "GET",
        &format!("{plans}/{pid}"),
        &admin,
        None,
        404,
        "not_found",
    )
    .await;
    refused(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": []})),
        422,
        "no_instances",
    )
    .await;
    ok(
        app,
        "PATCH",
        &format!("{pg}/{gid}"),
        &admin,
        Some(json!({"instances": e.ids(&["server-00000"])})),
    )
    .await;
    let p = ok(
        app,
        "POST",
        plans,
        &admin,
        Some(e.plan_body("shop-dr", &gid, &["server-00000"])),
    )
    .await;
    ok(
        app,
        "DELETE",
        &format!("{plans}/{}", p["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    ok(app, "DELETE", &format!("{pg}/{gid}"), &admin, None).await;
    ok(
        app,
        "DELETE",
        &format!("/api/v1/clusters/{}", e.src),
        &admin,
        None,
    )
    .await;
    let events = ok(app, "GET", "/api/v1/events?limit=500", &admin, None).await;
    let codes: BTreeSet<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["code"].as_str())
        .collect();
    // (the plan never left Prepare: replication is not connected, so no
    // plan.state.changed was raised)
    for c in [
        "protection_group.created",
        "plan.created",
        "plan.deleted",
        "protection_group.deleted",
    ] {
        assert!(codes.contains(c), "{c} missing from {codes:?}");
    }
    db.close().await;
}

on_both_backends!(group_rules);
