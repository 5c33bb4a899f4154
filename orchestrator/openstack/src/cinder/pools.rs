//! Backend pools and their capacity (`GET /scheduler-stats/get_pools?detail=true`, admin).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Cinder, capacity};
use crate::catalog::ServiceType;
use crate::session::Paging;
use crate::{Filters, Result};

/// A backend pool.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Pool {
    /// `host@backend#pool`: the host to give to manage-existing.
    pub name: String,
    /// Capabilities.
    #[serde(default)]
    pub capabilities: PoolCapabilities,
}

/// What a pool reports.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PoolCapabilities {
    /// `volume_backend_name` (matches the volume types' extra spec).
    #[serde(default)]
    pub volume_backend_name: Option<String>,
    /// Total GiB (`None`: infinite/unknown).
    #[serde(default, deserialize_with = "capacity")]
    pub total_capacity_gb: Option<f64>,
    /// Free GiB (`None`: infinite/unknown).
    #[serde(default, deserialize_with = "capacity")]
    pub free_capacity_gb: Option<f64>,
    /// Allocated GiB.
    #[serde(default, deserialize_with = "capacity")]
    pub allocated_capacity_gb: Option<f64>,
    /// e.g. `ceph`, `iSCSI`.
    #[serde(default)]
    pub storage_protocol: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Cinder<'_> {
    /// The backend pools with capacities.
    #[tracing::instrument(skip_all)]
    pub async fn pools(&self) -> Result<Vec<Pool>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "scheduler-stats/get_pools",
                "pools",
                &Filters::none().eq("detail", "true"),
                Paging::None,
            )
            .await
    }
}
