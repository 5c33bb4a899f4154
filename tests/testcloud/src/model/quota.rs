//! Per-project quotas of every service (`-1` is unlimited).

use std::collections::HashMap;

/// The default limit of a quota resource, as a fresh OpenStack has them.
pub fn default_limit(resource: &str) -> i64 {
    match resource {
        "instances" => 10,
        "cores" => 20,
        "ram" => 51200,
        "key_pairs" => 100,
        "metadata_items" => 128,
        "server_groups" | "server_group_members" => 10,
        "volumes" | "snapshots" | "groups" | "backups" => 10,
        "gigabytes" | "backup_gigabytes" => 1000,
        "per_volume_gigabytes" => -1,
        "network" | "subnet" => 100,
        "port" => 500,
        "router" => 10,
        "floatingip" => 50,
        "security_group" => 10,
        "security_group_rule" => 100,
        _ => -1,
    }
}

/// Nova's quota resources in `os-quota-sets`.
pub const COMPUTE: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
];
/// Cinder's quota resources.
pub const VOLUME: &[&str] = &[
    "volumes",
    "snapshots",
    "gigabytes",
    "groups",
    "backups",
    "backup_gigabytes",
    "per_volume_gigabytes",
];
/// Neutron's quota resources.
pub const NETWORK: &[&str] = &[
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
];

/// Overrides of the defaults, per project.
#[derive(Debug, Default)]
pub struct Quotas {
    overrides: HashMap<String, HashMap<String, i64>>,
}

impl Quotas {
    pub fn limit(&self, project_id: &str, resource: &str) -> i64 {
        self.overrides
            .get(project_id)
            .and_then(|m| m.get(resource))
            .copied()
            .unwrap_or_else(|| default_limit(resource))
    }

    pub fn set(&mut self, project_id: &str, resource: &str, limit: i64) {
        self.overrides
            .entry(project_id.to_owned())
            .or_default()
            .insert(resource.to_owned(), limit);
    }

    /// Would `used + more` exceed the limit?
    pub fn exceeds(&self, project_id: &str, resource: &str, used: i64, more: i64) -> bool {
        let l = self.limit(project_id, resource);
        l >= 0 && used + more > l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_unlimited() {
        let mut q = Quotas::default();
        assert!(!q.exceeds("p", "instances", 9, 1));
        assert!(q.exceeds("p", "instances", 10, 1));
        q.set("p", "instances", -1);
        assert!(!q.exceeds("p", "instances", 1_000_000, 1));
        q.set("p", "volumes", 0);
        assert!(q.exceeds("p", "volumes", 0, 1));
        assert!(!q.exceeds("other", "volumes", 0, 1));
    }
}
