//! Pagination across pages, microversion negotiation and headers.

use holdfast_openstack::{Error, Filters, ServiceType, Session};
use serde_json::{Value, json};

use crate::double::{Canned, Double, PROJECT};

fn server(id: &str) -> Value {
    // Trimmed from the Nova api-ref "List Servers Detailed" example (2.53+ shapes).
    json!({
        "id": id, "name": format!("vm-{id}"), "status": "ACTIVE", "tenant_id": PROJECT, "user_id": "u-1",
        "flavor": {"original_name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0, "extra_specs": {}},
        "addresses": {"private": [{"addr": "192.168.0.3", "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "aa:bb:cc:dd:ee:ff"}]},
        "OS-EXT-SRV-ATTR:host": "compute-1", "OS-EXT-SRV-ATTR:hypervisor_hostname": "compute-1.local",
        "OS-EXT-AZ:availability_zone": "nova", "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1,
        "OS-EXT-STS:task_state": null, "key_name": null, "metadata": {"My Server Name": "Apache1"},
        "os-extended-volumes:volumes_attached": [{"id": "v-1", "delete_on_termination": false}],
        "security_groups": [{"name": "default"}], "image": "", "hostId": "abc", "tags": [],
        "created": "2026-11-26T10:00:00Z", "updated": "2026-11-26T10:00:05Z", "locked": false
    })
}

fn next(collection: &str, marker: &str) -> Value {
    // The link names a host this client must not use: only its query is followed.
    json!([{"rel": "next", "href": format!("http://openstack.example.com/v2.1/{collection}/detail?all_tenants=1&limit=2&marker={marker}")}])
}

#[tokio::test]
async fn follows_next_links_on_its_own_endpoint() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/compute/v2.1/servers/detail",
        vec![
            Canned::json(200, json!({"servers": [server("a"), server("b")], "servers_links": next("servers", "b")})),
            Canned::json(200, json!({"servers": [server("c"), server("d")], "servers_links": next("servers", "d")})),
            Canned::json(200, json!({"servers": [server("e")]})),
        ],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let servers = session
        .nova()
        .servers(&Filters::all_tenants())
        .await
        .unwrap();
    let ids: Vec<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    let s = &servers[0];
    assert_eq!(s.flavor.original_name.as_deref(), Some("m1.tiny"));
    assert_eq!(s.host.as_deref(), Some("compute-1"));
    assert_eq!(s.volumes_attached[0].id, "v-1");
    assert_eq!(
        s.addresses["private"][0].mac_addr.as_deref(),
        Some("aa:bb:cc:dd:ee:ff")
    );
    assert!(s.extra.contains_key("locked"));

    let calls = cloud.requests("GET", "/compute/v2.1/servers/detail");
    let queries: Vec<&str> = calls.iter().map(|c| c.query.as_str()).collect();
    assert_eq!(
        queries,
        [
            "all_tenants=1&limit=2",
            "all_tenants=1&limit=2&marker=b",
            "all_tenants=1&limit=2&marker=d"
        ]
    );
}

#[tokio::test]
async fn a_next_link_that_does_not_advance_is_an_error() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/volume/v3/p-1/volumes/detail",
        vec![Canned::json(
            200,
            json!({"volumes": [{"id": "v", "status": "available", "size": 1}],
                   "volumes_links": [{"rel": "next", "href": "http://x/v3/p-1/volumes/detail?limit=2&marker=v"}]}),
        )],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let err = session
        .cinder()
        .volumes(&Filters::none())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PaginationLoop { marker, .. } if marker == "v"),
        "{err}"
    );
}

#[tokio::test]
async fn negotiates_microversions_once_and_sends_them() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/compute/v2.1/os-hypervisors/detail",
        vec![Canned::json(200, json!({"hypervisors": []}))],
    );
    cloud.on(
        "GET",
        "/volume/v3/p-1/types",
        vec![Canned::json(200, json!({"volume_types": []}))],
    );
    cloud.on(
        "GET",
        "/network/v2.0/networks",
        vec![Canned::json(200, json!({"networks": []}))],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    session.nova().hypervisors().await.unwrap();
    session.nova().hypervisors().await.unwrap();
    session
        .cinder()
        .volume_types(&Filters::all_tenants())
        .await
        .unwrap();
    session
        .neutron()
        .networks(&Filters::all_tenants())
        .await
        .unwrap();

    // Nova offers 2.60 (below the 2.79 Holdfast wants), Cinder 3.60 (below 3.64).
    assert_eq!(cloud.requests("GET", "/compute/v2.1").len(), 1);
    let nova = cloud.requests("GET", "/compute/v2.1/os-hypervisors/detail");
    assert_eq!(
        nova[0].header("openstack-api-version"),
        Some("compute 2.60")
    );
    assert_eq!(nova[0].header("x-openstack-nova-api-version"), Some("2.60"));
    let cinder = cloud.requests("GET", "/volume/v3/p-1/types");
    assert_eq!(
        cinder[0].header("openstack-api-version"),
        Some("volume 3.60")
    );
    assert!(
        !cinder[0].query.contains("all_tenants"),
        "{}",
        cinder[0].query
    );
    // Neutron has no microversions and is reached under /v2.0; it knows no all_tenants.
    let neutron = cloud.requests("GET", "/network/v2.0/networks");
    assert_eq!(neutron[0].header("openstack-api-version"), None);
    assert_eq!(neutron[0].query, "limit=2");
    assert_eq!(
        session
            .microversion(ServiceType::Compute)
            .await
            .unwrap()
            .map(|v| v.to_string())
            .as_deref(),
        Some("2.60")
    );
}

#[tokio::test]
async fn refuses_a_cloud_that_is_too_old() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/volume/v3",
        vec![Canned::json(200, json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.10", "min_version": "3.0"}]}))],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let err = session
        .cinder()
        .volumes(&Filters::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Microversion(_)), "{err}");
    assert!(
        err.to_string().contains("up to 3.10") && err.to_string().contains("at least 3.14"),
        "{err}"
    );
    assert!(
        cloud
            .requests("GET", "/volume/v3/p-1/volumes/detail")
            .is_empty()
    );
}

#[tokio::test]
async fn keystone_lists_are_not_paged() {
    let cloud = Double::start();
    cloud.on(
        "GET",
        "/identity/v3/projects",
        vec![Canned::json(
            200,
            json!({"projects": [
                {"id": "p-1", "name": "admin", "domain_id": "default", "enabled": true, "parent_id": "default", "tags": [], "options": {}},
                {"id": "p-2", "name": "demo", "domain_id": "default", "enabled": true, "description": "Demo", "is_domain": false}
            ], "links": {"self": "http://k/v3/projects", "previous": null, "next": null}}),
        )],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let projects = session.keystone().projects(&Filters::none()).await.unwrap();
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[1].description.as_deref(), Some("Demo"));
    let calls = cloud.requests("GET", "/identity/v3/projects");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].query, "");
}
