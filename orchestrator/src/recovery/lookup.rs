//! How a resource is found again by its tag after a crash between "intent recorded"
//! and "id recorded", and how rollback deletes it. The lookup hint is recorded with
//! the intent, before the call that creates the resource.

use holdfast_openstack::{Error as OsError, Filters};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::RecoveryError;
use super::cloud::{TargetCloud, wait_until};
use super::materialiser::BackendVolume;
use crate::dr::rollback::Resource;

/// The metadata key Holdfast tags servers and volumes with.
pub const TAG_KEY: &str = "holdfast_tag";

/// Enough to find a resource by its tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lookup {
    /// A project of this name whose description is the tag.
    Project {
        /// Name.
        name: String,
    },
    /// A role assignment.
    RoleAssignment {
        /// Project id.
        project: String,
        /// User id.
        user: String,
        /// Role id.
        role: String,
    },
    /// A security group of the project, description = tag.
    SecurityGroup {
        /// Project id.
        project: String,
    },
    /// A rule of a group, description = tag.
    SecurityGroupRule {
        /// Group id.
        group: String,
    },
    /// A keypair of the admin user.
    Keypair {
        /// Name.
        name: String,
    },
    /// A network of the project, description = tag.
    Network {
        /// Project id.
        project: String,
    },
    /// A subnet of the project, name = tag (subnets are created without description).
    Subnet {
        /// Project id.
        project: String,
    },
    /// A router of the project, description = tag.
    Router {
        /// Project id.
        project: String,
    },
    /// A router interface.
    RouterInterface {
        /// Router id.
        router: String,
        /// Subnet id.
        subnet: String,
    },
    /// A router gateway.
    RouterGateway {
        /// Router id.
        router: String,
    },
    /// A port of the project, description = tag.
    Port {
        /// Project id.
        project: String,
    },
    /// Materialised volume data named by the tag.
    VolumeExport,
    /// A volume of the project with this name and the tag in its metadata.
    Volume {
        /// Project id.
        project: String,
        /// Name.
        name: String,
    },
    /// A server of the project with this name and the tag in its metadata.
    Instance {
        /// Project id.
        project: String,
        /// Name.
        name: String,
    },
    /// A floating IP of the project, description = tag.
    FloatingIp {
        /// Project id.
        project: String,
    },
}

impl Lookup {
    /// The kind, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Lookup::Project { .. } => "project",
            Lookup::RoleAssignment { .. } => "role_assignment",
            Lookup::SecurityGroup { .. } => "security_group",
            Lookup::SecurityGroupRule { .. } => "security_group_rule",
            Lookup::Keypair { .. } => "keypair",
            Lookup::Network { .. } => "network",
            Lookup::Subnet { .. } => "subnet",
            Lookup::Router { .. } => "router",
            Lookup::RouterInterface { .. } => "router_interface",
            Lookup::RouterGateway { .. } => "router_gateway",
            Lookup::Port { .. } => "port",
            Lookup::VolumeExport => "volume_export",
            Lookup::Volume { .. } => "volume",
            Lookup::Instance { .. } => "instance",
            Lookup::FloatingIp { .. } => "floating_ip",
        }
    }
}

fn by_description(project: &str, tag: &str) -> Filters {
    Filters::none()
        .eq("project_id", project)
        .eq("description", tag)
}

/// Finds the resource a recorded intent created, if the create call went through.
pub async fn find(
    cloud: &TargetCloud,
    lookup: &Lookup,
    tag: &str,
) -> Result<Option<Resource>, RecoveryError> {
    let s = cloud.admin();
    let n = s.neutron();
    Ok(match lookup {
        Lookup::Project { name } => s
            .keystone()
            .projects(&Filters::none().eq("name", name))
            .await?
            .into_iter()
            .find(|p| p.description.as_deref() == Some(tag))
            .map(|p| Resource::Project { id: p.id }),
        Lookup::RoleAssignment {
            project,
            user,
            role,
        } => s
            .keystone()
            .has_project_role(project, user, role)
            .await?
            .then(|| Resource::RoleAssignment {
                project: project.clone(),
                user: user.clone(),
                role: role.clone(),
            }),
        Lookup::SecurityGroup { project } => n
            .security_groups(&by_description(project, tag))
            .await?
            .into_iter()
            .find(|g| g.description.as_deref() == Some(tag))
            .map(|g| Resource::SecurityGroup { id: g.id }),
        Lookup::SecurityGroupRule { group } => n
            .security_group_rules(
                &Filters::none()
                    .eq("security_group_id", group)
                    .eq("description", tag),
            )
            .await?
            .into_iter()
            .find(|r| r.description.as_deref() == Some(tag))
            .map(|r| Resource::SecurityGroupRule { id: r.id }),
        Lookup::Keypair { name } => match s.nova().keypair(name).await {
            Ok(_) => Some(Resource::Keypair { name: name.clone() }),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        Lookup::Network { project } => n
            .networks(&by_description(project, tag))
            .await?
            .into_iter()
            .find(|x| x.description.as_deref() == Some(tag))
            .map(|x| Resource::Network { id: x.id }),
        Lookup::Subnet { project } => n
            .subnets(&Filters::none().eq("project_id", project).eq("name", tag))
            .await?
            .into_iter()
            .find(|x| x.name == tag)
            .map(|x| Resource::Subnet { id: x.id }),
        Lookup::Router { project } => n
            .routers(&by_description(project, tag))
            .await?
            .into_iter()
            .find(|x| x.extra.get("description").and_then(|d| d.as_str()) == Some(tag))
            .map(|x| Resource::Router { id: x.id }),
        Lookup::RouterInterface { router, subnet } => n
            .router_interfaces(router)
            .await?
            .into_iter()
            .any(|p| p.fixed_ips.iter().any(|f| &f.subnet_id == subnet))
            .then(|| Resource::RouterInterface {
                router: router.clone(),
                subnet: subnet.clone(),
            }),
        Lookup::RouterGateway { router } => n
            .router(router)
            .await?
            .external_gateway_info
            .is_some()
            .then(|| Resource::RouterGateway {
                router: router.clone(),
            }),
        Lookup::Port { project } => n
            .ports(&by_description(project, tag))
            .await?
            .into_iter()
            .find(|x| x.extra.get("description").and_then(|d| d.as_str()) == Some(tag))
            .map(|x| Resource::Port { id: x.id }),
        Lookup::VolumeExport => {
            cloud
                .materialiser()
                .locate(tag)
                .await?
                .map(|b| Resource::VolumeExport {
                    location: b.location(),
                })
        }
        Lookup::Volume { project, name } => s
            .cinder()
            .volumes(
                &Filters::all_tenants()
                    .eq("project_id", project)
                    .eq("name", name),
            )
            .await?
            .into_iter()
            .find(|v| v.metadata.get(TAG_KEY).map(String::as_str) == Some(tag))
            .map(|v| Resource::Volume { id: v.id }),
        Lookup::Instance { project, name } => s
            .nova()
            .servers(
                &Filters::all_tenants()
                    .eq("project_id", project)
                    .eq("name", name),
            )
            .await?
            .into_iter()
            .find(|v| v.metadata.get(TAG_KEY).map(String::as_str) == Some(tag))
            .map(|v| Resource::Instance { id: v.id }),
        Lookup::FloatingIp { project } => n
            .floating_ips(&by_description(project, tag))
            .await?
            .into_iter()
            .find(|x| x.description.as_deref() == Some(tag))
            .map(|x| Resource::FloatingIp { id: x.id }),
    })
}

fn gone(r: Result<(), OsError>) -> Result<(), RecoveryError> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes one created resource and waits until it is gone. Idempotent: a resource
/// that is already gone is fine.
pub async fn delete(cloud: &TargetCloud, resource: &Resource) -> Result<(), RecoveryError> {
    let s = cloud.admin();
    let n = s.neutron();
    let poll = cloud.options().poll_interval;
    let deadline = cloud.options().wait_timeout;
    match resource {
        Resource::Project { id } => {
            gone(s.keystone().delete_project(id).await)?;
            // Neutron gives every project a `default` security group, which it lets go
            // only once the project is gone: it belongs to the project the job
            // created, so it goes with it
            for g in n
                .security_groups(&Filters::none().eq("project_id", id).eq("name", "default"))
                .await?
            {
                if &g.project_id == id {
                    gone(n.delete_security_group(&g.id).await)?;
                }
            }
            Ok(())
        }
        Resource::RoleAssignment {
            project,
            user,
            role,
        } => gone(s.keystone().revoke_project_role(project, user, role).await),
        Resource::SecurityGroup { id } => gone(n.delete_security_group(id).await),
        // deleted with its project (above)
        Resource::ProjectDefaultSecurityGroup { .. } => Ok(()),
        Resource::SecurityGroupRule { id } => gone(n.delete_security_group_rule(id).await),
        Resource::Keypair { name } => gone(s.nova().delete_keypair(name).await),
        Resource::Network { id } => gone(n.delete_network(id).await),
        Resource::Subnet { id } => gone(n.delete_subnet(id).await),
        Resource::Router { id } => gone(n.delete_router(id).await),
        Resource::RouterInterface { router, subnet } => {
            gone(n.remove_router_interface(router, subnet).await.map(drop))
        }
        Resource::RouterGateway { router } => {
            gone(n.set_router_gateway(router, None).await.map(drop))
        }
        Resource::Port { id } => gone(n.delete_port(id).await),
        Resource::VolumeExport { location } => match BackendVolume::parse(location) {
            Some(b) => Ok(cloud.materialiser().discard(&b).await?),
            None => Err(RecoveryError::Corrupt(format!(
                "recorded volume export location {location:?} is not a backend reference"
            ))),
        },
        Resource::Volume { id } => {
            // a volume still detaching from a deleted server refuses deletion for a
            // moment: retry until the deadline
            wait_until(poll, deadline, "volume deletion accepted", || async {
                match s.cinder().delete_volume(id).await {
                    Ok(()) => Ok(Some(())),
                    Err(e) if e.is_not_found() => Ok(Some(())),
                    Err(OsError::BadRequest(_) | OsError::Conflict(_)) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
            wait_until(poll, deadline, "volume deleted", || async {
                match s.cinder().volume(id).await {
                    Err(e) if e.is_not_found() => Ok(Some(())),
                    Ok(v) if v.status == "error_deleting" => Err(RecoveryError::Cloud(format!(
                        "volume {id} went to error_deleting"
                    ))),
                    Ok(_) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await
        }
        Resource::Instance { id } => {
            gone(s.nova().delete_server(id).await)?;
            wait_until(poll, deadline, "server deleted", || async {
                match s.nova().server(id).await {
                    Err(e) if e.is_not_found() => Ok(Some(())),
                    Ok(v) if v.status == "DELETED" => Ok(Some(())),
                    Ok(_) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await
        }
        Resource::FloatingIp { id } => gone(n.delete_floating_ip(id).await),
    }
}

/// Metadata carrying the tag.
pub fn tag_metadata(tag: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TAG_KEY.to_owned(), tag.to_owned())])
}
