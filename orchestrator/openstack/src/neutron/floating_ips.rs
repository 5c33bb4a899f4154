//! Floating IPs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Neutron;
use crate::{Filters, Result};

/// A floating IP.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FloatingIp {
    /// Id.
    pub id: String,
    /// The address.
    pub floating_ip_address: String,
    /// The external network it comes from.
    pub floating_network_id: String,
    /// Associated port.
    #[serde(default)]
    pub port_id: Option<String>,
    /// Associated fixed IP.
    #[serde(default)]
    pub fixed_ip_address: Option<String>,
    /// Router doing the NAT.
    #[serde(default)]
    pub router_id: Option<String>,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `ACTIVE`, `DOWN`.
    #[serde(default)]
    pub status: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A floating IP to allocate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct FloatingIpCreate {
    /// External network.
    pub floating_network_id: String,
    /// A specific address (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floating_ip_address: Option<String>,
    /// Associate at once with this port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Description (Holdfast marks what it allocates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Neutron<'_> {
    /// Floating IPs, every page.
    #[tracing::instrument(skip_all)]
    pub async fn floating_ips(&self, filters: &Filters) -> Result<Vec<FloatingIp>> {
        self.list_all("floatingips", "floatingips", filters).await
    }

    /// One floating IP.
    #[tracing::instrument(skip_all, fields(floating_ip_id = id))]
    pub async fn floating_ip(&self, id: &str) -> Result<FloatingIp> {
        self.show("floatingips", id, "floatingip").await
    }

    /// Allocates a floating IP. Not retried.
    #[tracing::instrument(skip_all, fields(network_id = %fip.floating_network_id))]
    pub async fn create_floating_ip(&self, fip: &FloatingIpCreate) -> Result<FloatingIp> {
        self.create("floatingips", "floatingip", fip).await
    }

    /// Associates a floating IP with a port (PUT).
    #[tracing::instrument(skip_all, fields(floating_ip_id = id, port_id))]
    pub async fn associate_floating_ip(&self, id: &str, port_id: &str) -> Result<FloatingIp> {
        self.update(
            "floatingips",
            id,
            "floatingip",
            &json!({ "port_id": port_id }),
        )
        .await
    }

    /// Disassociates a floating IP (PUT `port_id: null`).
    #[tracing::instrument(skip_all, fields(floating_ip_id = id))]
    pub async fn disassociate_floating_ip(&self, id: &str) -> Result<FloatingIp> {
        self.update("floatingips", id, "floatingip", &json!({ "port_id": null }))
            .await
    }

    /// Releases a floating IP.
    #[tracing::instrument(skip_all, fields(floating_ip_id = id))]
    pub async fn delete_floating_ip(&self, id: &str) -> Result<()> {
        self.delete("floatingips", id).await
    }
}
