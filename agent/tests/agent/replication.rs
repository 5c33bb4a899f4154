use holdfast_agent::replication::source::{self, run_cycle};
use holdfast_agent::snapshots;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_file_replicates_byte_for_byte_and_holes_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let src = dir.path().join("src.img");
    let mirror = dir.path().join("mirror.img");
    random_file(&src, 32 << 20, 12 << 20, 1);
    target.add("vol-1", mirror.clone());
    let vol = source("vol-1", &src, dir.path(), &target.addr);
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());

    let r = run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert!(r.initial);
    assert_eq!(r.epoch, 1);
    assert_eq!(digest(&src), digest(&mirror));
    assert_eq!(std::fs::metadata(&mirror).unwrap().len(), 32 << 20);
    // Only the 12 MiB of data crossed the wire (plus framing), not the 20 MiB hole.
    assert!(r.bytes_sent < (12 << 20) + (64 << 10), "{}", r.bytes_sent);
    assert!(r.bytes_sent > 12 << 20);

    // Nothing changed: the next cycle ships nothing.
    let r = run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!((r.epoch, r.extents), (2, 0));
    assert!(r.bytes_sent < 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_ship_only_changed_blocks_compressed_or_not() {
    for compression in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let target = spawn_target(dir.path()).await;
        let src = dir.path().join("src.img");
        let mirror = dir.path().join("mirror.img");
        random_file(&src, 16 << 20, 16 << 20, 2);
        target.add("vol-1", mirror.clone());
        let mut vol = source("vol-1", &src, dir.path(), &target.addr);
        vol.compression = compression;
        let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
        run_cycle(&vol, &mut tracker, None).await.unwrap();

        let changed = random_writes(&src, 40, 3) as u64;
        // A block rewritten with zeroes is a change too.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&src)
            .map(|f| std::os::unix::fs::FileExt::write_all_at(&f, &[0u8; 4096], 0))
            .unwrap()
            .unwrap();
        let r = run_cycle(&vol, &mut tracker, None).await.unwrap();
        assert_eq!(digest(&src), digest(&mirror));
        assert!(!r.initial);
        assert!(r.planned_bytes <= (changed + 1) * 4096);
        // Random data does not compress: at most 10 % over the changed blocks.
        assert!(
            r.bytes_sent as f64 <= 1.1 * ((changed + 1) * 4096) as f64,
            "{} for {changed} blocks",
            r.bytes_sent
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_writes_during_replication_converge() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let src = dir.path().join("src.img");
    let mirror = dir.path().join("mirror.img");
    random_file(&src, 24 << 20, 24 << 20, 4);
    target.add("vol-1", mirror.clone());
    let vol = source("vol-1", &src, dir.path(), &target.addr);
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (src, stop) = (src.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seed = 100;
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 3 {
                random_writes(&src, 50, seed);
                seed += 1;
                rounds += 1;
            }
            rounds
        })
    };
    for _ in 0..3 {
        run_cycle(&vol, &mut tracker, None).await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds >= 3);
    // Writes have stopped: one more cycle makes the target identical.
    run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_cut_snapshots_three_volumes_at_the_cut_and_a_failure_leaves_none() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let mut vols = Vec::new();
    for i in 0..3 {
        let src = dir.path().join(format!("src{i}.img"));
        let mirror = dir.path().join(format!("mirror{i}.img"));
        random_file(&src, 4 << 20, 2 << 20, 10 + i);
        target.add(&format!("vol-{i}"), mirror.clone());
        let vol = source(&format!("vol-{i}"), &src, dir.path(), &target.addr);
        let tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
        vols.push((vol, tracker, src, mirror));
    }
    let mut at_cut = Vec::new();
    for (vol, tracker, src, _) in &mut vols {
        run_cycle(vol, tracker, Some("pg-1")).await.unwrap();
        at_cut.push(std::fs::read(&*src).unwrap());
    }
    // Writes after the cut change the sources and (after another cycle) the mirrors,
    // but not the snapshots.
    for (vol, tracker, src, _) in &mut vols {
        random_writes(src, 20, 7);
        run_cycle(vol, tracker, None).await.unwrap();
    }
    let name = snapshots::SnapshotName::parse("pg-1").unwrap();
    for ((_, _, src, mirror), expected) in vols.iter().zip(&at_cut) {
        assert_eq!(
            &std::fs::read(snapshots::snapshot_path(mirror, &name)).unwrap(),
            expected
        );
        assert_ne!(&std::fs::read(src).unwrap(), expected);
        assert_eq!(digest(src), digest(mirror));
    }

    // A cut whose snapshot fails on one volume: the others' snapshots are deleted.
    let (ok, bad) = vols.split_at_mut(2);
    for (vol, tracker, _, _) in ok.iter_mut() {
        run_cycle(vol, tracker, Some("pg-2")).await.unwrap();
    }
    let (vol, tracker, _, mirror) = &mut bad[0];
    // An existing snapshot of the same name for another epoch makes it fail.
    snapshots::create(
        mirror,
        &snapshots::SnapshotName::parse("pg-2").unwrap(),
        999,
        1,
    )
    .unwrap();
    let err = run_cycle(vol, tracker, Some("pg-2")).await.unwrap_err();
    assert!(err.to_string().contains("pg-2"), "{err}");
    for (vol, _, _, _) in ok.iter() {
        source::delete_target_snapshot(vol, "pg-2").await.unwrap();
    }
    let two = snapshots::SnapshotName::parse("pg-2").unwrap();
    for (_, _, _, mirror) in &vols[..2] {
        assert!(snapshots::find(mirror, &two).unwrap().is_none());
        assert!(!snapshots::snapshot_path(mirror, &two).exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_cut_ships_the_volume_as_it_was_at_prepare() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let src = dir.path().join("src.img");
    let mirror = dir.path().join("mirror.img");
    random_file(&src, 8 << 20, 8 << 20, 30);
    target.add("vol-1", mirror.clone());
    let vol = source("vol-1", &src, dir.path(), &target.addr);
    let mut tracker = Some(source::make_tracker(&src, &vol.state_dir, 4096, None).unwrap());
    run_cycle(&vol, &mut tracker, None).await.unwrap();

    random_writes(&src, 50, 31);
    let epoch = source::prepare_cut(&vol, &mut tracker).await.unwrap();
    assert_eq!(
        source::prepare_cut(&vol, &mut tracker).await.unwrap(),
        epoch,
        "idempotent"
    );
    let at_cut = std::fs::read(&src).unwrap();
    random_writes(&src, 50, 32); // after the cut point

    let r = run_cycle(&vol, &mut tracker, Some("cut-1")).await.unwrap();
    assert_eq!(r.epoch, epoch);
    let name = snapshots::SnapshotName::parse("cut-1").unwrap();
    assert_eq!(
        std::fs::read(snapshots::snapshot_path(&mirror, &name)).unwrap(),
        at_cut
    );
    assert_eq!(std::fs::read(&mirror).unwrap(), at_cut);
    // The writes after the cut follow in the next cycle.
    run_cycle(&vol, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));
}
