//! Availability zones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::Paging;
use crate::{Filters, Result};

/// An availability zone with its hosts (`GET /os-availability-zone/detail`, admin).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct AvailabilityZone {
    /// Name.
    #[serde(rename = "zoneName")]
    pub name: String,
    /// Availability.
    #[serde(rename = "zoneState")]
    pub state: ZoneState,
    /// Hosts with their services (`null` for zones without compute hosts).
    #[serde(default)]
    pub hosts: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// Zone state.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ZoneState {
    /// Available.
    pub available: bool,
}

impl AvailabilityZone {
    /// Host names running `nova-compute` in this zone.
    pub fn compute_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .flatten()
            .filter(|(_, services)| services.contains_key("nova-compute"))
            .map(|(h, _)| h.as_str())
            .collect()
    }
}

impl Nova<'_> {
    /// Availability zones with hosts.
    #[tracing::instrument(skip_all)]
    pub async fn availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        self.session
            .list(
                ServiceType::Compute,
                "os-availability-zone/detail",
                "availabilityZoneInfo",
                &Filters::none(),
                Paging::None,
            )
            .await
    }
}
