use super::*;
use crate::model::Effect;
use crate::model::testing::{admin_project, cloud, settle};

fn vol(c: &mut Cloud, p: &str, size: u64) -> Volume {
    c.create_volume(
        p,
        "u",
        VolumeSpec {
            size_gb: Some(size),
            name: Some("v".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn volumes_are_created_as_files_then_become_available() {
    let mut c = cloud();
    let p = admin_project(&c);
    let v = vol(&mut c, &p, 2);
    assert_eq!(v.status, "creating");
    let effects = c.take_effects();
    let job = effects.iter().find_map(|e| match e {
        Effect::Job(j @ Job::CreateVolume { .. }) => Some(j.clone()),
        _ => None,
    });
    let Some(Job::CreateVolume { path, size_gb, .. }) = job.clone() else {
        panic!("no create job")
    };
    assert_eq!(
        path,
        PathBuf::from(format!("/storage/file/file/volume-{}", v.id))
    );
    assert_eq!(size_gb, 2);
    c.finish(&job.unwrap(), Ok(()));
    assert_eq!(c.volume(&v.id).unwrap().status, "available");
    let events = settle(&mut c);
    assert!(events.contains(&"volume.create.end".to_owned()));
}

#[test]
fn a_failed_file_leaves_the_volume_in_error() {
    let mut c = cloud();
    let p = admin_project(&c);
    let v = vol(&mut c, &p, 1);
    for e in c.take_effects() {
        if let Effect::Job(j) = e {
            c.finish(&j, Err("disk full".into()));
        }
    }
    assert_eq!(c.volume(&v.id).unwrap().status, "error");
}

#[test]
fn snapshots_block_deletion_unless_cascading() {
    let mut c = cloud();
    let p = admin_project(&c);
    let v = vol(&mut c, &p, 1);
    settle(&mut c);
    let s = c
        .create_snapshot(
            &p,
            "u",
            SnapshotSpec {
                volume_id: v.id.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    settle(&mut c);
    assert_eq!(c.snapshot(&s.id).unwrap().status, "available");
    assert!(matches!(
        c.delete_volume(&v.id, false),
        Err(CloudError::BadRequest(_))
    ));
    // A volume from the snapshot copies the snapshot's file.
    let from = c
        .create_volume(
            &p,
            "u",
            VolumeSpec {
                snapshot_id: Some(s.id.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(from.size_gb, 1);
    let copy = c.take_effects().into_iter().find_map(|e| match e {
        Effect::Job(Job::CreateVolume { source, .. }) => source,
        _ => None,
    });
    assert_eq!(
        copy,
        Some(PathBuf::from(format!(
            "/storage/file/file/snapshot-{}",
            s.id
        )))
    );
    c.delete_volume(&v.id, true).unwrap();
    settle(&mut c);
    assert!(!c.block.volumes.contains_key(&v.id));
    assert!(c.block.snapshots.is_empty());
}

#[test]
fn manage_adopts_and_unmanage_releases() {
    let mut c = cloud();
    let p = admin_project(&c);
    let spec = ManageSpec {
        host: "testcloud@file#file".into(),
        source_name: "replica-1".into(),
        size_gb: 3,
        ..Default::default()
    };
    let v = c.manage_volume(&p, "u", spec.clone()).unwrap();
    let adopt = c.take_effects().into_iter().find_map(|e| match e {
        Effect::Job(j @ Job::AdoptVolume { .. }) => Some(j),
        _ => None,
    });
    let Some(Job::AdoptVolume { from, to, .. }) = adopt.clone() else {
        panic!("no adopt job")
    };
    assert_eq!(from, PathBuf::from("/storage/file/file/replica-1"));
    assert_eq!(
        to,
        PathBuf::from(format!("/storage/file/file/volume-{}", v.id))
    );
    c.finish(&adopt.unwrap(), Ok(()));
    assert_eq!(c.volume(&v.id).unwrap().status, "available");
    assert_eq!(c.volume(&v.id).unwrap().size_gb, 3);
    let bad_host = ManageSpec {
        host: "testcloud@nope".into(),
        ..spec.clone()
    };
    assert!(c.manage_volume(&p, "u", bad_host).is_err());
    let traversal = ManageSpec {
        source_name: "../x".into(),
        ..spec
    };
    assert!(c.manage_volume(&p, "u", traversal).is_err());
    let path = c.unmanage_volume(&v.id).unwrap();
    assert_eq!(path, to);
    assert!(!c.block.volumes.contains_key(&v.id));
    // Unmanaging deletes no file: no job was queued.
    assert!(!c.take_effects().iter().any(|e| matches!(e, Effect::Job(_))));
}

#[test]
fn quota_and_capacity() {
    let mut c = cloud();
    let p = admin_project(&c);
    c.quotas.set(&p, "volumes", 1);
    vol(&mut c, &p, 1);
    let err = c
        .create_volume(
            &p,
            "u",
            VolumeSpec {
                size_gb: Some(1),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, CloudError::QuotaExceeded(_)));
    c.quotas.set(&p, "volumes", -1);
    c.quotas.set(&p, "gigabytes", -1);
    let huge = c
        .create_volume(
            &p,
            "u",
            VolumeSpec {
                size_gb: Some(10_000_000),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(huge.status, "error", "no pool has room");
}

#[test]
fn group_snapshot_becomes_available_with_all_its_snapshots() {
    let mut c = cloud();
    let p = admin_project(&c);
    let gt = c
        .create_group_type("gt", None, None, BTreeMap::new())
        .unwrap();
    let g = c
        .create_group(
            &p,
            &gt.id,
            &["__DEFAULT__".to_owned()],
            Some("g".into()),
            None,
            None,
        )
        .unwrap();
    let a = vol(&mut c, &p, 1);
    let b = vol(&mut c, &p, 1);
    settle(&mut c);
    c.update_group(&g.id, None, None, &[a.id.clone(), b.id.clone()], &[])
        .unwrap();
    let gs = c.create_group_snapshot(&p, "u", &g.id, None, None).unwrap();
    assert_eq!(gs.status, "creating");
    settle(&mut c);
    assert_eq!(c.block.group_snapshots[&gs.id].status, "available");
    assert_eq!(
        c.block
            .snapshots
            .values()
            .filter(|s| s.group_snapshot_id.as_deref() == Some(gs.id.as_str()))
            .count(),
        2
    );
    assert!(
        c.delete_group(&g.id, true).is_err(),
        "group snapshots exist"
    );
    c.delete_group_snapshot(&gs.id).unwrap();
    settle(&mut c);
    c.delete_group(&g.id, true).unwrap();
    settle(&mut c);
    assert!(c.block.volumes.is_empty());
}
