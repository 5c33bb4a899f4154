//! Licence registration, viewing, tampering, other installations, expiry.

use base64::Engine as _;
use serde_json::json;

use crate::helpers::{TestApp, error_code};
use crate::on_both_backends;

async fn register_view_replace_and_refuse_forgeries(app: &TestApp) {
    let admin = app.admin().await;
    let (s, b) = app.call("GET", "/api/v1/licence", Some(&admin), None).await;
    assert_eq!(s, 200);
    assert!(b["terms"].is_null());
    let key = app.licence_key(&admin, "2099-12-31", 10).await;
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(&admin),
            Some(json!({"licence_key": key})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["terms"]["instance_limit"], 10);
    assert_eq!(b["expired"], false);

    // Tampered payload: instance limit raised, signature kept.
    let parts: Vec<&str> = key.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["instance_limit"] = json!(100_000);
    let forged = format!("HFL1.{}.{}", b64.encode(payload.to_string()), parts[2]);
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(&admin),
            Some(json!({"licence_key": forged})),
        )
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (422, "invalid_licence"),
        "{b}"
    );
    // Another installation's licence.
    let terms = holdfast_orchestrator::licence::LicenceTerms {
        product_uuid: uuid::Uuid::new_v4().to_string(),
        issued: "2026-01-01".into(),
        expires: "2099-01-01".into(),
        instance_limit: 5,
        platforms: vec!["openstack".into()],
    };
    let other =
        holdfast_orchestrator::licence::issue(&terms, &crate::helpers::test_licence_signer());
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(&admin),
            Some(json!({"licence_key": other})),
        )
        .await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this installation")
    );
    // The registered licence is unchanged.
    let (_, b) = app.call("GET", "/api/v1/licence", Some(&admin), None).await;
    assert_eq!(b["terms"]["instance_limit"], 10);

    // Replace with an expired one: accepted, shown as expired.
    let expired = app.licence_key(&admin, "2026-01-02", 20).await;
    let (s, b) = app
        .call(
            "PUT",
            "/api/v1/licence",
            Some(&admin),
            Some(json!({"licence_key": expired})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["expired"], true);
    assert_eq!(b["terms"]["instance_limit"], 20);
    let (_, events) = app
        .call(
            "GET",
            "/api/v1/events?code=licence.registered",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(events["total"], 2);
}

on_both_backends!(register_view_replace_and_refuse_forgeries);
