//! Source and target clouds side by side: independent state, independent tokens.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Creds, Session, spawn_cloud};

#[tokio::test]
async fn two_clouds_are_independent() {
    let (a, b) = tokio::join!(spawn_cloud(), spawn_cloud());
    assert_ne!(a.auth_url(), b.auth_url());
    let (ca, cb) = (Creds::admin_of(&a), Creds::admin_of(&b));
    let (sa, sb) = tokio::join!(Session::login(&ca), Session::login(&cb));
    assert_ne!(
        sa.project_id, sb.project_id,
        "each cloud has its own identity"
    );
    let n = sa
        .post(
            &format!("{}/networks", sa.network),
            json!({"network": {"name": "only-in-a"}}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED);
    let in_b = sb
        .get(&format!("{}/networks?name=only-in-a", sb.network))
        .await;
    assert!(in_b.body["networks"].as_array().unwrap().is_empty());
    // A token of one cloud means nothing to the other.
    let foreign = sb
        .http
        .get(format!("{}/servers", sb.compute))
        .header("x-auth-token", &sa.token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    // Both report their services.
    for s in [&sa, &sb] {
        let nova = s.get(&format!("{}/os-services", s.compute)).await;
        assert!(
            nova.body["services"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["binary"] == "nova-compute" && x["state"] == "up")
        );
        let cinder = s.get(&format!("{}/os-services", s.volume)).await;
        assert!(
            cinder.body["services"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["binary"] == "cinder-volume")
        );
        let future = s
            .get(&format!(
                "{}/servers/detail?changes-since=2999-01-01T00:00:00Z",
                s.compute
            ))
            .await;
        assert_eq!(future.status, StatusCode::OK);
        assert!(future.body["servers"].as_array().unwrap().is_empty());
        let bad = s
            .get(&format!(
                "{}/servers/detail?changes-since=yesterday",
                s.compute
            ))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
    a.shutdown().await;
    b.shutdown().await;
}
