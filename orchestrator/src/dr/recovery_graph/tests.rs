use super::fixture::{run, shop};
use super::*;
use crate::dr::topology::*;
use proptest::prelude::*;

fn kinds(g: &TaskGraph) -> Vec<String> {
    g.tasks().iter().map(|t| t.kind.to_string()).collect()
}

fn find(g: &TaskGraph, k: &TaskKind) -> TaskId {
    TaskId(
        g.tasks()
            .iter()
            .position(|t| &t.kind == k)
            .expect("task present"),
    )
}

#[test]
fn dr_graph_in_spec_order() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let k = kinds(&g);
    assert_eq!(
        k[..12],
        [
            "create project",
            "add admin membership",
            "create security group web-sg",
            "create security group db-sg",
            "create rules of security group web-sg",
            "create rules of security group db-sg",
            "create keypair ops",
            "create network front",
            "create network back",
            "create subnet front-sub",
            "create subnet back-sub",
            "create router r1",
        ]
    );
    assert_eq!(k[12], "add interface front-sub to router r1");
    assert_eq!(k[14], "set external gateway of router r1");
    assert!(k[15].starts_with("create port"));
    assert!(k.contains(&"attach floating IP 203.0.113.10 to port web1-port".to_owned()));
    assert!(k.contains(&"attach a floating IP to port web2-port".to_owned()));
    // 5 ports, 10 exports + 10 manages, 5 instances, 4 started, 2 floating IPs
    assert_eq!(g.tasks().len(), 15 + 5 + 20 + 5 + 4 + 2);
    assert_eq!(g.instances().len(), 5);
    // stopped instances are not started
    assert!(
        !k.iter()
            .any(|s| s == "start instance web2 and wait for ACTIVE")
    );
}

#[test]
fn ready_tasks_start_with_the_heaviest_chains() {
    let g = TaskGraph::build(&shop(), JobType::Drill, &Scope::All).unwrap();
    let ready: Vec<TaskId> = g
        .next(&BTreeMap::new(), &BTreeSet::new())
        .into_iter()
        .map(|n| match n {
            Next::Run(t) => t,
            Next::Skip(t) => panic!("nothing fails before the start: {t:?}"),
        })
        .collect();
    let names: Vec<String> = ready
        .iter()
        .map(|t| g.task(*t).unwrap().kind.to_string())
        .collect();
    // heaviest remaining chain first
    assert!(
        ready
            .windows(2)
            .all(|w| g.heights[w[0].0] >= g.heights[w[1].0]),
        "{names:?}"
    );
    // the database boots first: the copies of its volumes lead the longest chain (its
    // build, its boot, then every later boot group's), ahead of the project's
    assert_eq!(
        names[..3],
        [
            "export volume db-root at the recovery point",
            "export volume db-data at the recovery point",
            "create project",
        ],
        "{names:?}"
    );
    // a volume of the last boot group weighs more than a single call, less than the
    // project that every instance needs
    assert!(
        names
            .iter()
            .position(|n| n.starts_with("export volume web1"))
            > names.iter().position(|n| n == "create project"),
        "{names:?}"
    );
}

#[test]
fn boot_groups_wait_for_the_previous_group() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let start = |i: &str| find(&g, &TaskKind::StartInstance(InstanceId::new(i)));
    let deps = |t: TaskId| g.task(t).unwrap().deps.clone();
    assert!(deps(start("app1")).contains(&(start("db"), DepKind::After)));
    assert!(deps(start("web1")).contains(&(start("app1"), DepKind::After)));
    assert!(deps(start("web1")).contains(&(start("app2"), DepKind::After)));
    assert!(!deps(start("web1")).iter().any(|(d, _)| *d == start("db")));
    let (_, order) = run(&g, |_| false);
    let pos = |t| order.iter().position(|x| *x == t).unwrap();
    assert!(pos(start("db")) < pos(start("app1")));
    assert!(pos(start("app2")) < pos(start("web1")));
}

#[test]
fn drills_are_isolated() {
    let mut t = shop();
    t.networks[0].target = NetworkTarget::Existing(NetworkId::new("prod-net"));
    let g = TaskGraph::build(&t, JobType::Drill, &Scope::All).unwrap();
    let k = kinds(&g);
    assert!(
        k.contains(&"create network front".to_owned()),
        "existing mapping copied in a drill"
    );
    assert!(
        !k.iter()
            .any(|s| s.contains("gateway") || s.contains("floating IP"))
    );
    // DR honours the mapping to the existing network
    let g = TaskGraph::build(&t, JobType::Dr, &Scope::All).unwrap();
    assert!(!kinds(&g).contains(&"create network front".to_owned()));
    assert!(!kinds(&g).contains(&"create subnet front-sub".to_owned()));
    // a drill allowed outside never keeps a production address
    t.drill_external_access = true;
    let g = TaskGraph::build(&t, JobType::Drill, &Scope::All).unwrap();
    let k = kinds(&g);
    assert!(k.contains(&"set external gateway of router r1".to_owned()));
    assert!(k.contains(&"attach a floating IP to port web1-port".to_owned()));
    assert!(!k.iter().any(|s| s.contains("203.0.113.10")));
}

#[test]
fn a_failed_instance_does_not_stop_the_others() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let bad = find(&g, &TaskKind::ManageVolume(VolumeId::new("db-root")));
    let (status, _) = run(&g, |t| t == bad);
    let create_db = find(&g, &TaskKind::CreateInstance(InstanceId::new("db")));
    let start_db = find(&g, &TaskKind::StartInstance(InstanceId::new("db")));
    assert_eq!(status[&create_db], TaskStatus::Skipped);
    assert_eq!(status[&start_db], TaskStatus::Skipped);
    // app waits for the db group only by order: it still starts
    let start_app = find(&g, &TaskKind::StartInstance(InstanceId::new("app1")));
    assert_eq!(status[&start_app], TaskStatus::Succeeded);
    let outcomes = g.instance_outcomes(&status).unwrap();
    assert!(!outcomes[&InstanceId::new("db")]);
    assert_eq!(outcomes.values().filter(|v| **v).count(), 4);
    assert_eq!(g.job_result(&status), Some(TasksOutcome::PartialSuccess));
}

#[test]
fn results() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let (ok, _) = run(&g, |_| false);
    assert_eq!(g.job_result(&ok), Some(TasksOutcome::Success));
    let (none, _) = run(&g, |t| t == TaskId(0));
    assert_eq!(g.job_result(&none), Some(TasksOutcome::Failed));
    assert!(none.values().filter(|s| **s == TaskStatus::Skipped).count() >= 40);
    // a shared network failing fails every instance on it
    let back = find(&g, &TaskKind::CreateNetwork(NetworkId::new("back")));
    let (s, _) = run(&g, |t| t == back);
    let o = g.instance_outcomes(&s).unwrap();
    assert_eq!(
        o.iter()
            .filter(|(_, ok)| **ok)
            .map(|(i, _)| i.as_str())
            .collect::<Vec<_>>(),
        vec!["web1", "web2"]
    );
    // not finished yet: no result
    assert_eq!(g.job_result(&BTreeMap::new()), None);
}

#[test]
fn retry_recovers_only_the_chosen_instances() {
    let chosen: BTreeSet<InstanceId> = [InstanceId::new("web1")].into();
    let g = TaskGraph::build(
        &shop(),
        JobType::Dr,
        &Scope::Retry {
            instances: chosen.clone(),
            other_point: false,
        },
    )
    .unwrap();
    assert_eq!(
        kinds(&g),
        [
            "create port web1-port",
            "export volume web1-root at the recovery point",
            "manage volume web1-root",
            "export volume web1-data at the recovery point",
            "manage volume web1-data",
            "create instance web1",
            "start instance web1 and wait for ACTIVE",
            "attach floating IP 203.0.113.10 to port web1-port",
        ]
    );
    // from another point: not connected to any network
    let g = TaskGraph::build(
        &shop(),
        JobType::Dr,
        &Scope::Retry {
            instances: chosen,
            other_point: true,
        },
    )
    .unwrap();
    assert!(
        !kinds(&g)
            .iter()
            .any(|k| k.starts_with("create port") || k.contains("floating IP"))
    );
    let unknown = Scope::Retry {
        instances: [InstanceId::new("nope")].into(),
        other_point: false,
    };
    assert_eq!(
        TaskGraph::build(&shop(), JobType::Dr, &unknown),
        Err(GraphError::Instance(InstanceId::new("nope")))
    );
}

#[test]
fn invalid_topologies_are_refused() {
    let mut t = shop();
    t.instances[0].ports[0].subnet = SubnetId::new("x");
    assert!(matches!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::UnknownSubnet { .. })
    ));
    let mut t = shop();
    t.instances[0].volumes.retain(|v| !v.boot);
    assert_eq!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::NoBootVolume(InstanceId::new("db")))
    );
    let mut t = shop();
    t.instances[1].keypair = Some("k9".into());
    assert!(matches!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::UnknownKeypair { .. })
    ));
    let mut t = shop();
    t.instances[1]
        .security_groups
        .push(SecurityGroupId::new("zz"));
    assert!(TaskGraph::build(&t, JobType::Dr, &Scope::All).is_err());
    let mut t = shop();
    t.subnets[0].network = NetworkId::new("zz");
    assert!(matches!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::UnknownNetwork { .. })
    ));
    let mut t = shop();
    t.instances.push(t.instances[0].clone());
    assert_eq!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::Instance(InstanceId::new("db")))
    );
}

#[test]
fn rules_wait_for_the_groups_they_refer_to() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let web = find(
        &g,
        &TaskKind::CreateSecurityGroup(SecurityGroupId::new("web-sg")),
    );
    let db_rules = find(
        &g,
        &TaskKind::CreateSecurityGroupRules(SecurityGroupId::new("db-sg")),
    );
    assert!(
        g.task(db_rules)
            .unwrap()
            .deps
            .contains(&(web, DepKind::Requires))
    );
    // web-sg serves db too (db's rules need it)
    assert!(g.task(web).unwrap().serves.contains(&InstanceId::new("db")));
    let mut t = shop();
    t.security_groups[1]
        .remote_groups
        .push(SecurityGroupId::new("nope"));
    assert!(matches!(
        TaskGraph::build(&t, JobType::Dr, &Scope::All),
        Err(GraphError::UnknownRemoteGroup { .. })
    ));
}

#[test]
fn a_shared_volume_is_recovered_once() {
    let mut t = shop();
    let shared = t.instances[1].volumes[1].clone();
    t.instances[2].volumes.push(shared);
    let g = TaskGraph::build(&t, JobType::Dr, &Scope::All).unwrap();
    let m = find(&g, &TaskKind::ManageVolume(VolumeId::new("app1-data")));
    assert_eq!(
        g.tasks()
            .iter()
            .filter(|x| x.kind == TaskKind::ManageVolume(VolumeId::new("app1-data")))
            .count(),
        1
    );
    assert_eq!(g.task(m).unwrap().serves.len(), 2);
    let create2 = find(&g, &TaskKind::CreateInstance(InstanceId::new("app2")));
    assert!(
        g.task(create2)
            .unwrap()
            .deps
            .contains(&(m, DepKind::Requires))
    );
}

/// A random topology built from small numbers.
pub(crate) fn arb_topology() -> impl Strategy<Value = Topology> {
    (
        1usize..4,
        prop::collection::vec(
            (
                0usize..4,
                0u8..4,
                0u8..3,
                prop::collection::vec(0usize..4, 0..3),
            ),
            1..7,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(nets, insts, gw, ext)| {
            let mut t = shop();
            t.drill_external_access = ext;
            t.networks = (0..nets)
                .map(|n| NetworkSpec {
                    id: NetworkId::new(format!("n{n}")),
                    name: format!("n{n}"),
                    target: if n == 0 {
                        NetworkTarget::Existing(NetworkId::new("t0"))
                    } else {
                        NetworkTarget::Create
                    },
                })
                .collect();
            t.subnets = (0..nets)
                .map(|n| SubnetSpec {
                    id: SubnetId::new(format!("s{n}")),
                    network: NetworkId::new(format!("n{n}")),
                    cidr: format!("10.{n}.0.0/24"),
                })
                .collect();
            t.routers[0].interfaces = (0..nets).map(|n| SubnetId::new(format!("s{n}"))).collect();
            t.routers[0].external_gateway = gw;
            t.instances = insts
                .iter()
                .enumerate()
                .map(|(i, (net, boot, fip, shared))| InstanceSpec {
                    id: InstanceId::new(format!("i{i}")),
                    name: format!("i{i}"),
                    keypair: (i % 2 == 0).then(|| "ops".to_owned()),
                    security_groups: vec![SecurityGroupId::new(if i % 3 == 0 {
                        "db-sg"
                    } else {
                        "web-sg"
                    })],
                    ports: vec![PortSpec {
                        id: PortId::new(format!("p{i}")),
                        subnet: SubnetId::new(format!("s{}", net % nets)),
                    }],
                    volumes: std::iter::once(VolumeSpec {
                        id: VolumeId::new(format!("v{i}")),
                        boot: true,
                    })
                    .chain(shared.iter().map(|s| VolumeSpec {
                        id: VolumeId::new(format!("shared{s}")),
                        boot: false,
                    }))
                    .collect(),
                    floating_ips: vec![FloatingIpSpec {
                        port: PortId::new(format!("p{i}")),
                        policy: match fip {
                            0 => FloatingIpPolicy::None,
                            1 => FloatingIpPolicy::PickAnother,
                            _ => FloatingIpPolicy::KeepSame(format!("198.51.100.{i}")),
                        },
                    }],
                    boot: if *boot == 3 {
                        Boot::Stopped
                    } else {
                        Boot::Started(u32::from(*boot))
                    },
                })
                .collect();
            t
        })
}

proptest! {
    #[test]
    fn graph_invariants(t in arb_topology(), drill in any::<bool>(), fail_mask in any::<u64>()) {
        let job_type = if drill { JobType::Drill } else { JobType::Dr };
        let g = TaskGraph::build(&t, job_type, &Scope::All).unwrap();
        for (n, task) in g.tasks().iter().enumerate() {
            for (d, kind) in &task.deps {
                // dependencies come first: the list is a topological order
                prop_assert!(d.0 < n);
                // whoever I require serves at least the instances I serve
                if *kind == DepKind::Requires {
                    prop_assert!(task.serves.is_subset(&g.task(*d).unwrap().serves));
                }
            }
            // a task's remaining chain outweighs every dependent's (ready tasks start
            // heaviest chain first)
            for (d, _) in &task.deps {
                prop_assert!(g.heights[d.0] >= g.heights[n] + g.task(*d).unwrap().kind.weight());
            }
            if drill && !t.drill_external_access {
                let outside = matches!(task.kind, TaskKind::SetRouterGateway(_) | TaskKind::AttachFloatingIp { .. });
                prop_assert!(!outside);
            }
            if drill {
                let kept = matches!(&task.kind, TaskKind::AttachFloatingIp { address: Some(_), .. });
                prop_assert!(!kept);
            }
        }
        prop_assert_eq!(g.instances().len(), t.instances.len());
        // run with random failures
        let fails = |id: TaskId| id.0 < 64 && fail_mask & (1 << id.0) != 0 && fail_mask.count_ones() < 4;
        let (status, _) = run(&g, fails);
        prop_assert_eq!(status.len(), g.tasks().len());
        for (n, task) in g.tasks().iter().enumerate() {
            let s = status[&TaskId(n)];
            let blocked = task.deps.iter().any(|(d, k)| *k == DepKind::Requires && status[d] != TaskStatus::Succeeded);
            prop_assert_eq!(s == TaskStatus::Skipped, blocked);
        }
        let outcomes = g.instance_outcomes(&status).unwrap();
        let ok = outcomes.values().filter(|v| **v).count();
        let want = if ok == outcomes.len() { TasksOutcome::Success } else if ok > 0 { TasksOutcome::PartialSuccess } else { TasksOutcome::Failed };
        prop_assert_eq!(g.job_result(&status), Some(want));
        if !status.values().any(|s| *s != TaskStatus::Succeeded) {
            prop_assert_eq!(want, TasksOutcome::Success);
        }
    }
}

#[test]
fn retry_outcomes_replace_the_old_ones() {
    let before: BTreeMap<InstanceId, bool> =
        [(InstanceId::new("a"), true), (InstanceId::new("b"), false)].into();
    let fixed: BTreeMap<InstanceId, bool> = [(InstanceId::new("b"), true)].into();
    let (all, outcome) = merge_retry(&before, &fixed);
    assert_eq!(outcome, TasksOutcome::Success);
    assert!(all.values().all(|v| *v));
    let broke: BTreeMap<InstanceId, bool> = [(InstanceId::new("a"), false)].into();
    assert_eq!(merge_retry(&before, &broke).1, TasksOutcome::Failed);
    assert_eq!(outcome_of(&before), TasksOutcome::PartialSuccess);
    assert_eq!(outcome_of(&BTreeMap::new()), TasksOutcome::Failed);
}
