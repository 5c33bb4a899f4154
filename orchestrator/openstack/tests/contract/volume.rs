//! Cinder: volumes and actions, snapshots, manage/unmanage, types, pools, groups, limits.

use std::collections::BTreeMap;

use holdfast_openstack::Filters;
use holdfast_openstack::cinder::{ManageVolume, SnapshotCreate, VolumeCreate, VolumeTypeCreate};

use crate::support::{eventually, target, unique, volume_gone, volume_status};

#[tokio::test]
async fn volume_lifecycle_with_snapshot_extend_and_reset() {
    let t = target().await;
    let cinder = t.session.cinder();
    let name = unique("vol");
    let created = cinder
        .create_volume(&VolumeCreate {
            size: 1,
            name: Some(name.clone()),
            metadata: BTreeMap::from([("holdfast-job".to_owned(), "contract".to_owned())]),
            ..VolumeCreate::default()
        })
        .await
        .unwrap();
    let v = volume_status(&t.session, &created.id, "available").await;
    assert_eq!((v.size, v.name.as_deref()), (1, Some(name.as_str())));
    assert_eq!(
        v.metadata.get("holdfast-job").map(String::as_str),
        Some("contract")
    );
    assert!(
        v.host.as_deref().is_some_and(|h| h.contains('@')),
        "admin sees the backend host: {:?}",
        v.host
    );

    let everyone = cinder.volumes(&Filters::all_tenants()).await.unwrap();
    assert!(everyone.iter().any(|x| x.id == v.id));
    let by_name = cinder
        .volumes(&Filters::none().eq("name", &name))
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);

    cinder.extend_volume(&v.id, 2).await.unwrap();
    eventually("extended to 2 GiB", 60, || async {
        let v = cinder.volume(&created.id).await.unwrap();
        (v.size == 2 && v.status == "available").then_some(())
    })
    .await;

    cinder.set_bootable(&v.id, true).await.unwrap();
    assert!(cinder.volume(&v.id).await.unwrap().bootable);

    let snap = cinder
        .create_snapshot(&SnapshotCreate {
            volume_id: v.id.clone(),
            name: Some(unique("snap")),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("snapshot available", 60, || async {
        (cinder.snapshot(&snap.id).await.unwrap().status == "available").then_some(())
    })
    .await;
    let snaps = cinder.snapshots(&Filters::all_tenants()).await.unwrap();
    let listed = snaps
        .iter()
        .find(|s| s.id == snap.id)
        .expect("snapshot listed");
    assert_eq!((listed.volume_id.as_str(), listed.size), (v.id.as_str(), 2));

    // A volume from the snapshot.
    let clone = cinder
        .create_volume(&VolumeCreate {
            size: 2,
            snapshot_id: Some(snap.id.clone()),
            ..VolumeCreate::default()
        })
        .await
        .unwrap();
    let clone = volume_status(&t.session, &clone.id, "available").await;
    assert_eq!(clone.snapshot_id.as_deref(), Some(snap.id.as_str()));
    cinder.delete_volume(&clone.id).await.unwrap();
    volume_gone(&t.session, &clone.id).await;

    cinder.delete_snapshot(&snap.id).await.unwrap();
    eventually("snapshot deleted", 60, || async {
        cinder
            .snapshot(&snap.id)
            .await
            .err()
            .filter(|e| e.is_not_found())
            .map(drop)
    })
    .await;

    cinder.reset_volume_status(&v.id, "error").await.unwrap();
    assert_eq!(cinder.volume(&v.id).await.unwrap().status, "error");
    cinder
        .reset_volume_status(&v.id, "available")
        .await
        .unwrap();
    cinder.delete_volume(&v.id).await.unwrap();
    volume_gone(&t.session, &v.id).await;
}

#[tokio::test]
async fn unmanage_then_manage_the_same_backend_volume() {
    let t = target().await;
    let cinder = t.session.cinder();
    let created = cinder
        .create_volume(&VolumeCreate {
            size: 1,
            name: Some(unique("managed")),
            ..VolumeCreate::default()
        })
        .await
        .unwrap();
    let v = volume_status(&t.session, &created.id, "available").await;
    let host = v.host.clone().expect("backend host");
    cinder.unmanage_volume(&v.id).await.unwrap();
    volume_gone(&t.session, &v.id).await;

    // Cinder drivers (RBD, LVM, the test cloud's files) name the backend object volume-<id>.
    let source = format!("volume-{}", v.id);
    let manageable = cinder.manageable_volumes(&host).await.unwrap();
    let entry = manageable
        .iter()
        .find(|m| m.reference.get("source-name").and_then(|s| s.as_str()) == Some(source.as_str()))
        .unwrap_or_else(|| panic!("{source} is manageable on {host}: {manageable:?}"));
    assert!(entry.safe_to_manage, "{entry:?}");

    let name = unique("adopted");
    let mut request = ManageVolume::by_source_name(host.clone(), source);
    request.name = Some(name.clone());
    request.bootable = true;
    request
        .metadata
        .insert("holdfast-job".into(), "contract".into());
    let adopted = cinder.manage_volume(&request).await.unwrap();
    let adopted = volume_status(&t.session, &adopted.id, "available").await;
    assert_eq!(
        (adopted.size, adopted.name.as_deref(), adopted.bootable),
        (1, Some(name.as_str()), true)
    );
    assert_ne!(adopted.id, v.id);
    cinder.delete_volume(&adopted.id).await.unwrap();
    volume_gone(&t.session, &adopted.id).await;
}

#[tokio::test]
async fn types_pools_groups_and_limits() {
    let t = target().await;
    let cinder = t.session.cinder();
    let pools = cinder.pools().await.unwrap();
    assert!(!pools.is_empty());
    let backend = pools[0]
        .capabilities
        .volume_backend_name
        .clone()
        .expect("pools report their backend name");
    assert!(
        pools[0].name.contains('@') && pools[0].name.contains('#'),
        "{}",
        pools[0].name
    );

    let name = unique("type");
    let created = cinder
        .create_volume_type(&VolumeTypeCreate {
            name: name.clone(),
            is_public: true,
            extra_specs: BTreeMap::from([("volume_backend_name".to_owned(), backend.clone())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let listed = cinder.volume_types(&Filters::none()).await.unwrap();
    let found = listed
        .iter()
        .find(|ty| ty.id == created.id)
        .expect("type listed");
    assert_eq!(found.backend_name(), Some(backend.as_str()));
    assert_eq!(cinder.volume_type(&created.id).await.unwrap().name, name);
    cinder.delete_volume_type(&created.id).await.unwrap();
    assert!(
        cinder
            .volume_type(&created.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Lists answer (possibly empty) and parse.
    cinder.groups(&Filters::all_tenants()).await.unwrap();
    cinder
        .group_snapshots(&Filters::all_tenants())
        .await
        .unwrap();

    let limits = cinder.limits().await.unwrap();
    assert!(limits.max_total_volumes != 0);
    let project = t.session.token().await.unwrap().project.clone().unwrap().id;
    let quotas = cinder.quota_usage(&project).await.unwrap();
    assert!(
        quotas.contains_key("volumes") && quotas.contains_key("gigabytes"),
        "{quotas:?}"
    );
}
