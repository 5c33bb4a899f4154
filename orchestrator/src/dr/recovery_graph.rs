//! The recovery task graph (jobs.md, "What a recovery does on the target" and
//! "Failures"; "Retry (re-recover)"): which tasks a recovery runs, in which
//! dependency order, which of them may run now, which are skipped after a failure,
//! and the job's result.
//!
//! Order: project and its admin membership → security groups and their rules →
//! keypairs → networks → subnets → routers, their interfaces and external gateway →
//! ports → volumes (export by the agent at the recovery point, then Cinder manage
//! existing) → instances → boot groups in order (start, wait for ACTIVE) → floating
//! IPs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::ids::{InstanceId, NetworkId, PortId, RouterId, SecurityGroupId, SubnetId, VolumeId};
use super::job::JobType;
use super::job_state::TasksOutcome;
use super::topology::{Boot, FloatingIpPolicy, NetworkTarget, Topology};

/// A task's index in its graph (also its position in the topological order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub usize);

/// What a task does on the target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskKind {
    /// Create the project.
    CreateProject,
    /// Add the admin account to the project (operations.md, constraint 6).
    AddAdminMembership,
    /// Copy a security group.
    CreateSecurityGroup(SecurityGroupId),
    /// Copy its rules.
    CreateSecurityGroupRules(SecurityGroupId),
    /// Copy a keypair.
    CreateKeypair(String),
    /// Create a network (a copy, isolated in a drill).
    CreateNetwork(NetworkId),
    /// Create a subnet.
    CreateSubnet(SubnetId),
    /// Create a router.
    CreateRouter(RouterId),
    /// Add an interface on a subnet.
    AddRouterInterface(RouterId, SubnetId),
    /// Set the external gateway.
    SetRouterGateway(RouterId),
    /// Create a port.
    CreatePort(PortId),
    /// The agent materialises the volume's data at the recovery point.
    ExportVolume(VolumeId),
    /// Adopt it with Cinder manage-existing.
    ManageVolume(VolumeId),
    /// Create the instance (mapped flavor, AZ and node; boot volume; other volumes and
    /// ports attached), left stopped.
    CreateInstance(InstanceId),
    /// Start it and wait for ACTIVE.
    StartInstance(InstanceId),
    /// Attach a floating IP to a port (`None`: allocate any address).
    AttachFloatingIp {
        /// The port.
        port: PortId,
        /// The address to keep, if any.
        address: Option<String>,
    },
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskKind::CreateProject => write!(f, "create project"),
            TaskKind::AddAdminMembership => write!(f, "add admin membership"),
            TaskKind::CreateSecurityGroup(s) => write!(f, "create security group {s}"),
            TaskKind::CreateSecurityGroupRules(s) => {
                write!(f, "create rules of security group {s}")
            }
            TaskKind::CreateKeypair(k) => write!(f, "create keypair {k}"),
            TaskKind::CreateNetwork(n) => write!(f, "create network {n}"),
            TaskKind::CreateSubnet(s) => write!(f, "create subnet {s}"),
            TaskKind::CreateRouter(r) => write!(f, "create router {r}"),
            TaskKind::AddRouterInterface(r, s) => write!(f, "add interface {s} to router {r}"),
            TaskKind::SetRouterGateway(r) => write!(f, "set external gateway of router {r}"),
            TaskKind::CreatePort(p) => write!(f, "create port {p}"),
            TaskKind::ExportVolume(v) => write!(f, "export volume {v} at the recovery point"),
            TaskKind::ManageVolume(v) => write!(f, "manage volume {v}"),
            TaskKind::CreateInstance(i) => write!(f, "create instance {i}"),
            TaskKind::StartInstance(i) => write!(f, "start instance {i} and wait for ACTIVE"),
            TaskKind::AttachFloatingIp { port, address } => match address {
                Some(a) => write!(f, "attach floating IP {a} to port {port}"),
                None => write!(f, "attach a floating IP to port {port}"),
            },
        }
    }
}

/// How a task depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepKind {
    /// Needs it to have succeeded; skipped if it failed or was skipped.
    Requires,
    /// Only runs after it has finished, whatever its outcome (boot order).
    After,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// What it does.
    pub kind: TaskKind,
    /// What it waits for (always earlier tasks).
    pub deps: Vec<(TaskId, DepKind)>,
    /// The instances that need it: an instance is recovered only if every task
    /// serving it succeeded. Shared tasks serve every instance using them.
    pub serves: BTreeSet<InstanceId>,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Done.
    Succeeded,
    /// Failed (after the executor's own retries).
    Failed,
    /// Not run: something it requires failed or was skipped.
    Skipped,
}

/// What the executor may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// Run this task.
    Run(TaskId),
    /// Mark this task skipped.
    Skip(TaskId),
}

/// Why a topology cannot be turned into a graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A subnet of an unknown network.
    #[error("subnet {subnet} belongs to network {network}, which is not in the plan")]
    UnknownNetwork {
        /// The subnet.
        subnet: SubnetId,
        /// The network.
        network: NetworkId,
    },
    /// A reference to an unknown subnet.
    #[error("{what} refers to subnet {subnet}, which is not in the plan")]
    UnknownSubnet {
        /// Who refers to it.
        what: String,
        /// The subnet.
        subnet: SubnetId,
    },
    /// A reference to an unknown security group.
    #[error("instance {instance} uses security group {group}, which is not in the plan")]
    UnknownSecurityGroup {
        /// The instance.
        instance: InstanceId,
        /// The group.
        group: SecurityGroupId,
    },
    /// A rule refers to a group not in the plan.
    #[error(
        "the rules of security group {group} refer to security group {remote}, which is not in the plan"
    )]
    UnknownRemoteGroup {
        /// The group.
        group: SecurityGroupId,
        /// The group its rules refer to.
        remote: SecurityGroupId,
    },
    /// A reference to an unknown keypair.
    #[error("instance {instance} uses keypair {keypair}, which is not in the plan")]
    UnknownKeypair {
        /// The instance.
        instance: InstanceId,
        /// The keypair.
        keypair: String,
    },
    /// A floating IP on a port the instance does not have.
    #[error("instance {instance} has a floating IP on port {port}, which is not one of its ports")]
    UnknownPort {
        /// The instance.
        instance: InstanceId,
        /// The port.
        port: PortId,
    },
    /// An instance appears twice, or is asked for and not in the plan.
    #[error("instance {0} is not (exactly once) in the plan")]
    Instance(InstanceId),
    /// An instance without a boot volume.
    #[error("instance {0} has no boot volume in the plan")]
    NoBootVolume(InstanceId),
}

/// Which instances a graph recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole plan (a job's first run).
    All,
    /// A retry of chosen instances: shared resources exist already; only the
    /// instances' own tasks run. With `other_point`, they are not connected to any
    /// network (jobs.md, "Retry").
    Retry {
        /// The instances.
        instances: BTreeSet<InstanceId>,
        /// Recovered from a point other than the job's.
        other_point: bool,
    },
}

/// The ordered task list with dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGraph {
    tasks: Vec<Task>,
    /// Per task, the weight of the heaviest chain from it to the end of the job
    /// (itself included): ready tasks start heaviest first.
    heights: Vec<u32>,
}

impl TaskKind {
    /// A rough relative duration: a task that waits for the cloud to copy or adopt
    /// data or to build or boot an instance takes many times a single API call.
    fn weight(&self) -> u32 {
        match self {
            TaskKind::ExportVolume(_)
            | TaskKind::ManageVolume(_)
            | TaskKind::CreateInstance(_)
            | TaskKind::StartInstance(_) => 10,
            _ => 1,
        }
    }
}

/// The heaviest remaining chain of every task (dependencies always come first).
fn heights(tasks: &[Task]) -> Vec<u32> {
    let mut h: Vec<u32> = tasks.iter().map(|t| t.kind.weight()).collect();
    for n in (0..tasks.len()).rev() {
        for (d, _) in &tasks[n].deps {
            if d.0 < n {
                h[d.0] = h[d.0].max(tasks[d.0].kind.weight().saturating_add(h[n]));
            }
        }
    }
    h
}

struct Builder {
    tasks: Vec<Task>,
    index: BTreeMap<TaskKind, TaskId>,
}

impl Builder {
    fn add(
        &mut self,
        kind: TaskKind,
        deps: Vec<(TaskId, DepKind)>,
        serves: BTreeSet<InstanceId>,
    ) -> TaskId {
        let id = TaskId(self.tasks.len());
        self.index.insert(kind.clone(), id);
        self.tasks.push(Task { kind, deps, serves });
        id
    }

    fn get(&self, kind: &TaskKind) -> Option<TaskId> {
        self.index.get(kind).copied()
    }
}

fn req(ids: impl IntoIterator<Item = TaskId>) -> Vec<(TaskId, DepKind)> {
    ids.into_iter().map(|t| (t, DepKind::Requires)).collect()
}

impl TaskGraph {
    /// Builds the graph for a job (jobs.md, "What a recovery does on the target").
    ///
    /// Drill isolation: unless `drill_external_access`, a drill creates every network
    /// as an isolated copy (even those mapped to an existing target network), sets no
    /// router gateway and attaches no floating IP. With external access a drill still
    /// never keeps a production address: floating IPs are allocated anew.
    pub fn build(
        topology: &Topology,
        job_type: JobType,
        scope: &Scope,
    ) -> Result<TaskGraph, GraphError> {
        let drill = job_type == JobType::Drill;
        let isolated = drill && !topology.drill_external_access;
        // validate references and compute who needs what
        let mut seen = BTreeSet::new();
        for i in &topology.instances {
            if !seen.insert(&i.id) {
                return Err(GraphError::Instance(i.id.clone()));
            }
            if !i.volumes.iter().any(|v| v.boot) {
                return Err(GraphError::NoBootVolume(i.id.clone()));
            }
        }
        let (chosen, other_point) = match scope {
            Scope::All => (
                topology
                    .instances
                    .iter()
                    .map(|i| i.id.clone())
                    .collect::<BTreeSet<_>>(),
                false,
            ),
            Scope::Retry {
                instances,
                other_point,
            } => {
                if let Some(i) = instances.iter().find(|i| !seen.contains(i)) {
                    return Err(GraphError::Instance((*i).clone()));
                }
                (instances.clone(), *other_point)
            }
        };
        let retry = matches!(scope, Scope::Retry { .. });
        let net_of_subnet: BTreeMap<&SubnetId, &NetworkId> = topology
            .subnets
            .iter()
            .map(|s| (&s.id, &s.network))
            .collect();
        let networks: BTreeMap<&NetworkId, &NetworkTarget> = topology
            .networks
            .iter()
            .map(|n| (&n.id, &n.target))
            .collect();
        for s in &topology.subnets {
            if !networks.contains_key(&s.network) {
                return Err(GraphError::UnknownNetwork {
                    subnet: s.id.clone(),
                    network: s.network.clone(),
                });
            }
        }
        let sgs: BTreeSet<&SecurityGroupId> =
            topology.security_groups.iter().map(|s| &s.id).collect();
        let mut users_of_subnet: BTreeMap<&SubnetId, BTreeSet<InstanceId>> = BTreeMap::new();
        let mut users_of_sg: BTreeMap<&SecurityGroupId, BTreeSet<InstanceId>> = BTreeMap::new();
        let mut users_of_key: BTreeMap<&str, BTreeSet<InstanceId>> = BTreeMap::new();
        for i in &topology.instances {
            for p in &i.ports {
                if !net_of_subnet.contains_key(&p.subnet) {
                    return Err(GraphError::UnknownSubnet {
                        what: format!("port {} of instance {}", p.id, i.id),
                        subnet: p.subnet.clone(),
                    });
                }
                users_of_subnet
                    .entry(&p.subnet)
                    .or_default()
                    .insert(i.id.clone());
            }
            for g in &i.security_groups {
                if !sgs.contains(g) {
                    return Err(GraphError::UnknownSecurityGroup {
                        instance: i.id.clone(),
                        group: g.clone(),
                    });
                }
                users_of_sg.entry(g).or_default().insert(i.id.clone());
            }
            if let Some(k) = &i.keypair {
                if !topology.keypairs.contains(k) {
                    return Err(GraphError::UnknownKeypair {
                        instance: i.id.clone(),
                        keypair: k.clone(),
                    });
                }
                users_of_key
                    .entry(k.as_str())
                    .or_default()
                    .insert(i.id.clone());
            }
            for f in &i.floating_ips {
                if !i.ports.iter().any(|p| p.id == f.port) {
                    return Err(GraphError::UnknownPort {
                        instance: i.id.clone(),
                        port: f.port.clone(),
                    });
                }
            }
        }
        for r in &topology.routers {
            for s in &r.interfaces {
                if !net_of_subnet.contains_key(s) {
                    return Err(GraphError::UnknownSubnet {
                        what: format!("router {}", r.id),
                        subnet: s.clone(),
                    });
                }
            }
        }
        // a group serves its users and the users of every group whose rules refer to it
        let mut sg_serves = users_of_sg.clone();
        for g in &topology.security_groups {
            for r in &g.remote_groups {
                if !sgs.contains(r) {
                    return Err(GraphError::UnknownRemoteGroup {
                        group: g.id.clone(),
                        remote: r.clone(),
                    });
                }
                let users = users_of_sg.get(&g.id).cloned().unwrap_or_default();
                sg_serves.entry(r).or_default().extend(users);
            }
        }
        let mut users_of_net: BTreeMap<&NetworkId, BTreeSet<InstanceId>> = BTreeMap::new();
        for (s, users) in &users_of_subnet {
            if let Some(n) = net_of_subnet.get(s) {
                users_of_net
                    .entry(n)
                    .or_default()
                    .extend(users.iter().cloned());
            }
        }
        let creates_network =
            |n: &NetworkId| isolated || matches!(networks.get(n), Some(NetworkTarget::Create));
        let all: BTreeSet<InstanceId> = topology.instances.iter().map(|i| i.id.clone()).collect();

        let mut b = Builder {
            tasks: Vec::new(),
            index: BTreeMap::new(),
        };
        let mut base = Vec::new();
        if !retry {
            let project = b.add(TaskKind::CreateProject, vec![], all.clone());
            let member = b.add(TaskKind::AddAdminMembership, req([project]), all.clone());
            base = vec![member];
            // every group first, then the rules: a rule may refer to another group
            for g in &topology.security_groups {
                let serves = sg_serves.get(&g.id).cloned().unwrap_or_default();
                b.add(
                    TaskKind::CreateSecurityGroup(g.id.clone()),
                    req([member]),
                    serves,
                );
            }
            for g in &topology.security_groups {
                let serves = users_of_sg.get(&g.id).cloned().unwrap_or_default();
                let deps = std::iter::once(&g.id)
                    .chain(&g.remote_groups)
                    .filter_map(|r| b.get(&TaskKind::CreateSecurityGroup(r.clone())));
                b.add(
                    TaskKind::CreateSecurityGroupRules(g.id.clone()),
                    req(deps.collect::<Vec<_>>()),
                    serves,
                );
            }
            for k in &topology.keypairs {
                let serves = users_of_key.get(k.as_str()).cloned().unwrap_or_default();
                b.add(TaskKind::CreateKeypair(k.clone()), req([member]), serves);
            }
            for n in &topology.networks {
                if creates_network(&n.id) {
                    let serves = users_of_net.get(&n.id).cloned().unwrap_or_default();
                    b.add(TaskKind::CreateNetwork(n.id.clone()), req([member]), serves);
                }
            }
            for s in &topology.subnets {
                if let Some(net) = b.get(&TaskKind::CreateNetwork(s.network.clone())) {
                    let serves = users_of_subnet.get(&s.id).cloned().unwrap_or_default();
                    b.add(TaskKind::CreateSubnet(s.id.clone()), req([net]), serves);
                }
            }
            for r in &topology.routers {
                let subnets: Vec<(&SubnetId, TaskId)> = r
                    .interfaces
                    .iter()
                    .filter_map(|s| b.get(&TaskKind::CreateSubnet(s.clone())).map(|t| (s, t)))
                    .collect();
                let gateway = r.external_gateway && !isolated;
                if subnets.is_empty() && !gateway {
                    continue;
                }
                let serves: BTreeSet<InstanceId> = subnets
                    .iter()
                    .flat_map(|(s, _)| users_of_subnet.get(s).cloned().unwrap_or_default())
                    .collect();
                let router = b.add(
                    TaskKind::CreateRouter(r.id.clone()),
                    req([member]),
                    serves.clone(),
                );
                for (s, t) in subnets {
                    let serves = users_of_subnet.get(s).cloned().unwrap_or_default();
                    b.add(
                        TaskKind::AddRouterInterface(r.id.clone(), s.clone()),
                        req([router, t]),
                        serves,
                    );
                }
                if gateway {
                    b.add(
                        TaskKind::SetRouterGateway(r.id.clone()),
                        req([router]),
                        serves,
                    );
                }
            }
        }
        let connected = !other_point;
        let in_scope: Vec<_> = topology
            .instances
            .iter()
            .filter(|i| chosen.contains(&i.id))
            .collect();
        // ports
        for i in &in_scope {
            if !connected {
                continue;
            }
            for p in &i.ports {
                let mut deps = base.clone();
                if let Some(s) = b.get(&TaskKind::CreateSubnet(p.subnet.clone())) {
                    deps.push(s);
                }
                for g in &i.security_groups {
                    if let Some(t) = b.get(&TaskKind::CreateSecurityGroupRules(g.clone())) {
                        deps.push(t);
                    }
                }
                b.add(
                    TaskKind::CreatePort(p.id.clone()),
                    req(deps),
                    [i.id.clone()].into(),
                );
            }
        }
        // volumes
        // (a volume shared by several instances is recovered once and serves them all)
        let mut users_of_volume: BTreeMap<&VolumeId, BTreeSet<InstanceId>> = BTreeMap::new();
        for i in &in_scope {
            for v in &i.volumes {
                users_of_volume
                    .entry(&v.id)
                    .or_default()
                    .insert(i.id.clone());
            }
        }
        for i in &in_scope {
            for v in &i.volumes {
                if b.get(&TaskKind::ManageVolume(v.id.clone())).is_some() {
                    continue;
                }
                let serves = users_of_volume.get(&v.id).cloned().unwrap_or_default();
                let export = b.add(TaskKind::ExportVolume(v.id.clone()), vec![], serves.clone());
                let mut deps = base.clone();
                deps.push(export);
                b.add(TaskKind::ManageVolume(v.id.clone()), req(deps), serves);
            }
        }
        // instances
        for i in &in_scope {
            let mut deps = base.clone();
            for v in &i.volumes {
                deps.extend(b.get(&TaskKind::ManageVolume(v.id.clone())));
            }
            if connected {
                for p in &i.ports {
                    deps.extend(b.get(&TaskKind::CreatePort(p.id.clone())));
                }
            }
            if let Some(k) = &i.keypair {
                deps.extend(b.get(&TaskKind::CreateKeypair(k.clone())));
            }
            for g in &i.security_groups {
                deps.extend(b.get(&TaskKind::CreateSecurityGroupRules(g.clone())));
            }
            b.add(
                TaskKind::CreateInstance(i.id.clone()),
                req(deps),
                [i.id.clone()].into(),
            );
        }
        // boot groups, in order: a group starts when every instance of the previous
        // group is running or has failed (a failed instance does not stop the others)
        let mut orders: Vec<u32> = in_scope
            .iter()
            .filter_map(|i| match i.boot {
                Boot::Started(o) => Some(o),
                Boot::Stopped => None,
            })
            .collect();
        orders.sort_unstable();
        orders.dedup();
        let mut previous: Vec<TaskId> = Vec::new();
        for o in orders {
            let mut this = Vec::new();
            for i in in_scope.iter().filter(|i| i.boot == Boot::Started(o)) {
                let Some(create) = b.get(&TaskKind::CreateInstance(i.id.clone())) else {
                    continue;
                };
                let mut deps = req([create]);
                deps.extend(previous.iter().map(|t| (*t, DepKind::After)));
                this.push(b.add(
                    TaskKind::StartInstance(i.id.clone()),
                    deps,
                    [i.id.clone()].into(),
                ));
            }
            previous = this;
        }
        // floating IPs
        if connected && !isolated {
            for i in &in_scope {
                for f in &i.floating_ips {
                    let address = match &f.policy {
                        FloatingIpPolicy::None => continue,
                        FloatingIpPolicy::KeepSame(a) if !drill => Some(a.clone()),
                        FloatingIpPolicy::KeepSame(_) | FloatingIpPolicy::PickAnother => None,
                    };
                    let mut deps = Vec::new();
                    deps.extend(b.get(&TaskKind::CreatePort(f.port.clone())));
                    deps.extend(b.get(&TaskKind::CreateInstance(i.id.clone())));
                    deps.extend(b.get(&TaskKind::StartInstance(i.id.clone())));
                    b.add(
                        TaskKind::AttachFloatingIp {
                            port: f.port.clone(),
                            address,
                        },
                        req(deps),
                        [i.id.clone()].into(),
                    );
                }
            }
        }
        Ok(TaskGraph {
            heights: heights(&b.tasks),
            tasks: b.tasks,
        })
    }

    /// The tasks in a topological order (every dependency comes first).
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// One task.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(id.0)
    }

    /// The instances the graph recovers.
    pub fn instances(&self) -> BTreeSet<InstanceId> {
        self.tasks
            .iter()
            .filter_map(|t| match &t.kind {
                TaskKind::CreateInstance(i) => Some(i.clone()),
                _ => None,
            })
            .collect()
    }

    /// What the executor may do now, given the statuses so far and the tasks in
    /// flight: run every task whose dependencies are finished (its `Requires`
    /// dependencies succeeded), skip every task one of whose `Requires` dependencies
    /// failed or was skipped (jobs.md, "a failed instance does not stop the others").
    /// Tasks to run come heaviest remaining chain first (then in graph order), so that
    /// an executor bounded in concurrency starts the long chains — volume copies,
    /// instance builds — before the single calls that can wait.
    pub fn next(
        &self,
        status: &BTreeMap<TaskId, TaskStatus>,
        running: &BTreeSet<TaskId>,
    ) -> Vec<Next> {
        let mut out = Vec::new();
        for (n, t) in self.tasks.iter().enumerate() {
            let id = TaskId(n);
            if status.contains_key(&id) || running.contains(&id) {
                continue;
            }
            let mut ready = true;
            let mut skip = false;
            for (d, kind) in &t.deps {
                match (status.get(d), kind) {
                    (None, _) => ready = false,
                    (Some(TaskStatus::Succeeded), _) | (Some(_), DepKind::After) => {}
                    (Some(TaskStatus::Failed | TaskStatus::Skipped), DepKind::Requires) => {
                        skip = true
                    }
                }
            }
            if skip {
                out.push(Next::Skip(id));
            } else if ready {
                out.push(Next::Run(id));
            }
        }
        out.sort_by_key(|n| match n {
            Next::Skip(t) => (0, std::cmp::Reverse(0), t.0),
            Next::Run(t) => (1, std::cmp::Reverse(self.heights[t.0]), t.0),
        });
        out
    }

    /// Per instance: recovered (every task serving it succeeded) or not. `None`
    /// until every task has a status.
    pub fn instance_outcomes(
        &self,
        status: &BTreeMap<TaskId, TaskStatus>,
    ) -> Option<BTreeMap<InstanceId, bool>> {
        let mut out: BTreeMap<InstanceId, bool> =
            self.instances().into_iter().map(|i| (i, true)).collect();
        for (n, t) in self.tasks.iter().enumerate() {
            let ok = *status.get(&TaskId(n))? == TaskStatus::Succeeded;
            if !ok {
                for i in &t.serves {
                    if let Some(v) = out.get_mut(i) {
                        *v = false;
                    }
                }
            }
        }
        Some(out)
    }

    /// The job's result once every task has a status (jobs.md, "Failures"): success
    /// if every instance recovered, partial_success if some did, failed if none did.
    pub fn job_result(&self, status: &BTreeMap<TaskId, TaskStatus>) -> Option<TasksOutcome> {
        Some(outcome_of(&self.instance_outcomes(status)?))
    }
}

/// The result for per-instance outcomes (jobs.md, "Failures"): success if every
/// instance recovered, partial_success if some did, failed if none did (or there
/// is no instance).
pub fn outcome_of(outcomes: &BTreeMap<InstanceId, bool>) -> TasksOutcome {
    let ok = outcomes.values().filter(|v| **v).count();
    if ok == outcomes.len() && ok > 0 {
        TasksOutcome::Success
    } else if ok > 0 {
        TasksOutcome::PartialSuccess
    } else {
        TasksOutcome::Failed
    }
}

/// After a retry (jobs.md, "Retry (re-recover)"): the retried instances' new
/// outcomes replace their old ones; the job's result is computed over all of them.
pub fn merge_retry(
    before: &BTreeMap<InstanceId, bool>,
    retried: &BTreeMap<InstanceId, bool>,
) -> (BTreeMap<InstanceId, bool>, TasksOutcome) {
    let mut all = before.clone();
    all.extend(retried.iter().map(|(i, ok)| (i.clone(), *ok)));
    let outcome = outcome_of(&all);
    (all, outcome)
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::tests::arb_topology;
}
