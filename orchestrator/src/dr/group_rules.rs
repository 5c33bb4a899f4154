//! Protection-group rules (protection.md, "Protection groups"; platform.md,
//! "Licence"; operations.md, known constraints 1, 2 and 6): create, update and
//! delete validation returning every reason, and the unprotected-instance list.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{GroupId, InstanceId, JobId, PlanId, ProjectId, VolumeGroupId, VolumeId};
use super::names::{NameError, ResourceName};

/// A source instance as the rules need it (from the synced source cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInstance {
    /// Its project.
    pub project: ProjectId,
    /// The protection group it is in, if any.
    pub group: Option<GroupId>,
    /// Its attached volumes.
    pub volumes: Vec<VolumeId>,
}

/// A source volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceVolume {
    /// Instances it is attached to.
    pub attached_to: Vec<InstanceId>,
    /// The OpenStack volume group (consistency group) it belongs to.
    pub volume_group: Option<VolumeGroupId>,
    /// The volume snapshot it was created from.
    pub from_snapshot: Option<String>,
}

/// The synced source cluster, as far as the rules need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceInventory {
    /// Instances.
    pub instances: BTreeMap<InstanceId, SourceInstance>,
    /// Volumes.
    pub volumes: BTreeMap<VolumeId, SourceVolume>,
    /// Members of each OpenStack volume group.
    pub volume_groups: BTreeMap<VolumeGroupId, Vec<VolumeId>>,
    /// Projects on which the cluster's admin account has the `admin` role.
    pub projects_with_admin: BTreeSet<ProjectId>,
    /// The cluster's admin account (user name), for messages.
    pub admin_user: String,
}

/// The licence as group creation needs it (platform.md, "Licence").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenceFacts {
    /// No licence registered.
    Missing,
    /// The licence expired.
    Expired,
    /// A valid licence.
    Valid {
        /// Instances it allows.
        instance_limit: u64,
        /// Instances protected in all groups now.
        protected: u64,
    },
}

/// Why a group cannot be created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRefusal {
    /// The name is invalid.
    #[error("group name: {0}")]
    Name(NameError),
    /// No instance selected.
    #[error("select at least one instance")]
    NoInstances,
    /// An instance the source does not have.
    #[error("instance {0} does not exist on the source cluster (sync the cluster and try again)")]
    UnknownInstance(InstanceId),
    /// An instance already in another group.
    #[error(
        "instance {instance} is already in protection group {group}; an instance can be in one group only"
    )]
    InOtherGroup {
        /// The instance.
        instance: InstanceId,
        /// Its group.
        group: GroupId,
    },
    /// Instances of several projects.
    #[error("the instances belong to different projects ({}); a protection group holds instances of one project", .0.iter().map(ProjectId::as_str).collect::<Vec<_>>().join(", "))]
    MixedProjects(Vec<ProjectId>),
    /// A volume shared with an instance outside the selection.
    #[error(
        "volume {volume} of instance {inside} is also attached to instance {outside}, which is not selected: instances sharing a volume must be in the same group"
    )]
    SharedVolume {
        /// The volume.
        volume: VolumeId,
        /// The selected instance.
        inside: InstanceId,
        /// The instance outside the selection.
        outside: InstanceId,
    },
    /// An OpenStack volume group only partly protected.
    #[error(
        "volume {volume} is in OpenStack volume group {volume_group}, whose volume {outside} is not protected by this group: select every instance using that volume group (it is then protected as one consistency group), or take the volume out of the volume group"
    )]
    VolumeGroupSplit {
        /// The volume.
        volume: VolumeId,
        /// The volume group.
        volume_group: VolumeGroupId,
        /// A member not covered.
        outside: VolumeId,
    },
    /// A volume created from a snapshot.
    #[error(
        "volume {volume} was created from volume snapshot {snapshot} and cannot be recovered while it depends on it: flatten it (e.g. copy it to a new volume) and protect the copy"
    )]
    FromSnapshot {
        /// The volume.
        volume: VolumeId,
        /// The snapshot.
        snapshot: String,
    },
    /// The cluster's admin account has no `admin` role on the source project (checked
    /// on the cloud when the group is created).
    #[error(
        "the cluster's admin account {user} has no admin role on project {project}, so Holdfast cannot read and protect its resources: grant it (openstack role add --user {user} --project {project} admin) and create the group again"
    )]
    NoAdminMembership {
        /// The project.
        project: ProjectId,
        /// The cluster's admin account (user name).
        user: String,
    },
    /// No licence.
    #[error("no licence is registered: register a licence key first")]
    LicenceMissing,
    /// Licence expired.
    #[error("the licence has expired: renew it to protect more instances")]
    LicenceExpired,
    /// Over the limit.
    #[error(
        "the licence allows {limit} protected instances; {protected} are protected and this adds {adding}: renew the licence with a higher limit or protect fewer instances"
    )]
    LicenceLimit {
        /// The limit.
        limit: u64,
        /// Protected now.
        protected: u64,
        /// Being added.
        adding: u64,
    },
    /// A job of the group exists.
    #[error(
        "job {0} of this protection group exists: a group cannot be changed while it has a recovery job; delete or finish the job first"
    )]
    JobExists(JobId),
    /// The group has a plan.
    #[error("the protection group has recovery plan {0}: delete the plan first")]
    HasPlan(PlanId),
}

/// Checks a selection of instances against the membership rules and the manual's
/// constraints; `this_group` is the group being updated (its own instances are not
/// "in another group").
fn check_selection(
    selected: &BTreeSet<InstanceId>,
    inv: &SourceInventory,
    this_group: Option<&GroupId>,
    out: &mut Vec<GroupRefusal>,
) {
    if selected.is_empty() {
        out.push(GroupRefusal::NoInstances);
    }
    let mut projects = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    for id in selected {
        let Some(i) = inv.instances.get(id) else {
            out.push(GroupRefusal::UnknownInstance(id.clone()));
            continue;
        };
        if let Some(g) = &i.group
            && Some(g) != this_group
        {
            out.push(GroupRefusal::InOtherGroup {
                instance: id.clone(),
                group: g.clone(),
            });
        }
        projects.insert(i.project.clone());
        for v in &i.volumes {
            volumes.insert(v.clone());
            if let Some(vol) = inv.volumes.get(v) {
                for other in &vol.attached_to {
                    if !selected.contains(other) {
                        out.push(GroupRefusal::SharedVolume {
                            volume: v.clone(),
                            inside: id.clone(),
                            outside: other.clone(),
                        });
                    }
                }
            }
        }
    }
    if projects.len() > 1 {
        out.push(GroupRefusal::MixedProjects(
            projects.iter().cloned().collect(),
        ));
    }
    for v in &volumes {
        let Some(vol) = inv.volumes.get(v) else {
            continue;
        };
        if let Some(vg) = &vol.volume_group {
            let members = inv.volume_groups.get(vg).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(outside) = members.iter().find(|m| !volumes.contains(*m)) {
                out.push(GroupRefusal::VolumeGroupSplit {
                    volume: v.clone(),
                    volume_group: vg.clone(),
                    outside: outside.clone(),
                });
            }
        }
        if let Some(s) = &vol.from_snapshot {
            out.push(GroupRefusal::FromSnapshot {
                volume: v.clone(),
                snapshot: s.clone(),
            });
        }
    }
    for p in &projects {
        if !inv.projects_with_admin.contains(p) {
            out.push(GroupRefusal::NoAdminMembership {
                project: p.clone(),
                user: inv.admin_user.clone(),
            });
        }
    }
}

fn check_licence(licence: LicenceFacts, adding: u64, out: &mut Vec<GroupRefusal>) {
    if adding == 0 {
        return;
    }
    match licence {
        LicenceFacts::Missing => out.push(GroupRefusal::LicenceMissing),
        LicenceFacts::Expired => out.push(GroupRefusal::LicenceExpired),
        LicenceFacts::Valid {
            instance_limit,
            protected,
        } => {
            if protected.saturating_add(adding) > instance_limit {
                out.push(GroupRefusal::LicenceLimit {
                    limit: instance_limit,
                    protected,
                    adding,
                });
            }
        }
    }
}

/// A group that passed the creation rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidGroup {
    /// Its name.
    pub name: ResourceName,
    /// Its project.
    pub project: ProjectId,
    /// Its instances.
    pub instances: BTreeSet<InstanceId>,
}

/// Create rules (protection.md, "Cannot create"; known constraints 1, 2, 6; licence
/// validated at creation). Every refusal is returned, not only the first.
/// Decisions: a volume in an OpenStack volume group is accepted when every member of
/// that volume group is protected by the same group (the group snapshot is then a
/// consistent cut of the whole volume group), refused otherwise; volumes created from
/// a snapshot are refused (no flattening yet).
pub fn check_create(
    name: &str,
    instances: &BTreeSet<InstanceId>,
    inv: &SourceInventory,
    licence: LicenceFacts,
) -> Result<ValidGroup, Vec<GroupRefusal>> {
    let mut out = Vec::new();
    let name = ResourceName::parse(name)
        .map_err(|e| out.push(GroupRefusal::Name(e)))
        .ok();
    check_selection(instances, inv, None, &mut out);
    check_licence(
        licence,
        u64::try_from(instances.len()).unwrap_or(u64::MAX),
        &mut out,
    );
    let project = instances
        .iter()
        .find_map(|i| inv.instances.get(i))
        .map(|i| i.project.clone());
    match (name, project, out.is_empty()) {
        (Some(name), Some(project), true) => Ok(ValidGroup {
            name,
            project,
            instances: instances.clone(),
        }),
        _ => Err(out),
    }
}

/// What an accepted group update does to the group's plan (protection.md, "Update").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    /// Instances added: the plan goes to `Warning` until a user maps them.
    pub added: BTreeSet<InstanceId>,
    /// Instances removed: the plan is updated automatically.
    pub removed: BTreeSet<InstanceId>,
    /// Every instance was removed: the plan is deleted automatically.
    pub delete_plan: bool,
}

/// A requested group update.
#[derive(Debug, Clone, Copy)]
pub struct GroupChange<'a> {
    /// The group.
    pub group: &'a GroupId,
    /// Its instances now.
    pub current: &'a BTreeSet<InstanceId>,
    /// The new name.
    pub name: &'a str,
    /// The instances wanted.
    pub wanted: &'a BTreeSet<InstanceId>,
    /// A recovery job of the group, if one exists.
    pub job: Option<&'a JobId>,
    /// Whether the group has a plan.
    pub has_plan: bool,
}

/// Update rules (protection.md, "Update" / "Cannot update"): no update while a
/// recovery job of the group exists; the new selection must satisfy the membership
/// rules (one project, not in another group, shared volumes together) and the
/// manual's constraints; added instances are checked against the licence. Unlike
/// creation, the selection may become empty (then the plan is deleted).
pub fn check_update(
    change: &GroupChange<'_>,
    inv: &SourceInventory,
    licence: LicenceFacts,
) -> Result<GroupUpdate, Vec<GroupRefusal>> {
    let GroupChange {
        group,
        current,
        name,
        wanted,
        job,
        has_plan,
    } = *change;
    let mut out = Vec::new();
    if let Some(j) = job {
        out.push(GroupRefusal::JobExists(j.clone()));
    }
    if let Err(e) = ResourceName::parse(name) {
        out.push(GroupRefusal::Name(e));
    }
    check_selection(wanted, inv, Some(group), &mut out);
    out.retain(|r| *r != GroupRefusal::NoInstances);
    let added: BTreeSet<InstanceId> = wanted.difference(current).cloned().collect();
    let removed: BTreeSet<InstanceId> = current.difference(wanted).cloned().collect();
    check_licence(
        licence,
        u64::try_from(added.len()).unwrap_or(u64::MAX),
        &mut out,
    );
    if out.is_empty() {
        Ok(GroupUpdate {
            delete_plan: has_plan && wanted.is_empty(),
            added,
            removed,
        })
    } else {
        Err(out)
    }
}

/// Delete rule (protection.md): not while the group has a recovery plan.
pub fn check_delete(plan: Option<&PlanId>) -> Result<(), GroupRefusal> {
    match plan {
        Some(p) => Err(GroupRefusal::HasPlan(p.clone())),
        None => Ok(()),
    }
}

/// The source's instances that are in no protection group (protection.md,
/// "Unprotected instances"); who may see which cluster is the caller's filter.
pub fn unprotected(inv: &SourceInventory) -> Vec<InstanceId> {
    inv.instances
        .iter()
        .filter(|(_, i)| i.group.is_none())
        .map(|(id, _)| id.clone())
        .collect()
}

#[cfg(test)]
mod tests;
