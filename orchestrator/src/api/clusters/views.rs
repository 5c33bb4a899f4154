//! How a cluster is shown: never its password or the broker's password.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::error::{ApiError, ApiResult};
use crate::api::time_text;
use crate::clusters::broker_aad;
use crate::db::{self, clusters::ClusterRecord};
use crate::domain::cluster::BackendStorage;
use crate::state::AppState;

/// A cluster as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClusterView {
    /// Id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Owner group.
    pub owner_group_id: String,
    /// `openstack`.
    pub platform: String,
    /// Keystone URL.
    pub auth_url: String,
    /// Admin user.
    pub username: String,
    /// The user's domain.
    pub user_domain: String,
    /// Project.
    pub project: String,
    /// The project's domain.
    pub project_domain: String,
    /// Notification broker without its password.
    pub notification_broker: Option<String>,
    /// Exchanges bound.
    pub notification_exchanges: Vec<String>,
    /// `listening`, `disconnected` or `not_configured`.
    pub notifications: String,
    /// Storage metadata per backend.
    pub storage: Vec<BackendStorage>,
    /// `active` / `inactive`.
    pub status: String,
    /// Why inactive.
    pub status_reason: Option<String>,
    /// Last status change (RFC 3339).
    pub status_changed_at: String,
    /// `INIT`, `Running`, `Done`.
    pub sync_status: String,
    /// Start of the current or last sync.
    pub sync_started_at: Option<String>,
    /// End of the last sync.
    pub sync_finished_at: Option<String>,
    /// Error of the last sync.
    pub sync_error: Option<String>,
    /// Live resources per kind (single-cluster view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_counts: Option<BTreeMap<String, i64>>,
    /// Registered (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// The view of a record.
pub fn view(
    state: &AppState,
    r: ClusterRecord,
    counts: Option<BTreeMap<String, i64>>,
) -> ClusterView {
    let broker = r.broker_url_enc.as_ref().map(|enc| {
        state
            .clusters
            .secret_box()
            .and_then(|sb| {
                sb.decrypt(enc, &broker_aad(&r.id))
                    .map_err(|e| e.to_string())
            })
            .map_or_else(
                |_| "(unreadable)".to_owned(),
                |u| crate::clusters::listener::redacted(&u),
            )
    });
    let notifications = match (&broker, state.clusters.is_listening(&r.id)) {
        (None, _) => "not_configured",
        (Some(_), true) => "listening",
        (Some(_), false) => "disconnected",
    };
    ClusterView {
        notification_broker: broker,
        notifications: notifications.to_owned(),
        notification_exchanges: serde_json::from_str(&r.exchanges_json).unwrap_or_default(),
        storage: serde_json::from_str(&r.storage_json).unwrap_or_default(),
        status: r.status,
        status_reason: r.status_reason,
        status_changed_at: time_text(r.status_changed_at),
        sync_status: r.sync_status,
        sync_started_at: r.sync_started_at.map(time_text),
        sync_finished_at: r.sync_finished_at.map(time_text),
        sync_error: r.sync_error,
        resource_counts: counts,
        created_at: time_text(r.created_at),
        updated_at: time_text(r.updated_at),
        id: r.id,
        name: r.name,
        description: r.description,
        owner_group_id: r.owner_group_id,
        platform: r.platform,
        auth_url: r.auth_url,
        username: r.username,
        user_domain: r.user_domain,
        project: r.project,
        project_domain: r.project_domain,
    }
}

/// Loads one cluster's view with its resource counts.
pub async fn load(state: &AppState, id: &str) -> ApiResult<ClusterView> {
    let mut conn = state.db.read_conn().await?;
    let r = db::clusters::get(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("cluster", id))?;
    let kinds: Vec<&str> = crate::domain::cluster::ResourceKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let counts = db::resources::counts(&mut conn, id, &kinds)
        .await?
        .into_iter()
        .collect();
    drop(conn);
    Ok(view(state, r, Some(counts)))
}
