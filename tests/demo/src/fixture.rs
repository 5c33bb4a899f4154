//! What the demo's clouds hold: the source runs "shop" (a database server with a data
//! volume, an application server, two web servers; two networks behind a router with
//! an external gateway; two security groups; a keypair), the target is empty but for
//! its external network, its compute nodes and a matching flavor.

use serde_json::{Value, json};

/// The source cloud's fixture.
pub(crate) fn source() -> Value {
    let mut volumes = vec![];
    let mut servers = vec![];
    let mut add = |name: &str, net: &str, data: bool| {
        volumes.push(
            json!({"name": format!("{name}-root"), "project": "shop", "size_gb": 1,
            "bootable": true, "content": format!("root disk of {name}")}),
        );
        let mut extra = vec![];
        if data {
            volumes.push(json!({"name": format!("{name}-data"), "project": "shop",
                "size_gb": 1, "content": format!("data disk of {name}")}));
            extra.push(format!("{name}-data"));
        }
        servers.push(
            json!({"name": name, "project": "shop", "flavor": "m1.small",
            "networks": [net], "boot_volume": format!("{name}-root"), "volumes": extra,
            "key_name": "ops"}),
        );
    };
    add("db", "back", true);
    add("app1", "back", true);
    add("web1", "front", false);
    add("web2", "front", false);
    json!({
        "hypervisors": [{"hostname": "compute-1", "vcpus": 64, "memory_mb": 262144, "local_gb": 4000}],
        "flavors": [{"id": "f-small", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 0}],
        "projects": [{"name": "shop"}],
        "quotas": {"shop": {"instances": -1, "cores": -1, "ram": -1, "volumes": -1, "gigabytes": -1, "ports": -1}},
        "networks": [
            {"name": "public", "external": true, "shared": true,
             "subnets": [{"name": "public-sub", "cidr": "203.0.113.0/24"}]},
            {"name": "front", "project": "shop", "subnets": [{"name": "front-sub", "cidr": "10.0.1.0/24"}]},
            {"name": "back", "project": "shop", "subnets": [{"name": "back-sub", "cidr": "10.0.2.0/24"}]}
        ],
        "routers": [{"name": "edge", "project": "shop", "external_network": "public",
                     "subnets": ["front-sub", "back-sub"]}],
        "security_groups": [
            {"name": "web", "project": "shop", "rules": [
                {"protocol": "tcp", "port_min": 80, "port_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
                {"protocol": "tcp", "port_min": 443, "port_max": 443, "remote_ip_prefix": "0.0.0.0/0"}]},
            {"name": "db", "project": "shop", "rules": [
                {"protocol": "tcp", "port_min": 5432, "port_max": 5432, "remote_ip_prefix": "10.0.2.0/24"}]}
        ],
        "keypairs": [{"name": "ops", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f ops@shop"}],
        "volumes": volumes,
        "servers": servers
    })
}

/// The target cloud's fixture.
pub(crate) fn target() -> Value {
    json!({
        "hypervisors": [{"hostname": "dr-compute-1", "vcpus": 64, "memory_mb": 262144, "local_gb": 4000},
                        {"hostname": "dr-compute-2", "vcpus": 64, "memory_mb": 262144, "local_gb": 4000}],
        "flavors": [{"id": "t-small", "name": "m1.small", "vcpus": 1, "ram": 512, "disk": 0}],
        "networks": [{"name": "public", "external": true, "shared": true,
                      "subnets": [{"name": "public-sub", "cidr": "198.51.100.0/24"}]}]
    })
}
