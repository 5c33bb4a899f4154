//! The binary as an operator uses it: `run` under a real bus, `status` (exit code),
//! `support-bundle` (contents, redaction), SIGTERM for a graceful stop, SIGHUP reloading
//! the data plane's TLS files.

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

/// `[data_plane.tls]` for `write_config`'s agent, with its certificate and key at
/// `dir/tls/agent.{crt,key}` (installed from `files`).
fn add_tls(config: &Path, dir: &Path, files: &holdfast_agent::dataplane::tls::TlsFiles) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    install(files, &tls);
    let mut text = std::fs::read_to_string(config).unwrap();
    text = text.replace(
        "\n[[backends]]",
        &format!(
            "\n[data_plane.tls]\ncert = \"tls/agent.crt\"\nkey = \"tls/agent.key\"\nca = {:?}\n\n[[backends]]",
            files.ca.display().to_string()
        ),
    );
    std::fs::write(config, text).unwrap();
}

fn install(files: &holdfast_agent::dataplane::tls::TlsFiles, tls: &Path) {
    std::fs::copy(&files.cert, tls.join("agent.crt")).unwrap();
    std::fs::copy(&files.key, tls.join("agent.key")).unwrap();
}

fn hup(daemon: &std::process::Child) {
    let ok = Command::new("kill")
        .arg("-HUP")
        .arg(daemon.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn sighup_reloads_the_tls_files_of_the_running_binary_and_status_follows() {
    let dir = tempfile::tempdir().unwrap();
    let ca = holdfast_agent::bench::pki::TestCa::new(&dir.path().join("pki"), "ca").unwrap();
    let config = write_config(dir.path());
    add_tls(&config, dir.path(), &ca.issue("cli-node", 10).unwrap());
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
    assert!(
        ok && out.contains("WARNING") && out.contains("expires in"),
        "{out}"
    );

    // Renewed in place, not reloaded yet: status says the agent still uses the old one.
    let renewed = ca.issue("cli-node", 365).unwrap();
    install(&renewed, &dir.path().join("tls"));
    let (ok, out) = status(&config);
    assert!(
        ok && out.contains("still uses the certificate valid until"),
        "{out}"
    );

    // A broken key and SIGHUP: the daemon keeps running on its material, status fails.
    std::fs::write(dir.path().join("tls/agent.key"), "not a key\n").unwrap();
    hup(&daemon);
    let mut last = String::new();
    wait_for("status to report the failed reload", || {
        let (ok, out) = status(&config);
        last = out;
        !ok && last.contains("reloading the TLS material failed")
    });
    assert!(last.contains("data_plane.tls.key"), "{last}");
    assert!(last.contains("systemctl reload holdfast-agent"), "{last}");
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "SIGHUP did not stop it"
    );

    // Fixed and reloaded: healthy, no warning left.
    install(&renewed, &dir.path().join("tls"));
    hup(&daemon);
    wait_for("status to be clean after the reload", || {
        let (ok, out) = status(&config);
        last = out;
        ok && !last.contains("WARNING")
    });
    assert!(last.contains("mutual TLS"), "{last}");

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while daemon.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
