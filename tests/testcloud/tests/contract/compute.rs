use reqwest::{Method, StatusCode};
use serde_json::json;

use super::target;
use crate::support::{Session, unique};

#[tokio::test]
async fn microversions_are_negotiated_and_echoed() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let url = format!("{}/servers", s.compute);
    let r = s
        .call(
            Method::GET,
            &url,
            None,
            &[("OpenStack-API-Version", "compute 2.47")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["openstack-api-version"], "compute 2.47");
    let r = s
        .call(
            Method::GET,
            &url,
            None,
            &[("X-OpenStack-Nova-API-Version", "2.10")],
        )
        .await;
    assert_eq!(r.headers["x-openstack-nova-api-version"], "2.10");
    let r = s
        .call(
            Method::GET,
            &url,
            None,
            &[("OpenStack-API-Version", "compute 9.999")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let versions = s.http.get(format!("{}/", s.compute)).send().await.unwrap();
    let doc: serde_json::Value = versions.json().await.unwrap();
    assert_eq!(doc["version"]["min_version"], "2.1");
    let missing = s
        .get(&format!("{}/servers/{}", s.compute, uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["itemNotFound"]["code"], 404);
}

#[tokio::test]
async fn boot_from_volume_server_lifecycle() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let fname = unique("c-flavor");
    let f = s
        .post(
            &format!("{}/flavors", s.compute),
            json!({"flavor": {"name": fname, "ram": 128, "vcpus": 1, "disk": 1}}),
        )
        .await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.body);
    let flavor = f.body["flavor"]["id"].as_str().unwrap().to_owned();
    let net = s
        .post(
            &format!("{}/networks", s.network),
            json!({"network": {"name": unique("c-srv-net")}}),
        )
        .await
        .body["network"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        &format!("{}/subnets", s.network),
        json!({"subnet": {"network_id": net, "cidr": "10.79.0.0/24", "ip_version": 4}}),
    )
    .await;
    let vid = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": 1, "name": unique("c-boot")}}),
        )
        .await
        .body["volume"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vurl = format!("{}/volumes/{vid}", s.volume);
    s.wait_status(&vurl, "volume", "available").await;
    let boot_body = |vid: &str| {
        json!({"server": {
            "name": unique("c-server"),
            "flavorRef": flavor,
            "networks": [{"uuid": net}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": vid, "source_type": "volume", "destination_type": "volume", "delete_on_termination": false}],
        }})
    };
    // A blank volume is not bootable: Nova refuses to boot from it.
    let refused = s
        .call(
            Method::POST,
            &format!("{}/servers", s.compute),
            Some(boot_body(&vid)),
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not bootable")),
        "{}",
        refused.body
    );
    let set = s
        .post(
            &format!("{vurl}/action"),
            json!({"os-set_bootable": {"bootable": true}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);

    let body = json!({"server": {
        "name": unique("c-server"),
        "flavorRef": flavor,
        "networks": [{"uuid": net}],
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": vid, "source_type": "volume", "destination_type": "volume", "delete_on_termination": false}],
        "metadata": {"purpose": "contract"},
    }});
    let r = s
        .call(
            Method::POST,
            &format!("{}/servers", s.compute),
            Some(body),
            &[("OpenStack-API-Version", "compute 2.79")],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert!(r.headers.contains_key("location"));
    let sid = r.body["server"]["id"].as_str().unwrap().to_owned();
    let surl = format!("{}/servers/{sid}", s.compute);
    let server = s.wait_status(&surl, "server", "ACTIVE").await;
    assert_eq!(server["metadata"]["purpose"], "contract");
    assert_eq!(
        server["os-extended-volumes:volumes_attached"][0]["id"],
        vid.as_str()
    );
    let addrs = server["addresses"].as_object().unwrap();
    let ip = addrs.values().next().unwrap()[0]["addr"].as_str().unwrap();
    assert!(ip.starts_with("10.79.0."), "{ip}");

    let v = s.get(&vurl).await.body;
    assert_eq!(v["volume"]["status"], "in-use");
    assert_eq!(v["volume"]["attachments"][0]["server_id"], sid.as_str());
    let ports = s.get(&format!("{}/ports?device_id={sid}", s.network)).await;
    assert_eq!(ports.body["ports"].as_array().unwrap().len(), 1);

    let listed = s
        .get(&format!(
            "{}/servers/detail?name={}",
            s.compute,
            server["name"].as_str().unwrap()
        ))
        .await;
    assert_eq!(listed.body["servers"].as_array().unwrap().len(), 1);

    let stop = s
        .post(&format!("{surl}/action"), json!({"os-stop": null}))
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    s.wait_status(&surl, "server", "SHUTOFF").await;
    let again = s
        .post(&format!("{surl}/action"), json!({"os-stop": null}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["conflictingRequest"]["code"], 409);

    assert_eq!(s.delete(&surl).await.status, StatusCode::NO_CONTENT);
    s.wait_gone(&surl).await;
    s.wait_status(&vurl, "volume", "available").await;
    let ports = s.get(&format!("{}/ports?device_id={sid}", s.network)).await;
    assert!(ports.body["ports"].as_array().unwrap().is_empty());
    s.delete(&vurl).await;
    s.wait_gone(&vurl).await;
    assert_eq!(
        s.delete(&format!("{}/networks/{net}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("{}/flavors/{flavor}", s.compute))
            .await
            .status,
        StatusCode::ACCEPTED
    );
}
