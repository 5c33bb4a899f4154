use std::collections::HashSet;
use std::net::Ipv4Addr;

use reqwest::StatusCode;
use serde_json::json;

use super::target;
use crate::support::{Session, unique};

#[tokio::test]
async fn ports_come_from_the_subnet_and_pin_the_network() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let n = s
        .post(
            &format!("{}/networks", s.network),
            json!({"network": {"name": unique("c-net")}}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED, "{}", n.body);
    let net = n.body["network"]["id"].as_str().unwrap().to_owned();
    let sub = s
        .post(&format!("{}/subnets", s.network), json!({"subnet": {"network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4, "name": unique("c-sub")}}))
        .await;
    assert_eq!(sub.status, StatusCode::CREATED, "{}", sub.body);
    assert_eq!(sub.body["subnet"]["gateway_ip"], "10.77.0.1");
    let p = s
        .post(
            &format!("{}/ports", s.network),
            json!({"port": {"network_id": net}}),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let ip: Ipv4Addr = p.body["port"]["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ip.octets()[..3], [10, 77, 0]);
    let port = p.body["port"]["id"].as_str().unwrap().to_owned();

    let del = s.delete(&format!("{}/networks/{net}", s.network)).await;
    assert_eq!(del.status, StatusCode::CONFLICT);
    assert_eq!(del.body["NeutronError"]["type"], "NetworkInUse");

    let missing = s
        .get(&format!("{}/networks/{}", s.network, uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["NeutronError"]["type"], "NetworkNotFound");

    assert_eq!(
        s.delete(&format!("{}/ports/{port}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("{}/networks/{net}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn networks_paginate_with_limit_and_marker() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let tag = unique("page");
    let mut created = HashSet::new();
    for i in 0..5 {
        let r = s
            .post(
                &format!("{}/networks", s.network),
                json!({"network": {"name": format!("{tag}-{i}")}}),
            )
            .await;
        created.insert(r.body["network"]["id"].as_str().unwrap().to_owned());
    }
    let mut seen = HashSet::new();
    let mut url = format!("{}/networks?limit=2", s.network);
    for _ in 0..100 {
        let r = s.get(&url).await;
        assert_eq!(r.status, StatusCode::OK);
        let page = r.body["networks"].as_array().unwrap();
        assert!(page.len() <= 2);
        for n in page {
            assert!(
                seen.insert(n["id"].as_str().unwrap().to_owned()),
                "no duplicates across pages"
            );
        }
        match r.body["networks_links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
        {
            Some(next) => url = next["href"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    assert!(created.is_subset(&seen));
    let filtered = s.get(&format!("{}/networks?name={tag}-3", s.network)).await;
    assert_eq!(filtered.body["networks"].as_array().unwrap().len(), 1);
    for id in created {
        s.delete(&format!("{}/networks/{id}", s.network)).await;
    }
}

#[tokio::test]
async fn routers_and_floating_ips() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let ext_name = std::env::var("HOLDFAST_CONTRACT_EXTERNAL_NET").ok();
    let (ext, created_ext) = match ext_name {
        Some(name) => {
            let r = s.get(&format!("{}/networks?name={name}", s.network)).await;
            (
                r.body["networks"][0]["id"]
                    .as_str()
                    .expect("external network")
                    .to_owned(),
                false,
            )
        }
        None => {
            let r = s
                .post(
                    &format!("{}/networks", s.network),
                    json!({"network": {"name": unique("c-ext"), "router:external": true}}),
                )
                .await;
            let id = r.body["network"]["id"].as_str().unwrap().to_owned();
            s.post(
                &format!("{}/subnets", s.network),
                json!({"subnet": {"network_id": id, "cidr": "198.18.0.0/24", "ip_version": 4}}),
            )
            .await;
            (id, true)
        }
    };
    let net = s
        .post(
            &format!("{}/networks", s.network),
            json!({"network": {"name": unique("c-int")}}),
        )
        .await
        .body["network"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = s
        .post(
            &format!("{}/subnets", s.network),
            json!({"subnet": {"network_id": net, "cidr": "10.78.0.0/24", "ip_version": 4}}),
        )
        .await
        .body["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let port = s
        .post(
            &format!("{}/ports", s.network),
            json!({"port": {"network_id": net}}),
        )
        .await
        .body["port"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.post(&format!("{}/routers", s.network), json!({"router": {"name": unique("c-r"), "external_gateway_info": {"network_id": ext}}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["router"]["external_gateway_info"]["network_id"],
        ext.as_str()
    );
    let router = r.body["router"]["id"].as_str().unwrap().to_owned();
    let fip = s
        .post(
            &format!("{}/floatingips", s.network),
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await;
    assert_eq!(fip.status, StatusCode::CREATED, "{}", fip.body);
    let fid = fip.body["floatingip"]["id"].as_str().unwrap().to_owned();
    // Not reachable until the subnet is on the router.
    let early = s
        .put(
            &format!("{}/floatingips/{fid}", s.network),
            json!({"floatingip": {"port_id": port}}),
        )
        .await;
    assert_eq!(early.status, StatusCode::NOT_FOUND, "{}", early.body);
    let add = s
        .put(
            &format!("{}/routers/{router}/add_router_interface", s.network),
            json!({"subnet_id": sub}),
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.body);
    let assoc = s
        .put(
            &format!("{}/floatingips/{fid}", s.network),
            json!({"floatingip": {"port_id": port}}),
        )
        .await;
    assert_eq!(assoc.status, StatusCode::OK, "{}", assoc.body);
    assert_eq!(assoc.body["floatingip"]["router_id"], router.as_str());
    assert!(
        assoc.body["floatingip"]["fixed_ip_address"]
            .as_str()
            .unwrap()
            .starts_with("10.78.0.")
    );
    let busy = s.delete(&format!("{}/routers/{router}", s.network)).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    // Clean up in dependency order.
    assert_eq!(
        s.delete(&format!("{}/floatingips/{fid}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.put(
            &format!("{}/routers/{router}/remove_router_interface", s.network),
            json!({"subnet_id": sub})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        s.delete(&format!("{}/routers/{router}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    s.delete(&format!("{}/ports/{port}", s.network)).await;
    assert_eq!(
        s.delete(&format!("{}/networks/{net}", s.network))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    if created_ext {
        assert_eq!(
            s.delete(&format!("{}/networks/{ext}", s.network))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
    }
}
