//! Error answers and malformed bodies become typed errors carrying the service's message
//! and request id; nothing panics.

use holdfast_openstack::neutron::FloatingIpCreate;
use holdfast_openstack::{Error, Filters, Session};
use serde_json::json;

use crate::double::{Canned, Double};

#[tokio::test]
async fn maps_openstack_error_bodies() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/compute/v2.1/servers/gone",
        vec![Canned::json(404, json!({"itemNotFound": {"code": 404, "message": "Instance gone could not be found."}}))
            .header("x-compute-request-id", "req-nova-1")],
    );
    cloud.on(
        "POST",
        "/network/v2.0/floatingips",
        vec![Canned::json(
            409,
            json!({"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['floatingip'].", "detail": ""}}),
        )
        .header("x-openstack-request-id", "req-neutron-1")],
    );
    cloud.on(
        "POST",
        "/volume/v3/p-1/volumes/v-1/action",
        vec![Canned::json(
            400,
            json!({"badRequest": {"code": 400, "message": "Invalid volume: Volume status must be available to extend."}}),
        )],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();

    let err = session.nova().server("gone").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.request_id(), Some("req-nova-1"));
    assert!(
        err.to_string()
            .contains("Instance gone could not be found."),
        "{err}"
    );

    let fip = FloatingIpCreate {
        floating_network_id: "ext".into(),
        ..Default::default()
    };
    let err = session
        .neutron()
        .create_floating_ip(&fip)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err}");
    assert_eq!(err.request_id(), Some("req-neutron-1"));

    let err = session.cinder().extend_volume("v-1", 10).await.unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(f) if f.message.contains("must be available to extend")),
        "{err}"
    );
    let sent = cloud.requests("POST", "/volume/v3/p-1/volumes/v-1/action");
    assert_eq!(sent[0].body, r#"{"os-extend":{"new_size":10}}"#);
}

#[tokio::test]
async fn malformed_answers_are_errors() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/volume/v3/p-1/volumes/v-1",
        vec![Canned::raw(200, "{\"volume\": {\"id\": ")],
    );
    cloud.on(
        "GET",
        "/volume/v3/p-1/volumes/detail",
        vec![Canned::json(200, json!({"volumes": [{"id": "ok", "status": "available", "size": 1}, {"status": "available"}]}))],
    );
    cloud.on(
        "GET",
        "/network/v2.0/ports",
        vec![Canned::json(200, json!({"unexpected": true}))],
    );
    cloud.on(
        "GET",
        "/network/v2.0/subnets/s-1",
        vec![Canned::json(200, json!({"network": {}}))],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();

    let err = session.cinder().volume("v-1").await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
    let err = session
        .cinder()
        .volumes(&Filters::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("volumes[1]") && err.to_string().contains("missing field `id`"),
        "{err}"
    );
    let err = session.neutron().ports(&Filters::none()).await.unwrap_err();
    assert!(err.to_string().contains("no `ports` list"), "{err}");
    let err = session.neutron().subnet("s-1").await.unwrap_err();
    assert!(err.to_string().contains("no `subnet`"), "{err}");
}

#[tokio::test]
async fn missing_catalog_entry_is_named() {
    let cloud = Double::start();
    let mut options = Double::options();
    options.region = Some("RegionTwo".into());
    let session = Session::connect(cloud.credentials(), options)
        .await
        .unwrap();
    let err = session.nova().servers(&Filters::none()).await.unwrap_err();
    assert!(matches!(err, Error::NoEndpoint { .. }), "{err}");
    let mut options = Double::options();
    options.region = Some("RegionTwo".into());
    let err = Session::check(cloud.credentials(), options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEndpoint { .. }), "{err}");
    Session::check(cloud.credentials(), Double::options())
        .await
        .unwrap();
    assert!(
        err.to_string()
            .contains("public endpoint for nova in region RegionTwo"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_ca_certificate_is_a_configuration_error() {
    let cloud = Double::start();
    let mut options = Double::options();
    options.ca_certificates_pem = vec![b"not a certificate".to_vec()];
    let err = Session::connect(cloud.credentials(), options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(cloud.log().is_empty(), "nothing was sent");
}
