//! What a recovery of a plan rebuilds, built from the synced source and target
//! documents with the plan's mapping applied: the executor's [`JobSpec`] (topology +
//! target details) and the list of protected volumes. Pure: the caller loads the
//! documents.

use std::collections::{BTreeMap, BTreeSet};

use super::inventory::ClusterDocs;
use super::mapping::PlanMapping;
use crate::dr::ids::{
    InstanceId, NetworkId, PortId, RouterId, SecurityGroupId, SubnetId, VolumeId,
};
use crate::dr::target_details::{
    DetailsError, InstanceDetails, PortDetails, RuleDetails, SubnetDetails, TargetDetails,
    VolumeDetails,
};
use crate::dr::topology::{
    FloatingIpSpec, InstanceSpec, NetworkSpec, PortSpec, RouterSpec, SecurityGroupSpec, SubnetSpec,
    Topology, VolumeSpec,
};
use crate::recovery::JobSpec;

/// A volume the plan protects (replicates to the target).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProtectedVolume {
    /// Source volume id.
    #[schema(value_type = String)]
    pub id: VolumeId,
    /// Its name.
    pub name: String,
    /// Size (GiB).
    pub size_gb: u64,
    /// Source backend host, `host@backend#pool`.
    pub backend_host: String,
    /// Source volume type.
    pub volume_type: Option<String>,
}

/// Why a plan's recovery cannot be built from the synced copies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A group instance is gone from the source.
    #[error(
        "instance {0} is no longer on the source cluster (sync the cluster; remove it from the group if it was deleted)"
    )]
    InstanceGone(String),
    /// An instance without a mapping.
    #[error("instance {0} is not mapped: edit and save the plan")]
    InstanceUnmapped(String),
    /// A volume the copy does not have.
    #[error(
        "volume {volume} of instance {instance} is not in the synced source: sync the source cluster"
    )]
    VolumeGone {
        /// The instance.
        instance: String,
        /// The volume.
        volume: String,
    },
    /// A volume not replicated by the plan.
    #[error("volume {volume} of instance {instance} is not mapped: edit and save the plan")]
    VolumeUnmapped {
        /// The instance.
        instance: String,
        /// The volume.
        volume: String,
    },
    /// A volume type without a target type.
    #[error("volume type {0} has no target volume type in the plan")]
    VolumeTypeUnmapped(String),
    /// No target flavor.
    #[error(
        "instance {instance}: the target has no flavor named {flavor}; map a flavor in the plan"
    )]
    NoFlavor {
        /// The instance.
        instance: String,
        /// The source flavor name.
        flavor: String,
    },
    /// A network without a mapping.
    #[error(
        "network {0} is not mapped (a target network, or create a copy): edit and save the plan"
    )]
    NetworkUnmapped(String),
    /// A floating IP without a choice.
    #[error("floating IP {address} of instance {instance} is not mapped (keep, another or none)")]
    FloatingIpUnmapped {
        /// The instance.
        instance: String,
        /// The address.
        address: String,
    },
    /// A subnet the copy does not have.
    #[error("subnet {0} is not in the synced source: sync the source cluster")]
    SubnetGone(String),
    /// The target has several external networks and the plan names none.
    #[error("the target has {0} external networks: choose one in the plan (external_network)")]
    ExternalNetworkAmbiguous(usize),
    /// The details are incomplete.
    #[error("{0}")]
    Details(DetailsError),
}

/// The built recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// Topology and target details.
    pub spec: JobSpec,
    /// The protected volumes, in instance order.
    pub volumes: Vec<ProtectedVolume>,
}

fn flavor_name(source: &ClusterDocs, srv: &holdfast_openstack::nova::Server) -> Option<String> {
    srv.flavor.original_name.clone().or_else(|| {
        srv.flavor
            .id
            .as_ref()
            .and_then(|id| source.flavors.get(id))
            .map(|f| f.name.clone())
    })
}

/// The target external network the plan uses: the mapped one, else the only one.
pub fn external_network(
    target: &ClusterDocs,
    m: &PlanMapping,
) -> Result<Option<String>, BuildError> {
    if let Some(n) = &m.external_network {
        return Ok(Some(n.clone()));
    }
    let external: Vec<&String> = target
        .networks
        .values()
        .filter(|n| n.external)
        .map(|n| &n.id)
        .collect();
    match external.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(BuildError::ExternalNetworkAmbiguous(many.len())),
    }
}

/// Builds the recovery of `instances` (the group, in order) from the synced copies.
/// Every problem is returned.
pub fn build(
    source: &ClusterDocs,
    target: &ClusterDocs,
    instances: &[String],
    m: &PlanMapping,
) -> Result<Built, Vec<BuildError>> {
    let mut errors = Vec::new();
    let mut details = TargetDetails::default();
    match external_network(target, m) {
        Ok(n) => details.external_network = n,
        Err(e) => errors.push(e),
    }
    let target_flavors: BTreeMap<&str, &str> = target
        .flavors
        .values()
        .map(|f| (f.name.as_str(), f.id.as_str()))
        .collect();
    let mut specs = Vec::new();
    let mut used_subnets = BTreeSet::new();
    let mut used_groups = BTreeSet::new();
    let mut keypairs = BTreeSet::new();
    let mut volumes = Vec::new();
    for id in instances {
        let Some(srv) = source.instances.get(id) else {
            errors.push(BuildError::InstanceGone(id.clone()));
            continue;
        };
        let Some(choice) = m.instances.get(id) else {
            errors.push(BuildError::InstanceUnmapped(srv.name.clone()));
            continue;
        };
        let mut ports = Vec::new();
        let mut fips = Vec::new();
        let mut groups = BTreeSet::new();
        for p in source.ports_of(id) {
            let Some(f) = p.fixed_ips.first() else {
                continue;
            };
            used_subnets.insert(f.subnet_id.clone());
            groups.extend(p.security_groups.iter().cloned());
            details.ports.insert(
                PortId::new(&p.id),
                PortDetails {
                    fixed_ip: f.ip_address.clone(),
                },
            );
            for fip in source
                .floating_ips
                .values()
                .filter(|x| x.port_id.as_deref() == Some(p.id.as_str()))
            {
                match m.floating_ips.get(&fip.floating_ip_address) {
                    Some(c) => fips.push(FloatingIpSpec {
                        port: PortId::new(&p.id),
                        policy: c.policy(&fip.floating_ip_address),
                    }),
                    None => errors.push(BuildError::FloatingIpUnmapped {
                        instance: srv.name.clone(),
                        address: fip.floating_ip_address.clone(),
                    }),
                }
            }
            ports.push(PortSpec {
                id: PortId::new(&p.id),
                subnet: SubnetId::new(&f.subnet_id),
            });
        }
        used_groups.extend(groups.iter().cloned());
        let mut vols = Vec::new();
        for a in &srv.volumes_attached {
            let Some(v) = source.volumes.get(&a.id) else {
                errors.push(BuildError::VolumeGone {
                    instance: srv.name.clone(),
                    volume: a.id.clone(),
                });
                continue;
            };
            let name = source.volume_name(&v.id);
            if !m.volumes.contains(&v.id) {
                errors.push(BuildError::VolumeUnmapped {
                    instance: srv.name.clone(),
                    volume: name.clone(),
                });
            }
            let target_type = match &v.volume_type {
                Some(t) => match m.volume_types.get(t) {
                    Some(tt) => Some(tt.clone()),
                    None => {
                        errors.push(BuildError::VolumeTypeUnmapped(t.clone()));
                        None
                    }
                },
                None => None,
            };
            details.volumes.insert(
                VolumeId::new(&v.id),
                VolumeDetails {
                    name: name.clone(),
                    size_gb: v.size,
                    volume_type: target_type,
                },
            );
            volumes.push(ProtectedVolume {
                id: VolumeId::new(&v.id),
                name,
                size_gb: v.size,
                backend_host: v.host.clone().unwrap_or_default(),
                volume_type: v.volume_type.clone(),
            });
            vols.push(VolumeSpec {
                id: VolumeId::new(&v.id),
                boot: v.bootable,
            });
        }
        let flavor = match choice.flavor.clone() {
            Some(f) => Some(f),
            None => {
                let name = flavor_name(source, srv).unwrap_or_default();
                let found = target_flavors.get(name.as_str()).map(|s| (*s).to_owned());
                if found.is_none() {
                    errors.push(BuildError::NoFlavor {
                        instance: srv.name.clone(),
                        flavor: name,
                    });
                }
                found
            }
        };
        details.instances.insert(
            InstanceId::new(id),
            InstanceDetails {
                flavor: flavor.unwrap_or_default(),
                availability_zone: Some(m.availability_zone.clone()),
                node: choice.node.clone(),
            },
        );
        if let Some(k) = &srv.key_name {
            keypairs.insert(k.clone());
        }
        specs.push(InstanceSpec {
            id: InstanceId::new(id),
            name: srv.name.clone(),
            keypair: srv.key_name.clone(),
            security_groups: groups.into_iter().map(SecurityGroupId::new).collect(),
            ports,
            volumes: vols,
            floating_ips: fips,
            boot: choice.boot(),
        });
    }
    let mut subnets = Vec::new();
    let mut networks = BTreeMap::new();
    for sid in &used_subnets {
        let Some(sub) = source.subnets.get(sid) else {
            errors.push(BuildError::SubnetGone(sid.clone()));
            continue;
        };
        details.subnets.insert(
            SubnetId::new(sid),
            SubnetDetails {
                gateway_ip: sub.gateway_ip.clone(),
                enable_dhcp: sub.enable_dhcp,
            },
        );
        let name = source
            .networks
            .get(&sub.network_id)
            .map_or_else(|| sub.network_id.clone(), |n| n.name.clone());
        match m.networks.get(&sub.network_id) {
            Some(c) => {
                networks.insert(
                    sub.network_id.clone(),
                    NetworkSpec {
                        id: NetworkId::new(&sub.network_id),
                        name,
                        target: c.target(),
                    },
                );
            }
            None => {
                if !networks.contains_key(&sub.network_id) {
                    errors.push(BuildError::NetworkUnmapped(name));
                }
            }
        }
        subnets.push(SubnetSpec {
            id: SubnetId::new(sid),
            network: NetworkId::new(&sub.network_id),
            cidr: sub.cidr.clone(),
        });
    }
    errors.dedup();
    let routers = source
        .routers
        .values()
        .filter_map(|(r, ifaces)| {
            let interfaces: Vec<SubnetId> = ifaces
                .iter()
                .filter(|i| used_subnets.contains(&i.subnet_id))
                .map(|i| SubnetId::new(&i.subnet_id))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            (!interfaces.is_empty()).then(|| RouterSpec {
                id: RouterId::new(&r.id),
                name: r.name.clone(),
                interfaces,
                external_gateway: r.external_gateway_info.is_some(),
            })
        })
        .collect();
    let mut security_groups = Vec::new();
    for gid in &used_groups {
        let Some(g) = source.security_groups.get(gid) else {
            continue;
        };
        let rules: Vec<RuleDetails> = g
            .security_group_rules
            .iter()
            .map(|r| RuleDetails {
                direction: r.direction.clone(),
                ethertype: r.ethertype.clone(),
                protocol: r.protocol.clone(),
                port_range_min: r.port_range_min,
                port_range_max: r.port_range_max,
                remote_ip_prefix: r.remote_ip_prefix.clone(),
                remote_group: r.remote_group_id.clone().map(SecurityGroupId::new),
            })
            .collect();
        let remote_groups = rules
            .iter()
            .filter_map(|r| r.remote_group.clone())
            .filter(|r| r.as_str() != gid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        details
            .security_group_rules
            .insert(SecurityGroupId::new(gid), rules);
        security_groups.push(SecurityGroupSpec {
            id: SecurityGroupId::new(gid),
            name: g.name.clone(),
            remote_groups,
        });
    }
    for k in &keypairs {
        if let Some(kp) = source.keypairs.get(k) {
            details.keypairs.insert(k.clone(), kp.public_key.clone());
        }
    }
    let topology = Topology {
        project_name: m.project_name.clone(),
        security_groups,
        keypairs: keypairs.into_iter().collect(),
        networks: networks.into_values().collect(),
        subnets,
        routers,
        instances: specs,
        drill_external_access: m.drill_external_access,
    };
    if errors.is_empty()
        && let Err(e) = details.check(&topology)
    {
        errors.push(BuildError::Details(e));
    }
    if errors.is_empty() {
        Ok(Built {
            spec: JobSpec { topology, details },
            volumes,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
