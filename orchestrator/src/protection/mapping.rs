//! A plan's resource mapping and boot plan (protection.md, "Recovery plans": boot
//! plan, resource mapping), as the API accepts it and the database stores it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::dr::ids::NetworkId;
use crate::dr::topology::{Boot, FloatingIpPolicy, NetworkTarget};

/// What a source network becomes on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NetworkChoice {
    /// Create a copy of the source network.
    Create,
    /// Use this existing target network (its id).
    Existing(String),
}

impl NetworkChoice {
    /// The topology's form.
    pub fn target(&self) -> NetworkTarget {
        match self {
            NetworkChoice::Create => NetworkTarget::Create,
            NetworkChoice::Existing(id) => NetworkTarget::Existing(NetworkId::new(id)),
        }
    }
}

/// What a source floating IP becomes on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloatingIpChoice {
    /// Keep the same address (it must be free on the target).
    Keep,
    /// Allocate another address.
    Another,
    /// No floating IP.
    None,
}

impl FloatingIpChoice {
    /// The topology's policy for `address`.
    pub fn policy(self, address: &str) -> FloatingIpPolicy {
        match self {
            FloatingIpChoice::Keep => FloatingIpPolicy::KeepSame(address.to_owned()),
            FloatingIpChoice::Another => FloatingIpPolicy::PickAnother,
            FloatingIpChoice::None => FloatingIpPolicy::None,
        }
    }
}

/// One instance's placement and boot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceChoice {
    /// Target compute node (hypervisor host name); absent: any node in the zone.
    #[serde(default)]
    pub node: Option<String>,
    /// Target flavor id; absent: the target flavor with the source flavor's name.
    #[serde(default)]
    pub flavor: Option<String>,
    /// Boot group (0 starts first); absent: the instance is left stopped.
    #[serde(default)]
    pub start_order: Option<u32>,
}

impl InstanceChoice {
    /// The topology's boot.
    pub fn boot(&self) -> Boot {
        self.start_order.map_or(Boot::Stopped, Boot::Started)
    }
}

/// The mapping of a plan (source → target).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMapping {
    /// Name of the project to create on the target.
    pub project_name: String,
    /// Target availability zone.
    pub availability_zone: String,
    /// Source volume type name → target volume type name (same storage kind).
    #[serde(default)]
    pub volume_types: BTreeMap<String, String>,
    /// Source network id → a copy or an existing target network.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkChoice>,
    /// Instance id → placement and boot (every instance of the group).
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceChoice>,
    /// Source floating IP address → keep, another or none.
    #[serde(default)]
    pub floating_ips: BTreeMap<String, FloatingIpChoice>,
    /// Target external network id (router gateways, floating IPs); absent: the
    /// target's only external network.
    #[serde(default)]
    pub external_network: Option<String>,
    /// Drills may reach the external network (never with a production address).
    #[serde(default)]
    pub drill_external_access: bool,
    /// The volumes the plan replicates. Set by the server when the plan is saved (every
    /// volume attached to the group's instances then); input is ignored.
    #[serde(default)]
    pub volumes: BTreeSet<String>,
}
