//! What a recovery rebuilds: the frozen plan's topology with its mapping applied
//! (protection.md, "Resource mapping"; jobs.md, "What a recovery does on the target").

use serde::{Deserialize, Serialize};

use super::ids::{InstanceId, NetworkId, PortId, RouterId, SecurityGroupId, SubnetId, VolumeId};

/// A security group to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupSpec {
    /// The source group.
    pub id: SecurityGroupId,
    /// Its name.
    pub name: String,
    /// Other groups its rules refer to (remote groups): they must exist first.
    pub remote_groups: Vec<SecurityGroupId>,
}

/// How a source network is mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkTarget {
    /// Create a copy on the target.
    Create,
    /// Use this existing target network.
    Existing(NetworkId),
}

/// A protected source network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The source network.
    pub id: NetworkId,
    /// Its name.
    pub name: String,
    /// The mapping.
    pub target: NetworkTarget,
}

/// A subnet of a protected network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetSpec {
    /// The source subnet.
    pub id: SubnetId,
    /// Its network.
    pub network: NetworkId,
    /// Its CIDR.
    pub cidr: String,
}

/// A source router of the protected networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSpec {
    /// The source router.
    pub id: RouterId,
    /// Its name.
    pub name: String,
    /// Subnets it has interfaces on.
    pub interfaces: Vec<SubnetId>,
    /// Whether it has an external gateway (to the mapped external network).
    pub external_gateway: bool,
}

/// A port of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// The source port.
    pub id: PortId,
    /// Its subnet.
    pub subnet: SubnetId,
}

/// A volume of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// The source volume.
    pub id: VolumeId,
    /// Whether the instance boots from it.
    pub boot: bool,
}

/// The floating-IP mapping of one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloatingIpPolicy {
    /// Keep the same address if it is free on the target.
    KeepSame(String),
    /// Allocate another address.
    PickAnother,
    /// No floating IP.
    None,
}

/// A floating IP of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIpSpec {
    /// The port it points to.
    pub port: PortId,
    /// The mapping.
    pub policy: FloatingIpPolicy,
}

/// The boot plan of one instance (protection.md, "Boot plan").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Boot {
    /// Left stopped after recovery.
    Stopped,
    /// Started in this boot group (lower first).
    Started(u32),
}

/// A protected instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    /// The source instance.
    pub id: InstanceId,
    /// Its name.
    pub name: String,
    /// Its keypair.
    pub keypair: Option<String>,
    /// Its security groups.
    pub security_groups: Vec<SecurityGroupId>,
    /// Its ports.
    pub ports: Vec<PortSpec>,
    /// Its volumes.
    pub volumes: Vec<VolumeSpec>,
    /// Its floating IPs.
    pub floating_ips: Vec<FloatingIpSpec>,
    /// Its boot plan.
    pub boot: Boot,
}

/// Everything a recovery rebuilds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// The project to create on the target.
    pub project_name: String,
    /// Security groups to copy.
    pub security_groups: Vec<SecurityGroupSpec>,
    /// Keypairs to copy.
    pub keypairs: Vec<String>,
    /// Protected networks.
    pub networks: Vec<NetworkSpec>,
    /// Their subnets.
    pub subnets: Vec<SubnetSpec>,
    /// Their routers.
    pub routers: Vec<RouterSpec>,
    /// The instances.
    pub instances: Vec<InstanceSpec>,
    /// Whether a drill may connect to the production external network (default
    /// no: jobs.md, "A drill builds the same thing isolated from production").
    pub drill_external_access: bool,
}
