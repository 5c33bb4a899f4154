//! Volumes and their actions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Cinder, lenient_bool};
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A volume (`GET /volumes/detail`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Volume {
    /// Id.
    pub id: String,
    /// Name (may be null).
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, `in-use`, `error`, ...
    pub status: String,
    /// Size in GiB.
    pub size: u64,
    /// Volume type name.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Bootable (Cinder sends `"true"`/`"false"`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub bootable: bool,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<VolumeAttachmentInfo>,
    /// Backend host `host@backend#pool` (admin).
    #[serde(default, rename = "os-vol-host-attr:host")]
    pub host: Option<String>,
    /// Project.
    #[serde(default, rename = "os-vol-tenant-attr:tenant_id")]
    pub project_id: Option<String>,
    /// Source snapshot.
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// Source volume.
    #[serde(default)]
    pub source_volid: Option<String>,
    /// Group (3.13+).
    #[serde(default)]
    pub group_id: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Multi-attach.
    #[serde(default)]
    pub multiattach: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last update.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An attachment of a volume.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct VolumeAttachmentInfo {
    /// Server.
    #[serde(default)]
    pub server_id: Option<String>,
    /// Attachment id.
    #[serde(default)]
    pub attachment_id: Option<String>,
    /// Device.
    #[serde(default)]
    pub device: Option<String>,
    /// Host of the server.
    #[serde(default)]
    pub host_name: Option<String>,
}

/// A volume to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct VolumeCreate {
    /// Size in GiB.
    pub size: u64,
    /// Name.
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
    /// Create from this snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Clone this volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_volid: Option<String>,
    /// Put it in this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Metadata (Holdfast tags what it creates).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct One {
    volume: Volume,
}

impl Cinder<'_> {
    /// Volumes with details, every page. Use [`Filters::all_tenants`] for every project.
    #[tracing::instrument(skip_all)]
    pub async fn volumes(&self, filters: &Filters) -> Result<Vec<Volume>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "volumes/detail",
                "volumes",
                filters,
                Paging::Marker,
            )
            .await
    }

    /// One volume.
    #[tracing::instrument(skip_all, fields(volume_id = id))]
    pub async fn volume(&self, id: &str) -> Result<Volume> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::BlockStorage,
                format!("volumes/{}", enc(id)),
            ))
            .await?;
        Ok(one.volume)
    }

    /// Creates a volume (202, `creating` → `available`). Not retried: look it up by
    /// name/metadata after an error.
    #[tracing::instrument(skip_all, fields(size = volume.size))]
    pub async fn create_volume(&self, volume: &VolumeCreate) -> Result<Volume> {
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, "volumes"),
                &json!({ "volume": volume }),
            )
            .await?;
        Ok(one.volume)
    }

    /// Deletes a volume (202; asynchronous).
    #[tracing::instrument(skip_all, fields(volume_id = id))]
    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::BlockStorage,
                format!("volumes/{}", enc(id)),
            ))
            .await
    }

    /// Grows a volume to `new_size` GiB (`os-extend`).
    #[tracing::instrument(skip_all, fields(volume_id = id, new_size))]
    pub async fn extend_volume(&self, id: &str, new_size: u64) -> Result<()> {
        self.volume_action(id, json!({"os-extend": {"new_size": new_size}}))
            .await
    }

    /// Forces a volume's status (`os-reset_status`, admin), e.g. out of `error_managing`.
    #[tracing::instrument(skip_all, fields(volume_id = id, status))]
    pub async fn reset_volume_status(&self, id: &str, status: &str) -> Result<()> {
        self.volume_action(id, json!({"os-reset_status": {"status": status}}))
            .await
    }

    /// Sets the bootable flag (`os-set_bootable`).
    #[tracing::instrument(skip_all, fields(volume_id = id, bootable))]
    pub async fn set_bootable(&self, id: &str, bootable: bool) -> Result<()> {
        self.volume_action(id, json!({"os-set_bootable": {"bootable": bootable}}))
            .await
    }

    pub(super) async fn volume_action(&self, id: &str, body: Value) -> Result<()> {
        let call = Call::new(
            ServiceType::BlockStorage,
            format!("volumes/{}/action", enc(id)),
        );
        self.session.post_no_content(call, &body).await
    }
}
