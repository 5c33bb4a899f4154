//! Cluster sync benchmark: a test cloud with the generated fixture (default 10,000
//! servers / 20,000 volumes) and the orchestrator in-process.
//!
//! Measures (1) the full sync at registration, with API list latency during the sync
//! against a baseline measured after it in the same run, and (2) the notification
//! apply rate: `volume.update.end` notifications for distinct volumes published to the
//! cluster's exchange, each read back from the cloud and written to the copy.
//!
//! ```text
//! cargo run --release -p holdfast-orchestrator --example cluster_sync_bench -- \
//!     [--servers 10000] [--volumes 20000] [--events 5000] [--postgres postgres://...]
//! ```
//! With `--postgres`, the URL names a server (and a database to connect to first): the
//! bench runs on a database of its own there, created for the run and dropped after.
//! Needs RabbitMQ (`HOLDFAST_TEST_AMQP_URL`, default amqp://guest:guest@127.0.0.1:5672/%2f).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holdfast_orchestrator::Config;
use holdfast_orchestrator::config::Secret;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "Bench!pass1";

struct Args {
    servers: usize,
    volumes: usize,
    events: usize,
    postgres: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        servers: 10_000,
        volumes: 20_000,
        events: 5_000,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--servers" => a.servers = value.parse()?,
            "--volumes" => a.volumes = value.parse()?,
            "--events" => a.events = value.parse()?,
            "--postgres" => a.postgres = Some(value),
            _ => anyhow::bail!("unknown option {flag}"),
        }
    }
    Ok(a)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {text}");
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Lists instances with `clients` concurrent loops until `stop`; returns latencies (ms).
async fn hammer(api: Arc<Api>, path: String, clients: usize, stop: Arc<AtomicBool>) -> Vec<f64> {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, path, stop) = (api.clone(), path.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if api.call(reqwest::Method::GET, &path, None).await.is_ok() {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all.sort_by(f64::total_cmp);
    all
}

fn summary(name: &str, lat: &[f64]) {
    println!(
        "  {name:<22} n={:<6} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        lat.len(),
        percentile(lat, 0.5),
        percentile(lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

async fn metric(http: &reqwest::Client, base: &str, prefix: &str) -> f64 {
    let Ok(r) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    r.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let amqp = std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let exchanges = [
        format!("nova-{tag}"),
        format!("openstack-{tag}"),
        format!("neutron-{tag}"),
    ];

    let t = Instant::now();
    let fixture = holdfast_testcloud::fixture::generate::generate(a.servers, a.volumes, 50);
    let cloud = holdfast_testcloud::TestCloud::start(holdfast_testcloud::Config {
        timing: holdfast_testcloud::config::Timing::instant(),
        notifications: holdfast_testcloud::config::Notifications {
            url: Some(amqp.clone()),
            topic: "notifications".into(),
            compute_exchange: exchanges[0].clone(),
            volume_exchange: exchanges[1].clone(),
            identity_exchange: exchanges[1].clone(),
            network_exchange: exchanges[2].clone(),
        },
        ..holdfast_testcloud::Config::default()
    })
    .await?;
    cloud
        .engine()
        .load_fixture(&fixture)
        .map_err(|e| anyhow::anyhow!("fixture: {e}"))?;
    println!(
        "test cloud: {} servers, {} volumes loaded in {:.1} s",
        a.servers,
        a.volumes,
        t.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let mut config = Config {
        data_dir: dir.path().join("data"),
        admin_password: Some(Secret::new(ADMIN_PASSWORD.to_owned())),
        licence_public_key: Some(holdfast_orchestrator::licence::public_key_text(
            &signer.verifying_key(),
        )),
        ..Config::default()
    };
    let scratch = match &a.postgres {
        Some(url) => Some(ScratchDb::create(url).await?),
        None => None,
    };
    if let Some(db) = &scratch {
        config.database_url = Some(Secret::new(db.url.clone()));
        let key = dir.path().join("secrets.key");
        std::fs::write(
            &key,
            holdfast_orchestrator::secrets::SecretBox::generate_text(),
        )?;
        config.secrets_key_file = Some(key);
    }
    let backend = if a.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(holdfast_orchestrator::run(config, listener, async move {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::new();
    let token = loop {
        if let Ok(r) = http
            .post(format!("{base}/api/v1/sessions"))
            .json(&json!({"id": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            && r.status().is_success()
        {
            let v: Value = r.json().await?;
            break v["token"].as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let api = Arc::new(Api {
        http: http.clone(),
        base: base.clone(),
        token,
    });
    use reqwest::Method;
    let lic = api.call(Method::GET, "/api/v1/licence", None).await?;
    let terms = holdfast_orchestrator::licence::LicenceTerms {
        product_uuid: lic["product_uuid"].as_str().unwrap_or_default().to_owned(),
        issued: "2026-01-01".into(),
        expires: "2099-12-31".into(),
        instance_limit: 100_000,
        platforms: vec!["openstack".into()],
    };
    let key = holdfast_orchestrator::licence::issue(&terms, &signer);
    api.call(
        Method::PUT,
        "/api/v1/licence",
        Some(json!({"licence_key": key})),
    )
    .await?;
    let group = api
        .call(
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "bench"})),
        )
        .await?;

    // 1. Full sync at registration, API latency during it.
    let t = Instant::now();
    let c = api
        .call(
            Method::POST,
            "/api/v1/clusters",
            Some(json!({
                "name": "bench", "owner_group_id": group["id"], "auth_url": cloud.auth_url(),
                "credential": {"username": "admin", "password": cloud.admin_password(), "project": "admin"},
                "notification_broker_url": amqp, "notification_exchanges": exchanges,
            })),
        )
        .await?;
    let registered = t.elapsed().as_secs_f64();
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let list = format!("/api/v1/clusters/{id}/resources/instances?limit=50");
    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(hammer(api.clone(), list.clone(), 4, stop.clone()));
    let view = loop {
        let v = api
            .call(Method::GET, &format!("/api/v1/clusters/{id}"), None)
            .await?;
        if v["sync_status"] == "Done" {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sync_secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = during.await?;
    anyhow::ensure!(
        view["sync_error"].is_null(),
        "sync failed: {}",
        view["sync_error"]
    );
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(hammer(api.clone(), list.clone(), 4, stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let idle = idle.await?;
    // The first sync fills the table it is listing from; measure again on the full
    // copy while a second registration of the same cloud runs its full sync.
    let stop = Arc::new(AtomicBool::new(false));
    let second = tokio::spawn(hammer(api.clone(), list.clone(), 4, stop.clone()));
    let t2 = Instant::now();
    let c2 = api
        .call(
            Method::POST,
            "/api/v1/clusters",
            Some(json!({
                "name": "bench-2", "owner_group_id": group["id"], "auth_url": cloud.auth_url(),
                "credential": {"username": "admin", "password": cloud.admin_password(), "project": "admin"},
            })),
        )
        .await?;
    let id2 = c2["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let v = api
            .call(Method::GET, &format!("/api/v1/clusters/{id2}"), None)
            .await?;
        if v["sync_status"] == "Done" {
            anyhow::ensure!(
                v["sync_error"].is_null(),
                "second sync failed: {}",
                v["sync_error"]
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sync2_secs = t2.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let second = second.await?;
    println!(
        "full sync ({backend}): registration (check connection) {registered:.2} s, registration to sync Done {sync_secs:.2} s (goal < 30 s)"
    );
    println!("  copy: {}", view["resource_counts"]);
    println!(
        "  a second cluster (same cloud) synced in {sync2_secs:.2} s while the first one's list was read"
    );
    println!("API GET {list} with 4 concurrent clients:");
    summary("during the first sync", &during);
    summary("during the second sync", &second);
    summary("idle (baseline)", &idle);
    println!(
        "  p99 during the second sync / idle = {:.2}x (goal: p99 during a sync < 50 ms)",
        percentile(&second, 0.99) / percentile(&idle, 0.99)
    );

    // 2. Notification apply rate.
    while api
        .call(Method::GET, &format!("/api/v1/clusters/{id}"), None)
        .await?["notifications"]
        != "listening"
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut volume_ids = Vec::new();
    let mut offset = 0;
    while volume_ids.len() < a.events {
        let page = api
            .call(
                Method::GET,
                &format!("/api/v1/clusters/{id}/resources/volumes?limit=500&offset={offset}"),
                None,
            )
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        volume_ids.extend(
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned)),
        );
        offset += 500;
    }
    volume_ids.truncate(a.events);
    let n = volume_ids.len();
    let prefix =
        format!("holdfast_cluster_notifications_total{{cluster=\"{id}\",outcome=\"applied\"}}");
    let before = metric(&http, &base, &prefix).await;
    let conn = Connection::connect(&amqp, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let t = Instant::now();
    for v in &volume_ids {
        let inner = json!({"message_id": uuid::Uuid::new_v4().to_string(), "event_type": "volume.update.end",
            "priority": "INFO", "publisher_id": "volume.bench", "payload": {"volume_id": v},
            "timestamp": "2026-01-01 00:00:00.000000"});
        let body = json!({"oslo.version": "2.0", "oslo.message": inner.to_string()}).to_string();
        ch.basic_publish(
            exchanges[1].as_str().into(),
            "notifications.info".into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default(),
        )
        .await?;
    }
    let published = t.elapsed().as_secs_f64();
    loop {
        let applied = metric(&http, &base, &prefix).await - before;
        if applied >= n as f64 {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(600),
            "only {applied} of {n} applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "notifications: {n} volume.update.end published in {published:.2} s, all applied after {secs:.2} s: {:.0} events/s (goal >= 1000)",
        n as f64 / secs
    );
    let _ = conn.close(200, "done".into()).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    cloud.shutdown().await;
    if let Some(db) = scratch {
        db.drop_it().await?;
    }
    Ok(())
}

/// A PostgreSQL database of the run's own, on the server of `--postgres`.
struct ScratchDb {
    server: String,
    name: String,
    url: String,
}

impl ScratchDb {
    async fn create(server: &str) -> anyhow::Result<ScratchDb> {
        sqlx::any::install_default_drivers();
        let name = format!("holdfast_bench_{}", std::process::id());
        let (base, _) = server
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("--postgres {server}: expected postgres://host/db"))?;
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        Ok(ScratchDb {
            server: server.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    async fn drop_it(self) -> anyhow::Result<()> {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.server).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}
