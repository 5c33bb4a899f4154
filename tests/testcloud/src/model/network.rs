//! Neutron: networks, subnets (with IP allocation), ports, routers, floating IPs,
//! security groups and rules.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde_json::json;

use super::{Cloud, CloudError, CloudResult, Notification, Service, new_uuid};
use crate::views::neutron as view;

pub mod cidr;

pub use cidr::Cidr;

#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: u32,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<u32>,
    pub description: String,
    pub port_security_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub network_id: String,
    pub cidr: Cidr,
    pub gateway_ip: Option<Ipv4Addr>,
    pub allocation_pools: Vec<(Ipv4Addr, Ipv4Addr)>,
    pub enable_dhcp: bool,
    pub dns_nameservers: Vec<String>,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
    /// Addresses in use (ports, router gateways, floating IPs).
    pub used: HashSet<u32>,
    cursor: u32,
}

#[derive(Debug, Clone)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub network_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<(String, Ipv4Addr)>,
    pub device_id: String,
    pub device_owner: String,
    pub admin_state_up: bool,
    pub status: String,
    pub security_groups: Vec<String>,
    pub binding_host: String,
    pub description: String,
    pub port_security_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct Gateway {
    pub network_id: String,
    pub enable_snat: bool,
    pub port_id: String,
}

#[derive(Debug, Clone)]
pub struct Router {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub status: String,
    pub gateway: Option<Gateway>,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct FloatingIp {
    pub id: String,
    pub project_id: String,
    pub floating_network_id: String,
    pub floating_subnet_id: String,
    pub floating_ip_address: Ipv4Addr,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<Ipv4Addr>,
    pub router_id: Option<String>,
    pub status: String,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub description: String,
    pub stateful: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: u64,
}

#[derive(Debug, Clone)]
pub struct SecurityGroupRule {
    pub id: String,
    pub security_group_id: String,
    pub project_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Default)]
pub struct Networking {
    pub networks: BTreeMap<String, Network>,
    pub subnets: BTreeMap<String, Subnet>,
    pub ports: BTreeMap<String, Port>,
    pub routers: BTreeMap<String, Router>,
    pub floating_ips: BTreeMap<String, FloatingIp>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub security_group_rules: BTreeMap<String, SecurityGroupRule>,
}

#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    pub name: Option<String>,
    pub admin_state_up: Option<bool>,
    pub shared: Option<bool>,
    pub external: Option<bool>,
    pub mtu: Option<u32>,
    pub network_type: Option<String>,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<u32>,
    pub description: Option<String>,
    pub port_security_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct SubnetSpec {
    pub name: Option<String>,
    pub network_id: String,
    pub cidr: String,
    pub ip_version: u8,
    /// `None`: the first host; `Some(None)`: no gateway.
    pub gateway_ip: Option<Option<String>>,
    pub allocation_pools: Option<Vec<(String, String)>>,
    pub enable_dhcp: Option<bool>,
    pub dns_nameservers: Option<Vec<String>>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PortSpec {
    pub name: Option<String>,
    pub network_id: String,
    /// (subnet id, requested address)
    pub fixed_ips: Option<Vec<(Option<String>, Option<String>)>>,
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    pub admin_state_up: Option<bool>,
    pub security_groups: Option<Vec<String>>,
    pub mac_address: Option<String>,
    pub description: Option<String>,
    pub port_security_enabled: Option<bool>,
    pub binding_host: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: Option<String>,
    pub protocol: Option<String>,
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: Option<String>,
}

fn nf(kind: &'static str, id: &str) -> CloudError {
    CloudError::not_found(kind, id)
}

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

fn net_event(kind: &str, op: &str, payload: serde_json::Value) -> Notification {
    Notification::info(
        Service::Network,
        &format!("{kind}.{op}.end"),
        "testcloud",
        payload,
    )
}

impl Subnet {
    /// Takes the next free address of the allocation pools.
    fn allocate(&mut self) -> Option<Ipv4Addr> {
        let pools: Vec<(u32, u32)> = self
            .allocation_pools
            .iter()
            .map(|(a, b)| (u32::from(*a), u32::from(*b)))
            .collect();
        let total: u64 = pools.iter().map(|(a, b)| u64::from(b - a) + 1).sum();
        if total == 0 {
            return None;
        }
        let first = pools.first()?.0;
        let mut candidate = self.cursor.max(first);
        for _ in 0..=total {
            if !pools
                .iter()
                .any(|(a, b)| candidate >= *a && candidate <= *b)
            {
                candidate = pools
                    .iter()
                    .map(|(a, _)| *a)
                    .filter(|a| *a > candidate)
                    .min()
                    .unwrap_or(first);
            }
            if self.used.insert(candidate) {
                self.cursor = candidate.wrapping_add(1);
                return Some(Ipv4Addr::from(candidate));
            }
            candidate = candidate.wrapping_add(1);
        }
        None
    }

    /// Claims a specific address (inside the CIDR, not the network or broadcast address).
    fn claim(&mut self, ip: Ipv4Addr) -> CloudResult<()> {
        let v = u32::from(ip);
        if !self.cidr.contains(ip) || v == self.cidr.network() || v == self.cidr.broadcast() {
            return Err(CloudError::bad(format!(
                "IP address {ip} is not a valid IP for the specified subnet."
            )));
        }
        if !self.used.insert(v) {
            return Err(CloudError::conflict(
                "IpAddressAlreadyAllocated",
                format!("IP address {ip} already allocated in subnet {}", self.id),
            ));
        }
        Ok(())
    }

    fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&u32::from(ip));
    }
}

impl Cloud {
    fn net_quota(
        &self,
        project: &str,
        resource: &str,
        used: impl FnOnce(&Self) -> usize,
    ) -> CloudResult<()> {
        if self.quotas.limit(project, resource) < 0 {
            return Ok(());
        }
        if self.quotas.exceeds(project, resource, used(self) as i64, 1) {
            return Err(CloudError::QuotaExceeded(format!(
                "Quota exceeded for resources: ['{resource}']."
            )));
        }
        Ok(())
    }

    pub fn create_network(&mut self, project_id: &str, spec: NetworkSpec) -> CloudResult<Network> {
        self.net_quota(project_id, "network", |c| {
            c.net
                .networks
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let now = crate::time::now();
        let network_type = spec.network_type.unwrap_or_else(|| {
            if spec.physical_network.is_some() {
                "flat".into()
            } else {
                "vxlan".into()
            }
        });
        if !["flat", "vlan", "vxlan", "geneve", "local"].contains(&network_type.as_str()) {
            return Err(CloudError::bad(format!(
                "Invalid input for operation: network_type value '{network_type}' not supported."
            )));
        }
        let segmentation_id = match network_type.as_str() {
            "flat" | "local" => None,
            _ => Some(
                spec.segmentation_id
                    .unwrap_or_else(|| 1000 + self.net.networks.len() as u32),
            ),
        };
        let n = Network {
            id: new_uuid(),
            name: spec.name.unwrap_or_default(),
            project_id: project_id.to_owned(),
            admin_state_up: spec.admin_state_up.unwrap_or(true),
            shared: spec.shared.unwrap_or(false),
            external: spec.external.unwrap_or(false),
            mtu: spec.mtu.unwrap_or(1450),
            network_type,
            physical_network: spec.physical_network,
            segmentation_id,
            description: spec.description.unwrap_or_default(),
            port_security_enabled: spec.port_security_enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        self.net.networks.insert(n.id.clone(), n.clone());
        let payload = json!({"network": view::network(&n, &[])});
        self.notify(net_event("network", "create", payload));
        Ok(n)
    }

    pub fn update_network(&mut self, id: &str, spec: NetworkSpec) -> CloudResult<Network> {
        let n = self
            .net
            .networks
            .get_mut(id)
            .ok_or_else(|| nf("Network", id))?;
        if let Some(v) = spec.name {
            n.name = v;
        }
        if let Some(v) = spec.admin_state_up {
            n.admin_state_up = v;
        }
        if let Some(v) = spec.shared {
            n.shared = v;
        }
        if let Some(v) = spec.external {
            n.external = v;
        }
        if let Some(v) = spec.mtu {
            n.mtu = v;
        }
        if let Some(v) = spec.description {
            n.description = v;
        }
        if let Some(v) = spec.port_security_enabled {
            n.port_security_enabled = v;
        }
        n.updated_at = crate::time::now();
        n.revision += 1;
        let n = n.clone();
        let subnets = self.subnet_ids_of(&n.id);
        let payload = json!({"network": view::network(&n, &subnets)});
        self.notify(net_event("network", "update", payload));
        Ok(n)
    }

    pub fn subnet_ids_of(&self, network_id: &str) -> Vec<String> {
        self.net
            .subnets
            .values()
            .filter(|s| s.network_id == network_id)
            .map(|s| s.id.clone())
            .collect()
    }

    pub fn delete_network(&mut self, id: &str) -> CloudResult<()> {
        if !self.net.networks.contains_key(id) {
            return Err(nf("Network", id));
        }
        if self
            .net
            .ports
            .values()
            .any(|p| p.network_id == id && p.device_owner != "network:dhcp")
        {
            return Err(CloudError::conflict(
                "NetworkInUse",
                format!(
                    "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
                ),
            ));
        }
        // Neutron's delete.end carries the deleted resource beside its id.
        let deleted = self
            .net
            .networks
            .get(id)
            .map(|n| view::network(n, &self.subnet_ids_of(id)));
        self.net.ports.retain(|_, p| p.network_id != id);
        for s in self.subnet_ids_of(id) {
            self.net.subnets.remove(&s);
            self.notify(net_event("subnet", "delete", json!({"subnet_id": s})));
        }
        self.net.networks.remove(id);
        self.notify(net_event(
            "network",
            "delete",
            json!({"network_id": id, "network": deleted}),
        ));
        Ok(())
    }

    pub fn create_subnet(&mut self, project_id: &str, spec: SubnetSpec) -> CloudResult<Subnet> {
        let network = self
            .net
            .networks
            .get(&spec.network_id)
            .ok_or_else(|| nf("Network", &spec.network_id))?;
        if network.project_id != project_id && !network.shared && !self.is_admin_project(project_id)
        {
            return Err(nf("Network", &spec.network_id));
        }
        if spec.ip_version != 4 {
            return Err(CloudError::bad(
                "Invalid input for operation: this test cloud supports ip_version 4 only.",
            ));
        }
        self.net_quota(project_id, "subnet", |c| {
            c.net
                .subnets
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let cidr = Cidr::parse(&spec.cidr)?;
        if cidr.prefix > 30 {
            return Err(CloudError::bad(format!(
                "Invalid input for operation: {} is too small, the prefix must be /30 or shorter.",
                spec.cidr
            )));
        }
        if let Some(other) = self
            .net
            .subnets
            .values()
            .find(|s| s.network_id == spec.network_id && s.cidr.overlaps(&cidr))
        {
            return Err(CloudError::bad(format!(
                "Invalid input for operation: Requested subnet with cidr: {cidr} for network: {} overlaps with another subnet {}.",
                spec.network_id, other.id
            )));
        }
        let gateway_ip = match spec.gateway_ip {
            None => Some(Ipv4Addr::from(cidr.network() + 1)),
            Some(None) => None,
            Some(Some(g)) => {
                let ip: Ipv4Addr = g.parse().map_err(|_| {
                    CloudError::bad(format!(
                        "Invalid input for gateway_ip. Reason: '{g}' is not a valid IP address."
                    ))
                })?;
                if !cidr.contains(ip) {
                    return Err(CloudError::bad(format!(
                        "Invalid input for operation: Gateway IP {ip} is not in subnet {cidr}."
                    )));
                }
                Some(ip)
            }
        };
        let allocation_pools = match spec.allocation_pools {
            Some(pools) => {
                let mut out = vec![];
                for (a, b) in pools {
                    let (a, b): (Ipv4Addr, Ipv4Addr) = match (a.parse(), b.parse()) {
                        (Ok(a), Ok(b)) => (a, b),
                        _ => return Err(CloudError::bad("Invalid input for allocation_pools.")),
                    };
                    if !cidr.contains(a) || !cidr.contains(b) || u32::from(a) > u32::from(b) {
                        return Err(CloudError::bad(format!(
                            "The allocation pool {a}-{b} spans beyond the subnet cidr {cidr}."
                        )));
                    }
                    out.push((a, b));
                }
                out
            }
            None => {
                let first = cidr.network() + 1;
                let last = cidr.broadcast() - 1;
                let g = gateway_ip.map(u32::from);
                match g {
                    Some(g) if g == first => {
                        vec![(Ipv4Addr::from(first + 1), Ipv4Addr::from(last))]
                    }
                    Some(g) if g == last => vec![(Ipv4Addr::from(first), Ipv4Addr::from(last - 1))],
                    Some(g) if g > first && g < last => vec![
                        (Ipv4Addr::from(first), Ipv4Addr::from(g - 1)),
                        (Ipv4Addr::from(g + 1), Ipv4Addr::from(last)),
                    ],
                    _ => vec![(Ipv4Addr::from(first), Ipv4Addr::from(last))],
                }
            }
        };
        let now = crate::time::now();
        let s = Subnet {
            id: new_uuid(),
            name: spec.name.unwrap_or_default(),
            project_id: project_id.to_owned(),
            network_id: spec.network_id.clone(),
            cidr,
            gateway_ip,
            allocation_pools,
            enable_dhcp: spec.enable_dhcp.unwrap_or(true),
            dns_nameservers: spec.dns_nameservers.unwrap_or_default(),
            description: spec.description.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            revision: 0,
            used: HashSet::new(),
            cursor: 0,
        };
        self.net.subnets.insert(s.id.clone(), s.clone());
        self.notify(net_event(
            "subnet",
            "create",
            json!({"subnet": view::subnet(&s)}),
        ));
        Ok(s)
    }

    pub fn update_subnet(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        enable_dhcp: Option<bool>,
        dns_nameservers: Option<Vec<String>>,
    ) -> CloudResult<Subnet> {
        let s = self
            .net
            .subnets
            .get_mut(id)
            .ok_or_else(|| nf("Subnet", id))?;
        if let Some(v) = name {
            s.name = v;
        }
        if let Some(v) = description {
            s.description = v;
        }
        if let Some(v) = enable_dhcp {
            s.enable_dhcp = v;
        }
        if let Some(v) = dns_nameservers {
            s.dns_nameservers = v;
        }
        s.revision += 1;
        s.updated_at = crate::time::now();
        let s = s.clone();
        self.notify(net_event(
            "subnet",
            "update",
            json!({"subnet": view::subnet(&s)}),
        ));
        Ok(s)
    }

    pub fn delete_subnet(&mut self, id: &str) -> CloudResult<()> {
        if !self.net.subnets.contains_key(id) {
            return Err(nf("Subnet", id));
        }
        if self
            .net
            .ports
            .values()
            .any(|p| p.fixed_ips.iter().any(|(s, _)| s == id))
        {
            return Err(CloudError::conflict(
                "SubnetInUse",
                format!(
                    "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                ),
            ));
        }
        self.net.subnets.remove(id);
        self.notify(net_event("subnet", "delete", json!({"subnet_id": id})));
        Ok(())
    }

    /// Is this the admin project (the bootstrap project named `admin`)?
    pub fn is_admin_project(&self, project_id: &str) -> bool {
        self.identity
            .projects
            .get(project_id)
            .is_some_and(|p| p.name == "admin")
    }

    pub fn create_port(&mut self, project_id: &str, spec: PortSpec) -> CloudResult<Port> {
        let network = self
            .net
            .networks
            .get(&spec.network_id)
            .ok_or_else(|| nf("Network", &spec.network_id))?
            .clone();
        self.net_quota(project_id, "port", |c| {
            c.net
                .ports
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let security_groups = match spec.security_groups {
            Some(sgs) => {
                for sg in &sgs {
                    if !self.net.security_groups.contains_key(sg) {
                        return Err(nf("Security group", sg));
                    }
                }
                sgs
            }
            None if spec
                .device_owner
                .as_deref()
                .is_some_and(|o| o.starts_with("network:")) =>
            {
                vec![]
            }
            None => self
                .default_security_group(project_id)
                .into_iter()
                .collect(),
        };
        let fixed_ips = self.allocate_fixed_ips(&network, spec.fixed_ips)?;
        let now = crate::time::now();
        let device_owner = spec.device_owner.unwrap_or_default();
        let p = Port {
            id: new_uuid(),
            name: spec.name.unwrap_or_default(),
            project_id: project_id.to_owned(),
            network_id: network.id.clone(),
            mac_address: spec.mac_address.unwrap_or_else(random_mac),
            fixed_ips,
            device_id: spec.device_id.unwrap_or_default(),
            status: if device_owner.is_empty() {
                "DOWN"
            } else {
                "ACTIVE"
            }
            .into(),
            device_owner,
            admin_state_up: spec.admin_state_up.unwrap_or(true),
            security_groups,
            binding_host: spec.binding_host.unwrap_or_default(),
            description: spec.description.unwrap_or_default(),
            port_security_enabled: spec
                .port_security_enabled
                .unwrap_or(network.port_security_enabled),
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        self.net.ports.insert(p.id.clone(), p.clone());
        self.notify(net_event("port", "create", json!({"port": view::port(&p)})));
        Ok(p)
    }

    fn allocate_fixed_ips(
        &mut self,
        network: &Network,
        requested: Option<Vec<(Option<String>, Option<String>)>>,
    ) -> CloudResult<Vec<(String, Ipv4Addr)>> {
        let subnets = self.subnet_ids_of(&network.id);
        let requests = match requested {
            Some(r) => r,
            None => subnets
                .iter()
                .take(1)
                .map(|s| (Some(s.clone()), None))
                .collect(),
        };
        let mut out: Vec<(String, Ipv4Addr)> = vec![];
        let rollback = |cloud: &mut Cloud, out: &[(String, Ipv4Addr)]| {
            for (s, ip) in out {
                if let Some(sub) = cloud.net.subnets.get_mut(s) {
                    sub.release(*ip);
                }
            }
        };
        for (subnet_id, ip) in requests {
            let subnet_id = match (subnet_id, &ip) {
                (Some(s), _) => s,
                (None, Some(ip)) => {
                    let addr: Ipv4Addr = ip.parse().map_err(|_| {
                        CloudError::bad(format!(
                            "Invalid input for fixed_ips. Reason: '{ip}' is not a valid IP address."
                        ))
                    })?;
                    match subnets
                        .iter()
                        .find(|s| self.net.subnets[*s].cidr.contains(addr))
                    {
                        Some(s) => s.clone(),
                        None => {
                            rollback(self, &out);
                            return Err(CloudError::bad(format!(
                                "IP address {ip} is not a valid IP for any subnet on network {}.",
                                network.id
                            )));
                        }
                    }
                }
                (None, None) => {
                    rollback(self, &out);
                    return Err(CloudError::bad(
                        "Invalid input for fixed_ips: subnet_id or ip_address required.",
                    ));
                }
            };
            if !subnets.contains(&subnet_id) {
                rollback(self, &out);
                return Err(CloudError::bad(format!(
                    "Invalid input for operation: Failed to create port on network {}, because fixed_ips included invalid subnet {subnet_id}.",
                    network.id
                )));
            }
            let subnet = self
                .net
                .subnets
                .get_mut(&subnet_id)
                .ok_or_else(|| nf("Subnet", &subnet_id))?;
            let result = match ip {
                Some(ip) => match ip.parse::<Ipv4Addr>() {
                    Ok(addr) => subnet.claim(addr).map(|_| addr),
                    Err(_) => Err(CloudError::bad(format!(
                        "Invalid input for fixed_ips. Reason: '{ip}' is not a valid IP address."
                    ))),
                },
                None => subnet.allocate().ok_or_else(|| {
                    CloudError::conflict(
                        "IpAddressGenerationFailure",
                        format!("No more IP addresses available on network {}.", network.id),
                    )
                }),
            };
            match result {
                Ok(addr) => out.push((subnet_id, addr)),
                Err(e) => {
                    rollback(self, &out);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    pub fn update_port(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        admin_state_up: Option<bool>,
        security_groups: Option<Vec<String>>,
        device: Option<(String, String)>,
    ) -> CloudResult<Port> {
        if let Some(sgs) = &security_groups {
            for sg in sgs {
                if !self.net.security_groups.contains_key(sg) {
                    return Err(nf("Security group", sg));
                }
            }
        }
        let p = self.net.ports.get_mut(id).ok_or_else(|| nf("Port", id))?;
        if let Some(v) = name {
            p.name = v;
        }
        if let Some(v) = description {
            p.description = v;
        }
        if let Some(v) = admin_state_up {
            p.admin_state_up = v;
        }
        if let Some(v) = security_groups {
            p.security_groups = v;
        }
        if let Some((device_id, owner)) = device {
            p.status = if owner.is_empty() { "DOWN" } else { "ACTIVE" }.into();
            p.device_id = device_id;
            p.device_owner = owner;
        }
        p.revision += 1;
        p.updated_at = crate::time::now();
        let p = p.clone();
        self.notify(net_event("port", "update", json!({"port": view::port(&p)})));
        Ok(p)
    }

    /// `DELETE /v2.0/ports/{id}`: router interfaces must be removed through the router.
    pub fn delete_port(&mut self, id: &str) -> CloudResult<()> {
        let p = self.net.ports.get(id).ok_or_else(|| nf("Port", id))?;
        if p.device_owner == "network:router_interface"
            || p.device_owner == "network:router_gateway"
        {
            return Err(CloudError::conflict(
                "PortInUse",
                format!(
                    "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                    p.device_owner
                ),
            ));
        }
        self.remove_port(id);
        for s in self.compute.servers.values_mut() {
            s.ports.retain(|sp| sp.port_id != id);
        }
        Ok(())
    }

    /// Removes a port, releasing its addresses and disassociating floating IPs.
    pub(crate) fn remove_port(&mut self, id: &str) {
        let Some(p) = self.net.ports.remove(id) else {
            return;
        };
        for (s, ip) in &p.fixed_ips {
            if let Some(sub) = self.net.subnets.get_mut(s) {
                sub.release(*ip);
            }
        }
        let fips: Vec<String> = self
            .net
            .floating_ips
            .values()
            .filter(|f| f.port_id.as_deref() == Some(id))
            .map(|f| f.id.clone())
            .collect();
        for f in fips {
            let _ = self.update_floating_ip(&f, None, None);
        }
        self.notify(net_event("port", "delete", json!({"port_id": id})));
    }

    pub fn create_router(
        &mut self,
        project_id: &str,
        name: Option<String>,
        description: Option<String>,
        admin_state_up: Option<bool>,
        gateway: Option<(String, Option<bool>)>,
    ) -> CloudResult<Router> {
        self.net_quota(project_id, "router", |c| {
            c.net
                .routers
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let now = crate::time::now();
        let r = Router {
            id: new_uuid(),
            name: name.unwrap_or_default(),
            project_id: project_id.to_owned(),
            admin_state_up: admin_state_up.unwrap_or(true),
            status: "ACTIVE".into(),
            gateway: None,
            description: description.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        self.net.routers.insert(r.id.clone(), r.clone());
        if let Some((net, snat)) = gateway
            && let Err(e) = self.set_router_gateway(&r.id, Some((net, snat)))
        {
            self.net.routers.remove(&r.id);
            return Err(e);
        }
        let r = self.net.routers[&r.id].clone();
        let payload = json!({"router": view::router(self, &r)});
        self.notify(net_event("router", "create", payload));
        Ok(r)
    }

    /// Sets (`Some`) or clears (`None`) the external gateway, creating or removing the
    /// gateway port on the external network.
    pub fn set_router_gateway(
        &mut self,
        router_id: &str,
        gateway: Option<(String, Option<bool>)>,
    ) -> CloudResult<()> {
        let router = self
            .net
            .routers
            .get(router_id)
            .ok_or_else(|| nf("Router", router_id))?
            .clone();
        if let Some(old) = &router.gateway {
            if gateway.as_ref().is_some_and(|(n, _)| *n == old.network_id) {
                if let Some((_, Some(snat))) = gateway
                    && let Some(g) = self
                        .net
                        .routers
                        .get_mut(router_id)
                        .and_then(|r| r.gateway.as_mut())
                {
                    g.enable_snat = snat;
                }
                return Ok(());
            }
            if self
                .net
                .floating_ips
                .values()
                .any(|f| f.router_id.as_deref() == Some(router_id))
            {
                return Err(CloudError::conflict(
                    "RouterExternalGatewayInUseByFloatingIp",
                    format!(
                        "Gateway cannot be updated for router {router_id}, since a gateway to external network {} is required by one or more floating IPs.",
                        old.network_id
                    ),
                ));
            }
            self.remove_port(&old.port_id);
        }
        let new_gw = match gateway {
            None => None,
            Some((network_id, snat)) => {
                let net = self
                    .net
                    .networks
                    .get(&network_id)
                    .ok_or_else(|| nf("Network", &network_id))?;
                if !net.external {
                    return Err(CloudError::bad(format!(
                        "Bad router request: Network {network_id} is not an external network."
                    )));
                }
                let port = self.create_port(
                    &router.project_id,
                    PortSpec {
                        network_id: network_id.clone(),
                        device_id: Some(router_id.to_owned()),
                        device_owner: Some("network:router_gateway".into()),
                        ..Default::default()
                    },
                )?;
                Some(Gateway {
                    network_id,
                    enable_snat: snat.unwrap_or(true),
                    port_id: port.id,
                })
            }
        };
        let r = self
            .net
            .routers
            .get_mut(router_id)
            .ok_or_else(|| nf("Router", router_id))?;
        r.gateway = new_gw;
        r.revision += 1;
        r.updated_at = crate::time::now();
        Ok(())
    }

    pub fn rename_router(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        admin_state_up: Option<bool>,
    ) -> CloudResult<Router> {
        let r = self
            .net
            .routers
            .get_mut(id)
            .ok_or_else(|| nf("Router", id))?;
        if let Some(v) = name {
            r.name = v;
        }
        if let Some(v) = description {
            r.description = v;
        }
        if let Some(v) = admin_state_up {
            r.admin_state_up = v;
        }
        let r = r.clone();
        let payload = json!({"router": view::router(self, &r)});
        self.notify(net_event("router", "update", payload));
        Ok(r)
    }

    /// Interface ports of a router.
    pub fn router_interfaces(&self, router_id: &str) -> Vec<&Port> {
        self.net
            .ports
            .values()
            .filter(|p| p.device_id == router_id && p.device_owner == "network:router_interface")
            .collect()
    }

    pub fn delete_router(&mut self, id: &str) -> CloudResult<()> {
        let r = self
            .net
            .routers
            .get(id)
            .ok_or_else(|| nf("Router", id))?
            .clone();
        if !self.router_interfaces(id).is_empty() {
            return Err(CloudError::conflict(
                "RouterInUse",
                format!("Router {id} still has ports"),
            ));
        }
        if r.gateway.is_some() {
            self.set_router_gateway(id, None)?;
        }
        self.net.routers.remove(id);
        self.notify(net_event("router", "delete", json!({"router_id": id})));
        Ok(())
    }

    /// `add_router_interface` with a subnet (the port gets the gateway IP) or a port.
    pub fn add_router_interface(
        &mut self,
        router_id: &str,
        subnet_id: Option<&str>,
        port_id: Option<&str>,
    ) -> CloudResult<Port> {
        let router = self
            .net
            .routers
            .get(router_id)
            .ok_or_else(|| nf("Router", router_id))?
            .clone();
        let port_id = match (subnet_id, port_id) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(CloudError::bad(
                    "Bad router request: Must specify exactly one of subnet_id or port_id.",
                ));
            }
            (Some(sid), None) => {
                let subnet = self
                    .net
                    .subnets
                    .get(sid)
                    .ok_or_else(|| nf("Subnet", sid))?
                    .clone();
                if self
                    .router_interfaces(router_id)
                    .iter()
                    .any(|p| p.fixed_ips.iter().any(|(s, _)| s == sid))
                {
                    return Err(CloudError::bad(format!(
                        "Bad router request: Router already has a port on subnet {sid}."
                    )));
                }
                let gw = subnet.gateway_ip.ok_or_else(|| {
                    CloudError::bad(format!(
                        "Bad router request: Subnet {sid} does not have a gateway IP."
                    ))
                })?;
                self.create_port(
                    &router.project_id,
                    PortSpec {
                        network_id: subnet.network_id.clone(),
                        fixed_ips: Some(vec![(Some(sid.to_owned()), Some(gw.to_string()))]),
                        device_id: Some(router_id.to_owned()),
                        device_owner: Some("network:router_interface".into()),
                        ..Default::default()
                    },
                )?
                .id
            }
            (None, Some(pid)) => {
                let p = self.net.ports.get(pid).ok_or_else(|| nf("Port", pid))?;
                if !p.device_id.is_empty() {
                    return Err(CloudError::conflict(
                        "PortInUse",
                        format!(
                            "Unable to complete operation on port {pid} for network {}. Port already has an attached device {}.",
                            p.network_id, p.device_id
                        ),
                    ));
                }
                self.update_port(
                    pid,
                    None,
                    None,
                    None,
                    None,
                    Some((router_id.to_owned(), "network:router_interface".into())),
                )?;
                pid.to_owned()
            }
        };
        let p = self.net.ports[&port_id].clone();
        self.notify(net_event(
            "router.interface",
            "create",
            json!({"router_interface": {"id": router_id, "port_id": p.id, "subnet_id": p.fixed_ips.first().map(|f| f.0.clone()), "tenant_id": router.project_id}}),
        ));
        Ok(p)
    }

    pub fn remove_router_interface(
        &mut self,
        router_id: &str,
        subnet_id: Option<&str>,
        port_id: Option<&str>,
    ) -> CloudResult<Port> {
        if !self.net.routers.contains_key(router_id) {
            return Err(nf("Router", router_id));
        }
        let port = self
            .router_interfaces(router_id)
            .into_iter()
            .find(|p| {
                port_id.is_some_and(|id| p.id == id)
                    || subnet_id.is_some_and(|s| p.fixed_ips.iter().any(|(x, _)| x == s))
            })
            .cloned()
            .ok_or_else(|| {
                CloudError::not_found(
                    "RouterInterface",
                    format!(
                        "Router {router_id} does not have an interface with id {}",
                        port_id.or(subnet_id).unwrap_or("")
                    ),
                )
            })?;
        let subnets: Vec<&String> = port.fixed_ips.iter().map(|(s, _)| s).collect();
        if self.net.floating_ips.values().any(|f| {
            f.router_id.as_deref() == Some(router_id)
                && f.port_id
                    .as_ref()
                    .and_then(|p| self.net.ports.get(p))
                    .is_some_and(|p| p.fixed_ips.iter().any(|(s, _)| subnets.contains(&s)))
        }) {
            return Err(CloudError::conflict(
                "RouterInterfaceInUseByFloatingIP",
                format!(
                    "Router interface for subnet {} on router {router_id} cannot be deleted, as it is required by one or more floating IPs.",
                    subnets.first().map(|s| s.as_str()).unwrap_or("")
                ),
            ));
        }
        self.remove_port(&port.id);
        self.notify(net_event(
            "router.interface",
            "delete",
            json!({"router_interface": {"id": router_id, "port_id": port.id}}),
        ));
        Ok(port)
    }

    /// The router that connects `subnet_id` to the external network `ext_net`.
    fn router_for(&self, subnet_id: &str, ext_net: &str) -> Option<String> {
        self.net
            .routers
            .values()
            .filter(|r| r.gateway.as_ref().is_some_and(|g| g.network_id == ext_net))
            .find(|r| {
                self.router_interfaces(&r.id)
                    .iter()
                    .any(|p| p.fixed_ips.iter().any(|(s, _)| s == subnet_id))
            })
            .map(|r| r.id.clone())
    }

    pub fn create_floating_ip(
        &mut self,
        project_id: &str,
        floating_network_id: &str,
        floating_ip_address: Option<&str>,
        port_id: Option<&str>,
        description: Option<String>,
    ) -> CloudResult<FloatingIp> {
        let net = self
            .net
            .networks
            .get(floating_network_id)
            .ok_or_else(|| nf("Network", floating_network_id))?;
        if !net.external {
            return Err(CloudError::bad(format!(
                "Bad floatingip request: Network {floating_network_id} is not a valid external network."
            )));
        }
        self.net_quota(project_id, "floatingip", |c| {
            c.net
                .floating_ips
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let mut allocated = None;
        for sid in self.subnet_ids_of(floating_network_id) {
            let sub = self
                .net
                .subnets
                .get_mut(&sid)
                .ok_or_else(|| nf("Subnet", &sid))?;
            let got = match floating_ip_address {
                Some(a) => {
                    let ip: Ipv4Addr = a.parse().map_err(|_| {
                        CloudError::bad(format!("Invalid input for floating_ip_address. Reason: '{a}' is not a valid IP address."))
                    })?;
                    if !sub.cidr.contains(ip) {
                        continue;
                    }
                    sub.claim(ip)?;
                    Some(ip)
                }
                None => sub.allocate(),
            };
            if let Some(ip) = got {
                allocated = Some((sid, ip));
                break;
            }
        }
        let (subnet_id, ip) = allocated.ok_or_else(|| {
            CloudError::conflict(
                "IpAddressGenerationFailure",
                format!("No more IP addresses available on network {floating_network_id}."),
            )
        })?;
        let now = crate::time::now();
        let f = FloatingIp {
            id: new_uuid(),
            project_id: project_id.to_owned(),
            floating_network_id: floating_network_id.to_owned(),
            floating_subnet_id: subnet_id,
            floating_ip_address: ip,
            port_id: None,
            fixed_ip_address: None,
            router_id: None,
            status: "DOWN".into(),
            description: description.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            revision: 0,
        };
        self.net.floating_ips.insert(f.id.clone(), f.clone());
        if let Some(port) = port_id
            && let Err(e) = self.update_floating_ip(&f.id, Some(port), None)
        {
            self.release_floating_ip(&f.id);
            return Err(e);
        }
        let f = self.net.floating_ips[&f.id].clone();
        self.notify(net_event(
            "floatingip",
            "create",
            json!({"floatingip": view::floating_ip(&f)}),
        ));
        Ok(f)
    }

    fn release_floating_ip(&mut self, id: &str) {
        if let Some(f) = self.net.floating_ips.remove(id)
            && let Some(s) = self.net.subnets.get_mut(&f.floating_subnet_id)
        {
            s.release(f.floating_ip_address);
        }
    }

    /// Associates (`port_id: Some`) or disassociates (`None`) a floating IP.
    pub fn update_floating_ip(
        &mut self,
        id: &str,
        port_id: Option<&str>,
        fixed_ip: Option<&str>,
    ) -> CloudResult<FloatingIp> {
        let f = self
            .net
            .floating_ips
            .get(id)
            .ok_or_else(|| nf("Floating IP", id))?
            .clone();
        let (port, fixed, router) = match port_id {
            None => (None, None, None),
            Some(pid) => {
                let p = self.net.ports.get(pid).ok_or_else(|| nf("Port", pid))?;
                let (subnet, addr) = match fixed_ip {
                    Some(want) => p
                        .fixed_ips
                        .iter()
                        .find(|(_, a)| a.to_string() == want)
                        .cloned()
                        .ok_or_else(|| CloudError::bad(format!("Bad floatingip request: Port {pid} does not have fixed ip {want}.")))?,
                    None => p.fixed_ips.first().cloned().ok_or_else(|| {
                        CloudError::bad(format!("Bad floatingip request: Port {pid} does not have any fixed IP addresses."))
                    })?,
                };
                if let Some(other) = self.net.floating_ips.values().find(|o| {
                    o.id != id
                        && o.port_id.as_deref() == Some(pid)
                        && o.fixed_ip_address == Some(addr)
                }) {
                    return Err(CloudError::conflict(
                        "FloatingIPPortAlreadyAssociated",
                        format!(
                            "Cannot associate floating IP {} ({}) with port {pid} using fixed IP {addr}, as that fixed IP already has a floating IP on external network {}.",
                            f.floating_ip_address, f.id, other.floating_network_id
                        ),
                    ));
                }
                let router = self.router_for(&subnet, &f.floating_network_id).ok_or_else(|| {
                    CloudError::not_found(
                        "ExternalGatewayForFloatingIP",
                        format!("External network {} is not reachable from subnet {subnet}.  Therefore, cannot associate Port {pid} with a Floating IP.", f.floating_network_id),
                    )
                })?;
                (Some(pid.to_owned()), Some(addr), Some(router))
            }
        };
        let f = self
            .net
            .floating_ips
            .get_mut(id)
            .ok_or_else(|| nf("Floating IP", id))?;
        f.status = if port.is_some() { "ACTIVE" } else { "DOWN" }.into();
        f.port_id = port;
        f.fixed_ip_address = fixed;
        f.router_id = router;
        f.revision += 1;
        f.updated_at = crate::time::now();
        let f = f.clone();
        self.notify(net_event(
            "floatingip",
            "update",
            json!({"floatingip": view::floating_ip(&f)}),
        ));
        Ok(f)
    }

    pub fn delete_floating_ip(&mut self, id: &str) -> CloudResult<()> {
        if !self.net.floating_ips.contains_key(id) {
            return Err(nf("Floating IP", id));
        }
        self.release_floating_ip(id);
        self.notify(net_event(
            "floatingip",
            "delete",
            json!({"floatingip_id": id}),
        ));
        Ok(())
    }

    pub fn default_security_group(&self, project_id: &str) -> Option<String> {
        self.net
            .security_groups
            .values()
            .find(|g| g.project_id == project_id && g.name == "default")
            .map(|g| g.id.clone())
    }

    /// Every project has a `default` group allowing all egress and ingress from members.
    pub(crate) fn ensure_default_security_group(&mut self, project_id: &str) -> String {
        if let Some(id) = self.default_security_group(project_id) {
            return id;
        }
        let now = crate::time::now();
        let g = SecurityGroup {
            id: new_uuid(),
            name: "default".into(),
            project_id: project_id.to_owned(),
            description: "Default security group".into(),
            stateful: true,
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        let id = g.id.clone();
        self.net.security_groups.insert(id.clone(), g);
        for (direction, ethertype, remote) in [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
            ("ingress", "IPv4", Some(id.clone())),
            ("ingress", "IPv6", Some(id.clone())),
        ] {
            let r = SecurityGroupRule {
                id: new_uuid(),
                security_group_id: id.clone(),
                project_id: project_id.to_owned(),
                direction: direction.into(),
                ethertype: ethertype.into(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                remote_ip_prefix: None,
                remote_group_id: remote,
                description: String::new(),
                created_at: now,
            };
            self.net.security_group_rules.insert(r.id.clone(), r);
        }
        id
    }

    pub fn create_security_group(
        &mut self,
        project_id: &str,
        name: &str,
        description: Option<String>,
        stateful: Option<bool>,
    ) -> CloudResult<SecurityGroup> {
        if name == "default" && self.default_security_group(project_id).is_some() {
            return Err(CloudError::conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
        self.net_quota(project_id, "security_group", |c| {
            c.net
                .security_groups
                .values()
                .filter(|x| x.project_id == project_id)
                .count()
        })?;
        let now = crate::time::now();
        let g = SecurityGroup {
            id: new_uuid(),
            name: name.to_owned(),
            project_id: project_id.to_owned(),
            description: description.unwrap_or_default(),
            stateful: stateful.unwrap_or(true),
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        self.net.security_groups.insert(g.id.clone(), g.clone());
        for ethertype in ["IPv4", "IPv6"] {
            let r = SecurityGroupRule {
                id: new_uuid(),
                security_group_id: g.id.clone(),
                project_id: project_id.to_owned(),
                direction: "egress".into(),
                ethertype: ethertype.into(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                remote_ip_prefix: None,
                remote_group_id: None,
                description: String::new(),
                created_at: now,
            };
            self.net.security_group_rules.insert(r.id.clone(), r);
        }
        let payload = json!({"security_group": view::security_group(self, &g)});
        self.notify(net_event("security_group", "create", payload));
        Ok(g)
    }

    pub fn update_security_group(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> CloudResult<SecurityGroup> {
        let g = self
            .net
            .security_groups
            .get_mut(id)
            .ok_or_else(|| nf("Security group", id))?;
        if let Some(n) = name {
            g.name = n;
        }
        if let Some(d) = description {
            g.description = d;
        }
        g.revision += 1;
        g.updated_at = crate::time::now();
        let g = g.clone();
        let payload = json!({"security_group": view::security_group(self, &g)});
        self.notify(net_event("security_group", "update", payload));
        Ok(g)
    }

    pub fn delete_security_group(&mut self, id: &str) -> CloudResult<()> {
        let g = self
            .net
            .security_groups
            .get(id)
            .ok_or_else(|| nf("Security group", id))?;
        if g.name == "default" && self.identity.projects.contains_key(&g.project_id) {
            return Err(CloudError::conflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            ));
        }
        if self
            .net
            .ports
            .values()
            .any(|p| p.security_groups.iter().any(|s| s == id))
        {
            return Err(CloudError::conflict(
                "SecurityGroupInUse",
                format!("Security Group {id} in use."),
            ));
        }
        let deleted = view::security_group(self, g);
        self.net.security_groups.remove(id);
        self.net
            .security_group_rules
            .retain(|_, r| r.security_group_id != id);
        self.notify(net_event(
            "security_group",
            "delete",
            json!({"security_group_id": id, "security_group": deleted}),
        ));
        Ok(())
    }

    pub fn create_security_group_rule(
        &mut self,
        project_id: &str,
        spec: RuleSpec,
    ) -> CloudResult<SecurityGroupRule> {
        if !self
            .net
            .security_groups
            .contains_key(&spec.security_group_id)
        {
            return Err(nf("Security group", &spec.security_group_id));
        }
        if spec.direction != "ingress" && spec.direction != "egress" {
            return Err(CloudError::bad(format!(
                "Invalid input for direction. Reason: {} is not in valid_values.",
                spec.direction
            )));
        }
        let ethertype = spec.ethertype.unwrap_or_else(|| "IPv4".into());
        if ethertype != "IPv4" && ethertype != "IPv6" {
            return Err(CloudError::bad(format!(
                "Invalid input for ethertype. Reason: {ethertype} is not in valid_values."
            )));
        }
        if let (Some(a), Some(b)) = (spec.port_range_min, spec.port_range_max)
            && a > b
        {
            return Err(CloudError::bad(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            ));
        }
        if let Some(rg) = &spec.remote_group_id
            && !self.net.security_groups.contains_key(rg)
        {
            return Err(nf("Security group", rg));
        }
        if let Some(prefix) = &spec.remote_ip_prefix
            && Cidr::parse(prefix).is_err()
            && !prefix.contains(':')
        {
            return Err(CloudError::bad(format!(
                "Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid IP subnet."
            )));
        }
        let protocol = spec.protocol.map(|p| p.to_lowercase());
        let duplicate = self.net.security_group_rules.values().find(|r| {
            r.security_group_id == spec.security_group_id
                && r.direction == spec.direction
                && r.ethertype == ethertype
                && r.protocol == protocol
                && r.port_range_min == spec.port_range_min
                && r.port_range_max == spec.port_range_max
                && r.remote_ip_prefix == spec.remote_ip_prefix
                && r.remote_group_id == spec.remote_group_id
        });
        if let Some(d) = duplicate {
            return Err(CloudError::conflict(
                "SecurityGroupRuleExists",
                format!("Security group rule already exists. Rule id is {}.", d.id),
            ));
        }
        let r = SecurityGroupRule {
            id: new_uuid(),
            security_group_id: spec.security_group_id,
            project_id: project_id.to_owned(),
            direction: spec.direction,
            ethertype,
            protocol,
            port_range_min: spec.port_range_min,
            port_range_max: spec.port_range_max,
            remote_ip_prefix: spec.remote_ip_prefix,
            remote_group_id: spec.remote_group_id,
            description: spec.description.unwrap_or_default(),
            created_at: crate::time::now(),
        };
        self.net
            .security_group_rules
            .insert(r.id.clone(), r.clone());
        self.notify(net_event(
            "security_group_rule",
            "create",
            json!({"security_group_rule": view::security_group_rule(&r)}),
        ));
        Ok(r)
    }

    pub fn delete_security_group_rule(&mut self, id: &str) -> CloudResult<()> {
        self.net
            .security_group_rules
            .remove(id)
            .ok_or_else(|| nf("Security group rule", id))?;
        self.notify(net_event(
            "security_group_rule",
            "delete",
            json!({"security_group_rule_id": id}),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
