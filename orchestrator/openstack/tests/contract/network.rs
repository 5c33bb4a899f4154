//! Neutron: networks, subnets, ports, routers, floating IPs, security groups.

use holdfast_openstack::neutron::{
    ExternalGateway, FixedIp, FloatingIpCreate, NetworkCreate, PortCreate, RouterCreate,
    SecurityGroupCreate, SecurityGroupRuleCreate, SubnetCreate,
};
use holdfast_openstack::{Error, Filters, Session};

use crate::support::{target, unique};

pub(crate) async fn network_with_subnet(session: &Session, cidr: &str) -> (String, String) {
    let neutron = session.neutron();
    let net = neutron
        .create_network(&NetworkCreate {
            name: unique("net"),
            admin_state_up: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let subnet = neutron
        .create_subnet(&SubnetCreate {
            network_id: net.id.clone(),
            name: unique("subnet"),
            cidr: cidr.into(),
            ip_version: 4,
            enable_dhcp: true,
            ..Default::default()
        })
        .await
        .unwrap();
    (net.id, subnet.id)
}

/// The external network to use: the configured one, or (on a test cloud) a new one.
pub(crate) async fn external_network(t: &crate::support::Target) -> (String, bool) {
    let neutron = t.session.neutron();
    if let Some(name) = &t.external_net {
        let nets = neutron
            .networks(&Filters::none().eq("name", name))
            .await
            .unwrap();
        let net = nets
            .into_iter()
            .find(|n| n.external)
            .unwrap_or_else(|| panic!("external network {name}"));
        return (net.id, false);
    }
    assert!(
        t.cloud.is_some(),
        "set HOLDFAST_CONTRACT_EXTERNAL_NET for an external cloud"
    );
    let net = neutron
        .create_network(&NetworkCreate {
            name: unique("public"),
            admin_state_up: true,
            external: Some(true),
            network_type: Some("flat".into()),
            physical_network: Some("public".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(net.external);
    neutron
        .create_subnet(&SubnetCreate {
            network_id: net.id.clone(),
            name: unique("public-subnet"),
            cidr: "203.0.113.0/24".into(),
            ip_version: 4,
            enable_dhcp: false,
            ..Default::default()
        })
        .await
        .unwrap();
    (net.id, true)
}

#[tokio::test]
async fn networks_subnets_and_ports() {
    let t = target().await;
    let neutron = t.session.neutron();
    let (net, subnet) = network_with_subnet(&t.session, "10.91.0.0/24").await;
    let n = neutron.network(&net).await.unwrap();
    assert_eq!(n.subnets, std::slice::from_ref(&subnet));
    assert!(!n.external);
    let s = neutron.subnet(&subnet).await.unwrap();
    assert_eq!(
        (s.cidr.as_str(), s.gateway_ip.as_deref()),
        ("10.91.0.0/24", Some("10.91.0.1"))
    );
    assert!(
        neutron
            .networks(&Filters::all_tenants())
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == net)
    );
    assert!(
        neutron
            .subnets(&Filters::none().eq("network_id", &net))
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == subnet)
    );

    let port = neutron
        .create_port(&PortCreate {
            network_id: net.clone(),
            name: unique("port"),
            fixed_ips: vec![FixedIp {
                subnet_id: subnet.clone(),
                ip_address: Some("10.91.0.50".into()),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(port.fixed_ips[0].ip_address.as_deref(), Some("10.91.0.50"));
    let ports = neutron
        .ports(&Filters::none().eq("network_id", &net))
        .await
        .unwrap();
    assert!(ports.iter().any(|p| p.id == port.id));
    assert_eq!(
        neutron.port(&port.id).await.unwrap().mac_address,
        port.mac_address
    );

    // A network with a port in use cannot go.
    let err = neutron.delete_network(&net).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");

    neutron.delete_port(&port.id).await.unwrap();
    assert!(neutron.port(&port.id).await.unwrap_err().is_not_found());
    neutron.delete_subnet(&subnet).await.unwrap();
    neutron.delete_network(&net).await.unwrap();
    assert!(neutron.network(&net).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn routers_and_floating_ips() {
    let t = target().await;
    let neutron = t.session.neutron();
    let (external, made_external) = external_network(&t).await;
    let (net, subnet) = network_with_subnet(&t.session, "10.92.0.0/24").await;
    let router = neutron
        .create_router(&RouterCreate {
            name: unique("router"),
            admin_state_up: true,
            external_gateway_info: Some(ExternalGateway {
                network_id: external.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let gw = router.external_gateway_info.clone().expect("gateway set");
    assert_eq!(gw.network_id, external);
    neutron
        .add_router_interface(&router.id, &subnet)
        .await
        .unwrap();
    let interfaces = neutron.router_interfaces(&router.id).await.unwrap();
    assert_eq!(interfaces.len(), 1);
    assert_eq!(interfaces[0].fixed_ips[0].subnet_id, subnet);
    assert!(
        neutron
            .routers(&Filters::none())
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == router.id)
    );

    let port = neutron
        .create_port(&PortCreate {
            network_id: net.clone(),
            name: unique("fip-port"),
            ..Default::default()
        })
        .await
        .unwrap();
    let fip = neutron
        .create_floating_ip(&FloatingIpCreate {
            floating_network_id: external.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(fip.port_id.is_none());
    let associated = neutron
        .associate_floating_ip(&fip.id, &port.id)
        .await
        .unwrap();
    assert_eq!(associated.port_id.as_deref(), Some(port.id.as_str()));
    assert_eq!(associated.fixed_ip_address, port.fixed_ips[0].ip_address);
    let listed = neutron
        .floating_ips(&Filters::none().eq("port_id", &port.id))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        [fip.id.as_str()]
    );
    let free = neutron.disassociate_floating_ip(&fip.id).await.unwrap();
    assert!(free.port_id.is_none());
    neutron.delete_floating_ip(&fip.id).await.unwrap();
    assert!(
        neutron
            .floating_ip(&fip.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    neutron.delete_port(&port.id).await.unwrap();
    let err = neutron.delete_router(&router.id).await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(_)),
        "a router with interfaces stays: {err}"
    );
    neutron
        .remove_router_interface(&router.id, &subnet)
        .await
        .unwrap();
    let cleared = neutron.set_router_gateway(&router.id, None).await.unwrap();
    assert!(cleared.external_gateway_info.is_none());
    neutron.delete_router(&router.id).await.unwrap();
    neutron.delete_subnet(&subnet).await.unwrap();
    neutron.delete_network(&net).await.unwrap();
    if made_external {
        for s in neutron
            .subnets(&Filters::none().eq("network_id", &external))
            .await
            .unwrap()
        {
            neutron.delete_subnet(&s.id).await.unwrap();
        }
        neutron.delete_network(&external).await.unwrap();
    }
}

#[tokio::test]
async fn security_groups_and_rules() {
    let t = target().await;
    let neutron = t.session.neutron();
    let name = unique("sg");
    let group = neutron
        .create_security_group(&SecurityGroupCreate {
            name: name.clone(),
            description: Some("contract".into()),
            project_id: None,
        })
        .await
        .unwrap();
    assert!(
        group
            .security_group_rules
            .iter()
            .all(|r| r.direction == "egress"),
        "only default egress rules"
    );
    let rule = neutron
        .create_security_group_rule(&SecurityGroupRuleCreate {
            security_group_id: group.id.clone(),
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: Some("tcp".into()),
            port_range_min: Some(22),
            port_range_max: Some(22),
            remote_ip_prefix: Some("0.0.0.0/0".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (rule.port_range_min, rule.protocol.as_deref()),
        (Some(22), Some("tcp"))
    );
    let shown = neutron.security_group(&group.id).await.unwrap();
    assert!(shown.security_group_rules.iter().any(|r| r.id == rule.id));
    let rules = neutron
        .security_group_rules(&Filters::none().eq("security_group_id", &group.id))
        .await
        .unwrap();
    assert!(rules.iter().any(|r| r.id == rule.id));
    assert!(
        neutron
            .security_groups(&Filters::none().eq("name", &name))
            .await
            .unwrap()
            .iter()
            .any(|g| g.id == group.id)
    );
    neutron.delete_security_group_rule(&rule.id).await.unwrap();
    neutron.delete_security_group(&group.id).await.unwrap();
    assert!(
        neutron
            .security_group(&group.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}
