//! Manage existing (adopt a backend volume into Cinder) and unmanage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Cinder, Volume};
use crate::catalog::ServiceType;
use crate::microversion::Microversion;
use crate::session::{Call, Paging};
use crate::{Filters, Result};

/// A backend volume to adopt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ManageVolume {
    /// Cinder host of the backend pool, `host@backend#pool` (see [`Cinder::pools`]).
    pub host: String,
    /// Backend reference, e.g. `{"source-name": "volume-…"}` (RBD image, LV, file).
    #[serde(rename = "ref")]
    pub reference: BTreeMap<String, String>,
    /// Name of the new volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Volume type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Availability zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Bootable.
    pub bootable: bool,
    /// Metadata (Holdfast tags what it adopts).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl ManageVolume {
    /// Adopt the backend object named `source_name` on `host`.
    pub fn by_source_name(host: impl Into<String>, source_name: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            reference: BTreeMap::from([("source-name".to_owned(), source_name.into())]),
            ..Self::default()
        }
    }
}

/// A backend volume Cinder could adopt (`GET /manageable_volumes/detail?host=…`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ManageableVolume {
    /// Backend reference.
    pub reference: BTreeMap<String, Value>,
    /// Size in GiB.
    #[serde(default)]
    pub size: u64,
    /// Whether Cinder can adopt it.
    #[serde(default)]
    pub safe_to_manage: bool,
    /// Why not.
    #[serde(default)]
    pub reason_not_safe: Option<String>,
    /// The Cinder volume it already is, if any.
    #[serde(default)]
    pub cinder_id: Option<String>,
}

#[derive(Deserialize)]
struct One {
    volume: Volume,
}

/// `POST /manageable_volumes` exists from 3.8; older clouds have `os-volume-manage`.
const MANAGEABLE: Microversion = Microversion::new(3, 8);

impl Cinder<'_> {
    /// Adopts a backend volume (202; `creating` → `available`, or `error_managing`).
    /// Not retried: after an error, look the volume up by name/metadata first.
    #[tracing::instrument(skip_all, fields(host = %volume.host))]
    pub async fn manage_volume(&self, volume: &ManageVolume) -> Result<Volume> {
        let version = self.session.microversion(ServiceType::BlockStorage).await?;
        let path = if version.is_some_and(|v| v >= MANAGEABLE) {
            "manageable_volumes"
        } else {
            "os-volume-manage"
        };
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, path),
                &json!({ "volume": volume }),
            )
            .await?;
        Ok(one.volume)
    }

    /// Releases a volume from Cinder without deleting its data (`os-unmanage`, 202).
    #[tracing::instrument(skip_all, fields(volume_id = id))]
    pub async fn unmanage_volume(&self, id: &str) -> Result<()> {
        self.volume_action(id, json!({"os-unmanage": {}})).await
    }

    /// Backend volumes on `host` that Cinder could adopt.
    #[tracing::instrument(skip_all, fields(host))]
    pub async fn manageable_volumes(&self, host: &str) -> Result<Vec<ManageableVolume>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "manageable_volumes/detail",
                "manageable-volumes",
                &Filters::none().eq("host", host),
                // The manageable listing has no next links: ask for everything at once.
                Paging::None,
            )
            .await
    }
}
