//! Starting a test cloud in-process and talking OpenStack to it (or to any cloud).

use std::future::Future;
use std::time::{Duration, Instant};

use holdfast_testcloud::config::Timing;
use holdfast_testcloud::{Config, TestCloud};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A fresh cloud on port 0 with fast transitions and a temporary storage dir.
pub(crate) async fn spawn_cloud() -> TestCloud {
    spawn_with(|_| {}).await
}

pub(crate) async fn spawn_with(f: impl FnOnce(&mut Config)) -> TestCloud {
    let mut config = Config {
        timing: Timing {
            server_build_ms: 30,
            server_delete_ms: 10,
            server_power_ms: 10,
            volume_create_ms: 10,
            volume_delete_ms: 10,
            volume_attach_ms: 10,
            snapshot_ms: 10,
        },
        ..Config::default()
    };
    f(&mut config);
    TestCloud::start(config).await.expect("test cloud starts")
}

/// Polls `check` until it yields `Some`, failing after `secs` seconds.
pub(crate) async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Credentials of a cloud to test.
#[derive(Debug, Clone)]
pub(crate) struct Creds {
    pub(crate) auth_url: String,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) project: String,
}

impl Creds {
    pub(crate) fn admin_of(cloud: &TestCloud) -> Self {
        Self {
            auth_url: cloud.auth_url(),
            user: "admin".into(),
            password: cloud.admin_password().into(),
            project: "admin".into(),
        }
    }
}

/// An authenticated session: token plus the catalog's public endpoints.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
    pub(crate) project_id: String,
    pub(crate) identity: String,
    pub(crate) compute: String,
    pub(crate) volume: String,
    pub(crate) network: String,
}

/// A response: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

fn endpoint(catalog: &Value, kind: &str) -> String {
    catalog
        .as_array()
        .and_then(|c| c.iter().find(|s| s["type"] == kind))
        .and_then(|s| s["endpoints"].as_array())
        .and_then(|e| e.iter().find(|e| e["interface"] == "public"))
        .and_then(|e| e["url"].as_str())
        .unwrap_or_else(|| panic!("no {kind} endpoint in the catalog"))
        .trim_end_matches('/')
        .to_owned()
}

pub(crate) fn password_auth(user: &str, password: &str, project: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }})
}

impl Session {
    pub(crate) async fn login(c: &Creds) -> Session {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/auth/tokens", c.auth_url.trim_end_matches('/')))
            .json(&password_auth(&c.user, &c.password, &c.project))
            .send()
            .await
            .expect("keystone reachable");
        assert_eq!(r.status(), StatusCode::CREATED, "token issue");
        let token = r.headers()["x-subject-token"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        let t = &body["token"];
        let mut network = endpoint(&t["catalog"], "network");
        if !network.ends_with("/v2.0") {
            network.push_str("/v2.0");
        }
        Session {
            http,
            token,
            project_id: t["project"]["id"].as_str().unwrap().to_owned(),
            identity: endpoint(&t["catalog"], "identity"),
            compute: endpoint(&t["catalog"], "compute"),
            volume: endpoint(&t["catalog"], "volumev3"),
            network,
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, url)
            .header("x-auth-token", &self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, url: &str) -> Reply {
        self.call(Method::GET, url, None, &[]).await
    }
    pub(crate) async fn post(&self, url: &str, body: Value) -> Reply {
        self.call(Method::POST, url, Some(body), &[]).await
    }
    pub(crate) async fn put(&self, url: &str, body: Value) -> Reply {
        self.call(Method::PUT, url, Some(body), &[]).await
    }
    pub(crate) async fn delete(&self, url: &str) -> Reply {
        self.call(Method::DELETE, url, None, &[]).await
    }

    /// Waits until GET `url` shows `field` (under `key`) equal to `want`.
    pub(crate) async fn wait_status(&self, url: &str, key: &str, want: &str) -> Value {
        eventually(&format!("{url} to become {want}"), 60, || async {
            let r = self.get(url).await;
            let status = r.body[key]["status"].as_str().unwrap_or("").to_owned();
            assert!(
                !status.eq_ignore_ascii_case("error") || want == "error",
                "{url} went to error: {}",
                r.body
            );
            (status == want).then_some(r.body[key].clone())
        })
        .await
    }

    /// Waits until GET `url` answers 404.
    pub(crate) async fn wait_gone(&self, url: &str) {
        eventually(&format!("{url} to disappear"), 60, || async {
            (self.get(url).await.status == StatusCode::NOT_FOUND).then_some(())
        })
        .await
    }
}

/// Unique names so suites can share a real cloud.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
