use serde_json::json;

use super::*;
use crate::dr::ids::{NetworkId, VolumeId};
use crate::protection::mapping::{InstanceChoice, NetworkChoice};

fn src() -> ClusterDocs {
    let mut d = ClusterDocs::default();
    for (id, vols, net) in [("i1", ["v1"], "net-a"), ("i2", ["v2"], "net-b")] {
        d.instances.insert(
            id.into(),
            serde_json::from_value(json!({
                "id": id, "name": format!("web-{id}"), "status": "ACTIVE",
                "os-extended-volumes:volumes_attached": vols.iter().map(|v| json!({"id": v})).collect::<Vec<_>>(),
            }))
            .unwrap(),
        );
        d.ports.insert(
            format!("p-{id}"),
            serde_json::from_value(json!({"id": format!("p-{id}"), "network_id": net,
                "device_id": id, "device_owner": "compute:nova"}))
            .unwrap(),
        );
    }
    d.networks.insert(
        "net-c".into(),
        serde_json::from_value(json!({"id": "net-c", "name": "backend"})).unwrap(),
    );
    d
}

fn mapping() -> PlanMapping {
    PlanMapping {
        project_name: "shop-dr".into(),
        availability_zone: "nova".into(),
        networks: [
            ("net-a".to_owned(), NetworkChoice::Create),
            ("net-b".to_owned(), NetworkChoice::Create),
            ("net-c".to_owned(), NetworkChoice::Create),
        ]
        .into(),
        instances: [
            ("i1".to_owned(), InstanceChoice::default()),
            ("i2".to_owned(), InstanceChoice::default()),
        ]
        .into(),
        floating_ips: [("1.1.1.1".to_owned(), FloatingIpChoice::Keep)].into(),
        volumes: ["v1".to_owned(), "v2".to_owned(), "v9".to_owned()].into(),
        ..PlanMapping::default()
    }
}

fn run(reactions: Vec<Reaction>) -> Outcome {
    let change = ResourceChange::TargetZoneRemoved { zone: "-".into() };
    let r: Vec<(ResourceChange, Reaction)> =
        reactions.into_iter().map(|r| (change.clone(), r)).collect();
    apply(&mapping(), &["i1".into(), "i2".into()], &r, &src())
}

fn i(id: &str) -> InstanceId {
    InstanceId::new(id)
}

#[test]
fn nothing_and_capacity_change_nothing() {
    let out = run(vec![Reaction::Nothing, Reaction::RecheckCapacity]);
    assert_eq!(out.mapping, mapping());
    assert_eq!((out.updates.len(), out.warnings.len()), (0, 0));
    assert!(!out.volumes_changed && !out.delete_plan);
}

#[test]
fn a_detached_volume_leaves_the_mapping() {
    let out = run(vec![Reaction::Update(MappingUpdate::RemoveVolume(
        i("i1"),
        VolumeId::new("v1"),
    ))]);
    assert!(!out.mapping.volumes.contains("v1"));
    assert!(out.volumes_changed);
    assert_eq!(
        out.updates,
        vec![
            "volume v1 was detached from instance web-i1: it left the plan and its replication stops"
        ]
    );
    // a volume the plan does not have: no update
    let out = run(vec![Reaction::Update(MappingUpdate::RemoveVolume(
        i("i1"),
        VolumeId::new("other"),
    ))]);
    assert_eq!((out.updates.len(), out.volumes_changed), (0, false));
}

#[test]
fn a_deleted_instance_leaves_group_and_plan_with_its_volumes() {
    let mut docs = src();
    docs.instances.remove("i1");
    let r = vec![(
        ResourceChange::SourceInstanceDeleted { instance: i("i1") },
        Reaction::Update(MappingUpdate::RemoveInstance(i("i1"))),
    )];
    let out = apply(&mapping(), &["i1".into(), "i2".into()], &r, &docs);
    assert_eq!(out.instances, vec!["i2".to_owned()]);
    assert!(!out.mapping.instances.contains_key("i1"));
    assert_eq!(out.mapping.volumes, ["v2".to_owned()].into());
    assert!(out.volumes_changed && !out.delete_plan);
    assert!(
        out.updates[0].contains("instance i1 was deleted on the source"),
        "{:?}",
        out.updates
    );
    // the last one deletes the plan, also when several go in one batch
    let r2 = vec![
        r[0].clone(),
        (
            ResourceChange::SourceInstanceDeleted { instance: i("i2") },
            Reaction::Update(MappingUpdate::RemoveInstance(i("i2"))),
        ),
    ];
    assert!(apply(&mapping(), &["i1".into(), "i2".into()], &r2, &docs).delete_plan);
    let out = apply(
        &mapping(),
        &["i1".into()],
        &[(r[0].0.clone(), Reaction::Update(MappingUpdate::DeletePlan))],
        &docs,
    );
    assert!(out.delete_plan && out.instances.is_empty());
}

#[test]
fn a_network_no_instance_uses_leaves_the_mapping() {
    // i2 is still on net-b in the copy: the network stays
    let out = run(vec![Reaction::Update(MappingUpdate::RemovePort(
        i("i1"),
        NetworkId::new("net-b"),
    ))]);
    assert!(out.mapping.networks.contains_key("net-b"));
    assert_eq!(out.updates.len(), 1);
    // nobody is on net-c
    let out = run(vec![Reaction::Update(MappingUpdate::RemovePort(
        i("i1"),
        NetworkId::new("net-c"),
    ))]);
    assert!(!out.mapping.networks.contains_key("net-c"));
    assert!(
        out.updates[0].starts_with("instance web-i1 left network backend:")
            && out.updates[0].contains("left the plan's network mapping"),
        "{:?}",
        out.updates
    );
}

#[test]
fn a_kept_address_follows_its_instance() {
    let out = run(vec![Reaction::Update(MappingUpdate::ReplaceKeptAddress {
        instance: i("i1"),
        from: "1.1.1.1".into(),
        to: "2.2.2.2".into(),
    })]);
    assert_eq!(
        out.mapping.floating_ips,
        [("2.2.2.2".to_owned(), FloatingIpChoice::Keep)].into()
    );
    assert_eq!(out.updates.len(), 1);
}

#[test]
fn warnings_are_named_and_kept_once() {
    let w = MappingIssue::NetworkUnmapped {
        instance: i("i1"),
        network: NetworkId::new("net-c"),
    };
    let out = run(vec![
        Reaction::Warn(w.clone()),
        Reaction::Warn(w),
        Reaction::Warn(MappingIssue::VolumeUnmapped {
            instance: i("i1"),
            volume: VolumeId::new("v5"),
        }),
        Reaction::Warn(MappingIssue::NetworkGone {
            network: NetworkId::new("t-net"),
        }),
        Reaction::Warn(MappingIssue::ProjectNameTaken {
            name: "shop-dr".into(),
        }),
    ]);
    assert_eq!(
        out.warnings,
        vec![
            "instance web-i1 was connected to network backend, which the plan does not map: edit and save the plan".to_owned(),
            "target network t-net was deleted: choose another network in the plan".to_owned(),
        ]
    );
    assert_eq!(out.mapping, mapping());
}
