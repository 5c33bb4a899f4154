use crate::model::block::VolumeSpec;
use crate::model::compute::{BlockDevice, NetworkRequest, ServerSpec};
use crate::model::network::{NetworkSpec, SubnetSpec};
use crate::model::testing::{admin_project, cloud, settle};
use crate::model::{Cloud, CloudError};

fn boot_volume(c: &mut Cloud, p: &str) -> String {
    let v = c
        .create_volume(
            p,
            "u",
            VolumeSpec {
                size_gb: Some(1),
                bootable: true,
                ..Default::default()
            },
        )
        .unwrap();
    settle(c);
    v.id
}

fn network(c: &mut Cloud, p: &str, cidr: &str) -> String {
    let n = c
        .create_network(
            p,
            NetworkSpec {
                name: Some(cidr.into()),
                ..Default::default()
            },
        )
        .unwrap();
    c.create_subnet(
        p,
        SubnetSpec {
            network_id: n.id.clone(),
            cidr: cidr.into(),
            ip_version: 4,
            ..Default::default()
        },
    )
    .unwrap();
    n.id
}

fn spec(name: &str, volume: &str, net: Option<&str>) -> ServerSpec {
    ServerSpec {
        name: name.into(),
        flavor_ref: "small".into(),
        networks: net.map(|n| {
            vec![NetworkRequest {
                network_id: Some(n.into()),
                ..Default::default()
            }]
        }),
        block_devices: vec![BlockDevice {
            boot_index: Some(0),
            uuid: Some(volume.into()),
            source_type: "volume".into(),
            destination_type: "volume".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn boot_from_volume_builds_attaches_and_deletes_cleanly() {
    let mut c = cloud();
    let p = admin_project(&c);
    let net = network(&mut c, &p, "10.0.0.0/24");
    let vol = boot_volume(&mut c, &p);
    let s = c
        .create_server(&p, "u", spec("a", &vol, Some(&net)))
        .unwrap();
    assert_eq!(s.status, "BUILD");
    assert_eq!(c.volume(&vol).unwrap().status, "reserved");
    let hv = c.compute.hypervisors.values().next().unwrap();
    assert_eq!(
        (hv.vcpus_used, hv.memory_mb_used, hv.running_vms),
        (2, 4096, 1)
    );
    let port = c
        .net
        .ports
        .values()
        .find(|p| p.device_id == s.id)
        .unwrap()
        .clone();
    assert_eq!(port.device_owner, "compute:nova");
    let events = settle(&mut c);
    assert!(events.contains(&"compute.instance.create.end".to_owned()));
    let s = c.server(&s.id).unwrap().clone();
    assert_eq!(s.status, "ACTIVE");
    let v = c.volume(&vol).unwrap();
    assert_eq!(v.status, "in-use");
    assert_eq!(v.attachments[0].server_id, s.id);
    // The network cannot go while the server's port is on it.
    assert!(matches!(
        c.delete_network(&net),
        Err(CloudError::Conflict {
            code: "NetworkInUse",
            ..
        })
    ));
    c.delete_server(&s.id).unwrap();
    let events = settle(&mut c);
    assert!(events.contains(&"compute.instance.delete.end".to_owned()));
    assert!(c.compute.servers.is_empty());
    assert!(!c.net.ports.contains_key(&port.id));
    assert_eq!(c.volume(&vol).unwrap().status, "available");
    let hv = c.compute.hypervisors.values().next().unwrap();
    assert_eq!((hv.vcpus_used, hv.running_vms), (0, 0));
    c.delete_network(&net).unwrap();
}

#[test]
fn no_capacity_ends_in_error_with_a_fault() {
    let mut c = cloud();
    let p = admin_project(&c);
    c.quotas.set(&p, "instances", -1);
    c.quotas.set(&p, "cores", -1);
    c.quotas.set(&p, "ram", -1);
    let mut ids = vec![];
    for i in 0..5 {
        let vol = boot_volume(&mut c, &p);
        ids.push(
            c.create_server(&p, "u", spec(&format!("s{i}"), &vol, None))
                .unwrap()
                .id,
        );
    }
    settle(&mut c);
    let statuses: Vec<&str> = ids
        .iter()
        .map(|id| c.server(id).unwrap().status.as_str())
        .collect();
    assert_eq!(statuses, ["ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "ERROR"]);
    let failed = c.server(&ids[4]).unwrap();
    assert!(failed.fault.as_ref().unwrap().1.contains("No valid host"));
}

#[test]
fn invalid_references_are_bad_requests() {
    let mut c = cloud();
    let p = admin_project(&c);
    let vol = boot_volume(&mut c, &p);
    let mut s = spec("x", &vol, None);
    s.flavor_ref = "nope".into();
    assert!(matches!(
        c.create_server(&p, "u", s),
        Err(CloudError::BadRequest(_))
    ));
    let mut s = spec("x", &vol, None);
    s.key_name = Some("missing".into());
    assert!(matches!(
        c.create_server(&p, "u", s),
        Err(CloudError::BadRequest(_))
    ));
    let mut s = spec("x", &vol, None);
    s.block_devices.clear();
    assert!(matches!(
        c.create_server(&p, "u", s),
        Err(CloudError::BadRequest(_))
    ));
    network(&mut c, &p, "10.0.0.0/24");
    network(&mut c, &p, "10.0.1.0/24");
    let s = ServerSpec {
        networks: None,
        ..spec("x", &vol, None)
    };
    assert!(matches!(
        c.create_server(&p, "u", s),
        Err(CloudError::Conflict {
            code: "NetworkAmbiguous",
            ..
        })
    ));
    c.quotas.set(&p, "instances", 0);
    assert!(matches!(
        c.create_server(&p, "u", spec("x", &vol, Some("nonexistent"))),
        Err(CloudError::QuotaExceeded(_)) | Err(CloudError::BadRequest(_))
    ));
}

#[test]
fn power_actions_follow_the_vm_state() {
    use crate::model::effect::PowerAction;
    let mut c = cloud();
    let p = admin_project(&c);
    let vol = boot_volume(&mut c, &p);
    let s = c.create_server(&p, "u", spec("a", &vol, None)).unwrap();
    assert!(
        c.server_power(&s.id, PowerAction::Stop).is_err(),
        "still building"
    );
    settle(&mut c);
    assert!(matches!(
        c.server_power(&s.id, PowerAction::Start),
        Err(CloudError::Conflict { .. })
    ));
    c.server_power(&s.id, PowerAction::Stop).unwrap();
    settle(&mut c);
    assert_eq!(c.server(&s.id).unwrap().status, "SHUTOFF");
    c.server_power(&s.id, PowerAction::Start).unwrap();
    settle(&mut c);
    assert_eq!(c.server(&s.id).unwrap().status, "ACTIVE");
    // Extra volume attach/detach.
    let extra = boot_volume(&mut c, &p);
    let sv = c.attach_volume(&s.id, &extra, None, false).unwrap();
    assert_eq!(sv.device, "/dev/vdb");
    assert_eq!(c.volume(&extra).unwrap().status, "attaching");
    settle(&mut c);
    assert_eq!(c.volume(&extra).unwrap().status, "in-use");
    assert!(c.detach_volume(&s.id, &vol).is_err(), "root volume");
    c.detach_volume(&s.id, &extra).unwrap();
    settle(&mut c);
    assert_eq!(c.volume(&extra).unwrap().status, "available");
}
