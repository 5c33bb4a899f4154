//! Retries: idempotent calls after 5xx, timeouts and refused connections; never a POST
//! that may have run. Backoff is measured on a paused clock.

use std::time::Duration;

use holdfast_openstack::nova::{Networks, ServerCreate};
use holdfast_openstack::{Error, Filters, Session};
use serde_json::json;

use crate::double::{Canned, Double};

fn unavailable() -> Canned {
    Canned::raw(
        503,
        "<html><body><h1>503 Service Unavailable</h1></body></html>",
    )
    .header("x-openstack-request-id", "req-503")
}

#[tokio::test(start_paused = true)]
async fn retries_a_get_with_exponential_backoff() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/compute/v2.1/servers/detail",
        vec![
            unavailable(),
            unavailable(),
            Canned::json(200, json!({"servers": []})),
        ],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    session.nova().servers(&Filters::none()).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(
        cloud.requests("GET", "/compute/v2.1/servers/detail").len(),
        3
    );
    // Delays after attempts 1 and 2: [50, 100] ms and [100, 200] ms.
    assert!(
        waited >= Duration::from_millis(150) && waited <= Duration::from_millis(300),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_the_request_id() {
    let cloud = Double::start();
    cloud.on("DELETE", "/network/v2.0/ports/p-9", vec![unavailable()]);
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let err = session.neutron().delete_port("p-9").await.unwrap_err();
    match &err {
        Error::ServerError { failure, attempts } => {
            assert_eq!(*attempts, 4);
            assert_eq!(failure.status, 503);
            assert_eq!(failure.request_id.as_deref(), Some("req-503"));
            assert_eq!(
                failure.message,
                "<html><body><h1>503 Service Unavailable</h1></body></html>"
            );
        }
        other => panic!("expected ServerError, got {other}"),
    }
    assert_eq!(cloud.requests("DELETE", "/network/v2.0/ports/p-9").len(), 4);
}

#[tokio::test(start_paused = true)]
async fn never_repeats_a_create() {
    let cloud = Double::start();
    cloud.on("POST", "/compute/v2.1/servers", vec![unavailable()]);
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let create = ServerCreate {
        name: "hf-job-1-web".into(),
        flavor_ref: "1".into(),
        image_ref: None,
        block_device_mapping_v2: vec![
            holdfast_openstack::nova::BlockDeviceMapping::existing_volume("v-1", true),
        ],
        networks: Networks::None,
        key_name: None,
        availability_zone: Some("nova".into()),
        security_groups: vec![],
        metadata: [("holdfast-job".to_owned(), "1".to_owned())].into(),
    };
    let err = session.nova().create_server(&create).await.unwrap_err();
    assert!(
        matches!(err, Error::ServerError { attempts: 1, .. }),
        "{err}"
    );
    let posts = cloud.requests("POST", "/compute/v2.1/servers");
    assert_eq!(posts.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body["server"]["networks"], "none");
    assert_eq!(body["server"]["flavorRef"], "1");
    assert_eq!(
        body["server"]["block_device_mapping_v2"][0]["boot_index"],
        0
    );
    assert_eq!(
        body["server"]["block_device_mapping_v2"][0]["source_type"],
        "volume"
    );
    assert!(body["server"].get("imageRef").is_none());
}

#[tokio::test]
async fn retries_a_timed_out_get_but_not_a_timed_out_post() {
    let cloud = Double::start();
    cloud.on("GET", "/network/v2.0/routers", vec![Canned::hang()]);
    cloud.on("POST", "/network/v2.0/routers", vec![Canned::hang()]);
    let mut options = Double::options();
    options.request_timeout = Some(Duration::from_millis(200));
    options.retry.max_attempts = 2;
    options.retry.base_delay = Duration::from_millis(1);
    let session = Session::connect(cloud.credentials(), options)
        .await
        .unwrap();
    let err = session
        .neutron()
        .routers(&Filters::none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 2, .. }),
        "{err}"
    );
    assert_eq!(cloud.requests("GET", "/network/v2.0/routers").len(), 2);

    let create = holdfast_openstack::neutron::RouterCreate {
        name: "r".into(),
        admin_state_up: true,
        ..Default::default()
    };
    let err = session.neutron().create_router(&create).await.unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 1, .. }),
        "{err}"
    );
    assert_eq!(cloud.requests("POST", "/network/v2.0/routers").len(), 1);
}
