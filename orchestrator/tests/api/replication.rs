//! Replication control with real `holdfast-agent` processes over real RabbitMQ and file
//! volumes, on SQLite and on PostgreSQL: start (twice: no duplicate) → initial copy done
//! in the facts; new bytes on the source → a group snapshot holds them, later writes do
//! not; materialise from that snapshot and compare bytes, locate, discard; retention;
//! stop removes the target copies. Errors: unknown backend, agent unreachable, agent
//! silent. Plus the SQL of `db::replication` on both databases.
//!
//! Needs the agent binary: `cargo build -p holdfast-agent`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use holdfast_orchestrator::agents::{self, AgentError};
use holdfast_orchestrator::db::{self, Db};
use holdfast_orchestrator::domain::cluster::BackendStorage;
use holdfast_orchestrator::dr::ids::{ClusterId, JobId, PlanId, SnapshotId, VolumeId};
use holdfast_orchestrator::dr::job::RecoveryPoint;
use holdfast_orchestrator::dr::retention::Retention;
use holdfast_orchestrator::recovery::{MaterialiseRequest, VolumeMaterialiser};
use holdfast_orchestrator::replication::{
    PlacementError, Replication, ReplicationError, ReplicationOptions, VolumeToReplicate,
};
use holdfast_orchestrator::state::App;
use holdfast_protocol::messages::Compression;

use crate::agents_bus::{AgentProc, delete_namespace, link_app, namespace};
use crate::helpers::{Backend, PgDatabase, create_pg_database, eventually};

async fn insert_cluster(db: &Db, id: &str, storage: &[BackendStorage]) {
    let mut c = db.conn().await.unwrap();
    let group = db::groups::GroupRecord {
        id: format!("g-{id}"),
        name: format!("g-{id}"),
        description: String::new(),
        created_at: 0,
        updated_at: 0,
        members: Vec::new(),
    };
    db::groups::insert(&mut c, &group).await.unwrap();
    db::clusters::insert(
        &mut c,
        &db::clusters::ClusterRecord {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            owner_group_id: group.id.clone(),
            platform: "openstack".into(),
            auth_url: "http://127.0.0.1:1/v3".into(),
            username: "admin".into(),
            user_domain: "Default".into(),
            project: "admin".into(),
            project_domain: "Default".into(),
            password_enc: "x".into(),
            broker_url_enc: None,
            exchanges_json: "[]".into(),
            storage_json: serde_json::to_string(storage).unwrap(),
            status: "active".into(),
            status_reason: None,
            status_changed_at: 0,
            sync_status: "Done".into(),
            sync_started_at: None,
            sync_finished_at: None,
            sync_error: None,
            created_at: 0,
            updated_at: 0,
        },
    )
    .await
    .unwrap();
}

fn file_backend(node: &str, root: &Path) -> BackendStorage {
    BackendStorage::File {
        backend: "files".into(),
        node: node.into(),
        path_prefix: root.join(node).join("volumes").display().to_string(),
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn volume(id: &str, size: usize) -> VolumeToReplicate {
    VolumeToReplicate {
        volume: VolumeId::new(id),
        size_bytes: size as u64,
        source_host: "node-a@files#files".into(),
        source_cluster: ClusterId::new("src"),
        target_cluster: ClusterId::new("tgt"),
        target_host: None,
        rpo_ms: 1_000,
    }
}

fn options() -> ReplicationOptions {
    ReplicationOptions {
        block_size: 4096,
        compression: Compression::None,
        request_timeout: Duration::from_secs(30),
        cut_commit_timeout: Duration::from_secs(60),
        export_timeout: Duration::from_secs(60),
        ..ReplicationOptions::default()
    }
}

struct Rig {
    app: Arc<App>,
    ns: String,
    leader_tx: tokio::sync::watch::Sender<Option<i64>>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    consumer: tokio::task::JoinHandle<()>,
    root: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl Rig {
    async fn start(backend: Backend) -> Rig {
        let ns = namespace();
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let (name, url) = create_pg_database().await;
                (Some(url), Some(PgDatabase { name }))
            }
        };
        let (app, leader_tx, shutdown_tx) = link_app(&ns, &dir.path().join("orch"), url).await;
        leader_tx.send_replace(Some(1));
        let consumer = tokio::spawn(agents::run(app.clone()));
        let link = app.agents.clone().unwrap();
        assert!(eventually(Duration::from_secs(10), || async { link.is_consuming() }).await);
        let root = dir.path().join("nodes");
        insert_cluster(&app.db, "src", &[file_backend("node-a", &root)]).await;
        insert_cluster(&app.db, "tgt", &[file_backend("node-b", &root)]).await;
        Rig {
            app,
            ns,
            leader_tx,
            shutdown_tx,
            consumer,
            root,
            _dir: dir,
            _pg: pg,
        }
    }

    fn agent(&self, node: &str) -> AgentProc {
        AgentProc::start(&self.root, &self.ns, node)
    }

    fn vol(&self, node: &str, name: &str) -> std::path::PathBuf {
        self.root.join(node).join("volumes").join(name)
    }

    async fn registered(&self, n: usize) -> bool {
        eventually(Duration::from_secs(30), || async {
            let mut c = self.app.db.conn().await.unwrap();
            let all = db::agents::list(&mut c).await.unwrap();
            all.iter()
                .filter(|r| r.data_plane_addr.is_some() && r.state == "online")
                .count()
                == n
        })
        .await
    }

    fn replication(&self, options: ReplicationOptions) -> Replication {
        Replication::from_app(&self.app, options).unwrap()
    }

    async fn stop(self, nodes: &[&str]) {
        self.leader_tx.send_replace(None);
        self.shutdown_tx.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.consumer).await;
        if let Some(link) = &self.app.agents {
            let _ = tokio::time::timeout(Duration::from_secs(5), link.bus().close()).await;
        }
        self.app.db.close().await;
        delete_namespace(&self.ns, nodes).await;
    }
}

async fn read(path: &Path) -> Vec<u8> {
    tokio::fs::read(path).await.unwrap_or_default()
}

async fn replicate_snapshot_materialise_stop(backend: Backend) {
    let rig = Rig::start(backend).await;
    let a = rig.agent("node-a");
    let b = rig.agent("node-b");
    let (size1, size2) = (4usize << 20, 1usize << 20);
    let data1 = pattern(size1, 1);
    let data2 = pattern(size2, 2);
    std::fs::write(rig.vol("node-a", "volume-vol-1"), &data1).unwrap();
    std::fs::write(rig.vol("node-a", "volume-vol-2"), &data2).unwrap();
    assert!(rig.registered(2).await, "{}\n{}", a.log(), b.log());

    let r = rig.replication(options());
    let owner = PlanId::new("plan-1");
    let vols = [volume("vol-1", size1), volume("vol-2", size2)];
    r.start(&owner, &vols).await.unwrap();
    let created = {
        let mut c = rig.app.db.conn().await.unwrap();
        db::replication::volumes(&mut c, "plan-1").await.unwrap()
    };
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].source_node, "node-a");
    assert_eq!(created[0].target_node, "node-b");
    assert_eq!(created[0].target_host, "node-b@files#files");
    assert_eq!(created[0].state, "started");
    // Starting twice changes nothing.
    r.start(&owner, &vols).await.unwrap();
    {
        let mut c = rig.app.db.conn().await.unwrap();
        assert_eq!(
            db::replication::volumes(&mut c, "plan-1").await.unwrap(),
            created
        );
    }
    // Another owner cannot take a replicated volume.
    let e = r
        .start(&PlanId::new("plan-2"), &vols[..1])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ReplicationError::AlreadyReplicated { owner, .. } if owner == "plan-1"),
        "{e}"
    );

    // The initial copies finish and mirroring is healthy.
    let healthy = eventually(Duration::from_secs(60), || async {
        let f = r.facts(&owner).await.unwrap();
        f.initial_copy_done() && f.healthy()
    })
    .await;
    assert!(
        healthy,
        "{:?}\n{}\n{}",
        r.facts(&owner).await.unwrap(),
        a.log(),
        b.log()
    );
    let facts = r.facts(&owner).await.unwrap();
    assert_eq!(facts.volumes.len(), 2);
    assert!(facts.broken().is_empty());
    // the agents' status rows carry the plan's RPO (the agent pages and `holdfast
    // status` compare lag with it)
    {
        let mut c = rig.app.db.conn().await.unwrap();
        let rows = db::agents::replications(&mut c, None).await.unwrap();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|row| row.rpo_ms == Some(1_000)), "{rows:?}");
    }
    let mirror1 = rig.vol("node-b", "holdfast-mirror-vol-1");
    assert!(
        eventually(Duration::from_secs(30), || async {
            read(&mirror1).await == data1
        })
        .await,
        "the mirror holds the source"
    );

    // New bytes on the source: the group snapshot holds them; later writes are not in it.
    let mut v1 = data1.clone();
    v1[..65_536].fill(0xAB);
    v1[size1 - 4096..].fill(0xAC);
    std::fs::write(rig.vol("node-a", "volume-vol-1"), &v1).unwrap();
    let mut v2 = data2.clone();
    v2[4096..8192].fill(0xAD);
    std::fs::write(rig.vol("node-a", "volume-vol-2"), &v2).unwrap();
    let snap = r.snapshot(&owner, r#"{"plan":"as it was"}"#).await.unwrap();
    assert_eq!(snap.volumes.len(), 2);
    assert_eq!(snap.plan_json, r#"{"plan":"as it was"}"#);
    assert!(snap.volumes.iter().all(|v| v.epoch >= 1), "{snap:?}");
    let mut later = v1.clone();
    later[..65_536].fill(0xCD);
    std::fs::write(rig.vol("node-a", "volume-vol-1"), &later).unwrap();

    let m = r.materialiser();
    let request = |volume: &str, name: &str, point: RecoveryPoint| MaterialiseRequest {
        job: JobId::new("job-1"),
        volume: VolumeId::new(volume),
        point,
        name: name.into(),
        size_gb: 1,
    };
    let req1 = request(
        "vol-1",
        "hf-job-1-vol-1",
        RecoveryPoint::Snapshot(snap.id.clone()),
    );
    let got = m.materialise(&req1).await.unwrap();
    assert_eq!(got.host, "node-b@files#files");
    assert_eq!(got.source_name, "hf-job-1-vol-1");
    let exported = rig.vol("node-b", "hf-job-1-vol-1");
    assert!(
        read(&exported).await == v1,
        "the snapshot holds the cut's bytes"
    );
    // Again: the same answer, no second object.
    assert_eq!(m.materialise(&req1).await.unwrap(), got);
    assert_eq!(m.locate("hf-job-1-vol-1").await.unwrap(), Some(got.clone()));
    let req2 = request(
        "vol-2",
        "hf-job-1-vol-2",
        RecoveryPoint::Snapshot(snap.id.clone()),
    );
    m.materialise(&req2).await.unwrap();
    assert!(read(&rig.vol("node-b", "hf-job-1-vol-2")).await == v2);
    // Latest data follows the mirror, which catches up with the later write.
    let mirror_caught_up = eventually(Duration::from_secs(30), || async {
        read(&mirror1).await == later
    })
    .await;
    assert!(mirror_caught_up);
    let latest = request("vol-1", "hf-job-2-vol-1", RecoveryPoint::LatestData);
    m.materialise(&latest).await.unwrap();
    assert!(read(&rig.vol("node-b", "hf-job-2-vol-1")).await == later);
    // Unknown points are refused with the reason.
    let e = m
        .materialise(&request(
            "vol-1",
            "x",
            RecoveryPoint::Snapshot(SnapshotId::new("nope")),
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no copy in snapshot nope"), "{e}");
    let e = m
        .materialise(&request("vol-9", "y", RecoveryPoint::LatestData))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not replicated"), "{e}");
    // Discard removes the object; discarding again is fine.
    m.discard(&got).await.unwrap();
    assert!(!exported.exists());
    assert_eq!(m.locate("hf-job-1-vol-1").await.unwrap(), None);
    m.discard(&got).await.unwrap();
    assert!(
        rig.vol("node-b", "hf-job-1-vol-2").exists(),
        "only that one"
    );

    // Retention keeps the newest.
    let second = r.snapshot(&owner, "{}").await.unwrap();
    assert_eq!(r.list(&owner).await.unwrap().len(), 2);
    let deleted = r
        .apply_retention(&owner, Retention::parse(1).unwrap())
        .await
        .unwrap();
    assert_eq!(deleted, vec![snap.id.clone()]);
    let left = r.list(&owner).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second.id);
    let e = m
        .materialise(&request(
            "vol-1",
            "z",
            RecoveryPoint::Snapshot(snap.id.clone()),
        ))
        .await;
    assert!(e.is_err(), "a deleted snapshot is no recovery point");

    // Stop removes the target copies and the rows.
    r.stop(&owner).await.unwrap();
    assert!(!mirror1.exists());
    assert!(!rig.vol("node-b", "holdfast-mirror-vol-2").exists());
    assert!(r.facts(&owner).await.unwrap().volumes.is_empty());
    assert!(r.list(&owner).await.unwrap().is_empty());
    assert!(matches!(
        r.snapshot(&owner, "{}").await,
        Err(ReplicationError::NoVolumes(_))
    ));
    r.stop(&owner).await.unwrap();
    drop((a, b));
    rig.stop(&["node-a", "node-b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_snapshot_materialise_stop_on_sqlite() {
    replicate_snapshot_materialise_stop(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_snapshot_materialise_stop_on_postgres() {
    replicate_snapshot_materialise_stop(Backend::Postgres).await;
}

/// Two replicas start the same plan's volumes at once (a plan's creation on one, the
/// leader's runner on the other): the `replication_volumes` row is the claim, so one
/// start reaches the agents with one session secret, and the copies complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_from_two_replicas_send_one_start_on_postgres() {
    let rig = Rig::start(Backend::Postgres).await;
    let a = rig.agent("node-a");
    let b = rig.agent("node-b");
    let size = 2usize << 20;
    let data: Vec<Vec<u8>> = (0..3).map(|n| pattern(size, 10 + n)).collect();
    for (n, d) in data.iter().enumerate() {
        std::fs::write(rig.vol("node-a", &format!("volume-vol-{n}")), d).unwrap();
    }
    assert!(rig.registered(2).await, "{}\n{}", a.log(), b.log());
    // two `Replication`s, each with its own in-process lock: two replicas
    let (one, two) = (rig.replication(options()), rig.replication(options()));
    let owner = PlanId::new("plan-1");
    let vols: Vec<VolumeToReplicate> = (0..3).map(|n| volume(&format!("vol-{n}"), size)).collect();
    let (r1, r2) = tokio::join!(one.start(&owner, &vols), two.start(&owner, &vols));
    r1.unwrap();
    r2.unwrap();
    let rows = {
        let mut c = rig.app.db.conn().await.unwrap();
        db::replication::volumes(&mut c, "plan-1").await.unwrap()
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
    // the agents agree on each volume's secret: every copy completes byte for byte
    let healthy = eventually(Duration::from_secs(60), || async {
        let f = one.facts(&owner).await.unwrap();
        f.initial_copy_done() && f.healthy()
    })
    .await;
    assert!(
        healthy,
        "{:?}\n{}\n{}",
        one.facts(&owner).await.unwrap(),
        a.log(),
        b.log()
    );
    for (n, d) in data.iter().enumerate() {
        let mirror = rig.vol("node-b", &format!("holdfast-mirror-vol-{n}"));
        let same = eventually(Duration::from_secs(30), || async {
            read(&mirror).await == *d
        })
        .await;
        assert!(same, "volume {n} differs on the target\n{}", b.log());
    }
    one.stop(&owner).await.unwrap();
    drop((a, b));
    rig.stop(&["node-a", "node-b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_name_the_backend_and_the_agent() {
    let rig = Rig::start(Backend::Sqlite).await;
    let a = rig.agent("node-a");
    let mut b = rig.agent("node-b");
    std::fs::write(rig.vol("node-a", "volume-vol-1"), pattern(1 << 20, 3)).unwrap();
    assert!(rig.registered(2).await, "{}\n{}", a.log(), b.log());
    let owner = PlanId::new("plan-e");

    // Unknown backend.
    let mut v = volume("vol-1", 1 << 20);
    v.source_host = "node-a@nope#nope".into();
    let e = rig
        .replication(options())
        .start(&owner, &[v])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ReplicationError::Placement {
                source: PlacementError::UnknownBackend { backend, .. },
                ..
            } if backend == "nope"
        ),
        "{e}"
    );
    assert!(e.to_string().contains("\"nope\""), "{e}");

    // The target agent is killed but still believed online: the start times out, is
    // undone on the source, and leaves no row.
    b.kill9();
    let quick = ReplicationOptions {
        request_timeout: Duration::from_secs(2),
        ..options()
    };
    let e = rig
        .replication(quick)
        .start(&owner, &[volume("vol-1", 1 << 20)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ReplicationError::Agent { source, .. } if matches!(**source, AgentError::Timeout { .. })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("node-b"), "{e}");
    {
        let mut c = rig.app.db.conn().await.unwrap();
        assert!(
            db::replication::volumes(&mut c, "plan-e")
                .await
                .unwrap()
                .is_empty()
        );
    }

    // Once it is marked unreachable, placement refuses at once and names it.
    let unreachable = eventually(Duration::from_secs(20), || async {
        let mut c = rig.app.db.conn().await.unwrap();
        db::agents::get(&mut c, "node-b")
            .await
            .unwrap()
            .unwrap()
            .state
            == "unreachable"
    })
    .await;
    assert!(unreachable);
    let e = rig
        .replication(options())
        .start(&owner, &[volume("vol-1", 1 << 20)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ReplicationError::Placement {
                source: PlacementError::AgentUnreachable { node, .. },
                ..
            } if node == "node-b"
        ),
        "{e}"
    );
    drop((a, b));
    rig.stop(&["node-a", "node-b"]).await;
}

async fn db_functions(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
            None,
        ),
        Backend::Postgres => {
            let (name, url) = create_pg_database().await;
            (url, Some(PgDatabase { name }))
        }
    };
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let mut c = db.conn().await.unwrap();
    let rec = |owner: &str, volume: &str| db::replication::VolumeRecord {
        owner: owner.into(),
        volume_id: volume.into(),
        size_bytes: 1 << 40,
        rpo_ms: 60_000,
        source_cluster_id: "s".into(),
        source_host: "h@b#p".into(),
        source_node: "n1".into(),
        source_location_json: "{}".into(),
        target_cluster_id: "t".into(),
        target_host: "h2@b#b".into(),
        target_node: "n2".into(),
        target_location_json: "{}".into(),
        state: "starting".into(),
        last_error: None,
        created_at: 1,
        updated_at: 1,
    };
    db::replication::insert_volume(&mut c, &rec("p1", "v2"))
        .await
        .unwrap();
    db::replication::insert_volume(&mut c, &rec("p1", "v1"))
        .await
        .unwrap();
    let dup = db::replication::insert_volume(&mut c, &rec("p2", "v1"))
        .await
        .unwrap_err();
    assert!(dup.is_unique_violation(), "{dup}");
    let all = db::replication::volumes(&mut c, "p1").await.unwrap();
    assert_eq!(
        all.iter().map(|v| v.volume_id.as_str()).collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert_eq!(all[0].size_bytes, 1 << 40);
    db::replication::set_volume_state(&mut c, "p1", "v1", "started", Some("e"), 5)
        .await
        .unwrap();
    let v1 = db::replication::volume_by_id(&mut c, "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v1.state.as_str(), v1.last_error.as_deref(), v1.updated_at),
        ("started", Some("e"), 5)
    );
    db::replication::delete_volume(&mut c, "p1", "v1")
        .await
        .unwrap();
    assert!(
        db::replication::volume_by_id(&mut c, "v1")
            .await
            .unwrap()
            .is_none()
    );

    for (id, at) in [("s1", 10), ("s2", 30), ("s3", 20)] {
        let s = db::replication::SnapshotRecord {
            id: id.into(),
            owner: "p1".into(),
            snapshot_name: format!("hf-{id}"),
            taken_at: at,
            plan_json: "{}".into(),
            created_at: at,
        };
        let parts = [db::replication::SnapshotVolumeRecord {
            snapshot_id: id.into(),
            volume_id: "v2".into(),
            target_node: "n2".into(),
            target_snapshot: format!("hf-{id}"),
            epoch: at,
        }];
        db::replication::insert_snapshot(&mut c, &s, &parts)
            .await
            .unwrap();
    }
    let order: Vec<String> = db::replication::snapshots(&mut c, "p1")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(order, ["s2", "s3", "s1"]);
    assert_eq!(
        db::replication::snapshot_volumes(&mut c, "s3")
            .await
            .unwrap()[0]
            .epoch,
        20
    );
    assert!(
        db::replication::delete_snapshot(&mut c, "s3")
            .await
            .unwrap()
    );
    assert!(
        !db::replication::delete_snapshot(&mut c, "s3")
            .await
            .unwrap()
    );
    assert!(
        db::replication::snapshot_volumes(&mut c, "s3")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db::replication::snapshot_by_id(&mut c, "s3")
            .await
            .unwrap()
            .is_none()
    );

    let e = db::replication::ExportRecord {
        name: "hf-x".into(),
        export_id: "id1".into(),
        volume_id: "v2".into(),
        target_node: "n2".into(),
        location_json: "{}".into(),
        host: "h2@b#b".into(),
        state: "pending".into(),
        created_at: 1,
        updated_at: 1,
    };
    db::replication::insert_export(&mut c, &e).await.unwrap();
    // A second insert of the name keeps the first.
    db::replication::insert_export(
        &mut c,
        &db::replication::ExportRecord {
            export_id: "id2".into(),
            ..e.clone()
        },
    )
    .await
    .unwrap();
    db::replication::set_export_state(&mut c, "hf-x", "done", 2)
        .await
        .unwrap();
    let got = db::replication::export_by_name(&mut c, "hf-x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.export_id.as_str(), got.state.as_str()),
        ("id1", "done")
    );
    db::replication::delete_export(&mut c, "hf-x")
        .await
        .unwrap();
    assert!(
        db::replication::export_by_name(&mut c, "hf-x")
            .await
            .unwrap()
            .is_none()
    );
    drop(c);
    db.close().await;
}

#[tokio::test]
async fn replication_sql_on_sqlite() {
    db_functions(Backend::Sqlite).await;
}

#[tokio::test]
async fn replication_sql_on_postgres() {
    db_functions(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_source_breaks_the_facts_and_fails_the_whole_group_snapshot() {
    let rig = Rig::start(Backend::Sqlite).await;
    let mut a = rig.agent("node-a");
    let b = rig.agent("node-b");
    std::fs::write(rig.vol("node-a", "volume-vol-1"), pattern(1 << 20, 4)).unwrap();
    assert!(rig.registered(2).await, "{}\n{}", a.log(), b.log());
    let r = rig.replication(ReplicationOptions {
        request_timeout: Duration::from_secs(2),
        ..options()
    });
    let owner = PlanId::new("plan-d");
    r.start(&owner, &[volume("vol-1", 1 << 20)]).await.unwrap();
    assert!(
        eventually(Duration::from_secs(60), || async {
            r.facts(&owner).await.unwrap().healthy()
        })
        .await,
        "{:?}",
        r.facts(&owner).await.unwrap()
    );
    a.kill9();
    let e = r.snapshot(&owner, "{}").await.unwrap_err();
    assert!(
        matches!(&e, ReplicationError::Cut { reason, .. } if reason.contains("node-a")),
        "{e}"
    );
    assert!(r.list(&owner).await.unwrap().is_empty(), "no half snapshot");
    let broken = eventually(Duration::from_secs(20), || async {
        let f = r.facts(&owner).await.unwrap();
        !f.healthy()
            && f.broken()
                .iter()
                .any(|(_, why)| why.contains("unreachable"))
    })
    .await;
    assert!(broken, "{:?}", r.facts(&owner).await.unwrap());
    // The copy finished before the agent died: Prepare for repair, not a new copy.
    assert!(r.facts(&owner).await.unwrap().initial_copy_done());
    drop((a, b));
    rig.stop(&["node-a", "node-b"]).await;
}
