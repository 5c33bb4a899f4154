//! The admin endpoint: fault injection, outage, quota exhaustion, counters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Creds, Session, spawn_cloud};

#[tokio::test]
async fn injected_faults_outage_quota_and_counters() {
    let cloud = spawn_cloud().await;
    let s = Session::login(&Creds::admin_of(&cloud)).await;
    let admin = cloud.admin_url();
    let http = reqwest::Client::new();

    let rule = json!({"service": "compute", "method": "GET", "path_contains": "/servers", "remaining": 1, "action": {"kind": "error", "status": 500, "message": "boom"}});
    let r = http
        .post(format!("{admin}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let failed = s.get(&format!("{}/servers", s.compute)).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.body["computeFault"]["message"], "boom");
    assert_eq!(
        s.get(&format!("{}/servers", s.compute)).await.status,
        StatusCode::OK,
        "the fault was used up"
    );

    let bad = http
        .post(format!("{admin}/faults"))
        .json(&json!({"action": {"kind": "error", "status": 200}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let quota = json!({"service": "volume", "method": "POST", "path_contains": "/volumes", "action": {"kind": "quota_exceeded", "resource": "volumes"}});
    http.post(format!("{admin}/faults"))
        .json(&quota)
        .send()
        .await
        .unwrap();
    let over = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": 1}}),
        )
        .await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        over.body["overLimit"]["message"]
            .as_str()
            .unwrap()
            .contains("volumes")
    );
    assert_eq!(
        http.delete(format!("{admin}/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );

    // Real quota exhaustion through the admin endpoint.
    let set = http
        .put(format!("{admin}/quotas/{}", s.project_id))
        .json(&json!({"network": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let over = s
        .post(
            &format!("{}/networks", s.network),
            json!({"network": {"name": "x"}}),
        )
        .await;
    assert_eq!(over.status, StatusCode::CONFLICT);
    assert_eq!(over.body["NeutronError"]["type"], "OverQuota");

    let out = http
        .put(format!("{admin}/outage"))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    for u in [
        format!("{}/servers", s.compute),
        format!("{}/networks", s.network),
        format!("{}/volumes", s.volume),
    ] {
        assert_eq!(
            s.get(&u).await.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{u}"
        );
    }
    http.put(format!("{admin}/outage"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.get(&format!("{}/servers", s.compute)).await.status,
        StatusCode::OK
    );

    let latency =
        json!({"service": "network", "remaining": 1, "action": {"kind": "latency", "ms": 150}});
    http.post(format!("{admin}/faults"))
        .json(&latency)
        .send()
        .await
        .unwrap();
    let t = std::time::Instant::now();
    assert_eq!(
        s.get(&format!("{}/networks", s.network)).await.status,
        StatusCode::OK
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));

    // A hard outage: the port refuses connections for a while, then serves again.
    let refuse = http
        .put(format!("{admin}/outage"))
        .json(&json!({"refuse_connections_ms": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(refuse.status(), StatusCode::OK);
    crate::support::eventually("connections to be refused", 10, || async {
        let r = reqwest::Client::new()
            .get(format!("{}/", s.compute))
            .send()
            .await;
        r.err().filter(|e| e.is_connect()).map(|_| ())
    })
    .await;
    crate::support::eventually("the cloud to come back", 10, || async {
        let r = reqwest::Client::new()
            .get(format!("{}/servers", s.compute))
            .header("x-auth-token", &s.token)
            .send()
            .await;
        r.ok().filter(|r| r.status() == StatusCode::OK).map(|_| ())
    })
    .await;

    let counters: Value = http
        .get(format!("{admin}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        counters["requests"]["compute GET /compute/v2.1/servers"]
            .as_u64()
            .unwrap()
            >= 3,
        "{counters}"
    );
    assert!(counters["faults_injected"].as_u64().unwrap() >= 3);
    cloud.shutdown().await;
}
