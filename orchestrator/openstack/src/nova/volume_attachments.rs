//! Volume attachments of a server.

use serde::Deserialize;
use serde_json::json;

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A volume attached to a server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct VolumeAttachment {
    /// Attachment id (the volume id before 2.89).
    pub id: String,
    /// Volume.
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    /// Server.
    #[serde(rename = "serverId")]
    pub server_id: String,
    /// Device (`/dev/vdb`).
    #[serde(default)]
    pub device: Option<String>,
    /// Deleted with the server (2.79+).
    #[serde(default)]
    pub delete_on_termination: Option<bool>,
}

#[derive(Deserialize)]
struct One {
    #[serde(rename = "volumeAttachment")]
    attachment: VolumeAttachment,
}

impl Nova<'_> {
    /// The volumes attached to a server.
    #[tracing::instrument(skip_all, fields(server_id))]
    pub async fn volume_attachments(&self, server_id: &str) -> Result<Vec<VolumeAttachment>> {
        let path = format!("servers/{}/os-volume_attachments", enc(server_id));
        self.session
            .list(
                ServiceType::Compute,
                &path,
                "volumeAttachments",
                &Filters::none(),
                Paging::None,
            )
            .await
    }

    /// Attaches a volume to a server (the volume goes `attaching` → `in-use`). Not
    /// retried; a repeated attach answers 400/409.
    #[tracing::instrument(skip_all, fields(server_id, volume_id))]
    pub async fn attach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<VolumeAttachment> {
        let path = format!("servers/{}/os-volume_attachments", enc(server_id));
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::Compute, path),
                &json!({"volumeAttachment": {"volumeId": volume_id}}),
            )
            .await?;
        Ok(one.attachment)
    }

    /// Detaches a volume (202; asynchronous).
    #[tracing::instrument(skip_all, fields(server_id, volume_id))]
    pub async fn detach_volume(&self, server_id: &str, volume_id: &str) -> Result<()> {
        let path = format!(
            "servers/{}/os-volume_attachments/{}",
            enc(server_id),
            enc(volume_id)
        );
        self.session
            .delete(Call::new(ServiceType::Compute, path))
            .await
    }
}
