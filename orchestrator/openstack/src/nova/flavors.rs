//! Flavors.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A flavor (`GET /flavors/detail`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Flavor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MiB.
    pub ram: u64,
    /// Root disk in GiB.
    pub disk: u64,
    /// Ephemeral disk in GiB.
    #[serde(default, rename = "OS-FLV-EXT-DATA:ephemeral")]
    pub ephemeral: u64,
    /// Swap in MiB (Nova sends `""` for none).
    #[serde(default, deserialize_with = "swap")]
    pub swap: u64,
    /// Public.
    #[serde(default = "yes", rename = "os-flavor-access:is_public")]
    pub is_public: bool,
    /// Disabled.
    #[serde(default, rename = "OS-FLV-DISABLED:disabled")]
    pub disabled: bool,
    /// Extra specs (2.61+).
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn yes() -> bool {
    true
}

fn swap<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    })
}

/// A flavor to create (admin).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FlavorCreate {
    /// Name.
    pub name: String,
    /// Id (`None`: Nova generates a UUID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MiB.
    pub ram: u64,
    /// Root disk in GiB.
    pub disk: u64,
    /// Public.
    #[serde(rename = "os-flavor-access:is_public")]
    pub is_public: bool,
}

#[derive(Deserialize)]
struct One {
    flavor: Flavor,
}

impl Nova<'_> {
    /// Flavors with details, every page (`is_public=None` lists private ones too, admin).
    #[tracing::instrument(skip_all)]
    pub async fn flavors(&self, filters: &Filters) -> Result<Vec<Flavor>> {
        self.session
            .list(
                ServiceType::Compute,
                "flavors/detail",
                "flavors",
                filters,
                Paging::Marker,
            )
            .await
    }

    /// One flavor.
    #[tracing::instrument(skip_all, fields(flavor_id = id))]
    pub async fn flavor(&self, id: &str) -> Result<Flavor> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::Compute,
                format!("flavors/{}", enc(id)),
            ))
            .await?;
        Ok(one.flavor)
    }

    /// Creates a flavor. Not retried: on an error, look the name up first.
    #[tracing::instrument(skip_all, fields(name = %flavor.name))]
    pub async fn create_flavor(&self, flavor: &FlavorCreate) -> Result<Flavor> {
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::Compute, "flavors"),
                &json!({ "flavor": flavor }),
            )
            .await?;
        Ok(one.flavor)
    }

    /// Deletes a flavor.
    #[tracing::instrument(skip_all, fields(flavor_id = id))]
    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::Compute,
                format!("flavors/{}", enc(id)),
            ))
            .await
    }
}
