//! What the executor needs beyond the [`Topology`] to rebuild it on the target: the
//! mapped flavor, availability zone and compute node of each instance, fixed IPs,
//! volume sizes and types, security-group rules, keypairs' public keys, subnet
//! settings and the target's external network (protection.md, "Resource mapping";
//! jobs.md, "What a recovery does on the target"). Kept beside the topology (keyed by
//! the same source ids) so that the graph's pure rules do not depend on it; the plan
//! fills it in from the synced target when a job is triggered, and it is frozen with
//! the job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{InstanceId, PortId, SecurityGroupId, SubnetId, VolumeId};
use super::topology::Topology;

/// Where and how one instance runs on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDetails {
    /// The mapped target flavor (its id).
    pub flavor: String,
    /// The mapped availability zone (`None`: the cloud's choice).
    pub availability_zone: Option<String>,
    /// The mapped compute node (`None`: any in the AZ).
    pub node: Option<String>,
}

/// One port's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortDetails {
    /// The fixed IP to keep (on the copied subnet), if any.
    pub fixed_ip: Option<String>,
}

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeDetails {
    /// Its name on the source.
    pub name: String,
    /// Size in GiB.
    pub size_gb: u64,
    /// The mapped target volume type (`None`: the target's default).
    pub volume_type: Option<String>,
}

/// One security-group rule to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDetails {
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// Protocol (`tcp`, `udp`, `icmp`, ...), `None` for any.
    pub protocol: Option<String>,
    /// First port.
    pub port_range_min: Option<u32>,
    /// Last port.
    pub port_range_max: Option<u32>,
    /// Remote prefix.
    pub remote_ip_prefix: Option<String>,
    /// Remote group (a source group of the plan, mapped to its copy).
    pub remote_group: Option<SecurityGroupId>,
}

/// A subnet's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetDetails {
    /// Gateway address (`None`: the first address).
    pub gateway_ip: Option<String>,
    /// DHCP on.
    pub enable_dhcp: bool,
}

/// Everything the executor needs beyond the topology.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetDetails {
    /// Per instance.
    pub instances: BTreeMap<InstanceId, InstanceDetails>,
    /// Per port (ports without an entry get any address).
    pub ports: BTreeMap<PortId, PortDetails>,
    /// Per volume.
    pub volumes: BTreeMap<VolumeId, VolumeDetails>,
    /// Per security group: its rules (groups without an entry get none).
    pub security_group_rules: BTreeMap<SecurityGroupId, Vec<RuleDetails>>,
    /// Per keypair name: its public key.
    pub keypairs: BTreeMap<String, String>,
    /// Per subnet (subnets without an entry: gateway first address, DHCP on).
    pub subnets: BTreeMap<SubnetId, SubnetDetails>,
    /// The target's external network (its id), for router gateways and floating IPs.
    pub external_network: Option<String>,
}

/// What the details lack for a topology.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetailsError {
    /// An instance without a mapped flavor.
    #[error("instance {0} has no mapped flavor: map it in the plan's resource mapping")]
    Instance(InstanceId),
    /// A volume without size.
    #[error("volume {0} has no size in the plan: sync the source cluster and save the plan")]
    Volume(VolumeId),
    /// A keypair without its public key.
    #[error("keypair {0:?} has no public key in the plan: sync the source cluster")]
    Keypair(String),
    /// A rule refers to a group not in the plan.
    #[error("a rule of security group {group} refers to group {remote}, which is not in the plan")]
    RemoteGroup {
        /// The group.
        group: SecurityGroupId,
        /// The unknown remote group.
        remote: SecurityGroupId,
    },
    /// Gateways or floating IPs without an external network on the target.
    #[error(
        "the plan needs the target's external network (router gateways or floating IPs) but none is mapped"
    )]
    NoExternalNetwork,
}

impl TargetDetails {
    /// Checks that every instance, volume and keypair of `topology` has its details,
    /// that rules refer only to groups of the plan, and that an external network is
    /// mapped when a router has a gateway or an instance a floating IP.
    pub fn check(&self, topology: &Topology) -> Result<(), DetailsError> {
        for i in &topology.instances {
            if !self.instances.contains_key(&i.id) {
                return Err(DetailsError::Instance(i.id.clone()));
            }
            if let Some(v) = i.volumes.iter().find(|v| !self.volumes.contains_key(&v.id)) {
                return Err(DetailsError::Volume(v.id.clone()));
            }
        }
        if let Some(k) = topology
            .keypairs
            .iter()
            .find(|k| !self.keypairs.contains_key(*k))
        {
            return Err(DetailsError::Keypair(k.clone()));
        }
        for (group, rules) in &self.security_group_rules {
            for r in rules {
                if let Some(remote) = &r.remote_group
                    && !topology.security_groups.iter().any(|g| &g.id == remote)
                {
                    return Err(DetailsError::RemoteGroup {
                        group: group.clone(),
                        remote: remote.clone(),
                    });
                }
            }
        }
        let needs_external = topology.routers.iter().any(|r| r.external_gateway)
            || topology.instances.iter().any(|i| {
                i.floating_ips
                    .iter()
                    .any(|f| f.policy != super::topology::FloatingIpPolicy::None)
            });
        if needs_external && self.external_network.is_none() {
            return Err(DetailsError::NoExternalNetwork);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::recovery_graph::fixture::shop;

    fn full() -> TargetDetails {
        let t = shop();
        let mut d = TargetDetails {
            external_network: Some("ext".into()),
            ..TargetDetails::default()
        };
        for i in &t.instances {
            d.instances.insert(
                i.id.clone(),
                InstanceDetails {
                    flavor: "m1".into(),
                    availability_zone: None,
                    node: None,
                },
            );
            for v in &i.volumes {
                d.volumes.insert(
                    v.id.clone(),
                    VolumeDetails {
                        name: v.id.to_string(),
                        size_gb: 1,
                        volume_type: None,
                    },
                );
            }
        }
        d.keypairs
            .insert("ops".into(), "ssh-ed25519 AAAA ops".into());
        d
    }

    #[test]
    fn complete_details_pass() {
        assert_eq!(full().check(&shop()), Ok(()));
    }

    #[test]
    fn each_missing_piece_is_named() {
        let t = shop();
        let mut d = full();
        d.instances.remove(&InstanceId::new("web1"));
        assert_eq!(
            d.check(&t),
            Err(DetailsError::Instance(InstanceId::new("web1")))
        );
        let mut d = full();
        d.volumes.remove(&VolumeId::new("db-data"));
        assert_eq!(
            d.check(&t),
            Err(DetailsError::Volume(VolumeId::new("db-data")))
        );
        let mut d = full();
        d.keypairs.clear();
        assert_eq!(d.check(&t), Err(DetailsError::Keypair("ops".into())));
        let mut d = full();
        d.external_network = None;
        assert_eq!(d.check(&t), Err(DetailsError::NoExternalNetwork));
        let mut d = full();
        d.security_group_rules.insert(
            SecurityGroupId::new("web-sg"),
            vec![RuleDetails {
                direction: "ingress".into(),
                ethertype: "IPv4".into(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                remote_ip_prefix: None,
                remote_group: Some(SecurityGroupId::new("nope")),
            }],
        );
        assert!(matches!(d.check(&t), Err(DetailsError::RemoteGroup { .. })));
    }

    #[test]
    fn details_round_trip_through_json() {
        let d = full();
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<TargetDetails>(&text).unwrap(), d);
        let t = shop();
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Topology>(&text).unwrap(), t);
    }
}
