use serde_json::json;

use super::*;
use crate::dr::capacity::Resources;

fn target() -> ClusterDocs {
    let mut t = ClusterDocs::default();
    for (id, node, vcpus, ram, ephemeral) in [
        ("drill-db", "n1", 2, 4096, 0),
        ("drill-web", "n1", 1, 512, 10),
        ("drill-app", "n2", 4, 8192, 0),
        ("other", "n1", 8, 16384, 0),
    ] {
        let srv = serde_json::from_value(json!({
            "id": id, "name": id, "status": "ACTIVE",
            "OS-EXT-SRV-ATTR:hypervisor_hostname": node,
            "flavor": {"vcpus": vcpus, "ram": ram, "ephemeral": ephemeral},
        }))
        .unwrap();
        t.instances.insert(id.to_owned(), srv);
    }
    let p = serde_json::from_value(json!({"id": "p1", "name": "shop-dr-drill-1a2b"})).unwrap();
    t.projects.insert("p1".into(), p);
    let f = serde_json::from_value(json!({
        "id": "f1", "floating_ip_address": "203.0.113.10", "floating_network_id": "pub",
    }))
    .unwrap();
    t.floating_ips.insert("f1".into(), f);
    t
}

fn instance(id: &str) -> Resource {
    Resource::Instance { id: id.into() }
}

#[test]
fn instances_hold_their_flavor_on_their_node() {
    let h = hold(
        &[
            instance("drill-db"),
            instance("drill-web"),
            instance("drill-app"),
        ],
        &target(),
    );
    assert_eq!(
        h.on_nodes,
        [
            (
                NodeId::new("n1"),
                Resources {
                    vcpus: 3,
                    ram_mb: 4608,
                    disk_gb: 10
                }
            ),
            (
                NodeId::new("n2"),
                Resources {
                    vcpus: 4,
                    ram_mb: 8192,
                    disk_gb: 0
                }
            ),
        ]
        .into()
    );
    assert!(h.projects.is_empty() && h.addresses.is_empty());
}

#[test]
fn projects_and_floating_ips_hold_their_name_and_address() {
    let h = hold(
        &[
            Resource::Project { id: "p1".into() },
            Resource::FloatingIp { id: "f1".into() },
            Resource::Network { id: "net".into() },
        ],
        &target(),
    );
    assert_eq!(h.projects, ["shop-dr-drill-1a2b".to_owned()].into());
    assert_eq!(h.addresses, ["203.0.113.10".to_owned()].into());
    assert!(h.on_nodes.is_empty());
}

#[test]
fn what_the_target_copy_lacks_holds_nothing() {
    let h = hold(
        &[
            instance("not-synced-yet"),
            Resource::Project { id: "gone".into() },
            Resource::FloatingIp { id: "gone".into() },
        ],
        &target(),
    );
    assert!(h.is_empty(), "{h:?}");
}
