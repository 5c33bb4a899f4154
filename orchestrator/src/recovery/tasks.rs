//! One recovery task against the target cloud (jobs.md, "What a recovery does on the
//! target"). Every create goes through [`Ledger::ensure`]: recorded before the call,
//! found again by its tag after a crash.

use std::collections::BTreeSet;
use std::future::Future;

use holdfast_openstack::cinder::ManageVolume;
use holdfast_openstack::keystone::ProjectCreate;
use holdfast_openstack::neutron::{
    ExternalGateway, FixedIp, FloatingIpCreate, NetworkCreate, PortCreate, RouterCreate,
    SecurityGroupCreate, SecurityGroupRuleCreate, SubnetCreate,
};
use holdfast_openstack::nova::{
    BlockDeviceMapping, KeypairCreate, NamedRef, NetworkRequest, Networks, ServerCreate,
};
use holdfast_openstack::{Error as OsError, Filters, Session};

use super::cloud::{TargetCloud, wait_until};
use super::ledger::{Clock, Ledger};
use super::lookup::{Lookup, tag_metadata};
use super::materialiser::{BackendVolume, MaterialiseRequest};
use super::{LoadedJob, RecoveryError};
use crate::dr::ids::{InstanceId, PortId};
use crate::dr::recovery_graph::{DepKind, Task, TaskKind};
use crate::dr::rollback::Resource;
use crate::dr::target_details::RuleDetails;
use crate::dr::topology::{InstanceSpec, NetworkTarget, PortSpec};

struct Ctx<'a> {
    job: &'a LoadedJob,
    ledger: &'a Ledger,
    cloud: &'a TargetCloud,
    clock: &'a Clock,
    index: usize,
    task: &'a Task,
}

fn missing(what: impl std::fmt::Display) -> RecoveryError {
    RecoveryError::Corrupt(format!("{what} is not in the job's plan"))
}

impl Ctx<'_> {
    fn tag(&self, n: Option<usize>) -> String {
        self.job.tag(self.index, n)
    }

    /// The records of the tasks this one requires: what its resources depend on.
    fn depends_on(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .task
            .deps
            .iter()
            .filter(|(_, k)| *k == DepKind::Requires)
            .flat_map(|(d, _)| self.ledger.records_of_task(d.0))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn task_of(&self, kind: &TaskKind) -> Option<usize> {
        self.job.index.get(kind).copied()
    }

    /// The main resource another task created.
    fn output(&self, kind: &TaskKind) -> Result<Resource, RecoveryError> {
        let index = self
            .task_of(kind)
            .ok_or_else(|| missing(format!("task \"{kind}\"")))?;
        self.ledger
            .resource(&self.job.tag(index, None))
            .ok_or_else(|| {
                RecoveryError::Corrupt(format!(
                    "task \"{kind}\" succeeded but its resource is not recorded"
                ))
            })
    }

    fn id_of(&self, kind: &TaskKind) -> Result<String, RecoveryError> {
        Ok(match self.output(kind)? {
            Resource::Project { id }
            | Resource::SecurityGroup { id }
            | Resource::ProjectDefaultSecurityGroup { id }
            | Resource::SecurityGroupRule { id }
            | Resource::Network { id }
            | Resource::Subnet { id }
            | Resource::Router { id }
            | Resource::Port { id }
            | Resource::Volume { id }
            | Resource::Instance { id }
            | Resource::FloatingIp { id } => id,
            Resource::Keypair { name } => name,
            Resource::VolumeExport { location } => location,
            Resource::RoleAssignment { project, .. } => project,
            Resource::RouterInterface { router, .. } | Resource::RouterGateway { router } => router,
        })
    }

    fn project(&self) -> Result<String, RecoveryError> {
        self.id_of(&TaskKind::CreateProject)
    }

    async fn project_session(&self) -> Result<Session, RecoveryError> {
        self.cloud
            .project(&self.job.project_name(), &self.project()?)
            .await
    }

    async fn ensure<F, Fut>(
        &self,
        n: Option<usize>,
        lookup: Lookup,
        depends_on: Vec<i64>,
        create: F,
    ) -> Result<Resource, RecoveryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Resource, RecoveryError>>,
    {
        self.ledger
            .ensure(
                self.cloud,
                self.clock,
                &self.tag(n),
                self.index,
                lookup,
                depends_on,
                &self.task.serves,
                create,
            )
            .await
    }

    fn instance(&self, id: &InstanceId) -> Result<&InstanceSpec, RecoveryError> {
        self.job
            .spec
            .topology
            .instances
            .iter()
            .find(|i| &i.id == id)
            .ok_or_else(|| missing(format!("instance {id}")))
    }

    fn external_network(&self) -> Result<String, RecoveryError> {
        self.job
            .spec
            .details
            .external_network
            .clone()
            .ok_or_else(|| {
                RecoveryError::Details(crate::dr::target_details::DetailsError::NoExternalNetwork)
            })
    }
}

/// Runs task `index` of the job (idempotent: safe to run again after a crash).
pub(super) async fn execute(
    job: &LoadedJob,
    ledger: &Ledger,
    cloud: &TargetCloud,
    clock: &Clock,
    index: usize,
) -> Result<(), RecoveryError> {
    let task = job
        .graph
        .tasks()
        .get(index)
        .ok_or_else(|| missing(format!("task {index}")))?;
    let c = Ctx {
        job,
        ledger,
        cloud,
        clock,
        index,
        task,
    };
    if job.rounds().creates_nothing(&task.kind) {
        // the instance was recovered from another point than the job's: it stays off
        // every network (jobs.md, "Retry"); the retry ended this task without running it
        return Ok(());
    }
    match &task.kind {
        TaskKind::CreateProject => create_project(&c).await,
        TaskKind::AddAdminMembership => add_membership(&c).await,
        TaskKind::CreateSecurityGroup(g) => {
            let spec = job
                .spec
                .topology
                .security_groups
                .iter()
                .find(|s| &s.id == g)
                .ok_or_else(|| missing(format!("security group {g}")))?;
            let project = c.project()?;
            let tag = c.tag(None);
            c.ensure(
                None,
                Lookup::SecurityGroup {
                    project: project.clone(),
                },
                c.depends_on(),
                || async {
                    // Neutron gives every project its own `default` group and refuses a
                    // second one: the source's `default` maps to the new project's (a
                    // project-scoped listing makes Neutron create it if it has not yet)
                    if spec.name == DEFAULT_SECURITY_GROUP {
                        let own = c
                            .project_session()
                            .await?
                            .neutron()
                            .security_groups(
                                &Filters::none()
                                    .eq("project_id", &project)
                                    .eq("name", DEFAULT_SECURITY_GROUP),
                            )
                            .await?;
                        if let Some(g) = own.into_iter().next() {
                            return Ok(Resource::ProjectDefaultSecurityGroup { id: g.id });
                        }
                    }
                    let g = cloud
                        .admin()
                        .neutron()
                        .create_security_group(&SecurityGroupCreate {
                            name: spec.name.clone(),
                            description: Some(tag.clone()),
                            project_id: Some(project.clone()),
                        })
                        .await?;
                    Ok(Resource::SecurityGroup { id: g.id })
                },
            )
            .await
            .map(drop)
        }
        TaskKind::CreateSecurityGroupRules(g) => create_rules(&c, g).await,
        TaskKind::CreateKeypair(k) => create_keypair(&c, k).await,
        TaskKind::CreateNetwork(n) => {
            let spec = job
                .spec
                .topology
                .networks
                .iter()
                .find(|s| &s.id == n)
                .ok_or_else(|| missing(format!("network {n}")))?;
            let project = c.project()?;
            let tag = c.tag(None);
            c.ensure(
                None,
                Lookup::Network {
                    project: project.clone(),
                },
                c.depends_on(),
                || async {
                    let n = cloud
                        .admin()
                        .neutron()
                        .create_network(&NetworkCreate {
                            name: spec.name.clone(),
                            project_id: Some(project.clone()),
                            admin_state_up: true,
                            description: Some(tag.clone()),
                            ..NetworkCreate::default()
                        })
                        .await?;
                    Ok(Resource::Network { id: n.id })
                },
            )
            .await
            .map(drop)
        }
        TaskKind::CreateSubnet(s) => {
            let spec = job
                .spec
                .topology
                .subnets
                .iter()
                .find(|x| &x.id == s)
                .ok_or_else(|| missing(format!("subnet {s}")))?;
            let network = c.id_of(&TaskKind::CreateNetwork(spec.network.clone()))?;
            let details = job.spec.details.subnets.get(s);
            let project = c.project()?;
            let tag = c.tag(None);
            c.ensure(
                None,
                Lookup::Subnet {
                    project: project.clone(),
                },
                c.depends_on(),
                || async {
                    let s = cloud
                        .admin()
                        .neutron()
                        .create_subnet(&SubnetCreate {
                            network_id: network,
                            name: tag.clone(),
                            cidr: spec.cidr.clone(),
                            ip_version: 4,
                            project_id: Some(project.clone()),
                            gateway_ip: details.and_then(|d| d.gateway_ip.clone()),
                            enable_dhcp: details.is_none_or(|d| d.enable_dhcp),
                            ..SubnetCreate::default()
                        })
                        .await?;
                    Ok(Resource::Subnet { id: s.id })
                },
            )
            .await
            .map(drop)
        }
        TaskKind::CreateRouter(r) => {
            let spec = job
                .spec
                .topology
                .routers
                .iter()
                .find(|x| &x.id == r)
                .ok_or_else(|| missing(format!("router {r}")))?;
            let project = c.project()?;
            let tag = c.tag(None);
            c.ensure(
                None,
                Lookup::Router {
                    project: project.clone(),
                },
                c.depends_on(),
                || async {
                    let r = cloud
                        .admin()
                        .neutron()
                        .create_router(&RouterCreate {
                            name: spec.name.clone(),
                            project_id: Some(project.clone()),
                            admin_state_up: true,
                            external_gateway_info: None,
                            description: Some(tag.clone()),
                        })
                        .await?;
                    Ok(Resource::Router { id: r.id })
                },
            )
            .await
            .map(drop)
        }
        TaskKind::AddRouterInterface(r, s) => {
            let router = c.id_of(&TaskKind::CreateRouter(r.clone()))?;
            let subnet = c.id_of(&TaskKind::CreateSubnet(s.clone()))?;
            let lookup = Lookup::RouterInterface {
                router: router.clone(),
                subnet: subnet.clone(),
            };
            c.ensure(None, lookup, c.depends_on(), || async {
                cloud
                    .admin()
                    .neutron()
                    .add_router_interface(&router, &subnet)
                    .await?;
                Ok(Resource::RouterInterface {
                    router: router.clone(),
                    subnet: subnet.clone(),
                })
            })
            .await
            .map(drop)
        }
        TaskKind::SetRouterGateway(r) => {
            let router = c.id_of(&TaskKind::CreateRouter(r.clone()))?;
            let network_id = c.external_network()?;
            let lookup = Lookup::RouterGateway {
                router: router.clone(),
            };
            c.ensure(None, lookup, c.depends_on(), || async {
                let gateway = ExternalGateway {
                    network_id,
                    ..ExternalGateway::default()
                };
                cloud
                    .admin()
                    .neutron()
                    .set_router_gateway(&router, Some(&gateway))
                    .await?;
                Ok(Resource::RouterGateway {
                    router: router.clone(),
                })
            })
            .await
            .map(drop)
        }
        TaskKind::CreatePort(p) => create_port(&c, p).await,
        TaskKind::ExportVolume(v) => {
            let details = job
                .spec
                .details
                .volumes
                .get(v)
                .ok_or_else(|| missing(format!("volume {v}")))?;
            let request = MaterialiseRequest {
                job: job.id.clone(),
                volume: v.clone(),
                point: job.rounds().volume_point(v, &job.point).clone(),
                name: c.tag(None),
                size_gb: details.size_gb,
            };
            c.ensure(None, Lookup::VolumeExport, c.depends_on(), || async {
                let b = cloud.materialiser().materialise(&request).await?;
                Ok(Resource::VolumeExport {
                    location: b.location(),
                })
            })
            .await
            .map(drop)
        }
        TaskKind::ManageVolume(v) => manage_volume(&c, v).await,
        TaskKind::CreateInstance(i) => create_instance(&c, i).await,
        TaskKind::StartInstance(i) => {
            let id = c.id_of(&TaskKind::CreateInstance(i.clone()))?;
            let nova = cloud.admin().nova();
            if nova.server(&id).await?.status == "SHUTOFF" {
                nova.start_server(&id).await?;
            }
            wait_server(cloud, &id, &["ACTIVE"]).await.map(drop)
        }
        TaskKind::AttachFloatingIp { port, address } => attach_fip(&c, port, address).await,
    }
}

async fn create_project(c: &Ctx<'_>) -> Result<(), RecoveryError> {
    let name = c.job.project_name();
    let tag = c.tag(None);
    let keystone = c.cloud.admin().keystone();
    if !c.ledger.is_recorded(&tag)
        && !keystone
            .projects(&Filters::none().eq("name", &name))
            .await?
            .is_empty()
    {
        return Err(RecoveryError::Conflict(format!(
            "a project named {name:?} already exists on the target: rename or delete it, or change the plan's project mapping"
        )));
    }
    c.ensure(
        None,
        Lookup::Project { name: name.clone() },
        c.depends_on(),
        || async {
            let p = keystone
                .create_project(&ProjectCreate {
                    name: name.clone(),
                    description: Some(tag.clone()),
                    enabled: true,
                    ..ProjectCreate::default()
                })
                .await?;
            Ok(Resource::Project { id: p.id })
        },
    )
    .await
    .map(drop)
}

async fn add_membership(c: &Ctx<'_>) -> Result<(), RecoveryError> {
    let project = c.project()?;
    let admin = c.cloud.admin();
    let user = admin.token().await?.user.id.clone();
    let role = admin
        .keystone()
        .role_by_name("admin")
        .await?
        .ok_or_else(|| RecoveryError::Conflict("the target has no \"admin\" role".into()))?
        .id;
    let lookup = Lookup::RoleAssignment {
        project: project.clone(),
        user: user.clone(),
        role: role.clone(),
    };
    c.ensure(None, lookup, c.depends_on(), || async {
        admin
            .keystone()
            .grant_project_role(&project, &user, &role)
            .await?;
        Ok(Resource::RoleAssignment {
            project: project.clone(),
            user: user.clone(),
            role: role.clone(),
        })
    })
    .await?;
    super::quotas::raise(admin, c.job, &project).await?;
    // the project-scoped session works from now on
    c.project_session().await.map(drop)
}

/// The security group Neutron creates in every project.
const DEFAULT_SECURITY_GROUP: &str = "default";

fn same_rule(
    r: &holdfast_openstack::neutron::SecurityGroupRule,
    want: &RuleDetails,
    remote: Option<&str>,
) -> bool {
    r.direction == want.direction
        && r.ethertype == want.ethertype
        && r.protocol == want.protocol
        && r.port_range_min == want.port_range_min
        && r.port_range_max == want.port_range_max
        && r.remote_ip_prefix == want.remote_ip_prefix
        && r.remote_group_id.as_deref() == remote
}

async fn create_rules(
    c: &Ctx<'_>,
    g: &crate::dr::ids::SecurityGroupId,
) -> Result<(), RecoveryError> {
    let group = c.id_of(&TaskKind::CreateSecurityGroup(g.clone()))?;
    let rules = c
        .job
        .spec
        .details
        .security_group_rules
        .get(g)
        .cloned()
        .unwrap_or_default();
    let neutron = c.cloud.admin().neutron();
    let existing = neutron
        .security_group_rules(&Filters::none().eq("security_group_id", &group))
        .await?;
    let project = c.project()?;
    for (n, rule) in rules.iter().enumerate() {
        let remote = match &rule.remote_group {
            Some(r) => Some(c.id_of(&TaskKind::CreateSecurityGroup(r.clone()))?),
            None => None,
        };
        let tag = c.tag(Some(n));
        // Neutron gives every new group its default egress rules: a copied rule equal
        // to one of them is already there (and is not the job's to delete)
        if !c.ledger.is_recorded(&tag)
            && existing
                .iter()
                .any(|e| same_rule(e, rule, remote.as_deref()))
        {
            continue;
        }
        let lookup = Lookup::SecurityGroupRule {
            group: group.clone(),
        };
        c.ensure(Some(n), lookup, c.depends_on(), || async {
            let r = neutron
                .create_security_group_rule(&SecurityGroupRuleCreate {
                    security_group_id: group.clone(),
                    direction: rule.direction.clone(),
                    ethertype: rule.ethertype.clone(),
                    protocol: rule.protocol.clone(),
                    port_range_min: rule.port_range_min,
                    port_range_max: rule.port_range_max,
                    remote_ip_prefix: rule.remote_ip_prefix.clone(),
                    remote_group_id: remote.clone(),
                    project_id: Some(project.clone()),
                    description: Some(tag.clone()),
                })
                .await?;
            Ok(Resource::SecurityGroupRule { id: r.id })
        })
        .await?;
    }
    Ok(())
}

async fn create_keypair(c: &Ctx<'_>, name: &str) -> Result<(), RecoveryError> {
    let public_key = c
        .job
        .spec
        .details
        .keypairs
        .get(name)
        .ok_or_else(|| missing(format!("keypair {name}")))?;
    let nova = c.cloud.admin().nova();
    if !c.ledger.is_recorded(&c.tag(None)) {
        match nova.keypair(name).await {
            // the same key is there already: use it, it is not the job's to delete
            Ok(k) if k.public_key.trim() == public_key.trim() => return Ok(()),
            Ok(_) => {
                return Err(RecoveryError::Conflict(format!(
                    "the target already has a different keypair named {name:?}: remove or rename it"
                )));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let lookup = Lookup::Keypair {
        name: name.to_owned(),
    };
    c.ensure(None, lookup, c.depends_on(), || async {
        nova.create_keypair(&KeypairCreate {
            name: name.to_owned(),
            public_key: public_key.clone(),
            key_type: None,
            user_id: None,
        })
        .await?;
        Ok(Resource::Keypair {
            name: name.to_owned(),
        })
    })
    .await
    .map(drop)
}

fn port_owner<'a>(
    c: &'a Ctx<'_>,
    p: &PortId,
) -> Result<(&'a InstanceSpec, &'a PortSpec), RecoveryError> {
    c.job
        .spec
        .topology
        .instances
        .iter()
        .find_map(|i| i.ports.iter().find(|x| &x.id == p).map(|x| (i, x)))
        .ok_or_else(|| missing(format!("port {p}")))
}

async fn create_port(c: &Ctx<'_>, p: &PortId) -> Result<(), RecoveryError> {
    let (instance, port) = port_owner(c, p)?;
    let subnet = c
        .job
        .spec
        .topology
        .subnets
        .iter()
        .find(|s| s.id == port.subnet)
        .ok_or_else(|| missing(format!("subnet {}", port.subnet)))?;
    let created_subnet = c.task_of(&TaskKind::CreateSubnet(subnet.id.clone()));
    let network = if c
        .task_of(&TaskKind::CreateNetwork(subnet.network.clone()))
        .is_some()
    {
        c.id_of(&TaskKind::CreateNetwork(subnet.network.clone()))?
    } else {
        match c
            .job
            .spec
            .topology
            .networks
            .iter()
            .find(|n| n.id == subnet.network)
            .map(|n| &n.target)
        {
            Some(NetworkTarget::Existing(n)) => n.to_string(),
            _ => return Err(missing(format!("a target for network {}", subnet.network))),
        }
    };
    let fixed_ips = match created_subnet {
        Some(_) => vec![FixedIp {
            subnet_id: c.id_of(&TaskKind::CreateSubnet(subnet.id.clone()))?,
            ip_address: c
                .job
                .spec
                .details
                .ports
                .get(p)
                .and_then(|d| d.fixed_ip.clone()),
        }],
        None => vec![],
    };
    let mut groups = Vec::new();
    for g in &instance.security_groups {
        if c.task_of(&TaskKind::CreateSecurityGroup(g.clone()))
            .is_some()
        {
            groups.push(c.id_of(&TaskKind::CreateSecurityGroup(g.clone()))?);
        }
    }
    let project = c.project()?;
    let tag = c.tag(None);
    let lookup = Lookup::Port {
        project: project.clone(),
    };
    c.ensure(None, lookup, c.depends_on(), || async {
        let port = c
            .cloud
            .admin()
            .neutron()
            .create_port(&PortCreate {
                network_id: network,
                name: tag.clone(),
                project_id: Some(project.clone()),
                fixed_ips,
                security_groups: Some(groups),
                description: Some(tag.clone()),
                ..PortCreate::default()
            })
            .await?;
        Ok(Resource::Port { id: port.id })
    })
    .await
    .map(drop)
}

async fn manage_volume(c: &Ctx<'_>, v: &crate::dr::ids::VolumeId) -> Result<(), RecoveryError> {
    let details = c
        .job
        .spec
        .details
        .volumes
        .get(v)
        .ok_or_else(|| missing(format!("volume {v}")))?;
    let export = c.id_of(&TaskKind::ExportVolume(v.clone()))?;
    let backend = BackendVolume::parse(&export)
        .ok_or_else(|| RecoveryError::Corrupt(format!("volume export location {export:?}")))?;
    let boot = c
        .job
        .spec
        .topology
        .instances
        .iter()
        .any(|i| i.volumes.iter().any(|x| &x.id == v && x.boot));
    let project = c.project()?;
    let session = c.project_session().await?;
    let tag = c.tag(None);
    let lookup = Lookup::Volume {
        project,
        name: details.name.clone(),
    };
    let created = c
        .ensure(None, lookup, c.depends_on(), || async {
            let mut m = ManageVolume::by_source_name(&backend.host, &backend.source_name);
            m.name = Some(details.name.clone());
            m.volume_type = details.volume_type.clone();
            m.bootable = boot;
            m.metadata = tag_metadata(&tag);
            let vol = session.cinder().manage_volume(&m).await?;
            Ok(Resource::Volume { id: vol.id })
        })
        .await?;
    let Resource::Volume { id } = created else {
        return Err(RecoveryError::Corrupt(
            "manage volume recorded a non-volume".into(),
        ));
    };
    let o = c.cloud.options();
    let cinder = c.cloud.admin().cinder();
    wait_until(
        o.poll_interval,
        o.wait_timeout,
        "volume available",
        || async {
            let vol = cinder.volume(&id).await?;
            match vol.status.as_str() {
                "available" => Ok(Some(())),
                s if s.starts_with("error") => Err(RecoveryError::Cloud(format!(
                    "volume {id} ({}) went to {s} while being adopted",
                    details.name
                ))),
                _ => Ok(None),
            }
        },
    )
    .await
}

/// Waits until the server is in one of `want` (ERROR fails with Nova's fault).
async fn wait_server(
    cloud: &TargetCloud,
    id: &str,
    want: &[&str],
) -> Result<String, RecoveryError> {
    let o = cloud.options();
    let nova = cloud.admin().nova();
    wait_until(o.poll_interval, o.wait_timeout, "server state", || async {
        let s = nova.server(id).await?;
        if want.contains(&s.status.as_str()) {
            return Ok(Some(s.status));
        }
        if s.status == "ERROR" {
            let fault = s
                .extra
                .get("fault")
                .and_then(|f| f.get("message"))
                .and_then(|m| m.as_str())
                .unwrap_or("no fault message");
            return Err(RecoveryError::Cloud(format!(
                "server {id} ({}) went to ERROR: {fault}",
                s.name
            )));
        }
        Ok(None)
    })
    .await
}

async fn create_instance(c: &Ctx<'_>, i: &InstanceId) -> Result<(), RecoveryError> {
    let spec = c.instance(i)?;
    let details = c
        .job
        .spec
        .details
        .instances
        .get(i)
        .ok_or_else(|| missing(format!("the details of instance {i}")))?;
    let mut disks = Vec::new();
    let mut volumes: Vec<_> = spec.volumes.iter().collect();
    volumes.sort_by_key(|v| !v.boot);
    for v in volumes {
        let id = c.id_of(&TaskKind::ManageVolume(v.id.clone()))?;
        disks.push(BlockDeviceMapping::existing_volume(id, v.boot));
    }
    // recovered from another point than the job's: no port, no security group
    let connected = !c.job.rounds().not_connected(i);
    let mut ports = Vec::new();
    for p in spec.ports.iter().filter(|_| connected) {
        if c.task_of(&TaskKind::CreatePort(p.id.clone())).is_some() {
            ports.push(NetworkRequest {
                port: Some(c.id_of(&TaskKind::CreatePort(p.id.clone()))?),
                ..NetworkRequest::default()
            });
        }
    }
    let mut groups = BTreeSet::new();
    for g in spec.security_groups.iter().filter(|_| connected) {
        if c.task_of(&TaskKind::CreateSecurityGroup(g.clone()))
            .is_some()
        {
            groups.insert(c.id_of(&TaskKind::CreateSecurityGroup(g.clone()))?);
        }
    }
    let availability_zone = match (&details.availability_zone, &details.node) {
        (Some(az), Some(node)) => Some(format!("{az}::{node}")),
        (Some(az), None) => Some(az.clone()),
        (None, Some(node)) => Some(format!("::{node}")),
        (None, None) => None,
    };
    let project = c.project()?;
    let session = c.project_session().await?;
    let tag = c.tag(None);
    let lookup = Lookup::Instance {
        project,
        name: spec.name.clone(),
    };
    let created = c
        .ensure(None, lookup, c.depends_on(), || async {
            let s = session
                .nova()
                .create_server(&ServerCreate {
                    name: spec.name.clone(),
                    flavor_ref: details.flavor.clone(),
                    image_ref: None,
                    block_device_mapping_v2: disks,
                    networks: if ports.is_empty() {
                        Networks::None
                    } else {
                        Networks::List(ports)
                    },
                    key_name: spec.keypair.clone(),
                    availability_zone,
                    security_groups: groups.into_iter().map(|name| NamedRef { name }).collect(),
                    metadata: tag_metadata(&tag),
                })
                .await?;
            Ok(Resource::Instance { id: s.id })
        })
        .await?;
    let Resource::Instance { id } = created else {
        return Err(RecoveryError::Corrupt(
            "create instance recorded a non-instance".into(),
        ));
    };
    // built, then left stopped: boot groups start it in order
    if wait_server(c.cloud, &id, &["ACTIVE", "SHUTOFF"]).await? == "ACTIVE" {
        c.cloud.admin().nova().stop_server(&id).await?;
        wait_server(c.cloud, &id, &["SHUTOFF"]).await?;
    }
    Ok(())
}

async fn attach_fip(
    c: &Ctx<'_>,
    port: &PortId,
    address: &Option<String>,
) -> Result<(), RecoveryError> {
    let port_id = c.id_of(&TaskKind::CreatePort(port.clone()))?;
    let network = c.external_network()?;
    let project = c.project()?;
    let tag = c.tag(None);
    // a floating IP goes before the router gateway and interfaces that route it
    // (Neutron refuses to remove them while it exists)
    let mut depends_on = c.depends_on();
    for (n, t) in c.job.graph.tasks().iter().enumerate() {
        if matches!(
            t.kind,
            TaskKind::SetRouterGateway(_) | TaskKind::AddRouterInterface(..)
        ) {
            depends_on.extend(c.ledger.records_of_task(n));
        }
    }
    depends_on.sort_unstable();
    depends_on.dedup();
    let lookup = Lookup::FloatingIp {
        project: project.clone(),
    };
    let neutron = c.cloud.admin().neutron();
    c.ensure(None, lookup, depends_on, || async {
        let mut request = FloatingIpCreate {
            floating_network_id: network,
            floating_ip_address: address.clone(),
            port_id: Some(port_id),
            project_id: Some(project),
            description: Some(tag),
        };
        let fip = match neutron.create_floating_ip(&request).await {
            // the address to keep is taken on the target: pick another (protection.md)
            Err(OsError::Conflict(_) | OsError::BadRequest(_)) if address.is_some() => {
                request.floating_ip_address = None;
                neutron.create_floating_ip(&request).await?
            }
            r => r?,
        };
        Ok(Resource::FloatingIp { id: fip.id })
    })
    .await
    .map(drop)
}
