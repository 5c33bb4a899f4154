//! A project's quota set in each service: Nova's and Cinder's `os-quota-sets/{project}`
//! (wrapped in `quota_set`) and Neutron's `quotas/{project}` (wrapped in `quota`).
//! Admin calls; values are limits (`-1` = unlimited).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::catalog::ServiceType;
use crate::session::{Call, enc};
use crate::{Result, Session};

/// The service whose quotas to read or set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaService {
    /// Nova (`instances`, `cores`, `ram`, ...).
    Compute,
    /// Cinder (`volumes`, `gigabytes`, `snapshots`, ...).
    Volume,
    /// Neutron (`port`, `network`, `floatingip`, `security_group_rule`, ...).
    Network,
}

impl QuotaService {
    fn route(self, project: &str) -> (ServiceType, String, &'static str) {
        let project = enc(project);
        match self {
            QuotaService::Compute => (
                ServiceType::Compute,
                format!("os-quota-sets/{project}"),
                "quota_set",
            ),
            QuotaService::Volume => (
                ServiceType::BlockStorage,
                format!("os-quota-sets/{project}"),
                "quota_set",
            ),
            QuotaService::Network => (ServiceType::Network, format!("quotas/{project}"), "quota"),
        }
    }
}

/// The numeric limits of a quota-set body (Nova adds the project `id`, which is not a
/// limit).
fn limits(body: &Value, wrapper: &str) -> BTreeMap<String, i64> {
    body[wrapper]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

impl Session {
    /// A project's quota limits in `service`, by key.
    #[tracing::instrument(skip_all, fields(?service, project_id))]
    pub async fn quotas(
        &self,
        service: QuotaService,
        project_id: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let (kind, path, wrapper) = service.route(project_id);
        let body: Value = self.get(Call::new(kind, path)).await?;
        Ok(limits(&body, wrapper))
    }

    /// Sets the given limits of a project in `service` (the others are unchanged) and
    /// returns the limits in effect afterwards.
    #[tracing::instrument(skip_all, fields(?service, project_id))]
    pub async fn set_quotas(
        &self,
        service: QuotaService,
        project_id: &str,
        values: &BTreeMap<String, i64>,
    ) -> Result<BTreeMap<String, i64>> {
        let (kind, path, wrapper) = service.route(project_id);
        let body: Value = self
            .put(Call::new(kind, path), &json!({ wrapper: values }))
            .await?;
        Ok(limits(&body, wrapper))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_keep_numbers_only() {
        let body = json!({"quota_set": {"id": "p1", "instances": 10, "cores": -1}});
        let l = limits(&body, "quota_set");
        assert_eq!(
            l,
            BTreeMap::from([("cores".to_owned(), -1), ("instances".to_owned(), 10)])
        );
        assert!(limits(&json!({"quota": null}), "quota").is_empty());
    }
}
