//! Figures for the test cloud: startup time, memory with the 10k-server fixture, list
//! latency at 10k (against an empty cloud measured in the same run as the baseline).
//!
//! `cargo run --release -p holdfast-testcloud --example bench [-- SERVERS VOLUMES]`

use std::time::{Duration, Instant};

use holdfast_testcloud::fixture::generate::generate;
use holdfast_testcloud::{Config, TestCloud};
use serde_json::{Value, json};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn login(http: &reqwest::Client, cloud: &TestCloud) -> String {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "secret"}}}, "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let r = http
        .post(format!("{}/auth/tokens", cloud.auth_url()))
        .json(&body)
        .send()
        .await
        .expect("login");
    r.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_owned()
}

async fn timed_get(http: &reqwest::Client, token: &str, url: &str) -> (Duration, Value) {
    let t = Instant::now();
    let v: Value = http
        .get(url)
        .header("x-auth-token", token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    (t.elapsed(), v)
}

/// Median of `n` runs of GET `url`.
async fn median_get(http: &reqwest::Client, token: &str, url: &str, n: usize) -> Duration {
    let mut times = vec![];
    for _ in 0..n {
        times.push(timed_get(http, token, url).await.0);
    }
    times.sort();
    times[n / 2]
}

/// Walks every page of servers (1000 per page); returns (time, count).
async fn walk_servers(http: &reqwest::Client, token: &str, base: &str) -> (Duration, usize) {
    let t = Instant::now();
    let mut count = 0;
    let mut url = format!("{base}/compute/v2.1/servers/detail?all_tenants=1&limit=1000");
    loop {
        let (_, v) = timed_get(http, token, &url).await;
        count += v["servers"].as_array().map_or(0, Vec::len);
        match v.get("servers_links").and_then(|l| l[0]["href"].as_str()) {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    (t.elapsed(), count)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let servers = args.first().copied().unwrap_or(10_000);
    let volumes = args.get(1).copied().unwrap_or(20_000);
    let http = reqwest::Client::new();
    let rss_start = rss_mib();

    // Two empty clouds side by side (source and target).
    let t = Instant::now();
    let a = TestCloud::start(Config::default()).await.expect("cloud a");
    let b = TestCloud::start(Config::default()).await.expect("cloud b");
    let two = t.elapsed();
    println!(
        "startup, empty cloud:        {:.1} ms (a), {:.1} ms (b), both {:.1} ms",
        ms(a.startup_time()),
        ms(b.startup_time()),
        ms(two)
    );
    let token = login(&http, &a).await;
    let base_small = median_get(
        &http,
        &token,
        &format!("{}/compute/v2.1/servers/detail", a.base_url()),
        21,
    )
    .await;
    b.shutdown().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fixture.json");
    let t = Instant::now();
    std::fs::write(
        &path,
        serde_json::to_vec(&generate(servers, volumes, 20)).expect("json"),
    )
    .expect("write");
    println!(
        "fixture generated:           {servers} servers, {volumes} volumes in {:.0} ms",
        ms(t.elapsed())
    );
    let rss_before = rss_mib();
    let t = Instant::now();
    let big = TestCloud::start(Config {
        fixture: Some(path.clone()),
        ..Config::default()
    })
    .await
    .expect("big cloud");
    println!(
        "startup with fixture:        {:.0} ms (load + bind)",
        ms(t.elapsed())
    );
    let rss_after = rss_mib();
    println!(
        "memory (RSS):                {rss_start:.0} MiB at start, {rss_before:.0} MiB before load, {rss_after:.0} MiB with the fixture (+{:.0} MiB)",
        rss_after - rss_before
    );

    let token = login(&http, &big).await;
    let base = big.base_url().to_owned();
    let page1000 = median_get(
        &http,
        &token,
        &format!("{base}/compute/v2.1/servers/detail?all_tenants=1&limit=1000"),
        11,
    )
    .await;
    let page100 = median_get(
        &http,
        &token,
        &format!("{base}/compute/v2.1/servers/detail?all_tenants=1&limit=100"),
        11,
    )
    .await;
    let brief = median_get(
        &http,
        &token,
        &format!("{base}/compute/v2.1/servers?all_tenants=1&limit=1000"),
        11,
    )
    .await;
    let vols = median_get(
        &http,
        &token,
        &format!("{base}/volume/v3/x/volumes/detail?all_tenants=1&limit=1000"),
        11,
    )
    .await;
    let ports = median_get(
        &http,
        &token,
        &format!("{base}/network/v2.0/ports?limit=1000"),
        11,
    )
    .await;
    let (walk, count) = walk_servers(&http, &token, &base).await;
    let small = base_small.as_secs_f64().max(1e-6);
    println!(
        "baseline (empty cloud):      GET /servers/detail {:.2} ms",
        ms(base_small)
    );
    println!(
        "list at {servers}:            /servers/detail limit=1000 {:.1} ms ({:.0}x baseline), limit=100 {:.1} ms ({:.0}x)",
        ms(page1000),
        page1000.as_secs_f64() / small,
        ms(page100),
        page100.as_secs_f64() / small
    );
    println!(
        "                             /servers (brief) limit=1000 {:.1} ms, volumes/detail limit=1000 {:.1} ms, ports limit=1000 {:.1} ms",
        ms(brief),
        ms(vols),
        ms(ports)
    );
    println!("all {count} servers, paged:    {:.0} ms", ms(walk));
    big.shutdown().await;
    a.shutdown().await;
}
