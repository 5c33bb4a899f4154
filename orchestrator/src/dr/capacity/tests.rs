use super::*;
use proptest::prelude::*;

fn r(vcpus: u64, ram_mb: u64, disk_gb: u64) -> Resources {
    Resources {
        vcpus,
        ram_mb,
        disk_gb,
    }
}

fn node(id: &str, zone: &str, free: Resources) -> NodeFacts {
    NodeFacts {
        id: NodeId::new(id),
        zone: zone.into(),
        allocatable: free,
        used: Resources::default(),
        ratios: Ratios::Synced,
    }
}

fn on(name: &str, node: &str, needs: Resources) -> InstanceNeeds {
    InstanceNeeds {
        id: InstanceId::new(name),
        name: name.into(),
        needs,
        placement: NodeMapping::Node(NodeId::new(node)),
    }
}

fn any(name: &str, zone: &str, needs: Resources) -> InstanceNeeds {
    InstanceNeeds {
        placement: NodeMapping::AnyInZone(zone.into()),
        ..on(name, "", needs)
    }
}

#[test]
fn free_applies_the_ratio_and_never_goes_below_zero() {
    assert_eq!(free(16, 4, None), 12);
    assert_eq!(free(16, 4, Some(1.0)), 12);
    assert_eq!(free(16, 4, Some(4.0)), 60);
    assert_eq!(free(16, 4, Some(1.5)), 20);
    // 10 × 0.33 = 3.3 → 3
    assert_eq!(free(10, 0, Some(0.33)), 3);
    assert_eq!(free(4, 9, Some(1.0)), 0);
    // nonsense ratios count as 1.0
    for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert_eq!(free(16, 4, Some(bad)), 12, "{bad}");
    }
    assert_eq!(free(u64::MAX, 0, Some(16.0)), u64::MAX);
}

#[test]
fn shortfall_names_only_what_is_short() {
    assert_eq!(
        Shortfall(r(5, 100, 10).shortfall(&r(4, 200, 5))).to_string(),
        "1 vCPUs and 5 GiB local disk"
    );
    assert_eq!(
        Shortfall(r(1, 300, 0).shortfall(&r(4, 200, 5))).to_string(),
        "100 MiB RAM"
    );
    assert!(r(4, 200, 5).fits_in(r(4, 200, 5)));
    assert!(!r(4, 200, 6).fits_in(r(4, 200, 5)));
}

#[test]
fn everything_fits() {
    let nodes = [
        node("n1", "az1", r(8, 16384, 100)),
        node("n2", "az1", r(2, 2048, 10)),
    ];
    let inst = [
        on("db", "n1", r(4, 8192, 40)),
        on("cache", "n1", r(4, 8192, 60)),
        any("web", "az1", r(2, 2048, 10)),
    ];
    assert_eq!(check(&inst, &nodes), vec![]);
    assert_eq!(check(&[], &nodes), vec![]);
    assert_eq!(check(&[], &[]), vec![]);
}

#[test]
fn a_node_short_in_each_resource() {
    let nodes = [node("n1", "az1", r(4, 8192, 100))];
    for (need, short) in [
        (r(5, 1, 1), "1 vCPUs"),
        (r(1, 8193, 1), "1 MiB RAM"),
        (r(1, 1, 101), "1 GiB local disk"),
        (
            r(6, 9192, 120),
            "2 vCPUs and 1000 MiB RAM and 20 GiB local disk",
        ),
    ] {
        let got = check(&[on("db", "n1", need)], &nodes);
        assert_eq!(
            got,
            vec![CapacityIssue::Node {
                node: NodeId::new("n1"),
                need,
                free: r(4, 8192, 100),
                ratios: Ratios::Synced,
            }]
        );
        let m = got[0].to_string();
        assert!(m.starts_with("compute node n1 cannot host"), "{m}");
        assert!(m.contains(&format!("short by {short};")), "{m}");
        assert!(!m.contains("allocation ratios"), "{m}");
    }
}

#[test]
fn instances_on_one_node_add_up() {
    let nodes = [node("n1", "az1", r(4, 8192, 100))];
    let inst = [on("a", "n1", r(2, 4096, 0)), on("b", "n1", r(2, 4096, 0))];
    assert_eq!(check(&inst, &nodes), vec![]);
    let inst = [
        on("a", "n1", r(2, 4096, 0)),
        on("b", "n1", r(2, 4096, 0)),
        on("c", "n1", r(1, 0, 0)),
    ];
    assert!(matches!(
        check(&inst, &nodes).as_slice(),
        [CapacityIssue::Node { need, .. }] if *need == r(5, 8192, 0)
    ));
}

#[test]
fn assumed_ratios_are_said() {
    let mut n = node("n1", "az1", r(4, 8192, 100));
    n.ratios = Ratios::Assumed;
    let got = check(&[on("db", "n1", r(8, 1, 1))], &[n.clone()]);
    assert!(
        got[0]
            .to_string()
            .contains("allocation ratios are not synced, so they are counted as 1.0"),
        "{}",
        got[0]
    );
    let got = check(&[any("db", "az1", r(8, 1, 1))], &[n]);
    assert_eq!(got.len(), 2, "{got:?}");
    for issue in &got {
        assert!(issue.to_string().contains("counted as 1.0"), "{issue}");
    }
}

#[test]
fn unknown_node() {
    let got = check(
        &[on("db", "gone", r(1, 1, 1))],
        &[node("n1", "az1", r(8, 8, 8))],
    );
    assert_eq!(
        got,
        vec![CapacityIssue::UnknownNode {
            name: "db".into(),
            node: NodeId::new("gone"),
        }]
    );
}

#[test]
fn any_in_zone_must_fit_one_node_and_the_zone_total() {
    let nodes = [
        node("n1", "az1", r(4, 4096, 10)),
        node("n2", "az1", r(4, 4096, 10)),
        node("n3", "az2", r(64, 65536, 1000)),
    ];
    // fits on a node of its zone, not on the big node of another zone
    assert_eq!(check(&[any("web", "az1", r(4, 4096, 10))], &nodes), vec![]);
    let got = check(&[any("web", "az1", r(5, 1024, 1))], &nodes);
    assert_eq!(
        got,
        vec![
            CapacityIssue::FitsNoNode {
                name: "web".into(),
                zone: "az1".into(),
                need: r(5, 1024, 1),
                ratios: Ratios::Synced,
            },
            // the zone total (8 vCPUs) would do, but no single node has 5
        ]
    );
    // each fits a node, together more than the zone
    let inst = [
        any("a", "az1", r(3, 1024, 1)),
        any("b", "az1", r(3, 1024, 1)),
        any("c", "az1", r(3, 1024, 1)),
    ];
    let got = check(&inst, &nodes);
    assert_eq!(
        got,
        vec![CapacityIssue::Zone {
            zone: "az1".into(),
            need: r(9, 3072, 3),
            free: r(8, 8192, 20),
            ratios: Ratios::Synced,
        }]
    );
    assert!(
        got[0].to_string().contains("short by 1 vCPUs;"),
        "{}",
        got[0]
    );
    // instances on a chosen node of the zone count in the zone total
    let inst = [
        on("db", "n1", r(4, 4096, 10)),
        any("web", "az1", r(4, 4096, 10)),
    ];
    assert_eq!(check(&inst, &nodes), vec![]);
    let inst = [
        on("db", "n1", r(4, 4096, 10)),
        any("web", "az1", r(4, 4096, 11)),
    ];
    let got = check(&inst, &nodes);
    assert!(
        matches!(
            got.as_slice(),
            [CapacityIssue::FitsNoNode { .. }, CapacityIssue::Zone { .. }]
        ),
        "{got:?}"
    );
    // a zone without nodes
    let got = check(&[any("web", "nowhere", r(1, 1, 1))], &nodes);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[1]
            .to_string()
            .contains("availability zone nowhere cannot host")
    );
}

fn arb_case() -> impl Strategy<Value = (Vec<InstanceNeeds>, Vec<NodeFacts>)> {
    let res = || (0u64..8, 0u64..8192, 0u64..50).prop_map(|(c, m, d)| r(c, m, d));
    (
        prop::collection::vec((res(), prop::option::of(0usize..3)), 0..6),
        prop::collection::vec(res(), 1..3),
    )
        .prop_map(|(inst, nodes)| {
            let nodes: Vec<NodeFacts> = nodes
                .into_iter()
                .enumerate()
                .map(|(i, f)| node(&format!("n{i}"), "az", f))
                .collect();
            let inst = inst
                .into_iter()
                .enumerate()
                .map(|(i, (needs, n))| match n {
                    Some(n) => on(&format!("i{i}"), &format!("n{n}"), needs),
                    None => any(&format!("i{i}"), "az", needs),
                })
                .collect();
            (inst, nodes)
        })
}

proptest! {
    #[test]
    fn no_issue_exactly_when_every_placement_fits((inst, nodes) in arb_case()) {
        let got = check(&inst, &nodes);
        // a brute-force statement of the rule
        let mut ok = true;
        let mut zone_need = Resources::default();
        let mut any_flexible = false;
        for n in &nodes {
            let need = inst
                .iter()
                .filter(|i| i.placement == NodeMapping::Node(n.id.clone()))
                .fold(Resources::default(), |a, i| a.plus(i.needs));
            ok &= need.fits_in(n.free());
        }
        for i in &inst {
            match &i.placement {
                NodeMapping::Node(id) => {
                    if nodes.iter().any(|n| &n.id == id) {
                        zone_need = zone_need.plus(i.needs);
                    } else {
                        ok = false;
                    }
                }
                NodeMapping::AnyInZone(_) => {
                    any_flexible = true;
                    zone_need = zone_need.plus(i.needs);
                    ok &= nodes.iter().any(|n| i.needs.fits_in(n.free()));
                }
            }
        }
        let zone_free = nodes.iter().fold(Resources::default(), |a, n| a.plus(n.free()));
        if any_flexible {
            ok &= zone_need.fits_in(zone_free);
        }
        prop_assert_eq!(got.is_empty(), ok, "{:?}", got);
    }
}

#[test]
fn node_free_is_allocatable_minus_used_never_below_zero() {
    let mut n = node("n1", "nova", r(4, 8192, 100));
    n.used = r(1, 1024, 10);
    assert_eq!(n.free(), r(3, 7168, 90));
    // overcommitted vCPUs: none free, the rest still counts
    n.used = r(9, 1024, 10);
    assert_eq!(n.free(), r(0, 7168, 90));
    assert_eq!(allocatable(16, Some(4.0)), 64);
    assert_eq!(allocatable(16, None), 16);
}
