use std::collections::BTreeMap;

use super::*;
use crate::dr::ids::InstanceId;
use crate::dr::job::JobType;
use crate::dr::recovery_graph::fixture::{run, shop};
use crate::dr::recovery_graph::{DepKind, Scope, TaskGraph, TaskId, TaskKind, TaskStatus};
use proptest::prelude::*;

/// What the engine records for a task: the resource(s) its call creates.
fn resources_of(kind: &TaskKind) -> Vec<Resource> {
    let t = |s: &dyn std::fmt::Display| format!("t-{s}");
    match kind {
        TaskKind::CreateProject => vec![Resource::Project {
            id: "t-shop".into(),
        }],
        TaskKind::AddAdminMembership => vec![Resource::RoleAssignment {
            project: "t-shop".into(),
            user: "admin".into(),
            role: "admin".into(),
        }],
        TaskKind::CreateSecurityGroup(g) => vec![Resource::SecurityGroup { id: t(g) }],
        TaskKind::CreateSecurityGroupRules(g) => (0..2)
            .map(|n| Resource::SecurityGroupRule {
                id: format!("t-{g}-rule{n}"),
            })
            .collect(),
        TaskKind::CreateKeypair(k) => vec![Resource::Keypair { name: k.clone() }],
        TaskKind::CreateNetwork(n) => vec![Resource::Network { id: t(n) }],
        TaskKind::CreateSubnet(s) => vec![Resource::Subnet { id: t(s) }],
        TaskKind::CreateRouter(r) => vec![Resource::Router { id: t(r) }],
        TaskKind::AddRouterInterface(r, s) => vec![Resource::RouterInterface {
            router: t(r),
            subnet: t(s),
        }],
        TaskKind::SetRouterGateway(r) => vec![Resource::RouterGateway { router: t(r) }],
        TaskKind::CreatePort(p) => vec![Resource::Port { id: t(p) }],
        TaskKind::ExportVolume(v) => vec![Resource::VolumeExport {
            location: format!("pool/{v}"),
        }],
        TaskKind::ManageVolume(v) => vec![Resource::Volume { id: t(v) }],
        TaskKind::CreateInstance(i) => vec![Resource::Instance { id: t(i) }],
        TaskKind::StartInstance(_) => vec![],
        TaskKind::AttachFloatingIp { port, .. } => vec![Resource::FloatingIp {
            id: format!("t-fip-{port}"),
        }],
    }
}

/// Records what a run created, the way the engine does: before each call, with the
/// records of the tasks it requires as dependencies.
fn record(
    g: &TaskGraph,
    status: &BTreeMap<TaskId, TaskStatus>,
    order: &[TaskId],
) -> CreatedResources {
    let mut c = CreatedResources::new();
    let mut of_task: BTreeMap<TaskId, Vec<RecordId>> = BTreeMap::new();
    for id in order {
        if status[id] == TaskStatus::Skipped {
            continue;
        }
        let task = g.task(*id).unwrap();
        let deps: Vec<RecordId> = task
            .deps
            .iter()
            .filter(|(_, k)| *k == DepKind::Requires)
            .flat_map(|(d, _)| of_task.get(d).cloned().unwrap_or_default())
            .collect();
        let mut mine = Vec::new();
        for r in resources_of(&task.kind) {
            // rules depend on their group; an instance on its volumes and ports, etc.
            let rid = c
                .record(Created {
                    resource: r,
                    task: task.kind.clone(),
                    depends_on: deps.clone(),
                    serves: task.serves.clone(),
                })
                .unwrap();
            mine.push(rid);
        }
        of_task.insert(*id, mine);
    }
    c
}

fn assert_reverse_dependency_order(c: &CreatedResources, order: &[RecordId]) {
    let pos: BTreeMap<RecordId, usize> = order.iter().enumerate().map(|(n, r)| (*r, n)).collect();
    for (n, rec) in c.records().iter().enumerate() {
        let Some(me) = pos.get(&RecordId(n)) else {
            continue;
        };
        for d in &rec.depends_on {
            if let Some(dp) = pos.get(d) {
                assert!(
                    me < dp,
                    "{:?} must be deleted before {:?}",
                    rec.resource,
                    c.get(*d)
                );
            }
        }
    }
}

#[test]
fn record_refuses_forward_dependencies() {
    let mut c = CreatedResources::new();
    let bad = Created {
        resource: Resource::Network { id: "n".into() },
        task: TaskKind::CreateProject,
        depends_on: vec![RecordId(0)],
        serves: BTreeSet::new(),
    };
    assert_eq!(c.record(bad), Err(RecordError(0)));
}

#[test]
fn rollback_deletes_exactly_what_was_created_in_reverse_dependency_order() {
    let g = TaskGraph::build(&shop(), JobType::Drill, &Scope::All).unwrap();
    let (status, order) = run(&g, |_| false);
    let c = record(&g, &status, &order);
    let rb = c.rollback_order();
    assert_eq!(rb.len(), c.records().len());
    assert_reverse_dependency_order(&c, &rb);
    let waves = c.rollback_waves();
    // instances go in the first wave; the project last, alone
    assert!(
        waves[0]
            .iter()
            .any(|r| matches!(c.get(*r).unwrap().resource, Resource::Instance { .. }))
    );
    assert!(waves[0].iter().all(|r| !matches!(
        c.get(*r).unwrap().resource,
        Resource::Project { .. } | Resource::Network { .. } | Resource::Volume { .. }
    )));
    assert_eq!(waves.last().unwrap().len(), 1);
    assert!(matches!(
        c.get(waves.last().unwrap()[0]).unwrap().resource,
        Resource::Project { .. }
    ));
    let first = &c.get(rb[0]).unwrap().resource;
    assert!(matches!(first, Resource::Instance { .. }), "{first:?}");
    // the project goes after every network, volume and instance created in it (a
    // volume's export, which depends on nothing, may come after it: the executor
    // starts exports first, so they are recorded first)
    let at = |r: &Resource| rb.iter().position(|id| &c.get(*id).unwrap().resource == r);
    let project = at(&Resource::Project {
        id: "t-shop".into(),
    })
    .unwrap();
    for (n, id) in rb.iter().enumerate() {
        let r = &c.get(*id).unwrap().resource;
        if matches!(
            r,
            Resource::Instance { .. } | Resource::Network { .. } | Resource::Volume { .. }
        ) {
            assert!(n < project, "{r:?} after the project: {rb:?}");
        }
    }
    assert!(c.get(*rb.last().unwrap()).unwrap().depends_on.is_empty());
}

#[test]
fn cleanup_script_lists_leftovers_one_per_line_in_dependency_order() {
    let mut c = CreatedResources::new();
    let mk = |c: &mut CreatedResources, resource, deps: Vec<RecordId>| {
        c.record(Created {
            resource,
            task: TaskKind::CreateProject,
            depends_on: deps,
            serves: BTreeSet::new(),
        })
        .unwrap()
    };
    let p = mk(&mut c, Resource::Project { id: "p1".into() }, vec![]);
    let r = mk(
        &mut c,
        Resource::RoleAssignment {
            project: "p1".into(),
            user: "admin".into(),
            role: "admin".into(),
        },
        vec![p],
    );
    let n = mk(&mut c, Resource::Network { id: "n1".into() }, vec![r]);
    let s = mk(&mut c, Resource::Subnet { id: "s1".into() }, vec![n]);
    let rt = mk(&mut c, Resource::Router { id: "r1".into() }, vec![r]);
    let ri = mk(
        &mut c,
        Resource::RouterInterface {
            router: "r1".into(),
            subnet: "s1".into(),
        },
        vec![rt, s],
    );
    let gw = mk(
        &mut c,
        Resource::RouterGateway {
            router: "r1".into(),
        },
        vec![rt],
    );
    let port = mk(&mut c, Resource::Port { id: "po1".into() }, vec![s]);
    let ex = mk(
        &mut c,
        Resource::VolumeExport {
            location: "pool/v1".into(),
        },
        vec![],
    );
    let v = mk(&mut c, Resource::Volume { id: "v1".into() }, vec![ex]);
    let i = mk(
        &mut c,
        Resource::Instance { id: "i1".into() },
        vec![v, port],
    );
    mk(
        &mut c,
        Resource::FloatingIp { id: "f1".into() },
        vec![i, port],
    );
    mk(
        &mut c,
        Resource::Keypair {
            name: "it's".into(),
        },
        vec![r],
    );
    let _ = (ri, gw);
    let deleted: BTreeSet<RecordId> = [RecordId(12)].into();
    let script = c.cleanup_script(&JobId::new("job-1"), &deleted);
    assert_eq!(
        script,
        "#!/bin/sh
# Holdfast cleanup script for job job-1: deletes what the job left on the target.
# Run it with the target cluster's admin credentials (OS_* variables) loaded.
set -u
openstack floating ip delete f1
openstack server delete --wait i1
openstack volume delete v1
# volume data exported to pool/v1 on the target storage is not an OpenStack resource: remove it on the storage
openstack port delete po1
openstack router unset --external-gateway r1
openstack router remove subnet r1 s1
openstack router delete r1
openstack subnet delete s1
openstack network delete n1
openstack role remove --project p1 --user admin admin
openstack project delete p1
"
    );
    let c2 = {
        let mut c2 = CreatedResources::new();
        mk(
            &mut c2,
            Resource::Keypair {
                name: "it's; rm -rf /".into(),
            },
            vec![],
        );
        c2
    };
    assert!(
        c2.cleanup_script(&JobId::new("j"), &BTreeSet::new())
            .contains("openstack keypair delete 'it'\\''s; rm -rf /'")
    );
}

#[test]
fn confirm_split_rolls_back_only_what_failed_instances_alone_use() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let bad = g
        .tasks()
        .iter()
        .position(|t| t.kind == TaskKind::StartInstance(InstanceId::new("db")))
        .unwrap();
    let (status, order) = run(&g, |t| t.0 == bad);
    let outcomes = g.instance_outcomes(&status).unwrap();
    let failed: BTreeSet<InstanceId> = outcomes
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| i.clone())
        .collect();
    assert_eq!(failed, [InstanceId::new("db")].into());
    let c = record(&g, &status, &order);
    let group = ResourceName::parse("shop").unwrap();
    let split = confirm_split(&c, &failed, &group, 0);
    assert_eq!(split.group_name.as_str(), "shop-split-1");
    assert_eq!(split.instances, failed);
    assert_reverse_dependency_order(&c, &split.rollback);
    let gone: Vec<&Resource> = split
        .rollback
        .iter()
        .map(|r| &c.get(*r).unwrap().resource)
        .collect();
    // db's own things and the db security group (only db uses it) ...
    assert!(gone.contains(&&Resource::Instance { id: "t-db".into() }));
    assert!(gone.contains(&&Resource::Volume {
        id: "t-db-root".into()
    }));
    assert!(gone.contains(&&Resource::Port {
        id: "t-db-port".into()
    }));
    assert!(gone.contains(&&Resource::SecurityGroup {
        id: "t-db-sg".into()
    }));
    // ... but nothing the recovered instances use
    assert!(!gone.iter().any(|r| matches!(
        r,
        Resource::Project { .. }
            | Resource::Network { .. }
            | Resource::Subnet { .. }
            | Resource::Router { .. }
            | Resource::Keypair { .. }
    )));
    assert!(!gone.contains(&&Resource::SecurityGroup {
        id: "t-web-sg".into()
    }));
    assert_eq!(gone.len(), 1 + 2 + 2 + 1 + 1 + 2);
}

#[test]
fn retry_cleanup_removes_the_instances_own_resources() {
    let g = TaskGraph::build(&shop(), JobType::Dr, &Scope::All).unwrap();
    let (status, order) = run(&g, |_| false);
    let c = record(&g, &status, &order);
    let web1: BTreeSet<InstanceId> = [InstanceId::new("web1")].into();
    let ids = c.retry_cleanup(&web1);
    let gone: Vec<&Resource> = ids.iter().map(|r| &c.get(*r).unwrap().resource).collect();
    assert_eq!(
        gone,
        vec![
            &Resource::FloatingIp {
                id: "t-fip-web1-port".into()
            },
            &Resource::Instance {
                id: "t-web1".into()
            },
            &Resource::Port {
                id: "t-web1-port".into()
            },
            &Resource::Volume {
                id: "t-web1-data".into()
            },
            &Resource::Volume {
                id: "t-web1-root".into()
            },
            &Resource::VolumeExport {
                location: "pool/web1-data".into()
            },
            &Resource::VolumeExport {
                location: "pool/web1-root".into()
            },
        ]
    );
}

proptest! {
    #[test]
    fn rollback_orders_respect_dependencies(
        t in crate::dr::recovery_graph::tests_support::arb_topology(),
        fail in 0usize..80,
        drill in any::<bool>(),
    ) {
        let job_type = if drill { JobType::Drill } else { JobType::Dr };
        let g = TaskGraph::build(&t, job_type, &Scope::All).unwrap();
        let (status, order) = run(&g, |id| id.0 == fail);
        let c = record(&g, &status, &order);
        let all = c.rollback_order();
        assert_reverse_dependency_order(&c, &all);
        // waves: flattened, a reverse dependency order of exactly the records
        let waves: Vec<RecordId> = c.rollback_waves().into_iter().flatten().collect();
        assert_reverse_dependency_order(&c, &waves);
        prop_assert_eq!(waves.iter().copied().collect::<BTreeSet<_>>().len(), c.records().len());
        prop_assert_eq!(waves.len(), c.records().len());
        // exactly the records, each once
        let set: BTreeSet<RecordId> = all.iter().copied().collect();
        prop_assert_eq!(set.len(), c.records().len());
        let failed: BTreeSet<InstanceId> = g.instance_outcomes(&status).unwrap().into_iter().filter(|(_, ok)| !ok).map(|(i, _)| i).collect();
        let split = confirm_split(&c, &failed, &ResourceName::parse("g").unwrap(), 3);
        assert_reverse_dependency_order(&c, &split.rollback);
        for r in &split.rollback {
            // nothing a recovered instance needs is rolled back
            prop_assert!(c.get(*r).unwrap().serves.is_subset(&failed));
        }
        let script = c.cleanup_script(&JobId::new("j"), &BTreeSet::new());
        prop_assert_eq!(script.lines().count(), 4 + c.records().len());
    }
}
