//! What the recovery executor does on a target, in order, and what the services then say
//! about each other: a server booted from a volume on a prepared port, with a keypair,
//! a second volume attached, a floating IP; then torn down in reverse order.

use std::collections::BTreeMap;

use holdfast_openstack::Filters;
use holdfast_openstack::cinder::VolumeCreate;
use holdfast_openstack::neutron::{FixedIp, FloatingIpCreate, PortCreate, SecurityGroupCreate};
use holdfast_openstack::nova::{
    BlockDeviceMapping, FlavorCreate, KeypairCreate, NetworkRequest, Networks, ServerCreate,
};

use crate::network::{external_network, network_with_subnet};
use crate::support::{
    eventually, server_gone, server_status, target, unique, volume_gone, volume_status,
};

#[tokio::test]
async fn boot_from_volume_on_a_port_then_roll_back() {
    let t = target().await;
    let (nova, cinder, neutron) = (t.session.nova(), t.session.cinder(), t.session.neutron());

    // Prerequisites the executor creates first.
    let sg = neutron
        .create_security_group(&SecurityGroupCreate {
            name: unique("sg"),
            description: None,
            project_id: None,
        })
        .await
        .unwrap();
    let key = unique("key");
    nova.create_keypair(&KeypairCreate {
        name: key.clone(),
        public_key:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBiOjI7EmcXdxVSVAE5KyZW8cPYLEJgUUuHgXL0b9pAS hf"
                .into(),
        key_type: None,
        user_id: None,
    })
    .await
    .unwrap();
    let flavor = nova
        .create_flavor(&FlavorCreate {
            name: unique("flavor"),
            id: None,
            vcpus: 1,
            ram: 256,
            disk: 1,
            is_public: true,
        })
        .await
        .unwrap();
    let (net, subnet) = network_with_subnet(&t.session, "10.93.0.0/24").await;
    let port = neutron
        .create_port(&PortCreate {
            network_id: net.clone(),
            name: unique("port"),
            fixed_ips: vec![FixedIp {
                subnet_id: subnet.clone(),
                ip_address: Some("10.93.0.10".into()),
            }],
            security_groups: Some(vec![sg.id.clone()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let boot = cinder
        .create_volume(&VolumeCreate {
            size: 1,
            name: Some(unique("boot")),
            ..Default::default()
        })
        .await
        .unwrap();
    let data = cinder
        .create_volume(&VolumeCreate {
            size: 1,
            name: Some(unique("data")),
            ..Default::default()
        })
        .await
        .unwrap();
    volume_status(&t.session, &boot.id, "available").await;
    volume_status(&t.session, &data.id, "available").await;
    cinder.set_bootable(&boot.id, true).await.unwrap();
    let zone = nova
        .availability_zones()
        .await
        .unwrap()
        .into_iter()
        .find(|z| !z.compute_hosts().is_empty())
        .unwrap();

    let name = unique("server");
    let created = nova
        .create_server(&ServerCreate {
            name: name.clone(),
            flavor_ref: flavor.id.clone(),
            image_ref: None,
            block_device_mapping_v2: vec![BlockDeviceMapping::existing_volume(&boot.id, true)],
            networks: Networks::List(vec![NetworkRequest {
                port: Some(port.id.clone()),
                ..Default::default()
            }]),
            key_name: Some(key.clone()),
            availability_zone: Some(zone.name.clone()),
            security_groups: vec![],
            metadata: BTreeMap::from([("holdfast-job".to_owned(), "contract".to_owned())]),
        })
        .await
        .unwrap();
    let server = server_status(&t.session, &created.id, "ACTIVE").await;

    // Nova's view.
    assert_eq!(server.name, name);
    assert_eq!(server.key_name.as_deref(), Some(key.as_str()));
    assert_eq!(
        server.availability_zone.as_deref(),
        Some(zone.name.as_str())
    );
    assert_eq!(
        server.metadata.get("holdfast-job").map(String::as_str),
        Some("contract")
    );
    assert!(server.volumes_attached.iter().any(|v| v.id == boot.id));
    assert!(
        server
            .addresses
            .values()
            .flatten()
            .any(|a| a.addr == "10.93.0.10"),
        "{:?}",
        server.addresses
    );
    assert!(server.host.is_some() && server.hypervisor_hostname.is_some());
    assert!(
        nova.servers(&Filters::all_tenants())
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == server.id)
    );
    // Cinder's and Neutron's views agree.
    let boot_now = volume_status(&t.session, &boot.id, "in-use").await;
    assert!(
        boot_now
            .attachments
            .iter()
            .any(|a| a.server_id.as_deref() == Some(server.id.as_str()))
    );
    let port_now = neutron.port(&port.id).await.unwrap();
    assert_eq!(port_now.device_id, server.id);
    assert!(
        port_now.device_owner.starts_with("compute:"),
        "{}",
        port_now.device_owner
    );
    let hypervisors = nova.hypervisors().await.unwrap();
    assert!(
        hypervisors
            .iter()
            .any(|h| h.running_vms >= 1 && h.vcpus_used >= 1)
    );

    // Attach the data volume.
    let attachment = nova.attach_volume(&server.id, &data.id).await.unwrap();
    assert_eq!(attachment.volume_id, data.id);
    volume_status(&t.session, &data.id, "in-use").await;
    let attachments = nova.volume_attachments(&server.id).await.unwrap();
    let attached: Vec<&str> = attachments.iter().map(|a| a.volume_id.as_str()).collect();
    assert!(
        attached.contains(&boot.id.as_str()) && attached.contains(&data.id.as_str()),
        "{attached:?}"
    );

    // Stop and start in boot order.
    nova.stop_server(&server.id).await.unwrap();
    server_status(&t.session, &server.id, "SHUTOFF").await;
    nova.start_server(&server.id).await.unwrap();
    server_status(&t.session, &server.id, "ACTIVE").await;

    // Floating IP, when an external network is available.
    let mut external_made = None;
    let mut router = None;
    if t.cloud.is_some() || t.external_net.is_some() {
        let (external, made) = external_network(&t).await;
        if made {
            external_made = Some(external.clone());
        }
        let r = neutron
            .create_router(&holdfast_openstack::neutron::RouterCreate {
                name: unique("router"),
                admin_state_up: true,
                external_gateway_info: Some(holdfast_openstack::neutron::ExternalGateway {
                    network_id: external.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        neutron.add_router_interface(&r.id, &subnet).await.unwrap();
        router = Some(r.id.clone());
        let fip = neutron
            .create_floating_ip(&FloatingIpCreate {
                floating_network_id: external,
                port_id: Some(port.id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(fip.fixed_ip_address.as_deref(), Some("10.93.0.10"));
        let shown = neutron.floating_ip(&fip.id).await.unwrap();
        assert_eq!(shown.port_id.as_deref(), Some(port.id.as_str()));
        // Nova learns of the address through Neutron's notifications to Nova, which not
        // every deployment sends; the test cloud does.
        if t.cloud.is_some() {
            let seen = eventually("floating IP in the server's addresses", 60, || async {
                let s = nova.server(&server.id).await.unwrap();
                s.addresses
                    .values()
                    .flatten()
                    .any(|a| {
                        a.addr == fip.floating_ip_address && a.kind.as_deref() == Some("floating")
                    })
                    .then_some(())
            })
            .await;
            let () = seen;
        }
        neutron.disassociate_floating_ip(&fip.id).await.unwrap();
        neutron.delete_floating_ip(&fip.id).await.unwrap();
    }

    // Roll back in reverse dependency order.
    nova.detach_volume(&server.id, &data.id).await.unwrap();
    volume_status(&t.session, &data.id, "available").await;
    nova.delete_server(&server.id).await.unwrap();
    server_gone(&t.session, &server.id).await;
    volume_status(&t.session, &boot.id, "available").await;
    for v in [&boot.id, &data.id] {
        cinder.delete_volume(v).await.unwrap();
        volume_gone(&t.session, v).await;
    }
    if let Some(r) = router {
        neutron.remove_router_interface(&r, &subnet).await.unwrap();
        neutron.delete_router(&r).await.unwrap();
    }
    neutron.delete_port(&port.id).await.unwrap();
    neutron.delete_subnet(&subnet).await.unwrap();
    neutron.delete_network(&net).await.unwrap();
    if let Some(ext) = external_made {
        for s in neutron
            .subnets(&Filters::none().eq("network_id", &ext))
            .await
            .unwrap()
        {
            neutron.delete_subnet(&s.id).await.unwrap();
        }
        neutron.delete_network(&ext).await.unwrap();
    }
    neutron.delete_security_group(&sg.id).await.unwrap();
    nova.delete_keypair(&key).await.unwrap();
    nova.delete_flavor(&flavor.id).await.unwrap();
}
