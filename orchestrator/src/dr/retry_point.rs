//! Retry from another recovery point (jobs.md, "Retry (re-recover)": "recover chosen
//! instances again ... optionally from another snapshot. Instances recovered from a
//! point other than the job's are not connected to any network (data safety)").
//!
//! A job's task graph never changes (task rows and resource tags are keyed by task
//! index). A retry from another point is a *round* recorded with the job: its
//! instances' own tasks (those serving only them) run again, at the round's point,
//! under new resource tags (generation = the round's number), and their port and
//! floating-IP tasks create nothing. What the earlier generation created for those
//! tasks is stale and is rolled back before the round runs.
//!
//! Decisions where the spec is silent:
//! - Only instances whose volumes no other instance uses can be retried from another
//!   point: a shared volume holds one point's data.
//! - A later retry from the job's point re-runs the failed tasks of such instances
//!   at the point they were last recovered from (nothing mixes two points).

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{InstanceId, PortId, VolumeId};
use super::job::RecoveryPoint;
use super::recovery_graph::{TaskGraph, TaskId, TaskKind};
use super::topology::Topology;

/// One retry from a point other than the job's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRound {
    /// The recovery point the instances are recovered from.
    pub point: RecoveryPoint,
    /// The instances.
    pub instances: BTreeSet<InstanceId>,
}

/// Why instances cannot be retried from another point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundRefusal {
    /// A volume of a chosen instance is also used by an instance not chosen.
    #[error(
        "volume {volume} of instance {instance} is also used by instance {other}: a volume holds one recovery point's data; retry both instances together, or retry from the job's point"
    )]
    SharedVolume {
        /// The volume.
        volume: VolumeId,
        /// The chosen instance.
        instance: InstanceId,
        /// The instance not chosen that uses it too.
        other: InstanceId,
    },
    /// An instance is not in the job's plan.
    #[error("instance {0} is not part of this job")]
    Unknown(InstanceId),
}

/// What a round does to the job's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundPlan {
    /// Tasks that run again (every task serving only the chosen instances).
    pub rerun: Vec<TaskId>,
    /// Of those, the tasks that create nothing: ports and floating IPs of the chosen
    /// instances (they are not connected to any network).
    pub not_connected: Vec<TaskId>,
}

/// The plan of a round retrying `instances` of `topology` (graph built from it).
pub fn plan_round(
    graph: &TaskGraph,
    topology: &Topology,
    instances: &BTreeSet<InstanceId>,
) -> Result<RoundPlan, RoundRefusal> {
    let mut users: BTreeMap<&VolumeId, BTreeSet<&InstanceId>> = BTreeMap::new();
    for i in &topology.instances {
        for v in &i.volumes {
            users.entry(&v.id).or_default().insert(&i.id);
        }
    }
    for chosen in instances {
        let Some(spec) = topology.instances.iter().find(|i| &i.id == chosen) else {
            return Err(RoundRefusal::Unknown(chosen.clone()));
        };
        for v in &spec.volumes {
            if let Some(other) = users
                .get(&v.id)
                .and_then(|u| u.iter().find(|u| !instances.contains(**u)))
            {
                return Err(RoundRefusal::SharedVolume {
                    volume: v.id.clone(),
                    instance: chosen.clone(),
                    other: (*other).clone(),
                });
            }
        }
    }
    let mut rerun = Vec::new();
    let mut not_connected = Vec::new();
    for (n, t) in graph.tasks().iter().enumerate() {
        if t.serves.is_empty() || !t.serves.is_subset(instances) {
            continue;
        }
        rerun.push(TaskId(n));
        if let Some(port) = port_of(&t.kind)
            && owner_of_port(topology, port).is_some_and(|o| instances.contains(o))
        {
            not_connected.push(TaskId(n));
        }
    }
    Ok(RoundPlan {
        rerun,
        not_connected,
    })
}

fn port_of(kind: &TaskKind) -> Option<&PortId> {
    match kind {
        TaskKind::CreatePort(p) | TaskKind::AttachFloatingIp { port: p, .. } => Some(p),
        _ => None,
    }
}

fn owner_of_port<'a>(topology: &'a Topology, port: &PortId) -> Option<&'a InstanceId> {
    topology
        .instances
        .iter()
        .find(|i| i.ports.iter().any(|p| &p.id == port))
        .map(|i| &i.id)
}

/// The rounds of a job, applied to its graph.
#[derive(Debug, Clone, Copy)]
pub struct Rounds<'a> {
    /// The rounds, oldest first (round `n` is generation `n + 1`).
    pub rounds: &'a [RetryRound],
    /// The job's topology.
    pub topology: &'a Topology,
}

impl<'a> Rounds<'a> {
    /// The generation of a task's resources: the last round whose instances cover
    /// every instance it serves (`0`: the job's own run).
    pub fn generation(&self, graph: &TaskGraph, task: TaskId) -> usize {
        let Some(t) = graph.task(task) else { return 0 };
        if t.serves.is_empty() {
            return 0;
        }
        self.rounds
            .iter()
            .rposition(|r| t.serves.is_subset(&r.instances))
            .map_or(0, |n| n + 1)
    }

    /// The last round an instance was retried in.
    pub fn round_of(&self, instance: &InstanceId) -> Option<&'a RetryRound> {
        self.rounds
            .iter()
            .rev()
            .find(|r| r.instances.contains(instance))
    }

    /// The point a volume's data comes from: that of the last round of an instance
    /// using it, or the job's.
    pub fn volume_point(
        &self,
        volume: &VolumeId,
        job_point: &'a RecoveryPoint,
    ) -> &'a RecoveryPoint {
        self.topology
            .instances
            .iter()
            .filter(|i| i.volumes.iter().any(|v| &v.id == volume))
            .filter_map(|i| {
                self.rounds
                    .iter()
                    .rposition(|r| r.instances.contains(&i.id))
            })
            .max()
            .map_or(job_point, |n| &self.rounds[n].point)
    }

    /// Whether an instance is kept off every network (recovered from another point).
    pub fn not_connected(&self, instance: &InstanceId) -> bool {
        self.round_of(instance).is_some()
    }

    /// Whether a task creates nothing: the port or floating IP of an instance that is
    /// not connected.
    pub fn creates_nothing(&self, kind: &TaskKind) -> bool {
        port_of(kind)
            .and_then(|p| owner_of_port(self.topology, p))
            .is_some_and(|i| self.not_connected(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::ids::SnapshotId;
    use crate::dr::job::JobType;
    use crate::dr::recovery_graph::Scope;
    use crate::dr::recovery_graph::fixture::shop;

    fn set(ids: &[&str]) -> BTreeSet<InstanceId> {
        ids.iter().map(|i| InstanceId::new(*i)).collect()
    }

    fn snap(s: &str) -> RecoveryPoint {
        RecoveryPoint::Snapshot(SnapshotId::new(s))
    }

    #[test]
    fn a_round_reruns_exactly_the_tasks_serving_only_its_instances() {
        let t = shop();
        let g = TaskGraph::build(&t, JobType::Dr, &Scope::All).unwrap();
        let chosen = set(&["web1"]);
        let p = plan_round(&g, &t, &chosen).unwrap();
        let kinds: Vec<String> = p
            .rerun
            .iter()
            .map(|t| g.task(*t).unwrap().kind.to_string())
            .collect();
        assert!(
            kinds.contains(&"create instance web1".to_owned()),
            "{kinds:?}"
        );
        assert!(kinds.iter().any(|k| k.contains("web1-root")), "{kinds:?}");
        assert!(kinds.iter().any(|k| k.contains("web1-port")), "{kinds:?}");
        // shared tasks (project, networks, the web security group) do not run again
        assert!(
            !kinds
                .iter()
                .any(|k| k.contains("project") || k.contains("network"))
        );
        assert!(!kinds.iter().any(|k| k.contains("web2") || k.contains("db")));
        for n in &p.rerun {
            assert!(g.task(*n).unwrap().serves.is_subset(&chosen));
        }
        // the port and the floating IP create nothing; nothing else is left out
        let none: Vec<String> = p
            .not_connected
            .iter()
            .map(|t| g.task(*t).unwrap().kind.to_string())
            .collect();
        assert_eq!(
            none,
            vec![
                "create port web1-port".to_owned(),
                "attach floating IP 203.0.113.10 to port web1-port".to_owned()
            ]
        );
    }

    #[test]
    fn a_volume_shared_with_an_instance_not_chosen_is_refused() {
        let mut t = shop();
        let shared = t.instances[0].volumes[1].clone();
        t.instances[1].volumes.push(shared);
        let g = TaskGraph::build(&t, JobType::Dr, &Scope::All).unwrap();
        let r = plan_round(&g, &t, &set(&["db"])).unwrap_err();
        assert_eq!(
            r,
            RoundRefusal::SharedVolume {
                volume: VolumeId::new("db-data"),
                instance: InstanceId::new("db"),
                other: InstanceId::new("app1"),
            }
        );
        assert!(r.to_string().contains("retry both instances together"));
        // both together are fine
        assert!(plan_round(&g, &t, &set(&["db", "app1"])).is_ok());
        assert_eq!(
            plan_round(&g, &t, &set(&["nope"])).unwrap_err(),
            RoundRefusal::Unknown(InstanceId::new("nope"))
        );
    }

    #[test]
    fn generations_points_and_connections_follow_the_last_round() {
        let t = shop();
        let g = TaskGraph::build(&t, JobType::Dr, &Scope::All).unwrap();
        let job = snap("s-job");
        let rounds = vec![
            RetryRound {
                point: snap("s-1"),
                instances: set(&["db", "app1"]),
            },
            RetryRound {
                point: snap("s-2"),
                instances: set(&["app1"]),
            },
        ];
        let r = Rounds {
            rounds: &rounds,
            topology: &t,
        };
        let task = |k: TaskKind| {
            TaskId(
                g.tasks()
                    .iter()
                    .position(|t| t.kind == k)
                    .unwrap_or_else(|| panic!("{k}")),
            )
        };
        assert_eq!(r.generation(&g, task(TaskKind::CreateProject)), 0);
        assert_eq!(
            r.generation(&g, task(TaskKind::CreateInstance(InstanceId::new("db")))),
            1
        );
        assert_eq!(
            r.generation(&g, task(TaskKind::CreateInstance(InstanceId::new("app1")))),
            2
        );
        assert_eq!(
            r.generation(&g, task(TaskKind::CreateInstance(InstanceId::new("web1")))),
            0
        );
        assert_eq!(
            r.volume_point(&VolumeId::new("db-root"), &job),
            &snap("s-1")
        );
        assert_eq!(
            r.volume_point(&VolumeId::new("app1-data"), &job),
            &snap("s-2")
        );
        assert_eq!(r.volume_point(&VolumeId::new("web1-root"), &job), &job);
        assert!(r.not_connected(&InstanceId::new("db")));
        assert!(!r.not_connected(&InstanceId::new("web1")));
        assert!(r.creates_nothing(&TaskKind::CreatePort(PortId::new("app1-port"))));
        assert!(!r.creates_nothing(&TaskKind::CreatePort(PortId::new("web1-port"))));
        assert!(!r.creates_nothing(&TaskKind::CreateInstance(InstanceId::new("db"))));
        // no round: everything is the job's
        let none = Rounds {
            rounds: &[],
            topology: &t,
        };
        assert_eq!(
            none.generation(&g, task(TaskKind::CreateInstance(InstanceId::new("db")))),
            0
        );
        assert_eq!(none.volume_point(&VolumeId::new("db-root"), &job), &job);
    }
}
