use super::*;

fn view() -> PlanView {
    PlanView {
        project_name: "shop-dr".into(),
        zones: ["nova".to_owned()].into(),
        nodes: [NodeId::new("n1")].into(),
        external_networks: [NetworkId::new("ext")].into(),
        target_networks: [NetworkId::new("tnet")].into(),
        external_subnets: [SubnetId::new("ext-sub")].into(),
        kept_addresses: [("203.0.113.5".to_owned(), InstanceId::new("web"))].into(),
        volume_types: ["ceph".to_owned()].into(),
        networks: [NetworkId::new("net")].into(),
        subnets: [SubnetId::new("sub")].into(),
        routers: [RouterId::new("r1")].into(),
        instances: [InstanceId::new("web"), InstanceId::new("db")].into(),
    }
}

#[test]
fn every_reaction_of_the_spec_list() {
    use MappingIssue as I;
    use MappingUpdate as U;
    use Reaction as R;
    use ResourceChange as C;
    let i = InstanceId::new;
    let n = NetworkId::new;
    let cases: Vec<(C, R)> = vec![
        (
            C::TargetProjectAdded {
                name: "shop-dr".into(),
            },
            R::Warn(I::ProjectNameTaken {
                name: "shop-dr".into(),
            }),
        ),
        (
            C::TargetProjectAdded {
                name: "other".into(),
            },
            R::Nothing,
        ),
        (
            C::TargetProjectRenamed {
                from: "x".into(),
                to: "shop-dr".into(),
            },
            R::Warn(I::ProjectNameTaken {
                name: "shop-dr".into(),
            }),
        ),
        (
            C::TargetProjectRenamed {
                from: "shop-dr".into(),
                to: "y".into(),
            },
            R::Nothing,
        ),
        (
            C::TargetProjectRemoved {
                name: "shop-dr".into(),
            },
            R::Nothing,
        ),
        (
            C::TargetZoneRemoved {
                zone: "nova".into(),
            },
            R::Warn(I::ZoneGone {
                zone: "nova".into(),
            }),
        ),
        (C::TargetZoneRemoved { zone: "az9".into() }, R::Nothing),
        (
            C::TargetNodeAdded {
                node: NodeId::new("n7"),
            },
            R::RecheckCapacity,
        ),
        (
            C::TargetNodeResized {
                node: NodeId::new("n1"),
            },
            R::RecheckCapacity,
        ),
        (
            C::TargetNodeRemoved {
                node: NodeId::new("n1"),
            },
            R::Warn(I::NodeGone {
                node: NodeId::new("n1"),
            }),
        ),
        (
            C::TargetNodeRemoved {
                node: NodeId::new("n7"),
            },
            R::RecheckCapacity,
        ),
        (
            C::TargetExternalFlagLost { network: n("ext") },
            R::Warn(I::NotExternal { network: n("ext") }),
        ),
        (C::TargetExternalFlagLost { network: n("x") }, R::Nothing),
        (
            C::TargetNetworkDeleted { network: n("ext") },
            R::Warn(I::NetworkGone { network: n("ext") }),
        ),
        (
            C::TargetNetworkDeleted { network: n("tnet") },
            R::Warn(I::NetworkGone { network: n("tnet") }),
        ),
        (
            C::TargetExternalSubnetRemoved {
                subnet: SubnetId::new("ext-sub"),
            },
            R::Warn(I::ExternalSubnetGone {
                subnet: SubnetId::new("ext-sub"),
            }),
        ),
        (
            C::SourceSubnetRemoved {
                subnet: SubnetId::new("sub"),
            },
            R::Update(U::RemoveSubnet(SubnetId::new("sub"))),
        ),
        (
            C::SourceSubnetRemoved {
                subnet: SubnetId::new("zz"),
            },
            R::Nothing,
        ),
        (
            C::TargetFloatingIp {
                address: "203.0.113.5".into(),
                in_use: true,
            },
            R::Warn(I::FloatingIpTaken {
                address: "203.0.113.5".into(),
            }),
        ),
        (
            C::TargetFloatingIp {
                address: "203.0.113.5".into(),
                in_use: false,
            },
            R::Nothing,
        ),
        (
            C::SourceRouterAdded {
                router: RouterId::new("r2"),
                networks: vec![n("net")],
            },
            R::Update(U::AddRouter(RouterId::new("r2"))),
        ),
        (
            C::SourceRouterAdded {
                router: RouterId::new("r3"),
                networks: vec![n("x")],
            },
            R::Nothing,
        ),
        (
            C::SourceRouterInterfaceAdded {
                router: RouterId::new("r1"),
                network: n("net"),
            },
            R::Update(U::AddRouterInterface(RouterId::new("r1"), n("net"))),
        ),
        (
            C::SourceRouterInterfaceAdded {
                router: RouterId::new("r9"),
                network: n("net"),
            },
            R::Update(U::AddRouter(RouterId::new("r9"))),
        ),
        (
            C::SourceRouterInterfaceRemoved {
                router: RouterId::new("r1"),
                network: n("net"),
            },
            R::Update(U::RemoveRouterInterface(RouterId::new("r1"), n("net"))),
        ),
        (
            C::SourceRouterDeleted {
                router: RouterId::new("r1"),
            },
            R::Update(U::RemoveRouter(RouterId::new("r1"))),
        ),
        (
            C::TargetNodeUsageChanged {
                node: NodeId::new("n1"),
            },
            R::RecheckCapacity,
        ),
        (
            C::InstanceNeedsChanged { instance: i("web") },
            R::RecheckCapacity,
        ),
        (
            C::SourceInstanceNetworkAdded {
                instance: i("web"),
                network: n("net"),
            },
            R::Update(U::AddPort(i("web"), n("net"))),
        ),
        (
            C::SourceInstanceNetworkAdded {
                instance: i("web"),
                network: n("new"),
            },
            R::Warn(I::NetworkUnmapped {
                instance: i("web"),
                network: n("new"),
            }),
        ),
        (
            C::SourceInstanceNetworkAdded {
                instance: i("other"),
                network: n("new"),
            },
            R::Nothing,
        ),
        (
            C::SourceInstanceNetworkRemoved {
                instance: i("web"),
                network: n("net"),
            },
            R::Update(U::RemovePort(i("web"), n("net"))),
        ),
        (
            C::SourceFloatingIpAdded {
                instance: i("db"),
                address: "198.51.100.1".into(),
            },
            R::Warn(I::FloatingIpUnmapped {
                instance: i("db"),
                address: "198.51.100.1".into(),
            }),
        ),
        (
            C::SourceFloatingIpChanged {
                instance: i("web"),
                from: "203.0.113.5".into(),
                to: "203.0.113.6".into(),
            },
            R::Update(U::ReplaceKeptAddress {
                instance: i("web"),
                from: "203.0.113.5".into(),
                to: "203.0.113.6".into(),
            }),
        ),
        (
            C::SourceFloatingIpChanged {
                instance: i("db"),
                from: "1".into(),
                to: "2".into(),
            },
            R::Nothing,
        ),
        (
            C::SourceVolumeAttached {
                instance: i("db"),
                volume: VolumeId::new("v9"),
            },
            R::Warn(I::VolumeUnmapped {
                instance: i("db"),
                volume: VolumeId::new("v9"),
            }),
        ),
        (
            C::SourceVolumeDetached {
                instance: i("db"),
                volume: VolumeId::new("v1"),
            },
            R::Update(U::RemoveVolume(i("db"), VolumeId::new("v1"))),
        ),
        (C::SourceInstanceMigrated { instance: i("db") }, R::Nothing),
        (
            C::SourceInstanceDeleted { instance: i("db") },
            R::Update(U::RemoveInstance(i("db"))),
        ),
        (C::SourceInstanceDeleted { instance: i("zz") }, R::Nothing),
        (
            C::TargetVolumeTypeChanged {
                volume_type: "ceph".into(),
            },
            R::Warn(I::VolumeTypeChanged {
                volume_type: "ceph".into(),
            }),
        ),
        (
            C::TargetVolumeTypeRemoved {
                volume_type: "ceph".into(),
            },
            R::Warn(I::VolumeTypeGone {
                volume_type: "ceph".into(),
            }),
        ),
        (
            C::TargetVolumeTypeRemoved {
                volume_type: "lvm".into(),
            },
            R::Nothing,
        ),
    ];
    for (change, want) in cases {
        assert_eq!(react(&change, &view()), want, "{change:?}");
    }
}

#[test]
fn deleting_the_last_instance_deletes_the_plan() {
    let mut v = view();
    v.instances = [InstanceId::new("db")].into();
    assert_eq!(
        react(
            &ResourceChange::SourceInstanceDeleted {
                instance: InstanceId::new("db")
            },
            &v
        ),
        Reaction::Update(MappingUpdate::DeletePlan)
    );
}

#[test]
fn validation_finds_every_problem() {
    let target = TargetInventory {
        projects: ["shop-dr".to_owned()].into(),
        zones: BTreeSet::new(),
        nodes: BTreeSet::new(),
        networks: [(NetworkId::new("ext"), false)].into(),
        used_addresses: ["203.0.113.5".to_owned()].into(),
        volume_types: BTreeSet::new(),
    };
    let issues = validate_mapping(&view(), &target);
    assert_eq!(
        issues,
        vec![
            MappingIssue::ProjectNameTaken {
                name: "shop-dr".into()
            },
            MappingIssue::ZoneGone {
                zone: "nova".into()
            },
            MappingIssue::NodeGone {
                node: NodeId::new("n1")
            },
            MappingIssue::NotExternal {
                network: NetworkId::new("ext")
            },
            MappingIssue::NetworkGone {
                network: NetworkId::new("tnet")
            },
            MappingIssue::FloatingIpTaken {
                address: "203.0.113.5".into()
            },
            MappingIssue::VolumeTypeGone {
                volume_type: "ceph".into()
            },
        ]
    );
    let good = TargetInventory {
        projects: BTreeSet::new(),
        zones: ["nova".to_owned()].into(),
        nodes: [NodeId::new("n1")].into(),
        networks: [
            (NetworkId::new("ext"), true),
            (NetworkId::new("tnet"), false),
        ]
        .into(),
        used_addresses: BTreeSet::new(),
        volume_types: ["ceph".to_owned()].into(),
    };
    assert!(validate_mapping(&view(), &good).is_empty());
}
