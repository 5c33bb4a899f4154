//! Mapping validity and the plan sync reactions (protection.md, "Resource mapping",
//! "Plan sync reactions"): each change of a synced resource either updates the plan's
//! mapping automatically (where that is safe), asks for a capacity re-check, sets a
//! `Warning` reason, or does not concern the plan.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{InstanceId, NetworkId, NodeId, RouterId, SubnetId, VolumeId};

/// A problem with the plan's mapping against the synced target (a `Warning` reason).
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MappingIssue {
    /// The project the plan creates on the target already exists there.
    #[error("the target already has a project named {name}: change the plan's target project name")]
    ProjectNameTaken {
        /// The name.
        name: String,
    },
    /// A mapped availability zone is gone.
    #[error(
        "availability zone {zone} no longer exists on the target: choose another zone in the plan"
    )]
    ZoneGone {
        /// The zone.
        zone: String,
    },
    /// A mapped compute node is gone.
    #[error("compute node {node} was removed from the target: map its instances to another node")]
    NodeGone {
        /// The node.
        node: NodeId,
    },
    /// A mapped external network lost its external flag.
    #[error(
        "target network {network} is no longer external: choose another external network in the plan"
    )]
    NotExternal {
        /// The network.
        network: NetworkId,
    },
    /// A mapped target network is gone.
    #[error("target network {network} was deleted: choose another network in the plan")]
    NetworkGone {
        /// The network.
        network: NetworkId,
    },
    /// A subnet of a mapped external network is gone.
    #[error(
        "subnet {subnet} of a mapped external network was removed on the target: check the floating-IP mapping"
    )]
    ExternalSubnetGone {
        /// The subnet.
        subnet: SubnetId,
    },
    /// An address the plan keeps is in use on the target.
    #[error(
        "floating IP {address} is now in use on the target: the plan cannot keep this address; pick another or none"
    )]
    FloatingIpTaken {
        /// The address.
        address: String,
    },
    /// A mapped volume type changed its backend.
    #[error(
        "target volume type {volume_type} changed its storage backend: check that it is still of the source's storage kind"
    )]
    VolumeTypeChanged {
        /// The type.
        volume_type: String,
    },
    /// A mapped volume type is gone.
    #[error("target volume type {volume_type} was removed: choose another volume type in the plan")]
    VolumeTypeGone {
        /// The type.
        volume_type: String,
    },
    /// A source instance joined a network the plan does not map.
    #[error(
        "instance {instance} was connected to network {network}, which the plan does not map: edit and save the plan"
    )]
    NetworkUnmapped {
        /// The instance.
        instance: InstanceId,
        /// The source network.
        network: NetworkId,
    },
    /// A source instance got a floating IP the plan does not map.
    #[error(
        "instance {instance} got floating IP {address}: choose keep, pick another or none in the plan"
    )]
    FloatingIpUnmapped {
        /// The instance.
        instance: InstanceId,
        /// The address.
        address: String,
    },
    /// A source instance got a volume the plan does not map.
    #[error(
        "volume {volume} was attached to instance {instance}: map it in the plan so that it is replicated"
    )]
    VolumeUnmapped {
        /// The instance.
        instance: InstanceId,
        /// The volume.
        volume: VolumeId,
    },
}

/// What the plan maps, as sync reactions and validation need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanView {
    /// The project name the plan creates on the target.
    pub project_name: String,
    /// Target availability zones used.
    pub zones: BTreeSet<String>,
    /// Target compute nodes used.
    pub nodes: BTreeSet<NodeId>,
    /// Target external networks used (router gateways, floating IPs).
    pub external_networks: BTreeSet<NetworkId>,
    /// Existing target networks used by "use this network" mappings.
    pub target_networks: BTreeSet<NetworkId>,
    /// Subnets of the mapped external networks.
    pub external_subnets: BTreeSet<SubnetId>,
    /// Floating IPs the plan keeps (same address on the target), per instance.
    pub kept_addresses: BTreeMap<String, InstanceId>,
    /// Target volume types used.
    pub volume_types: BTreeSet<String>,
    /// Protected source networks.
    pub networks: BTreeSet<NetworkId>,
    /// Protected source subnets.
    pub subnets: BTreeSet<SubnetId>,
    /// Source routers in the plan.
    pub routers: BTreeSet<RouterId>,
    /// The group's instances.
    pub instances: BTreeSet<InstanceId>,
}

/// The synced target as validation needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInventory {
    /// Project names.
    pub projects: BTreeSet<String>,
    /// Availability zones.
    pub zones: BTreeSet<String>,
    /// Compute nodes.
    pub nodes: BTreeSet<NodeId>,
    /// Networks, with their external flag.
    pub networks: BTreeMap<NetworkId, bool>,
    /// Floating IPs in use.
    pub used_addresses: BTreeSet<String>,
    /// Volume types.
    pub volume_types: BTreeSet<String>,
}

/// Validates the mapping against the synced target (protection.md, "Resource
/// mapping ... validated against the synced target"). Every problem is returned.
pub fn validate_mapping(plan: &PlanView, target: &TargetInventory) -> Vec<MappingIssue> {
    let mut out = Vec::new();
    if target.projects.contains(&plan.project_name) {
        out.push(MappingIssue::ProjectNameTaken {
            name: plan.project_name.clone(),
        });
    }
    for z in plan.zones.difference(&target.zones) {
        out.push(MappingIssue::ZoneGone { zone: z.clone() });
    }
    for n in plan.nodes.difference(&target.nodes) {
        out.push(MappingIssue::NodeGone { node: n.clone() });
    }
    for n in &plan.external_networks {
        match target.networks.get(n) {
            None => out.push(MappingIssue::NetworkGone { network: n.clone() }),
            Some(false) => out.push(MappingIssue::NotExternal { network: n.clone() }),
            Some(true) => {}
        }
    }
    for n in &plan.target_networks {
        if !target.networks.contains_key(n) {
            out.push(MappingIssue::NetworkGone { network: n.clone() });
        }
    }
    for a in plan.kept_addresses.keys() {
        if target.used_addresses.contains(a) {
            out.push(MappingIssue::FloatingIpTaken { address: a.clone() });
        }
    }
    for t in plan.volume_types.difference(&target.volume_types) {
        out.push(MappingIssue::VolumeTypeGone {
            volume_type: t.clone(),
        });
    }
    out
}

/// A change seen by cluster sync or an OpenStack notification (the list of
/// protection.md, "Plan sync reactions").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceChange {
    /// Target project added.
    TargetProjectAdded {
        /// Its name.
        name: String,
    },
    /// Target project renamed.
    TargetProjectRenamed {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Target project removed.
    TargetProjectRemoved {
        /// Its name.
        name: String,
    },
    /// Target availability zone removed.
    TargetZoneRemoved {
        /// The zone.
        zone: String,
    },
    /// Target hypervisor added to a zone.
    TargetNodeAdded {
        /// The node.
        node: NodeId,
    },
    /// Target hypervisor resources grew or shrank.
    TargetNodeResized {
        /// The node.
        node: NodeId,
    },
    /// Target hypervisor removed.
    TargetNodeRemoved {
        /// The node.
        node: NodeId,
    },
    /// Target external network lost its external flag.
    TargetExternalFlagLost {
        /// The network.
        network: NetworkId,
    },
    /// Target network deleted.
    TargetNetworkDeleted {
        /// The network.
        network: NetworkId,
    },
    /// Target external-network subnet removed.
    TargetExternalSubnetRemoved {
        /// The subnet.
        subnet: SubnetId,
    },
    /// Source subnet removed.
    SourceSubnetRemoved {
        /// The subnet.
        subnet: SubnetId,
    },
    /// Target floating IP added, changed (now in use) or deleted.
    TargetFloatingIp {
        /// The address.
        address: String,
        /// Whether the address is in use on the target afterwards.
        in_use: bool,
    },
    /// Source router added, connected to these networks.
    SourceRouterAdded {
        /// The router.
        router: RouterId,
        /// Networks it has interfaces on.
        networks: Vec<NetworkId>,
    },
    /// Interface added on a source router.
    SourceRouterInterfaceAdded {
        /// The router.
        router: RouterId,
        /// The network.
        network: NetworkId,
    },
    /// Interface removed from a source router.
    SourceRouterInterfaceRemoved {
        /// The router.
        router: RouterId,
        /// The network.
        network: NetworkId,
    },
    /// Source router deleted.
    SourceRouterDeleted {
        /// The router.
        router: RouterId,
    },
    /// An instance (any project) was placed on or removed from a target node.
    TargetNodeUsageChanged {
        /// The node.
        node: NodeId,
    },
    /// A protected instance's resource needs (flavor) grew or shrank, or a target
    /// instance's did.
    InstanceNeedsChanged {
        /// The instance.
        instance: InstanceId,
    },
    /// A network was added to a source instance.
    SourceInstanceNetworkAdded {
        /// The instance.
        instance: InstanceId,
        /// The network.
        network: NetworkId,
    },
    /// A network was removed from a source instance.
    SourceInstanceNetworkRemoved {
        /// The instance.
        instance: InstanceId,
        /// The network.
        network: NetworkId,
    },
    /// A floating IP was added to a source instance.
    SourceFloatingIpAdded {
        /// The instance.
        instance: InstanceId,
        /// The address.
        address: String,
    },
    /// A source instance's floating IP changed.
    SourceFloatingIpChanged {
        /// The instance.
        instance: InstanceId,
        /// Old address.
        from: String,
        /// New address.
        to: String,
    },
    /// A volume was attached to a source instance.
    SourceVolumeAttached {
        /// The instance.
        instance: InstanceId,
        /// The volume.
        volume: VolumeId,
    },
    /// A volume was detached from a source instance.
    SourceVolumeDetached {
        /// The instance.
        instance: InstanceId,
        /// The volume.
        volume: VolumeId,
    },
    /// A source instance migrated to another hypervisor.
    SourceInstanceMigrated {
        /// The instance.
        instance: InstanceId,
    },
    /// A source instance was deleted.
    SourceInstanceDeleted {
        /// The instance.
        instance: InstanceId,
    },
    /// A target volume type changed.
    TargetVolumeTypeChanged {
        /// The type.
        volume_type: String,
    },
    /// A target volume type was removed.
    TargetVolumeTypeRemoved {
        /// The type.
        volume_type: String,
    },
}

/// An automatic mapping update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingUpdate {
    /// Copy a new source router (it connects protected networks).
    AddRouter(RouterId),
    /// Add an interface to a router in the plan.
    AddRouterInterface(RouterId, NetworkId),
    /// Remove an interface from a router in the plan.
    RemoveRouterInterface(RouterId, NetworkId),
    /// Drop a deleted source router.
    RemoveRouter(RouterId),
    /// Drop a deleted source subnet.
    RemoveSubnet(SubnetId),
    /// Drop the port of an instance on a network it left.
    RemovePort(InstanceId, NetworkId),
    /// Connect an instance to a network the plan already maps.
    AddPort(InstanceId, NetworkId),
    /// Drop a detached volume (replication of it stops).
    RemoveVolume(InstanceId, VolumeId),
    /// Keep the instance's new address instead of the old one.
    ReplaceKeptAddress {
        /// The instance.
        instance: InstanceId,
        /// Old address.
        from: String,
        /// New address.
        to: String,
    },
    /// Drop a deleted source instance from group and plan.
    RemoveInstance(InstanceId),
    /// The group's last instance was deleted: the plan is deleted (protection.md,
    /// "If every instance of a group is removed, its plan is deleted automatically").
    DeletePlan,
}

/// The reaction to one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// The change does not concern this plan.
    Nothing,
    /// Re-run the capacity check (plan-state evaluation does it).
    RecheckCapacity,
    /// Update the mapping automatically.
    Update(MappingUpdate),
    /// Set `Warning` with this reason until a user edits the plan.
    Warn(MappingIssue),
}

/// The plan sync reaction to one change (protection.md, "Plan sync reactions").
/// Automatic only where the plan's meaning cannot change: removals of source
/// resources, routers and interfaces that follow the protected networks, ports on
/// already-mapped networks, a kept address that moved on the source. Everything that
/// needs an operator's choice (a new network, volume or floating IP; a mapped target
/// resource gone or changed) is a warning.
pub fn react(change: &ResourceChange, plan: &PlanView) -> Reaction {
    use MappingIssue as I;
    use ResourceChange as C;
    let warn_if = |cond: bool, issue: MappingIssue| {
        if cond {
            Reaction::Warn(issue)
        } else {
            Reaction::Nothing
        }
    };
    match change {
        C::TargetProjectAdded { name } => warn_if(
            *name == plan.project_name,
            I::ProjectNameTaken { name: name.clone() },
        ),
        C::TargetProjectRenamed { to, .. } => warn_if(
            *to == plan.project_name,
            I::ProjectNameTaken { name: to.clone() },
        ),
        C::TargetProjectRemoved { .. } => Reaction::Nothing,
        C::TargetZoneRemoved { zone } => warn_if(
            plan.zones.contains(zone),
            I::ZoneGone { zone: zone.clone() },
        ),
        C::TargetNodeAdded { .. }
        | C::TargetNodeResized { .. }
        | C::TargetNodeUsageChanged { .. } => Reaction::RecheckCapacity,
        C::TargetNodeRemoved { node } => {
            if plan.nodes.contains(node) {
                Reaction::Warn(I::NodeGone { node: node.clone() })
            } else {
                Reaction::RecheckCapacity
            }
        }
        C::TargetExternalFlagLost { network } => warn_if(
            plan.external_networks.contains(network),
            I::NotExternal {
                network: network.clone(),
            },
        ),
        C::TargetNetworkDeleted { network } => warn_if(
            plan.external_networks.contains(network) || plan.target_networks.contains(network),
            I::NetworkGone {
                network: network.clone(),
            },
        ),
        C::TargetExternalSubnetRemoved { subnet } => warn_if(
            plan.external_subnets.contains(subnet),
            I::ExternalSubnetGone {
                subnet: subnet.clone(),
            },
        ),
        C::SourceSubnetRemoved { subnet } => {
            if plan.subnets.contains(subnet) {
                Reaction::Update(MappingUpdate::RemoveSubnet(subnet.clone()))
            } else {
                Reaction::Nothing
            }
        }
        C::TargetFloatingIp { address, in_use } => warn_if(
            *in_use && plan.kept_addresses.contains_key(address),
            I::FloatingIpTaken {
                address: address.clone(),
            },
        ),
        C::SourceRouterAdded { router, networks } => {
            if networks.iter().any(|n| plan.networks.contains(n)) {
                Reaction::Update(MappingUpdate::AddRouter(router.clone()))
            } else {
                Reaction::Nothing
            }
        }
        C::SourceRouterInterfaceAdded { router, network } => {
            if plan.networks.contains(network) {
                if plan.routers.contains(router) {
                    Reaction::Update(MappingUpdate::AddRouterInterface(
                        router.clone(),
                        network.clone(),
                    ))
                } else {
                    Reaction::Update(MappingUpdate::AddRouter(router.clone()))
                }
            } else {
                Reaction::Nothing
            }
        }
        C::SourceRouterInterfaceRemoved { router, network } => {
            if plan.routers.contains(router) {
                Reaction::Update(MappingUpdate::RemoveRouterInterface(
                    router.clone(),
                    network.clone(),
                ))
            } else {
                Reaction::Nothing
            }
        }
        C::SourceRouterDeleted { router } => {
            if plan.routers.contains(router) {
                Reaction::Update(MappingUpdate::RemoveRouter(router.clone()))
            } else {
                Reaction::Nothing
            }
        }
        C::InstanceNeedsChanged { .. } => Reaction::RecheckCapacity,
        C::SourceInstanceNetworkAdded { instance, network } => {
            if !plan.instances.contains(instance) {
                Reaction::Nothing
            } else if plan.networks.contains(network) {
                Reaction::Update(MappingUpdate::AddPort(instance.clone(), network.clone()))
            } else {
                Reaction::Warn(I::NetworkUnmapped {
                    instance: instance.clone(),
                    network: network.clone(),
                })
            }
        }
        C::SourceInstanceNetworkRemoved { instance, network } => {
            if plan.instances.contains(instance) {
                Reaction::Update(MappingUpdate::RemovePort(instance.clone(), network.clone()))
            } else {
                Reaction::Nothing
            }
        }
        C::SourceFloatingIpAdded { instance, address } => warn_if(
            plan.instances.contains(instance),
            I::FloatingIpUnmapped {
                instance: instance.clone(),
                address: address.clone(),
            },
        ),
        C::SourceFloatingIpChanged { instance, from, to } => {
            if !plan.instances.contains(instance) {
                Reaction::Nothing
            } else if plan.kept_addresses.get(from) == Some(instance) {
                Reaction::Update(MappingUpdate::ReplaceKeptAddress {
                    instance: instance.clone(),
                    from: from.clone(),
                    to: to.clone(),
                })
            } else {
                Reaction::Nothing
            }
        }
        C::SourceVolumeAttached { instance, volume } => warn_if(
            plan.instances.contains(instance),
            I::VolumeUnmapped {
                instance: instance.clone(),
                volume: volume.clone(),
            },
        ),
        C::SourceVolumeDetached { instance, volume } => {
            if plan.instances.contains(instance) {
                Reaction::Update(MappingUpdate::RemoveVolume(
                    instance.clone(),
                    volume.clone(),
                ))
            } else {
                Reaction::Nothing
            }
        }
        // the target placement does not depend on the source hypervisor
        C::SourceInstanceMigrated { .. } => Reaction::Nothing,
        C::SourceInstanceDeleted { instance } => {
            if !plan.instances.contains(instance) {
                Reaction::Nothing
            } else if plan.instances.len() == 1 {
                Reaction::Update(MappingUpdate::DeletePlan)
            } else {
                Reaction::Update(MappingUpdate::RemoveInstance(instance.clone()))
            }
        }
        C::TargetVolumeTypeChanged { volume_type } => warn_if(
            plan.volume_types.contains(volume_type),
            I::VolumeTypeChanged {
                volume_type: volume_type.clone(),
            },
        ),
        C::TargetVolumeTypeRemoved { volume_type } => warn_if(
            plan.volume_types.contains(volume_type),
            I::VolumeTypeGone {
                volume_type: volume_type.clone(),
            },
        ),
    }
}

#[cfg(test)]
mod tests;
