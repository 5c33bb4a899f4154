//! The target cloud's full resource listing (servers, volumes, networks, subnets,
//! routers, ports, security groups, keypairs, floating IPs, projects), as the admin
//! sees it: what a drill's rollback must leave exactly as it found it.

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::{Filters, Session};

/// Every resource by kind, as `id name` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing(BTreeMap<&'static str, BTreeSet<String>>);

fn line(id: &str, name: impl std::fmt::Display) -> String {
    format!("{id} {name}")
}

impl Listing {
    /// Lists the cloud now.
    pub(crate) async fn take(admin: &Session) -> anyhow::Result<Listing> {
        let all = Filters::all_tenants();
        let none = Filters::none();
        let (nova, cinder, neutron) = (admin.nova(), admin.cinder(), admin.neutron());
        let mut m: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        m.insert(
            "servers",
            nova.servers(&all)
                .await?
                .iter()
                .map(|s| line(&s.id, &s.name))
                .collect(),
        );
        m.insert(
            "volumes",
            cinder
                .volumes(&all)
                .await?
                .iter()
                .map(|v| line(&v.id, v.name.as_deref().unwrap_or("")))
                .collect(),
        );
        m.insert(
            "networks",
            neutron
                .networks(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.name))
                .collect(),
        );
        m.insert(
            "subnets",
            neutron
                .subnets(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.name))
                .collect(),
        );
        m.insert(
            "routers",
            neutron
                .routers(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.name))
                .collect(),
        );
        m.insert(
            "ports",
            neutron
                .ports(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, format!("{} {}", x.name, x.device_owner)))
                .collect(),
        );
        m.insert(
            "security groups",
            neutron
                .security_groups(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.name))
                .collect(),
        );
        m.insert(
            "keypairs",
            nova.keypairs(&none)
                .await?
                .iter()
                .map(|k| line(&k.name, ""))
                .collect(),
        );
        m.insert(
            "floating IPs",
            neutron
                .floating_ips(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.floating_ip_address))
                .collect(),
        );
        m.insert(
            "projects",
            admin
                .keystone()
                .projects(&none)
                .await?
                .iter()
                .map(|x| line(&x.id, &x.name))
                .collect(),
        );
        Ok(Listing(m))
    }

    /// Whether a resource of `kind` with `id` is listed.
    pub(crate) fn has(&self, kind: &str, id: &str) -> bool {
        self.0
            .get(kind)
            .is_some_and(|l| l.iter().any(|x| x.split(' ').next() == Some(id)))
    }

    /// How many resources of every kind, e.g. `servers 0, volumes 2, …`.
    pub(crate) fn counts(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What `later` has that `self` has not (`+`) and the reverse (`-`), by kind.
    pub(crate) fn diff(&self, later: &Listing) -> Vec<String> {
        let empty = BTreeSet::new();
        let mut out = Vec::new();
        let kinds: BTreeSet<&&str> = self.0.keys().chain(later.0.keys()).collect();
        for k in kinds {
            let (a, b) = (
                self.0.get(*k).unwrap_or(&empty),
                later.0.get(*k).unwrap_or(&empty),
            );
            out.extend(b.difference(a).map(|x| format!("+ {k}: {x}")));
            out.extend(a.difference(b).map(|x| format!("- {k}: {x}")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_what_appeared_and_what_went() {
        let mk = |servers: &[&str], projects: &[&str]| {
            let set = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
            Listing(BTreeMap::from([
                ("servers", set(servers)),
                ("projects", set(projects)),
            ]))
        };
        let before = mk(&["1 a"], &["p admin"]);
        assert!(before.diff(&before.clone()).is_empty());
        let after = mk(&["1 a", "2 b"], &[]);
        assert_eq!(
            before.diff(&after),
            vec![
                "- projects: p admin".to_owned(),
                "+ servers: 2 b".to_owned()
            ]
        );
        assert_eq!(after.counts(), "projects 0, servers 2");
        assert!(after.has("servers", "2") && !after.has("servers", "3"));
        assert!(!after.has("volumes", "1"));
    }
}
