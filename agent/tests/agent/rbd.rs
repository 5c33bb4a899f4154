//! The RBD backend against the two real Ceph clusters of the real stack (cluster `a`
//! as the source, `b` as the target). CI has no Ceph: these tests are ignored there
//! and run by `.ci/realstack-agent` after it checked that both clusters answer.

use std::path::PathBuf;
use std::time::Duration;

use holdfast_agent::rbd::stream::{self, Record};
use holdfast_agent::rbd::tracker::{self, SNAP_PREFIX};
use holdfast_agent::rbd::{Cluster, Image};
use holdfast_agent::replication::source::{self, run_cycle};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::helpers::*;

const NEEDS_CEPH: &str = "needs the real Ceph clusters a and b: run .ci/realstack-agent";

pub(crate) fn cluster(name: &str) -> Cluster {
    let root = std::env::var("HOLDFAST_REALSTACK_DIR")
        .unwrap_or_else(|_| "/tmp/holdfast-realstack".into());
    let ceph = PathBuf::from(root).join("ceph");
    Cluster {
        conf: ceph.join(format!("{name}.conf")),
        client_id: "cinder".into(),
        keyring: ceph.join(name).join("keyring.client.cinder"),
        pool: "rbd".into(),
        timeout: Duration::from_secs(120),
    }
}

pub(crate) fn unique(tag: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("hf-agent-test-{n:016x}-{tag}")
}

/// Removes the images (and their snapshots) when dropped, also when a test fails.
pub(crate) struct Cleanup(pub(crate) Vec<Image>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for img in &self.0 {
            for tmp in [img.name.clone(), format!("{}.hf-tmp", img.name)] {
                let c = &img.cluster;
                for args in [["snap", "purge"], ["rm", "--no-progress"]] {
                    let _ = std::process::Command::new("rbd")
                        .arg("-c")
                        .arg(&c.conf)
                        .args(["--id", &c.client_id, "--keyring"])
                        .arg(&c.keyring)
                        .args(args)
                        .arg(format!("{}/{tmp}", c.pool))
                        .stderr(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// Writes records into an image with `rbd import-diff` (test setup only).
pub(crate) async fn write(img: &Image, records: &[Record]) {
    let mut bytes = Vec::new();
    stream::banner(&mut bytes);
    for r in records {
        stream::encode(&mut bytes, r);
    }
    stream::encode(&mut bytes, &Record::End);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diff");
    std::fs::write(&file, bytes).unwrap();
    let f = file.display().to_string();
    img.cluster
        .run(&["import-diff", "--no-progress", &f, &img.spec()])
        .await
        .unwrap();
}

pub(crate) fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill(&mut v[..]);
    v
}

/// SHA-256 of `rbd export <spec> -` (the whole image, holes as zeroes).
pub(crate) async fn sha(c: &Cluster, spec: &str) -> String {
    let out = c
        .run(&["export", "--no-progress", spec, "-"])
        .await
        .unwrap();
    format!("{:x}", Sha256::digest(&out))
}

/// The tracker's snapshots once the former baseline's background removal is done
/// (waits up to 60 s for exactly one to remain).
pub(crate) async fn settled_snaps(img: &Image) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = holdfast_snaps(img).await;
        if s.len() <= 1 || std::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn holdfast_snaps(img: &Image) -> Vec<String> {
    img.snapshots()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with(SNAP_PREFIX))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Ceph clusters a and b: run .ci/realstack-agent"]
async fn an_rbd_image_replicates_a_to_b_with_deltas_snapshots_and_export() {
    let _ = NEEDS_CEPH;
    let (a, b) = (cluster("a"), cluster("b"));
    let src = Image::new(a.clone(), unique("src"));
    let mirror = Image::new(b.clone(), unique("mirror"));
    let export = Image::new(b.clone(), unique("export"));
    let _cleanup = Cleanup(vec![src.clone(), mirror.clone(), export.clone()]);
    a.run(&["create", "--size", "64M", &src.spec()])
        .await
        .unwrap();
    // 20 MiB of data at the start, 1 MiB at 40 MiB, the rest never written.
    write(
        &src,
        &[
            Record::Data {
                offset: 0,
                data: random(20 << 20, 1),
            },
            Record::Data {
                offset: 40 << 20,
                data: random(1 << 20, 2),
            },
        ],
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let t = target.add_rbd("vol-rbd", mirror.clone());
    let mut vol = source(
        "vol-rbd",
        &PathBuf::from(format!("rbd:{}", src.spec())),
        dir.path(),
        &target.addr,
    );
    vol.rbd = Some(src.clone());
    let mut tr =
        Some(source::make_tracker(&vol.path, &vol.state_dir, 4096, vol.rbd.as_ref()).unwrap());

    // Initial copy: everything allocated (21 MiB), not the 64 MiB image.
    let r = run_cycle(&vol, &mut tr, None).await.unwrap();
    assert!(r.initial);
    assert_eq!(r.volume_size, 64 << 20);
    assert_eq!(r.planned_bytes, 21 << 20);
    assert!(
        r.bytes_sent > 21 << 20 && r.bytes_sent < (21 << 20) + (256 << 10),
        "{}",
        r.bytes_sent
    );
    let snaps = settled_snaps(&src).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(mirror.size().await.unwrap(), Some(64 << 20));
    assert_eq!(
        sha(&a, &src.snap_spec(&snaps[0])).await,
        sha(&b, &mirror.spec()).await
    );

    // Delta: 100 random 4 KiB writes and one zeroed 8 KiB range (written data).
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut blocks = std::collections::BTreeSet::new();
    while blocks.len() < 100 {
        blocks.insert(rng.random_range(0..(64u64 << 20) / 4096));
    }
    let mut recs: Vec<Record> = blocks
        .iter()
        .enumerate()
        .map(|(i, blk)| Record::Data {
            offset: blk * 4096,
            data: random(4096, 100 + i as u64),
        })
        .collect();
    let zeroed = (10u64 << 20) + 4096 * 3;
    blocks.insert(zeroed / 4096);
    blocks.insert(zeroed / 4096 + 1);
    recs.push(Record::Zero {
        offset: zeroed,
        len: 8192,
    });
    write(&src, &recs).await;
    let changed = blocks.len() as u64 * 4096;
    let r = run_cycle(&vol, &mut tr, None).await.unwrap();
    assert!(!r.initial);
    // librbd reports objects created since the baseline from their start (zeroes
    // included): those zeroes travel as zero extents, not as data.
    assert!(
        r.planned_bytes >= changed - 8192,
        "{} planned for {changed} changed",
        r.planned_bytes
    );
    assert!(
        r.bytes_sent as f64 <= 1.1 * changed as f64,
        "{} sent for {changed}",
        r.bytes_sent
    );
    let now = settled_snaps(&src).await;
    assert_eq!(
        now.len(),
        1,
        "the older source snapshot is removed: {now:?}"
    );
    assert_ne!(now, snaps);
    assert_eq!(
        sha(&a, &src.snap_spec(&now[0])).await,
        sha(&b, &mirror.spec()).await
    );

    // A cycle with a target snapshot, then more changes after it.
    let r = run_cycle(&vol, &mut tr, Some("snap-1")).await.unwrap();
    assert_eq!(r.snapshot.as_deref(), Some("snap-1"));
    let at_snap = sha(&a, &src.snap_spec(&settled_snaps(&src).await[0])).await;
    assert!(mirror.snap_exists("snap-1").await.unwrap());
    assert_eq!(
        mirror.snap_record("snap-1").await.unwrap().map(|r| r.0),
        Some(r.epoch)
    );
    write(
        &src,
        &[Record::Data {
            offset: 0,
            data: random(1 << 20, 9),
        }],
    )
    .await;
    run_cycle(&vol, &mut tr, None).await.unwrap();
    let latest = sha(&a, &src.snap_spec(&settled_snaps(&src).await[0])).await;
    assert_ne!(latest, at_snap);
    assert_eq!(sha(&b, &mirror.spec()).await, latest);
    assert_eq!(sha(&b, &mirror.snap_spec("snap-1")).await, at_snap);

    // Export at the snapshot: a new independent image Cinder can adopt.
    let size = mirror.copy_to(Some("snap-1"), &export).await.unwrap();
    assert_eq!(size, 64 << 20);
    assert_eq!(sha(&b, &export.spec()).await, at_snap);
    assert!(export.snapshots().await.unwrap().is_empty());

    // Target snapshot delete over the data plane, then stop: nothing is left behind.
    source::delete_target_snapshot(&vol, "snap-1")
        .await
        .unwrap();
    assert!(!mirror.snap_exists("snap-1").await.unwrap());
    assert_eq!(mirror.snap_record("snap-1").await.unwrap(), None);
    tracker::release(&src, &vol.state_dir).await.unwrap();
    assert!(settled_snaps(&src).await.is_empty());
    t.remove_copy().await.unwrap();
    assert_eq!(mirror.size().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Ceph clusters a and b: run .ci/realstack-agent"]
async fn a_wrong_keyring_or_missing_image_is_a_typed_actionable_error() {
    let mut bad = cluster("a");
    bad.keyring = cluster("a").keyring.with_file_name("keyring.client.admin");
    let e = holdfast_agent::rbd::probe(&bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("keyring") && e.contains("client.cinder"), "{e}");
    let missing = Image::new(cluster("a"), unique("missing"));
    assert_eq!(missing.size().await.unwrap(), None);
    let e = missing.snapshots().await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    holdfast_agent::rbd::probe(&cluster("a")).await.unwrap();
    holdfast_agent::rbd::probe(&cluster("b")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Ceph clusters a and b: run .ci/realstack-agent"]
async fn an_interrupted_rbd_cycle_resumes_where_the_target_is_durable() {
    let (a, b) = (cluster("a"), cluster("b"));
    let src = Image::new(a.clone(), unique("src"));
    let mirror = Image::new(b.clone(), unique("mirror"));
    let _cleanup = Cleanup(vec![src.clone(), mirror.clone()]);
    a.run(&["create", "--size", "32M", &src.spec()])
        .await
        .unwrap();
    write(
        &src,
        &[Record::Data {
            offset: 0,
            data: random(24 << 20, 5),
        }],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    target.add_rbd("vol-rbd", mirror.clone());
    let path = PathBuf::from(format!("rbd:{}", src.spec()));
    let mut vol = source("vol-rbd", &path, dir.path(), &target.addr);
    vol.rbd = Some(src.clone());
    vol.sync_bytes = 2 << 20;
    vol.bandwidth_limit_bps = Some(8 << 20);

    // The source "crashes" (its cycle is dropped) about half way through.
    let mut tr =
        Some(source::make_tracker(&vol.path, &vol.state_dir, 4096, vol.rbd.as_ref()).unwrap());
    let cut =
        tokio::time::timeout(Duration::from_millis(2500), run_cycle(&vol, &mut tr, None)).await;
    assert!(cut.is_err(), "the cycle should still be running");

    // Restarted: a new tracker from the state dir; the staged epoch resumes.
    vol.bandwidth_limit_bps = None;
    let mut tr =
        Some(source::make_tracker(&vol.path, &vol.state_dir, 4096, vol.rbd.as_ref()).unwrap());
    let r = run_cycle(&vol, &mut tr, None).await.unwrap();
    assert_eq!(r.epoch, 1);
    assert!(r.resumed_from > 0, "resumed from extent {}", r.resumed_from);
    assert!(
        r.bytes_sent < 22 << 20,
        "{} bytes sent after the restart",
        r.bytes_sent
    );
    let snaps = settled_snaps(&src).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(
        sha(&a, &src.snap_spec(&snaps[0])).await,
        sha(&b, &mirror.spec()).await
    );
    tracker::release(&src, &vol.state_dir).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Ceph clusters a and b: run .ci/realstack-agent"]
async fn the_rbd_tracker_reports_changed_blocks_between_its_snapshots() {
    use holdfast_kmod::{ChangeTracker, TrackerKind};
    let a = cluster("a");
    let img = Image::new(a.clone(), unique("tracked"));
    let _cleanup = Cleanup(vec![img.clone()]);
    a.run(&["create", "--size", "8M", &img.spec()])
        .await
        .unwrap();
    write(
        &img,
        &[Record::Data {
            offset: 1 << 20,
            data: random(8192, 1),
        }],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker::RbdTracker::new(img.clone(), dir.path(), 4096, 1 << 20).unwrap();
    assert_eq!(t.kind(), TrackerKind::Rbd);
    let (mut t, first) = tokio::task::spawn_blocking(move || {
        let c = t.changes().unwrap();
        // Asked again before a commit: the same pending snapshot, the same blocks.
        assert_eq!(t.changes().unwrap(), c);
        t.commit().unwrap();
        (t, c)
    })
    .await
    .unwrap();
    assert!(first.initial);
    assert_eq!(first.volume_size, 8 << 20);
    // librbd reports an object created since the baseline from its start.
    assert_eq!(first.blocks, (0..=257).collect::<Vec<u64>>());
    write(
        &img,
        &[Record::Data {
            offset: 4096 * 5,
            data: random(100, 2),
        }],
    )
    .await;
    let (mut t, second) = tokio::task::spawn_blocking(move || {
        let c = t.changes().unwrap();
        t.commit().unwrap();
        (t, c)
    })
    .await
    .unwrap();
    assert!(!second.initial);
    assert_eq!(second.blocks, vec![5]);
    assert_eq!(settled_snaps(&img).await.len(), 1);
    tokio::task::spawn_blocking(move || t.reset().unwrap())
        .await
        .unwrap();
    assert!(holdfast_snaps(&img).await.is_empty());
}
