//! What a job created, and how it is taken away again (jobs.md: "Every created
//! resource is recorded with the job so that rollback deletes exactly what the job
//! created"; "Ignore rollback ... returns a script that deletes what is left on the
//! target (OpenStack CLI commands, one per resource, in dependency order)"; "Confirm
//! ... For a partial success, the failed instances and the resources only they depend
//! on are rolled back and split into a new protection group and plan").

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::ids::{InstanceId, JobId};
use super::names::ResourceName;
use super::recovery_graph::TaskKind;

/// A resource on the target that a job created (with the target's ids). Stored with
/// the job as JSON (`{"type": "port", "id": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    /// A project.
    Project {
        /// Its id.
        id: String,
    },
    /// A role assignment (the admin membership).
    RoleAssignment {
        /// The project.
        project: String,
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// A security group.
    SecurityGroup {
        /// Its id.
        id: String,
    },
    /// The `default` security group Neutron gave the project the job created, adopted
    /// for the source's `default`: Neutron deletes it only with its project, so it goes
    /// with the project (nothing to delete on its own).
    ProjectDefaultSecurityGroup {
        /// Its id.
        id: String,
    },
    /// A security-group rule.
    SecurityGroupRule {
        /// Its id.
        id: String,
    },
    /// A keypair.
    Keypair {
        /// Its name.
        name: String,
    },
    /// A network.
    Network {
        /// Its id.
        id: String,
    },
    /// A subnet.
    Subnet {
        /// Its id.
        id: String,
    },
    /// A router.
    Router {
        /// Its id.
        id: String,
    },
    /// An interface of a router on a subnet.
    RouterInterface {
        /// The router.
        router: String,
        /// The subnet.
        subnet: String,
    },
    /// A router's external gateway.
    RouterGateway {
        /// The router.
        router: String,
    },
    /// A port.
    Port {
        /// Its id.
        id: String,
    },
    /// Volume data the agent materialised on the target storage, not yet adopted by
    /// Cinder.
    VolumeExport {
        /// Where it lives on the target storage (e.g. `pool/image`).
        location: String,
    },
    /// A volume.
    Volume {
        /// Its id.
        id: String,
    },
    /// An instance.
    Instance {
        /// Its id.
        id: String,
    },
    /// A floating IP.
    FloatingIp {
        /// Its id.
        id: String,
    },
}

/// Shell-quotes one argument.
fn q(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@'))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Resource {
    /// The OpenStack CLI command that deletes it (a comment for storage exports,
    /// which are not OpenStack resources).
    pub fn delete_command(&self) -> String {
        match self {
            Resource::Project { id } => format!("openstack project delete {}", q(id)),
            Resource::RoleAssignment {
                project,
                user,
                role,
            } => format!(
                "openstack role remove --project {} --user {} {}",
                q(project),
                q(user),
                q(role)
            ),
            Resource::SecurityGroup { id } => format!("openstack security group delete {}", q(id)),
            Resource::ProjectDefaultSecurityGroup { id } => format!(
                "# the default security group {} goes with its project",
                id.replace(['\n', '\r'], " ")
            ),
            Resource::SecurityGroupRule { id } => {
                format!("openstack security group rule delete {}", q(id))
            }
            Resource::Keypair { name } => format!("openstack keypair delete {}", q(name)),
            Resource::Network { id } => format!("openstack network delete {}", q(id)),
            Resource::Subnet { id } => format!("openstack subnet delete {}", q(id)),
            Resource::Router { id } => format!("openstack router delete {}", q(id)),
            Resource::RouterInterface { router, subnet } => {
                format!("openstack router remove subnet {} {}", q(router), q(subnet))
            }
            Resource::RouterGateway { router } => {
                format!("openstack router unset --external-gateway {}", q(router))
            }
            Resource::Port { id } => format!("openstack port delete {}", q(id)),
            Resource::VolumeExport { location } => format!(
                "# volume data exported to {} on the target storage is not an OpenStack resource: remove it on the storage",
                location.replace(['\n', '\r'], " ")
            ),
            Resource::Volume { id } => format!("openstack volume delete {}", q(id)),
            Resource::Instance { id } => format!("openstack server delete --wait {}", q(id)),
            Resource::FloatingIp { id } => format!("openstack floating ip delete {}", q(id)),
        }
    }
}

/// Index of a record in [`CreatedResources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub usize);

/// One created resource, recorded before the call that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The resource.
    pub resource: Resource,
    /// The task that created it.
    pub task: TaskKind,
    /// Created resources it depends on (all recorded earlier).
    pub depends_on: Vec<RecordId>,
    /// The instances that need it (the task's `serves`).
    pub serves: BTreeSet<InstanceId>,
}

/// A dependency on a record that does not exist (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a created resource can depend only on resources recorded before it (record {0} does not exist yet)"
)]
pub struct RecordError(pub usize);

/// Everything a job created, in the order it was recorded. Dependencies point only
/// backwards, so the record is acyclic by construction and its reverse order is a
/// reverse dependency order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatedResources {
    records: Vec<Created>,
}

impl CreatedResources {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a resource about to be created.
    pub fn record(&mut self, created: Created) -> Result<RecordId, RecordError> {
        if let Some(bad) = created
            .depends_on
            .iter()
            .find(|d| d.0 >= self.records.len())
        {
            return Err(RecordError(bad.0));
        }
        self.records.push(created);
        Ok(RecordId(self.records.len() - 1))
    }

    /// The records.
    pub fn records(&self) -> &[Created] {
        &self.records
    }

    /// One record.
    pub fn get(&self, id: RecordId) -> Option<&Created> {
        self.records.get(id.0)
    }

    /// The rollback order of every recorded resource: exactly the records, each after
    /// everything that depends on it (reverse dependency order).
    pub fn rollback_order(&self) -> Vec<RecordId> {
        (0..self.records.len()).rev().map(RecordId).collect()
    }

    /// The rollback in waves: the records of one wave may be deleted concurrently;
    /// every record comes in a later wave than every record depending on it (its
    /// dependants). Together the waves hold exactly the records.
    pub fn rollback_waves(&self) -> Vec<Vec<RecordId>> {
        let n = self.records.len();
        let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (m, r) in self.records.iter().enumerate() {
            for d in &r.depends_on {
                if let Some(list) = dependants.get_mut(d.0) {
                    list.push(m);
                }
            }
        }
        let mut level = vec![0usize; n];
        for i in (0..n).rev() {
            level[i] = dependants[i]
                .iter()
                .map(|m| level[*m] + 1)
                .max()
                .unwrap_or(0);
        }
        let depth = level.iter().copied().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); depth];
        for (i, l) in level.iter().enumerate().rev() {
            waves[*l].push(RecordId(i));
        }
        waves
    }

    /// The rollback order of the records selected by `keep`, closed under dependants
    /// (a selected resource's dependants are deleted too, first).
    pub fn rollback_of(&self, selected: impl Fn(&Created) -> bool) -> Vec<RecordId> {
        let mut chosen: Vec<bool> = self.records.iter().map(&selected).collect();
        // dependants of chosen records must go first: forward pass (deps are earlier)
        for n in 0..self.records.len() {
            if !chosen[n]
                && self.records[n]
                    .depends_on
                    .iter()
                    .any(|d| chosen.get(d.0).copied().unwrap_or(false))
            {
                chosen[n] = true;
            }
        }
        (0..self.records.len())
            .rev()
            .filter(|n| chosen[*n])
            .map(RecordId)
            .collect()
    }

    /// What a retry of `instances` deletes before recovering them again: their own
    /// resources (instance, volumes, ports, floating IPs, exports), i.e. the records
    /// serving only those instances, in rollback order.
    pub fn retry_cleanup(&self, instances: &BTreeSet<InstanceId>) -> Vec<RecordId> {
        self.rollback_of(|c| {
            matches!(
                c.resource,
                Resource::Instance { .. }
                    | Resource::Volume { .. }
                    | Resource::VolumeExport { .. }
                    | Resource::Port { .. }
                    | Resource::FloatingIp { .. }
            ) && !c.serves.is_empty()
                && c.serves.is_subset(instances)
        })
    }

    /// The cleanup script for ignore-rollback: one OpenStack CLI command per leftover
    /// resource, in rollback (dependency) order. `deleted` are records the failed
    /// rollback did delete.
    pub fn cleanup_script(&self, job: &JobId, deleted: &BTreeSet<RecordId>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/sh");
        let _ = writeln!(
            s,
            "# Holdfast cleanup script for job {}: deletes what the job left on the target.",
            job.as_str().replace(['\n', '\r'], " ")
        );
        let _ = writeln!(
            s,
            "# Run it with the target cluster's admin credentials (OS_* variables) loaded."
        );
        let _ = writeln!(s, "set -u");
        for id in self.rollback_order() {
            if deleted.contains(&id) {
                continue;
            }
            if let Some(c) = self.get(id) {
                let _ = writeln!(s, "{}", c.resource.delete_command());
            }
        }
        s
    }
}

/// The confirm of a partial success: what is rolled back and what becomes a new
/// protection group and plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmSplit {
    /// Resources only failed instances depend on, in rollback order.
    pub rollback: Vec<RecordId>,
    /// The failed instances: the new group's members.
    pub instances: BTreeSet<InstanceId>,
    /// The new group's (and plan's) name.
    pub group_name: ResourceName,
}

/// Splits a partially successful DR at confirm (jobs.md, "Confirm"): the failed
/// instances and every resource that serves only failed instances are rolled back;
/// the failed instances go into a new group and plan named `<group>-split-<n>`,
/// where `n` counts the splits of this group so far (so names stay unique).
/// Resources serving no instance (e.g. a router of no protected port) stay with the
/// confirmed workload.
pub fn confirm_split(
    created: &CreatedResources,
    failed: &BTreeSet<InstanceId>,
    group: &ResourceName,
    splits_so_far: u32,
) -> ConfirmSplit {
    let rollback = created.rollback_of(|c| !c.serves.is_empty() && c.serves.is_subset(failed));
    ConfirmSplit {
        rollback,
        instances: failed.clone(),
        group_name: group.with_suffix(&format!("-split-{}", splits_so_far.saturating_add(1))),
    }
}

#[cfg(test)]
mod tests;
