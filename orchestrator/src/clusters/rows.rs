//! OpenStack resources as stored rows: the indexed columns and the JSON document.

use holdfast_openstack::{cinder, keystone, neutron, nova};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::resources::ResourceRow;
use crate::domain::cluster::ResourceKind;

fn row(kind: ResourceKind, id: &str, name: &str, doc: &impl Serialize) -> ResourceRow {
    // Serialising these plain data types into JSON cannot fail.
    let doc_json = serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_owned());
    let digest = Sha256::digest(doc_json.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    ResourceRow {
        kind: kind.as_str(),
        id: id.to_owned(),
        name: name.to_owned(),
        project_id: None,
        status: None,
        host: None,
        zone: None,
        parent_id: None,
        doc_json,
        digest,
    }
}

fn with(
    mut r: ResourceRow,
    project: Option<&str>,
    status: Option<&str>,
    host: Option<&str>,
    zone: Option<&str>,
    parent: Option<&str>,
) -> ResourceRow {
    let own = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    r.project_id = own(project);
    r.status = own(status);
    r.host = own(host);
    r.zone = own(zone);
    r.parent_id = own(parent);
    r
}

/// A compute node.
pub fn hypervisor(h: &nova::Hypervisor) -> ResourceRow {
    let host = h.service.as_ref().map(|s| s.host.as_str());
    let r = row(ResourceKind::Hypervisor, &h.id, &h.hypervisor_hostname, h);
    with(
        r,
        None,
        Some(&h.state),
        host.or(Some(&h.hypervisor_hostname)),
        None,
        None,
    )
}

/// An availability zone (id = name).
pub fn zone(z: &nova::AvailabilityZone) -> ResourceRow {
    let status = if z.state.available {
        "available"
    } else {
        "unavailable"
    };
    with(
        row(ResourceKind::AvailabilityZone, &z.name, &z.name, z),
        None,
        Some(status),
        None,
        Some(&z.name),
        None,
    )
}

/// A project (parent = its domain).
pub fn project(p: &keystone::Project) -> ResourceRow {
    let status = if p.enabled { "enabled" } else { "disabled" };
    with(
        row(ResourceKind::Project, &p.id, &p.name, p),
        Some(&p.id),
        Some(status),
        None,
        None,
        Some(&p.domain_id),
    )
}

/// A network.
pub fn network(n: &neutron::Network) -> ResourceRow {
    with(
        row(ResourceKind::Network, &n.id, &n.name, n),
        Some(&n.project_id),
        Some(&n.status),
        None,
        None,
        None,
    )
}

/// A subnet (parent = network).
pub fn subnet(s: &neutron::Subnet) -> ResourceRow {
    with(
        row(ResourceKind::Subnet, &s.id, &s.name, s),
        Some(&s.project_id),
        None,
        None,
        None,
        Some(&s.network_id),
    )
}

/// A router's interfaces, as stored inside its document.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceDoc {
    /// Interface port.
    pub port_id: String,
    /// Subnet.
    pub subnet_id: String,
    /// Address on the subnet.
    pub ip_address: Option<String>,
}

#[derive(Serialize)]
struct RouterDoc<'a> {
    #[serde(flatten)]
    router: &'a neutron::Router,
    interfaces: &'a [InterfaceDoc],
}

/// The interfaces of `router_id` among `ports` (device owner `network:router_interface*`).
pub fn interfaces_of(router_id: &str, ports: &[neutron::Port]) -> Vec<InterfaceDoc> {
    ports
        .iter()
        .filter(|p| {
            p.device_id == router_id && p.device_owner.starts_with("network:router_interface")
        })
        .flat_map(|p| {
            p.fixed_ips.iter().map(|ip| InterfaceDoc {
                port_id: p.id.clone(),
                subnet_id: ip.subnet_id.clone(),
                ip_address: ip.ip_address.clone(),
            })
        })
        .collect()
}

/// A router with its interfaces (its gateway is in the router's own document).
pub fn router(r: &neutron::Router, interfaces: &[InterfaceDoc]) -> ResourceRow {
    let doc = RouterDoc {
        router: r,
        interfaces,
    };
    let gateway = r
        .external_gateway_info
        .as_ref()
        .map(|g| g.network_id.as_str());
    with(
        row(ResourceKind::Router, &r.id, &r.name, &doc),
        Some(&r.project_id),
        Some(&r.status),
        None,
        None,
        gateway,
    )
}

/// A port (parent = network; host column = the device it is bound to).
pub fn port(p: &neutron::Port) -> ResourceRow {
    with(
        row(ResourceKind::Port, &p.id, &p.name, p),
        Some(&p.project_id),
        Some(&p.status),
        Some(&p.device_id),
        None,
        Some(&p.network_id),
    )
}

/// A floating IP (name = address; parent = its external network).
pub fn floating_ip(f: &neutron::FloatingIp) -> ResourceRow {
    with(
        row(ResourceKind::FloatingIp, &f.id, &f.floating_ip_address, f),
        Some(&f.project_id),
        Some(&f.status),
        f.port_id.as_deref(),
        None,
        Some(&f.floating_network_id),
    )
}

/// A security group and its rules as separate rows (parent = the group).
pub fn security_group(g: &neutron::SecurityGroup) -> (ResourceRow, Vec<ResourceRow>) {
    let group = with(
        row(ResourceKind::SecurityGroup, &g.id, &g.name, g),
        Some(&g.project_id),
        None,
        None,
        None,
        None,
    );
    let rules = g
        .security_group_rules
        .iter()
        .map(security_group_rule)
        .collect();
    (group, rules)
}

/// A security group rule.
pub fn security_group_rule(r: &neutron::SecurityGroupRule) -> ResourceRow {
    let name = format!(
        "{} {} {}",
        r.direction,
        r.protocol.as_deref().unwrap_or("any"),
        r.remote_ip_prefix.as_deref().unwrap_or("")
    );
    with(
        row(ResourceKind::SecurityGroupRule, &r.id, name.trim(), r),
        Some(&r.project_id),
        None,
        None,
        None,
        Some(&r.security_group_id),
    )
}

/// A server.
pub fn instance(s: &nova::Server) -> ResourceRow {
    with(
        row(ResourceKind::Instance, &s.id, &s.name, s),
        Some(&s.tenant_id),
        Some(&s.status),
        s.host.as_deref().or(s.hypervisor_hostname.as_deref()),
        s.availability_zone.as_deref(),
        s.flavor.id.as_deref().or(s.flavor.original_name.as_deref()),
    )
}

/// A volume (host = backend host; parent = source snapshot).
pub fn volume(v: &cinder::Volume) -> ResourceRow {
    with(
        row(
            ResourceKind::Volume,
            &v.id,
            v.name.as_deref().unwrap_or(""),
            v,
        ),
        v.project_id.as_deref(),
        Some(&v.status),
        v.host.as_deref(),
        v.availability_zone.as_deref(),
        v.snapshot_id.as_deref(),
    )
}

/// A volume type (host column = its `volume_backend_name`).
pub fn volume_type(t: &cinder::VolumeType) -> ResourceRow {
    let backend = t.extra_specs.get("volume_backend_name").map(String::as_str);
    with(
        row(ResourceKind::VolumeType, &t.id, &t.name, t),
        None,
        None,
        backend,
        None,
        None,
    )
}

/// A volume group.
pub fn volume_group(g: &cinder::Group) -> ResourceRow {
    with(
        row(
            ResourceKind::VolumeGroup,
            &g.id,
            g.name.as_deref().unwrap_or(""),
            g,
        ),
        g.project_id.as_deref(),
        Some(&g.status),
        None,
        g.availability_zone.as_deref(),
        None,
    )
}

/// A volume snapshot (parent = volume).
pub fn snapshot(s: &cinder::Snapshot) -> ResourceRow {
    with(
        row(
            ResourceKind::VolumeSnapshot,
            &s.id,
            s.name.as_deref().unwrap_or(""),
            s,
        ),
        s.project_id.as_deref(),
        Some(&s.status),
        None,
        None,
        Some(&s.volume_id),
    )
}

/// A keypair (id = name; parent = user).
pub fn keypair(k: &nova::Keypair) -> ResourceRow {
    with(
        row(ResourceKind::Keypair, &k.name, &k.name, k),
        None,
        None,
        None,
        None,
        k.user_id.as_deref(),
    )
}

/// A flavor.
pub fn flavor(f: &nova::Flavor) -> ResourceRow {
    let status = if f.disabled { "disabled" } else { "enabled" };
    with(
        row(ResourceKind::Flavor, &f.id, &f.name, f),
        None,
        Some(status),
        None,
        None,
        None,
    )
}
