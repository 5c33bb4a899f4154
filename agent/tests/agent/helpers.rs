use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdfast_agent::dataplane::session::Expected;
use holdfast_agent::replication::source::SourceVolume;
use holdfast_agent::replication::target::{self, TargetRegistry, TargetVolume};
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

pub(crate) const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

pub(crate) struct Target {
    pub(crate) addr: String,
    pub(crate) registry: TargetRegistry,
    pub(crate) state: PathBuf,
    _shutdown: watch::Sender<bool>,
}

pub(crate) async fn spawn_target(dir: &Path) -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let registry = TargetRegistry::default();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(target::serve(
        listener,
        registry.clone(),
        "node-b".into(),
        rx,
    ));
    Target {
        addr,
        registry,
        state: dir.join("target-state"),
        _shutdown: tx,
    }
}

impl Target {
    pub(crate) fn add(&self, volume: &str, mirror: PathBuf) -> Arc<TargetVolume> {
        self.registry.insert(TargetVolume::new(
            volume,
            mirror,
            Expected {
                secret: SECRET.to_vec(),
                source_node: "node-a".into(),
            },
            &self.state,
        ))
    }

    /// A target volume whose mirror is an RBD image.
    pub(crate) fn add_rbd(
        &self,
        volume: &str,
        image: holdfast_agent::rbd::Image,
    ) -> Arc<TargetVolume> {
        self.registry.insert(
            TargetVolume::new(
                volume,
                PathBuf::from(format!("rbd:{}", image.spec())),
                Expected {
                    secret: SECRET.to_vec(),
                    source_node: "node-a".into(),
                },
                &self.state,
            )
            .with_rbd(image),
        )
    }
}

pub(crate) fn source(volume: &str, path: &Path, dir: &Path, target_addr: &str) -> SourceVolume {
    SourceVolume {
        volume_id: volume.into(),
        source_node: "node-a".into(),
        target_node: "node-b".into(),
        target_addr: target_addr.into(),
        secret: SECRET.to_vec(),
        path: path.to_owned(),
        state_dir: dir.join("source-state").join(volume),
        block_size: 4096,
        compression: false,
        bandwidth_limit_bps: None,
        sync_bytes: holdfast_agent::replication::source::SYNC_BYTES,
        rbd: None,
        tls: None,
    }
}

/// A file of `size` bytes whose first `data` bytes are random (the rest a hole).
pub(crate) fn random_file(path: &Path, size: u64, data: u64, seed: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < data {
        let n = (buf.len() as u64).min(data - at) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all_at(&buf[..n], at).unwrap();
        at += n as u64;
    }
}

/// Overwrites `count` random 4 KiB blocks; returns how many distinct blocks changed.
pub(crate) fn random_writes(path: &Path, count: usize, seed: u64) -> usize {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let blocks = f.metadata().unwrap().len() / 4096;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        let b = rng.random_range(0..blocks);
        rng.fill(&mut buf[..]);
        f.write_all_at(&buf, b * 4096).unwrap();
        seen.insert(b);
    }
    seen.len()
}

pub(crate) fn digest(path: &Path) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update_reader(std::fs::File::open(path).unwrap()).unwrap();
    h.finalize()
}
