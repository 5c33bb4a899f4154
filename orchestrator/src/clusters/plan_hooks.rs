//! Plan states are re-evaluated when a cluster changes: after its status changed,
//! after a full sync, and after notifications changed its synced resources. Every
//! plan whose source or target is the cluster is evaluated again from the synced
//! copy (`protection::evaluate`): a full re-evaluation covers every plan sync
//! reaction of protection.md that ends in a reason (unmapped resources, mapped target
//! resources gone or changed, capacity). Before that, each written resource's change
//! goes through the plan sync reactions (`protection::sync_reactions`): automatic
//! mapping updates, warnings kept until a user saves the plan.

use crate::domain::cluster::ClusterStatus;
use crate::domain::cluster_events::Change;
use crate::protection::sync_changes::ResourceDelta;
use crate::state::App;

/// Called after the cluster's status changed (Active ↔ Inactive).
pub async fn reevaluate_plans_after_status_change(
    app: &App,
    cluster_id: &str,
    status: ClusterStatus,
) {
    tracing::debug!(
        cluster_id,
        status = status.as_str(),
        "cluster status changed; re-evaluating its plans"
    );
    crate::protection::evaluate_plans_using_cluster(app, cluster_id).await;
}

/// Called after a full sync finished: the sync reactions of what it changed, then
/// every plan of the cluster again.
pub async fn reevaluate_plans_after_sync(app: &App, cluster_id: &str, deltas: &[ResourceDelta]) {
    crate::protection::sync_reactions::react(app, cluster_id, deltas).await;
    crate::protection::evaluate_plans_using_cluster(app, cluster_id).await;
}

/// Called after notifications changed synced resources: the sync reactions of each
/// written resource, then every plan of the cluster again.
pub async fn reevaluate_plans_after_resource_changes(
    app: &App,
    cluster_id: &str,
    changes: &[Change],
    deltas: &[ResourceDelta],
) {
    if changes.is_empty() {
        return;
    }
    crate::protection::sync_reactions::react(app, cluster_id, deltas).await;
    crate::protection::evaluate_plans_using_cluster(app, cluster_id).await;
}
