//! Where plan states will be re-evaluated when a cluster changes.
//!
//! Recovery plans do not exist yet, so these hooks only log. When plans are built, the
//! plan sync reactions of protection.md ("plan sync reactions", `dr::plan_sync`) are
//! run from here for every plan whose source or target is the cluster.

use crate::domain::cluster::ClusterStatus;
use crate::domain::cluster_events::Change;
use crate::state::App;

/// Called after the cluster's status changed (Active ↔ Inactive). Today: logs only.
pub fn reevaluate_plans_after_status_change(_app: &App, cluster_id: &str, status: ClusterStatus) {
    tracing::info!(
        cluster_id,
        status = status.as_str(),
        "cluster status changed; plan states would be re-evaluated here (no recovery plans exist yet)"
    );
}

/// Called after notifications changed synced resources. Today: logs only.
pub fn reevaluate_plans_after_resource_changes(_app: &App, cluster_id: &str, changes: &[Change]) {
    tracing::debug!(
        cluster_id,
        changes = changes.len(),
        "resources changed; plan states would be re-evaluated here (no recovery plans exist yet)"
    );
}
