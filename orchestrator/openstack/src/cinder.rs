//! Cinder (block storage v3): volumes and their actions, manage/unmanage, volume types,
//! snapshots, groups and group snapshots, pools, limits and quotas.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::microversion::{Microversion, Requirement};
use crate::session::Session;

mod groups;
mod limits;
mod manage;
mod pools;
mod snapshots;
mod types;
mod volumes;

pub use groups::{Group, GroupCreate, GroupSnapshot};
pub use limits::{AbsoluteLimits, QuotaUsage};
pub use manage::{ManageVolume, ManageableVolume};
pub use pools::Pool;
pub use snapshots::{Snapshot, SnapshotCreate};
pub use types::{VolumeType, VolumeTypeCreate};
pub use volumes::{Volume, VolumeAttachmentInfo, VolumeCreate};

/// Cinder microversions: at least 3.14 (group snapshots; 3.8 manageable volumes), at
/// most 3.64.
pub const MICROVERSIONS: Requirement = Requirement {
    minimum: Microversion::new(3, 14),
    wanted: Microversion::new(3, 64),
};

/// Cinder calls of a session.
#[derive(Debug, Clone, Copy)]
pub struct Cinder<'a> {
    session: &'a Session,
}

impl<'a> Cinder<'a> {
    pub(crate) fn new(session: &'a Session) -> Self {
        Self { session }
    }
}

/// Cinder writes booleans as `true` or as `"true"`/`"True"`/`"false"`.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.eq_ignore_ascii_case("true") || s == "1",
        Value::Number(n) => n.as_i64() == Some(1),
        _ => false,
    })
}

/// Capacities are numbers, or `"infinite"` / `"unknown"` (→ `None`).
pub(crate) fn capacity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}
