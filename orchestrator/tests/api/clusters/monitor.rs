//! The status probe: an outage flips the cluster Inactive and back, with events.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cloud::{self, license, register, show, wait_synced};
use crate::helpers::{Backend, TestApp, eventually, spawn_app_with};

async fn outage_flips_inactive_and_back(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    let id = register(app, &admin, cloud.body("c1", &group, false)).await;
    wait_synced(app, &admin, &id, Duration::from_secs(30)).await;
    assert_eq!(show(app, &admin, &id).await["status"], "active");
    cloud.tc.faults().outage.store(true, Ordering::Relaxed);
    let inactive = eventually(Duration::from_secs(10), || async {
        show(app, &admin, &id).await["status"] == "inactive"
    })
    .await;
    let v = show(app, &admin, &id).await;
    assert!(inactive, "{v}");
    assert!(
        v["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("503")),
        "{v}"
    );
    cloud.tc.faults().outage.store(false, Ordering::Relaxed);
    let active = eventually(Duration::from_secs(10), || async {
        show(app, &admin, &id).await["status"] == "active"
    })
    .await;
    assert!(active, "{}", show(app, &admin, &id).await);
    for code in ["cluster.inactive", "cluster.active"] {
        let (_, events) = app
            .call(
                "GET",
                &format!("/api/v1/events?code={code}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(events["total"], 1, "{code}: {events}");
        assert_eq!(events["items"][0]["objects"][0]["id"], id.as_str());
    }
    cloud.tc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_sqlite() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.cluster_probe_interval_ms = 200).await;
    outage_flips_inactive_and_back(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_postgres() {
    let app = spawn_app_with(Backend::Postgres, |c| c.cluster_probe_interval_ms = 200).await;
    outage_flips_inactive_and_back(&app).await;
    app.stop().await;
}
