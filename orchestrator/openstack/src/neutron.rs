//! Neutron (network v2.0): networks, subnets, ports, routers, floating IPs, security
//! groups and rules.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::catalog::ServiceType;
use crate::session::{Call, Paging, Session, enc};
use crate::{Filters, Result};

mod floating_ips;
mod networks;
mod ports;
mod routers;
mod security_groups;
mod subnets;

pub use floating_ips::{FloatingIp, FloatingIpCreate};
pub use networks::{Network, NetworkCreate};
pub use ports::{FixedIp, Port, PortCreate};
pub use routers::{ExternalGateway, ExternalIp, Router, RouterCreate, RouterInterface};
pub use security_groups::{
    SecurityGroup, SecurityGroupCreate, SecurityGroupRule, SecurityGroupRuleCreate,
};
pub use subnets::{AllocationPool, Subnet, SubnetCreate};

/// Neutron calls of a session. An admin sees every project's resources; filter with
/// `project_id=<id>`.
#[derive(Debug, Clone, Copy)]
pub struct Neutron<'a> {
    session: &'a Session,
}

impl<'a> Neutron<'a> {
    pub(crate) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        collection: &str,
        filters: &Filters,
    ) -> Result<Vec<T>> {
        // Neutron validates filters: `all_tenants` is not one of them.
        self.session
            .list(
                ServiceType::Network,
                path,
                collection,
                &filters.without_all_tenants(),
                Paging::Marker,
            )
            .await
    }

    async fn show<T: DeserializeOwned>(&self, path: &str, id: &str, key: &str) -> Result<T> {
        let reply = self
            .session
            .send(Call::new(
                ServiceType::Network,
                format!("{path}/{}", enc(id)),
            ))
            .await?;
        unwrap(&reply, key)
    }

    async fn create<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        body: &B,
    ) -> Result<T> {
        let call = Call::new(ServiceType::Network, path)
            .method(reqwest::Method::POST)
            .json(&wrap(key, body)?)?;
        let reply = self.session.send(call).await?;
        unwrap(&reply, key)
    }

    async fn update<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        id: &str,
        key: &str,
        body: &B,
    ) -> Result<T> {
        let call = Call::new(ServiceType::Network, format!("{path}/{}", enc(id)))
            .method(reqwest::Method::PUT)
            .json(&wrap(key, body)?)?;
        let reply = self.session.send(call).await?;
        unwrap(&reply, key)
    }

    async fn delete(&self, path: &str, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::Network,
                format!("{path}/{}", enc(id)),
            ))
            .await
    }
}

fn wrap<B: Serialize>(key: &str, body: &B) -> Result<Value> {
    let inner = serde_json::to_value(body)
        .map_err(|e| crate::Error::Config(format!("cannot encode {key}: {e}")))?;
    let mut map = Map::new();
    map.insert(key.to_owned(), inner);
    Ok(Value::Object(map))
}

fn unwrap<T: DeserializeOwned>(reply: &crate::session::Reply, key: &str) -> Result<T> {
    let body: Value = reply.json()?;
    let inner = body
        .get(key)
        .ok_or_else(|| reply.invalid(format!("no `{key}` in the answer")))?;
    T::deserialize(inner).map_err(|e| reply.invalid(format!("{key}: {e}")))
}
