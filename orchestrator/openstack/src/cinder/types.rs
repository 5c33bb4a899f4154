//! Volume types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Cinder;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A volume type.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct VolumeType {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Public.
    #[serde(default = "yes", rename = "os-volume-type-access:is_public")]
    pub is_public: bool,
    /// Extra specs (admin sees them all).
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl VolumeType {
    /// The `volume_backend_name` extra spec: which backend serves the type.
    pub fn backend_name(&self) -> Option<&str> {
        self.extra_specs
            .get("volume_backend_name")
            .map(String::as_str)
    }
}

/// A volume type to create (admin).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct VolumeTypeCreate {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Public.
    #[serde(rename = "os-volume-type-access:is_public")]
    pub is_public: bool,
    /// Extra specs, e.g. `volume_backend_name`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct One {
    volume_type: VolumeType,
}

impl Cinder<'_> {
    /// Volume types (`is_public=None` for private ones too, admin).
    #[tracing::instrument(skip_all)]
    pub async fn volume_types(&self, filters: &Filters) -> Result<Vec<VolumeType>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "types",
                "volume_types",
                &filters.without_all_tenants(),
                Paging::None,
            )
            .await
    }

    /// One volume type.
    #[tracing::instrument(skip_all, fields(type_id = id))]
    pub async fn volume_type(&self, id: &str) -> Result<VolumeType> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::BlockStorage,
                format!("types/{}", enc(id)),
            ))
            .await?;
        Ok(one.volume_type)
    }

    /// Creates a volume type. Not retried.
    #[tracing::instrument(skip_all, fields(name = %volume_type.name))]
    pub async fn create_volume_type(&self, volume_type: &VolumeTypeCreate) -> Result<VolumeType> {
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, "types"),
                &json!({ "volume_type": volume_type }),
            )
            .await?;
        Ok(one.volume_type)
    }

    /// Deletes a volume type.
    #[tracing::instrument(skip_all, fields(type_id = id))]
    pub async fn delete_volume_type(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::BlockStorage,
                format!("types/{}", enc(id)),
            ))
            .await
    }
}
