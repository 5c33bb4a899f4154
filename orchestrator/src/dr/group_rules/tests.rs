use super::*;
use proptest::prelude::*;

fn i(s: &str) -> InstanceId {
    InstanceId::new(s)
}
fn v(s: &str) -> VolumeId {
    VolumeId::new(s)
}
fn set(xs: &[&str]) -> BTreeSet<InstanceId> {
    xs.iter().map(|x| i(x)).collect()
}

/// web1, web2, db in project shop (db shares volume "shared" with web2); other in
/// project ops; taken is in group g9.
fn inv() -> SourceInventory {
    let inst = |project: &str, group: Option<&str>, vols: &[&str]| SourceInstance {
        project: ProjectId::new(project),
        group: group.map(GroupId::new),
        volumes: vols.iter().map(|x| v(x)).collect(),
    };
    let vol = |att: &[&str]| SourceVolume {
        attached_to: att.iter().map(|x| i(x)).collect(),
        volume_group: None,
        from_snapshot: None,
    };
    SourceInventory {
        instances: [
            (i("web1"), inst("shop", None, &["w1"])),
            (i("web2"), inst("shop", None, &["w2", "shared"])),
            (i("db"), inst("shop", None, &["d", "shared"])),
            (i("other"), inst("ops", None, &["o"])),
            (i("taken"), inst("shop", Some("g9"), &["t"])),
        ]
        .into(),
        volumes: [
            (v("w1"), vol(&["web1"])),
            (v("w2"), vol(&["web2"])),
            (v("shared"), vol(&["web2", "db"])),
            (v("d"), vol(&["db"])),
            (v("o"), vol(&["other"])),
            (v("t"), vol(&["taken"])),
        ]
        .into(),
        volume_groups: BTreeMap::new(),
        projects_with_admin: [ProjectId::new("shop"), ProjectId::new("ops")].into(),
        admin_user: "hf-admin".into(),
    }
}

const LIC: LicenceFacts = LicenceFacts::Valid {
    instance_limit: 10,
    protected: 0,
};

#[test]
fn a_valid_group() {
    let g = check_create("shop-web", &set(&["web1", "web2", "db"]), &inv(), LIC).unwrap();
    assert_eq!(g.project, ProjectId::new("shop"));
    assert_eq!(g.instances.len(), 3);
    assert_eq!(
        unprotected(&inv()),
        vec![i("db"), i("other"), i("web1"), i("web2")]
    );
}

#[test]
fn every_cannot_create_rule() {
    let err = |name: &str, sel: &[&str], inv: &SourceInventory, lic| {
        check_create(name, &set(sel), inv, lic).unwrap_err()
    };
    assert_eq!(err("ok", &[], &inv(), LIC), vec![GroupRefusal::NoInstances]);
    assert!(matches!(
        err("bad name", &["web1"], &inv(), LIC)[..],
        [GroupRefusal::Name(_)]
    ));
    assert_eq!(
        err("ok", &["nope"], &inv(), LIC),
        vec![GroupRefusal::UnknownInstance(i("nope"))]
    );
    assert_eq!(
        err("ok", &["taken"], &inv(), LIC),
        vec![GroupRefusal::InOtherGroup {
            instance: i("taken"),
            group: GroupId::new("g9")
        }]
    );
    assert_eq!(
        err("ok", &["web1", "other"], &inv(), LIC),
        vec![GroupRefusal::MixedProjects(vec![
            ProjectId::new("ops"),
            ProjectId::new("shop")
        ])]
    );
    assert_eq!(
        err("ok", &["web2"], &inv(), LIC),
        vec![GroupRefusal::SharedVolume {
            volume: v("shared"),
            inside: i("web2"),
            outside: i("db")
        }]
    );
    assert_eq!(
        err(
            "ok",
            &["web1", "web2", "db"],
            &inv(),
            LicenceFacts::Valid {
                instance_limit: 4,
                protected: 2
            }
        ),
        vec![GroupRefusal::LicenceLimit {
            limit: 4,
            protected: 2,
            adding: 3
        }]
    );
    assert_eq!(
        err("ok", &["web1"], &inv(), LicenceFacts::Expired),
        vec![GroupRefusal::LicenceExpired]
    );
    assert_eq!(
        err("ok", &["web1"], &inv(), LicenceFacts::Missing),
        vec![GroupRefusal::LicenceMissing]
    );
    // constraint 2: volume created from a snapshot
    let mut x = inv();
    if let Some(vol) = x.volumes.get_mut(&v("w1")) {
        vol.from_snapshot = Some("snap-1".into());
    }
    assert_eq!(
        err("ok", &["web1"], &x, LIC),
        vec![GroupRefusal::FromSnapshot {
            volume: v("w1"),
            snapshot: "snap-1".into()
        }]
    );
    // constraint 6: no admin membership on the source project
    let mut x = inv();
    x.projects_with_admin.clear();
    assert_eq!(
        err("ok", &["web1"], &x, LIC),
        vec![GroupRefusal::NoAdminMembership {
            project: ProjectId::new("shop"),
            user: "hf-admin".into(),
        }]
    );
    assert!(
        err("ok", &["web1"], &x, LIC)[0]
            .to_string()
            .contains("openstack role add --user hf-admin --project shop admin"),
    );
    // several reasons at once
    assert_eq!(
        err("a b", &["taken", "other"], &x, LicenceFacts::Missing).len(),
        6
    );
}

#[test]
fn volume_groups_are_consistency_groups_or_refused() {
    let mut x = inv();
    let vg = VolumeGroupId::new("vg1");
    x.volume_groups.insert(vg.clone(), vec![v("w1"), v("d")]);
    for id in ["w1", "d"] {
        if let Some(vol) = x.volumes.get_mut(&v(id)) {
            vol.volume_group = Some(vg.clone());
        }
    }
    assert_eq!(
        check_create("ok", &set(&["web1"]), &x, LIC).unwrap_err(),
        vec![GroupRefusal::VolumeGroupSplit {
            volume: v("w1"),
            volume_group: vg.clone(),
            outside: v("d")
        }]
    );
    assert!(check_create("ok", &set(&["web1", "web2", "db"]), &x, LIC).is_ok());
}

#[test]
fn update_and_delete_rules() {
    let mut x = inv();
    let g = GroupId::new("g1");
    for id in ["web1"] {
        if let Some(inst) = x.instances.get_mut(&i(id)) {
            inst.group = Some(g.clone());
        }
    }
    let current = set(&["web1"]);
    let wanted = set(&["web1", "web2", "db"]);
    let change = GroupChange {
        group: &g,
        current: &current,
        name: "shop",
        wanted: &wanted,
        job: None,
        has_plan: true,
    };
    let up = check_update(
        &change,
        &x,
        LicenceFacts::Valid {
            instance_limit: 3,
            protected: 1,
        },
    )
    .unwrap();
    assert_eq!(up.added, set(&["web2", "db"]));
    assert!(up.removed.is_empty() && !up.delete_plan);
    // the licence counts only the added instances
    assert_eq!(
        check_update(
            &change,
            &x,
            LicenceFacts::Valid {
                instance_limit: 2,
                protected: 1
            }
        )
        .unwrap_err(),
        vec![GroupRefusal::LicenceLimit {
            limit: 2,
            protected: 1,
            adding: 2
        }]
    );
    // removing everything deletes the plan; no licence needed to remove
    let empty = BTreeSet::new();
    let all_gone = GroupChange {
        wanted: &empty,
        ..change
    };
    let up = check_update(&all_gone, &x, LicenceFacts::Expired).unwrap();
    assert!(up.delete_plan);
    assert_eq!(up.removed, current);
    // no update while a job exists
    let j = JobId::new("j1");
    let busy = GroupChange {
        job: Some(&j),
        ..change
    };
    assert_eq!(
        check_update(&busy, &x, LIC).unwrap_err(),
        vec![GroupRefusal::JobExists(j.clone())]
    );
    // nor to take instances of another group or project
    let steal = set(&["web1", "taken", "other"]);
    let e = check_update(
        &GroupChange {
            wanted: &steal,
            ..change
        },
        &x,
        LIC,
    )
    .unwrap_err();
    assert!(e.contains(&GroupRefusal::InOtherGroup {
        instance: i("taken"),
        group: GroupId::new("g9")
    }));
    assert!(
        e.iter()
            .any(|r| matches!(r, GroupRefusal::MixedProjects(_)))
    );
    // delete
    assert_eq!(check_delete(None), Ok(()));
    let p = PlanId::new("p1");
    assert_eq!(
        check_delete(Some(&p)).unwrap_err().to_string(),
        "the protection group has recovery plan p1: delete the plan first"
    );
}

proptest! {
    #[test]
    fn accepted_groups_satisfy_the_membership_rules(pick in prop::collection::btree_set(0usize..5, 0..5), limit in 0u64..6) {
        let names = ["web1", "web2", "db", "other", "taken"];
        let sel: BTreeSet<InstanceId> = pick.iter().map(|n| i(names[*n])).collect();
        let x = inv();
        let lic = LicenceFacts::Valid { instance_limit: limit, protected: 0 };
        if let Ok(g) = check_create("g", &sel, &x, lic) {
            let projects: BTreeSet<_> = sel.iter().map(|s| x.instances[s].project.clone()).collect();
            prop_assert_eq!(projects.len(), 1);
            prop_assert!(sel.iter().all(|s| x.instances[s].group.is_none()));
            prop_assert!(g.instances.len() as u64 <= limit);
            // shared volumes together
            for s in &sel {
                for vol in &x.instances[s].volumes {
                    for other in &x.volumes[vol].attached_to {
                        prop_assert!(sel.contains(other));
                    }
                }
            }
        }
    }
}
