use serde_json::{Value, json};

use super::*;
use crate::dr::plan_sync::ResourceChange as C;

fn d(kind: ResourceKind, id: &str, before: Option<Value>, after: Option<Value>) -> ResourceDelta {
    ResourceDelta {
        kind,
        id: id.into(),
        before: before.map(|v| v.to_string()),
        after: after.map(|v| v.to_string()),
    }
}

fn server(id: &str, vols: &[&str], node: &str, vcpus: u32) -> Value {
    json!({
        "id": id, "name": format!("name-{id}"), "status": "ACTIVE",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": node,
        "flavor": {"vcpus": vcpus, "ram": 1024, "disk": 1, "ephemeral": 0},
        "os-extended-volumes:volumes_attached": vols.iter().map(|v| json!({"id": v})).collect::<Vec<_>>(),
    })
}

fn port(id: &str, instance: &str, net: &str) -> Value {
    json!({"id": id, "network_id": net, "device_id": instance, "device_owner": "compute:nova"})
}

fn fip(id: &str, address: &str, port: Option<&str>) -> Value {
    json!({"id": id, "floating_ip_address": address, "floating_network_id": "ext", "port_id": port})
}

fn docs_with_ports(ports: &[Value]) -> ClusterDocs {
    let mut docs = ClusterDocs::default();
    for p in ports {
        let p: neutron::Port = serde_json::from_value(p.clone()).unwrap();
        docs.ports.insert(p.id.clone(), p);
    }
    docs
}

#[test]
fn the_test_documents_parse_as_the_client_types() {
    let s: nova::Server = serde_json::from_value(server("i1", &["v1"], "n1", 2)).unwrap();
    assert_eq!(s.volumes_attached.len(), 1);
    assert_eq!(s.hypervisor_hostname.as_deref(), Some("n1"));
    let _: neutron::Port = serde_json::from_value(port("p", "i", "n")).unwrap();
    let _: neutron::FloatingIp = serde_json::from_value(fip("f", "1.2.3.4", None)).unwrap();
}

#[test]
fn instance_deleted_detached_resized_migrated() {
    let now = ClusterDocs::default();
    let got = changes(
        &[d(
            ResourceKind::Instance,
            "i1",
            Some(server("i1", &["v1"], "n1", 2)),
            None,
        )],
        &now,
    );
    assert_eq!(
        got.source,
        vec![C::SourceInstanceDeleted {
            instance: InstanceId::new("i1")
        }]
    );
    assert_eq!(
        got.target,
        vec![C::TargetNodeUsageChanged {
            node: NodeId::new("n1")
        }]
    );
    let got = changes(
        &[d(
            ResourceKind::Instance,
            "i1",
            Some(server("i1", &["v1", "v2"], "n1", 2)),
            Some(server("i1", &["v1", "v3"], "n2", 4)),
        )],
        &now,
    );
    let i = InstanceId::new("i1");
    assert_eq!(
        got.source,
        vec![
            C::SourceVolumeDetached {
                instance: i.clone(),
                volume: VolumeId::new("v2")
            },
            C::SourceVolumeAttached {
                instance: i.clone(),
                volume: VolumeId::new("v3")
            },
            C::InstanceNeedsChanged {
                instance: i.clone()
            },
            C::SourceInstanceMigrated {
                instance: i.clone()
            },
        ]
    );
    // an unchanged document means nothing
    let same = server("i1", &["v1"], "n1", 2);
    let got = changes(
        &[d(
            ResourceKind::Instance,
            "i1",
            Some(same.clone()),
            Some(same),
        )],
        &now,
    );
    assert_eq!(got, SideChanges::default());
}

#[test]
fn port_removed_only_when_the_instance_left_the_network() {
    // i1 had two ports on net-a; one is deleted: still on net-a
    let now = docs_with_ports(&[port("p2", "i1", "net-a")]);
    let del = d(
        ResourceKind::Port,
        "p1",
        Some(port("p1", "i1", "net-a")),
        None,
    );
    assert_eq!(
        changes(std::slice::from_ref(&del), &now),
        SideChanges::default()
    );
    // the last one
    let got = changes(&[del], &ClusterDocs::default());
    assert_eq!(
        got.source,
        vec![C::SourceInstanceNetworkRemoved {
            instance: InstanceId::new("i1"),
            network: NetworkId::new("net-a")
        }]
    );
    // a new port
    let got = changes(
        &[d(
            ResourceKind::Port,
            "p3",
            None,
            Some(port("p3", "i1", "net-b")),
        )],
        &ClusterDocs::default(),
    );
    assert_eq!(
        got.source,
        vec![C::SourceInstanceNetworkAdded {
            instance: InstanceId::new("i1"),
            network: NetworkId::new("net-b")
        }]
    );
    // ports of a deleted instance are not reported one by one
    let got = changes(
        &[
            d(
                ResourceKind::Port,
                "p1",
                Some(port("p1", "i1", "net-a")),
                None,
            ),
            d(
                ResourceKind::Instance,
                "i1",
                Some(server("i1", &[], "n1", 1)),
                None,
            ),
        ],
        &ClusterDocs::default(),
    );
    assert_eq!(
        got.source,
        vec![C::SourceInstanceDeleted {
            instance: InstanceId::new("i1")
        }]
    );
    // router ports are not instances' ports
    let mut router_port = port("p9", "r1", "net-a");
    router_port["device_owner"] = json!("network:router_interface");
    let got = changes(
        &[d(ResourceKind::Port, "p9", Some(router_port), None)],
        &ClusterDocs::default(),
    );
    assert_eq!(got.source, vec![]);
}

#[test]
fn volume_deleted_while_attached_is_a_detach() {
    let vol = json!({"id": "v1", "status": "in-use", "size": 1,
                     "attachments": [{"server_id": "i1"}]});
    let got = changes(
        &[d(ResourceKind::Volume, "v1", Some(vol), None)],
        &ClusterDocs::default(),
    );
    assert_eq!(
        got.source,
        vec![C::SourceVolumeDetached {
            instance: InstanceId::new("i1"),
            volume: VolumeId::new("v1")
        }]
    );
}

#[test]
fn target_side_changes() {
    let now = ClusterDocs::default();
    let net = |ext: bool| json!({"id": "ext", "name": "public", "router:external": ext});
    let got = changes(
        &[
            d(
                ResourceKind::Network,
                "ext",
                Some(net(true)),
                Some(net(false)),
            ),
            d(
                ResourceKind::Network,
                "gone",
                Some(json!({"id": "gone"})),
                None,
            ),
            d(
                ResourceKind::Project,
                "p1",
                Some(json!({"id": "p1", "name": "a", "domain_id": "default"})),
                Some(json!({"id": "p1", "name": "b", "domain_id": "default"})),
            ),
            d(
                ResourceKind::AvailabilityZone,
                "az2",
                Some(json!({"zoneName": "az2"})),
                None,
            ),
            d(
                ResourceKind::Hypervisor,
                "h1",
                Some(json!({"id": "h1", "hypervisor_hostname": "n1", "vcpus": 8})),
                Some(json!({"id": "h1", "hypervisor_hostname": "n1", "vcpus": 16})),
            ),
            d(
                ResourceKind::FloatingIp,
                "f1",
                None,
                Some(fip("f1", "9.9.9.9", None)),
            ),
        ],
        &now,
    );
    assert_eq!(
        got.target,
        vec![
            C::TargetExternalFlagLost {
                network: NetworkId::new("ext")
            },
            C::TargetNetworkDeleted {
                network: NetworkId::new("gone")
            },
            C::TargetProjectRenamed {
                from: "a".into(),
                to: "b".into()
            },
            C::TargetZoneRemoved { zone: "az2".into() },
            C::TargetNodeResized {
                node: NodeId::new("n1")
            },
            C::TargetFloatingIp {
                address: "9.9.9.9".into(),
                in_use: true
            },
        ]
    );
}

#[test]
fn a_floating_ip_moving_on_one_instance_is_a_change() {
    let now = docs_with_ports(&[port("p1", "i1", "net-a")]);
    let got = changes(
        &[
            d(
                ResourceKind::FloatingIp,
                "f1",
                Some(fip("f1", "1.1.1.1", Some("p1"))),
                Some(fip("f1", "1.1.1.1", None)),
            ),
            d(
                ResourceKind::FloatingIp,
                "f2",
                Some(fip("f2", "2.2.2.2", None)),
                Some(fip("f2", "2.2.2.2", Some("p1"))),
            ),
        ],
        &now,
    );
    assert_eq!(
        got.source,
        vec![C::SourceFloatingIpChanged {
            instance: InstanceId::new("i1"),
            from: "1.1.1.1".into(),
            to: "2.2.2.2".into()
        }]
    );
    let got = changes(
        &[d(
            ResourceKind::FloatingIp,
            "f2",
            Some(fip("f2", "2.2.2.2", None)),
            Some(fip("f2", "2.2.2.2", Some("p1"))),
        )],
        &now,
    );
    assert_eq!(
        got.source,
        vec![C::SourceFloatingIpAdded {
            instance: InstanceId::new("i1"),
            address: "2.2.2.2".into()
        }]
    );
}

#[test]
fn router_interfaces_follow_their_subnets_networks() {
    let mut now = ClusterDocs::default();
    for (s, n) in [("s-a", "net-a"), ("s-b", "net-b")] {
        now.subnets.insert(
            s.into(),
            serde_json::from_value(
                json!({"id": s, "network_id": n, "cidr": "10.0.0.0/24", "ip_version": 4}),
            )
            .unwrap(),
        );
    }
    let router = |subnets: &[&str]| {
        json!({"id": "r1", "name": "edge", "interfaces": subnets.iter()
            .map(|s| json!({"port_id": format!("p-{s}"), "subnet_id": s})).collect::<Vec<_>>()})
    };
    let got = changes(
        &[d(
            ResourceKind::Router,
            "r1",
            Some(router(&["s-a"])),
            Some(router(&["s-b"])),
        )],
        &now,
    );
    let r = RouterId::new("r1");
    assert_eq!(
        got.source,
        vec![
            C::SourceRouterInterfaceAdded {
                router: r.clone(),
                network: NetworkId::new("net-b")
            },
            C::SourceRouterInterfaceRemoved {
                router: r.clone(),
                network: NetworkId::new("net-a")
            },
        ]
    );
    let got = changes(
        &[d(ResourceKind::Router, "r1", None, Some(router(&["s-a"])))],
        &now,
    );
    assert_eq!(
        got.source,
        vec![C::SourceRouterAdded {
            router: r,
            networks: vec![NetworkId::new("net-a")]
        }]
    );
}
