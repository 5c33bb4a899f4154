//! `spawn_app()`: the real orchestrator in-process on port 0, with a fresh SQLite file or
//! a fresh PostgreSQL database (dropped afterwards).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use holdfast_orchestrator::Config;
use holdfast_orchestrator::config::Secret;
use serde_json::{Value, json};
use sqlx::Connection;

/// Password of the first admin in every test app.
pub(crate) const ADMIN_PASSWORD: &str = "Adm1n!pass";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Server URL used to create and drop per-test PostgreSQL databases.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("HOLDFAST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    format!("{base}/{db}")
}

/// Drops a per-test PostgreSQL database, also when the test panicked.
pub(crate) struct PgDatabase {
    pub(crate) name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                sqlx::any::install_default_drivers();
                if let Ok(mut c) = sqlx::AnyConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running orchestrator.
pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) backend: Backend,
    pub(crate) config: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), holdfast_orchestrator::server::ServeError>>>,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// Test configuration: cheap argon2id (the algorithm is the same, the cost lower).
pub(crate) fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        admin_password: Some(Secret::new(ADMIN_PASSWORD.to_owned())),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        shutdown_grace_secs: 2,
        licence_public_key: Some(holdfast_orchestrator::licence::public_key_text(
            &test_licence_signer().verifying_key(),
        )),
        ..Config::default()
    }
}

/// The vendor key of test apps.
pub(crate) fn test_licence_signer() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

pub(crate) async fn create_pg_database() -> (String, String) {
    sqlx::any::install_default_drivers();
    let name = format!("hf_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::AnyConnection::connect(&postgres_admin_url())
        .await
        .expect(
            "PostgreSQL at HOLDFAST_TEST_POSTGRES_URL (default 127.0.0.1:5432) must be running",
        );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .expect("create test database");
    let url = with_database(&postgres_admin_url(), &name);
    (name, url)
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub(crate) async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_jobs(backend, adjust, None).await
}

/// [`spawn_app_with`] with the given job engine (`None`: the server's default).
pub(crate) async fn spawn_app_jobs(
    backend: Backend,
    adjust: impl FnOnce(&mut Config),
    jobs: Option<holdfast_orchestrator::jobs::Jobs>,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            config.database_url = Some(Secret::new(url));
            // An external database needs a configured secrets key (no generated default).
            let key = dir.path().join("secrets.key");
            std::fs::write(
                &key,
                holdfast_orchestrator::secrets::SecretBox::generate_text(),
            )
            .expect("secrets key");
            config.secrets_key_file = Some(key);
            Some(PgDatabase { name })
        }
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let task = match jobs {
        None => tokio::spawn(holdfast_orchestrator::run(
            config.clone(),
            listener,
            stopped,
        )),
        Some(jobs) => tokio::spawn(holdfast_orchestrator::server::run_with_jobs(
            config.clone(),
            listener,
            stopped,
            jobs,
        )),
    };
    let app = TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        backend,
        config,
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
        _pg: pg,
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    /// The calls of a `TestApp` to an orchestrator run elsewhere (a real `holdfast
    /// serve` process at `base` with `config`); starting and stopping it is the
    /// caller's business.
    pub(crate) fn external(base: &str, config: Config, backend: Backend) -> TestApp {
        TestApp {
            addr: base
                .trim_start_matches("http://")
                .parse()
                .expect("http://host:port"),
            base: base.to_owned(),
            client: reqwest::Client::new(),
            backend,
            config,
            stop: None,
            task: None,
            _dir: tempfile::tempdir().expect("temp dir"),
            _pg: None,
        }
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server and waits for it to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub(crate) async fn login(&self, id: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/sessions",
                None,
                Some(json!({"id": id, "password": password})),
            )
            .await;
        assert_eq!(status, 201, "login {id}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub(crate) async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// A licence key for this app's installation, signed with the test vendor key.
    pub(crate) async fn licence_key(&self, admin: &str, expires: &str, instances: u32) -> String {
        let (status, body) = self.call("GET", "/api/v1/licence", Some(admin), None).await;
        assert_eq!(status, 200, "{body}");
        let terms = holdfast_orchestrator::licence::LicenceTerms {
            product_uuid: body["product_uuid"].as_str().expect("uuid").to_owned(),
            issued: "2026-01-01".to_owned(),
            expires: expires.to_owned(),
            instance_limit: instances,
            platforms: vec!["openstack".to_owned()],
        };
        holdfast_orchestrator::licence::issue(&terms, &test_licence_signer())
    }

    /// A recovery plan's state and reasons, evaluated now.
    pub(crate) async fn plan_state(&self, token: &str, plan: &str) -> (String, Vec<String>) {
        let (status, b) = self
            .call(
                "GET",
                &format!("/api/v1/plans/{plan}/state"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{b}");
        let reasons = b["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().expect("reason").to_owned())
            .collect();
        (b["state"].as_str().expect("state").to_owned(), reasons)
    }

    pub(crate) async fn create_group(&self, token: &str, name: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/groups",
                Some(token),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a user and returns (id, first password).
    pub(crate) async fn create_user(
        &self,
        token: &str,
        id: &str,
        role: &str,
        groups: &[&str],
    ) -> (String, String) {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/users",
                Some(token),
                Some(json!({
                    "id": id, "name": id, "email": format!("{id}@example.com"),
                    "role": role, "groups": groups,
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            id.to_owned(),
            body["password"].as_str().expect("password").to_owned(),
        )
    }
}

/// Asserts the uniform error body and returns its code.
pub(crate) fn error_code(body: &Value) -> String {
    let code = body["error"]["code"].as_str();
    let message = body["error"]["message"].as_str();
    assert!(
        code.is_some() && message.is_some(),
        "not an error body: {body}"
    );
    code.unwrap_or_default().to_owned()
}

/// Polls `check` until it holds or `timeout` passes.
pub(crate) async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Declares each listed `async fn name(app: &TestApp)` as two tests, `name::sqlite` and
/// `name::postgres`, each on a fresh app.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::{spawn_app, Backend};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = spawn_app(Backend::Sqlite).await;
                    super::$name(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = spawn_app(Backend::Postgres).await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            }
        )*
    };
}
