//! The scheduler on a real database: two orchestrator processes (two independent pools)
//! race for every slot; each slot fires exactly once. Missed slots follow the policy.

use holdfast_orchestrator::db::{self, Db};
use holdfast_orchestrator::domain::schedule::{MissedPolicy, Recurrence};
use holdfast_orchestrator::scheduler;

use crate::helpers::{Backend, create_pg_database};

const T0: i64 = 1_800_000_000_000; // 2027-01-15
const MIN: i64 = 60_000;

async fn two_processes(backend: Backend) -> (Db, Db, Option<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
            None,
        ),
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            (url, Some(name))
        }
    };
    let a = Db::connect(&url).await.unwrap();
    let b = Db::connect(&url).await.unwrap();
    if backend == Backend::Postgres {
        // Replicas apply migrations at start concurrently (sqlx takes an advisory lock).
        let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
        ra.unwrap();
        rb.unwrap();
    } else {
        // SQLite is the single-node deployment: one process migrates.
        a.migrate().await.unwrap();
        b.migrate().await.unwrap();
    }
    (a, b, pg, dir)
}

async fn drop_pg(name: Option<String>) {
    if let Some(name) = name {
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(&crate::helpers::postgres_admin_url())
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

async fn each_slot_fires_once_across_two_processes(backend: Backend) {
    let (a, b, pg, _dir) = two_processes(backend).await;
    let (ea, eb) = tokio::join!(
        scheduler::ensure(
            &a,
            "s1",
            "test",
            Recurrence::EveryMinutes { n: 1 },
            "UTC",
            T0,
            MissedPolicy::Skip
        ),
        scheduler::ensure(
            &b,
            "s1",
            "test",
            Recurrence::EveryMinutes { n: 1 },
            "UTC",
            T0,
            MissedPolicy::Skip
        ),
    );
    assert!(
        ea.unwrap() ^ eb.unwrap(),
        "exactly one process creates the schedule"
    );
    let slots = 40;
    let mut won = [0usize; 2];
    for m in 0..slots {
        let now = T0 + m * MIN + 500;
        let (fa, fb) = tokio::join!(scheduler::tick(&a, now, "a"), scheduler::tick(&b, now, "b"));
        let (fa, fb) = (fa.unwrap(), fb.unwrap());
        assert_eq!(fa.len() + fb.len(), 1, "slot {m}: {fa:?} {fb:?}");
        won[0] += fa.len();
        won[1] += fb.len();
        // A late third pass for the same instant finds nothing.
        assert!(scheduler::tick(&a, now, "a").await.unwrap().is_empty());
    }
    let mut tx = a.begin().await.unwrap();
    let fires = db::schedules::fires(&mut tx, "s1").await.unwrap();
    tx.commit().await.unwrap();
    let fired_slots: Vec<i64> = fires.iter().map(|f| f.0).collect();
    let expected: Vec<i64> = (0..slots).map(|m| T0 + m * MIN).collect();
    assert_eq!(fired_slots, expected);
    assert_eq!(won[0] + won[1], slots as usize);
    a.close().await;
    b.close().await;
    drop_pg(pg).await;
}

async fn missed_slots_follow_the_policy(backend: Backend) {
    let (a, _b, pg, _dir) = two_processes(backend).await;
    for (id, policy) in [
        ("late", MissedPolicy::RunOnceLate),
        ("skip", MissedPolicy::Skip),
    ] {
        scheduler::ensure(
            &a,
            id,
            "test",
            Recurrence::EveryHours { n: 1 },
            "UTC",
            T0,
            policy,
        )
        .await
        .unwrap();
    }
    // Down for five and a half hours after T0.
    let now = T0 + 5 * 60 * MIN + 30 * MIN;
    let fired = scheduler::tick(&a, now, "a").await.unwrap();
    let ids: Vec<&str> = fired.iter().map(|f| f.schedule_id.as_str()).collect();
    assert_eq!(ids, ["late"], "run_once_late fires once, skip does not");
    assert_eq!(fired[0].slot, T0);
    let mut tx = a.begin().await.unwrap();
    for id in ["late", "skip"] {
        let rec = db::schedules::get(&mut tx, id).await.unwrap().unwrap();
        assert_eq!(rec.next_fire_at, Some(T0 + 6 * 60 * MIN), "{id}");
    }
    tx.commit().await.unwrap();
    assert!(scheduler::tick(&a, now, "a").await.unwrap().is_empty());
    a.close().await;
    drop_pg(pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_slot_fires_once_sqlite() {
    each_slot_fires_once_across_two_processes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_slot_fires_once_postgres() {
    each_slot_fires_once_across_two_processes(Backend::Postgres).await;
}

#[tokio::test]
async fn missed_slots_sqlite() {
    missed_slots_follow_the_policy(Backend::Sqlite).await;
}

#[tokio::test]
async fn missed_slots_postgres() {
    missed_slots_follow_the_policy(Backend::Postgres).await;
}
