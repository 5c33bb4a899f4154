//! Routers: gateway and interfaces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Neutron;
use crate::catalog::ServiceType;
use crate::session::{Call, enc};
use crate::{Filters, Result};

/// A router.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Router {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `ACTIVE`, ...
    #[serde(default)]
    pub status: String,
    /// Administratively up.
    #[serde(default)]
    pub admin_state_up: bool,
    /// External gateway (`null` when none).
    #[serde(default)]
    pub external_gateway_info: Option<ExternalGateway>,
    /// Static routes.
    #[serde(default)]
    pub routes: Vec<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A router's external gateway.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct ExternalGateway {
    /// The external network.
    pub network_id: String,
    /// SNAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_snat: Option<bool>,
    /// Addresses on the external network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_fixed_ips: Vec<ExternalIp>,
}

/// An address of a router on its external network.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct ExternalIp {
    /// Subnet.
    #[serde(default)]
    pub subnet_id: String,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// A router to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct RouterCreate {
    /// Name.
    pub name: String,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Administratively up.
    pub admin_state_up: bool,
    /// External gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_gateway_info: Option<ExternalGateway>,
    /// Description (Holdfast marks what it creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What `add_router_interface` / `remove_router_interface` answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RouterInterface {
    /// Router id.
    pub id: String,
    /// Subnet.
    pub subnet_id: String,
    /// The interface port.
    pub port_id: String,
}

impl Neutron<'_> {
    /// Routers, every page.
    #[tracing::instrument(skip_all)]
    pub async fn routers(&self, filters: &Filters) -> Result<Vec<Router>> {
        self.list_all("routers", "routers", filters).await
    }

    /// One router.
    #[tracing::instrument(skip_all, fields(router_id = id))]
    pub async fn router(&self, id: &str) -> Result<Router> {
        self.show("routers", id, "router").await
    }

    /// Creates a router. Not retried.
    #[tracing::instrument(skip_all, fields(name = %router.name))]
    pub async fn create_router(&self, router: &RouterCreate) -> Result<Router> {
        self.create("routers", "router", router).await
    }

    /// Sets (`Some`) or clears (`None`) the external gateway.
    #[tracing::instrument(skip_all, fields(router_id = id))]
    pub async fn set_router_gateway(
        &self,
        id: &str,
        gateway: Option<&ExternalGateway>,
    ) -> Result<Router> {
        // `{}` clears the gateway (what the openstack CLI sends).
        let info = match gateway {
            Some(g) => json!(g),
            None => json!({}),
        };
        self.update(
            "routers",
            id,
            "router",
            &json!({ "external_gateway_info": info }),
        )
        .await
    }

    /// The router's interface ports (`device_owner=network:router_interface`).
    #[tracing::instrument(skip_all, fields(router_id = id))]
    pub async fn router_interfaces(&self, id: &str) -> Result<Vec<super::Port>> {
        self.ports(
            &Filters::none()
                .eq("device_id", id)
                .eq("device_owner", "network:router_interface"),
        )
        .await
    }

    /// Connects a subnet to the router (PUT; idempotent in effect).
    #[tracing::instrument(skip_all, fields(router_id = id, subnet_id))]
    pub async fn add_router_interface(&self, id: &str, subnet_id: &str) -> Result<RouterInterface> {
        self.interface(id, "add_router_interface", subnet_id).await
    }

    /// Disconnects a subnet from the router.
    #[tracing::instrument(skip_all, fields(router_id = id, subnet_id))]
    pub async fn remove_router_interface(
        &self,
        id: &str,
        subnet_id: &str,
    ) -> Result<RouterInterface> {
        self.interface(id, "remove_router_interface", subnet_id)
            .await
    }

    async fn interface(&self, id: &str, action: &str, subnet_id: &str) -> Result<RouterInterface> {
        let call = Call::new(
            ServiceType::Network,
            format!("routers/{}/{action}", enc(id)),
        );
        self.session
            .put(call, &json!({ "subnet_id": subnet_id }))
            .await
    }

    /// Deletes a router (409 while it has interfaces).
    #[tracing::instrument(skip_all, fields(router_id = id))]
    pub async fn delete_router(&self, id: &str) -> Result<()> {
        self.delete("routers", id).await
    }
}
