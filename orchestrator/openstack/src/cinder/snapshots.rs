//! Volume snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Cinder;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A snapshot (`GET /snapshots/detail`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Snapshot {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, `error`, ...
    pub status: String,
    /// Size in GiB.
    pub size: u64,
    /// Its volume.
    pub volume_id: String,
    /// Project.
    #[serde(default, rename = "os-extended-snapshot-attributes:project_id")]
    pub project_id: Option<String>,
    /// Group snapshot it belongs to (3.14+).
    #[serde(default)]
    pub group_snapshot_id: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A snapshot to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SnapshotCreate {
    /// The volume.
    pub volume_id: String,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Snapshot an attached volume too.
    pub force: bool,
    /// Metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct One {
    snapshot: Snapshot,
}

impl Cinder<'_> {
    /// Snapshots with details, every page.
    #[tracing::instrument(skip_all)]
    pub async fn snapshots(&self, filters: &Filters) -> Result<Vec<Snapshot>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "snapshots/detail",
                "snapshots",
                filters,
                Paging::Marker,
            )
            .await
    }

    /// One snapshot.
    #[tracing::instrument(skip_all, fields(snapshot_id = id))]
    pub async fn snapshot(&self, id: &str) -> Result<Snapshot> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::BlockStorage,
                format!("snapshots/{}", enc(id)),
            ))
            .await?;
        Ok(one.snapshot)
    }

    /// Creates a snapshot (202, `creating` → `available`). Not retried.
    #[tracing::instrument(skip_all, fields(volume_id = %snapshot.volume_id))]
    pub async fn create_snapshot(&self, snapshot: &SnapshotCreate) -> Result<Snapshot> {
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, "snapshots"),
                &json!({ "snapshot": snapshot }),
            )
            .await?;
        Ok(one.snapshot)
    }

    /// Deletes a snapshot (202; asynchronous).
    #[tracing::instrument(skip_all, fields(snapshot_id = id))]
    pub async fn delete_snapshot(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::BlockStorage,
                format!("snapshots/{}", enc(id)),
            ))
            .await
    }
}
