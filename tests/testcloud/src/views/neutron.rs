//! Neutron v2.0 resource shapes.

use serde_json::{Value, json};

use crate::model::Cloud;
use crate::model::network::{
    FloatingIp, Network, Port, Router, SecurityGroup, SecurityGroupRule, Subnet,
};
use crate::time::iso_z;

pub fn network(n: &Network, subnets: &[String]) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
        "tenant_id": n.project_id,
        "project_id": n.project_id,
        "admin_state_up": n.admin_state_up,
        "status": "ACTIVE",
        "subnets": subnets,
        "shared": n.shared,
        "router:external": n.external,
        "is_default": false,
        "mtu": n.mtu,
        "provider:network_type": n.network_type,
        "provider:physical_network": n.physical_network,
        "provider:segmentation_id": n.segmentation_id,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": null,
        "ipv6_address_scope": null,
        "l2_adjacency": true,
        "qos_policy_id": null,
        "description": n.description,
        "port_security_enabled": n.port_security_enabled,
        "tags": [],
        "created_at": iso_z(n.created_at),
        "updated_at": iso_z(n.updated_at),
        "revision_number": n.revision,
    })
}

pub fn subnet(s: &Subnet) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "tenant_id": s.project_id,
        "project_id": s.project_id,
        "network_id": s.network_id,
        "ip_version": 4,
        "cidr": s.cidr.to_string(),
        "gateway_ip": s.gateway_ip.map(|g| g.to_string()),
        "allocation_pools": s.allocation_pools.iter().map(|(a, b)| json!({"start": a.to_string(), "end": b.to_string()})).collect::<Vec<_>>(),
        "host_routes": [],
        "dns_nameservers": s.dns_nameservers,
        "enable_dhcp": s.enable_dhcp,
        "ipv6_ra_mode": null,
        "ipv6_address_mode": null,
        "subnetpool_id": null,
        "segment_id": null,
        "service_types": [],
        "description": s.description,
        "tags": [],
        "created_at": iso_z(s.created_at),
        "updated_at": iso_z(s.updated_at),
        "revision_number": s.revision,
    })
}

pub fn port(p: &Port) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "network_id": p.network_id,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "mac_address": p.mac_address,
        "admin_state_up": p.admin_state_up,
        "status": p.status,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": p.fixed_ips.iter().map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip.to_string()})).collect::<Vec<_>>(),
        "security_groups": p.security_groups,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:host_id": p.binding_host,
        "binding:vif_type": if p.binding_host.is_empty() { "unbound" } else { "ovs" },
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "binding:vif_details": {},
        "port_security_enabled": p.port_security_enabled,
        "qos_policy_id": null,
        "propagate_uplink_status": false,
        "description": p.description,
        "tags": [],
        "created_at": iso_z(p.created_at),
        "updated_at": iso_z(p.updated_at),
        "revision_number": p.revision,
    })
}

pub fn router(cloud: &Cloud, r: &Router) -> Value {
    let gw = r.gateway.as_ref().map(|g| {
        let ips: Vec<Value> = cloud
            .net
            .ports
            .get(&g.port_id)
            .map(|p| {
                p.fixed_ips
                    .iter()
                    .map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip.to_string()}))
                    .collect()
            })
            .unwrap_or_default();
        json!({"network_id": g.network_id, "enable_snat": g.enable_snat, "external_fixed_ips": ips})
    });
    json!({
        "id": r.id,
        "name": r.name,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "admin_state_up": r.admin_state_up,
        "status": r.status,
        "external_gateway_info": gw,
        "routes": [],
        "distributed": false,
        "ha": false,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "flavor_id": null,
        "description": r.description,
        "tags": [],
        "created_at": iso_z(r.created_at),
        "updated_at": iso_z(r.updated_at),
        "revision_number": r.revision,
    })
}

pub fn floating_ip(f: &FloatingIp) -> Value {
    json!({
        "id": f.id,
        "tenant_id": f.project_id,
        "project_id": f.project_id,
        "floating_network_id": f.floating_network_id,
        "floating_ip_address": f.floating_ip_address.to_string(),
        "fixed_ip_address": f.fixed_ip_address.map(|i| i.to_string()),
        "port_id": f.port_id,
        "router_id": f.router_id,
        "status": f.status,
        "description": f.description,
        "dns_domain": "",
        "dns_name": "",
        "port_details": null,
        "qos_policy_id": null,
        "port_forwardings": [],
        "tags": [],
        "created_at": iso_z(f.created_at),
        "updated_at": iso_z(f.updated_at),
        "revision_number": f.revision,
    })
}

pub fn security_group(cloud: &Cloud, g: &SecurityGroup) -> Value {
    let rules: Vec<Value> = cloud
        .net
        .security_group_rules
        .values()
        .filter(|r| r.security_group_id == g.id)
        .map(security_group_rule)
        .collect();
    json!({
        "id": g.id,
        "name": g.name,
        "tenant_id": g.project_id,
        "project_id": g.project_id,
        "description": g.description,
        "security_group_rules": rules,
        "stateful": g.stateful,
        "shared": false,
        "tags": [],
        "created_at": iso_z(g.created_at),
        "updated_at": iso_z(g.updated_at),
        "revision_number": g.revision,
    })
}

pub fn security_group_rule(r: &SecurityGroupRule) -> Value {
    json!({
        "id": r.id,
        "security_group_id": r.security_group_id,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null,
        "description": r.description,
        "created_at": iso_z(r.created_at),
        "updated_at": iso_z(r.created_at),
        "revision_number": 0,
    })
}
