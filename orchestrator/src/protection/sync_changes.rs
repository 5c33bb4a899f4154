//! What a sync or a notification changed, in the words of the plan sync reactions
//! (protection.md, "Plan sync reactions"): each written resource's document before and
//! after ([`ResourceDelta`]) becomes the [`ResourceChange`]s it means for plans whose
//! source, and for plans whose target, is the cluster. Pure: the synced copy after the
//! write is given for look-ups (a port's other ports, a subnet's network).

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::{cinder, keystone, neutron, nova};
use serde::de::DeserializeOwned;

use super::inventory::{ClusterDocs, RouterInterface};
use crate::domain::cluster::ResourceKind;
use crate::dr::ids::{InstanceId, NetworkId, NodeId, RouterId, SubnetId, VolumeId};
use crate::dr::plan_sync::ResourceChange;

/// One resource written by a sync or a notification batch: its stored document before
/// (`None`: new) and after (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDelta {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// The stored document before the write (a live row only).
    pub before: Option<String>,
    /// The document written (`None`: marked deleted).
    pub after: Option<String>,
}

/// The changes, per role of the cluster in a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideChanges {
    /// For plans whose source is the cluster.
    pub source: Vec<ResourceChange>,
    /// For plans whose target is the cluster.
    pub target: Vec<ResourceChange>,
}

fn doc<T: DeserializeOwned>(json: Option<&String>) -> Option<T> {
    json.and_then(|j| serde_json::from_str(j).ok())
}

fn push(v: &mut Vec<ResourceChange>, c: ResourceChange) {
    if !v.contains(&c) {
        v.push(c);
    }
}

/// A router's interfaces as the sync stores them in its document.
pub fn interfaces(r: &neutron::Router) -> Vec<RouterInterface> {
    r.extra
        .get("interfaces")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Subnet id → network id, from the copy and the subnets deleted in this batch.
fn subnet_networks(now: &ClusterDocs, deltas: &[ResourceDelta]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = now
        .subnets
        .values()
        .map(|s| (s.id.clone(), s.network_id.clone()))
        .collect();
    for d in deltas.iter().filter(|d| d.kind == ResourceKind::Subnet) {
        if let Some(s) = doc::<neutron::Subnet>(d.before.as_ref()) {
            out.entry(s.id).or_insert(s.network_id);
        }
    }
    out
}

fn router_networks(r: &neutron::Router, subnets: &BTreeMap<String, String>) -> BTreeSet<String> {
    interfaces(r)
        .iter()
        .filter_map(|i| subnets.get(&i.subnet_id).cloned())
        .collect()
}

/// The instance a port serves (a Nova port: `compute:*` owner).
fn port_instance(p: &neutron::Port) -> Option<(String, String)> {
    (p.device_owner.starts_with("compute:") && !p.device_id.is_empty())
        .then(|| (p.device_id.clone(), p.network_id.clone()))
}

/// The instance a floating IP is on (through its port; the port's document is taken
/// from the copy, or from this batch when the port was deleted with it).
fn fip_instance(
    f: &neutron::FloatingIp,
    now: &ClusterDocs,
    gone_ports: &BTreeMap<String, neutron::Port>,
) -> Option<String> {
    let port = f.port_id.as_ref()?;
    now.ports
        .get(port)
        .or_else(|| gone_ports.get(port))
        .and_then(port_instance)
        .map(|(i, _)| i)
}

fn flavor_key(s: &nova::Server) -> (Option<String>, Option<String>, u32, u64, u64, u64) {
    let f = &s.flavor;
    (
        f.id.clone(),
        f.original_name.clone(),
        f.vcpus,
        f.ram,
        f.disk,
        f.ephemeral,
    )
}

fn node_of(s: &nova::Server) -> Option<&str> {
    s.hypervisor_hostname.as_deref().or(s.host.as_deref())
}

/// The plan sync changes of a batch of written resources.
pub fn changes(deltas: &[ResourceDelta], now: &ClusterDocs) -> SideChanges {
    use ResourceChange as C;
    use ResourceKind as K;
    let mut out = SideChanges::default();
    let subnets = subnet_networks(now, deltas);
    let gone_ports: BTreeMap<String, neutron::Port> = deltas
        .iter()
        .filter(|d| d.kind == K::Port && d.after.is_none())
        .filter_map(|d| doc::<neutron::Port>(d.before.as_ref()))
        .map(|p| (p.id.clone(), p))
        .collect();
    let deleted_instances: BTreeSet<&str> = deltas
        .iter()
        .filter(|d| d.kind == K::Instance && d.before.is_some() && d.after.is_none())
        .map(|d| d.id.as_str())
        .collect();
    // floating IPs an instance lost / gained in this batch (paired into "changed")
    let mut lost: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut gained: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (src, tgt) = (&mut out.source, &mut out.target);
    for d in deltas {
        let (b, a) = (d.before.as_ref(), d.after.as_ref());
        match d.kind {
            K::Project => {
                let (b, a) = (doc::<keystone::Project>(b), doc::<keystone::Project>(a));
                match (b, a) {
                    (None, Some(a)) => push(tgt, C::TargetProjectAdded { name: a.name }),
                    (Some(b), Some(a)) if b.name != a.name => push(
                        tgt,
                        C::TargetProjectRenamed {
                            from: b.name,
                            to: a.name,
                        },
                    ),
                    (Some(b), None) => push(tgt, C::TargetProjectRemoved { name: b.name }),
                    _ => {}
                }
            }
            K::AvailabilityZone => {
                if b.is_some() && a.is_none() {
                    push(tgt, C::TargetZoneRemoved { zone: d.id.clone() });
                }
            }
            K::Hypervisor => {
                let (b, a) = (doc::<nova::Hypervisor>(b), doc::<nova::Hypervisor>(a));
                match (b, a) {
                    (None, Some(a)) => push(
                        tgt,
                        C::TargetNodeAdded {
                            node: NodeId::new(a.hypervisor_hostname),
                        },
                    ),
                    (Some(b), None) => push(
                        tgt,
                        C::TargetNodeRemoved {
                            node: NodeId::new(b.hypervisor_hostname),
                        },
                    ),
                    (Some(b), Some(a)) => {
                        let node = NodeId::new(&a.hypervisor_hostname);
                        if (b.vcpus, b.memory_mb, b.local_gb) != (a.vcpus, a.memory_mb, a.local_gb)
                        {
                            push(tgt, C::TargetNodeResized { node });
                        } else if (b.vcpus_used, b.memory_mb_used, b.local_gb_used)
                            != (a.vcpus_used, a.memory_mb_used, a.local_gb_used)
                        {
                            push(tgt, C::TargetNodeUsageChanged { node });
                        }
                    }
                    (None, None) => {}
                }
            }
            K::Network => {
                let (b, a) = (doc::<neutron::Network>(b), doc::<neutron::Network>(a));
                let network = NetworkId::new(&d.id);
                match (b, a) {
                    (Some(b), Some(a)) if b.external && !a.external => {
                        push(tgt, C::TargetExternalFlagLost { network });
                    }
                    (Some(_), None) => push(tgt, C::TargetNetworkDeleted { network }),
                    _ => {}
                }
            }
            K::Subnet => {
                if b.is_some() && a.is_none() {
                    let subnet = SubnetId::new(&d.id);
                    push(
                        tgt,
                        C::TargetExternalSubnetRemoved {
                            subnet: subnet.clone(),
                        },
                    );
                    push(src, C::SourceSubnetRemoved { subnet });
                }
            }
            K::FloatingIp => {
                let (b, a) = (doc::<neutron::FloatingIp>(b), doc::<neutron::FloatingIp>(a));
                if let Some(f) = a.as_ref().or(b.as_ref()) {
                    push(
                        tgt,
                        C::TargetFloatingIp {
                            address: f.floating_ip_address.clone(),
                            in_use: a.is_some(),
                        },
                    );
                }
                let bi = b.as_ref().and_then(|f| fip_instance(f, now, &gone_ports));
                let ai = a.as_ref().and_then(|f| fip_instance(f, now, &gone_ports));
                if bi != ai {
                    if let (Some(i), Some(f)) = (bi, &b) {
                        lost.entry(i)
                            .or_default()
                            .push(f.floating_ip_address.clone());
                    }
                    if let (Some(i), Some(f)) = (ai, &a) {
                        gained
                            .entry(i)
                            .or_default()
                            .push(f.floating_ip_address.clone());
                    }
                }
            }
            K::Router => {
                let (b, a) = (doc::<neutron::Router>(b), doc::<neutron::Router>(a));
                let router = RouterId::new(&d.id);
                match (b, a) {
                    (None, Some(a)) => push(
                        src,
                        C::SourceRouterAdded {
                            router,
                            networks: router_networks(&a, &subnets)
                                .into_iter()
                                .map(NetworkId::new)
                                .collect(),
                        },
                    ),
                    (Some(_), None) => push(src, C::SourceRouterDeleted { router }),
                    (Some(b), Some(a)) => {
                        let (bn, an) =
                            (router_networks(&b, &subnets), router_networks(&a, &subnets));
                        for n in an.difference(&bn) {
                            push(
                                src,
                                C::SourceRouterInterfaceAdded {
                                    router: router.clone(),
                                    network: NetworkId::new(n),
                                },
                            );
                        }
                        for n in bn.difference(&an) {
                            push(
                                src,
                                C::SourceRouterInterfaceRemoved {
                                    router: router.clone(),
                                    network: NetworkId::new(n),
                                },
                            );
                        }
                    }
                    (None, None) => {}
                }
            }
            K::Port => {
                let b = doc::<neutron::Port>(b).as_ref().and_then(port_instance);
                let a = doc::<neutron::Port>(a).as_ref().and_then(port_instance);
                if b != a {
                    if let Some((i, n)) = b
                        && !deleted_instances.contains(i.as_str())
                        && !now.ports_of(&i).any(|p| p.network_id == n && p.id != d.id)
                    {
                        push(
                            src,
                            C::SourceInstanceNetworkRemoved {
                                instance: InstanceId::new(i),
                                network: NetworkId::new(n),
                            },
                        );
                    }
                    if let Some((i, n)) = a {
                        push(
                            src,
                            C::SourceInstanceNetworkAdded {
                                instance: InstanceId::new(i),
                                network: NetworkId::new(n),
                            },
                        );
                    }
                }
            }
            K::Instance => {
                let (b, a) = (doc::<nova::Server>(b), doc::<nova::Server>(a));
                instance_changes(&d.id, b.as_ref(), a.as_ref(), src, tgt);
            }
            K::Volume => {
                let (b, a) = (doc::<cinder::Volume>(b), doc::<cinder::Volume>(a));
                let servers = |v: &Option<cinder::Volume>| -> BTreeSet<String> {
                    v.iter()
                        .flat_map(|v| v.attachments.iter().filter_map(|x| x.server_id.clone()))
                        .collect()
                };
                let (bs, as_) = (servers(&b), servers(&a));
                for i in bs.difference(&as_) {
                    if !deleted_instances.contains(i.as_str()) {
                        push(
                            src,
                            C::SourceVolumeDetached {
                                instance: InstanceId::new(i),
                                volume: VolumeId::new(&d.id),
                            },
                        );
                    }
                }
                for i in as_.difference(&bs) {
                    push(
                        src,
                        C::SourceVolumeAttached {
                            instance: InstanceId::new(i),
                            volume: VolumeId::new(&d.id),
                        },
                    );
                }
            }
            K::VolumeType => {
                let (b, a) = (doc::<cinder::VolumeType>(b), doc::<cinder::VolumeType>(a));
                let backend =
                    |t: &cinder::VolumeType| t.extra_specs.get("volume_backend_name").cloned();
                match (b, a) {
                    (Some(b), Some(a)) if backend(&b) != backend(&a) => push(
                        tgt,
                        C::TargetVolumeTypeChanged {
                            volume_type: a.name,
                        },
                    ),
                    (Some(b), None) => push(
                        tgt,
                        C::TargetVolumeTypeRemoved {
                            volume_type: b.name,
                        },
                    ),
                    _ => {}
                }
            }
            K::VolumeSnapshot
            | K::VolumeGroup
            | K::SecurityGroup
            | K::SecurityGroupRule
            | K::Keypair
            | K::Flavor => {}
        }
    }
    for (i, addrs) in gained {
        let instance = InstanceId::new(&i);
        match lost.get(&i).map(Vec::as_slice) {
            Some([from]) if addrs.len() == 1 => push(
                src,
                C::SourceFloatingIpChanged {
                    instance,
                    from: from.clone(),
                    to: addrs[0].clone(),
                },
            ),
            _ => {
                for address in addrs {
                    push(
                        src,
                        C::SourceFloatingIpAdded {
                            instance: instance.clone(),
                            address,
                        },
                    );
                }
            }
        }
    }
    out
}

fn instance_changes(
    id: &str,
    b: Option<&nova::Server>,
    a: Option<&nova::Server>,
    src: &mut Vec<ResourceChange>,
    tgt: &mut Vec<ResourceChange>,
) {
    use ResourceChange as C;
    let instance = InstanceId::new(id);
    // target: an instance placed on or removed from a node changes its usage
    let (bn, an) = (b.and_then(node_of), a.and_then(node_of));
    if bn != an || b.is_none() != a.is_none() {
        for n in [bn, an].into_iter().flatten() {
            push(
                tgt,
                C::TargetNodeUsageChanged {
                    node: NodeId::new(n),
                },
            );
        }
    }
    match (b, a) {
        (Some(_), None) => push(src, C::SourceInstanceDeleted { instance }),
        (Some(b), Some(a)) => {
            let vols = |s: &nova::Server| -> BTreeSet<String> {
                s.volumes_attached.iter().map(|v| v.id.clone()).collect()
            };
            let (bv, av) = (vols(b), vols(a));
            for v in bv.difference(&av) {
                push(
                    src,
                    C::SourceVolumeDetached {
                        instance: instance.clone(),
                        volume: VolumeId::new(v),
                    },
                );
            }
            for v in av.difference(&bv) {
                push(
                    src,
                    C::SourceVolumeAttached {
                        instance: instance.clone(),
                        volume: VolumeId::new(v),
                    },
                );
            }
            if flavor_key(b) != flavor_key(a) {
                push(
                    src,
                    C::InstanceNeedsChanged {
                        instance: instance.clone(),
                    },
                );
                push(
                    tgt,
                    C::InstanceNeedsChanged {
                        instance: instance.clone(),
                    },
                );
            }
            if bn != an {
                push(src, C::SourceInstanceMigrated { instance });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
