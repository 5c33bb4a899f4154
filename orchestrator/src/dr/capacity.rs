//! The capacity check of a plan (protection.md, "Capacity check"): the recovered
//! instances' flavors (vCPUs, RAM, local disk) against the free capacity of the
//! target compute nodes they are mapped to (a chosen node, or any node of the zone).
//!
//! Free capacity is `total × allocation ratio − used` per resource. Nova's hypervisor
//! API carries no allocation ratios (they live in Placement, which the sync does not
//! read), so a node's ratios are usually [`Ratios::Assumed`] (1.0) and every shortfall
//! says so: an overcommitted cloud may hold more than the check counts.
//!
//! Local disk: recovered instances boot from their replicated volumes, so a flavor's
//! root disk is not taken from the node; its ephemeral disk and swap are.

use std::collections::BTreeMap;
use std::fmt;

use super::ids::{InstanceId, NodeId};

/// Amounts of the three resources a compute node gives an instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// vCPUs.
    pub vcpus: u64,
    /// RAM, MiB.
    pub ram_mb: u64,
    /// Local disk, GiB.
    pub disk_gb: u64,
}

impl Resources {
    /// The sum (saturating).
    pub fn plus(self, o: Resources) -> Resources {
        Resources {
            vcpus: self.vcpus.saturating_add(o.vcpus),
            ram_mb: self.ram_mb.saturating_add(o.ram_mb),
            disk_gb: self.disk_gb.saturating_add(o.disk_gb),
        }
    }

    /// What is left of `self` when `o` is taken away (each resource floored at zero).
    pub fn minus(self, o: Resources) -> Resources {
        Resources {
            vcpus: self.vcpus.saturating_sub(o.vcpus),
            ram_mb: self.ram_mb.saturating_sub(o.ram_mb),
            disk_gb: self.disk_gb.saturating_sub(o.disk_gb),
        }
    }

    /// Whether `self` fits into `free`.
    pub fn fits_in(self, free: Resources) -> bool {
        self.vcpus <= free.vcpus && self.ram_mb <= free.ram_mb && self.disk_gb <= free.disk_gb
    }

    /// What is missing when `self` is needed and `free` is available (zero where it
    /// fits).
    pub fn shortfall(&self, free: &Resources) -> Resources {
        Resources {
            vcpus: self.vcpus.saturating_sub(free.vcpus),
            ram_mb: self.ram_mb.saturating_sub(free.ram_mb),
            disk_gb: self.disk_gb.saturating_sub(free.disk_gb),
        }
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPUs, {} MiB RAM, {} GiB local disk",
            self.vcpus, self.ram_mb, self.disk_gb
        )
    }
}

/// A shortfall: only the resources that are short, e.g. `2 vCPUs and 1024 MiB RAM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall(pub Resources);

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let parts: Vec<String> = [
            (r.vcpus, "vCPUs"),
            (r.ram_mb, "MiB RAM"),
            (r.disk_gb, "GiB local disk"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        f.write_str(&parts.join(" and "))
    }
}

/// Where a node's allocation ratios come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ratios {
    /// Known from the synced copy.
    Synced,
    /// Not synced: counted as 1.0 (no overcommit).
    Assumed,
}

impl fmt::Display for Ratios {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ratios::Synced => Ok(()),
            Ratios::Assumed => f.write_str(
                " (allocation ratios are not synced, so they are counted as 1.0: an overcommitted node may hold more)",
            ),
        }
    }
}

/// What a node can give out of one resource: `total × ratio`, rounded down. A
/// missing, non-finite or non-positive ratio counts as 1.0.
pub fn allocatable(total: u64, ratio: Option<f64>) -> u64 {
    let ratio = ratio.filter(|r| r.is_finite() && *r > 0.0).unwrap_or(1.0);
    // u64 → f64 loses precision only above 2^53, far beyond any node's capacity
    #[allow(clippy::cast_precision_loss)]
    let scaled = (total as f64 * ratio).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if scaled >= u64::MAX as f64 {
        u64::MAX
    } else {
        scaled as u64
    }
}

/// Free amount of one resource: `total × ratio − used`, rounded down, never below
/// zero. A missing, non-finite or non-positive ratio counts as 1.0.
pub fn free(total: u64, used: u64, ratio: Option<f64>) -> u64 {
    allocatable(total, ratio).saturating_sub(used)
}

/// Where a recovered instance is placed on the target (the compute-node mapping).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeMapping {
    /// A chosen compute node.
    Node(NodeId),
    /// Any node of the availability zone.
    AnyInZone(String),
}

/// One instance's needs and placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceNeeds {
    /// Its id.
    pub id: InstanceId,
    /// Its name, for messages.
    pub name: String,
    /// What its flavor takes from a node.
    pub needs: Resources,
    /// Where it goes.
    pub placement: NodeMapping,
}

/// A target compute node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// Its id (hypervisor host name).
    pub id: NodeId,
    /// Its availability zone.
    pub zone: String,
    /// What it can give out (`total × ratio`, see [`allocatable`]), from the last
    /// sync.
    pub allocatable: Resources,
    /// What its instances take, from the last sync.
    pub used: Resources,
    /// Whether `allocatable` used real allocation ratios.
    pub ratios: Ratios,
}

impl NodeFacts {
    /// Free capacity: `allocatable − used`, each resource floored at zero (an
    /// overcommitted node has none free, however far beyond it is).
    pub fn free(&self) -> Resources {
        self.allocatable.minus(self.used)
    }
}

/// A capacity problem (a `Warning` reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapacityIssue {
    /// A node cannot host what is mapped to it.
    #[error(
        "compute node {node} cannot host the instances mapped to it: short by {short}; they need {need}, it has {free} free{ratios}; map some instances to another node or free capacity on it",
        short = Shortfall(.need.shortfall(.free))
    )]
    Node {
        /// The node.
        node: NodeId,
        /// What the instances mapped to it need.
        need: Resources,
        /// What it has free.
        free: Resources,
        /// Where its ratios come from.
        ratios: Ratios,
    },
    /// A zone cannot host what is mapped to it.
    #[error(
        "availability zone {zone} cannot host the instances mapped to it: short by {short}; they need {need}, its nodes have {free} free{ratios}; add compute capacity or map instances to another zone",
        short = Shortfall(.need.shortfall(.free))
    )]
    Zone {
        /// The zone.
        zone: String,
        /// What the instances mapped to it need.
        need: Resources,
        /// What its nodes have free together.
        free: Resources,
        /// [`Ratios::Assumed`] when any node of the zone has no synced ratios.
        ratios: Ratios,
    },
    /// An instance fits no single node of its zone.
    #[error(
        "instance {name} ({need}) fits on no compute node of availability zone {zone}{ratios}; choose a larger zone or a smaller target flavor"
    )]
    FitsNoNode {
        /// The instance.
        name: String,
        /// Its zone.
        zone: String,
        /// What it needs.
        need: Resources,
        /// [`Ratios::Assumed`] when any node of the zone has no synced ratios.
        ratios: Ratios,
    },
    /// A mapped node is not on the target.
    #[error(
        "instance {name} is mapped to compute node {node}, which the target no longer has: choose another node"
    )]
    UnknownNode {
        /// The instance.
        name: String,
        /// The node.
        node: NodeId,
    },
}

fn zone_ratios<'a>(nodes: impl Iterator<Item = &'a NodeFacts>) -> Ratios {
    let mut out = Ratios::Synced;
    for n in nodes {
        if n.ratios == Ratios::Assumed {
            out = Ratios::Assumed;
        }
    }
    out
}

/// Every capacity problem of the placements: per chosen node (the instances mapped to
/// it together), per instance placed "any in the zone" (it must fit one node), and per
/// zone with such instances (everything placed in the zone together against the
/// zone's free total). Nodes are listed in id order, then zones.
pub fn check(instances: &[InstanceNeeds], nodes: &[NodeFacts]) -> Vec<CapacityIssue> {
    let mut out = Vec::new();
    let by_id: BTreeMap<&NodeId, &NodeFacts> = nodes.iter().map(|n| (&n.id, n)).collect();
    let mut on_node: BTreeMap<&NodeId, Resources> = BTreeMap::new();
    let mut in_zone: BTreeMap<&str, Resources> = BTreeMap::new();
    // zones with "any node" placements: only there can the zone total be short while
    // every chosen node fits
    let mut flexible: Vec<&str> = Vec::new();
    for i in instances {
        match &i.placement {
            NodeMapping::Node(n) => match by_id.get(n) {
                Some(node) => {
                    let l = on_node.entry(n).or_default();
                    *l = l.plus(i.needs);
                    let z = in_zone.entry(node.zone.as_str()).or_default();
                    *z = z.plus(i.needs);
                }
                None => out.push(CapacityIssue::UnknownNode {
                    name: i.name.clone(),
                    node: n.clone(),
                }),
            },
            NodeMapping::AnyInZone(z) => {
                flexible.push(z.as_str());
                let l = in_zone.entry(z.as_str()).or_default();
                *l = l.plus(i.needs);
                if !nodes
                    .iter()
                    .any(|n| &n.zone == z && i.needs.fits_in(n.free()))
                {
                    out.push(CapacityIssue::FitsNoNode {
                        name: i.name.clone(),
                        zone: z.clone(),
                        need: i.needs,
                        ratios: zone_ratios(nodes.iter().filter(|n| &n.zone == z)),
                    });
                }
            }
        }
    }
    for (id, need) in &on_node {
        if let Some(n) = by_id.get(id)
            && !need.fits_in(n.free())
        {
            out.push(CapacityIssue::Node {
                node: (*id).clone(),
                need: *need,
                free: n.free(),
                ratios: n.ratios,
            });
        }
    }
    for (zone, need) in in_zone.iter().filter(|(z, _)| flexible.contains(z)) {
        let free = nodes
            .iter()
            .filter(|n| n.zone == *zone)
            .fold(Resources::default(), |acc, n| acc.plus(n.free()));
        if !need.fits_in(free) {
            out.push(CapacityIssue::Zone {
                zone: (*zone).to_owned(),
                need: *need,
                free,
                ratios: zone_ratios(nodes.iter().filter(|n| n.zone == *zone)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
