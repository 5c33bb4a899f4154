//! A plan as the sync reactions see it ([`crate::dr::plan_sync::PlanView`]): the
//! mapping with the synced source and target filled in (protected networks' subnets
//! and routers, the instance keeping each address, the mapped external network's
//! subnets). Resources deleted by the change being reacted to are still part of the
//! plan, so their documents before the change are added back (`gone_*`). Pure.

use std::collections::BTreeSet;

use holdfast_openstack::neutron;

use super::inventory::ClusterDocs;
use super::mapping::{FloatingIpChoice, NetworkChoice, PlanMapping};
use super::sync_changes::{ResourceDelta, interfaces};
use crate::domain::cluster::ResourceKind;
use crate::dr::ids::{InstanceId, NetworkId, NodeId, RouterId, SubnetId};
use crate::dr::plan_sync::PlanView;

/// What a batch deleted or changed, as it was before (subnets, routers and ports it
/// deleted; floating IPs it changed).
#[derive(Debug, Clone, Default)]
pub struct Gone {
    /// Deleted subnets.
    pub subnets: Vec<neutron::Subnet>,
    /// Deleted routers.
    pub routers: Vec<neutron::Router>,
    /// Deleted ports.
    pub ports: Vec<neutron::Port>,
    /// Changed or deleted floating IPs, before the change.
    pub floating_ips: Vec<neutron::FloatingIp>,
}

impl Gone {
    /// What a batch deleted or changed.
    pub fn of(deltas: &[ResourceDelta]) -> Gone {
        let mut out = Gone::default();
        for d in deltas {
            let Some(before) = &d.before else { continue };
            if d.kind == ResourceKind::FloatingIp {
                if let Ok(f) = serde_json::from_str(before) {
                    out.floating_ips.push(f);
                }
                continue;
            }
            if d.after.is_some() {
                continue;
            }
            match d.kind {
                ResourceKind::Port => {
                    if let Ok(p) = serde_json::from_str(before) {
                        out.ports.push(p);
                    }
                }
                ResourceKind::Subnet => {
                    if let Ok(s) = serde_json::from_str(before) {
                        out.subnets.push(s);
                    }
                }
                ResourceKind::Router => {
                    if let Ok(r) = serde_json::from_str(before) {
                        out.routers.push(r);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// The view of a plan: `instances` are the group's, `source` / `target` the synced
/// copies with what the batch deleted on each side.
pub fn plan_view(
    m: &PlanMapping,
    instances: &[String],
    (source, source_gone): (&ClusterDocs, &Gone),
    (target, target_gone): (&ClusterDocs, &Gone),
) -> PlanView {
    let mut v = PlanView {
        project_name: m.project_name.clone(),
        ..PlanView::default()
    };
    v.zones.insert(m.availability_zone.clone());
    v.nodes = m
        .instances
        .values()
        .filter_map(|c| c.node.as_ref().map(NodeId::new))
        .collect();
    let external: BTreeSet<String> = match &m.external_network {
        Some(n) => [n.clone()].into(),
        // absent: the target's only external network (mapping.rs)
        None => {
            let ext: Vec<&String> = target
                .networks
                .values()
                .filter(|n| n.external)
                .map(|n| &n.id)
                .collect();
            match ext.as_slice() {
                [one] => [(*one).clone()].into(),
                _ => BTreeSet::new(),
            }
        }
    };
    v.external_networks = external.iter().map(NetworkId::new).collect();
    v.external_subnets = target
        .subnets
        .values()
        .chain(&target_gone.subnets)
        .filter(|s| external.contains(&s.network_id))
        .map(|s| SubnetId::new(&s.id))
        .collect();
    v.target_networks = m
        .networks
        .values()
        .filter_map(|c| match c {
            NetworkChoice::Existing(n) => Some(NetworkId::new(n)),
            NetworkChoice::Create => None,
        })
        .collect();
    v.volume_types = m.volume_types.values().cloned().collect();
    v.networks = m.networks.keys().map(NetworkId::new).collect();
    let protected_subnets: BTreeSet<&str> = source
        .subnets
        .values()
        .chain(&source_gone.subnets)
        .filter(|s| m.networks.contains_key(&s.network_id))
        .map(|s| s.id.as_str())
        .collect();
    v.subnets = protected_subnets
        .iter()
        .map(|s| SubnetId::new(*s))
        .collect();
    v.routers = source
        .routers
        .values()
        .map(|(r, _)| r)
        .chain(&source_gone.routers)
        .filter(|r| {
            interfaces(r)
                .iter()
                .any(|i| protected_subnets.contains(i.subnet_id.as_str()))
        })
        .map(|r| RouterId::new(&r.id))
        .collect();
    v.instances = instances.iter().map(InstanceId::new).collect();
    for (address, choice) in &m.floating_ips {
        if *choice != FloatingIpChoice::Keep {
            continue;
        }
        // the holder the mapping was made against: before this batch's change
        let holder = source_gone
            .floating_ips
            .iter()
            .chain(source.floating_ips.values())
            .find(|f| &f.floating_ip_address == address && f.port_id.is_some())
            .and_then(|f| f.port_id.as_ref())
            .and_then(|p| {
                source
                    .ports
                    .get(p)
                    .or_else(|| source_gone.ports.iter().find(|x| &x.id == p))
            })
            .map_or("", |p| p.device_id.as_str());
        v.kept_addresses
            .insert(address.clone(), InstanceId::new(holder));
    }
    v
}
