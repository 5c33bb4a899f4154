//! Limits and quotas.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Cinder;
use crate::Result;
use crate::catalog::ServiceType;
use crate::session::{Call, enc};

/// The project's absolute limits and usage (`GET /limits`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AbsoluteLimits {
    /// Volume count limit (-1: unlimited).
    #[serde(default)]
    pub max_total_volumes: i64,
    /// Volumes in use.
    #[serde(default)]
    pub total_volumes_used: i64,
    /// GiB limit.
    #[serde(default)]
    pub max_total_volume_gigabytes: i64,
    /// GiB in use.
    #[serde(default)]
    pub total_gigabytes_used: i64,
    /// Snapshot count limit.
    #[serde(default)]
    pub max_total_snapshots: i64,
    /// Snapshots in use.
    #[serde(default)]
    pub total_snapshots_used: i64,
}

/// One quota with its usage.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Limit (-1: unlimited).
    pub limit: i64,
    /// In use.
    #[serde(default)]
    pub in_use: i64,
    /// Reserved.
    #[serde(default)]
    pub reserved: i64,
}

#[derive(Deserialize)]
struct Limits {
    limits: Inner,
}

#[derive(Deserialize)]
struct Inner {
    absolute: AbsoluteLimits,
}

#[derive(Deserialize)]
struct QuotaSet {
    quota_set: BTreeMap<String, Value>,
}

impl Cinder<'_> {
    /// The session project's limits and usage.
    #[tracing::instrument(skip_all)]
    pub async fn limits(&self) -> Result<AbsoluteLimits> {
        let l: Limits = self
            .session
            .get(Call::new(ServiceType::BlockStorage, "limits"))
            .await?;
        Ok(l.limits.absolute)
    }

    /// A project's quotas with usage (`GET /os-quota-sets/{project}?usage=true`, admin),
    /// by resource (`volumes`, `gigabytes`, `snapshots`, `volumes_<type>`, ...).
    #[tracing::instrument(skip_all, fields(project_id))]
    pub async fn quota_usage(&self, project_id: &str) -> Result<BTreeMap<String, QuotaUsage>> {
        let call = Call::new(
            ServiceType::BlockStorage,
            format!("os-quota-sets/{}", enc(project_id)),
        )
        .param("usage", "true");
        let q: QuotaSet = self.session.get(call).await?;
        Ok(q.quota_set
            .into_iter()
            .filter_map(|(k, v)| QuotaUsage::deserialize(&v).ok().map(|u| (k, u)))
            .collect())
    }
}
