//! The capacity check's facts from the synced documents
//! ([`crate::dr::capacity`]): what an instance's flavor takes from a target node, and
//! each target node's free capacity.

use std::collections::BTreeMap;

use holdfast_openstack::nova;

use super::inventory::ClusterDocs;
use crate::dr::capacity::{self, NodeFacts, Ratios, Resources};
use crate::dr::ids::NodeId;

/// What a recovered instance takes from its compute node: the flavor's vCPUs and RAM,
/// and as local disk its ephemeral disk and swap (the root disk is the replicated
/// boot volume). The flavor embedded in the server document is used; its swap (not
/// embedded) and, for older documents, the rest come from the synced flavor.
pub fn instance_needs(srv: &nova::Server, flavors: &BTreeMap<String, nova::Flavor>) -> Resources {
    let synced = srv.flavor.id.as_ref().and_then(|f| flavors.get(f));
    let swap_gb = synced.map_or(0, |f| f.swap.div_ceil(1024));
    if srv.flavor.vcpus > 0 {
        Resources {
            vcpus: u64::from(srv.flavor.vcpus),
            ram_mb: srv.flavor.ram,
            disk_gb: srv.flavor.ephemeral.saturating_add(swap_gb),
        }
    } else {
        synced.map_or_else(Resources::default, |f| Resources {
            vcpus: u64::from(f.vcpus),
            ram_mb: f.ram,
            disk_gb: f.ephemeral.saturating_add(swap_gb),
        })
    }
}

/// The target's compute nodes with their free capacity. The synced hypervisor
/// documents (Nova's `os-hypervisors`) carry no allocation ratios, so every node is
/// counted at 1.0 and says so ([`Ratios::Assumed`]).
pub fn target_nodes(target: &ClusterDocs) -> Vec<NodeFacts> {
    target
        .hypervisors
        .values()
        .map(|h| NodeFacts {
            id: NodeId::new(&h.hypervisor_hostname),
            zone: target.zone_of(h),
            allocatable: Resources {
                vcpus: capacity::allocatable(h.vcpus, None),
                ram_mb: capacity::allocatable(h.memory_mb, None),
                disk_gb: capacity::allocatable(h.local_gb, None),
            },
            used: Resources {
                vcpus: h.vcpus_used,
                ram_mb: h.memory_mb_used,
                disk_gb: h.local_gb_used,
            },
            ratios: Ratios::Assumed,
        })
        .collect()
}
