//! The Keystone service catalog and endpoint selection (pure).

use std::fmt;

use serde::Deserialize;

/// The services Holdfast talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Cinder v3.
    BlockStorage,
    /// Neutron.
    Network,
}

impl ServiceType {
    /// Catalog `type` values that name this service, in order of preference.
    pub fn catalog_types(self) -> &'static [&'static str] {
        match self {
            Self::Identity => &["identity"],
            Self::Compute => &["compute"],
            Self::BlockStorage => &["block-storage", "volumev3"],
            Self::Network => &["network"],
        }
    }

    /// Short name used in logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "keystone",
            Self::Compute => "nova",
            Self::BlockStorage => "cinder",
            Self::Network => "neutron",
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Endpoint interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// `public`.
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    /// The catalog's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service of the catalog.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CatalogService {
    /// e.g. `compute`, `volumev3`.
    #[serde(rename = "type")]
    pub service_type: String,
    /// e.g. `nova`.
    #[serde(default)]
    pub name: Option<String>,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a catalog service.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CatalogEndpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// Region id (`region_id`), or the legacy `region`.
    #[serde(default)]
    pub region_id: Option<String>,
    /// Legacy region name.
    #[serde(default)]
    pub region: Option<String>,
    /// Base URL of the service.
    pub url: String,
}

/// The catalog of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The services, as Keystone listed them.
    pub services: Vec<CatalogService>,
}

impl Catalog {
    /// The URL of `service` for `interface` (and `region`, when given); `None` if the
    /// catalog has no such endpoint.
    pub fn endpoint(
        &self,
        service: ServiceType,
        interface: Interface,
        region: Option<&str>,
    ) -> Option<&str> {
        service.catalog_types().iter().find_map(|wanted| {
            self.services
                .iter()
                .filter(|s| s.service_type == *wanted)
                .flat_map(|s| s.endpoints.iter())
                .find(|e| {
                    e.interface == interface.as_str()
                        && region.is_none_or(|r| {
                            e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                        })
                })
                .map(|e| e.url.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let json = serde_json::json!([
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://127.0.0.1/identity"}]},
            {"type": "volumev3", "name": "cinderv3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1/volume/v3/p1"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://10.0.0.1/volume/v3/p1"}]},
            {"type": "block-storage", "name": "cinder", "endpoints": [
                {"interface": "public", "region_id": "RegionTwo", "url": "http://127.0.0.2/volume/v3/p1"}]},
            {"type": "compute", "name": "nova", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1/compute/v2.1"},
                {"interface": "public", "region_id": "RegionTwo", "url": "http://127.0.0.2/compute/v2.1"}]}
        ]);
        Catalog {
            services: serde_json::from_value(json).unwrap(),
        }
    }

    #[test]
    fn selects_by_interface_and_region() {
        let c = catalog();
        assert_eq!(
            c.endpoint(ServiceType::Compute, Interface::Public, Some("RegionTwo")),
            Some("http://127.0.0.2/compute/v2.1")
        );
        assert_eq!(
            c.endpoint(ServiceType::Compute, Interface::Public, None),
            Some("http://127.0.0.1/compute/v2.1")
        );
        assert_eq!(
            c.endpoint(ServiceType::BlockStorage, Interface::Internal, None),
            Some("http://10.0.0.1/volume/v3/p1")
        );
        assert_eq!(
            c.endpoint(ServiceType::Network, Interface::Public, None),
            None
        );
        assert_eq!(
            c.endpoint(ServiceType::Compute, Interface::Admin, None),
            None
        );
    }

    #[test]
    fn block_storage_prefers_the_new_type_then_volumev3() {
        let c = catalog();
        assert_eq!(
            c.endpoint(
                ServiceType::BlockStorage,
                Interface::Public,
                Some("RegionTwo")
            ),
            Some("http://127.0.0.2/volume/v3/p1")
        );
        assert_eq!(
            c.endpoint(
                ServiceType::BlockStorage,
                Interface::Public,
                Some("RegionOne")
            ),
            Some("http://127.0.0.1/volume/v3/p1")
        );
    }
}
