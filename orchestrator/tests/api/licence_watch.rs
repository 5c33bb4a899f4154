//! Licence usage and expiry: the API's view (usage, days to expiry) and the watch's
//! events on a real database (what was raised is remembered across checks).

use holdfast_orchestrator::db::Db;
use holdfast_orchestrator::licence::LicenceTerms;
use holdfast_orchestrator::licence::alerts::AlertMemory;
use holdfast_orchestrator::licence::watch;
use serde_json::json;

use crate::helpers::{Backend, PgDatabase, TestApp, create_pg_database};
use crate::on_both_backends;

fn day(s: &str) -> jiff::civil::Date {
    s.parse().unwrap()
}

async fn the_view_shows_usage_and_days_to_expiry(app: &TestApp) {
    let admin = app.admin().await;
    let (s, b) = app.call("GET", "/api/v1/licence", Some(&admin), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["protected_instances"], 0);
    assert!(
        b["usage_percent"].is_null() && b["days_to_expiry"].is_null(),
        "{b}"
    );

    let expires = holdfast_orchestrator::licence::today()
        .checked_add(jiff::Span::new().days(10))
        .unwrap()
        .to_string();
    let key = app.licence_key(&admin, &expires, 4).await;
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(&admin),
            Some(json!({"licence_key": key})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["days_to_expiry"], 10);
    assert_eq!(b["usage_percent"], 0);
    assert_eq!(b["usage_level"], "normal");

    // A Manager reads the same view; the console page shows usage and days.
    let group = app.create_group(&admin, "lw").await;
    let (_, pw) = app
        .create_user(&admin, "lw-manager", "manager", &[&group])
        .await;
    let manager = app.login("lw-manager", &pw).await;
    let (s, b) = app
        .call("GET", "/api/v1/licence", Some(&manager), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["days_to_expiry"], 10);
    let page = app
        .client
        .get(app.url("/console/licence"))
        .header("cookie", format!("holdfast_session={admin}"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("data-role=\"licence-usage\""), "{html}");
    assert!(html.contains("0 of 4"), "{html}");
    assert!(html.contains("10 days left"), "{html}");
}

/// A database of its own, migrated, that no running orchestrator writes to (the app's
/// own `builtin:licence-check` would remember today's alerts in its database meanwhile).
async fn quiet_db(app: &TestApp) -> (Db, tempfile::TempDir, Option<PgDatabase>) {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match app.backend {
        Backend::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("watch.db").display()
            ),
            None,
        ),
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            (url, Some(PgDatabase { name }))
        }
    };
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    (db, dir, pg)
}

async fn the_watch_raises_each_alert_once(app: &TestApp) {
    let (db, _dir, _pg) = quiet_db(app).await;
    let terms = LicenceTerms {
        product_uuid: "p".into(),
        issued: "2026-01-01".into(),
        expires: "2026-12-31".into(),
        instance_limit: 10,
        platforms: vec!["openstack".into()],
    };
    // Outside the default 30-day window: nothing.
    let (events, memory) = watch::assess(&db, Some(&terms), day("2026-11-01"))
        .await
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
    watch::remember(&db, &memory).await.unwrap();

    // Inside it: one warning a day, remembered in the database.
    let (events, memory) = watch::assess(&db, Some(&terms), day("2026-12-10"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].code, "licence.expiry.near");
    assert!(
        events[0].message.contains("21 days"),
        "{}",
        events[0].message
    );
    watch::remember(&db, &memory).await.unwrap();
    let (events, _) = watch::assess(&db, Some(&terms), day("2026-12-10"))
        .await
        .unwrap();
    assert!(events.is_empty(), "raised twice on one day: {events:?}");
    let (events, _) = watch::assess(&db, Some(&terms), day("2026-12-11"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    // The window is a setting.
    let admin = app.admin().await;
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"licence_expiry_warning_days": 5})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["licence_expiry_warning_days"], 5);
    // the same setting in the watch's own database
    let mut settings = holdfast_orchestrator::settings::load_from(&db)
        .await
        .unwrap();
    settings.licence_expiry_warning_days = 5;
    holdfast_orchestrator::settings::save(&db, &settings, 0)
        .await
        .unwrap();
    let (events, _) = watch::assess(&db, Some(&terms), day("2026-12-11"))
        .await
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
    let (s, _) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"licence_expiry_warning_days": 0})),
        )
        .await;
    assert_eq!(s, 422);

    // Expired: once.
    let (events, memory) = watch::assess(&db, Some(&terms), day("2027-01-01"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].code, "licence.expired");
    watch::remember(&db, &memory).await.unwrap();
    let (events, _) = watch::assess(&db, Some(&terms), day("2027-01-05"))
        .await
        .unwrap();
    assert!(events.is_empty(), "{events:?}");

    // No licence: nothing, and the memory is kept.
    let (events, kept) = watch::assess(&db, None, day("2027-01-05")).await.unwrap();
    assert!(events.is_empty());
    assert_ne!(kept, AlertMemory::default());
    db.close().await;
}

on_both_backends!(
    the_view_shows_usage_and_days_to_expiry,
    the_watch_raises_each_alert_once,
);
