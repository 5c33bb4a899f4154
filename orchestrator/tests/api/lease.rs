//! The leader lease: in-process contenders on both backends (one leader at a time, a
//! taken-over leader steps down at once, release and expiry hand over), and two real
//! `holdfast serve` processes on one fresh PostgreSQL database (kill -9 of the leader:
//! the other takes over within the lease time; scheduled slots fire once, by the
//! leader of the moment).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_orchestrator::db::{self, Db};
use holdfast_orchestrator::domain::schedule::{MissedPolicy, Recurrence};
use holdfast_orchestrator::lease::{self, LEADER_LEASE, Leadership, LeaseTiming};
use holdfast_orchestrator::scheduler;
use serde_json::Value;
use tokio::sync::watch;

use crate::helpers::{ADMIN_PASSWORD, Backend, create_pg_database, eventually, postgres_admin_url};

struct Contender {
    leadership: Leadership,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn contend(db: &Db, holder: &str, ttl: Duration) -> Contender {
    let (tx, leadership) = Leadership::channel();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(lease::run(
        db.clone(),
        holder.to_owned(),
        LeaseTiming { ttl },
        tx,
        stopped,
    ));
    Contender {
        leadership,
        stop,
        task,
    }
}

async fn open(backend: Backend, dir: &std::path::Path) -> (Db, Db, Option<String>) {
    let (url, pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.join("lease.db").display()),
            None,
        ),
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            (url, Some(name))
        }
    };
    let a = Db::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = Db::connect(&url).await.unwrap();
    (a, b, pg)
}

async fn drop_pg(name: Option<String>) {
    if let Some(name) = name {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(&postgres_admin_url())
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

async fn lease_hands_over(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (da, db_b, pg) = open(backend, dir.path()).await;
    // Long enough that a renewal every ttl / 3 keeps the lease on a loaded CI machine.
    let ttl = Duration::from_millis(2000);
    let a = contend(&da, "replica-a", ttl);
    let b = contend(&db_b, "replica-b", ttl);
    assert!(
        eventually(Duration::from_secs(5), || async {
            a.leadership.is_leader() || b.leadership.is_leader()
        })
        .await,
        "nobody took the lease"
    );
    // One leader at a time, and it keeps the lease by renewing it.
    let first_token = a.leadership.token().or(b.leadership.token()).unwrap();
    let until = Instant::now() + ttl * 3;
    while Instant::now() < until {
        assert!(
            !(a.leadership.is_leader() && b.leadership.is_leader()),
            "two leaders"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (leader, follower, follower_db) = if a.leadership.is_leader() {
        (a, b, &db_b)
    } else {
        (b, a, &da)
    };
    assert_eq!(
        leader.leadership.token(),
        Some(first_token),
        "renewed, not re-taken"
    );

    // Taken over behind its back (another holder with a higher token): it steps down
    // at its next renewal, within ttl / 3.
    {
        // One statement, no read first: a SQLite transaction that read before writing
        // cannot upgrade while the leader renews.
        sqlx::query(
            "UPDATE leader_lease SET holder = 'intruder', token = token + 1 WHERE name = $1",
        )
        .bind(LEADER_LEASE)
        .execute(follower_db.pool())
        .await
        .unwrap();
        let mut c = follower_db.conn().await.unwrap();
        let row = db::lease::get(&mut c, LEADER_LEASE).await.unwrap().unwrap();
        assert_eq!(
            (row.holder.as_str(), row.token),
            ("intruder", first_token + 1)
        );
    }
    let stolen = Instant::now();
    assert!(
        eventually(Duration::from_secs(3), || async {
            !leader.leadership.is_leader()
        })
        .await,
        "the old leader kept leading"
    );
    assert!(
        stolen.elapsed() < ttl / 3 + Duration::from_millis(300),
        "stepped down after {:?}",
        stolen.elapsed()
    );
    // The intruder never renews: after expiry one of the two takes over, token higher.
    assert!(
        eventually(Duration::from_secs(5), || async {
            leader.leadership.is_leader() || follower.leadership.is_leader()
        })
        .await
    );
    let (leader, follower) = if leader.leadership.is_leader() {
        (leader, follower)
    } else {
        (follower, leader)
    };
    assert!(leader.leadership.token().unwrap() > first_token + 1);

    // Graceful shutdown releases the lease: the follower takes over within a poll.
    leader.stop.send_replace(true);
    leader.task.await.unwrap();
    let released = Instant::now();
    assert!(
        eventually(Duration::from_secs(3), || async {
            follower.leadership.is_leader()
        })
        .await
    );
    assert!(
        released.elapsed() < ttl,
        "took {:?} after a release",
        released.elapsed()
    );

    // A leader that dies without releasing (task aborted): a new contender waits for
    // the expiry, then takes over.
    follower.task.abort();
    let _ = follower.task.await;
    let died = Instant::now();
    let c = contend(&da, "replica-c", ttl);
    assert!(
        eventually(Duration::from_secs(5), || async {
            c.leadership.is_leader()
        })
        .await
    );
    let waited = died.elapsed();
    assert!(waited < ttl + ttl / 2, "took over after {waited:?}");
    c.stop.send_replace(true);
    c.task.await.unwrap();
    da.close().await;
    db_b.close().await;
    drop_pg(pg).await;
}

mod in_process {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        lease_hands_over(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        lease_hands_over(Backend::Postgres).await;
    }
}

/// A `holdfast serve` process; SIGKILLed when dropped.
struct Serve {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &std::path::Path, name: &str, db_url: &str, ttl_ms: u64) -> Serve {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("serve")
        .env_remove("HOLDFAST_CONFIG")
        .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
        .env("HOLDFAST_DATA_DIR", dir.join(name))
        .env("HOLDFAST_DATABASE_URL", db_url)
        .env("HOLDFAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("HOLDFAST_LEASE_TTL_MS", ttl_ms.to_string())
        .env("HOLDFAST_LOG_LEVEL", "info")
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Serve {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    }
}

async fn ready(client: &reqwest::Client, s: &Serve) -> Option<Value> {
    let r = client.get(format!("{}/readyz", s.url)).send().await.ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

async fn fired_by(db: &Db, schedule: &str) -> Vec<String> {
    let mut c = db.conn().await.unwrap();
    db::schedules::fires(&mut c, schedule)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, by)| by)
        .collect()
}

async fn schedule_soon(db: &Db, id: &str) {
    let start = jiff::Timestamp::now().as_millisecond() + 300;
    assert!(
        scheduler::ensure(
            db,
            id,
            "lease-test",
            Recurrence::EveryMinutes { n: 60 },
            "UTC",
            start,
            MissedPolicy::RunOnceLate,
        )
        .await
        .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_one_leader_failover_after_kill_9() {
    let ttl_ms = 3000;
    let dir = tempfile::tempdir().unwrap();
    let (pg, url) = create_pg_database().await;
    let a = serve(dir.path(), "a", &url, ttl_ms);
    let b = serve(dir.path(), "b", &url, ttl_ms);
    let client = reqwest::Client::new();
    let up = eventually(Duration::from_secs(60), || async {
        ready(&client, &a).await.is_some() && ready(&client, &b).await.is_some()
    })
    .await;
    assert!(
        up,
        "replicas not ready:\n{}\n{}",
        std::fs::read_to_string(&a.log).unwrap_or_default(),
        std::fs::read_to_string(&b.log).unwrap_or_default()
    );
    let db = Db::connect(&url).await.unwrap();

    // Exactly one leader, steadily, and it is the lease row's holder.
    assert!(
        eventually(Duration::from_secs(10), || async {
            let (ra, rb) = (ready(&client, &a).await, ready(&client, &b).await);
            ra.is_some_and(|r| r["leader"] == true) || rb.is_some_and(|r| r["leader"] == true)
        })
        .await
    );
    let mut leader_instance = None;
    for _ in 0..30 {
        let ra = ready(&client, &a).await.unwrap();
        let rb = ready(&client, &b).await.unwrap();
        assert!(
            !(ra["leader"] == true && rb["leader"] == true),
            "two leaders: {ra} {rb}"
        );
        let l = if ra["leader"] == true { &ra } else { &rb };
        let inst = l["instance"].as_str().unwrap().to_owned();
        if let Some(prev) = &leader_instance {
            assert_eq!(prev, &inst, "leadership moved without a failure");
        }
        leader_instance = Some(inst);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let leader_instance = leader_instance.unwrap();
    let row = {
        let mut c = db.conn().await.unwrap();
        db::lease::get(&mut c, LEADER_LEASE).await.unwrap().unwrap()
    };
    assert_eq!(row.holder, leader_instance);
    let (leader, follower) = if ready(&client, &a).await.unwrap()["leader"] == true {
        (a, b)
    } else {
        (b, a)
    };
    let follower_instance = ready(&client, &follower).await.unwrap()["instance"]
        .as_str()
        .unwrap()
        .to_owned();

    // A slot fires once, on the leader.
    schedule_soon(&db, "lease-s1").await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            !fired_by(&db, "lease-s1").await.is_empty()
        })
        .await,
        "the leader did not fire lease-s1"
    );
    assert_eq!(
        fired_by(&db, "lease-s1").await,
        vec![leader_instance.clone()]
    );
    assert_eq!(
        fired_by(&db, scheduler::RETENTION_SCHEDULE).await,
        vec![leader_instance.clone()],
        "the built-in schedule fired by the leader only"
    );

    // kill -9 the leader: the follower takes over once the lease expires.
    drop(leader);
    let killed = Instant::now();
    let took_over = eventually(Duration::from_secs(15), || async {
        ready(&client, &follower)
            .await
            .is_some_and(|r| r["leader"] == true)
    })
    .await;
    let takeover = killed.elapsed();
    assert!(
        took_over,
        "no takeover:\n{}",
        std::fs::read_to_string(&follower.log).unwrap_or_default()
    );
    eprintln!(
        "takeover after kill -9: {} ms (lease {ttl_ms} ms)",
        takeover.as_millis()
    );
    assert!(
        takeover < Duration::from_millis(ttl_ms + 700),
        "takeover took {takeover:?} with a {ttl_ms} ms lease"
    );
    let row = {
        let mut c = db.conn().await.unwrap();
        db::lease::get(&mut c, LEADER_LEASE).await.unwrap().unwrap()
    };
    assert_eq!(row.holder, follower_instance);
    assert!(row.token >= 2, "fencing token grew: {row:?}");

    schedule_soon(&db, "lease-s2").await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            !fired_by(&db, "lease-s2").await.is_empty()
        })
        .await,
        "the new leader did not fire lease-s2"
    );
    assert_eq!(
        fired_by(&db, "lease-s2").await,
        vec![follower_instance.clone()]
    );
    // Nothing fired twice.
    assert_eq!(fired_by(&db, "lease-s1").await.len(), 1);
    assert_eq!(fired_by(&db, scheduler::RETENTION_SCHEDULE).await.len(), 1);

    drop(follower);
    db.close().await;
    drop_pg(Some(pg)).await;
}
