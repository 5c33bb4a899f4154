use serde::{Deserialize, Serialize};

/// The protocol version carried by every envelope.
///
/// Peers with the same `major` interoperate: a newer `minor` may add optional fields
/// and new enum values (decoded as `Unknown`), never remove or retype a field. A message
/// with a different `major` is refused with [`crate::DecodeError::UnsupportedVersion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProtocolVersion {
    pub major: u16,
    pub minor: u16,
}

impl ProtocolVersion {
    /// The version this build speaks.
    pub const CURRENT: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

    /// Whether a message stamped with `self` can be read by a peer speaking `ours`.
    pub fn is_readable_by(self, ours: ProtocolVersion) -> bool {
        self.major == ours.major
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
