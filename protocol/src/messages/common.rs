use serde::{Deserialize, Serialize};

/// The kind of storage a backend holds volumes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum StorageKind {
    /// Regular (sparse) files in a directory.
    File,
    /// Block devices (LVM logical volumes, raw disks).
    Block,
    /// Ceph RBD images in a pool.
    Rbd,
    /// A kind added by a newer minor version.
    #[serde(other)]
    Unknown,
}

/// Where a volume's bytes live on one node: a storage backend configured on that node's
/// agent, and the object inside it (a file name relative to the backend's directory,
/// a device path, or an RBD image name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeLocation {
    pub backend: String,
    pub kind: StorageKind,
    pub object: String,
}

/// Compression applied to blocks on the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum Compression {
    None,
    Zstd,
    #[serde(other)]
    Unknown,
}

/// A per-session secret the orchestrator hands both agents of a replication pair;
/// the data-plane handshake proves knowledge of it. Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SessionSecret(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionSecret(<{} bytes redacted>)", self.0.len())
    }
}
