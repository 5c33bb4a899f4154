//! kill -9 of either agent process in the middle of a transfer: the restart resumes
//! from the durable position (no full resync) and the copy ends identical.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

const MIB: u64 = 1 << 20;
const SIZE: u64 = 64 * MIB;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    src: PathBuf,
    mirror: PathBuf,
    secret: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.img");
    random_file(&src, SIZE, SIZE, 42);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    Setup {
        mirror: dir.path().join("mirror.img"),
        src,
        secret,
        dir,
    }
}

fn start_target(s: &Setup, listen: &str) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdfast-agent"))
        .args([
            "serve-target",
            "--node",
            "node-b",
            "--source-node",
            "node-a",
            "--volume",
            "vol-1",
            "--listen",
            listen,
        ])
        .arg("--state-dir")
        .arg(s.dir.path().join("tstate"))
        .arg("--mirror")
        .arg(&s.mirror)
        .arg("--secret-file")
        .arg(&s.secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (Proc(child), addr)
}

fn push(s: &Setup, addr: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_holdfast-agent"))
        .args([
            "push",
            "--node",
            "node-a",
            "--target-node",
            "node-b",
            "--volume",
            "vol-1",
            "--target",
            addr,
        ])
        .args(["--sync-bytes", &(4 * MIB).to_string()])
        .arg("--state-dir")
        .arg(s.dir.path().join("sstate"))
        .arg("--source")
        .arg(&s.src)
        .arg("--secret-file")
        .arg(&s.secret)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The target's durable extent count (1 MiB extents here), from its cursor file.
fn durable_extents(s: &Setup) -> u64 {
    let p = s.dir.path().join("tstate/target/vol-1.cursor.json");
    std::fs::read(p)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["next_seq"].as_u64())
        .unwrap_or(0)
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last `cycle` event a push printed.
fn finish(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "push failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["event"] == "cycle")
        .expect("a cycle event")
}

fn assert_pos(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn killing_the_source_mid_transfer_resumes_without_a_full_resync() {
    let s = setup();
    let (_target, addr) = start_target(&s, "127.0.0.1:0");
    let mut first = Proc(push(
        &s,
        &addr,
        &["--bandwidth-limit", &(16 * MIB).to_string()],
    ));
    wait_for(
        "16 MiB durable on the target",
        Duration::from_secs(60),
        || durable_extents(&s) >= 16,
    );
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    let durable = durable_extents(&s);
    assert!(durable < 64, "the kill came too late to test anything");

    let report = finish(push(&s, &addr, &[]));
    let resumed = report["resumed_from"].as_u64().unwrap();
    let sent = report["bytes_sent"].as_u64().unwrap();
    assert!(
        resumed >= durable,
        "resumed from {resumed}, target had {durable}"
    );
    assert!(
        sent <= (64 - resumed) * MIB + 256 * 1024,
        "sent {sent} bytes after resuming at {resumed} MiB"
    );
    assert_eq!(
        report["epoch"], 1,
        "the same epoch was finished, not restarted"
    );
    assert_eq!(assert_pos(&s.mirror), SIZE);
    assert_eq!(digest(&s.src), digest(&s.mirror));

    // The checksum table built while shipping (across the kill) describes what the
    // target holds: the next cycle finds and ships exactly the block written since.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&s.src)
        .unwrap();
    f.write_all_at(&[7; 4096], 40 * MIB + 8192).unwrap();
    drop(f);
    let delta = finish(push(&s, &addr, &[]));
    assert_eq!(delta["epoch"], 2);
    assert_eq!(delta["initial"], false);
    assert_eq!(delta["planned_bytes"], 4096, "{delta}");
    assert_eq!(digest(&s.src), digest(&s.mirror));
}

#[test]
fn killing_the_target_mid_transfer_resumes_without_a_full_resync() {
    let s = setup();
    let (target, addr) = start_target(&s, "127.0.0.1:0");
    let pusher = push(
        &s,
        &addr,
        &[
            "--bandwidth-limit",
            &(16 * MIB).to_string(),
            "--retry-for-s",
            "120",
        ],
    );
    wait_for(
        "16 MiB durable on the target",
        Duration::from_secs(60),
        || durable_extents(&s) >= 16,
    );
    drop(target); // SIGKILL
    let durable = durable_extents(&s);
    assert!(durable < 64, "the kill came too late to test anything");
    let (_target, _) = start_target(&s, &addr);

    let report = finish(pusher);
    let resumed = report["resumed_from"].as_u64().unwrap();
    assert!(
        resumed >= durable,
        "resumed from {resumed}, target had {durable}"
    );
    // All attempts together sent the volume about once, not once plus a restart.
    let total = report["bytes_sent_total"].as_u64().unwrap();
    assert!(total < SIZE + (durable + 8) * MIB, "{total} bytes in total");
    assert_eq!(digest(&s.src), digest(&s.mirror));
}
