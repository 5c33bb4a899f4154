//! The boot plan a job works from (the monitor's boot-order view, jobs.md
//! "Monitoring"): each instance of the frozen topology with its name and boot group.

use serde::{Deserialize, Serialize};

use crate::dr::topology::{Boot, Topology};

/// One instance of the boot plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BootEntry {
    /// The source instance id (as in the monitor's `instances`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its boot group, 0 first; `null`: left stopped after recovery.
    pub start_order: Option<u32>,
}

/// The boot plan of a topology: by boot group (stopped instances last), then name.
pub fn plan(t: &Topology) -> Vec<BootEntry> {
    let mut entries: Vec<BootEntry> = t
        .instances
        .iter()
        .map(|i| BootEntry {
            id: i.id.to_string(),
            name: i.name.clone(),
            start_order: match i.boot {
                Boot::Started(n) => Some(n),
                Boot::Stopped => None,
            },
        })
        .collect();
    entries.sort_by(|a, b| {
        (a.start_order.is_none(), a.start_order, &a.name).cmp(&(
            b.start_order.is_none(),
            b.start_order,
            &b.name,
        ))
    });
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::recovery_graph::fixture::shop;

    #[test]
    fn boot_groups_in_order_and_stopped_instances_last() {
        let mut t = shop();
        let last = t.instances.len() - 1;
        t.instances[last].boot = Boot::Stopped;
        let stopped = t.instances[last].id.to_string();
        let p = plan(&t);
        assert_eq!(p.len(), t.instances.len());
        assert_eq!(p.last().map(|e| e.id.as_str()), Some(stopped.as_str()));
        assert_eq!(p.last().and_then(|e| e.start_order), None);
        let orders: Vec<u32> = p.iter().filter_map(|e| e.start_order).collect();
        assert!(orders.windows(2).all(|w| w[0] <= w[1]), "{orders:?}");
    }
}
