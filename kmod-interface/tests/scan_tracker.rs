//! Behaviour of the `ChangeTracker` protocol, through the user-space scan tracker on
//! real files. (The kernel tracker needs the module loaded and cannot run here.)

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use holdfast_kmod::{ChangeTracker, ScanTracker, TrackerError};
use rand::{Rng, SeedableRng};

const BS: u32 = 4096;

fn volume(path: &Path, blocks: u64, data_blocks: &[u64], seed: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(blocks * u64::from(BS)).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for &b in data_blocks {
        let mut buf = vec![0u8; BS as usize];
        rng.fill(&mut buf[..]);
        f.write_all_at(&buf, b * u64::from(BS)).unwrap();
    }
}

fn write_block(path: &Path, block: u64, byte: u8) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&[byte; BS as usize], block * u64::from(BS))
        .unwrap();
}

#[test]
fn first_scan_reports_only_non_zero_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    volume(&vol, 64, &[0, 3, 4, 63], 1);
    let mut t = ScanTracker::new(&vol, &dir.path().join("state"), "v1", BS).unwrap();
    let c = t.changes().unwrap();
    assert!(c.initial);
    assert_eq!(c.blocks, vec![0, 3, 4, 63]);
    assert_eq!(c.changed_bytes(), 4 * u64::from(BS));
}

#[test]
fn after_commit_only_rewritten_blocks_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    volume(&vol, 128, &(0..128).collect::<Vec<_>>(), 2);
    let state = dir.path().join("state");
    let mut t = ScanTracker::new(&vol, &state, "v1", BS).unwrap();
    assert_eq!(t.changes().unwrap().blocks.len(), 128);
    t.commit().unwrap();
    assert!(t.changes().unwrap().blocks.is_empty());
    t.commit().unwrap();

    write_block(&vol, 7, 0xAB);
    write_block(&vol, 100, 0); // zeroing a block is a change too
    let c = t.changes().unwrap();
    assert!(!c.initial);
    assert_eq!(c.blocks, vec![7, 100]);
}

#[test]
fn changes_survive_a_restart_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    volume(&vol, 32, &[1, 2], 3);
    let state = dir.path().join("state");
    {
        let mut t = ScanTracker::new(&vol, &state, "v1", BS).unwrap();
        t.changes().unwrap();
        t.commit().unwrap();
        write_block(&vol, 9, 1);
        assert_eq!(t.changes().unwrap().blocks, vec![9]);
        // dropped without commit: a crash
    }
    let mut t = ScanTracker::new(&vol, &state, "v1", BS).unwrap();
    assert_eq!(t.changes().unwrap().blocks, vec![9]);
    t.commit().unwrap();
    assert!(t.changes().unwrap().blocks.is_empty());
}

#[test]
fn reset_forgets_the_baseline_and_a_grown_volume_reports_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    volume(&vol, 16, &[5], 4);
    let state = dir.path().join("state");
    let mut t = ScanTracker::new(&vol, &state, "v1", BS).unwrap();
    t.changes().unwrap();
    t.commit().unwrap();
    let f = std::fs::OpenOptions::new().append(true).open(&vol).unwrap();
    (&f).write_all(&[7u8; 100]).unwrap();
    let c = t.changes().unwrap();
    assert_eq!(c.blocks, vec![16]);
    assert_eq!(c.volume_size, 16 * u64::from(BS) + 100);
    t.commit().unwrap();
    t.reset().unwrap();
    let c = t.changes().unwrap();
    assert!(c.initial);
    assert_eq!(c.blocks, vec![5, 16]);
}

#[test]
fn corrupt_state_is_refused_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("vol");
    volume(&vol, 8, &[1], 5);
    let state = dir.path().join("state");
    let mut t = ScanTracker::new(&vol, &state, "v1", BS).unwrap();
    t.changes().unwrap();
    t.commit().unwrap();
    let table = state.join("v1.scan");
    let mut bytes = std::fs::read(&table).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&table, bytes).unwrap();
    assert!(matches!(
        t.changes(),
        Err(TrackerError::CorruptState { .. })
    ));
}

#[test]
fn bad_block_sizes_and_missing_sources_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        ScanTracker::new(dir.path().join("x"), dir.path(), "k", 1000),
        Err(TrackerError::BadBlockSize(1000))
    ));
    let mut t = ScanTracker::new(dir.path().join("missing"), dir.path(), "k", BS).unwrap();
    assert!(matches!(t.changes(), Err(TrackerError::ReadSource { .. })));
    assert!(matches!(t.commit(), Err(TrackerError::NothingPending)));
}
