use super::*;

fn file(backend: &str, node: &str) -> BackendStorage {
    BackendStorage::File {
        backend: backend.into(),
        node: node.into(),
        path_prefix: "/var/lib/cinder/volumes".into(),
    }
}

fn ceph(backend: &str) -> BackendStorage {
    ceph_with(backend, None)
}

fn ceph_with(backend: &str, cinder_host: Option<&str>) -> BackendStorage {
    ceph_served(backend, cinder_host, &[])
}

fn ceph_served(backend: &str, cinder_host: Option<&str>, agents: &[&str]) -> BackendStorage {
    BackendStorage::Ceph {
        backend: backend.into(),
        monitors: vec!["mon1".into()],
        pool: "volumes".into(),
        client: "cinder".into(),
        keyring_ref: "/etc/ceph/k".into(),
        cinder_host: cinder_host.map(str::to_owned),
        agents: agents.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn agent(node: &str, host: &str, online: bool, backends: &[(&str, StorageKind)]) -> AgentView {
    AgentView {
        node_id: node.into(),
        hostname: host.into(),
        online,
        data_plane_addr: Some(format!("{node}:7400")),
        backends: backends
            .iter()
            .map(|(n, k)| ((*n).to_owned(), *k))
            .collect(),
    }
}

fn input<'a>(
    host: &'a str,
    src: &'a [BackendStorage],
    tgt: &'a [BackendStorage],
    target_host: Option<&'a str>,
) -> PlacementInput<'a> {
    PlacementInput {
        volume_id: "v1",
        source_host: host,
        source_cluster: ("src", src),
        target_cluster: ("tgt", tgt),
        target_host,
    }
}

#[test]
fn cinder_hosts_parse() {
    let h = CinderHost::parse("ctl@lvm#pool").unwrap();
    assert_eq!((h.host.as_str(), h.backend.as_str()), ("ctl", "lvm"));
    assert_eq!(h.pool.as_deref(), Some("pool"));
    assert_eq!(CinderHost::parse("ctl@lvm").unwrap().pool, None);
    for bad in ["", "ctl", "@lvm", "ctl@", "ctl@#p", "ctl@lvm#"] {
        assert!(
            matches!(CinderHost::parse(bad), Err(PlacementError::BadHost(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_file_volume_is_placed_on_the_agents_named_by_node_or_host_name() {
    let src = [file("lvm", "compute-1")];
    let tgt = [file("files", "dr-1")];
    let agents = [
        agent("a1", "compute-1", true, &[("lvm", StorageKind::Block)]),
        agent("dr-1", "x", true, &[("files", StorageKind::File)]),
    ];
    let p = place(input("compute-1@lvm#lvm", &src, &tgt, None), &agents).unwrap();
    assert_eq!(p.source.node.as_str(), "a1");
    assert_eq!(p.source.location.kind, StorageKind::Block);
    assert_eq!(p.source.location.object, "volume-v1");
    assert_eq!(p.target.node.as_str(), "dr-1");
    assert_eq!(p.target.location.backend, "files");
    assert_eq!(p.target.location.object, "holdfast-mirror-v1");
    assert_eq!(p.target_data_addr, "dr-1:7400");
    assert_eq!(p.target_host, "dr-1@files#files");
}

#[test]
fn ceph_prefers_an_online_agent_and_needs_the_target_pool_named() {
    let src = [ceph("rbd-1")];
    let tgt = [ceph("rbd-dr")];
    let agents = [
        agent("a0", "h0", false, &[("rbd-1", StorageKind::Rbd)]),
        agent("a1", "h1", true, &[("rbd-1", StorageKind::Rbd)]),
        agent("b1", "h2", true, &[("rbd-dr", StorageKind::Rbd)]),
    ];
    assert_eq!(
        place(input("c@rbd-1#rbd-1", &src, &tgt, None), &agents),
        Err(PlacementError::TargetHostNeeded {
            cluster: "tgt".into(),
            backend: "rbd-dr".into()
        })
    );
    let p = place(
        input(
            "c@rbd-1#rbd-1",
            &src,
            &tgt,
            Some("rbd:volumes@rbd-dr#rbd-dr"),
        ),
        &agents,
    )
    .unwrap();
    assert_eq!(p.source.node.as_str(), "a1");
    assert_eq!(p.target.node.as_str(), "b1");
    assert_eq!(p.target_host, "rbd:volumes@rbd-dr#rbd-dr");
}

#[test]
fn a_ceph_target_is_adopted_into_the_cinder_host_of_its_storage_metadata() {
    let src = [ceph("rbd-1")];
    let tgt = [ceph_with("rbd-dr", Some("dr-ctl@rbd-dr#rbd-dr"))];
    let agents = [
        agent("a1", "h1", true, &[("rbd-1", StorageKind::Rbd)]),
        agent("b1", "h2", true, &[("rbd-dr", StorageKind::Rbd)]),
    ];
    let p = place(input("c@rbd-1#rbd-1", &src, &tgt, None), &agents).unwrap();
    assert_eq!(p.target_host, "dr-ctl@rbd-dr#rbd-dr");
    assert_eq!(p.target.node.as_str(), "b1");
    assert_eq!(p.target.location.kind, StorageKind::Rbd);
    assert_eq!(p.target.location.object, "holdfast-mirror-v1");
    // a pool the caller names still wins
    let named = place(
        input("c@rbd-1#rbd-1", &src, &tgt, Some("other@rbd-dr#rbd-dr")),
        &agents,
    )
    .unwrap();
    assert_eq!(named.target_host, "other@rbd-dr#rbd-dr");
}

#[test]
fn two_ceph_clusters_with_the_same_backend_name_are_told_apart_by_their_agents() {
    // both clouds call their Cinder backend `ceph`, as most do
    let agents = [
        agent("src-1", "h1", true, &[("ceph", StorageKind::Rbd)]),
        agent("dr-1", "h2", true, &[("ceph", StorageKind::Rbd)]),
    ];
    let unnamed_src = [ceph("ceph")];
    let unnamed_tgt = [ceph_with("ceph", Some("dr@ceph#ceph"))];
    let e = place(
        input("c@ceph#ceph", &unnamed_src, &unnamed_tgt, None),
        &agents,
    )
    .unwrap_err();
    assert_eq!(
        e,
        PlacementError::SameAgent {
            node: "dr-1".into(),
            backend: "ceph".into(),
            source_cluster: "src".into(),
            target_cluster: "tgt".into(),
        }
    );
    assert!(e.to_string().contains("`agents`"), "{e}");
    let src = [ceph_served("ceph", None, &["src-1"])];
    let tgt = [ceph_served("ceph", Some("dr@ceph#ceph"), &["h2"])];
    let p = place(input("c@ceph#ceph", &src, &tgt, None), &agents).unwrap();
    assert_eq!(p.source.node.as_str(), "src-1");
    assert_eq!(p.target.node.as_str(), "dr-1");
    assert_eq!(p.target_host, "dr@ceph#ceph");
    // an agent the metadata does not name never serves it
    let elsewhere = [ceph_served("ceph", Some("dr@ceph#ceph"), &["dr-2"])];
    assert_eq!(
        place(input("c@ceph#ceph", &src, &elsewhere, None), &agents),
        Err(PlacementError::NoAgent {
            cluster: "tgt".into(),
            backend: "ceph".into(),
            node: Some("dr-2".into()),
        })
    );
}

#[test]
fn every_failure_names_what_to_fix() {
    let src = [file("lvm", "compute-1")];
    let tgt = [file("files", "dr-1"), file("more", "dr-2")];
    let ok_agents = [
        agent("compute-1", "c", true, &[("lvm", StorageKind::Block)]),
        agent("dr-1", "d", true, &[("files", StorageKind::File)]),
    ];
    let e = place(input("compute-1@nope#p", &src, &tgt, None), &ok_agents).unwrap_err();
    assert!(matches!(&e, PlacementError::UnknownBackend { backend, .. } if backend == "nope"));
    assert!(e.to_string().contains("\"nope\""), "{e}");
    let e = place(input("compute-1@lvm#lvm", &src, &tgt, None), &ok_agents).unwrap_err();
    assert!(
        matches!(e, PlacementError::TargetBackend { ref candidates, .. } if candidates.len() == 2)
    );
    let e = place(
        input("compute-1@lvm#lvm", &src, &[ceph("r")], None),
        &ok_agents,
    )
    .unwrap_err();
    assert!(
        matches!(e, PlacementError::TargetBackend { ref candidates, .. } if candidates.is_empty())
    );
    let e = place(
        input("compute-1@lvm#lvm", &src, &[ceph("r")], Some("x@r#r")),
        &ok_agents,
    )
    .unwrap_err();
    assert!(matches!(e, PlacementError::KindMismatch { .. }), "{e}");
    let one = [file("files", "dr-1")];
    let e = place(
        input("compute-1@lvm#lvm", &src, &one, None),
        &ok_agents[1..],
    )
    .unwrap_err();
    assert_eq!(
        e,
        PlacementError::NoAgent {
            cluster: "src".into(),
            backend: "lvm".into(),
            node: Some("compute-1".into())
        }
    );
    assert!(
        e.to_string().contains("[[backends]] entry named \"lvm\""),
        "{e}"
    );
    let down = [
        agent("compute-1", "c", false, &[("lvm", StorageKind::Block)]),
        ok_agents[1].clone(),
    ];
    let e = place(input("compute-1@lvm#lvm", &src, &one, None), &down).unwrap_err();
    assert!(matches!(e, PlacementError::AgentUnreachable { ref node, .. } if node == "compute-1"));
    let mut no_dp = ok_agents.clone();
    no_dp[1].data_plane_addr = None;
    let e = place(input("compute-1@lvm#lvm", &src, &one, None), &no_dp).unwrap_err();
    assert!(matches!(e, PlacementError::NoDataPlane { .. }));
    // A backend of the wrong kind on the agent does not serve the metadata's backend.
    let wrong = [
        agent("compute-1", "c", true, &[("lvm", StorageKind::Rbd)]),
        ok_agents[1].clone(),
    ];
    let e = place(input("compute-1@lvm#lvm", &src, &one, None), &wrong).unwrap_err();
    assert!(matches!(e, PlacementError::NoAgent { .. }));
}
