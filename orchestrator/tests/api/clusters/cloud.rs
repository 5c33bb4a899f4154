//! A test cloud per test (own notification exchanges on the machine's RabbitMQ) and
//! helpers to register it.

use std::time::Duration;

use holdfast_openstack::{Credentials, Options, Password, Session};
use holdfast_testcloud::TestCloud;
use holdfast_testcloud::config::{Notifications, Timing};
use holdfast_testcloud::fixture::{Fixture, UserFx};
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually};

/// The machine's RabbitMQ.
pub(crate) fn amqp_url() -> String {
    std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A running test cloud and the exchanges it notifies on.
pub(crate) struct Cloud {
    pub(crate) tc: TestCloud,
    pub(crate) exchanges: Vec<String>,
}

/// A small fixture: 6 servers, 12 volumes, 2 projects, and a user without the admin role.
pub(crate) fn small_fixture() -> Fixture {
    let mut fx = holdfast_testcloud::fixture::generate::generate(6, 12, 2);
    fx.users.push(UserFx {
        name: "member".into(),
        password: "member-pw".into(),
        project: Some("admin".into()),
        roles: vec!["member".into()],
    });
    fx
}

/// Starts a cloud loaded with `fixture`, notifying on exchanges unique to this test.
pub(crate) async fn start(fixture: &Fixture) -> Cloud {
    start_timed(fixture, Timing::instant()).await
}

/// [`start`] with the cloud's own pace (e.g. servers that take a while to build).
pub(crate) async fn start_timed(fixture: &Fixture, timing: Timing) -> Cloud {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let exchanges = vec![
        format!("nova-{tag}"),
        format!("openstack-{tag}"),
        format!("neutron-{tag}"),
    ];
    let config = holdfast_testcloud::Config {
        timing,
        notifications: Notifications {
            url: Some(amqp_url()),
            topic: "notifications".into(),
            compute_exchange: exchanges[0].clone(),
            volume_exchange: exchanges[1].clone(),
            identity_exchange: exchanges[1].clone(),
            network_exchange: exchanges[2].clone(),
        },
        ..holdfast_testcloud::Config::default()
    };
    let tc = TestCloud::start(config).await.expect("test cloud");
    tc.engine().load_fixture(fixture).expect("fixture");
    Cloud { tc, exchanges }
}

impl Cloud {
    /// An admin session on the cloud (to change it through its API).
    pub(crate) async fn session(&self) -> Session {
        Session::connect(
            Credentials {
                auth_url: self.tc.auth_url(),
                username: "admin".into(),
                password: Password::new(self.tc.admin_password()),
                user_domain: "Default".into(),
                project: "admin".into(),
                project_domain: "Default".into(),
            },
            Options::default(),
        )
        .await
        .expect("admin session")
    }

    /// Every server's id by name (all projects).
    pub(crate) async fn server_ids(&self) -> std::collections::BTreeMap<String, String> {
        self.session()
            .await
            .nova()
            .servers(&holdfast_openstack::Filters::all_tenants())
            .await
            .expect("servers")
            .into_iter()
            .map(|x| (x.name, x.id))
            .collect()
    }

    /// The id of the network called `name`.
    pub(crate) async fn network_id(&self, name: &str) -> String {
        self.session()
            .await
            .neutron()
            .networks(&holdfast_openstack::Filters::none().eq("name", name))
            .await
            .expect("networks")
            .first()
            .unwrap_or_else(|| panic!("no network {name}"))
            .id
            .clone()
    }

    /// A registration body for this cloud.
    pub(crate) fn body(&self, name: &str, group: &str, notifications: bool) -> Value {
        let mut b = json!({
            "name": name,
            "owner_group_id": group,
            "auth_url": self.tc.auth_url(),
            "credential": {"username": "admin", "password": self.tc.admin_password(), "project": "admin"},
            "description": "test cloud",
            "storage": [{"type": "file", "backend": "file", "node": "testcloud", "path_prefix": "/var/tmp/tc"}],
        });
        if notifications {
            b["notification_broker_url"] = json!(amqp_url());
            b["notification_exchanges"] = json!(self.exchanges);
        }
        b
    }
}

/// Registers the licence an app needs to register clusters.
pub(crate) async fn license(app: &TestApp, admin: &str) {
    let key = app.licence_key(admin, "2099-12-31", 100).await;
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(admin),
            Some(json!({"licence_key": key})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// Registers a cluster; returns its id.
pub(crate) async fn register(app: &TestApp, token: &str, body: Value) -> String {
    let (s, b) = app
        .call("POST", "/api/v1/clusters", Some(token), Some(body))
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_str().expect("id").to_owned()
}

/// The cluster's view.
pub(crate) async fn show(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, b) = app
        .call("GET", &format!("/api/v1/clusters/{id}"), Some(token), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Waits until the cluster's sync is Done (and returns the view).
pub(crate) async fn wait_synced(app: &TestApp, token: &str, id: &str, timeout: Duration) -> Value {
    let ok = eventually(timeout, || async {
        show(app, token, id).await["sync_status"] == "Done"
    })
    .await;
    let v = show(app, token, id).await;
    assert!(ok, "sync did not finish: {v}");
    v
}

/// Asks for a full sync of the cluster (a running one is fine) and waits for its end.
pub(crate) async fn resync(app: &TestApp, token: &str, id: &str, timeout: Duration) {
    let (s, b) = app
        .call(
            "POST",
            &format!("/api/v1/clusters/{id}/sync"),
            Some(token),
            None,
        )
        .await;
    assert!(s == 202 || s == 409, "{s} {b}");
    wait_synced(app, token, id, timeout).await;
}

/// Every id of a kind in the orchestrator's copy (all pages).
pub(crate) async fn ids(app: &TestApp, token: &str, id: &str, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (s, b) = app
            .call(
                "GET",
                &format!("/api/v1/clusters/{id}/resources/{kind}?limit=500&offset={offset}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let items = b["items"].as_array().expect("items");
        out.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_owned()),
        );
        offset += 500;
        if offset >= b["total"].as_i64().unwrap_or(0) {
            break;
        }
    }
    out.sort();
    out
}

/// One resource of the copy (`None`: not there, or deleted).
pub(crate) async fn resource(
    app: &TestApp,
    token: &str,
    id: &str,
    kind: &str,
    rid: &str,
) -> Option<Value> {
    let (s, b) = app
        .call(
            "GET",
            &format!("/api/v1/clusters/{id}/resources/{kind}/{rid}"),
            Some(token),
            None,
        )
        .await;
    (s == 200 && b["deleted_at"].is_null()).then_some(b)
}

/// Waits until the listener consumes.
pub(crate) async fn wait_listening(app: &TestApp, token: &str, id: &str) {
    let ok = eventually(Duration::from_secs(20), || async {
        show(app, token, id).await["notifications"] == "listening"
    })
    .await;
    assert!(ok, "listener did not start: {}", show(app, token, id).await);
}

/// Fetches `/metrics` and returns the value of the first line starting with `prefix`.
pub(crate) async fn metric(app: &TestApp, prefix: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
