//! `holdfast-agent support-bundle`: logs, the config with secrets redacted, versions,
//! health and replication state in one `.tar.gz` for support.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::status;

/// Largest log file tail included, per file.
const LOG_TAIL: u64 = 8 << 20;

pub fn write(config: &Config, output: &Path) -> anyhow::Result<Vec<String>> {
    let file =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut names = Vec::new();
    let mut add = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(holdfast_protocol::UnixMillis::now().0 / 1000);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)?;
        names.push(name.to_owned());
        Ok(())
    };
    add(&mut tar, "config.toml", config.redacted().as_bytes())?;
    let versions = serde_json::json!({
        "agent": env!("CARGO_PKG_VERSION"),
        "protocol": format!("{:?}", holdfast_protocol::ProtocolVersion::CURRENT),
        "kmod_abi": holdfast_kmod::abi::ABI_VERSION,
        "kernel": std::fs::read_to_string("/proc/version").unwrap_or_default().trim(),
    });
    add(
        &mut tar,
        "versions.json",
        &serde_json::to_vec_pretty(&versions)?,
    )?;
    let report = status::check(config);
    let health = serde_json::json!({ "lines": report.lines, "warnings": report.warnings, "problems": report.problems });
    add(
        &mut tar,
        "health.json",
        &serde_json::to_vec_pretty(&health)?,
    )?;
    for (name, path) in state_files(&config.state_dir) {
        if let Ok(bytes) = std::fs::read(&path) {
            add(&mut tar, &format!("state/{name}"), &bytes)?;
        }
    }
    if let Some(dir) = &config.log_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_file() {
                let tail = tail(&p, LOG_TAIL)?;
                let name = format!(
                    "logs/{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                );
                add(&mut tar, &name, &tail)?;
            }
        }
    }
    let gz = tar.into_inner()?;
    gz.finish()?.flush()?;
    Ok(names)
}

/// Replication state files worth sending: status, cursors, source states. Never the
/// assignments (they hold session secrets) nor checksum tables (large, no use).
fn state_files(state_dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let top = state_dir.join("status.json");
    out.push(("status.json".to_owned(), top));
    for sub in ["target", "source"] {
        let Ok(entries) = std::fs::read_dir(state_dir.join(sub)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                let sj = p.join("source.json");
                out.push((
                    format!("{sub}/{}/source.json", e.file_name().to_string_lossy()),
                    sj,
                ));
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push((format!("{sub}/{}", e.file_name().to_string_lossy()), p));
            }
        }
    }
    out
}

fn tail(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}
