//! A small realistic plan (db ×1, app ×2, web ×2) and a simulated executor, shared by
//! the recovery-graph and rollback tests.

use std::collections::{BTreeMap, BTreeSet};

use crate::dr::ids::*;
use crate::dr::recovery_graph::{Next, TaskGraph, TaskId, TaskStatus};
use crate::dr::topology::*;

fn inst(
    id: &str,
    sg: &str,
    subnet: &str,
    boot: Boot,
    fip: Option<FloatingIpPolicy>,
) -> InstanceSpec {
    InstanceSpec {
        id: InstanceId::new(id),
        name: id.to_owned(),
        keypair: Some("ops".into()),
        security_groups: vec![SecurityGroupId::new(sg)],
        ports: vec![PortSpec {
            id: PortId::new(format!("{id}-port")),
            subnet: SubnetId::new(subnet),
        }],
        volumes: vec![
            VolumeSpec {
                id: VolumeId::new(format!("{id}-root")),
                boot: true,
            },
            VolumeSpec {
                id: VolumeId::new(format!("{id}-data")),
                boot: false,
            },
        ],
        floating_ips: fip
            .map(|policy| FloatingIpSpec {
                port: PortId::new(format!("{id}-port")),
                policy,
            })
            .into_iter()
            .collect(),
        boot,
    }
}

pub(crate) fn shop() -> Topology {
    Topology {
        project_name: "shop".into(),
        security_groups: vec![
            SecurityGroupSpec {
                id: SecurityGroupId::new("web-sg"),
                name: "web".into(),
                remote_groups: vec![],
            },
            SecurityGroupSpec {
                id: SecurityGroupId::new("db-sg"),
                name: "db".into(),
                // the db accepts connections from the web/app group
                remote_groups: vec![SecurityGroupId::new("web-sg")],
            },
        ],
        keypairs: vec!["ops".into()],
        networks: vec![
            NetworkSpec {
                id: NetworkId::new("front"),
                name: "front".into(),
                target: NetworkTarget::Create,
            },
            NetworkSpec {
                id: NetworkId::new("back"),
                name: "back".into(),
                target: NetworkTarget::Create,
            },
        ],
        subnets: vec![
            SubnetSpec {
                id: SubnetId::new("front-sub"),
                network: NetworkId::new("front"),
                cidr: "10.0.1.0/24".into(),
            },
            SubnetSpec {
                id: SubnetId::new("back-sub"),
                network: NetworkId::new("back"),
                cidr: "10.0.2.0/24".into(),
            },
        ],
        routers: vec![RouterSpec {
            id: RouterId::new("r1"),
            name: "edge".into(),
            interfaces: vec![SubnetId::new("front-sub"), SubnetId::new("back-sub")],
            external_gateway: true,
        }],
        instances: vec![
            inst("db", "db-sg", "back-sub", Boot::Started(0), None),
            inst("app1", "web-sg", "back-sub", Boot::Started(1), None),
            inst("app2", "web-sg", "back-sub", Boot::Started(1), None),
            inst(
                "web1",
                "web-sg",
                "front-sub",
                Boot::Started(2),
                Some(FloatingIpPolicy::KeepSame("203.0.113.10".into())),
            ),
            inst(
                "web2",
                "web-sg",
                "front-sub",
                Boot::Stopped,
                Some(FloatingIpPolicy::PickAnother),
            ),
        ],
        drill_external_access: false,
    }
}

/// Runs the graph to the end: `fails` says which tasks fail. Returns the statuses
/// and the order tasks were run in.
pub(crate) fn run(
    g: &TaskGraph,
    fails: impl Fn(TaskId) -> bool,
) -> (BTreeMap<TaskId, TaskStatus>, Vec<TaskId>) {
    let mut status = BTreeMap::new();
    let mut order = Vec::new();
    loop {
        let next = g.next(&status, &BTreeSet::new());
        if next.is_empty() {
            break;
        }
        for n in next {
            match n {
                Next::Run(t) => {
                    order.push(t);
                    status.insert(
                        t,
                        if fails(t) {
                            TaskStatus::Failed
                        } else {
                            TaskStatus::Succeeded
                        },
                    );
                }
                Next::Skip(t) => {
                    status.insert(t, TaskStatus::Skipped);
                }
            }
        }
    }
    (status, order)
}
