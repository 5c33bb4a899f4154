//! Subnets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Neutron;
use crate::{Filters, Result};

/// A subnet.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Subnet {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Its network.
    pub network_id: String,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// CIDR.
    pub cidr: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// Gateway (none when `null`).
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// DHCP.
    #[serde(default)]
    pub enable_dhcp: bool,
    /// Allocation pools.
    #[serde(default)]
    pub allocation_pools: Vec<AllocationPool>,
    /// DNS servers.
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
    /// Host routes.
    #[serde(default)]
    pub host_routes: Vec<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An allocation pool.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct AllocationPool {
    /// First address.
    pub start: String,
    /// Last address.
    pub end: String,
}

/// A subnet to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SubnetCreate {
    /// Network.
    pub network_id: String,
    /// Name.
    pub name: String,
    /// CIDR.
    pub cidr: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Gateway (`None`: Neutron picks the first address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// DHCP.
    pub enable_dhcp: bool,
    /// Allocation pools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allocation_pools: Vec<AllocationPool>,
    /// DNS servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_nameservers: Vec<String>,
}

impl Neutron<'_> {
    /// Subnets, every page.
    #[tracing::instrument(skip_all)]
    pub async fn subnets(&self, filters: &Filters) -> Result<Vec<Subnet>> {
        self.list_all("subnets", "subnets", filters).await
    }

    /// One subnet.
    #[tracing::instrument(skip_all, fields(subnet_id = id))]
    pub async fn subnet(&self, id: &str) -> Result<Subnet> {
        self.show("subnets", id, "subnet").await
    }

    /// Creates a subnet. Not retried.
    #[tracing::instrument(skip_all, fields(name = %subnet.name))]
    pub async fn create_subnet(&self, subnet: &SubnetCreate) -> Result<Subnet> {
        self.create("subnets", "subnet", subnet).await
    }

    /// Deletes a subnet.
    #[tracing::instrument(skip_all, fields(subnet_id = id))]
    pub async fn delete_subnet(&self, id: &str) -> Result<()> {
        self.delete("subnets", id).await
    }
}
