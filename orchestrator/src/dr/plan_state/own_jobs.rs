//! What the plan's own jobs hold on the target (their ledgers: a completed drill not
//! rolled back yet, a DR not confirmed yet, a job still running). The plan's state does
//! not count it against the plan: it is the plan's own recovery, and the job's
//! rollback (or confirm) frees it. A different plan's job is not in here: what it
//! holds counts like anything else on the target.

use std::collections::{BTreeMap, BTreeSet};

use crate::dr::capacity::{NodeFacts, Resources};
use crate::dr::ids::NodeId;
use crate::dr::plan_sync::MappingIssue;

/// The target resources the plan's own jobs created and still hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnJobsHold {
    /// Per compute node: what the jobs' instances placed there take from it.
    pub on_nodes: BTreeMap<NodeId, Resources>,
    /// Names of the projects the jobs created.
    pub projects: BTreeSet<String>,
    /// Floating IP addresses the jobs hold.
    pub addresses: BTreeSet<String>,
}

impl OwnJobsHold {
    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.on_nodes.is_empty() && self.projects.is_empty() && self.addresses.is_empty()
    }

    /// The nodes as the plan sees them: what its own jobs' instances take is not
    /// counted as used (never below zero).
    pub fn discount(&self, nodes: &[NodeFacts]) -> Vec<NodeFacts> {
        nodes
            .iter()
            .map(|n| match self.on_nodes.get(&n.id) {
                Some(held) => NodeFacts {
                    used: n.used.minus(*held),
                    ..n.clone()
                },
                None => n.clone(),
            })
            .collect()
    }

    /// Whether the issue is the plan's own job on the target (its project taking the
    /// plan's project name, its floating IP taking an address the plan keeps), not a
    /// problem of the mapping.
    pub fn explains(&self, issue: &MappingIssue) -> bool {
        match issue {
            MappingIssue::ProjectNameTaken { name } => self.projects.contains(name),
            MappingIssue::FloatingIpTaken { address } => self.addresses.contains(address),
            _ => false,
        }
    }
}
