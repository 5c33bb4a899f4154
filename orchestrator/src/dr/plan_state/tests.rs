use super::*;
use crate::dr::capacity::{Ratios, Resources};
use crate::dr::ids::{InstanceId, NodeId};
use proptest::prelude::*;

fn res(vcpus: u64, ram_mb: u64) -> Resources {
    Resources {
        vcpus,
        ram_mb,
        disk_gb: 0,
    }
}

fn healthy() -> PlanFacts {
    PlanFacts {
        source: ClusterStatus::Active,
        target: ClusterStatus::Active,
        volumes: vec![VolumeFacts {
            id: VolumeId::new("v1"),
            name: "db-data".into(),
            replication: Replication::Mirroring,
        }],
        first_snapshot_taken: true,
        unmapped_instances: vec![],
        unmapped_volumes: vec![],
        mapping_issues: vec![],
        instances: vec![InstanceNeeds {
            id: InstanceId::new("i1"),
            name: "db".into(),
            needs: res(2, 4096),
            placement: NodeMapping::Node(NodeId::new("n1")),
        }],
        nodes: vec![NodeFacts {
            id: NodeId::new("n1"),
            zone: "nova".into(),
            allocatable: res(4, 8192),
            used: Resources::default(),
            ratios: Ratios::Synced,
        }],
        retention: Retention::parse(2).unwrap(),
        source_bytes: 100,
        target_storage_bytes: 400,
        jobs_in_progress: vec![],
        own_jobs: OwnJobsHold::default(),
    }
}

#[test]
fn healthy_plan_is_normal_without_reasons() {
    assert_eq!(
        evaluate(&healthy()),
        PlanStatus {
            state: PlanState::Normal,
            reasons: vec![]
        }
    );
}

#[test]
fn each_condition_alone() {
    type Change = Box<dyn Fn(&mut PlanFacts)>;
    let cases: Vec<(Change, PlanState, Reason)> = vec![
        (
            Box::new(|f| f.target = ClusterStatus::Inactive),
            PlanState::Critical,
            Reason::TargetInactive,
        ),
        (
            Box::new(|f| f.source = ClusterStatus::Inactive),
            PlanState::Emergency,
            Reason::SourceInactive,
        ),
        (
            Box::new(|f| f.volumes[0].replication = Replication::InitialCopy { percent: 40 }),
            PlanState::Prepare,
            Reason::InitialCopy {
                name: "db-data".into(),
                percent: 40,
            },
        ),
        (
            Box::new(|f| f.volumes[0].replication = Replication::Flattening),
            PlanState::Prepare,
            Reason::Flattening {
                name: "db-data".into(),
            },
        ),
        (
            Box::new(|f| f.first_snapshot_taken = false),
            PlanState::Prepare,
            Reason::FirstSnapshotPending,
        ),
        (
            Box::new(|f| f.volumes[0].replication = Replication::Broken),
            PlanState::Prepare,
            Reason::MirroringBroken {
                name: "db-data".into(),
            },
        ),
        (
            Box::new(|f| f.unmapped_instances = vec!["web-3".into()]),
            PlanState::Warning,
            Reason::UnmappedInstance {
                name: "web-3".into(),
            },
        ),
        (
            Box::new(|f| f.unmapped_volumes = vec!["logs".into()]),
            PlanState::Warning,
            Reason::UnmappedVolume {
                name: "logs".into(),
            },
        ),
        (
            Box::new(|f| f.mapping_issues = vec![MappingIssue::ZoneGone { zone: "az2".into() }]),
            PlanState::Warning,
            Reason::Mapping(MappingIssue::ZoneGone { zone: "az2".into() }),
        ),
        (
            Box::new(|f| f.instances[0].needs.vcpus = 5),
            PlanState::Warning,
            Reason::Capacity(CapacityIssue::Node {
                node: NodeId::new("n1"),
                need: res(5, 4096),
                free: res(4, 8192),
                ratios: Ratios::Synced,
            }),
        ),
        (
            Box::new(|f| f.target_storage_bytes = 399),
            PlanState::Warning,
            Reason::StorageShort {
                need: 400,
                source_bytes: 100,
                retention: 2,
                available: 399,
            },
        ),
        (
            Box::new(|f| f.jobs_in_progress = vec![JobId::new("j1")]),
            PlanState::Warning,
            Reason::JobInProgress(JobId::new("j1")),
        ),
        (
            Box::new(|f| f.instances[0].placement = NodeMapping::Node(NodeId::new("gone"))),
            PlanState::Warning,
            Reason::Capacity(CapacityIssue::UnknownNode {
                name: "db".into(),
                node: NodeId::new("gone"),
            }),
        ),
    ];
    for (change, state, reason) in cases {
        let mut f = healthy();
        change(&mut f);
        let got = evaluate(&f);
        assert_eq!(got.state, state, "{reason}");
        assert_eq!(got.reasons, vec![reason]);
    }
}

#[test]
fn any_in_zone_capacity() {
    let mut f = healthy();
    f.nodes.push(NodeFacts {
        id: NodeId::new("n2"),
        zone: "nova".into(),
        allocatable: res(2, 2048),
        used: Resources::default(),
        ratios: Ratios::Synced,
    });
    f.instances.push(InstanceNeeds {
        id: InstanceId::new("i2"),
        name: "web".into(),
        needs: res(3, 1024),
        placement: NodeMapping::AnyInZone("nova".into()),
    });
    // zone: 6 free vCPUs, 2 + 3 needed; n1 has 4 free so web fits there
    assert_eq!(evaluate(&f).state, PlanState::Normal);
    f.instances[1].needs.vcpus = 5;
    let r = evaluate(&f).reasons;
    assert!(
        matches!(r[0], Reason::Capacity(CapacityIssue::FitsNoNode { .. })),
        "{r:?}"
    );
    assert!(
        matches!(
            &r[1],
            Reason::Capacity(CapacityIssue::Zone { need, free, .. })
                if need.vcpus == 7 && free.vcpus == 6
        ),
        "{r:?}"
    );
    f.instances[1].placement = NodeMapping::AnyInZone("elsewhere".into());
    let r = evaluate(&f).reasons;
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[1].to_string()
            .contains("availability zone elsewhere cannot host")
    );
}

#[test]
fn precedence() {
    // both clusters down: Critical, and both reasons shown
    let mut f = healthy();
    f.source = ClusterStatus::Inactive;
    f.target = ClusterStatus::Inactive;
    let s = evaluate(&f);
    assert_eq!(s.state, PlanState::Critical);
    assert_eq!(
        s.reasons,
        vec![Reason::TargetInactive, Reason::SourceInactive]
    );
    // source down + broken mirror + warning: Emergency (DR is needed now)
    let mut f = healthy();
    f.source = ClusterStatus::Inactive;
    f.volumes[0].replication = Replication::Broken;
    f.unmapped_instances = vec!["x".into()];
    let s = evaluate(&f);
    assert_eq!(s.state, PlanState::Emergency);
    assert_eq!(s.reasons.len(), 3);
    // source down before the initial copy finished: Prepare (nothing complete to recover)
    let mut f = healthy();
    f.source = ClusterStatus::Inactive;
    f.volumes[0].replication = Replication::InitialCopy { percent: 99 };
    assert_eq!(evaluate(&f).state, PlanState::Prepare);
    // broken mirror beats warnings
    let mut f = healthy();
    f.volumes[0].replication = Replication::Broken;
    f.jobs_in_progress = vec![JobId::new("j")];
    assert_eq!(evaluate(&f).state, PlanState::Prepare);
}

#[test]
fn messages_are_actionable() {
    let mut f = healthy();
    f.unmapped_instances = vec!["web-3".into()];
    f.target_storage_bytes = 1;
    let msgs: Vec<String> = evaluate(&f)
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        msgs[0],
        "instance web-3 was added to the group and is not mapped: edit and save the plan"
    );
    assert!(
        msgs[1].contains("add storage or lower the retention"),
        "{}",
        msgs[1]
    );
    assert!(PlanState::Emergency.jobs_allowed());
    assert!(!PlanState::Warning.jobs_allowed());
}

fn arb_facts() -> impl Strategy<Value = PlanFacts> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(0u8..4, 0..4),
        any::<bool>(),
        0usize..3,
        prop::collection::vec((0u64..8, 0u64..9000, prop::option::of(0u8..3)), 0..5),
        0u64..1000,
        0u64..1000,
        0usize..2,
    )
        .prop_map(
            |(src, tgt, vols, snap, unmapped, inst, sb, tb, jobs)| PlanFacts {
                source: if src {
                    ClusterStatus::Active
                } else {
                    ClusterStatus::Inactive
                },
                target: if tgt {
                    ClusterStatus::Active
                } else {
                    ClusterStatus::Inactive
                },
                volumes: vols
                    .iter()
                    .enumerate()
                    .map(|(i, r)| VolumeFacts {
                        id: VolumeId::new(format!("v{i}")),
                        name: format!("v{i}"),
                        replication: match r {
                            0 => Replication::InitialCopy { percent: 50 },
                            1 => Replication::Flattening,
                            2 => Replication::Broken,
                            _ => Replication::Mirroring,
                        },
                    })
                    .collect(),
                first_snapshot_taken: snap,
                unmapped_instances: (0..unmapped).map(|i| format!("u{i}")).collect(),
                unmapped_volumes: vec![],
                mapping_issues: vec![],
                instances: inst
                    .iter()
                    .enumerate()
                    .map(|(i, (c, r, n))| InstanceNeeds {
                        id: InstanceId::new(format!("i{i}")),
                        name: format!("i{i}"),
                        needs: res(*c, *r),
                        placement: match n {
                            Some(n) => NodeMapping::Node(NodeId::new(format!("n{n}"))),
                            None => NodeMapping::AnyInZone("nova".into()),
                        },
                    })
                    .collect(),
                nodes: (0..2)
                    .map(|n| NodeFacts {
                        id: NodeId::new(format!("n{n}")),
                        zone: "nova".into(),
                        allocatable: res(8, 8192),
                        used: Resources::default(),
                        ratios: Ratios::Synced,
                    })
                    .collect(),
                retention: Retention::parse(3).unwrap(),
                source_bytes: sb,
                target_storage_bytes: tb,
                jobs_in_progress: (0..jobs).map(|j| JobId::new(format!("j{j}"))).collect(),
                own_jobs: OwnJobsHold::default(),
            },
        )
}

proptest! {
    #[test]
    fn state_and_reasons_agree(f in arb_facts()) {
        let s = evaluate(&f);
        // Normal exactly when there is no reason
        prop_assert_eq!(s.state == PlanState::Normal, s.reasons.is_empty());
        // the spec's hard rules
        prop_assert_eq!(s.state == PlanState::Critical, f.target == ClusterStatus::Inactive);
        if s.state == PlanState::Emergency {
            prop_assert_eq!(f.source, ClusterStatus::Inactive);
        }
        if f.target == ClusterStatus::Active && f.source == ClusterStatus::Inactive
            && f.first_snapshot_taken
            && f.volumes.iter().all(|v| !matches!(v.replication, Replication::InitialCopy { .. } | Replication::Flattening))
        {
            prop_assert_eq!(s.state, PlanState::Emergency);
        }
        // an inactive cluster is always among the reasons
        prop_assert_eq!(s.reasons.contains(&Reason::SourceInactive), f.source == ClusterStatus::Inactive);
        // every reason has a message
        for r in &s.reasons {
            prop_assert!(!r.to_string().is_empty());
        }
    }
}

/// `healthy()` with node n1 fully used: by the plan's own drill (`own` of it) and by
/// others (the rest).
fn n1_used(used: Resources, own: Option<Resources>) -> PlanFacts {
    let mut f = healthy();
    f.nodes[0].used = used;
    if let Some(own) = own {
        f.own_jobs.on_nodes.insert(NodeId::new("n1"), own);
    }
    f
}

fn capacity_reasons(f: &PlanFacts) -> Vec<Reason> {
    evaluate(f)
        .reasons
        .into_iter()
        .filter(|r| matches!(r, Reason::Capacity(_)))
        .collect()
}

#[test]
fn own_drill_instances_do_not_take_the_plans_capacity() {
    // n1: 4 vCPUs / 8192 MiB, all used by the plan's own drill (its db, 2 vCPUs, and
    // an earlier instance); the plan needs 2 vCPUs / 4096 MiB there
    let f = n1_used(res(4, 8192), Some(res(2, 4096)));
    assert_eq!(evaluate(&f).state, PlanState::Normal, "{:?}", evaluate(&f));
    // the same usage by anyone else is a shortfall
    let f = n1_used(res(4, 8192), None);
    assert_eq!(evaluate(&f).state, PlanState::Warning);
    assert!(matches!(
        capacity_reasons(&f)[..],
        [Reason::Capacity(CapacityIssue::Node { free, .. })] if free == res(0, 0)
    ));
}

#[test]
fn another_plans_drill_still_takes_capacity() {
    // n1 holds the plan's own drill (2 vCPUs) and another plan's (2 vCPUs): only
    // the own one is given back, so 2 vCPUs are free, and the plan needs 3
    let mut f = n1_used(res(4, 8192), Some(res(2, 4096)));
    f.instances[0].needs = res(3, 4096);
    let got = capacity_reasons(&f);
    assert!(
        matches!(
            got[..],
            [Reason::Capacity(CapacityIssue::Node { free, .. })] if free == res(2, 4096)
        ),
        "{got:?}"
    );
    // what the own drill holds on another node frees nothing on n1
    let mut f = n1_used(res(4, 8192), None);
    f.own_jobs.on_nodes.insert(NodeId::new("n2"), res(4, 8192));
    assert_eq!(capacity_reasons(&f).len(), 1);
}

#[test]
fn own_drill_on_an_overcommitted_node_frees_only_what_was_over() {
    // n1 is 4 vCPUs over (8 used of 4); the own drill's 2 leave it 2 over: nothing free
    let f = n1_used(res(8, 8192), Some(res(2, 0)));
    let got = capacity_reasons(&f);
    assert!(
        matches!(
            got[..],
            [Reason::Capacity(CapacityIssue::Node { free, .. })] if free.vcpus == 0
        ),
        "{got:?}"
    );
    // the own drill never counts below zero
    let f = n1_used(res(1, 1024), Some(res(3, 8192)));
    assert_eq!(evaluate(&f).state, PlanState::Normal);
}

#[test]
fn own_drill_project_is_no_taken_project_name() {
    let taken = MappingIssue::ProjectNameTaken {
        name: "shop-dr".into(),
    };
    let mut f = healthy();
    f.mapping_issues = vec![taken.clone()];
    f.own_jobs.projects.insert("shop-dr".into());
    assert_eq!(evaluate(&f).state, PlanState::Normal);
    // a project of that name the plan's jobs did not create is a reason
    f.own_jobs.projects = ["shop-dr-drill-1a2b".to_owned()].into();
    assert_eq!(evaluate(&f).reasons, vec![Reason::Mapping(taken)]);
}

#[test]
fn own_drill_address_is_no_address_in_use() {
    let taken = |a: &str| MappingIssue::FloatingIpTaken { address: a.into() };
    let mut f = healthy();
    f.mapping_issues = vec![taken("203.0.113.10"), taken("203.0.113.11")];
    f.own_jobs.addresses.insert("203.0.113.10".into());
    // the address held by someone else stays a reason
    assert_eq!(
        evaluate(&f).reasons,
        vec![Reason::Mapping(taken("203.0.113.11"))]
    );
    f.own_jobs.addresses.insert("203.0.113.11".into());
    assert_eq!(evaluate(&f).state, PlanState::Normal);
}

#[test]
fn own_jobs_leave_other_mapping_issues_alone() {
    let mut f = healthy();
    f.own_jobs.projects.insert("az2".into());
    f.own_jobs.addresses.insert("az2".into());
    f.mapping_issues = vec![MappingIssue::ZoneGone { zone: "az2".into() }];
    assert_eq!(evaluate(&f).state, PlanState::Warning);
}
