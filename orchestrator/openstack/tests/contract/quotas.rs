//! Quota sets of a project in Nova, Cinder and Neutron: read, raise, read back.

use std::collections::BTreeMap;

use holdfast_openstack::QuotaService;
use holdfast_openstack::keystone::ProjectCreate;

use crate::support::{target, unique};

#[tokio::test]
async fn quota_sets_are_read_and_raised_per_service() {
    let t = target().await;
    let ks = t.session.keystone();
    let project = ks
        .create_project(&ProjectCreate {
            name: unique("quotas"),
            enabled: true,
            ..ProjectCreate::default()
        })
        .await
        .unwrap();
    for (service, key) in [
        (QuotaService::Compute, "instances"),
        (QuotaService::Volume, "volumes"),
        (QuotaService::Network, "port"),
    ] {
        let before = t.session.quotas(service, &project.id).await.unwrap();
        let have = *before
            .get(key)
            .unwrap_or_else(|| panic!("{service:?} quotas have {key}: {before:?}"));
        let want = if have < 0 { 500 } else { have + 7 };
        let set = t
            .session
            .set_quotas(
                service,
                &project.id,
                &BTreeMap::from([(key.to_owned(), want)]),
            )
            .await
            .unwrap();
        assert_eq!(set.get(key), Some(&want), "{service:?}: {set:?}");
        let after = t.session.quotas(service, &project.id).await.unwrap();
        assert_eq!(after.get(key), Some(&want), "{service:?}: {after:?}");
        // Only the given key changed.
        for (k, v) in &before {
            if k != key {
                assert_eq!(after.get(k), Some(v), "{service:?}: {k} changed");
            }
        }
    }
    ks.delete_project(&project.id).await.unwrap();
}
