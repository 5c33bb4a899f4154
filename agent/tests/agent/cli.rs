//! The binary as an operator uses it: `run` under a real bus, `status` (exit code),
//! `support-bundle` (contents, redaction), SIGTERM for a graceful stop.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_holdfast-agent"))
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let url = std::env::var("HOLDFAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let vols = dir.join("volumes");
    std::fs::create_dir_all(&vols).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"
node_id = "cli-node"
bus_url = "{url}"
bus_namespace = "hf-agent-cli-{ns}"
state_dir = "{state}"
heartbeat_interval_ms = 200

[data_plane]
listen = "127.0.0.1:0"

[[backends]]
name = "files"
kind = "file"
path = "{vols}"
"#,
            ns = uuid::Uuid::new_v4().simple(),
            state = dir.join("state").display(),
            vols = vols.display(),
        ),
    )
    .unwrap();
    config
}

fn status(config: &Path) -> (bool, String) {
    let out = bin()
        .arg("status")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn status_bundle_and_graceful_stop_of_a_running_agent() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());

    let (ok, out) = status(&config);
    assert!(!ok, "no daemon yet: status must fail\n{out}");
    assert!(out.contains("not running"), "{out}");

    let mut daemon = bin()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_json = dir.path().join("state/status.json");
    wait_for("the daemon's first report", || status_json.exists());
    let (ok, out) = status(&config);
    assert!(ok, "{out}");
    assert!(out.contains("healthy") && out.contains("threads"), "{out}");
    assert!(out.contains("user-space scan tracker is in use"), "{out}");

    let bundle = dir.path().join("bundle.tar.gz");
    let out = bin()
        .arg("support-bundle")
        .arg("--config")
        .arg(&config)
        .arg("--output")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&bundle).unwrap(),
    ));
    let mut files = std::collections::HashMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut text = String::new();
        e.read_to_string(&mut text).unwrap();
        files.insert(name, text);
    }
    for expected in [
        "config.toml",
        "versions.json",
        "health.json",
        "state/status.json",
    ] {
        assert!(
            files.contains_key(expected),
            "{expected} missing from {:?}",
            files.keys()
        );
    }
    assert!(
        files["config.toml"].contains(":***@"),
        "{}",
        files["config.toml"]
    );
    assert!(!files["config.toml"].contains("guest:guest"));

    // SIGTERM: the daemon drains and exits cleanly, removing its pid file.
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(code) = daemon.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success());
    assert!(!dir.path().join("state/agent.pid").exists());
    let (ok, _) = status(&config);
    assert!(!ok);
}
