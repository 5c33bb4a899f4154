//! `holdfast bench`: API latency of a list endpoint under concurrent clients, against a
//! running orchestrator or an embedded one (SQLite in a temporary directory). A benchmark,
//! not a test: it prints figures, including a `/healthz` baseline from the same run.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::{CliError, Client};

/// Options of `holdfast bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Orchestrator URL; without it an embedded orchestrator on SQLite is started.
    #[arg(long)]
    pub url: Option<String>,
    /// User to log in as (with `--url`; password from HOLDFAST_PASSWORD).
    #[arg(long, default_value = "admin")]
    pub user: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Requests per client.
    #[arg(long, default_value_t = 100)]
    pub requests: usize,
    /// Endpoint to measure.
    #[arg(long, default_value = "/api/v1/users?limit=50")]
    pub path: String,
    /// Users to create first in the embedded orchestrator.
    #[arg(long, default_value_t = 200)]
    pub seed_users: usize,
}

struct Stats {
    n: usize,
    seconds: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn measure(client: &Client, path: &str, clients: usize, requests: usize) -> Stats {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = client.clone();
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(requests);
            let mut errors = 0;
            for _ in 0..requests {
                let t = Instant::now();
                let ok = c.send(reqwest::Method::GET, &path, &[], None).await.is_ok();
                lat.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort();
    Stats {
        n: all.len(),
        seconds,
        p50: percentile(&all, 50.0),
        p90: percentile(&all, 90.0),
        p99: percentile(&all, 99.0),
        max: all.last().copied().unwrap_or_default(),
        errors,
    }
}

fn line(name: &str, s: &Stats) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{name:<28} {:>6} req  {:>8.0} req/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  errors {}\n",
        s.n,
        s.n as f64 / s.seconds,
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
        s.errors
    )
}

/// Runs the benchmark and returns the report.
pub async fn run(
    args: BenchArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, CliError> {
    let mut embedded = None;
    let (url, password) = match &args.url {
        Some(url) => (
            url.clone(),
            env("HOLDFAST_PASSWORD").ok_or_else(|| {
                CliError::Usage("set HOLDFAST_PASSWORD for the user to log in as".into())
            })?,
        ),
        None => {
            let e = Embedded::start().await?;
            let r = (e.url.clone(), e.password.clone());
            embedded = Some(e);
            r
        }
    };
    let anon = Client::new(&url, None);
    let session = anon
        .send(
            reqwest::Method::POST,
            "/api/v1/sessions",
            &[],
            Some(&json!({"id": args.user, "password": password})),
        )
        .await?;
    let token = session["token"].as_str().map(str::to_owned);
    let client = Client::new(&url, token);
    if embedded.is_some() {
        for i in 0..args.seed_users {
            let body = json!({"id": format!("bench{i:04}"), "name": format!("Bench user {i}"),
                "email": format!("bench{i:04}@example.com"), "role": "viewer"});
            client
                .send(reqwest::Method::POST, "/api/v1/users", &[], Some(&body))
                .await?;
        }
    }
    // Warm-up, then the baseline and the measured endpoint.
    measure(&client, &args.path, args.clients.min(4), 5).await;
    let baseline = measure(&client, "/healthz", args.clients, args.requests).await;
    let list = measure(&client, &args.path, args.clients, args.requests).await;
    let mut out = format!(
        "holdfast bench: {} clients x {} requests against {}{}\n",
        args.clients,
        args.requests,
        url,
        if embedded.is_some() {
            format!(" (embedded, SQLite, {} seeded users)", args.seed_users)
        } else {
            String::new()
        }
    );
    out.push_str(&line("GET /healthz (baseline)", &baseline));
    out.push_str(&line(&format!("GET {}", args.path), &list));
    let ratio = list.p99.as_secs_f64() / baseline.p99.as_secs_f64().max(1e-9);
    out.push_str(&format!("p99 ratio list/baseline: {ratio:.1}x\n"));
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(out)
}

struct Embedded {
    url: String,
    password: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), crate::server::ServeError>>,
    _dir: tempfile_free::Dir,
}

mod tempfile_free {
    //! A temporary directory removed on drop (avoids a runtime dependency on `tempfile`).
    #[derive(Debug)]
    pub(super) struct Dir(pub(super) std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Embedded {
    async fn start() -> Result<Embedded, CliError> {
        let dir =
            std::env::temp_dir().join(format!("holdfast-bench-{}", uuid::Uuid::new_v4().simple()));
        let dir = tempfile_free::Dir(dir);
        let password = crate::domain::password::NewPassword::generate()
            .expose()
            .to_owned();
        let config = crate::Config {
            data_dir: dir.0.clone(),
            admin_password: Some(crate::config::Secret::new(password.clone())),
            ..crate::Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let url = format!("http://{addr}");
        let probe = Client::new(&url, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while probe
            .send(reqwest::Method::GET, "/readyz", &[], None)
            .await
            .is_err()
        {
            if Instant::now() > deadline || task.is_finished() {
                return Err(CliError::Usage(
                    "the embedded orchestrator did not start".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Embedded {
            url,
            password,
            stop,
            task,
            _dir: dir,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
