use super::*;
use crate::model::testing::{admin_project, cloud};

fn net_with_subnet(c: &mut Cloud, p: &str, cidr: &str, external: bool) -> (String, String) {
    let n = c
        .create_network(
            p,
            NetworkSpec {
                name: Some("n".into()),
                external: Some(external),
                ..Default::default()
            },
        )
        .unwrap();
    let s = c
        .create_subnet(
            p,
            SubnetSpec {
                network_id: n.id.clone(),
                cidr: cidr.into(),
                ip_version: 4,
                ..Default::default()
            },
        )
        .unwrap();
    (n.id, s.id)
}

fn port(c: &mut Cloud, p: &str, net: &str) -> CloudResult<Port> {
    c.create_port(
        p,
        PortSpec {
            network_id: net.into(),
            ..Default::default()
        },
    )
}

#[test]
fn ports_get_distinct_addresses_until_the_subnet_is_full() {
    let mut c = cloud();
    let p = admin_project(&c);
    let (net, sub) = net_with_subnet(&mut c, &p, "10.0.0.0/29", false);
    // /29: .0 network, .7 broadcast, .1 gateway -> .2 ..= .6 allocatable.
    let mut seen = HashSet::new();
    for _ in 0..5 {
        let port = port(&mut c, &p, &net).unwrap();
        assert_eq!(port.fixed_ips[0].0, sub);
        assert!(seen.insert(port.fixed_ips[0].1));
    }
    let err = port(&mut c, &p, &net).unwrap_err();
    assert!(matches!(
        err,
        CloudError::Conflict {
            code: "IpAddressGenerationFailure",
            ..
        }
    ));
    // A released address is reused.
    let any = c.net.ports.keys().next().unwrap().clone();
    c.delete_port(&any).unwrap();
    assert!(port(&mut c, &p, &net).is_ok());
}

#[test]
fn a_network_with_ports_cannot_be_deleted() {
    let mut c = cloud();
    let p = admin_project(&c);
    let (net, _) = net_with_subnet(&mut c, &p, "10.0.0.0/24", false);
    let port = port(&mut c, &p, &net).unwrap();
    assert!(matches!(
        c.delete_network(&net),
        Err(CloudError::Conflict {
            code: "NetworkInUse",
            ..
        })
    ));
    c.delete_port(&port.id).unwrap();
    c.delete_network(&net).unwrap();
    assert!(c.net.subnets.is_empty());
}

#[test]
fn floating_ips_need_a_router_between_the_port_and_the_external_network() {
    let mut c = cloud();
    let p = admin_project(&c);
    let (ext, _) = net_with_subnet(&mut c, &p, "203.0.113.0/24", true);
    let (net, sub) = net_with_subnet(&mut c, &p, "10.0.0.0/24", false);
    let port = port(&mut c, &p, &net).unwrap();
    let fip = c.create_floating_ip(&p, &ext, None, None, None).unwrap();
    assert_eq!(fip.status, "DOWN");
    assert!(matches!(
        c.update_floating_ip(&fip.id, Some(&port.id), None),
        Err(CloudError::NotFound { .. })
    ));
    let r = c
        .create_router(&p, Some("r".into()), None, None, Some((ext.clone(), None)))
        .unwrap();
    let iface = c.add_router_interface(&r.id, Some(&sub), None).unwrap();
    assert_eq!(iface.fixed_ips[0].1.to_string(), "10.0.0.1");
    let f = c.update_floating_ip(&fip.id, Some(&port.id), None).unwrap();
    assert_eq!(f.router_id.as_deref(), Some(r.id.as_str()));
    assert_eq!(f.status, "ACTIVE");
    // Interfaces block router deletion and cannot be deleted as plain ports.
    assert!(matches!(
        c.delete_router(&r.id),
        Err(CloudError::Conflict {
            code: "RouterInUse",
            ..
        })
    ));
    assert!(matches!(
        c.delete_port(&iface.id),
        Err(CloudError::Conflict { .. })
    ));
    assert!(
        c.remove_router_interface(&r.id, Some(&sub), None).is_err(),
        "in use by a floating IP"
    );
    c.update_floating_ip(&fip.id, None, None).unwrap();
    c.remove_router_interface(&r.id, Some(&sub), None).unwrap();
    c.delete_router(&r.id).unwrap();
    // Not an external network.
    assert!(matches!(
        c.create_floating_ip(&p, &net, None, None, None),
        Err(CloudError::BadRequest(_))
    ));
}

#[test]
fn security_groups_default_and_in_use() {
    let mut c = cloud();
    let p = admin_project(&c);
    let default = c.default_security_group(&p).unwrap();
    assert!(matches!(
        c.delete_security_group(&default),
        Err(CloudError::Conflict { .. })
    ));
    let g = c.create_security_group(&p, "web", None, None).unwrap();
    let rule = RuleSpec {
        security_group_id: g.id.clone(),
        direction: "ingress".into(),
        protocol: Some("TCP".into()),
        port_range_min: Some(22),
        port_range_max: Some(22),
        ..Default::default()
    };
    let r = c.create_security_group_rule(&p, rule.clone()).unwrap();
    assert_eq!(r.protocol.as_deref(), Some("tcp"));
    assert!(matches!(
        c.create_security_group_rule(&p, rule),
        Err(CloudError::Conflict {
            code: "SecurityGroupRuleExists",
            ..
        })
    ));
    let (net, _) = net_with_subnet(&mut c, &p, "10.1.0.0/24", false);
    let port = c
        .create_port(
            &p,
            PortSpec {
                network_id: net,
                security_groups: Some(vec![g.id.clone()]),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(matches!(
        c.delete_security_group(&g.id),
        Err(CloudError::Conflict {
            code: "SecurityGroupInUse",
            ..
        })
    ));
    c.delete_port(&port.id).unwrap();
    c.delete_security_group(&g.id).unwrap();
    assert!(!c.net.security_group_rules.contains_key(&r.id));
}

#[test]
fn quota_exhaustion_is_an_over_quota_error() {
    let mut c = cloud();
    let p = admin_project(&c);
    c.quotas.set(&p, "network", 0);
    assert!(matches!(
        c.create_network(&p, NetworkSpec::default()),
        Err(CloudError::QuotaExceeded(_))
    ));
}
