//! Networks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Neutron;
use crate::{Filters, Result};

/// A network.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Network {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, `DOWN`, ...
    #[serde(default)]
    pub status: String,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Administratively up.
    #[serde(default)]
    pub admin_state_up: bool,
    /// Shared with every project.
    #[serde(default)]
    pub shared: bool,
    /// External (routers' gateways and floating IPs come from it).
    #[serde(default, rename = "router:external")]
    pub external: bool,
    /// `flat`, `vlan`, `vxlan`, ... (admin).
    #[serde(default, rename = "provider:network_type")]
    pub network_type: Option<String>,
    /// Physical network (admin).
    #[serde(default, rename = "provider:physical_network")]
    pub physical_network: Option<String>,
    /// Segmentation id (admin).
    #[serde(default, rename = "provider:segmentation_id")]
    pub segmentation_id: Option<u32>,
    /// Subnet ids.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A network to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct NetworkCreate {
    /// Name.
    pub name: String,
    /// Owner project (admin creating for another project).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Administratively up.
    pub admin_state_up: bool,
    /// Shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    /// External.
    #[serde(rename = "router:external", skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    /// Provider network type (admin).
    #[serde(
        rename = "provider:network_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_type: Option<String>,
    /// Provider physical network (admin).
    #[serde(
        rename = "provider:physical_network",
        skip_serializing_if = "Option::is_none"
    )]
    pub physical_network: Option<String>,
    /// Provider segmentation id (admin).
    #[serde(
        rename = "provider:segmentation_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub segmentation_id: Option<u32>,
    /// MTU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Description (Holdfast marks what it creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Neutron<'_> {
    /// Networks, every page (filters: `project_id`, `name`, `router:external`, ...).
    #[tracing::instrument(skip_all)]
    pub async fn networks(&self, filters: &Filters) -> Result<Vec<Network>> {
        self.list_all("networks", "networks", filters).await
    }

    /// One network.
    #[tracing::instrument(skip_all, fields(network_id = id))]
    pub async fn network(&self, id: &str) -> Result<Network> {
        self.show("networks", id, "network").await
    }

    /// Creates a network. Not retried.
    #[tracing::instrument(skip_all, fields(name = %network.name))]
    pub async fn create_network(&self, network: &NetworkCreate) -> Result<Network> {
        self.create("networks", "network", network).await
    }

    /// Deletes a network (409 while ports use it).
    #[tracing::instrument(skip_all, fields(network_id = id))]
    pub async fn delete_network(&self, id: &str) -> Result<()> {
        self.delete("networks", id).await
    }
}
