//! Ports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Neutron;
use crate::{Filters, Result};

/// A port.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Port {
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
    /// MAC address.
    #[serde(default)]
    pub mac_address: String,
    /// Fixed IPs.
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
    /// The server/router/DHCP agent using it.
    #[serde(default)]
    pub device_id: String,
    /// `compute:<az>`, `network:router_interface`, `network:router_gateway`, ...
    #[serde(default)]
    pub device_owner: String,
    /// `ACTIVE`, `DOWN`, ...
    #[serde(default)]
    pub status: String,
    /// Security group ids.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Administratively up.
    #[serde(default)]
    pub admin_state_up: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A fixed IP of a port.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct FixedIp {
    /// Subnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet_id: String,
    /// Address (on create: `None` lets Neutron allocate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// A port to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct PortCreate {
    /// Network.
    pub network_id: String,
    /// Name.
    pub name: String,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Fixed IPs (recovery keeps the source's addresses when the plan says so).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_ips: Vec<FixedIp>,
    /// MAC address (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Security group ids (`None`: the project's default group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// Description (Holdfast marks what it creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Neutron<'_> {
    /// Ports, every page (filters: `device_id`, `network_id`, `device_owner`, ...).
    #[tracing::instrument(skip_all)]
    pub async fn ports(&self, filters: &Filters) -> Result<Vec<Port>> {
        self.list_all("ports", "ports", filters).await
    }

    /// One port.
    #[tracing::instrument(skip_all, fields(port_id = id))]
    pub async fn port(&self, id: &str) -> Result<Port> {
        self.show("ports", id, "port").await
    }

    /// Creates a port. Not retried.
    #[tracing::instrument(skip_all, fields(name = %port.name))]
    pub async fn create_port(&self, port: &PortCreate) -> Result<Port> {
        self.create("ports", "port", port).await
    }

    /// Replaces a port's security groups.
    #[tracing::instrument(skip_all, fields(port_id = id))]
    pub async fn set_port_security_groups(&self, id: &str, groups: &[String]) -> Result<Port> {
        self.update(
            "ports",
            id,
            "port",
            &serde_json::json!({ "security_groups": groups }),
        )
        .await
    }

    /// Deletes a port.
    #[tracing::instrument(skip_all, fields(port_id = id))]
    pub async fn delete_port(&self, id: &str) -> Result<()> {
        self.delete("ports", id).await
    }
}
