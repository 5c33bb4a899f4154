//! Hypervisors (compute nodes) with capacity and usage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::Paging;
use crate::{Filters, Result};

/// A hypervisor (`GET /os-hypervisors/detail`, 2.53 ≤ microversion < 2.88).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Hypervisor {
    /// Id (a UUID since 2.53).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Node name.
    pub hypervisor_hostname: String,
    /// `up` / `down`.
    #[serde(default)]
    pub state: String,
    /// `enabled` / `disabled`.
    #[serde(default)]
    pub status: String,
    /// e.g. `QEMU`, `fake`.
    #[serde(default)]
    pub hypervisor_type: Option<String>,
    /// Management IP.
    #[serde(default)]
    pub host_ip: Option<String>,
    /// vCPUs.
    #[serde(default)]
    pub vcpus: u64,
    /// vCPUs used.
    #[serde(default)]
    pub vcpus_used: u64,
    /// RAM in MiB.
    #[serde(default)]
    pub memory_mb: u64,
    /// RAM used in MiB.
    #[serde(default)]
    pub memory_mb_used: u64,
    /// Disk in GiB.
    #[serde(default)]
    pub local_gb: u64,
    /// Disk used in GiB.
    #[serde(default)]
    pub local_gb_used: u64,
    /// Servers running.
    #[serde(default)]
    pub running_vms: u64,
    /// Its nova-compute service.
    #[serde(default)]
    pub service: Option<HypervisorService>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The compute service of a hypervisor.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct HypervisorService {
    /// Compute host name.
    pub host: String,
    /// Why it is disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

pub(crate) fn id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

impl Nova<'_> {
    /// Hypervisors with capacity and usage, every page.
    #[tracing::instrument(skip_all)]
    pub async fn hypervisors(&self) -> Result<Vec<Hypervisor>> {
        self.session
            .list(
                ServiceType::Compute,
                "os-hypervisors/detail",
                "hypervisors",
                &Filters::none(),
                Paging::Marker,
            )
            .await
    }
}
