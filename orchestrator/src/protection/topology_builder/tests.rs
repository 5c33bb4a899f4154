use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::dr::topology::{Boot, FloatingIpPolicy, NetworkTarget};
use crate::protection::mapping::{FloatingIpChoice, InstanceChoice, NetworkChoice};

fn doc<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// Source: db (root + data volume) and web (root, floating IP) on one network behind
/// a router with a gateway; target: flavor m1 and an external network.
fn source() -> ClusterDocs {
    let mut s = ClusterDocs::default();
    for (id, name, vols, key) in [
        ("db", "db", vec!["db-root", "db-data"], Some("ops")),
        ("web", "web", vec!["web-root"], None),
    ] {
        let attached: Vec<Value> = vols.iter().map(|v| json!({"id": v})).collect();
        s.instances.insert(
            id.into(),
            doc(
                json!({"id": id, "name": name, "status": "ACTIVE", "tenant_id": "p1",
                "flavor": {"original_name": "m1", "vcpus": 1, "ram": 512},
                "key_name": key, "os-extended-volumes:volumes_attached": attached}),
            ),
        );
        s.ports.insert(
            format!("{id}-port"),
            doc(json!({"id": format!("{id}-port"), "name": "", "network_id": "net",
                "project_id": "p1", "mac_address": "fa:16:3e:00:00:01", "device_id": id,
                "device_owner": "compute:nova", "status": "ACTIVE", "admin_state_up": true,
                "security_groups": ["sg"],
                "fixed_ips": [{"subnet_id": "sub", "ip_address": format!("10.0.0.{}", name.len())}]})),
        );
        for v in vols {
            s.volumes.insert(
                v.into(),
                doc(json!({"id": v, "name": v, "status": "in-use", "size": 2,
                    "volume_type": "ceph", "bootable": v.ends_with("root"),
                    "os-vol-host-attr:host": "node1@rbd#pool",
                    "attachments": [{"server_id": id}]})),
            );
        }
    }
    s.subnets.insert(
        "sub".into(),
        doc(
            json!({"id": "sub", "name": "sub", "network_id": "net", "project_id": "p1",
            "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1", "enable_dhcp": true}),
        ),
    );
    s.networks.insert(
        "net".into(),
        doc(json!({"id": "net", "name": "shop-net", "status": "ACTIVE", "project_id": "p1"})),
    );
    s.routers.insert(
        "r".into(),
        (
            doc(
                json!({"id": "r", "name": "edge", "project_id": "p1", "status": "ACTIVE",
                "external_gateway_info": {"network_id": "public"}}),
            ),
            vec![super::super::inventory::RouterInterface {
                port_id: "rp".into(),
                subnet_id: "sub".into(),
            }],
        ),
    );
    s.security_groups.insert(
        "sg".into(),
        doc(
            json!({"id": "sg", "name": "web", "project_id": "p1", "security_group_rules": [
            {"id": "r1", "security_group_id": "sg", "direction": "ingress", "ethertype": "IPv4",
             "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
             "remote_ip_prefix": "0.0.0.0/0", "project_id": "p1"}]}),
        ),
    );
    s.keypairs.insert(
        "ops".into(),
        doc(json!({"name": "ops", "public_key": "ssh-ed25519 AAAA ops", "fingerprint": "f"})),
    );
    s.floating_ips.insert(
        "fip".into(),
        doc(json!({"id": "fip", "floating_ip_address": "203.0.113.7",
            "floating_network_id": "public", "port_id": "web-port", "project_id": "p1",
            "status": "ACTIVE"})),
    );
    s
}

fn target() -> ClusterDocs {
    let mut t = ClusterDocs::default();
    t.flavors.insert(
        "t-m1".into(),
        doc(json!({"id": "t-m1", "name": "m1", "vcpus": 1, "ram": 512, "disk": 1})),
    );
    t.networks.insert(
        "ext".into(),
        doc(
            json!({"id": "ext", "name": "public", "status": "ACTIVE", "project_id": "admin",
            "router:external": true}),
        ),
    );
    t
}

fn mapping() -> PlanMapping {
    PlanMapping {
        project_name: "shop-dr".into(),
        availability_zone: "nova".into(),
        volume_types: BTreeMap::from([("ceph".into(), "rbd".into())]),
        networks: BTreeMap::from([("net".into(), NetworkChoice::Create)]),
        instances: BTreeMap::from([
            (
                "db".into(),
                InstanceChoice {
                    node: Some("t1".into()),
                    flavor: None,
                    start_order: Some(0),
                },
            ),
            ("web".into(), InstanceChoice::default()),
        ]),
        floating_ips: BTreeMap::from([("203.0.113.7".into(), FloatingIpChoice::Keep)]),
        external_network: None,
        drill_external_access: false,
        volumes: ["db-root", "db-data", "web-root"].map(String::from).into(),
    }
}

fn group() -> Vec<String> {
    vec!["db".into(), "web".into()]
}

#[test]
fn builds_the_topology_and_details_from_the_documents() {
    let b = build(&source(), &target(), &group(), &mapping()).unwrap();
    let t = &b.spec.topology;
    assert_eq!(t.project_name, "shop-dr");
    assert_eq!(t.instances.len(), 2);
    let db = &t.instances[0];
    assert_eq!((db.name.as_str(), db.boot), ("db", Boot::Started(0)));
    assert_eq!(db.keypair.as_deref(), Some("ops"));
    assert_eq!(db.volumes.len(), 2);
    assert!(db.volumes[0].boot && !db.volumes[1].boot);
    let web = &t.instances[1];
    assert_eq!(web.boot, Boot::Stopped);
    assert_eq!(
        web.floating_ips,
        vec![FloatingIpSpec {
            port: PortId::new("web-port"),
            policy: FloatingIpPolicy::KeepSame("203.0.113.7".into()),
        }]
    );
    assert_eq!(t.networks.len(), 1);
    assert_eq!(
        (t.networks[0].name.as_str(), &t.networks[0].target),
        ("shop-net", &NetworkTarget::Create)
    );
    assert_eq!(t.subnets[0].cidr, "10.0.0.0/24");
    assert_eq!(t.routers.len(), 1);
    assert!(t.routers[0].external_gateway);
    assert_eq!(t.security_groups[0].name, "web");
    let d = &b.spec.details;
    assert_eq!(d.instances[&InstanceId::new("db")].flavor, "t-m1");
    assert_eq!(
        d.instances[&InstanceId::new("db")].node.as_deref(),
        Some("t1")
    );
    assert_eq!(d.instances[&InstanceId::new("web")].node, None);
    assert_eq!(
        d.volumes[&VolumeId::new("db-data")].volume_type.as_deref(),
        Some("rbd")
    );
    assert_eq!(
        d.ports[&PortId::new("db-port")].fixed_ip.as_deref(),
        Some("10.0.0.2")
    );
    assert_eq!(d.keypairs["ops"], "ssh-ed25519 AAAA ops");
    assert_eq!(d.external_network.as_deref(), Some("ext"));
    assert_eq!(d.security_group_rules[&SecurityGroupId::new("sg")].len(), 1);
    assert_eq!(
        b.volumes
            .iter()
            .map(|v| (v.id.as_str(), v.size_gb, v.backend_host.as_str()))
            .collect::<Vec<_>>(),
        [
            ("db-root", 2, "node1@rbd#pool"),
            ("db-data", 2, "node1@rbd#pool"),
            ("web-root", 2, "node1@rbd#pool")
        ]
    );
}

#[test]
fn every_missing_mapping_is_named() {
    let mut m = mapping();
    m.instances.remove("web");
    m.networks.clear();
    m.floating_ips.clear();
    m.volume_types.clear();
    m.volumes.remove("db-data");
    let e = build(&source(), &target(), &group(), &m).unwrap_err();
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        e.contains(&BuildError::InstanceUnmapped("web".into())),
        "{text:?}"
    );
    assert!(
        e.contains(&BuildError::NetworkUnmapped("shop-net".into())),
        "{text:?}"
    );
    assert!(
        e.contains(&BuildError::VolumeTypeUnmapped("ceph".into())),
        "{text:?}"
    );
    assert!(
        e.contains(&BuildError::VolumeUnmapped {
            instance: "db".into(),
            volume: "db-data".into()
        }),
        "{text:?}"
    );
    let gone = build(&source(), &target(), &["nope".into()], &mapping()).unwrap_err();
    assert_eq!(gone, vec![BuildError::InstanceGone("nope".into())]);
}

#[test]
fn flavor_and_external_network_come_from_the_target() {
    let mut t = target();
    t.flavors.clear();
    let e = build(&source(), &t, &group(), &mapping()).unwrap_err();
    assert!(e.contains(&BuildError::NoFlavor {
        instance: "db".into(),
        flavor: "m1".into()
    }));
    let mut m = mapping();
    for c in m.instances.values_mut() {
        c.flavor = Some("chosen".into());
    }
    let b = build(&source(), &t, &group(), &m).unwrap();
    assert_eq!(
        b.spec.details.instances[&InstanceId::new("web")].flavor,
        "chosen"
    );
    let mut t = target();
    let mut second = t.networks["ext"].clone();
    second.id = "ext2".into();
    t.networks.insert("ext2".into(), second);
    let e = build(&source(), &t, &group(), &mapping()).unwrap_err();
    assert_eq!(e, vec![BuildError::ExternalNetworkAmbiguous(2)]);
    let mut m = mapping();
    m.external_network = Some("ext2".into());
    assert_eq!(
        build(&source(), &t, &group(), &m)
            .unwrap()
            .spec
            .details
            .external_network
            .as_deref(),
        Some("ext2")
    );
    let mut t = target();
    t.networks.clear();
    let e = build(&source(), &t, &group(), &mapping()).unwrap_err();
    assert_eq!(
        e,
        vec![BuildError::Details(DetailsError::NoExternalNetwork)]
    );
}
